"""`longtrust seal ...` and `longtrust license ...`: daily work on seals and licenses."""

from __future__ import annotations

import dataclasses
from typing import Annotated

import typer

from app.cli import CLI_ACTOR, DataDir, cli, open_services
from app.output import emit, emit_one
from core.principal import Principal

seal_cli = typer.Typer(no_args_is_help=True, help="Seals (印章): list, show, suspend, resume, revoke.")
license_cli = typer.Typer(no_args_is_help=True, help="E-licenses: list, show, revoke.")
cli.add_typer(seal_cli, name="seal")
cli.add_typer(license_cli, name="license")

Json = Annotated[bool, typer.Option("--json", help="print JSON instead of a table")]
Limit = Annotated[int, typer.Option(help="at most this many (1-500)")]
Cursor = Annotated[str | None, typer.Option(help="continue after a previous listing")]
Reason = Annotated[str, typer.Option(help="why (kept in the audit log)")]
SEAL_COLUMNS = ["seal_id", "name", "owner_credit_code", "algorithm", "status", "valid_to"]
LICENSE_COLUMNS = ["identifier", "type_code", "version", "holder", "status", "valid_to"]


@seal_cli.command("list")
def seal_list(
    owner_credit_code: Annotated[
        str | None, typer.Option(help="the owner's unified social credit code")
    ] = None,
    status: Annotated[str | None, typer.Option(help="active | suspended | revoked")] = None,
    algorithm: Annotated[str | None, typer.Option(help="sm2 | rsa")] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
    as_json: Json = False,
    data_dir: DataDir = None,
) -> None:
    """List seals (never their images or keys)."""
    from seal_service.listing import list_seals
    from seal_service.schemas import SealItem

    with open_services(data_dir) as services:
        rows, next_cursor = list_seals(
            services.db,
            limit,
            cursor,
            owner_credit_code=owner_credit_code,
            status=status,
            algorithm=algorithm,
        )
    items = [SealItem.model_validate(row, from_attributes=True).model_dump() for row in rows]
    emit(items, SEAL_COLUMNS, as_json, next_cursor=next_cursor)


def _seal_view(view) -> dict:
    return {k: v for k, v in dataclasses.asdict(view).items() if k != "seal_der"}


@seal_cli.command("show")
def seal_show(seal_id: str, as_json: Json = False, data_dir: DataDir = None) -> None:
    """Show a seal with its status and signer certificate."""
    with open_services(data_dir) as services:
        emit_one(_seal_view(services.seals.get(seal_id)), as_json)


def _set_status(seal_id: str, status: str, reason: str, data_dir) -> None:
    with open_services(data_dir) as services:
        view = services.seals.set_status(seal_id, status, CLI_ACTOR, reason)
    typer.echo(f"{view.seal_id} {view.status}")


@seal_cli.command("suspend")
def seal_suspend(seal_id: str, reason: Reason = "", data_dir: DataDir = None) -> None:
    """Suspend a seal: nothing stamps with it until it is resumed."""
    _set_status(seal_id, "suspended", reason, data_dir)


@seal_cli.command("resume")
def seal_resume(seal_id: str, reason: Reason = "", data_dir: DataDir = None) -> None:
    """Resume a suspended seal."""
    _set_status(seal_id, "active", reason, data_dir)


@seal_cli.command("revoke")
def seal_revoke(seal_id: str, reason: Reason = "", data_dir: DataDir = None) -> None:
    """Revoke a seal for good (its signer certificate is revoked too)."""
    _set_status(seal_id, "revoked", reason, data_dir)


@license_cli.command("list")
def license_list(
    limit: Limit = 100,
    cursor: Cursor = None,
    holder_id: Annotated[str | None, typer.Option(help="the holder's identity number")] = None,
    type_code: Annotated[str | None, typer.Option(help="license type code")] = None,
    status: Annotated[str | None, typer.Option(help="valid | changed | revoked | expired")] = None,
    as_json: Json = False,
    data_dir: DataDir = None,
) -> None:
    """List licenses (every version), narrowed by holder, type and status."""
    with open_services(data_dir) as services:
        rows, next_cursor = services.registry.list_licenses(
            limit, cursor, holder_id=holder_id, type_code=type_code, status=status
        )
    if as_json:
        emit(rows, LICENSE_COLUMNS, True, next_cursor=next_cursor)
        return
    flat = [{**r, "holder": r.get("holder", {}).get("name")} for r in rows]
    emit(flat, LICENSE_COLUMNS, False, next_cursor=next_cursor)


@license_cli.command("show")
def license_show(identifier: str, as_json: Json = False, data_dir: DataDir = None) -> None:
    """Show a license document with its current status."""
    with open_services(data_dir) as services:
        emit_one(services.registry.get(identifier), as_json)


@license_cli.command("revoke")
def license_revoke(
    identifier: str, reason: Annotated[str, typer.Option(help="why (注销 reason)")], data_dir: DataDir = None
) -> None:
    """Revoke (注销) a license; the hub is told through the outbox."""
    with open_services(data_dir) as services:
        document = services.registry.revoke(
            identifier, reason, Principal(token_id="cli", name=CLI_ACTOR.split(":", 1)[1], role="cli")
        )
    typer.echo(f"{document['identifier']} {document['status']}")
