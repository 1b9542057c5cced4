"""Domain errors and the bearer token reader."""

from __future__ import annotations

import pytest

from core.errors import DomainError, ErrorKind, bearer_token, conflict, invalid, not_found
from core.jsontext import json_nested_deeper_than


def test_constructors_set_kind_code_and_title():
    error = invalid("serial is not a number", code="bad-serial")
    assert (error.kind, error.code, error.detail, str(error)) == (
        ErrorKind.INVALID_INPUT,
        "bad-serial",
        "serial is not a number",
        "serial is not a number",
    )
    assert error.title == "invalid input"
    assert not_found("no such CA").code == "not-found"
    assert conflict("already revoked").kind is ErrorKind.CONFLICT


@pytest.mark.parametrize("header", ["Bearer abc", "bearer abc ", "BEARER   abc"])
def test_bearer_token_is_read_from_the_header(header):
    assert bearer_token(header) == "abc"


@pytest.mark.parametrize("header", [None, "", "Basic abc", "Bearer", "Bearer   "])
def test_missing_bearer_token_is_unauthenticated(header):
    with pytest.raises(DomainError) as err:
        bearer_token(header)
    assert err.value.kind is ErrorKind.UNAUTHENTICATED


def test_json_depth_ignores_brackets_inside_strings():
    assert not json_nested_deeper_than(b'{"a": "[[[[[[["}', 2)
    assert json_nested_deeper_than(b"[[[1]]]", 2)
    assert not json_nested_deeper_than(b"[[1], [2], [3]]", 2)
    assert not json_nested_deeper_than(b'"unterminated [[[[', 1)
