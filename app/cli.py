"""The `longtrust` command line."""

from __future__ import annotations

import json
import os
import sys
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from app.settings import Settings, describe, warn_unknown
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


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"longtrust {version('longtrust')}")
        raise typer.Exit()


@cli.callback()
def _options(
    _version_flag: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="print the version and exit")
    ] = False,
) -> None:
    """LongTrust trust services."""


DataDir = Annotated[Path | None, typer.Option("--data-dir", help="data folder (env LONGTRUST_DATA_DIR)")]
CLI_ACTOR = "cli:" + os.environ.get("USER", "operator")


TlsCert = Annotated[
    Path | None, typer.Option(help="PEM server certificate (chain): serve HTTPS (env LONGTRUST_TLS_CERT)")
]
TlsKey = Annotated[Path | None, typer.Option(help="PEM private key of --tls-cert (env LONGTRUST_TLS_KEY)")]
ClientCa = Annotated[
    Path | None,
    typer.Option(help="PEM CA certificates client certificates must chain to (env LONGTRUST_CLIENT_CA)"),
]


def use_tls_options(cert: Path | None, key: Path | None, client_ca: Path | None) -> None:
    """Command-line TLS options override LONGTRUST_TLS_*; set in the environment so workers see them."""
    for name, value in (("TLS_CERT", cert), ("TLS_KEY", key), ("CLIENT_CA", client_ca)):
        if value is not None:
            os.environ[f"LONGTRUST_{name}"] = str(value.resolve())


def settings_for(data_dir: Path | None) -> Settings:
    if data_dir is not None:
        os.environ["LONGTRUST_DATA_DIR"] = str(data_dir)
    warn_unknown()
    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return settings


@contextmanager
def open_services(data_dir: Path | None):
    """The wired services for a command, closed when it ends.

    Raises StartupError when the SQLite database does not exist yet (opening it would create an
    empty one in the folder)."""
    from sqlalchemy.engine import make_url

    from app.container import StartupError, build_services

    settings = settings_for(data_dir)
    url = make_url(settings.db_url)
    if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).exists():
        raise StartupError(f"no database at {url.database}: run `longtrust init` first")
    services = build_services(settings)
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
    tls_cert: TlsCert = None,
    tls_key: TlsKey = None,
    client_ca: ClientCa = None,
) -> None:
    """Run the API (initialises the data folder first if needed); with --tls-cert it serves HTTPS and,
    with --client-ca, accepts client certificates (mTLS) besides bearer tokens."""
    use_tls_options(tls_cert, tls_key, client_ca)
    settings = settings_for(data_dir)
    if workers > 1:  # one worker is this process: its own registry already counts everything
        prepare_metrics_folder(settings.data_dir)
    initialise(settings)
    run_server("LongTrust", "app.main:create_app_from_env", settings, host, port, workers)


def prepare_metrics_folder(data_dir: Path) -> Path:
    """Empty ``data_dir/metrics`` and export it as PROMETHEUS_MULTIPROC_DIR, so that every worker
    process writes its counters there and /metrics sums them. Only for separate worker processes:
    they import prometheus_client after this, while this process has imported it already (it reads
    the variable at import), so in-process serving must keep its own registry."""
    import shutil

    folder = data_dir.resolve() / "metrics"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    return folder


def run_server(what: str, factory: str, settings: Settings, host: str, port: int, workers: int = 1) -> None:
    """Serve an app factory with uvicorn; its workers read settings (data folder too) from LONGTRUST_*
    and, when there are several, each listens on a socket of its own (app.workers)."""
    import uvicorn

    from app.observability import logging_config
    from app.tls import server_options

    os.environ["LONGTRUST_DATA_DIR"] = str(settings.data_dir.resolve())
    scheme = "https" if settings.tls_cert else "http"
    typer.echo(f"{what} on {scheme}://{host}:{port} (data: {settings.data_dir.resolve()})")
    options = dict(
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        access_log=False,
        log_config=logging_config(settings.log_format),
        **server_options(settings.tls_cert, settings.tls_key, settings.client_ca),
    )
    if workers == 1:
        uvicorn.run(factory, **options)
        return
    from app.workers import run_workers

    with suppress(KeyboardInterrupt):  # (the supervisor has stopped its workers)
        run_workers(uvicorn.Config(factory, **options))


