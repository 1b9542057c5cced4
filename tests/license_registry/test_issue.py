"""Catalog and issuance: validation, the stamped document, idempotency, and all-or-nothing storage."""

from __future__ import annotations

import base64
import json
from datetime import date

import pytest
from sqlalchemy import insert

import license_registry.service as service_module
from core.errors import DomainError, ErrorKind
from license_registry.document import signed_content, signed_part
from license_registry.holder import holder_hash
from license_registry.identifier import identifier_problem, parse
from license_registry.models import OutboxEvent
from tests.license_registry.support import (
    CITIZEN,
    COMPANY,
    COMPANY_SCHEMA,
    ISSUER,
    PERSON_TYPE_CODE,
    REGION,
    SEAL,
    START,
    TYPE_CODE,
    company_license,
    counts,
    outbox,
)


def _error(call, *args, **kwargs) -> DomainError:
    with pytest.raises(DomainError) as err:
        call(*args, **kwargs)
    return err.value


# ---- catalog -----------------------------------------------------------------------------------


def test_type_is_stored_with_a_catalog_event(types, registry_db):
    t = types.get_type(TYPE_CODE)
    assert (t["defining_body_code"], t["issuer_code"]) == (TYPE_CODE[:18], ISSUER)
    assert t["holder_kind"] == "organization"
    assert t["schema"] == COMPANY_SCHEMA
    first = outbox(registry_db)[0]
    assert first.kind == "catalog" and first.idempotency_key == f"{REGION}:catalog:{TYPE_CODE}"
    assert json.loads(first.payload_json) == {
        "type_code": TYPE_CODE,
        "name": "建筑业企业资质证书",
        "defining_body_code": TYPE_CODE[:18],
        "holder_kind": "organization",
    }


@pytest.mark.parametrize(
    "code, words",
    [
        ("11100000000013338W03", "21 characters"),
        ("11100000000013338WABC", "3 digits"),
        ("11100000000013338X032", "defining body code"),
    ],
)
def test_type_code_embeds_a_valid_credit_code(registry, principal, code, words):
    err = _error(registry.create_type, code, "x", ISSUER, "person", {"type": "object"}, principal)
    assert words in err.detail and err.kind is ErrorKind.INVALID_INPUT


def test_bad_json_schema_is_refused_with_its_place(registry, principal, registry_db):
    before = counts(registry_db)
    bad = {"type": "object", "properties": {"n": {"type": "integer", "minimum": "zero"}}}
    err = _error(registry.create_type, TYPE_CODE, "x", ISSUER, "person", bad, principal)
    assert "properties/n/minimum" in err.detail and err.code == "bad-schema"
    assert (
        "type: object"
        in _error(registry.create_type, TYPE_CODE, "x", ISSUER, "person", {"type": "array"}, principal).detail
    )
    assert counts(registry_db) == before


def test_duplicate_type_is_a_conflict(types, principal):
    err = _error(types.create_type, TYPE_CODE, "again", ISSUER, "organization", COMPANY_SCHEMA, principal)
    assert err.kind is ErrorKind.CONFLICT


def test_issuer_code_is_checked(registry, principal):
    err = _error(
        registry.create_type, TYPE_CODE, "x", "11220000013544541K", "person", {"type": "object"}, principal
    )
    assert "issuer_code" in err.detail


# ---- issuance ----------------------------------------------------------------------------------


def test_issued_document_is_exactly_as_specified_and_stamped(types, principal, stamper, registry_db):
    doc = company_license(types, principal)
    assert list(doc) == [
        "identifier",
        "type_code",
        "version",
        "region",
        "holder",
        "issuer",
        "data",
        "valid_from",
        "valid_to",
        "status",
        "stamp",
    ]
    assert identifier_problem(doc["identifier"]) is None
    ident = parse(doc["identifier"])
    assert (ident.type_code, ident.issuer_code, ident.version) == (TYPE_CODE, ISSUER, 1)
    assert doc["version"] == "001" and doc["region"] == REGION and doc["issuer"] == ISSUER
    assert doc["holder"] == {"name": "深圳某建设有限公司", "id_type": "001", "id_number": COMPANY}
    assert (doc["valid_from"], doc["valid_to"], doc["status"]) == ("2025-03-01", "2027-02-28", "valid")
    seal_id, stamped_json, property_id = stamper.calls[-1]
    assert seal_id == SEAL and property_id == doc["identifier"]
    assert stamped_json == signed_part(doc)  # the stamp covers everything but status and stamp
    assert base64.b64decode(doc["stamp"]["ses_signature_der_b64"]).startswith(b"SES")
    assert types.get(doc["identifier"]) == doc
    event = outbox(registry_db)[-1]
    assert event.kind == "license" and json.loads(event.payload_json) == {
        "identifier": doc["identifier"],
        "type_code": TYPE_CODE,
        "issuer_code": ISSUER,
        "holder_hash": holder_hash(COMPANY),
        "region": REGION,
        "status": "valid",
        "version": "001",
    }


