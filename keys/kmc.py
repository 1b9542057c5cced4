"""Key management centre (GM/T 0014 / GM/T 0034 practice): generates encryption key pairs,
escrows each private key under the KMC's key and releases one only enveloped to a named certificate.

Escrow: the PKCS#8 key sealed with AES-256-GCM (keys/kek.KeyEncryptor) under the key-encryption
key, with ``kmc/<escrow id>`` as associated data, so an escrow row cannot stand in for another row
or for a signing key. Envelopes: keys/envelope.py (GM/T 0009 SM2EnvelopedKey, RFC 5652 CMS).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import conflict, invalid, not_found
from db.audit import record
from db.base import Database, utcnow
from keys import envelope
from keys.kek import KeyEncryptor
from keys.models import KmcEscrow
from keys.sm2 import SM2PrivateKey

# CA algorithm -> the encryption key the KMC makes for it
KEY_FOR_CA = {"sm2": "sm2", "rsa": "rsa-2048"}


@dataclass(frozen=True)
class EscrowedKey:
    id: str
    algorithm: str
    public_key_info: asn1_keys.PublicKeyInfo


class KeyManagementCentre:
    """Generates, escrows and releases encryption keys; every step audited in the caller's or its own
    unit of work. Private keys leave only as envelopes (keys/envelope.py)."""

    def __init__(self, db: Database, encryptor: KeyEncryptor):
        self.db = db
        self._encryptor = encryptor

    def generate(self, ca_algorithm: str, actor: str, purpose: str) -> EscrowedKey:
        """Generate an encryption key pair for a CA of ``ca_algorithm`` ("sm2" → SM2, "rsa" → RSA-2048)
        and commit its escrow with the audit event ``kmc.generate``. Raises DomainError INVALID
        for another algorithm."""
        spec = KEY_FOR_CA.get(ca_algorithm)
        if spec is None:
            raise invalid(f"the KMC makes no encryption keys for {ca_algorithm} CAs", "kmc-algorithm")
        escrow_id = "esc-" + secrets.token_hex(8)
        pkcs8, spki = _new_key(spec)
        with self.db.unit_of_work() as s:
            s.add(
                KmcEscrow(
                    id=escrow_id,
                    algorithm=spec,
                    public_key_der=spki.dump(),
                    encrypted_private_key=self._encryptor.seal(pkcs8, _aad(escrow_id)),
                    created_at=utcnow(),
                )
            )
            record(s, actor, "kmc.generate", escrow_id, algorithm=spec, purpose=purpose)
        return EscrowedKey(escrow_id, spec, spki)

    def bind(self, session: Session, escrow_id: str, ca_id: str, serial_hex: str, actor: str) -> None:
        """Record which certificate (CA, serial) certifies an escrowed key, in the caller's transaction."""
        row = session.get(KmcEscrow, escrow_id)
        if row is None:
            raise not_found(f"no escrowed key {escrow_id}")
        row.ca_id, row.serial_hex = ca_id, serial_hex
        record(session, actor, "kmc.bind", escrow_id, ca_id=ca_id, serial=serial_hex)

    def escrow_for(self, session: Session, ca_id: str, serial_hex: str) -> KmcEscrow:
        """The escrow of the encryption certificate (CA, serial); DomainError NOT_FOUND otherwise."""
        row = session.scalars(
            select(KmcEscrow).where(KmcEscrow.ca_id == ca_id, KmcEscrow.serial_hex == serial_hex)
        ).first()
        if row is None:
            raise not_found(f"the KMC holds no key for certificate {serial_hex} of CA {ca_id}")
        return row

    def check_recipient(self, escrow: KmcEscrow, recipient: asn1_x509.Certificate) -> None:
        """DomainError INVALID unless the key can be enveloped to ``recipient`` (same family: an SM2
        key goes to an SM2 certificate, an RSA key to an RSA certificate)."""
        try:
            kind = envelope.recipient_kind(recipient)
        except ValueError as exc:
            raise invalid(str(exc), "recipient-key") from None
        if kind != escrow.algorithm.split("-")[0]:
            raise invalid(
                f"a {escrow.algorithm} key is enveloped only to a {kind} certificate", "recipient-key"
            )

    def release(
        self, session: Session, escrow_id: str, recipient: asn1_x509.Certificate, actor: str, why: str
    ) -> bytes:
        """The escrowed key enveloped to ``recipient`` (DER: SM2EnvelopedKey for SM2, CMS
        EnvelopedData holding PKCS#8 for RSA), audited ``kmc.release`` in the caller's transaction.
        Raises DomainError NOT_FOUND / INVALID (wrong recipient family) / CONFLICT (unreadable escrow)."""
        row = session.get(KmcEscrow, escrow_id)
        if row is None:
            raise not_found(f"no escrowed key {escrow_id}")
        self.check_recipient(row, recipient)
        try:
            pkcs8 = self._encryptor.open(row.encrypted_private_key, _aad(escrow_id))
        except ValueError as exc:
            raise conflict(str(exc), "escrow-unreadable") from None
        if row.algorithm == "sm2":
            key = SM2PrivateKey.from_pkcs8(pkcs8)
            point = recipient.public_key["public_key"].native
            der = envelope.sm2_enveloped_key(key.private_scalar(), key.public_point, point)
        else:
            der = envelope.cms_enveloped_data(pkcs8, recipient)
        record(
            session,
            actor,
            "kmc.release",
            escrow_id,
            why=why,
            recipient_issuer=recipient.issuer.human_friendly[:200],
            recipient_serial=format(recipient.serial_number, "x"),
        )
        return der


def _aad(escrow_id: str) -> str:
    return f"kmc/{escrow_id}"


def _new_key(spec: str) -> tuple[bytes, asn1_keys.PublicKeyInfo]:
    if spec == "sm2":
        key = SM2PrivateKey.generate()
        return key.to_pkcs8(), key.public_key_info()
    pkey = rsa.generate_private_key(public_exponent=65537, key_size=int(spec.split("-")[1]))
    pkcs8 = pkey.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    spki = pkey.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pkcs8, asn1_keys.PublicKeyInfo.load(spki)
