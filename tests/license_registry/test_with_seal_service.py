"""Issuance with the real seal service: the stored stamp verifies over signed_content(document)."""

from __future__ import annotations

import base64
from datetime import date, timedelta

import pytest

from core.clock import SystemClock
from core.errors import DomainError, ErrorKind
from db.base import Base
from license_registry.document import signed_content
from license_registry.service import RegistryService
from tests.license_registry.support import (
    COMPANY_SCHEMA,
    ISSUER,
    TYPE_CODE,
    FakePrincipal,
    counts,
    make_license_seal,
)
from verify.certificates import make_cert_checker
from verify.ses import verify_stamp


@pytest.fixture
def real(services):
    import license_registry.models  # noqa: F401

    Base.metadata.create_all(services.db.engine)  # the lic_ tables are not in the migrations yet
    seal = make_license_seal(services)
    principal = FakePrincipal("registry", "registry-operator", frozenset({seal.seal_id}))
    registry = RegistryService(services.db, services.seals, SystemClock(), services.settings.region)
    registry.create_type(TYPE_CODE, "建筑业企业资质证书", ISSUER, "organization", COMPANY_SCHEMA, principal)
    return registry, seal, principal


def _issue(registry, seal_id, principal, **kwargs):
    today = date.today()
    return registry.issue(
        TYPE_CODE,
        {"name": "某建设有限公司", "id_number": "91440300708461136T"},
        {"certificate_number": "D1", "qualification": "一级"},
        today,
        today + timedelta(days=30),
        seal_id,
        principal,
        **kwargs,
    )


def test_real_stamp_verifies_over_the_signed_content(real, services):
    registry, seal, principal = real
    doc = _issue(registry, seal.seal_id, principal, idempotency_key="real-1")
    der = base64.b64decode(doc["stamp"]["ses_signature_der_b64"])
    checker = make_cert_checker(
        [services.ca.context("sm2-root").certificate.dump()],
        extra_certs=[services.ca.context("sm2-issuing").certificate.dump()],
    )
    report = verify_stamp(der, data=signed_content(doc), cert_checker=checker)
    assert report.indication == "TOTAL_PASSED", report.to_text()
    revoked = registry.revoke(doc["identifier"], "注销", principal)
    assert verify_stamp(der, data=signed_content(revoked), cert_checker=checker).indication == "TOTAL_PASSED"
    tampered = {**doc, "data": {**doc["data"], "qualification": "二级"}}
    report = verify_stamp(der, data=signed_content(tampered), cert_checker=checker)
    assert report.sub_indication == "HASH_FAILURE"


def test_seal_not_granted_stores_nothing(real, services):
    registry, seal, _ = real
    before = counts(services.db)
    with pytest.raises(DomainError) as err:
        _issue(registry, seal.seal_id, FakePrincipal("other", "registry-operator"))
    assert err.value.kind is ErrorKind.FORBIDDEN
    assert counts(services.db) == before
