"""The documentation tells the truth.

Every Python code block of the README and of the pages under ``docs/`` runs
(the blocks of one page in order, sharing one namespace, in an empty
directory, as a reader would paste them), every ``glancedb`` command shown
in a shell or console block exists and its options parse, and the site
builds with ``mkdocs build --strict`` with every public name of
``glancedb``, ``glancedb.api`` and ``glancedb.exception`` in its reference.

A block preceded by the line ``<!-- docs-test: skip -->`` is not run (it
needs a server or a Glance installation); its commands are still checked.
"""

from __future__ import annotations

import inspect
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import click
import pytest

import glancedb
from glancedb import api, exception
from glancedb.cli import main

REPO_ROOT = Path(__file__).resolve().parent.parent
SKIP_MARK = "<!-- docs-test: skip -->"
PAGES = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").rglob("*.md"))]


@dataclass(frozen=True)
class Block:
    language: str
    code: str
    line: int
    skip: bool


def blocks(page: Path) -> list[Block]:
    """The fenced code blocks of ``page``, in order."""
    found: list[Block] = []
    lines = page.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        fence = re.match(r"^(\s*)```(\w*)", lines[i])
        if fence is None:
            i += 1
            continue
        indent, language = fence.group(1), fence.group(2)
        skip = i > 0 and lines[i - 1].strip() == SKIP_MARK
        start = i + 1
        i = start
        while i < len(lines) and not lines[i].strip().startswith("```"):
            i += 1
        body = "\n".join(line[len(indent) :] for line in lines[start:i])
        found.append(Block(language, body + "\n", start, skip))
        i += 1
    return found


def page_id(page: Path) -> str:
    return str(page.relative_to(REPO_ROOT))


PYTHON_PAGES = [page for page in PAGES if any(b.language == "python" for b in blocks(page))]


@pytest.mark.parametrize("page", PYTHON_PAGES, ids=page_id)
def test_python_blocks_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GLANCEDB_DATABASE_URL", raising=False)
    api.clear_db_env()
    namespace: dict[str, object] = {"__name__": "__docs__"}
    try:
        for block in blocks(page):
            if block.language != "python" or block.skip:
                continue
            code = compile(block.code, f"{page_id(page)}:{block.line}", "exec")
            exec(code, namespace)
    finally:
        api.clear_db_env()


def glancedb_commands(block: Block) -> list[list[str]]:
    """The argument lists of the ``glancedb`` commands a shell block runs."""
    commands: list[list[str]] = []
    text = re.sub(r"\\\n", " ", block.code)
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("$ "):
            line = line[2:]
        elif not block.language:
            continue  # a plain block: only its "$ " lines are commands
        for part in re.split(r"&&|\|\||;|\|", line):
            try:
                words = shlex.split(part, comments=True)
            except ValueError:
                continue
            while words and "=" in words[0] and not words[0].startswith("-"):
                words = words[1:]  # VAR=value before the command
            words = _without_redirections(words)
            if words and os.path.basename(words[0]) == "glancedb":
                commands.append(words[1:])
    return commands


def _without_redirections(words: list[str]) -> list[str]:
    """``words`` without shell redirections (``> file``, ``2>/dev/null``, ...)."""
    kept: list[str] = []
    skip_next = False
    for word in words:
        if skip_next:
            skip_next = False
            continue
        match = re.fullmatch(r"\d?[<>]{1,2}(&\d)?(.*)", word)
        if match is not None:
            skip_next = not match.group(2) and not match.group(1)
            continue
        kept.append(word)
    return kept


SHELL_COMMANDS = [
    pytest.param(args, id=f"{page_id(page)}:{block.line}:{' '.join(args[:3])}")
    for page in PAGES
    for block in blocks(page)
    if block.language in ("sh", "bash", "console", "shell", "")
    for args in glancedb_commands(block)
]


def _remaining(context: click.Context) -> list[str]:
    """The words a group left for its subcommand."""
    return [*getattr(context, "_protected_args", []), *context.args]


@pytest.mark.parametrize("args", SHELL_COMMANDS)
def test_shown_commands_exist_and_their_options_parse(args: list[str]) -> None:
    if not args:
        return  # the bare command (e.g. with a completion variable) prints help
    command: click.Command = main
    context = main.make_context("glancedb", list(args))
    remaining = _remaining(context)
    while isinstance(command, click.Group) and remaining:
        name, *remaining = remaining
        sub = command.get_command(context, name)
        assert sub is not None, f"glancedb has no command {' '.join(args)!r}"
        command = sub
        if "--help" in remaining or "-h" in remaining:
            return
        context = command.make_context(name, list(remaining), parent=context)
        remaining = _remaining(context) if isinstance(command, click.Group) else []


def public_names() -> list[str]:
    names = [f"glancedb.{n}" for n in glancedb.__all__ if not n.startswith("_")]
    names += [
        f"glancedb.api.{n}"
        for n, v in vars(api).items()
        if inspect.isfunction(v)
        and not n.startswith("_")
        and (v.__module__ == api.__name__ or hasattr(glancedb.Database, n))
    ]
    names += [
        f"glancedb.exception.{n}"
        for n, v in vars(exception).items()
        if isinstance(v, type) and issubclass(v, Exception) and v.__module__ == exception.__name__
    ]
    return sorted(names)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    mkdocs = shutil.which("mkdocs", path=os.path.dirname(sys.executable))
    if mkdocs is None:
        pytest.fail("mkdocs is not installed: pip install -e '.[test]' installs it")
    target = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [mkdocs, "build", "--strict", "--site-dir", str(target)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return target


def test_site_builds_and_its_reference_names_every_public_name(site: Path) -> None:
    reference = "\n".join(
        path.read_text(encoding="utf-8") for path in (site / "reference").rglob("*.html")
    )
    missing = [name for name in public_names() if f'id="{name}"' not in reference]
    assert missing == []
