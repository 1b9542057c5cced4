"""The issuance core: prepare lints and returns a one-time token; issue signs exactly the linted TBS."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from asn1crypto import x509

from ca.builder import random_serial
from ca.issuance_core import BACKDATE, IssuanceCore, IssuanceRequest, IssuanceToken, IssuingCa, TokenError
from core.errors import DomainError
from tests.ca.test_builder import CODE, PROFILES, URL, name, new_signer

NOW = datetime.now(UTC).replace(microsecond=0)


def _hierarchy(family: str) -> tuple[IssuanceCore, IssuingCa]:
    core = IssuanceCore(URL)
    root_signer, issuing_signer = new_signer(family, "root"), new_signer(family, "issuing")
    root_request = IssuanceRequest(
        PROFILES["root-ca"],
        name("LongTrust", "Root"),
        root_signer.public_key_info(),
        NOW,
        NOW + timedelta(3650),
    )
    root = IssuingCa(
        "root", x509.Certificate.load(core.self_signed("root", root_signer, root_request)), root_signer
    )
    profile = dataclasses.replace(PROFILES["issuing-ca"], path_length=0)
    request = IssuanceRequest(
        profile, name("LongTrust", "Issuing"), issuing_signer.public_key_info(), NOW, NOW + timedelta(1825)
    )
    issuing = x509.Certificate.load(core.issue(core.prepare(root, request)))
    return core, IssuingCa("issuing", issuing, issuing_signer, crl_shards=4)


@pytest.fixture(scope="module", params=["sm2", "rsa"])
def hierarchy(request):
    return _hierarchy(request.param)


def _leaf_request(**changes) -> IssuanceRequest:
    request = IssuanceRequest(
        PROFILES["organization-signing"],
        name("某市人民政府"),
        new_signer("sm2", "leaf").public_key_info(),
        NOW,
        NOW + timedelta(days=365),
        CODE,
    )
    return dataclasses.replace(request, **changes)


def test_issue_signs_exactly_the_prepared_tbs_once(hierarchy):
    core, ca = hierarchy
    if ca.signer.algorithm != "sm2-sm3":
        pytest.skip("an RSA CA does not certify SM2 keys")
    token = core.prepare(ca, _leaf_request())
    certificate = x509.Certificate.load(core.issue(token))
    assert certificate["tbs_certificate"].dump() == token.tbs
    assert certificate.serial_number == token.serial
    assert certificate.issuer == ca.certificate.subject
    assert certificate.not_valid_before == NOW - BACKDATE == token.not_before
    assert token.shard in range(4)
    assert core.crl_url("issuing", token.shard) in certificate.crl_distribution_points[0].url
    with pytest.raises(TokenError):
        core.issue(token)


def test_not_after_is_capped_at_the_profile_maximum(hierarchy):
    core, ca = hierarchy
    key = new_signer(ca.signer.algorithm.split("-")[0], "leaf").public_key_info()
    token = core.prepare(ca, _leaf_request(public_key_info=key, not_after=NOW + timedelta(days=10_000)))
    profile = PROFILES["organization-signing"]
    assert token.not_after == token.not_before + timedelta(days=profile.max_validity_days)
    core.discard(token)
    with pytest.raises(TokenError):
        core.issue(token)


def test_tokens_from_elsewhere_are_refused(hierarchy):
    core, ca = hierarchy
    other = IssuanceCore(URL)
    key = new_signer(ca.signer.algorithm.split("-")[0], "leaf").public_key_info()
    token = core.prepare(ca, _leaf_request(public_key_info=key))
    with pytest.raises(TokenError):
        other.issue(token)
    forged = IssuanceToken(
        ca, random_serial(), 0, token.tbs, token.not_before, token.not_after, token.request
    )
    with pytest.raises(TokenError):
        core.issue(forged)
    assert core.issue(token)


def test_a_certificate_the_profile_refuses_gets_no_token(hierarchy):
    core, ca = hierarchy
    key = new_signer(ca.signer.algorithm.split("-")[0], "leaf").public_key_info()
    with pytest.raises(DomainError) as err:
        core.prepare(ca, _leaf_request(public_key_info=key, credit_code="91440300708461136X"))
    assert err.value.code == "credit-code"
    assert not core._pending
