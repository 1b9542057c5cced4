"""Holder validation by kind: citizen ID numbers for persons, credit codes for organisations."""

from __future__ import annotations

import hashlib

import pytest

from core.errors import DomainError
from license_registry.holder import holder_hash, validate_holder

CITIZEN = "11010519491231002X"
COMPANY = "91440300708461136T"


def _problem(*args, **kwargs) -> str:
    with pytest.raises(DomainError) as err:
        validate_holder(*args, **kwargs)
    return err.value.detail


def test_person_with_lower_case_x_is_normalised_and_typed():
    holder = validate_holder("person", " 张三 ", None, "11010519491231002x")
    assert (holder.name, holder.id_type, holder.id_number) == ("张三", "111", CITIZEN)


def test_organization_gets_type_001():
    assert validate_holder("organization", "某公司", "001", COMPANY).id_type == "001"


@pytest.mark.parametrize(
    "number, words",
    [
        ("110105194912310021", "check character"),
        ("11010519491331002X", "birth date"),
        ("1101051949123100", "17 digits"),
    ],
)
def test_bad_citizen_ids_are_explained(number, words):
    assert words in _problem("person", "张三", "111", number)


def test_bad_credit_code_is_explained():
    assert "check character" in _problem("organization", "某公司", "001", "91440300708461136X")
    assert "18 characters" in _problem("organization", "某公司", "001", "9144030070846113")


def test_legacy_credit_code_is_allowed_by_default_and_configurable():
    assert validate_holder("organization", "早期试点企业", "001", "91350100M0001TGQXM").id_number
    problem = _problem(
        "organization", "早期试点企业", "001", "91350100M0001TGQXM", legacy_credit_codes=frozenset()
    )
    assert "check character" in problem


def test_id_type_must_fit_the_holder_kind():
    assert "must be 111" in _problem("person", "张三", "001", CITIZEN)
    assert "must be 001" in _problem("organization", "某公司", "111", COMPANY)
    assert "citizen ID" in _problem("person", "张三", None, COMPANY)


def test_name_is_required_and_bounded():
    assert "holder.name" in _problem("person", "  ", None, CITIZEN)
    assert "holder.name" in _problem("person", "x" * 201, None, CITIZEN)


def test_holder_hash_is_sha256_of_the_normalised_number():
    assert holder_hash("11010519491231002x") == hashlib.sha256(CITIZEN.encode()).hexdigest()
