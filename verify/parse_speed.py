"""Two shortcuts on the PDF verification path that give the libraries' own results faster.

Hex strings (ISO 32000-1 7.3.4.3) are read in one slice instead of pyHanko's byte-by-byte tokens.
A signature's /Contents is a hex string of several kilobytes; pyHanko reads it one byte per call,
which is a large share of verifying a PDF. Streams that carry their whole input as ``whole`` (the
verifier's own) are read here: the span up to ``>``, whitespace dropped, an odd digit padded with 0,
as pyHanko does. Anything unusual (a comment, a non-hex byte, no ``>``) is left to pyHanko, so
results and errors are pyHanko's own.

Names (RFC 5280 7.1) are compared by their LDAP-prepared form (asn1crypto's ``hashable``) computed
once per distinct DER, instead of preparing every attribute again for each issuer/serial match pyHanko
makes, or each time a validation context indexes its certificates; byte-identical names are equal
at once.
"""

from __future__ import annotations

import binascii
import functools

from asn1crypto import x509
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.misc import PDF_WHITESPACE

_pyhanko_read_hex = generic.read_hex_string_from_stream
_rfc5280_name_eq = x509.Name.__eq__
_asn1crypto_hashable = x509.Name.hashable
_NOT_STRICT = (ValueError, TypeError, UnicodeError)


def read_hex_string(stream):
    """pyHanko's ``read_hex_string_from_stream``; one slice for streams with a ``whole`` attribute."""
    whole = getattr(stream, "whole", None)
    if not isinstance(whole, bytes):
        return _pyhanko_read_hex(stream)
    start = stream.tell() + 1  # after "<"
    end = whole.find(b">", start)
    digits = whole[start:end].translate(None, PDF_WHITESPACE) if end >= 0 else b"%"
    if b"%" in digits:
        return _pyhanko_read_hex(stream)
    try:
        value = binascii.unhexlify(digits + b"0" * (len(digits) % 2))
    except binascii.Error:
        return _pyhanko_read_hex(stream)
    stream.seek(end + 1)
    return generic.pdf_string(value)


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
    """Route pyHanko's object parser through :func:`read_hex_string` and asn1crypto's Name equality
    and ``hashable`` through :func:`name_equal` and :func:`name_hashable` (idempotent)."""
    generic.read_hex_string_from_stream = read_hex_string
    x509.Name.__eq__ = name_equal
    x509.Name.hashable = property(name_hashable)
