"""How commands print records: table, JSON, NDJSON, CSV or bare values.

The options are those openstackclient and sqlite-utils users know:
``--format table|json|ndjson|csv|value``, ``-c/--column`` (repeatable) and
``--no-headers``.  Lists are printed as they arrive, page by page, so the
first lines of a long listing appear at once; the table format aligns each
page, widening (never narrowing) its columns as pages come.

Timestamps are ISO-8601 UTC with microseconds and a ``Z``
(``2024-05-01T12:00:00.000000Z``) in every format; JSON values keep their
types (numbers, booleans, null, nested objects).
"""

from __future__ import annotations

import csv
import datetime
import decimal
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import click

FORMATS = ("table", "json", "ndjson", "csv", "value")


def iso_utc(value: datetime.datetime | datetime.date) -> str:
    """A stored (naive UTC) time as ISO-8601 UTC, microseconds always present."""
    if isinstance(value, datetime.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(datetime.UTC).replace(tzinfo=None)
        return value.isoformat(timespec="microseconds") + "Z"
    return value.isoformat()


def plain(value: Any) -> Any:
    """``value`` as JSON-ready data: times as ISO strings, records as dicts."""
    if isinstance(value, datetime.datetime | datetime.date):
        return iso_utc(value)
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def cell(value: Any) -> str:
    """``value`` as table text: lists one item per line, mappings as ``key=value`` lines."""
    value = plain(value)
    if value is None:
        return ""
    if isinstance(value, dict):
        return "\n".join(f"{k}={_inline(v)}" for k, v in sorted(value.items()))
    if isinstance(value, list):
        return "\n".join(_inline(v) for v in value)
    return str(value)


def _inline(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return "" if value is None else str(value)


def _csv_cell(value: Any) -> Any:
    value = plain(value)
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return "" if value is None else value


FC = TypeVar("FC", bound=Callable[..., Any])


def output_options(*, default_format: str = "table") -> Callable[[FC], FC]:
    """The ``--format``, ``-c/--column`` and ``--no-headers`` options of a command."""

    def decorate(command: FC) -> FC:
        command = click.option(
            "--no-headers",
            is_flag=True,
            help="Leave out the header line (table and csv formats).",
        )(command)
        command = click.option(
            "-c",
            "--column",
            "columns",
            multiple=True,
            metavar="COLUMN",
            help="Show only this column (or field); repeatable, in the order given.",
        )(command)
        command = click.option(
            "-f",
            "--format",
            "output_format",
            type=click.Choice(FORMATS),
            default=default_format,
            help="Output format: an aligned table, a JSON document, one JSON object per line,"
            " CSV, or bare values separated by spaces.",
        )(command)
        return command

    return decorate


class Output:
    """Prints records in the format and columns the options chose."""

    def __init__(self, output_format: str, columns: Sequence[str], no_headers: bool) -> None:
        self.format = output_format
        self.columns = tuple(columns)
        self.no_headers = no_headers

    def _pick(self, default: Sequence[str], available: Iterable[str]) -> list[str]:
        if not self.columns:
            return list(default)
        known = list(dict.fromkeys(available))
        unknown = [c for c in self.columns if c not in known]
        if unknown:
            raise click.BadParameter(
                f"unknown column {', '.join(map(repr, unknown))}; choose from {', '.join(known)}",
                param_hint="'-c' / '--column'",
            )
        return list(self.columns)

    def records(
        self,
        pages: Iterable[Sequence[Mapping[str, Any]]],
        default_columns: Sequence[str],
        available: Iterable[str],
    ) -> int:
        """Print the records of ``pages`` as a list, page by page; return how many."""
        columns = self._pick(default_columns, available)
        printer = _PRINTERS[self.format](columns, self.no_headers)
        count = 0
        printer.begin()
        for page in pages:
            printer.page([{c: record.get(c) for c in columns} for record in page])
            count += len(page)
        printer.end()
        return count

    def record(self, record: Mapping[str, Any], available: Iterable[str] | None = None) -> None:
        """Print one record: a field/value table, a JSON object, a CSV row, or values."""
        fields = self._pick(list(record), available if available is not None else list(record))
        shown = {f: record.get(f) for f in fields}
        if self.format == "table":
            _TablePrinter(["field", "value"], self.no_headers).page(
                [{"field": k, "value": v} for k, v in shown.items()]
            )
        elif self.format == "json":
            click.echo(json.dumps(plain(shown), indent=2, ensure_ascii=False))
        elif self.format == "value":
            for value in shown.values():
                click.echo(cell(value).replace("\n", " "))
        else:
            printer = _PRINTERS[self.format](fields, self.no_headers)
            printer.begin()
            printer.page([shown])
            printer.end()


class _Printer:
    def __init__(self, columns: Sequence[str], no_headers: bool) -> None:
        self.columns = list(columns)
        self.no_headers = no_headers

    def begin(self) -> None:
        """Before the first page."""

    def page(self, rows: list[dict[str, Any]]) -> None:
        raise NotImplementedError

    def end(self) -> None:
        """After the last page."""


class _TablePrinter(_Printer):
    def __init__(self, columns: Sequence[str], no_headers: bool) -> None:
        super().__init__(columns, no_headers)
        self.widths = [len(c) for c in self.columns]
        self.started = False

    def begin(self) -> None:
        # An empty listing still shows its headers, once the first page is known.
        pass

    def page(self, rows: list[dict[str, Any]]) -> None:
        lines = [[cell(row[c]).split("\n") for c in self.columns] for row in rows]
        for row_lines in lines:
            for i, parts in enumerate(row_lines):
                self.widths[i] = max(self.widths[i], *(len(p) for p in parts))
        self._headers()
        for row_lines in lines:
            for k in range(max(len(parts) for parts in row_lines) if row_lines else 0):
                values = [parts[k] if k < len(parts) else "" for parts in row_lines]
                self._line(values)

    def end(self) -> None:
        self._headers()

    def _headers(self) -> None:
        if self.started:
            return
        self.started = True
        if not self.no_headers:
            self._line(self.columns)
            self._line(["-" * w for w in self.widths])

    def _line(self, values: Sequence[str]) -> None:
        click.echo("  ".join(v.ljust(self.widths[i]) for i, v in enumerate(values)).rstrip())


class _JSONPrinter(_Printer):
    def begin(self) -> None:
        self.first = True

    def page(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            text = json.dumps(plain(row), indent=2, ensure_ascii=False)
            body = "\n".join("  " + line for line in text.splitlines())
            click.echo(("[\n" if self.first else ",\n") + body, nl=False)
            self.first = False

    def end(self) -> None:
        click.echo("[]" if self.first else "\n]")


class _NDJSONPrinter(_Printer):
    def page(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            click.echo(json.dumps(plain(row), ensure_ascii=False))


class _CSVPrinter(_Printer):
    class _Echo:
        def write(self, text: str) -> None:
            click.echo(text, nl=False)

    def begin(self) -> None:
        self.writer = csv.writer(self._Echo(), lineterminator="\n")
        if not self.no_headers:
            self.writer.writerow(self.columns)

    def page(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            self.writer.writerow([_csv_cell(row[c]) for c in self.columns])


class _ValuePrinter(_Printer):
    def page(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            click.echo(" ".join(cell(row[c]).replace("\n", " ") for c in self.columns))


_PRINTERS: dict[str, type[_Printer]] = {
    "table": _TablePrinter,
    "json": _JSONPrinter,
    "ndjson": _NDJSONPrinter,
    "csv": _CSVPrinter,
    "value": _ValuePrinter,
}
