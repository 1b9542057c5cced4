"""CA start-up self-check and periodic maintenance (CRL refresh, responder renewal)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509
from sqlalchemy import select

from app.container import StartupError, build_services
from app.main import create_app
from ca.models import CertificateAuthority, IssuedCertificate
from ca.service import INTENT_TIMEOUT
from core.clock import FixedClock
from core.errors import DomainError, ErrorCode
from db.audit import AuditEvent
from tests.ca.csrs import make_csr, ocsp_request

USCC = "11100000000013338W"


def test_ca_whose_key_does_not_match_its_certificate_refuses_to_start(services, settings):
    with services.db.unit_of_work() as s:
        issuing, root = s.get(CertificateAuthority, "sm2-issuing"), s.get(CertificateAuthority, "sm2-root")
        issuing.key_ref = root.key_ref
    with pytest.raises(StartupError, match="sm2-issuing: its key does not match its certificate"):
        create_app(settings, build_services(settings))


def test_ca_certificate_without_cert_sign_refuses_to_start(services, settings):
    with services.db.unit_of_work() as s:
        leaf = services.ca.context("rsa-issuing").tsa_cert.dump()
        s.get(CertificateAuthority, "rsa-issuing").certificate_der = leaf
    with pytest.raises(StartupError, match="rsa-issuing"):
        create_app(settings, build_services(settings))


def test_maintenance_refreshes_crls_and_renews_responders_before_expiry(services):
    ca = services.ca
    first = asn1_crl.CertificateList.load(ca.current_crl("sm2-issuing")).crl_number_value.native
    old_responder = ca.context("sm2-issuing").responder
    ca.maintain()
    assert ca.context("sm2-issuing").responder is old_responder  # nothing due yet
    assert asn1_crl.CertificateList.load(ca.current_crl("sm2-issuing")).crl_number_value.native == first

    clock = FixedClock(ca.clock.now() + timedelta(days=25))
    ca.clock = clock
    ca.maintain()
    crl = asn1_crl.CertificateList.load(ca.current_crl("sm2-issuing"))
    assert crl.crl_number_value.native > first
    assert crl["tbs_cert_list"]["this_update"].native >= clock.now() - timedelta(seconds=1)
    with services.db.read() as s:
        row = s.get(CertificateAuthority, "sm2-issuing")
    renewed = x509.Certificate.load(row.ocsp_certificate_der)
    assert renewed.not_valid_after > clock.now() + timedelta(days=20)
    assert ca.context("sm2-issuing").responder is not old_responder


def test_an_intent_whose_worker_died_is_revoked_after_the_bound(services, monkeypatch):
    """A worker killed between committing the intent and signing leaves a certificate that may exist:
    OCSP answers good until the bound, then it is revoked and listed on the CRL."""
    ca = services.ca

    def killed(*_args):
        raise KeyboardInterrupt  # the process dies mid-issuance

    monkeypatch.setattr("ca.issuance_core.sign_tbs", killed)
    with pytest.raises(KeyboardInterrupt):
        ca.issue("sm2-issuing", make_csr("sm2"), "organization-signing", "test", credit_code=USCC)
    monkeypatch.undo()
    with services.db.read() as s:
        serial = s.scalars(
            select(IssuedCertificate.serial_hex).where(IssuedCertificate.status == "intent")
        ).one()
    request = ocsp_request(int(serial, 16), ca.context("sm2-issuing").certificate)

    def answered() -> str:
        response = asn1_ocsp.OCSPResponse.load(ca.ocsp(request))["response_bytes"]["response"].parsed
        return response["tbs_response_data"]["responses"][0]["cert_status"].name

    assert answered() == "good"
    ca.maintain()
    assert answered() == "good"  # within the bound the signing may still be under way
    ca.clock = FixedClock(ca.clock.now() + INTENT_TIMEOUT + timedelta(seconds=1))
    ca.maintain()
    assert answered() == "revoked"
    crl = asn1_crl.CertificateList.load(ca.current_crl("sm2-issuing"))
    assert int(serial, 16) in {
        e["user_certificate"].native for e in crl["tbs_cert_list"]["revoked_certificates"]
    }


def test_a_serial_collision_writes_nothing_and_the_next_request_is_issued(services, monkeypatch):
    """The intent and its audit event are one write: when the serial is taken, neither is kept, the
    certificate holding that serial is untouched, and the next request is issued as usual."""
    ca = services.ca
    first = ca.issue("sm2-issuing", make_csr("sm2"), "organization-signing", "test", credit_code=USCC)

    def events() -> list[str]:
        with services.db.read() as s:
            return list(s.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))

    def rows() -> list[tuple[str, str]]:
        with services.db.read() as s:
            return list(s.execute(select(IssuedCertificate.serial_hex, IssuedCertificate.status)).tuples())

    before_events, before_rows = events(), rows()
    monkeypatch.setattr("ca.issuance_core.random_serial", lambda: int(first.serial_hex, 16))
    with pytest.raises(DomainError) as refused:
        ca.issue("sm2-issuing", make_csr("sm2"), "organization-signing", "test", credit_code=USCC)
    assert refused.value.code == ErrorCode.SERIAL_COLLISION
    assert events() == before_events
    assert rows() == before_rows
    assert ca.get("sm2-issuing", first.serial_hex).certificate_pem == first.certificate_pem
    monkeypatch.undo()

    second = ca.issue("sm2-issuing", make_csr("sm2"), "organization-signing", "test", credit_code=USCC)
    assert second.status == "good"
    assert events()[len(before_events) :] == ["certificate.sign-intent", "certificate.issue"]
