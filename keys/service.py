"""Key lifecycle (create, list, disable) and the cached signers the other rooms use."""

from __future__ import annotations

import secrets
from collections.abc import Callable

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from core.errors import ErrorCode, conflict, invalid, not_found
from core.oids import DEFAULT_SM2_ID
from core.versioned import VersionedCache
from db.audit import record
from db.base import Database, utcnow
from db.truth import Topic, bump
from keys.kek import KeyEncryptor
from keys.models import KeyRecord
from keys.signer import CryptographySigner, Signer, SM2Signer
from keys.sm2 import SM2PrivateKey

# key spec -> signer algorithm
KEY_SPECS = {
    "sm2": "sm2-sm3",
    "rsa-2048": "rsa-pkcs1-sha256",
    "rsa-3072": "rsa-pkcs1-sha256",
    "rsa-4096": "rsa-pkcs1-sha256",
    "ecdsa-p256": "ecdsa-p256-sha256",
}


class KeyService:
    def __init__(
        self,
        db: Database,
        encryptor: KeyEncryptor,
        *,
        sm2_user_id: bytes = DEFAULT_SM2_ID,
        pkcs11_token=None,
        on_sign: Callable[[str], None] | None = None,
    ):
        """``on_sign(algorithm)``, when given, is called after every signature (for metrics)."""
        self.db = db
        self._on_sign = on_sign
        self._encryptor = encryptor
        self._sm2_user_id = sm2_user_id
        self._pkcs11 = pkcs11_token
        self._signers: VersionedCache[str, Signer] = VersionedCache(db.generation.watch(Topic.KEYS))
        # Keys made in a transaction still open: the creator signs with them at once. Never cached;
        # each is dropped when its transaction ends, committed (then read back) or rolled back.
        self._created: dict[str, Signer] = {}

    def create(
        self, session: Session, spec: str, label: str, actor: str, backend: str = "software"
    ) -> KeyRecord:
        """Generate a key inside the caller's transaction and audit it."""
        if spec not in KEY_SPECS:
            raise invalid(
                f"unknown key type {spec!r}; one of {', '.join(KEY_SPECS)}", ErrorCode.UNKNOWN_KEY_TYPE
            )
        key_ref = f"key-{secrets.token_hex(8)}"
        if backend == "pkcs11":
            if self._pkcs11 is None:
                raise invalid("no PKCS#11 token is configured (LONGTRUST_PKCS11_MODULE)", ErrorCode.NO_HSM)
            bits = int(spec.split("-")[1]) if spec.startswith("rsa-") else None
            try:
                signer = self._pkcs11.generate_key(key_ref, KEY_SPECS[spec], bits=bits)
            except ValueError as exc:  # e.g. SM2 on a module without SM2 mechanisms
                raise invalid(str(exc), ErrorCode.HSM_UNSUPPORTED) from None
            blob = None
        elif backend == "software":
            signer, pkcs8 = _generate(key_ref, spec, self._sm2_user_id)
            blob = self._encryptor.seal(pkcs8, key_ref)
        else:
            raise invalid(f"unknown key backend {backend!r}", ErrorCode.UNKNOWN_BACKEND)
        rec = KeyRecord(
            key_ref=key_ref,
            label=label,
            algorithm=spec,
            backend=backend,
            encrypted_private_key=blob,
            public_key_der=signer.public_key_info().dump(),
            status="active",
            created_at=utcnow(),
        )
        session.add(rec)
        record(session, actor, "key.create", key_ref, label=label, algorithm=spec, backend=backend)
        self._created[key_ref] = self._observed(signer)
        event.listen(session, "after_transaction_end", self._forget_when_ended(key_ref))
        return rec

    def _forget_when_ended(self, key_ref: str):
        def forget(_session: Session, transaction) -> None:
            if transaction.parent is None:  # the outermost transaction, not a savepoint
                self._created.pop(key_ref, None)

        return forget

    def list(self) -> list[KeyRecord]:
        with self.db.read() as s:
            return list(s.scalars(select(KeyRecord).order_by(KeyRecord.created_at)))

    def disable(self, session: Session, key_ref: str, actor: str, reason: str = "") -> KeyRecord:
        rec = session.get(KeyRecord, key_ref)
        if rec is None:
            raise not_found(f"no key {key_ref}")
        if rec.status == "disabled":
            raise conflict(f"key {key_ref} is already disabled", ErrorCode.ALREADY_DISABLED)
        rec.status, rec.disabled_at = "disabled", utcnow()
        record(session, actor, "key.disable", key_ref, reason=reason)
        bump(session, Topic.KEYS)
        return rec

    def rewrap(
        self,
        new_encryptor: KeyEncryptor,
        actor: str,
        *,
        batch_size: int = 100,
        progress: Callable[[int], None] | None = None,
    ) -> int:
        """Re-encrypt every software key under ``new_encryptor`` (KEK rotation), one transaction and
        one audit event ("key.rewrap") per batch of ``batch_size`` keys; ``progress(n)`` is called with
        the number of keys done after each batch. Resumable: a key that already opens under the new
        KEK is left as it is, so a run cut short is finished by running it again. Returns the count
        of keys re-encrypted. Raises ValueError for a key that opens under neither KEK. Processes
        still running with the old KEK must be restarted with the new one."""
        done, after = 0, ""
        while True:
            with self.db.unit_of_work() as session:
                batch = list(session.scalars(_software_keys_after(after, batch_size)))
                if not batch:
                    return done
                changed = [rec.key_ref for rec in batch if self._rewrap_one(rec, new_encryptor)]
                if changed:
                    record(session, actor, "key.rewrap", "keys", key_refs=changed)
            done += len(changed)
            after = batch[-1].key_ref
            if progress is not None:
                progress(len(batch))

    def software_key_count(self) -> int:
        """How many keys are encrypted under the KEK (software keys)."""
        with self.db.read() as s:
            return s.scalar(select(func.count()).where(KeyRecord.encrypted_private_key.is_not(None))) or 0

    def _rewrap_one(self, rec: KeyRecord, new_encryptor: KeyEncryptor) -> bool:
        try:
            pkcs8 = self._encryptor.open(rec.encrypted_private_key, rec.key_ref)
        except ValueError:
            new_encryptor.open(rec.encrypted_private_key, rec.key_ref)  # raises if under neither
            return False
        rec.encrypted_private_key = new_encryptor.seal(pkcs8, rec.key_ref)
        return True

    def signer(self, key_ref: str) -> Signer:
        """The signer for an active key, cached until any key's status changes in any process.

        Raises DomainError NOT_FOUND for an unknown key, CONFLICT for a disabled one."""
        created = self._created.get(key_ref)
        if created is not None:
            return created
        return self._signers.get_or_load(key_ref, lambda: self._load_signer(key_ref))

    def _load_signer(self, key_ref: str) -> Signer:
        with self.db.read() as s:
            rec = s.get(KeyRecord, key_ref)
        if rec is None:
            raise not_found(f"no key {key_ref}")
        if rec.status != "active":
            raise conflict(f"key {key_ref} is disabled", ErrorCode.KEY_DISABLED)
        if rec.algorithm not in KEY_SPECS:  # e.g. the KMC's escrow key (keys/kmc.py)
            raise conflict(
                f"key {key_ref} is a {rec.algorithm} key, not a signing key", ErrorCode.NOT_SIGNING
            )
        if rec.backend == "pkcs11":
            if self._pkcs11 is None:
                raise conflict(
                    f"key {key_ref} lives in a PKCS#11 token that is not configured", ErrorCode.NO_HSM
                )
            signer = self._pkcs11.signer(key_ref)
        else:
            signer = _load(
                key_ref,
                rec.algorithm,
                self._encryptor.open(rec.encrypted_private_key, key_ref),
                self._sm2_user_id,
            )
        return self._observed(signer)

    def _observed(self, signer: Signer) -> Signer:
        return signer if self._on_sign is None else _ObservedSigner(signer, self._on_sign)


