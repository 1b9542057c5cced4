"""`longtrust ca pair` and `longtrust kmc ...`: dual certificates and key recovery (same services as
the API). The operator is the OS user (``cli:$USER``): recovery goes through the approvals
(operation ``key.recovery``) and needs a request by one user and the decision by another."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Annotated

import typer

from app.cli import CLI_ACTOR, DataDir, ca_cli, kmc_cli, open_services
from app.ops_commands import cli_principal
from core.errors import not_found

OutDir = Annotated[Path, typer.Option("--out", help="folder to write the files into")]


@ca_cli.command("pair")
def ca_pair(
    ca_id: Annotated[str, typer.Option("--ca", help="issuing CA id, e.g. sm2-issuing")],
    csr: Annotated[Path, typer.Option(help="the subscriber's signing PKCS#10 request (PEM or DER)")],
    profile: Annotated[str, typer.Option(help="signing profile, e.g. organization-signing")],
    out: OutDir,
    credit_code: Annotated[str | None, typer.Option(help="unified social credit code")] = None,
    validity_days: Annotated[int | None, typer.Option(help="validity in days")] = None,
    data_dir: DataDir = None,
) -> None:
    """Issue a signing + encryption certificate pair; writes signing.pem, encryption.pem, chain.pem and
    enveloped-key.der (the encryption key enveloped to the signing key)."""
    with open_services(data_dir) as services:
        fields = {"credit_code": credit_code, "validity_days": validity_days}
        view = services.pairs.issue_pair(ca_id, csr.read_bytes(), profile, CLI_ACTOR, **fields)
    out.mkdir(parents=True, exist_ok=True)
    (out / "signing.pem").write_text(view.signing_certificate_pem)
    (out / "encryption.pem").write_text(view.encryption_certificate_pem)
    (out / "chain.pem").write_text(view.chain_pem)
    (out / "enveloped-key.der").write_bytes(view.enveloped_private_key)
    typer.echo(
        f"signing {view.signing_serial_hex}, encryption {view.encryption_serial_hex}: written to {out}"
    )


@kmc_cli.command("recover")
def kmc_recover(
    ca_id: Annotated[str, typer.Option("--ca", help="CA of the encryption certificate")],
    serial: Annotated[str, typer.Option(help="serial number of the encryption certificate, hex")],
    reason: Annotated[str, typer.Option(help="why the key is recovered")],
    case_reference: Annotated[str, typer.Option(help="case or court-order reference")],
    recipient: Annotated[Path, typer.Option(help="PEM certificate the key is to be enveloped to")],
    data_dir: DataDir = None,
) -> None:
    """Ask for an escrowed key to be recovered; prints the request id another operator decides
    (here with `kmc approve`, or over the API at /api/v1/approvals/{request_id}/approve)."""
    body = {
        "ca_id": ca_id,
        "serial_hex": serial,
        "reason": reason,
        "case_reference": case_reference,
        "recipient_certificate_pem": recipient.read_text(),
    }
    with open_services(data_dir) as services:
        payload = services.recoveries.check(body)
        outcome = services.approvals.submit("key.recovery", payload, cli_principal())
    typer.echo(outcome.body["request_id"])


def _decide(services, request_id: str, approve: bool):
    if services.approvals.get(request_id)["operation"] != "key.recovery":
        raise not_found(f"no key recovery {request_id}")
    return services.approvals.decide(request_id, approve, cli_principal())[0]


@kmc_cli.command("approve")
def kmc_approve(
    request_id: Annotated[str, typer.Argument(help="recovery request id")],
    out: Annotated[Path, typer.Option(help="file for the enveloped key (DER)")],
    data_dir: DataDir = None,
) -> None:
    """Approve another operator's recovery request and write the key enveloped to its recipient."""
    with open_services(data_dir) as services:
        outcome = _decide(services, request_id, True)
    out.write_bytes(base64.b64decode(outcome.body["enveloped_private_key_b64"]))
    typer.echo(f"{request_id}: released to {out}")


@kmc_cli.command("reject")
def kmc_reject(
    request_id: Annotated[str, typer.Argument(help="recovery request id")],
    data_dir: DataDir = None,
) -> None:
    """Reject another operator's recovery request."""
    with open_services(data_dir) as services:
        _decide(services, request_id, False)
    typer.echo(f"{request_id}: rejected")


@kmc_cli.command("list")
def kmc_list(data_dir: DataDir = None) -> None:
    """List recovery requests (all statuses), oldest first."""
    with open_services(data_dir) as services:
        items, _ = services.approvals.list(limit=1000, status="all", operation="key.recovery")
    for r in items:
        decided = f" by {r['decided_by']}" if r["decided_by"] else ""
        summary = r["summary"]
        typer.echo(
            f"{r['request_id']}\t{summary['ca_id']}/{summary['serial_hex']}\t{r['status']}{decided}"
            f"\t{r['requested_by']}\t{summary['case_reference']}"
        )
