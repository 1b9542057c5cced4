"""GM/T object identifiers are known to asn1crypto by name once core.oids is imported."""

from __future__ import annotations

from asn1crypto import algos, cms, keys

from core import oids


def test_sm_algorithms_round_trip_between_name_and_oid():
    for cls, name, dotted in [
        (algos.DigestAlgorithmId, "sm3", oids.SM3),
        (algos.SignedDigestAlgorithmId, "sm3_sm2", oids.SM3_WITH_SM2),
        (algos.SignedDigestAlgorithmId, "sm2_1", oids.SM2_1_SIGN),
        (algos.SignedDigestAlgorithmId, "sm3_rsa", oids.RSA_WITH_SM3),
    ]:
        assert cls(name).dotted == dotted
        assert cls.load(cls(dotted).dump()).native == name


def test_sm2_curve_is_a_named_curve():
    params = keys.ECDomainParameters(name="named", value="sm2p256v1")
    assert params.chosen.dotted == oids.SM2_CURVE
    assert keys.ECDomainParameters.load(params.dump()).chosen.native == "sm2p256v1"


def test_gbt35275_content_types_have_names():
    for dotted, name in oids.GBT35275_CONTENT_TYPES.items():
        assert cms.ContentType(dotted).native == name


def test_registering_twice_changes_nothing():
    before = dict(algos.SignedDigestAlgorithmId._map)
    oids._register()
    assert algos.SignedDigestAlgorithmId._map == before


def test_the_default_sm2_id_is_the_gbt_32918_one():
    assert oids.DEFAULT_SM2_ID == b"1234567812345678"