class _ObservedSigner:
    """A Signer that reports each signature's algorithm; everything else is the wrapped signer's."""

    def __init__(self, signer: Signer, on_sign: Callable[[str], None]):
        self._signer = signer
        self._on_sign = on_sign

    def __getattr__(self, name: str):
        return getattr(self._signer, name)

    def sign(self, message: bytes) -> bytes:
        signature = self._signer.sign(message)
        self._on_sign(self._signer.algorithm)
        return signature


def _software_keys_after(key_ref: str, limit: int):
    return (
        select(KeyRecord)
        .where(KeyRecord.encrypted_private_key.is_not(None), KeyRecord.key_ref > key_ref)
        .order_by(KeyRecord.key_ref)
        .limit(limit)
    )


def _generate(key_ref: str, spec: str, sm2_user_id: bytes) -> tuple[Signer, bytes]:
    if spec == "sm2":
        key = SM2PrivateKey.generate()
        return SM2Signer(key_ref, key, sm2_user_id), key.to_pkcs8()
    if spec.startswith("rsa-"):
        pkey = rsa.generate_private_key(public_exponent=65537, key_size=int(spec.split("-")[1]))
    else:
        pkey = ec.generate_private_key(ec.SECP256R1())
    der = pkey.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return CryptographySigner(key_ref, pkey), der


def _load(key_ref: str, spec: str, pkcs8: bytes, sm2_user_id: bytes) -> Signer:
    if spec == "sm2":
        return SM2Signer(key_ref, SM2PrivateKey.from_pkcs8(pkcs8), sm2_user_id)
    # The key was checked when generated and comes back through authenticated encryption, so
    # OpenSSL's RSA consistency check (tens of milliseconds a key) would only repeat that work.
    key = serialization.load_der_private_key(pkcs8, None, unsafe_skip_rsa_key_validation=True)
    return CryptographySigner(key_ref, key)