def test_signed_content_ignores_status_and_stamp(types, principal):
    doc = company_license(types, principal)
    other = {**doc, "status": "revoked", "stamp": {"ses_signature_der_b64": "AAAA"}}
    assert signed_content(doc) == signed_content(other)
    assert signed_content(doc) != signed_content({**doc, "valid_to": "2099-01-01"})


def test_person_license_and_default_validity(types, principal):
    doc = types.issue(
        PERSON_TYPE_CODE,
        {"name": "王五", "id_number": "11010519491231002x"},
        {"certificate_number": "A1"},
        date(2025, 3, 1),
        None,
        SEAL,
        principal,
    )
    assert doc["holder"]["id_type"] == "111" and doc["holder"]["id_number"] == CITIZEN
    assert doc["valid_to"] is None  # long-term type
    five_years = company_license(types, principal, valid_to=None)
    assert five_years["valid_to"] == "2030-02-27"  # 1825 days, the type's maximum, 2028 being leap


@pytest.mark.parametrize(
    "data, where",
    [
        ({"qualification": "一级"}, "'certificate_number' is a required property"),
        ({"certificate_number": "D1", "qualification": "四级"}, "data.qualification"),
        ({"certificate_number": "D1", "qualification": "一级", "staff": -1}, "data.staff"),
        ({"certificate_number": "D1", "qualification": "一级", "address": {"city": 5}}, "data.address.city"),
        ({"certificate_number": "D1", "qualification": "一级", "colour": "red"}, "'colour' was unexpected"),
    ],
)
def test_schema_violations_name_the_field(types, principal, registry_db, data, where):
    before = counts(registry_db)
    err = _error(company_license, types, principal, data=data)
    assert err.kind is ErrorKind.INVALID_INPUT and err.code == "data-invalid" and where in err.detail
    assert counts(registry_db) == before


@pytest.mark.parametrize(
    "holder, words",
    [
        ({"name": "某公司", "id_number": "91440300708461136X"}, "holder.id_number"),
        ({"name": "某公司", "id_type": "111", "id_number": COMPANY}, "holder.id_type"),
        ({"name": "某公司", "id_number": CITIZEN}, "holder.id_number"),
    ],
)
def test_holder_must_fit_the_type(types, principal, registry_db, holder, words):
    before = counts(registry_db)
    assert words in _error(company_license, types, principal, holder=holder).detail
    assert counts(registry_db) == before


@pytest.mark.parametrize(
    "changes, words",
    [
        ({"valid_to": date(2025, 2, 1)}, "before valid_from"),
        ({"valid_from": date(2020, 1, 1), "valid_to": date(2021, 1, 1)}, "already passed"),
        ({"valid_to": date(2031, 1, 1)}, "at most 1825 days"),
        ({"type_code": "11100000000013338W099"}, "no license type"),
    ],
)
def test_dates_and_type_are_checked(types, principal, changes, words):
    assert words in _error(company_license, types, principal, **changes).detail


def test_numbers_outside_i_json_are_refused(types, principal):
    schema_free = {"certificate_number": "D1", "qualification": "一级", "staff": 2**60}
    assert "canonicalised" in _error(company_license, types, principal, data=schema_free).detail


# ---- idempotency -------------------------------------------------------------------------------


