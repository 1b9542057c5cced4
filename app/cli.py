"""The `longtrust` command line."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from app.settings import Settings
from core.errors import DomainError

cli = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="LongTrust trust services.",
)
token_cli = typer.Typer(no_args_is_help=True, help="API bearer tokens.")
audit_cli = typer.Typer(no_args_is_help=True, help="The audit log.")
keys_cli = typer.Typer(no_args_is_help=True, help="Private keys (security administrators).")
ca_cli = typer.Typer(no_args_is_help=True, help="Certificate authorities.")
cli.add_typer(token_cli, name="token")
cli.add_typer(audit_cli, name="audit")
cli.add_typer(keys_cli, name="keys")
cli.add_typer(ca_cli, name="ca")
kmc_cli = typer.Typer(no_args_is_help=True, help="Key management centre: escrowed keys and their recovery.")
cli.add_typer(kmc_cli, name="kmc")
hub_cli = typer.Typer(no_args_is_help=True, help="The reference national mutual-recognition hub.")
cli.add_typer(hub_cli, name="hub")
registry_cli = typer.Typer(no_args_is_help=True, help="The e-license registry and its hub reporting.")
cli.add_typer(registry_cli, name="registry")

DataDir = Annotated[Path | None, typer.Option("--data-dir", help="data folder (env LONGTRUST_DATA_DIR)")]
CLI_ACTOR = "cli:" + os.environ.get("USER", "operator")


def settings_for(data_dir: Path | None) -> Settings:
    if data_dir is not None:
        os.environ["LONGTRUST_DATA_DIR"] = str(data_dir)
    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return settings


@contextmanager
def open_services(data_dir: Path | None):
    """The wired services for a command, closed when it ends."""
    from app.container import build_services

    services = build_services(settings_for(data_dir))
    try:
        yield services
    finally:
        services.close()


def initialise(settings: Settings) -> bool:
    """Migrate the schema, create the default CA hierarchy and the bootstrap admin token.
    Idempotent; returns True when anything was created."""
    from app.container import build_services
    from app.migrate import upgrade

    services = build_services(settings)
    try:
        upgrade(services.db)
        created = services.ca.bootstrap(actor="system:init")
        created = services.seals.bootstrap(actor="system:init") or created
        token_file = settings.data_dir / "bootstrap-admin.token"
        if not token_file.exists():
            with services.db.unit_of_work() as s:
                token = services.tokens.create(s, "security-admin", "bootstrap-admin", "system:init")
            fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(token + "\n")
            created = True
        return created
    finally:
        services.close()


@cli.command()
def init(data_dir: DataDir = None) -> None:
    """Create the database, the default CA hierarchy and a security-admin token (idempotent)."""
    settings = settings_for(data_dir)
    created = initialise(settings)
    where = settings.data_dir.resolve()
    typer.echo(f"initialised {where}" if created else f"{where} is already initialised; nothing changed")


@cli.command()
def serve(
    data_dir: DataDir = None,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port")] = 8400,
    workers: Annotated[int, typer.Option(help="worker processes")] = 1,
) -> None:
    """Run the API (initialises the data folder first if needed)."""
    settings = settings_for(data_dir)
    initialise(settings)
    run_server("LongTrust", "app.main:create_app_from_env", settings, host, port, workers)


def run_server(what: str, factory: str, settings: Settings, host: str, port: int, workers: int = 1) -> None:
    """Serve an app factory with uvicorn; its workers read settings (data folder too) from LONGTRUST_*."""
    import uvicorn

    os.environ["LONGTRUST_DATA_DIR"] = str(settings.data_dir.resolve())
    typer.echo(f"{what} on http://{host}:{port} (data: {settings.data_dir.resolve()})")
    uvicorn.run(factory, factory=True, host=host, port=port, workers=workers, log_level="info",
                access_log=False)


@token_cli.command("create")
def token_create(
    role: Annotated[str, typer.Option(help="role of the token")],
    name: Annotated[str, typer.Option(help="who or what uses it")],
    seal: Annotated[
        list[str] | None, typer.Option("--seal", help="seal id it may stamp with (repeat)")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Print a new bearer token."""
    with open_services(data_dir) as services, services.db.unit_of_work() as s:
        typer.echo(services.tokens.create(s, role, name, CLI_ACTOR, seal or []))


