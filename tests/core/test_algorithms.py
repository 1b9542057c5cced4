"""The algorithm registry agrees with asn1crypto's names and OIDs."""

from __future__ import annotations

import pytest
from asn1crypto import algos

from core.algorithms import (
    DIGESTS,
    SIGNATURE_ALGORITHMS,
    digest_name,
    signature_algorithm,
    signature_algorithm_by_oid,
)


@pytest.mark.parametrize("entry", SIGNATURE_ALGORITHMS, ids=lambda a: a.name)
def test_every_entry_is_found_by_name_and_oid_and_named_as_asn1crypto_does(entry):
    assert signature_algorithm(entry.name) is entry
    assert signature_algorithm_by_oid(entry.oid) is entry
    assert algos.SignedDigestAlgorithmId(entry.asn1_name).dotted == entry.oid
    assert entry.key_type in ("sm2", "rsa", "ecdsa")
    assert (entry.encoding == "pkcs1v15") == (entry.key_type == "rsa")


def test_names_and_oids_are_unique():
    assert len({a.name for a in SIGNATURE_ALGORITHMS}) == len(SIGNATURE_ALGORITHMS)
    assert len({a.oid for a in SIGNATURE_ALGORITHMS}) == len(SIGNATURE_ALGORITHMS)


def test_unknown_algorithms():
    assert signature_algorithm_by_oid("1.2.3.4") is None
    with pytest.raises(KeyError):
        signature_algorithm("dsa-sha1")


@pytest.mark.parametrize("name, oid", DIGESTS.items())
def test_digests_are_found_by_any_spelling_or_oid(name, oid):
    assert algos.DigestAlgorithmId(name).dotted == oid
    assert digest_name(oid) == digest_name(name.upper()) == name
    assert digest_name(name.replace("sha", "sha-")) == name


def test_unknown_digests_are_none():
    assert digest_name(None) is None
    assert digest_name("md5") is None
    assert digest_name("1.2.840.113549.2.5") is None
