"""How listing commands print: a table with headers (rich) for people, JSON for scripts (--json)."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from contextlib import contextmanager
from datetime import date, datetime

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

WIDE = 200  # when stdout is not a terminal, do not fold identifiers into narrow columns


def _plain(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def console() -> Console:
    """A console on stdout; wide when stdout is a pipe or file."""
    return Console(width=None if sys.stdout.isatty() else WIDE)


def emit(
    rows: Sequence[dict], columns: Sequence[str], as_json: bool, *, next_cursor: str | None = None
) -> None:
    """Print ``rows``: with ``as_json`` one JSON document (``{items, next_cursor}`` when paged,
    else a JSON array); otherwise a table whose headers are ``columns`` (missing values show ``-``)."""
    if as_json:
        body = {"items": list(rows), "next_cursor": next_cursor} if next_cursor is not None else list(rows)
        typer.echo(json.dumps(body, ensure_ascii=False, indent=2, default=_plain))
        return
    table = Table(*columns, show_lines=False, header_style="bold")
    for row in rows:
        table.add_row(*(_plain(row.get(c)) for c in columns))
    console().print(table)
    if next_cursor:
        typer.echo(f"more: --cursor {next_cursor}", err=True)


def emit_one(item: dict, as_json: bool) -> None:
    """Print one object: JSON, or ``field  value`` lines."""
    if as_json:
        typer.echo(json.dumps(item, ensure_ascii=False, indent=2, default=_plain))
        return
    table = Table("field", "value", header_style="bold")
    for key, value in item.items():
        table.add_row(
            key, json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else _plain(value)
        )
    console().print(table)


@contextmanager
def progress(description: str, total: int | None):
    """A progress bar on stderr (hidden when stderr is not a terminal); yields ``advance(n=1)``."""
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=False,
    )
    with bar:
        task = bar.add_task(description, total=total)
        yield lambda n=1: bar.advance(task, n)
