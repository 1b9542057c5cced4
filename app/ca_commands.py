"""`longtrust ca ...`: CA operations from the command line (same service as the API)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from app.cli import CLI_ACTOR, DataDir, ca_cli, open_services
from ca.service import to_pem
from core.der import serial_hex


@ca_cli.command("list")
def ca_list(
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
    data_dir: DataDir = None,
) -> None:
    """List the CAs."""
    from app.output import emit

    with open_services(data_dir) as services:
        rows = [
            {
                "id": c.id,
                "algorithm": c.algorithm,
                "parent_id": c.parent_id,
                "status": c.status,
                "name": c.name,
                "certificate_pem": to_pem(c.certificate_der),
            }
            for c in services.ca.list_cas()
        ]
    emit(rows, ["id", "algorithm", "parent_id", "status", "name"], as_json)


@ca_cli.command("issue")
def ca_issue(
    ca_id: Annotated[str, typer.Option("--ca", help="issuing CA id, e.g. sm2-issuing")],
    csr: Annotated[Path, typer.Option(help="PKCS#10 request file (PEM or DER)")],
    profile: Annotated[str, typer.Option(help="certificate profile")],
    credit_code: Annotated[str | None, typer.Option(help="unified social credit code")] = None,
    validity_days: Annotated[int | None, typer.Option(help="validity in days")] = None,
    data_dir: DataDir = None,
) -> None:
    """Issue a certificate; prints it and its chain as PEM."""
    with open_services(data_dir) as services:
        view = services.ca.issue(ca_id, csr.read_bytes(), profile, CLI_ACTOR, credit_code, validity_days)
        typer.echo(view.certificate_pem + view.chain_pem, nl=False)


@ca_cli.command("revoke")
def ca_revoke(
    ca_id: Annotated[str, typer.Option("--ca", help="CA id")],
    serial: Annotated[str, typer.Option(help="serial number, hex")],
    reason: Annotated[str, typer.Option(help="RFC 5280 reason, e.g. keyCompromise")] = "unspecified",
    data_dir: DataDir = None,
) -> None:
    """Revoke a certificate and publish a fresh CRL."""
    with open_services(data_dir) as services:
        view = services.ca.revoke(ca_id, serial, reason, CLI_ACTOR)
        typer.echo(f"{view.serial_hex} revoked ({reason})")


@ca_cli.command("status")
def ca_status(
    ca_id: Annotated[str, typer.Option("--ca", help="CA id")],
    serial: Annotated[str, typer.Option(help="serial number, hex")],
    data_dir: DataDir = None,
) -> None:
    """Show a certificate's status."""
    with open_services(data_dir) as services:
        v = services.ca.get(ca_id, serial)
        extra = f" since {v.revoked_at.isoformat()} ({v.reason})" if v.revoked_at else ""
        typer.echo(f"{v.serial_hex}\t{v.status}{extra}")


@ca_cli.command("crl")
def ca_crl(
    ca_id: Annotated[
        str | None, typer.Option("--ca", help="CA id (default: every active CA, no output)")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="write DER here (default: PEM to stdout)")] = None,
    data_dir: DataDir = None,
) -> None:
    """Publish a fresh CRL now and output it; without --ca, publish every active CA's CRLs with a
    progress bar."""
    if ca_id is None:
        _publish_all(data_dir)
        return
    with open_services(data_dir) as services:
        der = services.ca.publish_crl(ca_id, 0, CLI_ACTOR)
    if out:
        out.write_bytes(der)
        typer.echo(f"wrote {out}")
    else:
        typer.echo(to_pem(der, "X509 CRL"), nl=False)


@ca_cli.command("responder-renew")
def ca_responder_renew(
    ca_id: Annotated[str, typer.Option("--ca", help="CA id")],
    data_dir: DataDir = None,
) -> None:
    """Give a CA's OCSP responder a new key and certificate now (the old key is disabled); every
    running server signs with the new one from its next request."""
    with open_services(data_dir) as services:
        services.ca.renew_responder(ca_id, CLI_ACTOR)
        serial = services.ca.context(ca_id).responder_cert.serial_number
        typer.echo(f"{ca_id}: OCSP responder renewed (certificate {serial_hex(serial)})")


def _publish_all(data_dir) -> None:
    from app.output import progress

    with open_services(data_dir) as services:
        shards = [
            (c.id, n) for c in services.ca.list_cas() if c.status == "active" for n in range(c.crl_shards)
        ]
        with progress("CRLs", len(shards)) as advance:
            for ca_id, shard in shards:
                services.ca.publish_crl(ca_id, shard, CLI_ACTOR)
                advance()
    typer.echo(f"published {len(shards)} CRL(s)")
