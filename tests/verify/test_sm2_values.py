"""SM2 signature values as the field writes them: DER with or without the sign pad, raw r||s (64 bytes).

A seal vendor's stamps on real receipts encode r without the 0x00 pad, so a signed reading of the INTEGER
is negative; read unsigned, the signature verifies. Values outside [1, n-1] are refused.
"""

from __future__ import annotations

import pytest
from asn1crypto import algos, keys

from keys.sm2 import SM2PrivateKey
from tests.verify.test_ses_interop import make_cert
from verify.ses import load_certificate, signature_check
from verify.sm2_validation import SM2_ORDER, SM2_SIGNATURE_VALIDATOR, sm2_signature_der

MESSAGE = b"receipt 2026-000123: 1,024.00 CNY"
SM3_WITH_SM2 = "1.2.156.10197.1.501"


def integer(value: int, *, pad: bool) -> bytes:
    body = value.to_bytes(32, "big")
    if pad and body[0] & 0x80:
        body = b"\x00" + body
    return b"\x02" + bytes([len(body)]) + body


def sequence(r: int, s: int, *, pad: bool) -> bytes:
    body = integer(r, pad=pad) + integer(s, pad=pad)
    return b"\x30" + bytes([len(body)]) + body


@pytest.fixture(scope="module")
def signed():
    """(key, r, s) for a signature over MESSAGE whose r has its top bit set (reads negative unpadded)."""
    key = SM2PrivateKey.generate()
    for _ in range(200):
        parsed = algos.DSASignature.load(key.sign(MESSAGE))
        r, s = parsed["r"].native, parsed["s"].native
        if r >> 255:
            return key, r, s
    raise AssertionError("no signature with a high r in 200 tries")


def forms(r: int, s: int) -> dict[str, bytes]:
    return {
        "padded DER": sequence(r, s, pad=True),
        "unpadded DER (negative-looking r)": sequence(r, s, pad=False),
        "raw r||s": r.to_bytes(32, "big") + s.to_bytes(32, "big"),
    }


def test_unpadded_r_reads_negative_when_signed(signed):
    _, r, s = signed
    assert algos.DSASignature.load(sequence(r, s, pad=False))["r"].native < 0


@pytest.mark.parametrize("form", ["padded DER", "unpadded DER (negative-looking r)", "raw r||s"])
def test_every_form_gives_the_same_canonical_der(signed, form):
    _, r, s = signed
    der = sm2_signature_der(forms(r, s)[form])
    assert der == sequence(r, s, pad=True)
    parsed = algos.DSASignature.load(der)
    assert (parsed["r"].native, parsed["s"].native) == (r, s)


@pytest.mark.parametrize("form", ["padded DER", "unpadded DER (negative-looking r)", "raw r||s"])
def test_every_form_verifies_in_a_stamp_signature(signed, form):
    key, r, s = signed
    cert = load_certificate(make_cert(key, "Vendor seal signer"))
    value = forms(r, s)[form]
    assert signature_check("stamp_signature", cert, SM3_WITH_SM2, MESSAGE, value).result == "passed"
    changed = signature_check("stamp_signature", cert, SM3_WITH_SM2, MESSAGE + b"0", value)
    assert changed.result == "failed" and changed.sub_indication == "SIG_CRYPTO_FAILURE"


@pytest.mark.parametrize("form", ["padded DER", "unpadded DER (negative-looking r)", "raw r||s"])
def test_every_form_verifies_in_cms_and_certificates(signed, form):
    key, r, s = signed
    info = keys.PublicKeyInfo.load(key.public_key_info().dump())
    algorithm = algos.SignedDigestAlgorithm({"algorithm": "sm2_1"})
    SM2_SIGNATURE_VALIDATOR.validate_signature(forms(r, s)[form], MESSAGE, info, algorithm)


@pytest.mark.parametrize(
    ("r", "s"),
    [(0, 1), (1, 0), (SM2_ORDER, 1), (1, SM2_ORDER), (SM2_ORDER + 5, 7)],
    ids=["r=0", "s=0", "r=n", "s=n", "r>n"],
)
def test_values_outside_one_to_n_minus_one_are_refused(r, s):
    body = integer(r % 2**256, pad=True) + integer(s % 2**256, pad=True)
    with pytest.raises(ValueError, match=r"\[1, n-1\]"):
        sm2_signature_der(b"\x30" + bytes([len(body)]) + body)
    with pytest.raises(ValueError, match=r"\[1, n-1\]"):
        sm2_signature_der((r % 2**256).to_bytes(32, "big") + (s % 2**256).to_bytes(32, "big"))


def test_out_of_range_or_malformed_values_fail_the_signature_check(signed):
    key, r, s = signed
    cert = load_certificate(make_cert(key, "Vendor seal signer"))
    for value in (sequence(r, SM2_ORDER, pad=False), b"\x30\x03\x02\x01", b"x" * 63):
        check = signature_check("stamp_signature", cert, SM3_WITH_SM2, MESSAGE, value)
        assert check.result == "failed" and check.sub_indication == "SIG_CRYPTO_FAILURE"


# --------------------------------------------------------------------------- plain-ECDSA (BSI TR-03111)

ECDSA_PLAIN_SHA256 = "0.4.0.127.0.7.1.1.4.1.3"
ECDSA_PLAIN_SHA1 = "0.4.0.127.0.7.1.1.4.1.1"


def _plain_ecdsa():
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    key = ec.generate_private_key(ec.SECP256R1())
    r, s = decode_dss_signature(key.sign(MESSAGE, ec.ECDSA(hashes.SHA256())))
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return keys.PublicKeyInfo.load(spki), r.to_bytes(32, "big") + s.to_bytes(32, "big")


def test_plain_ecdsa_values_verify_and_tampering_fails():
    from cryptography.exceptions import InvalidSignature

    info, value = _plain_ecdsa()
    algorithm = algos.SignedDigestAlgorithm({"algorithm": ECDSA_PLAIN_SHA256})
    SM2_SIGNATURE_VALIDATOR.validate_signature(value, MESSAGE, info, algorithm)
    with pytest.raises(InvalidSignature):
        SM2_SIGNATURE_VALIDATOR.validate_signature(value, MESSAGE + b"0", info, algorithm)
    with pytest.raises(InvalidSignature):
        SM2_SIGNATURE_VALIDATOR.validate_signature(value[:-1], MESSAGE, info, algorithm)


def test_plain_ecdsa_is_on_the_allow_list_with_its_digest_only():
    from verify.sm2_validation import ALGORITHM_POLICY

    info, _ = _plain_ecdsa()
    public_key = info
    sha256 = algos.SignedDigestAlgorithm({"algorithm": ECDSA_PLAIN_SHA256})
    sha1 = algos.SignedDigestAlgorithm({"algorithm": ECDSA_PLAIN_SHA1})
    assert ALGORITHM_POLICY.signature_algorithm_allowed(sha256, None, public_key).allowed
    assert not ALGORITHM_POLICY.signature_algorithm_allowed(sha1, None, public_key).allowed
    digest = algos.DigestAlgorithm({"algorithm": "sha256"})
    assert ALGORITHM_POLICY.digest_combination_allowed(sha256, digest, None).allowed
    other = algos.DigestAlgorithm({"algorithm": "sha512"})
    assert not ALGORITHM_POLICY.digest_combination_allowed(sha256, other, None).allowed
