"""GB/T 36904 identifiers: the real identifiers of standards.md §6.4 and others found in platform code."""

from __future__ import annotations

import pytest

from core.errors import DomainError
from license_registry.identifier import (
    ROOT,
    LicenseIdentifier,
    build,
    check_character,
    identifier_problem,
    parse,
    random_serial,
)

# standards.md §6.4: Zhejiang, Hunan and Jilin production identifiers.
STANDARD_EXAMPLES = [
    "1.2.156.3005.2.11100000000013338W009.11330105002500287C.2025052201.002.0",
    "1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.001.U",
    "1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.F",
]
# Found in public platform code: Hunan (version 002 of the example above), Hefei test identifier
# (6-digit region code as issuer), Jining (Shandong) production-style identifier.
OTHER_REAL_EXAMPLES = [
    "1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.002.S",
    "1.2.156.3005.2.11100000MB03271699022.340100.000000016.001.9",
    "1.2.156.3005.2.11100000000013338W087.11370800MB28559184.37080001202411010001.001.3",
]
# The Shandong API-documentation example whose check character does not satisfy MOD 37,36 (D expected).
SHANDONG_API_DOC = (
    "1.2.156.3005.2.11100000000013661B006.113700000045046442.209FA4E88F9E4C878F3E9BED2CE7EA49.001.M"
)


@pytest.mark.parametrize("text", STANDARD_EXAMPLES + OTHER_REAL_EXAMPLES)
def test_real_identifiers_verify_and_round_trip(text):
    assert identifier_problem(text) is None
    parsed = parse(text)
    assert str(parsed) == text
    assert parsed.check == text[-1]


def test_parts_of_the_jilin_example():
    parsed = parse(STANDARD_EXAMPLES[2])
    assert parsed == LicenseIdentifier("11100000000013338W032", "11220000013544541J", "2430599", 1)
    assert parsed.version_text == "001"


def test_shandong_api_doc_example_fails_the_check():
    problem = identifier_problem(SHANDONG_API_DOC)
    assert problem is not None and "expected D" in problem
    with pytest.raises(DomainError) as err:
        parse(SHANDONG_API_DOC)
    assert err.value.code == "bad-identifier"


def test_check_character_alphabet_and_algorithm():
    assert check_character("11100000000013338W00911330105002500287C2025052201002") == "0"
    assert check_character("11100000000013338W01111430000006122244L20230000403001") == "U"
    assert check_character("11100000000013338W03211220000013544541J2430599001") == "F"


@pytest.mark.parametrize("position", range(len(STANDARD_EXAMPLES[0]) - 2))
def test_any_single_character_change_is_detected(position):
    text = STANDARD_EXAMPLES[0]
    if text[position] == "." or position < len(ROOT) + 1:
        return
    replacement = "7" if text[position] != "7" else "8"
    assert identifier_problem(text[:position] + replacement + text[position + 1 :]) is not None


def test_adjacent_transposition_is_detected():
    text = STANDARD_EXAMPLES[2].replace("2430599", "2435099")
    assert identifier_problem(text) is not None


@pytest.mark.parametrize(
    "text, words",
    [
        ("1.2.156.3005.3.11100000000013338W032.11220000013544541J.2430599.001.F", "root"),
        ("1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001", "five parts"),
        ("1.2.156.3005.2.11100000000013338w032.11220000013544541J.2430599.001.F", "type code"),
        ("1.2.156.3005.2.11100000000013338W32.11220000013544541J.2430599.001.F", "type code"),
        ("1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.01.F", "version"),
        ("1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.000.F", "version"),
        ("1.2.156.3005.2.11100000000013338W032.11220000013544541J.24305-99.001.F", "serial"),
        ("1.2.156.3005.2.11100000000013338W032..2430599.001.F", "issuer"),
    ],
)
def test_malformed_identifiers_say_what_is_wrong(text, words):
    assert words in identifier_problem(text)


def test_build_and_next_version():
    first = build("11100000000013338W032", "11220000013544541J", "2430599")
    assert str(first) == STANDARD_EXAMPLES[2]
    second = first.next_version()
    assert second.version == 2 and identifier_problem(str(second)) is None
    assert str(second).split(".")[-2] == "002"
    with pytest.raises(DomainError):
        build("11100000000013338W032", "11220000013544541J", "2430599", 999).next_version()
    with pytest.raises(DomainError):
        build("bad", "11220000013544541J", "1")


def test_random_serials_are_upper_case_alphanumeric_and_distinct():
    serials = {random_serial() for _ in range(200)}
    assert len(serials) == 200
    assert all(len(s) == 20 and s.isalnum() and s == s.upper() for s in serials)
    made = build("11100000000013338W032", "11220000013544541J", serials.pop())
    assert identifier_problem(str(made)) is None
