"""Shortcuts on the PDF verification path that give the libraries' own results faster.

Hex strings (ISO 32000-1 7.3.4.3) are read in one slice instead of pyHanko's byte-by-byte tokens.
A signature's /Contents is a hex string of several kilobytes; pyHanko reads it one byte per call,
which is a large share of verifying a PDF. Streams that carry their whole input as ``whole`` (the
verifier's own) are read here: the span up to ``>``, whitespace dropped, an odd digit padded with 0,
as pyHanko does. Anything unusual (a comment, a non-hex byte, no ``>``) is left to pyHanko, so
results and errors are pyHanko's own.

Tokens: names, keywords and object headers are read up to their delimiter with one regular
expression match instead of one ``read(1)`` per byte, and whitespace before a token is skipped in
one match; comments, the end of the input and anything else unusual are left to pyHanko. While the
input's reads are budgeted (``counting``), each shortcut charges the budget the reads pyHanko would
have made (``charge``), or leaves the token to pyHanko when they do not fit, so the budget stops
parsing at the same point. A name without ``#`` escapes, made only of regular printable ASCII, is
made at once (pyHanko decodes it byte by byte to the same string). Numbers and indirect references
(``12 0 R``, recognised by pyHanko's own 20-byte look-ahead pattern) are read with one match when
nothing is budgeted; a reference whose separators are not plain PDF whitespace, object number 0, and
everything in content streams are left to pyHanko. A dictionary made only of such plain tokens (and
booleans, null, hex strings, literal strings without nested parentheses or line continuations,
arrays and dictionaries of them, no key twice) is read with one match per token (a reference, one
match in all); a stream's payload after it is read by pyHanko's own code. Any other dictionary is
read by pyHanko from its first byte. Cross-reference streams and trailers are read this way too,
while the reads are budgeted: such a dictionary is charged one read per byte it spans (pyHanko's own
reading, with the token shortcuts, charges about as many: 192 for a stamp's 185-byte cross-reference
stream dictionary), so there the budget may stop parsing a few reads away from where it would; and
nothing past as many bytes as the budget has left is read, so a larger one costs no more than the
budget allows before pyHanko's reading of it stops there.

Names (RFC 5280 7.1) are compared by their LDAP-prepared form (asn1crypto's ``hashable``) computed
once per distinct DER, instead of preparing every attribute again for each issuer/serial match pyHanko
makes, or each time a validation context indexes its certificates; byte-identical names are equal
at once.
"""

from __future__ import annotations

import binascii
import functools
import re

from asn1crypto import x509
from pyhanko.pdf_utils import generic, misc
from pyhanko.pdf_utils.misc import PDF_WHITESPACE

_pyhanko_read_hex = generic.read_hex_string_from_stream
_pyhanko_until_delimiter = misc.read_until_delimiter
_pyhanko_until_whitespace = misc.read_until_whitespace
_pyhanko_non_whitespace = misc.read_non_whitespace
_TOKEN = re.compile(rb"[^ \n\r\t\f\x00()<>\[\]{}/%]*")  # up to PDF whitespace or a delimiter
_NOT_WHITESPACE = re.compile(rb"[^ \n\r\t\f\x00]*")
_WHITESPACE = re.compile(rb"[ \n\r\t\f\x00]*")
_PLAIN_NAME = re.compile(rb"[^\x00-\x20\x7f-\xff#()<>\[\]{}/%]*")  # regular printable ASCII, no escapes
_pyhanko_decode_name = generic._decode_name
_pyhanko_read_object = generic.read_object
_pyhanko_read_dictionary = generic.DictionaryObject.read_from_stream
_REFERENCE = re.compile(rb"(\d+)[ \t\n\r\f]+(\d+)[ \t\n\r\f]+R[^a-zA-Z]")  # within pyHanko's INDIRECT_PATTERN
_DIGITS, _SIGNS = b"0123456789", b"+-."
_rfc5280_name_eq = x509.Name.__eq__
_asn1crypto_hashable = x509.Name.hashable
_NOT_STRICT = (ValueError, TypeError, UnicodeError)


def read_hex_string(stream):
    """pyHanko's ``read_hex_string_from_stream``; one slice for streams with a ``whole`` attribute."""
    whole = getattr(stream, "whole", None)
    if not isinstance(whole, bytes):
        return _pyhanko_read_hex(stream)
    try:
        value, end = _hex_at(whole, stream.tell())
    except _Unusual:
        return _pyhanko_read_hex(stream)
    stream.seek(end)
    return value


