"""`longtrust hub ...`: run the reference national hub and register regions."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from app.cli import (
    CLI_ACTOR,
    ClientCa,
    DataDir,
    TlsCert,
    TlsKey,
    client_certificate,
    hub_cli,
    run_server,
    settings_for,
    use_tls_options,
)

ClientCert = Annotated[
    Path | None, typer.Option(help="PEM client certificate the region authenticates with (mTLS)")
]
IssuerCodes = Annotated[
    list[str] | None,
    typer.Option("--issuer-code", help="license issuer code only this region may report (repeat)"),
]
region_cli = typer.Typer(no_args_is_help=True, help="Regions that report to this hub.")
hub_cli.add_typer(region_cli, name="region")


@hub_cli.command("serve")
def hub_serve(
    data_dir: DataDir = None,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port")] = 8500,
    tls_cert: TlsCert = None,
    tls_key: TlsKey = None,
    client_ca: ClientCa = None,
) -> None:
    """Run the national hub (migrates its data folder and creates its signing key first if needed);
    with --client-ca, regions may authenticate with their registered client certificates."""
    from app.hub import hub_initialise

    use_tls_options(tls_cert, tls_key, client_ca)
    settings = settings_for(data_dir)
    hub_initialise(settings)
    run_server("LongTrust national hub", "app.hub:create_hub_app_from_env", settings, host, port)


@region_cli.command("add")
def hub_region_add(
    code: Annotated[str, typer.Option(help="6-digit GB/T 2260 region code, e.g. 230000")],
    name: Annotated[str, typer.Option(help="region name")],
    client_cert: ClientCert = None,
    issuer_code: IssuerCodes = None,
    data_dir: DataDir = None,
) -> None:
    """Register a region and print its bearer token (shown once; the hub keeps only its hash)."""
    with _hub(data_dir) as hub:
        typer.echo(hub.add_region(code, name, CLI_ACTOR, _der(client_cert), issuer_code or []))


@region_cli.command("bind")
def hub_region_bind(
    code: Annotated[str, typer.Option(help="6-digit GB/T 2260 region code of a registered region")],
    issuer_code: IssuerCodes = None,
    client_cert: ClientCert = None,
    data_dir: DataDir = None,
) -> None:
    """Bind a client certificate (replacing the region's previous one) or issuer codes to a region."""
    with _hub(data_dir) as hub:
        hub.bind(code, CLI_ACTOR, _der(client_cert), issuer_code or [])
    typer.echo(f"region {code} updated")


def _der(client_cert: Path | None) -> bytes | None:
    return client_certificate(client_cert) if client_cert else None


@contextmanager
def _hub(data_dir):
    from app.hub import build_hub, hub_initialise

    settings = settings_for(data_dir)
    hub_initialise(settings)
    hub = build_hub(settings)
    try:
        yield hub
    finally:
        hub.db.dispose()
