"""Key management centre (GM/T 0014 / GM/T 0034 practice): generates encryption key pairs,
escrows each private key under the KMC's own key and releases one only enveloped to a named certificate.

The escrow key: an AES-256 key made once (a key record labelled ``kmc-escrow``, algorithm
``aes-256-gcm``): with the software backend its bytes are stored wrapped under the key-encryption key
like any software key (so ``longtrust keys rewrap`` re-wraps it); with the PKCS#11 backend it is a
sensitive, non-extractable secret key on the token, used with CKM_AES_GCM. Disabling it makes the
KMC create a new one for later escrows; older rows still open with the key that sealed them.

Escrow: the PKCS#8 key sealed with AES-256-GCM under the escrow key (format of keys/kek.py:
0x01 ‖ 12-byte nonce ‖ ciphertext ‖ tag) with ``kmc/<escrow id>`` as associated data, so an escrow
row cannot stand in for another row or for a signing key. Each row records the key that sealed it
(``escrow_key_ref``; none: sealed directly under the key-encryption key, as rows made before the
escrow key existed; :meth:`KeyManagementCentre.reseal_legacy` moves those under the escrow key).
Envelopes: keys/envelope.py (GM/T 0009 SM2EnvelopedKey, RFC 5652 CMS).
"""

from __future__ import annotations

import base64
import os
import secrets
import threading
from dataclasses import dataclass
from typing import Protocol

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.der import serial_hex
from core.errors import ErrorCode, conflict, invalid, not_found
from db.audit import record
from db.base import Database, utcnow
from keys import envelope
from keys.kek import KeyEncryptor
from keys.models import KeyRecord, KmcEscrow
from keys.sm2 import SM2PrivateKey

# CA algorithm -> the encryption key the KMC makes for it
KEY_FOR_CA = {"sm2": "sm2", "rsa": "rsa-2048"}
ESCROW_KEY_LABEL = "kmc-escrow"
ESCROW_KEY_ALGORITHM = "aes-256-gcm"
BACKENDS = ("software", "pkcs11")


class Cipher(Protocol):
    def seal(self, plaintext: bytes, key_ref: str) -> bytes: ...

    def open(self, blob: bytes, key_ref: str) -> bytes: ...


class _TokenCipher:
    """AES-256-GCM with a PKCS#11 token's secret key, in the blob format of keys/kek.KeyEncryptor."""

    def __init__(self, token, label: str):
        self._token, self._label = token, label

    def seal(self, plaintext: bytes, key_ref: str) -> bytes:
        nonce = os.urandom(12)
        return (
            b"\x01"
            + nonce
            + self._token.aes_gcm(self._label, plaintext, nonce, key_ref.encode(), encrypt=True)
        )

    def open(self, blob: bytes, key_ref: str) -> bytes:
        if blob[:1] != b"\x01":
            raise ValueError(f"unknown key encryption format for {key_ref}")
        return self._token.aes_gcm(self._label, blob[13:], blob[1:13], key_ref.encode(), encrypt=False)


@dataclass(frozen=True)
class EscrowedKey:
    id: str
    algorithm: str
    public_key_info: asn1_keys.PublicKeyInfo


