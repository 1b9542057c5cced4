"""`longtrust registry ...`: the e-license registry's hub reporting from the command line."""

from __future__ import annotations

import json

import typer

from app.cli import DataDir, open_services, registry_cli


@registry_cli.command("backlog")
def registry_backlog(data_dir: DataDir = None) -> None:
    """Show what still waits to be delivered to the national hub."""
    with open_services(data_dir) as services:
        typer.echo(json.dumps(services.registry.outbox_backlog(), default=str, ensure_ascii=False, indent=2))


@registry_cli.command("relay-once")
def registry_relay_once(data_dir: DataDir = None) -> None:
    """Deliver one batch of waiting events to the hub now (the server does this every interval)."""
    with open_services(data_dir) as services:
        if services.relay is None:
            raise typer.BadParameter("no hub is configured (LONGTRUST_HUB_URL and LONGTRUST_HUB_TOKEN)")
        typer.echo(f"delivered {services.relay.deliver_once()} event(s)")


@registry_cli.command("expire")
def registry_expire(data_dir: DataDir = None) -> None:
    """Mark licenses past their last valid day as expired (the server does this periodically)."""
    with open_services(data_dir) as services:
        typer.echo(f"expired {services.registry.expire_due()} license(s)")
