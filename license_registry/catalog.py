"""License types (目录, GB/T 36902): type codes, data schemas and validity rules. Pure functions."""

from __future__ import annotations

import json
from datetime import date, timedelta

from jsonschema import SchemaError
from jsonschema.validators import validator_for

from core.errors import ErrorCode, invalid
from core.identity import credit_code_problem

MAX_SCHEMA_BYTES = 64 * 1024
MAX_REPORTED_ERRORS = 5


def type_code_problem(type_code: str, legacy_credit_codes: frozenset[str] = frozenset()) -> str | None:
    """A type code is the defining body's 18-character credit code followed by a 3-digit sequence."""
    if len(type_code) != 21 or not type_code[18:].isdigit():
        return "a license type code is 21 characters: the defining body's credit code and 3 digits"
    problem = credit_code_problem(type_code[:18], legacy_credit_codes)
    if problem:
        return f"the defining body code in type code {type_code}: {problem}"
    return None


def check_schema(schema: dict) -> str:
    """The schema as stored text, after checking it against its JSON Schema meta-schema."""
    if not isinstance(schema, dict):
        raise invalid("schema must be a JSON Schema object", ErrorCode.BAD_SCHEMA)
    text = json.dumps(schema, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    if len(text.encode()) > MAX_SCHEMA_BYTES:
        raise invalid(f"schema is larger than {MAX_SCHEMA_BYTES // 1024} KiB", ErrorCode.BAD_SCHEMA)
    if schema.get("type", "object") != "object":
        raise invalid("schema must describe a JSON object (type: object)", ErrorCode.BAD_SCHEMA)
    try:
        validator_for(schema).check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.path) or "(top level)"
        raise invalid(
            f"schema is not a valid JSON Schema at {where}: {exc.message}", ErrorCode.BAD_SCHEMA
        ) from None
    return text


def data_problems(schema_text: str, data: object) -> list[str]:
    """What is wrong with ``data`` for the schema, each naming the failing path (``data.x.y``)."""
    schema = json.loads(schema_text)
    cls = validator_for(schema)
    validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(data), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    return [f"data{e.json_path[1:]}: {e.message}" for e in errors[:MAX_REPORTED_ERRORS]]


def validate_data(schema_text: str, data: object) -> None:
    problems = data_problems(schema_text, data)
    if problems:
        raise invalid("; ".join(problems), ErrorCode.DATA_INVALID)


def validity(valid_from: date, valid_to: date | None, validity_days: int | None, today: date) -> date | None:
    """The license's last valid day (None = long-term, 长期), checked against the type's maximum."""
    if validity_days is not None:
        longest = valid_from + timedelta(days=validity_days - 1)
        if valid_to is None:
            valid_to = longest
        elif valid_to > longest:
            raise invalid(
                f"valid_to: this license type is valid for at most {validity_days} days "
                f"(until {longest.isoformat()})",
                ErrorCode.VALIDITY,
            )
    if valid_to is not None:
        if valid_to < valid_from:
            raise invalid("valid_to is before valid_from", ErrorCode.VALIDITY)
        if valid_to < today:
            raise invalid(f"valid_to {valid_to.isoformat()} has already passed", ErrorCode.VALIDITY)
    return valid_to
