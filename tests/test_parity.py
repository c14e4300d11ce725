"""Parity between the surfaces: Database methods, the api facade, the CLI and the docs.

Each public method of :class:`glancedb.Database` is what one facade function
calls (same name, same signature, same docstring); every API area of the
Database defines its own names only; every CLI command explains itself and
is named in the documentation.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from glancedb import Database, api
from glancedb.cli import main
from glancedb.transactions import DatabaseCore

REPO_ROOT = Path(__file__).resolve().parent.parent


def public_methods() -> list[str]:
    """Every public method of Database (properties excluded)."""
    return sorted(
        name
        for name, member in inspect.getmembers(Database)
        if not name.startswith("_") and inspect.isfunction(member)
    )


def api_areas() -> list[type]:
    """The classes Database is composed of, below the shared core."""
    return [
        cls
        for cls in Database.__mro__
        if cls not in (Database, DatabaseCore) and issubclass(cls, DatabaseCore)
    ]


@pytest.mark.parametrize("name", public_methods())
def test_every_public_method_has_a_facade_function_with_its_signature(name: str) -> None:
    function = getattr(api, name, None)
    assert function is not None, f"glancedb.api has no {name}()"
    method = getattr(Database, name)
    parameters = list(inspect.signature(method).parameters.values())[1:]
    assert inspect.signature(function) == inspect.signature(method).replace(parameters=parameters)
    assert function.__doc__ == method.__doc__
    assert method.__doc__, f"Database.{name} has no docstring"


def test_no_two_api_areas_define_the_same_name() -> None:
    owners: dict[str, str] = {}
    for cls in api_areas():
        for name in vars(cls):
            if name.startswith("__"):
                continue
            assert name not in owners, f"{name} is defined by {owners[name]} and {cls.__name__}"
            owners[name] = cls.__name__


def commands(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for name, command in sorted(group.commands.items()):
        path = (*prefix, name)
        yield path
        if isinstance(command, click.Group):
            yield from commands(command, path)


ALL_COMMANDS = list(commands(main))


def command_at(path: tuple[str, ...]) -> click.Command:
    command: click.Command = main
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    return command


@pytest.mark.parametrize("path", ALL_COMMANDS, ids=" ".join)
def test_every_command_and_option_has_help(path: tuple[str, ...]) -> None:
    command = command_at(path)
    assert command.help and command.get_short_help_str(), f"{' '.join(path)} has no help"
    for param in command.params:
        if isinstance(param, click.Option) and not param.hidden:
            assert param.help, f"{' '.join(path)} {param.opts[0]} has no help"


def documentation() -> str:
    texts = [REPO_ROOT.joinpath("README.md").read_text(encoding="utf-8")]
    texts += [p.read_text(encoding="utf-8") for p in sorted(REPO_ROOT.glob("docs/**/*.md"))]
    return "\n".join(texts)


@pytest.mark.parametrize("path", ALL_COMMANDS, ids=" ".join)
def test_every_command_appears_in_the_docs(path: tuple[str, ...]) -> None:
    words = " ".join(path)
    docs = documentation()
    if len(path) == 1:
        assert f"glancedb {words}" in docs or f"  {words} " in docs, words
    else:
        group, name = " ".join(path[:-1]), path[-1]
        assert f"glancedb {words}" in docs or (group in docs and f" {name}" in docs), words
