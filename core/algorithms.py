"""The one registry of signature and digest algorithms: names, OIDs, digests, key types, encodings.

Our own names (``sm2-sm3``, ``rsa-pkcs1-sha256`` ...) are what keys.Signer reports, what the trust
list writes and what ``keys.verification.verify_signature`` takes. Signing uses the first three;
the others are only verified (SES, PDF and OFD signatures made elsewhere).
"""

from __future__ import annotations

from dataclasses import dataclass

from core.oids import RSA_WITH_SM3, SM2_1_SIGN, SM3, SM3_WITH_SM2

SM2_SM3 = "sm2-sm3"
RSA_PKCS1_SHA256 = "rsa-pkcs1-sha256"
ECDSA_P256_SHA256 = "ecdsa-p256-sha256"


@dataclass(frozen=True)
class SignatureAlgorithm:
    name: str  # ours, e.g. "sm2-sm3"
    oid: str  # the signatureAlgorithm OID, dotted
    asn1_name: str  # asn1crypto's SignedDigestAlgorithmId name ("sm3_sm2"); the OID when it has none
    digest: str | None  # "sm3", "sha256" ...; None: named by the DigestInfo inside a PKCS#1 v1.5 block
    key_type: str  # "sm2" | "rsa" | "ecdsa"
    encoding: str  # "der" SEQUENCE{r, s} | "plain" r‖s (BSI TR-03111) | "pkcs1v15" (RFC 8017)
    display: str  # the name standards and reports use, e.g. "SM3withSM2"

    @property
    def null_parameters(self) -> bool:
        """RSA AlgorithmIdentifiers carry NULL parameters (RFC 4055 §5); SM2 and ECDSA omit them."""
        return self.key_type == "rsa"


def _rsa(name: str, oid: str, asn1_name: str, digest: str | None, display: str) -> SignatureAlgorithm:
    return SignatureAlgorithm(name, oid, asn1_name, digest, "rsa", "pkcs1v15", display)


def _plain_ecdsa(n: int, digest: str) -> SignatureAlgorithm:
    oid = f"0.4.0.127.0.7.1.1.4.1.{n}"
    return SignatureAlgorithm(
        f"ecdsa-plain-{digest}", oid, oid, digest, "ecdsa", "plain", f"ecdsa-plain-{digest}"
    )


SIGNATURE_ALGORITHMS = (
    SignatureAlgorithm(SM2_SM3, SM3_WITH_SM2, "sm3_sm2", "sm3", "sm2", "der", "SM3withSM2"),
    SignatureAlgorithm("sm2-1", SM2_1_SIGN, "sm2_1", "sm3", "sm2", "der", "SM2-1"),
    _rsa(RSA_PKCS1_SHA256, "1.2.840.113549.1.1.11", "sha256_rsa", "sha256", "SHA256withRSA"),
    _rsa("rsa-pkcs1-sha1", "1.2.840.113549.1.1.5", "sha1_rsa", "sha1", "SHA1withRSA"),
    _rsa("rsa-pkcs1-sha384", "1.2.840.113549.1.1.12", "sha384_rsa", "sha384", "SHA384withRSA"),
    _rsa("rsa-pkcs1-sha512", "1.2.840.113549.1.1.13", "sha512_rsa", "sha512", "SHA512withRSA"),
    _rsa("rsa-pkcs1-sm3", RSA_WITH_SM3, "sm3_rsa", "sm3", "SM3withRSA"),
    _rsa("rsa-pkcs1", "1.2.840.113549.1.1.1", "rsassa_pkcs1v15", None, "RSA PKCS#1 v1.5"),
    SignatureAlgorithm(
        ECDSA_P256_SHA256, "1.2.840.10045.4.3.2", "sha256_ecdsa", "sha256", "ecdsa", "der", "SHA256withECDSA"
    ),
    *(
        _plain_ecdsa(n, digest)
        for n, digest in enumerate(("sha1", "sha224", "sha256", "sha384", "sha512"), 1)
    ),
)
_BY_NAME = {a.name: a for a in SIGNATURE_ALGORITHMS}
_BY_OID = {a.oid: a for a in SIGNATURE_ALGORITHMS}

# digest name -> OID (GB/T 32905 SM3, FIPS 180-4 SHA): the digests a document may name for its data
DIGESTS = {
    "sm3": SM3,
    "sha1": "1.3.14.3.2.26",
    "sha256": "2.16.840.1.101.3.4.2.1",
    "sha384": "2.16.840.1.101.3.4.2.2",
    "sha512": "2.16.840.1.101.3.4.2.3",
}
_DIGEST_BY_OID = {oid: name for name, oid in DIGESTS.items()}


def signature_algorithm(name: str) -> SignatureAlgorithm:
    """The algorithm with our ``name``; KeyError for a name not in the registry."""
    return _BY_NAME[name]


def signature_algorithm_by_oid(dotted: str) -> SignatureAlgorithm | None:
    """The algorithm whose signatureAlgorithm OID is ``dotted``; None when it is not known here."""
    return _BY_OID.get(dotted)


def digest_name(text: str | None) -> str | None:
    """The registry name of a digest given by name in any common spelling ("SM3", "sha-256",
    "SHA_384") or by OID; None when unknown."""
    key = (text or "").strip().lower().replace("-", "").replace("_", "")
    if key in DIGESTS:
        return key
    return _DIGEST_BY_OID.get(key)