@token_cli.command("create")
def token_create(
    role: Annotated[str, typer.Option(help="role of the token")],
    name: Annotated[str, typer.Option(help="who or what uses it")],
    seal: Annotated[
        list[str] | None, typer.Option("--seal", help="seal id it may stamp with (repeat)")
    ] = None,
    operator: Annotated[
        str | None, typer.Option(help="person or system answerable for it (default: the name)")
    ] = None,
    expires_in_days: Annotated[
        float | None,
        typer.Option(help="lifetime in days (approval-system default: LONGTRUST_TOKEN_DEFAULT_TTL_DAYS)"),
    ] = None,
    client_cert: Annotated[
        Path | None,
        typer.Option(help="PEM client certificate from this deployment's CA that authenticates as the token"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print token and token_id as JSON")] = False,
    data_dir: DataDir = None,
) -> None:
    """Print a new bearer token on stdout and its id on stderr (with host access, no second operator
    is asked for: the command acts directly and is audited as the CLI)."""
    ttl = expires_in_days * 86400 if expires_in_days is not None else None
    der = client_certificate(client_cert) if client_cert else None
    with open_services(data_dir) as services, services.db.unit_of_work() as s:
        issued = services.tokens.issue(s, role, name, CLI_ACTOR, seal or [], operator, ttl, der)
    if as_json:
        typer.echo(json.dumps({**_token_json(issued.view), "token": issued.token}, ensure_ascii=False))
        return
    typer.echo(issued.token)
    typer.echo(f"token_id: {issued.token_id}", err=True)


def client_certificate(path: Path) -> bytes:
    """DER of the PEM certificate in the file at ``path`` (a --client-cert option)."""
    from app.cert_credentials import from_pem

    der = from_pem(path.read_text(errors="replace"))
    if der is None:
        raise typer.BadParameter(f"{path} holds no PEM certificate", param_hint="--client-cert")
    return der


def _token_json(view) -> dict:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in view.__dict__.items()}


TOKEN_COLUMNS = ("token_id", "name", "role", "operator", "status", "expires_at", "last_used_at")


@token_cli.command("list")
def token_list(
    as_json: Annotated[bool, typer.Option("--json", help="print JSON lines")] = False,
    data_dir: DataDir = None,
) -> None:
    """List tokens (never their secrets)."""
    with open_services(data_dir) as services:
        rows, cursor = [], None
        while True:
            page, cursor = services.tokens.list(limit=1000, cursor=cursor)
            rows += [_token_json(v) for v in page]
            if cursor is None:
                break
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False))
        return
    table = [TOKEN_COLUMNS] + [tuple(str(r[c] or "-") for c in TOKEN_COLUMNS) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(TOKEN_COLUMNS))]
    for row in table:
        typer.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


@token_cli.command("revoke")
def token_revoke(token_id: str, data_dir: DataDir = None) -> None:
    """Revoke a token: every server process refuses it from its next request on."""
    with open_services(data_dir) as services, services.db.unit_of_work() as s:
        services.tokens.revoke(s, token_id, CLI_ACTOR)
    typer.echo(f"{token_id} revoked")


@audit_cli.command("verify")
def audit_verify(data_dir: DataDir = None) -> None:
    """Recompute the audit log's Merkle tree from its events and check every signed checkpoint, and
    the hub's witnessed copy when a hub is configured; exits 1 if any event was changed, removed,
    reordered or cut off, or a checkpoint altered."""
    with open_services(data_dir) as services:
        count, pending, problems = services.audit.verify()
    for p in problems:
        typer.echo(f"event {p.seq}: {p.problem}" if p.seq is not None else p.problem, err=True)
    if problems:
        typer.echo(f"audit log TAMPERED: {len(problems)} problem(s) in {count} events", err=True)
        raise typer.Exit(1)
    waiting = f" ({pending} more waiting for the sequencer)" if pending else ""
    typer.echo(f"audit log intact: {count} events{waiting}")


@audit_cli.command("checkpoint")
def audit_checkpoint(data_dir: DataDir = None) -> None:
    """Run the audit sequencer once: sequence waiting events, sign a checkpoint and send it to the
    hub if one is configured (the server does this every LONGTRUST_AUDIT_SEQUENCE_INTERVAL_S)."""
    with open_services(data_dir) as services:
        written = services.audit.run()
        services.audit.witness()
    typer.echo("checkpoint written" if written else "no new events since the last checkpoint")