class KeyManagementCentre:
    """Generates, escrows and releases encryption keys; every step audited in the caller's or its own
    unit of work. Private keys leave only as envelopes (keys/envelope.py)."""

    def __init__(self, db: Database, encryptor: KeyEncryptor, backend: str = "software", pkcs11_token=None):
        """``backend``: where a new escrow key is made, "software" (wrapped under ``encryptor``, the
        KEK) or "pkcs11" (on ``pkcs11_token``, a keys.pkcs11.Pkcs11Token offering AES-GCM).
        ValueError for another backend, or pkcs11 without such a token."""
        if backend not in BACKENDS:
            raise ValueError(f"the KMC key backend is one of {', '.join(BACKENDS)}, not {backend!r}")
        if backend == "pkcs11" and not (pkcs11_token and pkcs11_token.supports_aes_gcm()):
            raise ValueError("a PKCS#11 KMC key needs a configured token offering CKM_AES_GCM")
        self.db = db
        self._encryptor = encryptor
        self._backend = backend
        self._pkcs11 = pkcs11_token
        self._ciphers: dict[str, Cipher] = {}  # escrow key ref -> its cipher
        self._creating = threading.Lock()

    def generate(self, ca_algorithm: str, actor: str, purpose: str) -> EscrowedKey:
        """Generate an encryption key pair for a CA of ``ca_algorithm`` ("sm2" → SM2, "rsa" → RSA-2048)
        and commit its escrow, sealed under the escrow key (made on first use), with the audit event
        ``kmc.generate``. Raises DomainError INVALID for another algorithm, CONFLICT when the escrow
        key cannot seal."""
        spec = KEY_FOR_CA.get(ca_algorithm)
        if spec is None:
            raise invalid(f"the KMC makes no encryption keys for {ca_algorithm} CAs", ErrorCode.KMC_ALGORITHM)
        escrow_id = "esc-" + secrets.token_hex(8)
        pkcs8, spki = _new_key(spec)
        try:
            key_ref = self._escrow_key(actor)
            sealed = self._cipher(key_ref).seal(pkcs8, _aad(escrow_id))
        except ValueError as exc:  # e.g. the token refused, or the key record is unreadable
            raise conflict(f"the KMC cannot seal: {exc}", ErrorCode.KMC_KEY) from None
        with self.db.unit_of_work() as s:
            s.add(
                KmcEscrow(
                    id=escrow_id,
                    algorithm=spec,
                    public_key_der=spki.dump(),
                    encrypted_private_key=sealed,
                    escrow_key_ref=key_ref,
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
            raise invalid(str(exc), ErrorCode.RECIPIENT_KEY) from None
        if kind != escrow.algorithm.split("-")[0]:
            raise invalid(
                f"a {escrow.algorithm} key is enveloped only to a {kind} certificate", ErrorCode.RECIPIENT_KEY
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
            pkcs8 = self._open(row)
        except ValueError as exc:
            raise conflict(str(exc), ErrorCode.ESCROW_UNREADABLE) from None
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
            recipient_serial=serial_hex(recipient.serial_number),
        )
        return der

    def reseal_legacy(self, actor: str, batch_size: int = 100) -> int:
        """Move escrow rows sealed directly under the key-encryption key (made before the escrow key
        existed) under the escrow key, one transaction and one audit event ``kmc.reseal`` per batch.
        Returns how many rows moved; running it again finds none. ValueError for a row that does not
        open under the key-encryption key."""
        legacy = select(KmcEscrow).where(KmcEscrow.escrow_key_ref.is_(None)).order_by(KmcEscrow.id)
        with self.db.read() as s:
            if s.scalars(legacy.limit(1)).first() is None:
                return 0  # nothing to move: no escrow key is made for it
        key_ref, done = self._escrow_key(actor), 0
        while True:
            with self.db.unit_of_work() as s:
                rows = list(s.scalars(legacy.limit(batch_size).with_for_update()))
                if not rows:
                    return done
                for row in rows:
                    pkcs8 = self._encryptor.open(row.encrypted_private_key, _aad(row.id))
                    row.encrypted_private_key = self._cipher(key_ref).seal(pkcs8, _aad(row.id))
                    row.escrow_key_ref = key_ref
                record(s, actor, "kmc.reseal", key_ref, escrows=[r.id for r in rows])
            done += len(rows)

    def _open(self, row: KmcEscrow) -> bytes:
        if row.escrow_key_ref is None:
            return self._encryptor.open(row.encrypted_private_key, _aad(row.id))
        return self._cipher(row.escrow_key_ref).open(row.encrypted_private_key, _aad(row.id))

    def _escrow_key(self, actor: str) -> str:
        """The active escrow key's reference, made (and audited ``key.create``) when there is none."""
        with self._creating:
            with self.db.read() as s:
                key_ref = s.scalars(_active_escrow_key()).first()
            if key_ref is not None:
                return key_ref
            key_ref = f"key-{secrets.token_hex(8)}"
            blob = None
            if self._backend == "pkcs11":
                self._pkcs11.generate_aes_key(key_ref)
            else:
                data_key = os.urandom(32)
                blob = self._encryptor.seal(data_key, key_ref)
                self._ciphers[key_ref] = KeyEncryptor(base64.b64encode(data_key).decode())
            rec = KeyRecord(
                key_ref=key_ref,
                label=ESCROW_KEY_LABEL,
                algorithm=ESCROW_KEY_ALGORITHM,
                backend=self._backend,
                encrypted_private_key=blob,
                public_key_der=b"",  # a secret key: nothing public
                status="active",
                created_at=utcnow(),
            )
            with self.db.unit_of_work() as s:
                s.add(rec)
                record(
                    s,
                    actor,
                    "key.create",
                    key_ref,
                    label=ESCROW_KEY_LABEL,
                    algorithm=ESCROW_KEY_ALGORITHM,
                    backend=self._backend,
                )
            return key_ref

    def _cipher(self, key_ref: str) -> Cipher:
        """The cipher of escrow key ``key_ref`` (any status: a disabled key still opens its rows)."""
        cipher = self._ciphers.get(key_ref)
        if cipher is not None:
            return cipher
        with self.db.read() as s:
            rec = s.get(KeyRecord, key_ref)
        if rec is None or rec.algorithm != ESCROW_KEY_ALGORITHM:
            raise ValueError(f"escrow key {key_ref} is missing")
        if rec.backend == "pkcs11":
            if self._pkcs11 is None:
                raise ValueError(f"escrow key {key_ref} lives in a PKCS#11 token that is not configured")
            cipher = _TokenCipher(self._pkcs11, key_ref)
        else:
            data_key = self._encryptor.open(rec.encrypted_private_key, key_ref)
            cipher = KeyEncryptor(base64.b64encode(data_key).decode())
        self._ciphers[key_ref] = cipher
        return cipher


def _active_escrow_key():
    return (
        select(KeyRecord.key_ref)
        .where(
            KeyRecord.label == ESCROW_KEY_LABEL,
            KeyRecord.algorithm == ESCROW_KEY_ALGORITHM,
            KeyRecord.status == "active",
        )
        .order_by(KeyRecord.created_at.desc(), KeyRecord.key_ref)
    )


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
