"""Checks on JSON text made before parsing it."""

from __future__ import annotations

import re
from itertools import accumulate

MAX_JSON_DEPTH = 64
# A string, or an unterminated one running to the end: every match attempt at a quote succeeds,
# so the scan stays linear whatever the input.
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*+(?:"|\\?\Z)', re.DOTALL)
_NOT_BRACKET = bytes(c for c in range(256) if c not in b"[]{}")


def json_nested_deeper_than(body: bytes, limit: int) -> bool:
    """True when arrays and objects in a JSON text nest deeper than ``limit`` (brackets inside
    strings ignored). A linear scan without parsing that stops at the first level over the limit,
    so it is safe on any input (RFC 8259 §9 lets a parser limit nesting)."""
    brackets = _JSON_STRING.sub(b"", body).translate(None, _NOT_BRACKET)
    if brackets.count(b"[") + brackets.count(b"{") <= limit:
        return False
    return any(depth > limit for depth in accumulate(1 if c in b"[{" else -1 for c in brackets))