@keys_cli.command("list")
def keys_list(
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
    data_dir: DataDir = None,
) -> None:
    """List keys (never their private parts)."""
    from app.output import emit
    from keys.listing import key_item

    with open_services(data_dir) as services:
        rows = [key_item(k) for k in services.keys.list()]
    emit(rows, ["key_ref", "algorithm", "backend", "status", "label", "created_at"], as_json)


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


@keys_cli.command("rewrap")
def keys_rewrap(
    new_kek_file: Annotated[
        Path | None, typer.Option(help="file with the new KEK (base64, 32 bytes); else env LONGTRUST_NEW_KEK")
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="keys per transaction")] = 100,
    data_dir: DataDir = None,
) -> None:
    """Re-encrypt every software key (the KMC's escrow key too) under a new key-encryption key (KEK
    rotation), audited; escrowed keys still sealed under the KEK itself move under the escrow key first.
    Afterwards start the service with LONGTRUST_KEK set to the new KEK. Running it again resumes."""
    from keys.kek import KeyEncryptor

    text = new_kek_file.read_text().strip() if new_kek_file else os.environ.get("LONGTRUST_NEW_KEK", "")
    if not text:
        raise ValueError("give the new KEK with --new-kek-file FILE or in LONGTRUST_NEW_KEK")
    new = KeyEncryptor(text)
    with open_services(data_dir) as services:
        resealed = services.kmc.reseal_legacy(CLI_ACTOR)  # escrows under the KEK itself: none after this
        total = services.keys.software_key_count()
        with typer.progressbar(length=total, label="re-wrapping keys", file=sys.stderr) as bar:
            done = services.keys.rewrap(new, CLI_ACTOR, batch_size=batch_size, progress=bar.update)
    moved = f" ({resealed} escrowed key(s) moved under the KMC's escrow key first)" if resealed else ""
    typer.echo(f"{done} key(s) re-wrapped{moved}; start the service with the new LONGTRUST_KEK")


def main() -> None:
    from pydantic import ValidationError
    from sqlalchemy.exc import SQLAlchemyError

    from app import (  # noqa: F401  (register subcommands)
        backup_commands,
        ca_commands,
        hub_commands,
        kmc_commands,
        ops_commands,
        registry_commands,
        seal_commands,
    )
    from app.container import StartupError
    from db.base import database_unavailable

    try:
        cli()
    except ValidationError as exc:
        typer.echo(f"error: {describe(exc)}", err=True)
        sys.exit(1)
    except (DomainError, StartupError, ValueError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except SQLAlchemyError as exc:
        first = str(exc).splitlines()[0]
        unreachable = database_unavailable(exc) and "no such table" not in first  # SQLite: not initialised
        hint = "is it running and reachable?" if unreachable else "run `longtrust init`?"
        typer.echo(f"error: database: {first} ({hint})", err=True)
        sys.exit(1)
    except Exception as exc:  # one clear line, never a traceback, for anything unforeseen
        typer.echo(f"error: {type(exc).__name__}: {exc}", err=True)
        sys.exit(1)


@cli.command("verify")
def verify_file(
    file: Annotated[Path, typer.Argument(help="PDF, OFD, certificate (PEM/DER), seal or stamp (DER)")],
    data: Annotated[Path | None, typer.Option(help="the signed data, for a detached stamp")] = None,
    trust_list: Annotated[
        str | None,
        typer.Option(
            help="trust these anchors instead of a deployment's: a file or http(s) URL of the hub's signed "
            "trust list (GET /hub/v1/trust-list) or of a region's /trust-list; needs no database"
        ),
    ] = None,
    hub_certificate: Annotated[
        Path | None, typer.Option(help="pin the hub's certificate when --trust-list is the hub's list")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
    data_dir: DataDir = None,
) -> None:
    """Verify a file against this deployment's trust anchors, or standalone against --trust-list;
    exit 0 only for TOTAL_PASSED."""
    import json

    detached = data.read_bytes() if data else None
    if trust_list is not None:
        from app.standalone import standalone_verifier

        report = standalone_verifier(trust_list, hub_certificate).file(file.read_bytes(), detached)
    else:
        with open_services(data_dir) as services:
            report = services.verify.file(file.read_bytes(), detached)
    typer.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2) if as_json else report.to_text())
    raise typer.Exit(0 if report.indication == "TOTAL_PASSED" else 1)
