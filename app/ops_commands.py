"""`longtrust audit show|export` and `longtrust ca request list|approve|reject`."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from app.cli import CLI_ACTOR, DataDir, audit_cli, ca_cli, open_services
from app.output import emit
from app.tokens import Principal

request_cli = typer.Typer(
    no_args_is_help=True, help="CA requests under dual control (a second admin decides)."
)
ca_cli.add_typer(request_cli, name="request")

Json = Annotated[bool, typer.Option("--json", help="print JSON instead of a table")]
Actor = Annotated[str | None, typer.Option(help="only events by this actor, e.g. security-admin:alice")]
Action = Annotated[str | None, typer.Option(help="only this action, e.g. certificate.issue")]
Subject = Annotated[str | None, typer.Option(help="only events about this subject")]
Since = Annotated[datetime | None, typer.Option(help="from this time (inclusive; ISO 8601, naive = UTC)")]
Until = Annotated[datetime | None, typer.Option(help="before this time (exclusive)")]
AUDIT_COLUMNS = ["id", "leaf_index", "at", "actor", "action", "subject", "details"]
REQUEST_COLUMNS = ["request_id", "operation", "status", "requested_by", "decided_by", "created_at"]


@audit_cli.command("show")
def audit_show(
    actor: Actor = None,
    action: Action = None,
    subject: Subject = None,
    since: Since = None,
    until: Until = None,
    limit: Annotated[int, typer.Option(help="at most this many events (1-500)")] = 50,
    cursor: Annotated[str | None, typer.Option(help="continue after a previous listing")] = None,
    as_json: Json = False,
    data_dir: DataDir = None,
) -> None:
    """Show audit events in sequence order, narrowed by actor, action, subject and time."""
    from db.audit_listing import list_events

    filters = {"actor": actor, "action": action, "subject": subject, "since": since, "until": until}
    with open_services(data_dir) as services:
        rows, next_cursor = list_events(services.db, limit, cursor, **filters)
    emit(rows, AUDIT_COLUMNS, as_json, next_cursor=next_cursor)


@audit_cli.command("export")
def audit_export(
    out: Annotated[Path | None, typer.Option("--out", help="write here (default: stdout)")] = None,
    actor: Actor = None,
    action: Action = None,
    subject: Subject = None,
    since: Since = None,
    until: Until = None,
    data_dir: DataDir = None,
) -> None:
    """Export the matching audit events as JSON Lines (one event per line, sequence order)."""
    import sys

    from db.audit_listing import export_events

    filters = {"actor": actor, "action": action, "subject": subject, "since": since, "until": until}
    with open_services(data_dir) as services:
        if out is None:
            sys.stdout.writelines(export_events(services.db, **filters))
            return
        with out.open("w", encoding="utf-8") as f:
            count = sum(f.write(line) > 0 for line in export_events(services.db, **filters))
    typer.echo(f"wrote {count} events to {out}", err=True)


@request_cli.command("list")
def request_list(
    status: Annotated[
        str, typer.Option(help="pending | approved | rejected | failed | expired | all")
    ] = "pending",
    as_json: Json = False,
    data_dir: DataDir = None,
) -> None:
    """List requests under dual control (new sub-CAs, CA revocations, seals, admin tokens)."""
    with open_services(data_dir) as services:
        items, _ = services.approvals.list(limit=500, status=status)
        emit(items, REQUEST_COLUMNS, as_json)


def cli_principal() -> Principal:
    """The host's operator as the approvals see it (the CLI acts directly, audited as ``cli:USER``)."""
    return Principal(token_id="cli", name=CLI_ACTOR, role="security-admin", operator=CLI_ACTOR)


def _decide(request_id: str, approve: bool, data_dir) -> None:
    """Decide as the host's operator."""
    with open_services(data_dir) as services:
        _, request = services.approvals.decide(request_id, approve, cli_principal())
    typer.echo(f"{request['request_id']} {request['status']}")


@request_cli.command("approve")
def request_approve(request_id: str, data_dir: DataDir = None) -> None:
    """Approve a request (a different operator must have made it); it is carried out at once."""
    _decide(request_id, True, data_dir)


@request_cli.command("reject")
def request_reject(request_id: str, data_dir: DataDir = None) -> None:
    """Reject a request."""
    _decide(request_id, False, data_dir)
