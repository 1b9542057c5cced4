"""Holder identifiers: unified social credit code (GB 32100) and citizen ID number (GB 11643)."""

from __future__ import annotations

import re
from datetime import date

_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = [pow(3, i, 31) for i in range(17)]
_USCC_RE = re.compile(rf"^[{_USCC_CHARS}]{{18}}$")
_ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
_ID_RE = re.compile(r"^\d{17}[\dX]$")


def credit_code_check_char(first17: str) -> str:
    total = sum(_USCC_CHARS.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return _USCC_CHARS[(31 - total % 31) % 31]


def credit_code_problem(code: str, legacy_allowed: frozenset[str] = frozenset()) -> str | None:
    """None if ``code`` is a valid unified social credit code, else what is wrong with it."""
    if code in legacy_allowed:
        return None
    if not _USCC_RE.match(code):
        return "a unified social credit code is 18 characters from 0-9 and A-Y without I, O, S, V, Z"
    if credit_code_check_char(code[:17]) != code[17]:
        return f"check character of unified social credit code {code} is wrong"
    return None


def citizen_id_problem(number: str) -> str | None:
    """None if ``number`` is a valid 18-digit citizen ID number, else what is wrong with it."""
    number = number.upper()
    if not _ID_RE.match(number):
        return "a citizen ID number is 17 digits and a check character (digit or X)"
    try:
        date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return "the birth date in the citizen ID number is not a date"
    total = sum(int(c) * w for c, w in zip(number[:17], _ID_WEIGHTS, strict=True))
    if "10X98765432"[total % 11] != number[17]:
        return "check character of the citizen ID number is wrong"
    return None
