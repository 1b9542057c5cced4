from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from asn1crypto import crl as asn1_crl
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from ca import crl as crl_module
from ca.crl import REASON_CODES, build_crl, der_time, reason_code, shard_for
from core.errors import DomainError
from keys import sm2
from tests.ca.pki import pki

NOW = datetime(2026, 3, 1, 8, 30, 15, tzinfo=UTC)
IDP = "http://127.0.0.1:8400/crl/rsa-issuing-3.crl"


def encode_entries(entries) -> bytes:
    """DER of the revokedCertificates contents (no outer header), as build_crl writes them."""
    out = bytearray()
    crl_module._encode_into(out, entries)
    return bytes(out)


def _verify(family: str, der: bytes) -> bool:
    parsed = asn1_crl.CertificateList.load(der)
    tbs, sig = parsed["tbs_cert_list"].dump(), parsed["signature"].native
    ca = pki(family).ca.cert
    if family == "sm2":
        return sm2.verify(ca.public_key["public_key"].contents[1:], tbs, sig)
    key = cx509.load_der_x509_certificate(ca.dump()).public_key()
    key.verify(sig, tbs, padding.PKCS1v15(), hashes.SHA256())
    return True


@pytest.mark.parametrize("family", ["rsa", "sm2"])
def test_empty_crl(family):
    ca = pki(family).ca
    der = build_crl(ca.cert, ca.signer, [], 7, NOW, NOW + timedelta(days=1))
    crl = cx509.load_der_x509_crl(der)
    assert len(crl) == 0
    assert crl.next_update_utc == NOW + timedelta(days=1)
    assert crl.last_update_utc == NOW
    assert crl.extensions.get_extension_for_class(cx509.CRLNumber).value.crl_number == 7
    aki = crl.extensions.get_extension_for_class(cx509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == ca.cert.key_identifier
    # RFC 5280: with no entries the revokedCertificates field is absent, not an empty SEQUENCE
    assert asn1_crl.CertificateList.load(der)["tbs_cert_list"]["revoked_certificates"].native is None
    assert crl.signature_algorithm_oid.dotted_string == ca.signer.algorithm_identifier()["algorithm"].dotted
    assert _verify(family, der)


@pytest.mark.parametrize("family", ["rsa", "sm2"])
def test_many_entries_round_trip(family):
    ca = pki(family).ca
    rng = random.Random(5)
    names = [None, *REASON_CODES]
    entries = [
        (rng.getrandbits(159) | 1, NOW - timedelta(seconds=rng.randrange(10**8)), rng.choice(names))
        for _ in range(5000)
    ]
    entries.append(((1 << 159) | 3, NOW, "key_compromise"))  # 20 octets + sign pad, snake_case name
    der = build_crl(ca.cert, ca.signer, entries, 8, NOW, NOW + timedelta(hours=6))
    crl = cx509.load_der_x509_crl(der)
    assert len(crl) == len(entries)
    for (serial, at, reason), revoked in zip(entries, crl, strict=True):
        assert revoked.serial_number == serial
        assert revoked.revocation_date_utc == at.replace(microsecond=0)
        code = reason_code(reason)
        if not code:
            assert len(revoked.extensions) == 0  # unspecified is omitted
        else:
            flag = revoked.extensions.get_extension_for_class(cx509.CRLReason).value.reason
            assert (
                flag.name
                == {
                    1: "key_compromise",
                    2: "ca_compromise",
                    3: "affiliation_changed",
                    4: "superseded",
                    5: "cessation_of_operation",
                    6: "certificate_hold",
                    8: "remove_from_crl",
                    9: "privilege_withdrawn",
                    10: "aa_compromise",
                }[code]
            )
    assert _verify(family, der)


def test_issuing_distribution_point_is_critical():
    ca = pki("rsa").ca
    der = build_crl(ca.cert, ca.signer, [(5, NOW, None)], 1, NOW, NOW + timedelta(days=1), IDP)
    ext = cx509.load_der_x509_crl(der).extensions.get_extension_for_class(cx509.IssuingDistributionPoint)
    assert ext.critical
    assert ext.value.full_name == [cx509.UniformResourceIdentifier(IDP)]


def test_time_forms_and_inputs():
    assert der_time(datetime(2049, 12, 31, 23, 59, 59)) == b"\x17\x0d491231235959Z"
    assert der_time(datetime(2050, 1, 1, tzinfo=UTC)) == b"\x18\x0f20500101000000Z"
    east8 = datetime(2026, 1, 1, 8, 0, tzinfo=UTC).astimezone(ZoneInfo("Asia/Shanghai"))
    naive = datetime(2026, 1, 1, 0, 0)
    posix = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp())
    late = datetime(2051, 6, 1, 12, 0, 1, tzinfo=UTC)
    blob = encode_entries([(1, east8, None), (2, naive, None), (3, posix, None), (4, late, "superseded")])
    assert blob == (
        b"\x30\x12\x02\x01\x01\x17\x0d260101080000Z"
        b"\x30\x12\x02\x01\x02\x17\x0d260101000000Z"
        b"\x30\x12\x02\x01\x03\x17\x0d260101000000Z"
        b"\x30\x22\x02\x01\x04\x18\x0f20510601120001Z"
        b"\x30\x0c\x30\x0a\x06\x03\x55\x1d\x15\x04\x03\x0a\x01\x04"
    )


def test_rejections():
    ca = pki("rsa").ca
    with pytest.raises(DomainError):
        build_crl(ca.cert, ca.signer, [(1, NOW, "no-such-reason")], 1, NOW, NOW + timedelta(days=1))
    with pytest.raises(DomainError):
        build_crl(ca.cert, ca.signer, [(0, NOW, None)], 1, NOW, NOW + timedelta(days=1))
    with pytest.raises(DomainError):
        build_crl(ca.cert, ca.signer, [], 1, NOW, NOW)
    with pytest.raises(ValueError):
        build_crl(ca.cert, pki("rsa").leaf.signer, [], 1, NOW, NOW + timedelta(days=1))


def test_shard_for_is_stable_and_spread():
    # pinned: changing the hash would move revoked serials to other CRL shards
    assert [shard_for(s, 16) for s in (1, 2, 0x1000, 2**158 + 1)] == [5, 13, 5, 7]
    assert shard_for(12345, 1) == 0
    counts = [0] * 8
    for s in range(1, 8001):
        counts[shard_for(s, 8)] += 1
    assert min(counts) > 850
    with pytest.raises(ValueError):
        shard_for(1, 0)
