"""`longtrust hub ...`: run the reference national hub and register regions."""

from __future__ import annotations

from typing import Annotated

import typer

from app.cli import CLI_ACTOR, DataDir, hub_cli, run_server, settings_for

region_cli = typer.Typer(no_args_is_help=True, help="Regions that report to this hub.")
hub_cli.add_typer(region_cli, name="region")


@hub_cli.command("serve")
def hub_serve(
    data_dir: DataDir = None,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port")] = 8500,
) -> None:
    """Run the national hub (migrates its data folder and creates its signing key first if needed)."""
    from app.hub import hub_initialise

    settings = settings_for(data_dir)
    hub_initialise(settings)
    run_server("LongTrust national hub", "app.hub:create_hub_app_from_env", settings, host, port)


@region_cli.command("add")
def hub_region_add(
    code: Annotated[str, typer.Option(help="6-digit GB/T 2260 region code, e.g. 230000")],
    name: Annotated[str, typer.Option(help="region name")],
    data_dir: DataDir = None,
) -> None:
    """Register a region and print its bearer token (shown once; the hub keeps only its hash)."""
    from app.hub import build_hub, hub_initialise

    settings = settings_for(data_dir)
    hub_initialise(settings)
    hub = build_hub(settings)
    try:
        typer.echo(hub.add_region(code, name, CLI_ACTOR))
    finally:
        hub.db.dispose()
