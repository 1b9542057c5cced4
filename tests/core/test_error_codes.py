"""Every problem code is an ErrorCode member documented once in docs/errors.md, and back."""

from __future__ import annotations

import re
from pathlib import Path

from core.errors import DomainError, ErrorCode, ErrorKind, conflict, invalid

DOC = Path(__file__).resolve().parents[2] / "docs" / "errors.md"


def _documented() -> list[str]:
    return re.findall(r"^\| `([^`]+)` \|", DOC.read_text(encoding="utf-8"), re.M)


def test_every_code_is_documented_once_and_every_documented_code_exists():
    documented = _documented()
    assert len(documented) == len(set(documented))
    assert set(documented) == {code.value for code in ErrorCode}


def test_codes_keep_their_wire_values():
    assert invalid("x", ErrorCode.BAD_CSR).code == "bad-csr"
    assert conflict("x").code == "conflict" and invalid("x").code == "invalid-input"
    assert DomainError(ErrorKind.NOT_FOUND, "x").code is ErrorCode.NOT_FOUND
    assert ErrorCode.BAD_ALG == "badAlg"  # RFC 3161 PKIFailureInfo names stay as they are