def test_same_idempotency_key_returns_the_same_license(types, principal, stamper, registry_db):
    first = company_license(types, principal, key="req-1")
    after_first = counts(registry_db)
    again = company_license(types, principal, key="req-1")
    assert again == first
    assert counts(registry_db) == after_first and len(stamper.calls) == 1


def test_reused_key_with_another_body_is_a_conflict(types, principal, registry_db):
    company_license(types, principal, key="req-1")
    before = counts(registry_db)
    err = _error(company_license, types, principal, key="req-1", number="OTHER")
    assert err.kind is ErrorKind.CONFLICT and err.code == "idempotency-key-reused"
    assert counts(registry_db) == before


def test_without_key_each_call_issues_a_new_license(types, principal):
    assert company_license(types, principal)["identifier"] != company_license(types, principal)["identifier"]


def test_concurrent_duplicate_key_returns_the_winner(types, principal, monkeypatch):
    """Both requests passed the first look-up; the unique index decides and the loser replays."""
    winner = company_license(types, principal, key="req-race")
    calls = iter([None, winner])  # first look-up misses, the one after the IntegrityError finds the winner
    real = service_module.RegistryService._replay
    monkeypatch.setattr(
        service_module.RegistryService,
        "_replay",
        lambda self, key, h: next(calls) if key == "req-race" else real(self, key, h),
    )
    assert company_license(types, principal, key="req-race") == winner


# ---- nothing half-stored -----------------------------------------------------------------------


def test_stamper_failure_stores_nothing(types, principal, stamper, registry_db):
    before = counts(registry_db)
    stamper.error = DomainError(ErrorKind.CONFLICT, "seal seal-1 is suspended", code="seal-suspended")
    err = _error(company_license, types, principal, key="req-2")
    assert err.code == "seal-suspended"
    assert counts(registry_db) == before
    stamper.error = None
    assert company_license(types, principal, key="req-2")["status"] == "valid"  # the key is still free


def test_stamp_over_other_content_is_refused(types, principal, stamper, registry_db, monkeypatch):
    before = counts(registry_db)
    real = stamper.stamp_data
    monkeypatch.setattr(
        stamper,
        "stamp_data",
        lambda seal, doc, p, property_id="": real(seal, {**doc, "data": {}}, p, property_id),
    )
    with pytest.raises(RuntimeError):
        company_license(types, principal)
    assert counts(registry_db) == before


def test_failing_outbox_write_rolls_back_the_license(types, principal, registry_db, monkeypatch):
    before = counts(registry_db)

    def broken(session, row):
        raise RuntimeError("outbox unavailable")

    monkeypatch.setattr(service_module, "license_event", broken)
    with pytest.raises(RuntimeError):
        company_license(types, principal)
    assert counts(registry_db) == before


def test_failing_audit_write_rolls_back_license_and_outbox(types, principal, registry_db, monkeypatch):
    before = counts(registry_db)

    def broken(*args, **kwargs):
        raise RuntimeError("audit unavailable")

    monkeypatch.setattr(service_module, "record", broken)
    with pytest.raises(RuntimeError):
        company_license(types, principal)
    assert counts(registry_db) == before


def test_each_issue_adds_exactly_one_license_outbox_and_audit_row(types, principal, registry_db):
    before = counts(registry_db)
    company_license(types, principal)
    after = counts(registry_db)
    assert {k: after[k] - before[k] for k in after} == {
        "licenses": 1,
        "outbox": 1,
        "audit": 1,
        "shares": 0,
        "access": 0,
        "types": 0,
    }


def test_colliding_outbox_key_aborts_the_whole_revocation(types, principal, registry_db):
    """A real constraint failure inside the transaction: the status event cannot be stored."""
    doc = company_license(types, principal)
    with registry_db.unit_of_work() as s:
        s.execute(
            insert(OutboxEvent).values(
                idempotency_key=f"{REGION}:status:{doc['identifier']}:revoked",
                kind="status",
                payload_json="{}",
                created_at=START,
                attempts=0,
                next_attempt_at=START,
            )
        )
    before = counts(registry_db)
    with pytest.raises(Exception):  # noqa: B017 - the database's unique-constraint error
        types.revoke(doc["identifier"], "吊销", principal)
    assert counts(registry_db) == before
    assert types.get(doc["identifier"])["status"] == "valid"
