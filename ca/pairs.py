"""Dual certificates (GM/T 0014 / GM/T 0034 practice): the subscriber's signing certificate from its
CSR, and an encryption certificate for a key the KMC (keys/kmc.py) generates and escrows; the
encryption private key is delivered enveloped to the signing certificate's key.

Key recovery under dual control: a security administrator asks for an escrowed key to be
enveloped to a named recipient certificate; a different operator approves through the one approvals
mechanism (app/approvals.py), and only then is the key released. Every step is audited."""

from __future__ import annotations

import base64
from dataclasses import dataclass

from asn1crypto import pem, x509

from ca.csr import parse_csr
from ca.models import CertificatePair
from ca.service import CAService, parse_serial
from core.clock import Clock
from core.der import serial_hex
from core.errors import DomainError, ErrorCode, ErrorKind, invalid
from db.audit import record
from keys.kmc import KeyManagementCentre
from policies.profiles import Profile


@dataclass(frozen=True)
class PairView:
    signing_serial_hex: str
    encryption_serial_hex: str
    signing_certificate_pem: str
    encryption_certificate_pem: str
    chain_pem: str
    enveloped_private_key: bytes  # DER: SM2EnvelopedKey (SM2) or CMS ContentInfo(envelopedData) (RSA)

    @property
    def enveloped_private_key_b64(self) -> str:
        return base64.b64encode(self.enveloped_private_key).decode()


class PairService:
    def __init__(self, ca: CAService, kmc: KeyManagementCentre, clock: Clock):
        self.ca, self.kmc, self.clock = ca, kmc, clock

    def issue_pair(self, ca_id: str, csr: bytes, profile_name: str, actor: str, **fields) -> PairView:
        """Issue a signing certificate for the CSR's key (proof of possession checked) under
        ``profile_name`` and an encryption certificate (its ``encryption_pair`` profile, same subject)
        for a fresh KMC key, escrowed; returns both with the encryption key enveloped to the
        signing key. ``fields``: ``credit_code`` and ``validity_days``, as for ``CAService.issue``,
        for both certificates. DomainError INVALID for a profile without a pair, a key that cannot
        receive an envelope, or anything ``CAService.issue`` refuses; nothing is stored then."""
        ctx = self.ca.context(ca_id)
        request = parse_csr(csr)
        enc_profile = self._encryption_profile(ctx, profile_name, request.public_key_info)
        signing = self.ca.issue_for_key(
            ca_id, request.public_key_info, request.subject, profile_name, actor, **fields
        )
        escrow = self.kmc.generate(ctx.algorithm, actor, f"{ca_id}/{signing.serial_hex}")
        encryption = self.ca.issue_for_key(
            ca_id, escrow.public_key_info, request.subject, enc_profile.name, actor, **fields
        )
        enveloped = self._store(ca_id, signing, encryption, escrow.id, actor)
        return PairView(
            signing.serial_hex,
            encryption.serial_hex,
            signing.certificate_pem,
            encryption.certificate_pem,
            signing.chain_pem,
            enveloped,
        )

    def _encryption_profile(self, ctx, profile_name: str, spki) -> Profile:
        """The paired encryption profile; INVALID when there is none or the key cannot take an envelope."""
        profile = self.ca.profiles.get(profile_name)
        if profile is None or profile.ca or not profile.encryption_pair:
            paired = sorted(n for n, p in self.ca.profiles.items() if p.encryption_pair)
            raise invalid(
                f"profile {profile_name!r} has no paired encryption profile; use one of {', '.join(paired)}",
                ErrorCode.NO_PAIR,
            )
        expected = "ec" if ctx.algorithm == "sm2" else "rsa"
        if spki["algorithm"]["algorithm"].native != expected:
            raise invalid(
                f"CA {ctx.id} envelopes the encryption key to the signing key: send an {ctx.algorithm} CSR",
                ErrorCode.ENVELOPE_KEY,
            )
        enc_profile = self.ca.profiles[profile.encryption_pair]
        if ctx.algorithm not in enc_profile.algorithms:
            raise invalid(
                f"profile {enc_profile.name} does not certify {ctx.algorithm} keys", ErrorCode.KEY_POLICY
            )
        return enc_profile

    def _store(self, ca_id: str, signing, encryption, escrow_id: str, actor: str) -> bytes:
        """Bind the escrow, store the pair and release the delivery envelope in one transaction."""
        signing_cert = _load_pem(signing.certificate_pem)
        with self.ca.db.unit_of_work() as s:
            self.kmc.bind(s, escrow_id, ca_id, encryption.serial_hex, actor)
            s.add(
                CertificatePair(
                    ca_id=ca_id,
                    signing_serial_hex=signing.serial_hex,
                    encryption_serial_hex=encryption.serial_hex,
                    escrow_id=escrow_id,
                    created_at=self.clock.now(),
                )
            )
            record(
                s,
                actor,
                "certificate.pair",
                f"{ca_id}/{signing.serial_hex}",
                encryption_serial=encryption.serial_hex,
                escrow=escrow_id,
            )
            return self.kmc.release(s, escrow_id, signing_cert, actor, "delivery")


