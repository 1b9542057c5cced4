from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from asn1crypto import ocsp as asn1_ocsp
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.x509 import ocsp as cocsp

from ca.ocsp import (
    Responder,
    SingleStatus,
    build_response,
    internal_error,
    issuer_key_material,
    malformed_request,
    match_cert_id,
    parse_request,
    single_response,
    unauthorized,
)
from core.errors import DomainError
from keys import sm2
from tests.ca.pki import pki

NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def _cx(party):
    return cx509.load_der_x509_certificate(party.cert.dump())


def crypto_request(family: str, party_name: str = "leaf", algorithm=None, nonce: bytes | None = None):
    p = pki(family)
    builder = cocsp.OCSPRequestBuilder().add_certificate(
        _cx(getattr(p, party_name)), _cx(p.ca), algorithm or hashes.SHA1()
    )
    if nonce is not None:
        builder = builder.add_extension(cx509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(serialization.Encoding.DER)


def asn1_request(family: str, digest: str, nonce_value: bytes | None = None, serial: int = 77) -> bytes:
    """A request built by hand (for SM3 CertIDs and raw nonce values cryptography refuses)."""
    name, key = issuer_key_material(pki(family).ca.cert)
    h = {"sm3": lambda d: sm3(d), "sha256": lambda d: hashlib.sha256(d).digest()}[digest]
    tbs = {
        "request_list": [
            {
                "req_cert": {
                    "hash_algorithm": {"algorithm": digest},
                    "issuer_name_hash": h(name),
                    "issuer_key_hash": h(key),
                    "serial_number": serial,
                }
            }
        ]
    }
    if nonce_value is not None:
        tbs["request_extensions"] = [{"extn_id": "nonce", "extn_value": nonce_value}]
    return asn1_ocsp.OCSPRequest({"tbs_request": tbs}).dump()


def sm3(data: bytes) -> bytes:
    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return h.finalize()


def verify_basic(family: str, der: bytes, signer_party) -> asn1_ocsp.BasicOCSPResponse:
    basic = asn1_ocsp.OCSPResponse.load(der)["response_bytes"]["response"].parsed
    tbs, sig = basic["tbs_response_data"].dump(), basic["signature"].native
    if family == "sm2":
        assert sm2.verify(signer_party.cert.public_key["public_key"].contents[1:], tbs, sig)
    else:
        _cx(signer_party).public_key().verify(sig, tbs, padding.PKCS1v15(), hashes.SHA256())
    return basic


@pytest.mark.parametrize("family", ["rsa", "sm2"])
@pytest.mark.parametrize("algorithm", [hashes.SHA1(), hashes.SHA256()])
def test_parse_and_match(family, algorithm):
    req = parse_request(crypto_request(family, algorithm=algorithm, nonce=b"n" * 16))
    assert len(req) == 1 and req.nonce == b"n" * 16
    assert req[0].hash_algorithm == algorithm.name
    assert req[0].serial == pki(family).leaf.cert.serial_number
    assert match_cert_id(req[0], *issuer_key_material(pki(family).ca.cert))
    assert not match_cert_id(req[0], *issuer_key_material(pki(family).root.cert))
    other = "sm2" if family == "rsa" else "rsa"
    assert not match_cert_id(req[0], *issuer_key_material(pki(other).ca.cert))


def test_sm3_cert_id_is_matched_and_echoed():
    p = pki("sm2")
    req = parse_request(asn1_request("sm2", "sm3"))
    assert req[0].hash_algorithm == "sm3" and req.nonce is None
    assert match_cert_id(req[0], *issuer_key_material(p.ca.cert))
    resp = build_response(p.responder.cert, p.responder.signer, [SingleStatus(req[0], "good")], NOW)
    basic = verify_basic("sm2", resp, p.responder)
    assert basic["tbs_response_data"]["responses"][0]["cert_id"].dump() == req[0].der


def test_nonce_limits():
    assert parse_request(asn1_request("rsa", "sha256", b"\x01" * 128)).nonce == b"\x01" * 128
    assert parse_request(asn1_request("rsa", "sha256", b"\x07")).nonce == b"\x07"
    for bad in (b"\x01" * 129, b""):
        with pytest.raises(DomainError) as err:
            parse_request(asn1_request("rsa", "sha256", bad))
        assert err.value.kind.value == "invalid-input"


@pytest.mark.parametrize(
    "garbage",
    [
        b"",
        b"\x00",
        b"hello world",
        b"\x30\x00",
        b"\x30\x03\x30\x01\x00",
        b"\x30\x82\xff\xff\x30",
        bytes(range(256)),
    ],
)
def test_garbage_is_invalid(garbage):
    with pytest.raises(DomainError):
        parse_request(garbage)


def test_truncated_and_trailing_bytes_are_invalid():
    good = crypto_request("rsa")
    for bad in (good[:-1], good[:10], good + b"\x00"):
        with pytest.raises(DomainError):
            parse_request(bad)


def test_nonce_that_is_not_an_octet_string_is_invalid():
    der = crypto_request("rsa", nonce=b"abcd")
    broken = der.replace(b"\x04\x06\x04\x04abcd", b"\x04\x06\x02\x04abcd")
    assert broken != der
    with pytest.raises(DomainError):
        parse_request(broken)


@pytest.mark.parametrize("family", ["rsa", "sm2"])
def test_response_statuses_and_nonce_echo(family):
    p = pki(family)
    req = parse_request(crypto_request(family, nonce=b"\xaa" * 32))
    revoked_at = NOW - timedelta(days=2)
    statuses = [
        SingleStatus(req[0], "revoked", revoked_at, "keyCompromise", NOW, NOW + timedelta(hours=4)),
    ]
    resp = build_response(p.responder.cert, p.responder.signer, statuses, NOW, req.nonce, [p.responder.cert])
    parsed = cocsp.load_der_ocsp_response(resp)
    assert parsed.response_status == cocsp.OCSPResponseStatus.SUCCESSFUL
    assert parsed.certificate_status == cocsp.OCSPCertStatus.REVOKED
    assert parsed.revocation_time_utc == revoked_at
    assert parsed.revocation_reason == cx509.ReasonFlags.key_compromise
    assert parsed.next_update_utc == NOW + timedelta(hours=4)
    assert parsed.produced_at_utc == NOW
    assert parsed.serial_number == p.leaf.cert.serial_number
    assert parsed.extensions.get_extension_for_class(cx509.OCSPNonce).value.nonce == b"\xaa" * 32
    key_bits = p.responder.cert.public_key["public_key"].contents[1:]
    assert parsed.responder_key_hash == hashlib.sha1(key_bits).digest()
    assert [c.serial_number for c in parsed.certificates] == [p.responder.cert.serial_number]
    verify_basic(family, resp, p.responder)


def test_unknown_serial_and_foreign_issuer_as_callers_handle_them():
    """What an endpoint does: unknown for our issuer but unknown serial, unauthorized for other issuers."""
    p = pki("rsa")
    issued = {p.leaf.cert.serial_number: ("good", None, None)}
    ours = issuer_key_material(p.ca.cert)

    def answer(der: bytes) -> bytes:
        try:
            req = parse_request(der)
        except DomainError:
            return malformed_request()
        if not all(match_cert_id(r, *ours) for r in req):
            return unauthorized()
        later = NOW + timedelta(hours=1)
        singles = [SingleStatus(r, *issued.get(r.serial, ("unknown", None, None)), NOW, later) for r in req]
        return build_response(p.responder.cert, p.responder.signer, singles, NOW, req.nonce)

    unknown = cocsp.load_der_ocsp_response(answer(asn1_request("rsa", "sha256", serial=424242)))
    assert unknown.certificate_status == cocsp.OCSPCertStatus.UNKNOWN
    good = cocsp.load_der_ocsp_response(answer(crypto_request("rsa")))
    assert good.certificate_status == cocsp.OCSPCertStatus.GOOD
    foreign = cocsp.load_der_ocsp_response(answer(crypto_request("sm2")))
    assert foreign.response_status == cocsp.OCSPResponseStatus.UNAUTHORIZED
    bad = cocsp.load_der_ocsp_response(answer(b"junk"))
    assert bad.response_status == cocsp.OCSPResponseStatus.MALFORMED_REQUEST


def test_status_only_responses():
    assert cocsp.load_der_ocsp_response(malformed_request()).response_status.value == 1
    assert cocsp.load_der_ocsp_response(internal_error()).response_status.value == 2
    assert cocsp.load_der_ocsp_response(unauthorized()).response_status.value == 6


def test_presigned_pieces_are_reusable():
    p = pki("rsa")
    req = parse_request(crypto_request("rsa"))
    responder = Responder(p.responder.cert, p.responder.signer, [p.responder.cert, p.ca.cert])
    status = SingleStatus(req[0], "good", this_update=NOW, next_update=NOW + timedelta(hours=1))
    single = single_response(status, NOW)
    cached = responder.sign([single], NOW)
    # RSA PKCS#1 v1.5 is deterministic: rebuilding gives the same bytes the cache holds
    assert cached == build_response(
        p.responder.cert,
        p.responder.signer,
        [SingleStatus(req[0], "good", None, None, NOW, NOW + timedelta(hours=1))],
        NOW,
        None,
        [p.responder.cert, p.ca.cert],
    )
    assert len(cocsp.load_der_ocsp_response(cached).certificates) == 2
    without = build_response(
        p.responder.cert, p.responder.signer, [SingleStatus(req[0], "good")], NOW, include_certs=[]
    )
    assert cocsp.load_der_ocsp_response(without).certificates == []


def test_wrong_signer_or_status_is_refused():
    p = pki("rsa")
    req = parse_request(crypto_request("rsa"))
    with pytest.raises(ValueError):
        build_response(p.responder.cert, p.ca.signer, [SingleStatus(req[0], "good")], NOW)
    with pytest.raises(ValueError):
        build_response(p.responder.cert, p.responder.signer, [SingleStatus(req[0], "fine")], NOW)
    with pytest.raises(ValueError):
        build_response(p.responder.cert, p.responder.signer, [SingleStatus(req[0], "revoked")], NOW)
