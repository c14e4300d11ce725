"""The CLI's help is complete and plain: -h everywhere, whole summaries, defaults shown."""

from __future__ import annotations

import click
import pytest

from glancedb.cli import main
from tests.support.cli import invoke
from tests.test_parity import ALL_COMMANDS, command_at

EVERY_COMMAND = [(), *ALL_COMMANDS]


@pytest.mark.parametrize("path", EVERY_COMMAND, ids=lambda p: " ".join(p) or "glancedb")
def test_dash_h_is_help(path: tuple[str, ...]) -> None:
    result = invoke(*path, "-h")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"Usage: {' '.join(('glancedb', *path))}")


def _texts(command: click.Command) -> list[str]:
    texts = [command.help or "", command.short_help or ""]
    texts += [p.help or "" for p in command.params if isinstance(p, click.Option)]
    return texts


@pytest.mark.parametrize("path", EVERY_COMMAND, ids=lambda p: " ".join(p) or "glancedb")
def test_help_is_plain_text_with_whole_summaries(path: tuple[str, ...]) -> None:
    command = command_at(path) if path else main
    for text in _texts(command):
        assert "``" not in text, (path, text)
    summary = command.get_short_help_str()
    assert not summary.endswith("..."), (path, summary)
    assert summary.endswith("."), (path, summary)


@pytest.mark.parametrize("path", ALL_COMMANDS, ids=" ".join)
def test_defaults_are_shown(path: tuple[str, ...]) -> None:
    command = command_at(path)
    context = click.Context(command, info_name=path[-1], show_default=True)
    for param in command.params:
        if not isinstance(param, click.Option) or param.is_flag or param.count:
            continue
        default = param.get_default(context, call=False)
        if default is None or param.multiple or type(default).__name__ == "Sentinel":
            continue
        record = param.get_help_record(context)
        assert record is not None and "default:" in record[1], (path, param.name)


def test_option_help_is_not_cut_in_the_listing() -> None:
    result = invoke("image", "create", "-h")
    assert result.exit_code == 0
    for line in result.stdout.splitlines():
        assert not line.rstrip().endswith("..."), line