class RecoveryService:
    """Key recovery: checks a request and, once a second operator approved it (app/approvals.py,
    operation ``key.recovery``), releases the escrowed key enveloped to the named recipient."""

    def __init__(self, ca: CAService, kmc: KeyManagementCentre, clock: Clock):
        self.ca, self.kmc, self.clock = ca, kmc, clock

    def check(self, body: dict) -> dict:
        """The recovery payload for ``body`` ``{ca_id, serial_hex, reason, case_reference,
        recipient_certificate_pem}`` with the serial normalised (lower-case hex). The encryption
        certificate must have an escrowed key and the recipient must be a good certificate of one of
        our CAs of the key's family. DomainError INVALID (reason or case missing, unknown recipient,
        wrong family) or NOT_FOUND (no escrowed key); reads only."""
        if not body["reason"].strip() or not body["case_reference"].strip():
            raise invalid("a recovery needs a reason and a case reference", ErrorCode.RECOVERY_JUSTIFICATION)
        payload = {**body, "serial_hex": serial_hex(parse_serial(body["serial_hex"]))}
        recipient = self._known_recipient(payload["recipient_certificate_pem"])
        with self.ca.db.read() as s:
            escrow = self.kmc.escrow_for(s, payload["ca_id"], payload["serial_hex"])
            self.kmc.check_recipient(escrow, recipient)
        return payload

    def release(self, payload: dict, actor: str) -> tuple[int, dict]:
        """Carry out an approved recovery: (200, ``{ca_id, serial_hex, status: "released", reason,
        case_reference, enveloped_private_key_b64}``), the key enveloped to the recipient (DER as in
        :meth:`KeyManagementCentre.release`), audited ``key.recovery-release`` and ``kmc.release`` in
        one transaction. The recipient is checked again (it may have been revoked meanwhile)."""
        recipient = self._known_recipient(payload["recipient_certificate_pem"])
        ca_id, key = payload["ca_id"], payload["serial_hex"]
        with self.ca.db.unit_of_work() as s:
            escrow = self.kmc.escrow_for(s, ca_id, key)
            record(
                s,
                actor,
                "key.recovery-release",
                f"{ca_id}/{key}",
                case=payload["case_reference"],
                recipient_serial=serial_hex(recipient.serial_number),
            )
            why = f"recovery, case {payload['case_reference']}"
            enveloped = self.kmc.release(s, escrow.id, recipient, actor, why)
        return 200, {
            "ca_id": ca_id,
            "serial_hex": key,
            "status": "released",
            "reason": payload["reason"],
            "case_reference": payload["case_reference"],
            "enveloped_private_key_b64": base64.b64encode(enveloped).decode(),
        }

    def _known_recipient(self, recipient_pem: str) -> x509.Certificate:
        try:
            cert = _load_pem(recipient_pem)
        except ValueError:
            raise invalid(
                "recipient_certificate_pem is not a PEM certificate", ErrorCode.UNKNOWN_RECIPIENT
            ) from None
        for ca in self.ca.list_cas():
            if self.ca.context(ca.id).certificate.subject != cert.issuer:
                continue
            try:
                view = self.ca.get(ca.id, serial_hex(cert.serial_number))
            except DomainError as exc:
                if exc.kind != ErrorKind.NOT_FOUND:
                    raise
                continue
            if (
                view.status == "good"
                and view.certificate_pem
                and _load_pem(view.certificate_pem).dump() == cert.dump()
            ):
                return cert
        raise invalid(
            "the recipient is not a valid certificate issued by this service", ErrorCode.UNKNOWN_RECIPIENT
        )


def _load_pem(text: str) -> x509.Certificate:
    data = text.encode()
    try:
        der = pem.unarmor(data)[2] if pem.detect(data) else data
        cert = x509.Certificate.load(der)
        cert.native  # noqa: B018  (parse fully: asn1crypto is lazy)
    except (ValueError, TypeError, OSError) as exc:
        raise ValueError(f"not a certificate: {exc}") from None
    return cert
