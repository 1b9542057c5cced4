"""Digital envelopes that deliver a private key to the holder of a certificate.

- RSA recipients: RFC 5652 CMS ``ContentInfo { envelopedData }`` (DER) with one KeyTransRecipientInfo
  (version 0, issuerAndSerialNumber, RSAES-OAEP with SHA-256 and MGF1-SHA-256, RFC 8017 / RFC 4055)
  and AES-256-CBC content encryption (RFC 3565; PKCS#7 padding). The content is the PKCS#8 key.
- SM2 recipients: GM/T 0009 ``SM2EnvelopedKey`` (DER), see docs/kmc.md: a fresh SM4 key encrypted to
  the recipient with SM2 (SM2Cipher, C1‖C3‖C2), and the 32-byte private scalar under SM4-ECB.

Primitives come from ``cryptography`` (RSA-OAEP, AES, SM4) and libcrypto (SM2 encryption, keys/sm2.py).
"""

from __future__ import annotations

import os

from asn1crypto import cms, core
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric import padding as asym_padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from core.oids import SM2_CURVE
from keys import sm2

SM4_ECB = "1.2.156.10197.1.104.1"


class AlgorithmIdentifier(core.Sequence):
    _fields = [("algorithm", core.ObjectIdentifier), ("parameters", core.Any, {"optional": True})]


class SM2Cipher(core.Sequence):
    """GM/T 0009 SM2Cipher: C1 coordinates, C3 = SM3 hash, C2 = ciphertext."""

    _fields = [
        ("x_coordinate", core.Integer),
        ("y_coordinate", core.Integer),
        ("hash", core.OctetString),
        ("cipher_text", core.OctetString),
    ]


class SM2EnvelopedKey(core.Sequence):
    """GM/T 0009 SM2EnvelopedKey."""

    _fields = [
        ("sym_alg_id", AlgorithmIdentifier),
        ("sym_encrypted_key", SM2Cipher),
        ("sm2_public_key", core.OctetBitString),
        ("sm2_encrypted_private_key", core.OctetBitString),
    ]


def recipient_kind(certificate: asn1_x509.Certificate) -> str:
    """ "sm2" or "rsa" for a certificate a key can be enveloped to; ValueError for any other key."""
    spki = certificate.public_key
    algorithm = spki["algorithm"]["algorithm"].native
    if algorithm == "rsa":
        return "rsa"
    params = spki["algorithm"]["parameters"]
    if algorithm == "ec" and params.name == "named" and params.chosen.dotted == SM2_CURVE:
        return "sm2"
    raise ValueError("keys are enveloped only to SM2 or RSA certificates")


def sm2_enveloped_key(private_scalar: bytes, public_point: bytes, recipient_point: bytes) -> bytes:
    """DER SM2EnvelopedKey delivering an SM2 key pair (32-byte scalar, 65-byte point) to the holder
    of ``recipient_point`` (65-byte 04‖X‖Y). SM2 errors raise sm2.SM2Error."""
    sym_key = os.urandom(16)
    encryptor = Cipher(algorithms.SM4(sym_key), modes.ECB()).encryptor()
    wrapped = encryptor.update(private_scalar) + encryptor.finalize()
    return SM2EnvelopedKey(
        {
            "sym_alg_id": {"algorithm": SM4_ECB},
            "sym_encrypted_key": SM2Cipher.load(sm2.encrypt(recipient_point, sym_key)),
            "sm2_public_key": core.OctetBitString(public_point),
            "sm2_encrypted_private_key": core.OctetBitString(wrapped),
        }
    ).dump()


def cms_enveloped_data(content: bytes, recipient: asn1_x509.Certificate) -> bytes:
    """DER CMS ContentInfo(envelopedData) carrying ``content`` (id-data) to an RSA certificate."""
    cek, iv = os.urandom(32), os.urandom(16)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(content) + padder.finalize()
    encryptor = Cipher(algorithms.AES(cek), modes.CBC(iv)).encryptor()
    rsa_key = serialization.load_der_public_key(recipient.public_key.dump())
    oaep = asym_padding.OAEP(asym_padding.MGF1(hashes.SHA256()), hashes.SHA256(), None)
    recipient_info = cms.KeyTransRecipientInfo(
        {
            "version": "v0",
            "rid": cms.RecipientIdentifier(
                name="issuer_and_serial_number",
                value=cms.IssuerAndSerialNumber(
                    {"issuer": recipient.issuer, "serial_number": recipient.serial_number}
                ),
            ),
            "key_encryption_algorithm": {
                "algorithm": "rsaes_oaep",
                "parameters": {
                    "hash_algorithm": {"algorithm": "sha256"},
                    "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": {"algorithm": "sha256"}},
                },
            },
            "encrypted_key": rsa_key.encrypt(cek, oaep),
        }
    )
    enveloped = cms.EnvelopedData(
        {
            "version": "v0",
            "recipient_infos": [cms.RecipientInfo(name="ktri", value=recipient_info)],
            "encrypted_content_info": {
                "content_type": "data",
                "content_encryption_algorithm": {"algorithm": "aes256_cbc", "parameters": iv},
                "encrypted_content": encryptor.update(padded) + encryptor.finalize(),
            },
        }
    )
    return cms.ContentInfo({"content_type": "enveloped_data", "content": enveloped}).dump()
