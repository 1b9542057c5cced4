"""License holders: a person (citizen ID number) or an organisation (unified social credit code).

Holder identity type codes follow GB/T 36903 as the national platform uses them:
111 = 公民身份号码 (citizen ID number), 001 = 统一社会信用代码 (unified social credit code).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from core.errors import ErrorCode, invalid
from core.identity import citizen_id_problem, credit_code_problem

PERSON, ORGANIZATION = "person", "organization"
HOLDER_KINDS = (PERSON, ORGANIZATION)
ID_TYPES = {PERSON: "111", ORGANIZATION: "001"}
ID_TYPE_NAMES = {"111": "citizen ID number", "001": "unified social credit code"}
# Codes issued in early pilot regions that do not satisfy the GB 32100 check character.
DEFAULT_LEGACY_CREDIT_CODES = frozenset({"91350100M0001TGQXM"})
MAX_NAME = 200


@dataclass(frozen=True)
class Holder:
    name: str
    id_type: str
    id_number: str

    def as_dict(self) -> dict:
        return {"name": self.name, "id_type": self.id_type, "id_number": self.id_number}


def validate_holder(
    kind: str,
    name: str,
    id_type: str | None,
    id_number: str,
    legacy_credit_codes: frozenset[str] = DEFAULT_LEGACY_CREDIT_CODES,
) -> Holder:
    """The normalised holder, or DomainError saying what is wrong (kind is the license type's holder kind)."""
    if kind not in ID_TYPES:
        raise invalid(f"holder kind must be one of {', '.join(HOLDER_KINDS)}", ErrorCode.HOLDER_KIND)
    if not all(isinstance(v, str | None) for v in (name, id_type, id_number)):
        raise invalid("holder.name, holder.id_type and holder.id_number are strings", ErrorCode.HOLDER)
    name = (name or "").strip()
    if not name or len(name) > MAX_NAME:
        raise invalid(f"holder.name must be 1 to {MAX_NAME} characters", ErrorCode.HOLDER_NAME)
    expected_type = ID_TYPES[kind]
    if id_type not in (None, "", expected_type):
        raise invalid(
            f"this license type is held by a {kind}: holder.id_type must be {expected_type} "
            f"({ID_TYPE_NAMES[expected_type]}), not {id_type}",
            ErrorCode.HOLDER_ID_TYPE,
        )
    number = (id_number or "").strip().upper()
    if kind == PERSON:
        problem = citizen_id_problem(number)
    else:
        problem = credit_code_problem(number, legacy_credit_codes)
    if problem:
        raise invalid(f"holder.id_number: {problem}", ErrorCode.HOLDER_ID_NUMBER)
    return Holder(name, expected_type, number)


def holder_hash(id_number: str) -> str:
    """What the national hub receives instead of the holder's number: hex SHA-256 of the normalised number."""
    return hashlib.sha256(id_number.strip().upper().encode()).hexdigest()
