from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest
from asn1crypto import cms, tsp
from asn1crypto import core as asn1_core
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from ca.tsa import build_reply, choose, parse_query, rejection
from core.errors import DomainError
from keys import sm2
from tests.ca.pki import gmssl_verify, pki

GEN = datetime(2026, 3, 1, 8, 0, 5, 123456, tzinfo=UTC)
POLICY = "1.3.6.1.4.1.99999.1.1"


def sm3(data: bytes) -> bytes:
    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return h.finalize()


def query(digest: str = "sha256", *, nonce=12345, cert_req=True, policy=None, imprint=None, **extra) -> bytes:
    if imprint is None:
        imprint = sm3(b"doc") if digest == "sm3" else hashlib.new(digest, b"doc").digest()
    message_imprint = {"hash_algorithm": {"algorithm": digest}, "hashed_message": imprint}
    req = {"version": "v1", "message_imprint": message_imprint, "nonce": nonce, "cert_req": cert_req, **extra}
    if policy:
        req["req_policy"] = policy
    return tsp.TimeStampReq(req).dump()


def test_parse_query_fields():
    q = parse_query(query("sha256", policy=POLICY))
    assert (q.hash_algorithm, q.nonce, q.cert_req, q.policy) == ("sha256", 12345, True, POLICY)
    assert q.hashed_message == hashlib.sha256(b"doc").digest()
    assert choose(q) == "rsa"
    q = parse_query(query("sm3", nonce=None, cert_req=False))
    assert (q.hash_algorithm, q.nonce, q.cert_req, q.policy) == ("sm3", None, False, None)
    assert choose(q) == "sm2"
    assert choose(parse_query(query("sha512"))) == "rsa"


@pytest.mark.parametrize(
    "der, code",
    [
        (b"", "badDataFormat"),
        (b"garbage", "badDataFormat"),
        (b"\x30\x03\x02\x01\x01", "badDataFormat"),
        (query()[:-3], "badDataFormat"),
        (query("sha1"), "badAlg"),
        (query("md5"), "badAlg"),
        (query("sha256", imprint=b"\x00" * 20), "badDataFormat"),
        (query(extensions=[{"extn_id": "1.2.3.4", "extn_value": b"x"}]), "unacceptedExtension"),
    ],
)
def test_bad_queries(der, code):
    with pytest.raises(DomainError) as err:
        parse_query(der)
    assert err.value.code == code


def _token(reply: bytes) -> tuple[tsp.TimeStampResp, cms.SignedData]:
    resp = tsp.TimeStampResp.load(reply)
    assert resp["status"]["status"].native == "granted"
    return resp, resp["time_stamp_token"]["content"]


@pytest.mark.parametrize("family, digest", [("rsa", "sha256"), ("sm2", "sm3")])
def test_reply_content_and_signature(family, digest):
    p = pki(family)
    q = parse_query(query(digest, policy=POLICY))
    reply = build_reply(q, p.tsa.cert, p.tsa.signer, 0xABCDEF, GEN, POLICY, 1500, q.cert_req, [p.ca.cert])
    _, sd = _token(reply)
    eci = sd["encap_content_info"]
    assert eci["content_type"].native == "tst_info"
    tst = eci["content"].parsed
    assert tst["policy"].dotted == POLICY
    assert tst["message_imprint"].dump() == q.imprint_der
    assert tst["serial_number"].native == 0xABCDEF
    assert tst["gen_time"].native == GEN.replace(microsecond=123000)
    assert tst["accuracy"].native == {"seconds": 1, "millis": 500, "micros": None}
    assert tst["nonce"].native == 12345
    # CertificateSet is a SET OF: DER orders it, so compare as a set
    assert {c.chosen.serial_number for c in sd["certificates"]} == {
        p.tsa.cert.serial_number,
        p.ca.cert.serial_number,
    }
    si = sd["signer_infos"][0]
    assert si["digest_algorithm"]["algorithm"].native == digest
    attrs = {a["type"].native: a["values"][0] for a in si["signed_attrs"]}
    assert attrs["content_type"].native == "tst_info"
    tst_der = eci["content"].contents
    h = sm3 if digest == "sm3" else (lambda d: hashlib.sha256(d).digest())
    assert attrs["message_digest"].native == h(tst_der)
    ess = attrs["signing_certificate_v2"]["certs"][0]
    assert ess["cert_hash"].native == h(p.tsa.cert.dump())
    assert ess["hash_algorithm"]["algorithm"].native == digest
    assert ess["issuer_serial"]["serial_number"].native == p.tsa.cert.serial_number
    signed = b"\x31" + si["signed_attrs"].dump()[1:]  # [0] IMPLICIT -> SET OF, as received
    sig = si["signature"].native
    if family == "sm2":
        point = p.tsa.cert.public_key["public_key"].contents[1:]
        assert si["signature_algorithm"]["algorithm"].dotted == "1.2.156.10197.1.501"
        assert sm2.verify(point, signed, sig)
        assert gmssl_verify(p.tsa.cert, signed, sig)
    else:
        key = cx509.load_der_x509_certificate(p.tsa.cert.dump()).public_key()
        key.verify(sig, signed, padding.PKCS1v15(), hashes.SHA256())


def test_reply_without_certificates_and_nonce():
    p = pki("rsa")
    q = parse_query(query(nonce=None, cert_req=False))
    _, sd = _token(build_reply(q, p.tsa.cert, p.tsa.signer, 9, GEN, POLICY, None, q.cert_req, []))
    assert not sd["certificates"]
    tst = sd["encap_content_info"]["content"].parsed
    assert tst["nonce"].native is None and tst["accuracy"].native is None


def test_policy_mismatch_and_rejections():
    p = pki("rsa")
    q = parse_query(query(policy="1.2.3.4"))
    with pytest.raises(DomainError) as err:
        build_reply(q, p.tsa.cert, p.tsa.signer, 1, GEN, POLICY, 1000, True, [])
    assert err.value.code == "unacceptedPolicy"
    for name, bit in (
        ("badAlg", 0),
        ("badRequest", 2),
        ("unacceptedPolicy", 15),
        ("systemFailure", 25),
        ("invalid-input", 2),
    ):
        der = rejection(name, "no")
        outer = asn1_core.Sequence.load(der)
        info = tsp.PKIStatusInfo.load(outer.contents)
        assert info["status"].native == "rejection"
        assert info["fail_info"].native == {tsp.PKIFailureInfo._map[bit]}
        assert info["status_string"].native == ["no"]
