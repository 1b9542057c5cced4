"""Revocation and CRLs: revoking certificates, publishing and serving CRL shards, stale intents."""

from __future__ import annotations

from sqlalchemy import func, select, text, update

from ca import crl as crl_builder
from ca.models import CertificatePair, IssuedCertificate, PublishedCrl
from ca.records import (
    CRL_VALIDITY,
    INTENT_TIMEOUT,
    REASONS,
    IssuedView,
    _view,
    parse_serial,
)
from core.der import serial_hex
from core.errors import ErrorCode, conflict, forbidden, invalid, not_found
from db.audit import record
from db.truth import Topic, bump


class CaRevocation:
    """Certificate status changes and the CRLs that publish them. Part of :class:`ca.service.CAService`."""

    def get(self, ca_id: str, serial: str) -> IssuedView:
        ctx = self.context(ca_id)
        with self.db.read() as s:
            row = self._row(s, ca_id, serial)
        return _view(row, ctx)

    def _row(self, session, ca_id: str, serial: str) -> IssuedCertificate:
        key = serial_hex(parse_serial(serial))
        row = session.scalars(
            select(IssuedCertificate).where(
                IssuedCertificate.ca_id == ca_id, IssuedCertificate.serial_hex == key
            )
        ).first()
        if row is None:
            raise not_found(f"CA {ca_id} has no certificate with serial {key}")
        return row

    def revoke(self, ca_id: str, serial: str, reason: str, actor: str) -> IssuedView:
        """Revoke an end-entity certificate; CA certificates need dual control (request_ca_revocation)."""
        if reason not in REASONS:
            raise invalid(
                f"unknown revocation reason {reason!r}; one of {', '.join(REASONS)}", ErrorCode.BAD_REASON
            )
        with self.db.read() as s:
            profile = self._row(s, ca_id, serial).profile
        if profile in ("issuing-ca", "root-ca"):
            raise forbidden("revoking a CA certificate needs dual control: POST /api/v1/cas/{ca_id}/revoke")
        view = self._revoke_row(ca_id, serial, reason, actor)
        with self.db.read() as s:  # a signing certificate's encryption certificate goes with it
            paired = s.scalar(
                select(CertificatePair.encryption_serial_hex).where(
                    CertificatePair.ca_id == ca_id, CertificatePair.signing_serial_hex == view.serial_hex
                )
            )
        if paired and self.get(ca_id, paired).status != "revoked":
            self._revoke_row(ca_id, paired, reason, actor)
        return view

    def _revoke_row(self, ca_id: str, serial: str, reason: str, actor: str) -> IssuedView:
        ctx = self.context(ca_id)
        with self.db.unit_of_work() as s:
            row = self._row(s, ca_id, serial)
            if row.status == "revoked":
                raise conflict(f"certificate {row.serial_hex} is already revoked", ErrorCode.ALREADY_REVOKED)
            row.status, row.revoked_at, row.revocation_reason = "revoked", self.clock.now(), reason
            record(s, actor, "certificate.revoke", f"{ca_id}/{row.serial_hex}", reason=reason)
            bump(s, Topic.REVOCATIONS)
        self.publish_crl(ca_id, row.shard, actor)
        return _view(row, ctx)

    def publish_crl(self, ca_id: str, shard: int = 0, actor: str = "system:crl") -> bytes:
        ctx = self.context(ca_id)
        now = self.clock.now()
        with self.db.unit_of_work() as s:
            if self.db.is_postgres:
                s.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"crl:{ca_id}:{shard}"})
            number = (
                s.scalar(
                    select(func.max(PublishedCrl.number)).where(
                        PublishedCrl.ca_id == ca_id, PublishedCrl.shard == shard
                    )
                )
                or 0
            ) + 1
            entries = s.execute(
                select(
                    IssuedCertificate.serial_hex,
                    IssuedCertificate.revoked_at,
                    IssuedCertificate.revocation_reason,
                ).where(
                    IssuedCertificate.ca_id == ca_id,
                    IssuedCertificate.shard == shard,
                    IssuedCertificate.revoked_at.is_not(None),  # ix_certificates_revoked
                )
            ).all()
            der = crl_builder.build_crl(
                ctx.certificate,
                ctx.signer,
                ((int(h, 16), at, reason) for h, at, reason in entries),
                number,
                now,
                now + CRL_VALIDITY,
                idp_url=self.crl_url(ca_id, shard) if ctx.crl_shards > 1 else None,
            )
            s.add(
                PublishedCrl(
                    ca_id=ca_id,
                    shard=shard,
                    number=number,
                    this_update=now,
                    next_update=now + CRL_VALIDITY,
                    der=der,
                )
            )
            s.execute(
                PublishedCrl.__table__.delete().where(
                    PublishedCrl.ca_id == ca_id, PublishedCrl.shard == shard, PublishedCrl.number < number - 1
                )
            )
            record(s, actor, "crl.publish", f"{ca_id}/{shard}", number=number, entries=len(entries))
            bump(s, Topic.REVOCATIONS)
        return der

    def crl_url(self, ca_id: str, shard: int = 0) -> str:
        return self.issuance.crl_url(ca_id, shard)

    def current_crls(self, ca_id: str) -> list[bytes]:
        """Every shard's current CRL: what a relying party needs for any certificate of this CA."""
        return [self.current_crl(ca_id, shard) for shard in range(self.context(ca_id).crl_shards)]

    def current_crl(self, ca_id: str, shard: int = 0) -> bytes:
        """The newest CRL, published afresh when none exists or it is past half its validity."""
        ctx = self.context(ca_id)
        if not 0 <= shard < ctx.crl_shards:
            raise not_found(f"CA {ca_id} has no CRL shard {shard}")
        with self.db.read() as s:
            latest = s.scalars(
                select(PublishedCrl)
                .where(PublishedCrl.ca_id == ca_id, PublishedCrl.shard == shard)
                .order_by(PublishedCrl.number.desc())
                .limit(1)
            ).first()
        if latest is None or latest.this_update + CRL_VALIDITY / 2 <= self.clock.now():
            return self.publish_crl(ca_id, shard)
        return latest.der

    def revoke_stale_intents(self, actor: str = "system:scheduler") -> int:
        """Revoke every certificate whose intent is older than INTENT_TIMEOUT without a certificate:
        its signing outcome is unknown (a worker died between intent and result), so it may exist,
        and it must never answer OCSP ``good``. Returns how many were revoked; their CRLs are
        published afresh."""
        now = self.clock.now()
        table = IssuedCertificate.__table__
        with self.db.unit_of_work() as s:
            stale = s.execute(
                update(table)
                .where(table.c.status == "intent", table.c.created_at < now - INTENT_TIMEOUT)
                .values(status="revoked", revoked_at=now, revocation_reason="unspecified")
                .returning(table.c.ca_id, table.c.serial_hex, table.c.shard)
            ).all()
            if not stale:
                return 0
            for ca_id, key, _ in stale:
                record(s, actor, "certificate.revoke", f"{ca_id}/{key}", reason="unspecified", intent=True)
            bump(s, Topic.REVOCATIONS)
        for ca_id, shard in sorted({(ca_id, shard) for ca_id, _, shard in stale}):
            self.publish_crl(ca_id, shard, actor)
        return len(stale)
