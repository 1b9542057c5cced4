"""A seal that fails half-made leaves nothing usable: its certificate revoked, its key disabled."""

from __future__ import annotations

import base64

import pytest
from asn1crypto import crl as asn1_crl
from sqlalchemy import func, select

from ca.models import IssuedCertificate
from core.errors import DomainError
from db.audit import AuditEvent
from keys.models import KeyRecord
from seal_service import service as seal_module
from seal_service.models import Seal
from tests.ca.test_ca_api import _ocsp
from tests.conftest import approved, auth
from tests.seal_service.test_pdf import make_png
from tests.seal_service.test_seal_api import USCC, make_seal

FAILED = "失败测试专用章"


def _collide_es_id(monkeypatch, taken: str) -> None:
    monkeypatch.setattr(seal_module.SealService, "_next_es_id", lambda self: taken)


def _break_encoder(monkeypatch, taken: str) -> None:
    def refuse(**_):
        raise ValueError("the seal image cannot be encoded")

    monkeypatch.setattr(seal_module, "build_seal", refuse)


@pytest.mark.parametrize("fault,status", [(_collide_es_id, 503), (_break_encoder, 500)])
def test_failure_after_the_certificate_leaves_nothing_usable(
    client, token, services, monkeypatch, fault, status
):
    admin = auth(token("seal-admin"))
    first = make_seal(client, admin)
    fault(monkeypatch, first["es_id"])
    body = {
        "name": FAILED,
        "owner_credit_code": USCC,
        "type": "organization",
        "algorithm": "sm2",
        "image_png_b64": base64.b64encode(make_png()).decode(),
    }
    r = approved(client, client.post("/api/v1/seals", headers=admin, json=body))
    assert r.status_code == status, r.text

    with services.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Seal).where(Seal.name == FAILED)) == 0
        assert s.scalar(select(func.count()).select_from(Seal).where(Seal.status == "active")) == 1
        key = s.scalars(select(KeyRecord).where(KeyRecord.label == f"seal {FAILED}")).one()
        cert = s.scalars(
            select(IssuedCertificate).where(
                IssuedCertificate.profile == "seal-signer", IssuedCertificate.subject.contains(FAILED)
            )
        ).one()
        actions = {
            (a.action, a.subject)
            for a in s.scalars(
                select(AuditEvent).where(AuditEvent.action.in_(("key.disable", "certificate.revoke")))
            )
        }
    assert key.status == "disabled"
    with pytest.raises(DomainError, match="disabled"):
        services.keys.signer(key.key_ref)
    assert (cert.status, cert.revocation_reason) == ("revoked", "cessationOfOperation")
    assert ("key.disable", key.key_ref) in actions
    assert ("certificate.revoke", f"sm2-issuing/{cert.serial_hex}") in actions

    entries = {
        e["user_certificate"].native: e
        for der in services.ca.current_crls("sm2-issuing")
        for e in asn1_crl.CertificateList.load(der)["tbs_cert_list"]["revoked_certificates"]
    }
    assert entries[int(cert.serial_hex, 16)].crl_reason_value.native == "cessation_of_operation"
    response = _ocsp(client, services.ca.context("sm2-issuing").certificate, int(cert.serial_hex, 16))
    single = response["response_bytes"]["response"].parsed["tbs_response_data"]["responses"][0]
    assert single["cert_status"].name == "revoked"