def _hex_at(whole: bytes, start: int, limit: int | None = None):
    """The hex string whose "<" is at ``start`` and the offset after its ">"; _Unusual for a comment,
    a byte that is not hex or no ">" (before ``limit``)."""
    end = whole.find(b">", start + 1, limit)
    digits = whole[start + 1 : end].translate(None, PDF_WHITESPACE) if end >= 0 else b"%"
    if b"%" in digits:
        raise _Unusual
    try:
        return generic.pdf_string(binascii.unhexlify(digits + b"0" * (len(digits) % 2))), end + 1
    except binascii.Error:
        raise _Unusual from None


class _Unusual(Exception):
    """A token the shortcuts leave to pyHanko."""


def _whole(stream) -> bytes | None:
    """The stream's whole input when the token shortcuts may read it (the verifier's own streams)."""
    whole = getattr(stream, "whole", None)
    return whole if isinstance(whole, bytes) else None


def _charged(stream, reads: int) -> bool:
    """False when the stream's read budget cannot take ``reads`` more (pyHanko then reads itself)."""
    return not getattr(stream, "counting", False) or stream.charge(reads)


def read_until_delimiter(stream) -> bytes:
    """pyHanko's ``read_until_delimiter``: the bytes up to PDF whitespace or a delimiter, the stream left
    at that byte."""
    whole = _whole(stream)
    start = stream.tell() if whole is not None else 0
    if whole is None or start >= len(whole):
        return _pyhanko_until_delimiter(stream)
    end = _TOKEN.match(whole, start).end()
    if not _charged(stream, end - start + 1):
        return _pyhanko_until_delimiter(stream)
    stream.seek(end)
    return whole[start:end]


def read_until_whitespace(stream, maxchars: int | None = None) -> bytes:
    """pyHanko's ``read_until_whitespace``: the bytes up to PDF whitespace, which is consumed."""
    whole = _whole(stream)
    start = stream.tell() if whole is not None else 0
    if whole is None or maxchars is not None or start >= len(whole):
        return _pyhanko_until_whitespace(stream, maxchars)
    end = _NOT_WHITESPACE.match(whole, start).end()
    if not _charged(stream, end - start + 1):
        return _pyhanko_until_whitespace(stream, maxchars)
    stream.seek(min(end + 1, len(whole)))
    return whole[start:end]


def read_non_whitespace(stream, seek_back: bool = False, allow_eof: bool = False) -> bytes:
    """pyHanko's ``read_non_whitespace``: the next byte that is not whitespace (consumed unless
    ``seek_back``); comments and the end of the input are left to pyHanko."""
    whole = _whole(stream)
    start = stream.tell() if whole is not None else 0
    if whole is None or start >= len(whole):
        return _pyhanko_non_whitespace(stream, seek_back, allow_eof)
    at = _WHITESPACE.match(whole, start).end()
    if at >= len(whole) or whole[at] == 0x25 or not _charged(stream, at - start + 1):  # "%": a comment
        return _pyhanko_non_whitespace(stream, seek_back, allow_eof)
    stream.seek(at if seek_back else at + 1)
    return whole[at : at + 1]


_NOT_CONTENT = generic.ContentOpReading.NO


def read_object(stream, container_ref, as_metadata_stream=False, in_content_stream=_NOT_CONTENT):
    """pyHanko's ``read_object``; outside content streams, from the verifier's own unbudgeted input, a
    number or an indirect reference is read with one match, and a dictionary as
    :func:`read_dictionary` reads it: the same object, the stream left at the same place."""
    whole = _whole(stream)
    start = stream.tell() if whole is not None else 0
    if whole is None or in_content_stream is not _NOT_CONTENT or start >= len(whole):
        return _pyhanko_read_object(stream, container_ref, as_metadata_stream, in_content_stream)
    if whole.startswith(b"<<", start):
        result = read_dictionary(stream, container_ref, as_metadata_stream)
    elif whole[start] not in _DIGITS + _SIGNS or getattr(stream, "counting", True):
        return _pyhanko_read_object(stream, container_ref, as_metadata_stream, in_content_stream)
    else:
        try:
            result, end = _plain_number(whole, start, container_ref.get_pdf_handler(), len(whole))
        except _Unusual:
            return _pyhanko_read_object(stream, container_ref, as_metadata_stream, in_content_stream)
        stream.seek(end)
    result.container_ref = container_ref
    return result


def read_dictionary(stream, container_ref, as_metadata_stream=False, in_content_stream=_NOT_CONTENT):
    """pyHanko's ``DictionaryObject.read_from_stream`` (which reads cross-reference streams and trailers
    too); outside content streams, from the verifier's own input, a dictionary of plain tokens is read
    with one match per token (:func:`_dictionary`). While the input's reads are counted, it is charged
    one read per byte it spans, or left to pyHanko when that does not fit."""
    whole = _whole(stream)
    if whole is not None and in_content_stream is _NOT_CONTENT and not as_metadata_stream:
        result = _dictionary(stream, whole, stream.tell(), container_ref)
        if result is not None:
            return result
    return _pyhanko_read_dictionary(stream, container_ref, as_metadata_stream, in_content_stream)


