"""`longtrust registry ...`: the e-license registry's hub reporting from the command line."""

from __future__ import annotations

import json

import typer

from app.cli import DataDir, registry_cli, services_for


@registry_cli.command("backlog")
def registry_backlog(data_dir: DataDir = None) -> None:
    """Show what still waits to be delivered to the national hub."""
    services = services_for(data_dir)
    try:
        typer.echo(json.dumps(services.registry.outbox_backlog(), default=str, ensure_ascii=False, indent=2))
    finally:
        services.close()


@registry_cli.command("relay-once")
def registry_relay_once(data_dir: DataDir = None) -> None:
    """Deliver one batch of waiting events to the hub now (the server does this every interval)."""
    services = services_for(data_dir)
    try:
        if services.relay is None:
            raise typer.BadParameter("no hub is configured (LONGTRUST_HUB_URL and LONGTRUST_HUB_TOKEN)")
        typer.echo(f"delivered {services.relay.deliver_once()} event(s)")
    finally:
        services.close()


@registry_cli.command("expire")
def registry_expire(data_dir: DataDir = None) -> None:
    """Mark licenses past their last valid day as expired (the server does this periodically)."""
    services = services_for(data_dir)
    try:
        typer.echo(f"expired {services.registry.expire_due()} license(s)")
    finally:
        services.close()