@audit_cli.command("verify")
def audit_verify(data_dir: DataDir = None) -> None:
    """Check the audit log's hash chain and signed checkpoints; exits 1 if any event was changed,
    removed, reordered or cut off."""
    from app.checkpoints import checkpoint_problems
    from db.audit import verify_chain

    with open_services(data_dir) as services:
        with services.db.read() as s:
            count, problems = verify_chain(s)
        problems += checkpoint_problems(services.db, services.settings.data_dir)
    for p in problems:
        typer.echo(f"event {p.seq}: {p.problem}", err=True)
    if problems:
        typer.echo(f"audit log TAMPERED: {len(problems)} problem(s) in {count} events", err=True)
        raise typer.Exit(1)
    typer.echo(f"audit log intact: {count} events")


@audit_cli.command("checkpoint")
def audit_checkpoint(data_dir: DataDir = None) -> None:
    """Sign the audit chain's head into the data folder (the server does this every minute)."""
    from app.checkpoints import write_checkpoint

    with open_services(data_dir) as services:
        written = write_checkpoint(services.db, services.keys, services.settings.data_dir)
    typer.echo("checkpoint written" if written else "no new events since the last checkpoint")


@keys_cli.command("list")
def keys_list(data_dir: DataDir = None) -> None:
    """List keys (never their private parts)."""
    with open_services(data_dir) as services:
        for k in services.keys.list():
            typer.echo(f"{k.key_ref}\t{k.algorithm}\t{k.backend}\t{k.status}\t{k.label}")


@keys_cli.command("create")
def keys_create(
    algorithm: Annotated[str, typer.Option(help="sm2 | rsa-2048 | rsa-3072 | rsa-4096 | ecdsa-p256")],
    label: Annotated[str, typer.Option(help="what the key is for")],
    backend: Annotated[str, typer.Option(help="software | pkcs11")] = "software",
    data_dir: DataDir = None,
) -> None:
    """Generate a key."""
    with open_services(data_dir) as services, services.db.unit_of_work() as s:
        typer.echo(services.keys.create(s, algorithm, label, CLI_ACTOR, backend).key_ref)


@keys_cli.command("disable")
def keys_disable(key_ref: str, reason: str = "", data_dir: DataDir = None) -> None:
    """Disable a key: nothing signs with it again."""
    with open_services(data_dir) as services:
        with services.db.unit_of_work() as s:
            services.keys.disable(s, key_ref, CLI_ACTOR, reason)
        typer.echo(f"{key_ref} disabled")


def main() -> None:
    from sqlalchemy.exc import SQLAlchemyError

    from app import ca_commands, hub_commands, kmc_commands, registry_commands  # noqa: F401  (register subcommands)
    from app.container import StartupError

    try:
        cli()
    except (DomainError, StartupError, ValueError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except SQLAlchemyError as exc:
        first = str(exc).splitlines()[0]
        typer.echo(
            f"error: database: {first} (is the data folder initialised? run `longtrust init`)", err=True
        )
        sys.exit(1)
    except Exception as exc:  # one clear line, never a traceback, for anything unforeseen
        typer.echo(f"error: {type(exc).__name__}: {exc}", err=True)
        sys.exit(1)


@cli.command("verify")
def verify_file(
    file: Annotated[Path, typer.Argument(help="PDF, OFD, certificate (PEM/DER), seal or stamp (DER)")],
    data: Annotated[Path | None, typer.Option(help="the signed data, for a detached stamp")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
    data_dir: DataDir = None,
) -> None:
    """Verify a file against this deployment's trust anchors; exit 0 only for TOTAL_PASSED."""
    import json

    with open_services(data_dir) as services:
        report = services.verify.file(file.read_bytes(), data.read_bytes() if data else None)
    typer.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2) if as_json else report.to_text())
    raise typer.Exit(0 if report.indication == "TOTAL_PASSED" else 1)