# An escape in a literal string as pyHanko reads it (ISO 32000-1 7.3.4.2): a character it keeps
# (n r t b f mean their control characters), or an octal code that no further digit follows unless
# it has three digits (pyHanko reads up to three digits of 0-9 and fails on 8 and 9; a code above 255
# fails in ``bytes`` here as there, and the dictionary is left to it). A line break after the
# backslash, a bad escape and nested parentheses are left to it too.
_ESCAPE = rb"\\(?:[nrtbf()\\ /%<>\[\]#_&$]|[0-7]{3}|[0-7]{1,2}(?![0-9]))"
_ESCAPED = re.compile(rb"\\([0-7]{1,3}|.)", re.DOTALL)
_ESCAPED_AS = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}


def _unescaped(escape: re.Match) -> bytes:
    code = escape[1]
    if code[:1].isdigit():
        return bytes((int(code, 8),))
    return _ESCAPED_AS.get(code, code)


# One token of a dictionary or array after optional PDF whitespace; "num" is only a number's first byte.
_PLAIN_TOKEN = re.compile(
    rb"[ \n\r\t\f\x00]*(?:(?P<open><<)|(?P<close>>>)|(?P<lb>\[)|(?P<rb>\])"
    rb"|/(?P<name>[^ \n\r\t\f\x00()<>\[\]{}/%]*)|(?P<hex><)"
    rb"|\((?P<lit>[^\\()]*(?:" + _ESCAPE + rb"[^\\()]*)*)\)"
    rb"|(?P<word>true|false|null)(?=[ \n\r\t\f\x00()<>\[\]{}/%])"
    rb"|(?P<ref>(?P<id>\d+)[ \t\n\r\f]+(?P<gen>\d+)[ \t\n\r\f]+R)(?=[^a-zA-Z])|(?P<num>[+\-.0-9]))"
)
_WORDS = {b"true": lambda: generic.BooleanObject(True), b"false": lambda: generic.BooleanObject(False)}
_MAX_NESTING = 32


def _dictionary(stream, whole: bytes, start: int, container_ref):
    """pyHanko's ``DictionaryObject.read_from_stream`` (a stream's payload read by pyHanko's own
    ``_maybe_read_stream_payload``) for a dictionary made only of plain tokens: names, numbers,
    references, booleans, null, hex strings, literal strings without nested parentheses whose
    escapes pyHanko reads without error (``_ESCAPE``), and arrays and dictionaries of them, without
    repeated keys; None (the stream untouched) for anything else, which pyHanko then reads itself,
    errors included."""
    handler = container_ref.get_pdf_handler()
    # While the reads are counted, nothing past what the budget has left is read, so that a huge
    # dictionary costs no more than the budget allows before pyHanko's reading stops at it.
    limit = min(len(whole), start + stream.left) if getattr(stream, "counting", False) else len(whole)
    try:
        data, end = _plain_dictionary(whole, start + 2, (container_ref, handler, limit), 0)
    except (_Unusual, ValueError, ArithmeticError):  # (a number pyHanko refuses too)
        return None
    if not _charged(stream, end - start):
        return None
    stream.seek(end)
    payload = generic._maybe_read_stream_payload(stream, data, handler)
    if payload is None:
        return generic.DictionaryObject(data)
    return generic.StreamObject(data, encoded_data=payload)


def _plain_dictionary(whole: bytes, at: int, where: tuple, depth: int) -> tuple[dict, int]:
    """The entries of a dictionary whose "<<" ends before ``at``, and the offset after its ">>";
    ``where``: (container reference, PDF handler, offset before which the dictionary must end)."""
    data: dict = {}
    limit = where[2]
    while True:
        token = _PLAIN_TOKEN.match(whole, at, limit)
        if token is None:
            raise _Unusual
        if token["close"] is not None:
            return data, token.end()
        if token["name"] is None:
            raise _Unusual
        key = decode_name(token["name"])
        if key in data:
            raise _Unusual
        value = _PLAIN_TOKEN.match(whole, token.end(), limit)
        data[key], at = _plain_value(whole, value, where, depth)


