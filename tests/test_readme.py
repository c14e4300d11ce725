"""The README tells the truth: its Python example runs, its commands exist."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from click.testing import CliRunner

from glancedb.cli import main

README = Path(__file__).resolve().parent.parent / "README.md"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README.read_text(), flags=re.S)


def test_python_example_runs() -> None:
    example = _blocks("python")[0]
    exec(compile(example, str(README), "exec"), {})


def test_demo_command_runs_on_an_embedded_database(tmp_path: Path) -> None:
    demo = _blocks("sh")[0].strip()
    steps = [shlex.split(step) for step in demo.split("&&")]
    glancedb_steps = [s[1:] for s in steps if s[0].endswith("/glancedb")]
    assert glancedb_steps[0][0] == "db"
    url = f"sqlite:///{tmp_path / 'demo.sqlite'}"
    runner = CliRunner()
    output = ""
    for args in glancedb_steps:
        result = runner.invoke(main, ["--db-url", url, *args])
        assert result.exit_code == 0, (args, result.output)
        output = result.output
    assert "cirros" in output and "ubuntu-24.04" in output


def test_test_command_is_what_ci_runs() -> None:
    test_command = _blocks("sh")[1].strip()
    ci_script = (README.parent / ".ci" / "run").read_text()
    assert ci_script.rstrip().endswith(test_command)
