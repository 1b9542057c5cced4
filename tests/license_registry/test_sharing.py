"""Sharing with a use cause, the access log, information verification and holder queries."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import select

from core.errors import DomainError, ErrorKind
from license_registry.models import LicenseAccess, LicenseShare
from tests.license_registry.support import COMPANY, FakePrincipal, company_license, counts

READER = FakePrincipal("bank-gateway", "verifier")
CAUSE = "办理企业开户业务"


def _error(call, *args, **kwargs) -> DomainError:
    with pytest.raises(DomainError) as err:
        call(*args, **kwargs)
    return err.value


def _log(db) -> list[LicenseAccess]:
    with db.read() as s:
        return list(s.scalars(select(LicenseAccess).order_by(LicenseAccess.id)))


@pytest.fixture
def shared(types, principal):
    doc = company_license(types, principal)
    token, url = types.create_share(doc["identifier"], "某银行", 3600, CAUSE, principal)
    return doc, token, url


def test_share_keeps_only_the_token_hash_and_reads_back(types, shared, registry_db):
    doc, token, url = shared
    assert url == f"https://lt.example.gov.cn/api/v1/shared/{token}"
    with registry_db.read() as s:
        row = s.scalars(select(LicenseShare)).one()
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest() and token not in row.token_hash
    assert (row.audience, row.use_cause) == ("某银行", CAUSE)
    assert types.read_shared(token, "某银行", "开户核验", READER) == doc
    entry = _log(registry_db)[-1]
    assert (entry.identifier, entry.who, entry.audience, entry.use_cause, entry.action) == (
        doc["identifier"],
        READER.actor,
        "某银行",
        CAUSE,
        "shared-read",
    )


def test_expired_share_is_gone(types, shared, clock, registry_db):
    _, token, _ = shared
    clock.advance(timedelta(seconds=3600))
    before = counts(registry_db)
    err = _error(types.read_shared, token, "某银行", CAUSE, READER)
    assert err.kind is ErrorKind.GONE and err.code == "share-expired"
    assert counts(registry_db) == before


def test_other_audience_is_forbidden_and_unknown_token_not_found(types, shared, registry_db):
    _, token, _ = shared
    before = counts(registry_db)
    assert _error(types.read_shared, token, "另一家银行", CAUSE, READER).kind is ErrorKind.FORBIDDEN
    assert _error(types.read_shared, "ls_nope", "某银行", CAUSE, READER).kind is ErrorKind.NOT_FOUND
    assert counts(registry_db) == before


@pytest.mark.parametrize("cause", ["", "   ", "因" * 201])
def test_use_cause_is_required_and_at_most_200_characters(types, shared, principal, cause):
    doc, token, _ = shared
    assert (
        _error(types.create_share, doc["identifier"], "某银行", 60, cause, principal).kind
        is ErrorKind.INVALID_INPUT
    )
    assert _error(types.read_shared, token, "某银行", cause, READER).kind is ErrorKind.INVALID_INPUT


def test_use_cause_of_exactly_200_characters_is_accepted(types, shared, principal):
    doc, _, _ = shared
    assert types.create_share(doc["identifier"], "某银行", 60, "因" * 200, principal)[0]


def test_share_expiry_and_license_state_are_checked(types, shared, principal):
    doc, _, _ = shared
    assert "expires_in_s" in _error(types.create_share, doc["identifier"], "x", 0, CAUSE, principal).detail
    too_long = _error(types.create_share, doc["identifier"], "x", 31 * 86400, CAUSE, principal)
    assert too_long.code == "share-expiry"
    types.revoke(doc["identifier"], "注销", principal)
    assert _error(types.create_share, doc["identifier"], "x", 60, CAUSE, principal).kind is ErrorKind.CONFLICT


def test_share_shows_the_current_status(types, shared, principal):
    doc, token, _ = shared
    types.revoke(doc["identifier"], "注销", principal)
    assert types.read_shared(token, "某银行", CAUSE)["status"] == "revoked"


def test_verify_information_reveals_only_match_or_no_match(types, principal, registry_db):
    doc = company_license(types, principal)
    claimed = {
        "holder": {"name": "深圳某建设有限公司", "id_number": COMPANY.lower()},
        "data": {"qualification": "二级", "certificate_number": "D123"},
        "valid_to": "2027-02-28",
        "data.secret_field": "x",
        "status": "valid",
        "stamp": "x",
    }
    results = types.verify_information(doc["identifier"], claimed, READER, CAUSE)
    assert results == {
        "holder.name": "match",
        "holder.id_number": "match",
        "data.qualification": "no match",
        "data.certificate_number": "match",
        "valid_to": "match",
        "data.secret_field": "no match",
        "status": "match",
        "stamp": "no match",
    }
    assert _log(registry_db)[-1].action == "verify-information"
    assert _error(types.verify_information, doc["identifier"], {}).kind is ErrorKind.INVALID_INPUT
    many = {f"data.f{i}": i for i in range(51)}
    assert _error(types.verify_information, doc["identifier"], many).code == "too-many-fields"


def test_query_by_holder_and_type(types, principal, registry_db):
    first = company_license(types, principal)
    second = company_license(types, principal, number="D456")
    types.revoke(first["identifier"], "注销", principal)
    found = types.query(COMPANY.lower(), None, READER, CAUSE)
    assert [d["identifier"] for d in found] == [second["identifier"]]
    everything = types.query(COMPANY, "11100000000013338W032", include_inactive=True)
    assert {d["identifier"] for d in everything} == {first["identifier"], second["identifier"]}
    assert types.query(COMPANY, "11100000000013338W011") == []
    assert [(e.action, e.who, e.use_cause) for e in _log(registry_db)] == [("query", READER.actor, CAUSE)]


def test_get_with_a_principal_is_logged(types, principal, registry_db):
    doc = company_license(types, principal)
    assert types.get(doc["identifier"], READER, CAUSE) == doc
    assert types.get(doc["identifier"]) == doc
    assert [(e.action, e.use_cause) for e in _log(registry_db)] == [("read", CAUSE)]