def _plain_value(whole: bytes, token, where: tuple, depth: int):
    """The object whose first token (a ``_PLAIN_TOKEN`` match) is ``token``, read as pyHanko's
    ``read_object`` reads it, and the offset after it (``where``: see :func:`_plain_dictionary`)."""
    if token is None or depth > _MAX_NESTING:
        raise _Unusual
    container_ref, handler, limit = where
    kind, end = token.lastgroup, token.end()
    if kind == "open":
        data, end = _plain_dictionary(whole, end, where, depth + 1)
        value = generic.DictionaryObject(data)
    elif kind == "lb":
        value = generic.ArrayObject()
        while (item := _PLAIN_TOKEN.match(whole, end, limit)) is not None and item["rb"] is None:
            element, end = _plain_value(whole, item, where, depth + 1)
            value.append(element)
        if item is None:
            raise _Unusual
        end = item.end()
    elif kind == "name":
        value = decode_name(token["name"])
    elif kind == "hex":
        value, end = _hex_at(whole, token.start("hex"), limit)
    elif kind == "lit":
        text = token["lit"]
        value = generic.pdf_string(_ESCAPED.sub(_unescaped, text) if b"\\" in text else text)
    elif kind == "word":
        value = _WORDS.get(token["word"], generic.NullObject)()
    elif kind == "ref":  # (as _REFERENCE, where pyHanko's 20-byte look-ahead finds it)
        if end - token.start("ref") >= 20 or int(token["id"]) <= 0:
            raise _Unusual
        value = generic.IndirectObject(int(token["id"]), int(token["gen"]), handler)
    elif kind == "num":
        value, end = _plain_number(whole, token.start("num"), handler, limit)
    else:
        raise _Unusual
    value.container_ref = container_ref
    return value, end


def _plain_number(whole: bytes, start: int, handler, limit: int):
    """The number or indirect reference at ``start``, as :func:`read_object` reads it (a number
    ending at ``limit`` is cut there: the caller's next token then fails)."""
    if whole[start] in _DIGITS and generic.INDIRECT_PATTERN.match(whole, start, start + 20):
        found = _REFERENCE.match(whole, start, start + 20)
        if found is None or int(found[1]) <= 0:
            raise _Unusual
        return generic.IndirectObject(int(found[1]), int(found[2]), handler), found.end() - 1
    after = generic.NumberObject.NumberPattern.search(whole, start, limit)
    end = after.start() if after is not None else limit
    digits = whole[start:end].decode("ascii")
    return (generic.FloatObject(digits) if "." in digits else generic.NumberObject(digits)), end


def decode_name(name_bytes: bytes):
    """pyHanko's ``_decode_name`` (the bytes of a name after its "/"), at once for plain ASCII names."""
    if _PLAIN_NAME.fullmatch(name_bytes):
        return generic.NameObject("/" + name_bytes.decode("ascii"))
    return _pyhanko_decode_name(name_bytes)


def name_equal(self: x509.Name, other) -> bool:
    """RFC 5280 name equality; identical DER is equal at once, and the prepared form of a name's DER
    is computed once per process (the same CA names recur in every document). The inner RDNSequence
    is compared, so a Name's own tagging (as in a GeneralName) plays no part, as in asn1crypto."""
    if not isinstance(other, x509.Name):
        return _rfc5280_name_eq(self, other)
    mine, theirs = self.chosen.dump(), other.chosen.dump()
    if mine == theirs:
        return True
    try:
        return _prepared(mine) == _prepared(theirs)
    except _NOT_STRICT:  # a name only read leniently (verify.certificates) is compared as it was read
        return _rfc5280_name_eq(self, other)


def name_hashable(self: x509.Name) -> str:
    """asn1crypto's ``Name.hashable`` (the key certificate registries and CRL look-ups use), computed
    once per distinct name."""
    try:
        return _prepared(self.chosen.dump())[1]
    except _NOT_STRICT:
        return _asn1crypto_hashable.fget(self)


@functools.lru_cache(maxsize=4096)
def _prepared(der: bytes) -> tuple:
    """The RDN sizes and asn1crypto's ``hashable`` (LDAP-prepared values) of an RDNSequence's DER."""
    rdns = x509.RDNSequence.load(der)
    return tuple(len(rdn) for rdn in rdns), rdns.hashable


def install() -> None:
    """Route pyHanko's object parser through :func:`read_hex_string`, the token readers above and
    :func:`decode_name`, and asn1crypto's Name equality and ``hashable`` through :func:`name_equal`
    and :func:`name_hashable` (idempotent)."""
    generic.read_hex_string_from_stream = read_hex_string
    generic.read_until_delimiter = misc.read_until_delimiter = read_until_delimiter
    generic.read_non_whitespace = misc.read_non_whitespace = read_non_whitespace
    misc.read_until_whitespace = read_until_whitespace
    generic._decode_name = decode_name
    generic.read_object = read_object
    generic.DictionaryObject.read_from_stream = staticmethod(read_dictionary)
    x509.Name.__eq__ = name_equal
    x509.Name.hashable = property(name_hashable)
