"""Holder identifiers: GB 32100 unified social credit codes and GB 11643 citizen ID numbers."""

from __future__ import annotations

import pytest

from core.identity import citizen_id_problem, credit_code_check_char, credit_code_problem

# Credit codes of real issuers named in the GB/T 36904 license identifiers of standards.md §6.4.
REAL_CREDIT_CODES = [
    "11100000000013338W",
    "11330105002500287C",
    "11430000006122244L",
    "11220000013544541J",
    "11370800MB28559184",
    "113700000045046442",
]


@pytest.mark.parametrize("code", REAL_CREDIT_CODES)
def test_real_credit_codes_are_valid(code):
    assert credit_code_problem(code) is None
    assert credit_code_check_char(code[:17]) == code[17]


@pytest.mark.parametrize("code", REAL_CREDIT_CODES)
def test_any_other_check_character_is_refused(code):
    for other in "0123456789ABCDEFGHJKLMNPQRTUWXY":
        if other != code[17]:
            assert "check character" in credit_code_problem(code[:17] + other)


@pytest.mark.parametrize(
    "code",
    ["", "11100000000013338", "11100000000013338W0", "11100000000013338w", "1110000000001333IW", "Z" * 18],
)
def test_malformed_credit_codes_say_what_a_code_looks_like(code):
    assert "18 characters" in credit_code_problem(code)


def test_legacy_codes_are_accepted_only_when_listed():
    legacy = "LEGACY-REG-0001"
    assert credit_code_problem(legacy) is not None
    assert credit_code_problem(legacy, frozenset({legacy})) is None


def test_the_standard_citizen_id_example_is_valid_in_either_case():
    # GB 11643-1999 gives 11010519491231002X as its example.
    assert citizen_id_problem("11010519491231002X") is None
    assert citizen_id_problem("11010519491231002x") is None


def test_citizen_id_problems_are_named():
    assert "check character" in citizen_id_problem("110105194912310021")
    assert "birth date" in citizen_id_problem("11010519491331002X")
    assert "17 digits" in citizen_id_problem("1101051949123100")
    assert "17 digits" in citizen_id_problem("1101051949123100XX")
