"""SM2 known answers (GM/T 0003.5 example) and cross-checks with gmssl, an independent implementation."""

from __future__ import annotations

import pytest
from asn1crypto import algos

from keys import sm2
from tests.ca.pki import gmssl_sm2

D = int("3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8", 16)
PX = "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
PY = "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13"
R = int("F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3", 16)
S = int("B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA", 16)
MSG = b"message digest"


def _der(r: int, s: int) -> bytes:
    return algos.DSASignature({"r": r, "s": s}).dump()


def test_public_key_from_standard_scalar():
    assert sm2.SM2PrivateKey.from_scalar(D).public_point.hex().upper() == "04" + PX + PY


def test_standard_example_signature_verifies_der_and_raw():
    point = bytes.fromhex("04" + PX + PY)
    der = _der(R, S)
    assert len(der) == 72
    assert sm2.verify(point, MSG, der)
    assert sm2.verify(point, MSG, R.to_bytes(32, "big") + S.to_bytes(32, "big"))


def test_standard_example_fails_with_other_id_message_or_values():
    point = bytes.fromhex("04" + PX + PY)
    assert not sm2.verify(point, MSG, _der(R, S), user_id=b"ALICE123@YAHOO.COM")
    assert not sm2.verify(point, MSG, _der(R, S), user_id=b"")
    assert not sm2.verify(point, b"message digesT", _der(R, S))
    assert not sm2.verify(point, MSG, _der(R, S + 1))
    assert not sm2.verify(point, MSG, _der(0, S))
    assert not sm2.verify(point, MSG, b"\x30\x03garbage")


def test_raw_signature_whose_r_begins_like_a_der_sequence_verifies():
    key = sm2.SM2PrivateKey.generate()
    raws = (algos.DSASignature.load(key.sign(MSG)).to_p1363() for _ in range(20_000))
    raw = next(r for r in raws if r[0] == 0x30)  # one r in 256 starts with the SEQUENCE tag
    assert sm2.verify(key.public_point, MSG, raw)
    assert not sm2.verify(key.public_point, b"message digesT", raw)


def test_sign_with_other_id_verifies_only_with_that_id():
    key = sm2.SM2PrivateKey.generate()
    sig = key.sign(MSG, user_id=b"ALICE123@YAHOO.COM")
    assert sm2.verify(key.public_point, MSG, sig, user_id=b"ALICE123@YAHOO.COM")
    assert not sm2.verify(key.public_point, MSG, sig)


def test_pkcs8_round_trip_keeps_the_key():
    key = sm2.SM2PrivateKey.generate()
    again = sm2.SM2PrivateKey.from_pkcs8(key.to_pkcs8())
    assert again.public_point == key.public_point
    assert sm2.verify(key.public_point, MSG, again.sign(MSG))


def test_signatures_are_randomised():
    key = sm2.SM2PrivateKey.generate()
    assert key.sign(MSG) != key.sign(MSG)


pytest.importorskip("gmssl.sm2", reason="gmssl (test extra) not installed")


def _gmssl(key: sm2.SM2PrivateKey, with_private: bool = True):
    return gmssl_sm2(key.public_point, key.private_scalar().hex() if with_private else "")


def test_gmssl_verifies_our_signatures():
    key = sm2.SM2PrivateKey.generate()
    for message in (MSG, b"", bytes(range(256)) * 10):
        sig = algos.DSASignature.load(key.sign(message)).to_p1363()
        assert _gmssl(key, with_private=False).verify_with_sm3(sig.hex(), message)


def test_we_verify_gmssl_signatures_and_not_with_another_id():
    key = sm2.SM2PrivateKey.generate()
    import secrets

    raw = bytes.fromhex(_gmssl(key).sign_with_sm3(MSG, secrets.token_hex(32)))
    assert sm2.verify(key.public_point, MSG, raw)
    assert sm2.verify(key.public_point, MSG, algos.DSASignature.from_p1363(raw).dump())
    assert not sm2.verify(key.public_point, MSG, raw, user_id=b"1234567812345679")
