"""Answers to relying parties: OCSP (RFC 6960) and time stamps (RFC 3161)."""

from __future__ import annotations

from datetime import datetime

from asn1crypto import x509
from sqlalchemy import select

from ca import ocsp, tsa
from ca.builder import random_serial
from ca.models import IssuedCertificate
from ca.records import (
    OCSP_REFRESH,
    OCSP_VALIDITY,
    CaContext,
    log,
)
from core.der import serial_hex
from core.errors import DomainError
from db.base import database_unavailable


class CaStatus:
    """OCSP responses and time-stamp tokens. Part of :class:`ca.service.CAService`."""

    def ocsp(self, request_der: bytes) -> bytes:
        """An OCSP response for any input: malformedRequest for garbage, tryLater while the database
        cannot be reached (RFC 6960 §4.2.1), never an exception."""
        try:
            return self._ocsp(request_der)
        except Exception as exc:
            if not database_unavailable(exc):
                raise
            log.warning("OCSP answered tryLater: the database cannot be reached")
            return ocsp.try_later()

    def ocsp_held(self, request_der: bytes) -> bytes | None:
        """The pre-signed answer held for exactly these request bytes, or None; it neither reads the
        database nor signs, so an event loop may call it."""
        hit, _ = self._ocsp_answers.lookup(request_der)
        return hit[0] if hit is not None and hit[1] > self.clock.now() else None

    def _ocsp(self, request_der: bytes) -> bytes:
        """The OCSP answer from the database (or its caches).

        Requests without a nonce for one known certificate get pre-signed responses, kept until any
        certificate's status, a CA or a key changes in any process (or OCSP_REFRESH passes)."""
        now = self.clock.now()
        hit, at = self._ocsp_answers.lookup(request_der)
        if hit is not None and hit[1] > now:
            return hit[0]
        try:
            request = ocsp.parse_request(request_der)
        except DomainError:
            return ocsp.malformed_request()
        ctx = self._ca_for_cert_id(request[0])
        if ctx is None or ctx.responder is None:
            return ocsp.unauthorized()
        statuses = [
            self._status_for(ctx, item) if self._ca_for_cert_id(item) is ctx else None for item in request
        ]
        if request.nonce is None and len(request) == 1:
            der = self._presigned(ctx, request[0], statuses[0], now)
            if statuses[0] is not None:  # "unknown" may become "good" without any status change
                self._ocsp_answers.put(request_der, (der, now + OCSP_REFRESH), at)
            return der
        singles = [_single(item, status, now) for item, status in zip(request, statuses, strict=True)]
        return ctx.responder.sign(singles, now, request.nonce)

    def _presigned(self, ctx: CaContext, item: ocsp.CertIdRequest, status, now: datetime) -> bytes:
        key = (ctx.id, item.der, status)
        hit, at = self._ocsp_answers.lookup(key)
        if hit is not None and hit[1] > now:
            return hit[0]
        der = ctx.responder.sign([_single(item, status, now)], now)
        self._ocsp_answers.put(key, (der, now + OCSP_REFRESH), at)
        return der

    def _status_for(self, ctx: CaContext, item: ocsp.CertIdRequest):
        with self.db.read() as s:
            row = s.execute(
                select(
                    IssuedCertificate.status,
                    IssuedCertificate.revoked_at,
                    IssuedCertificate.revocation_reason,
                ).where(
                    IssuedCertificate.ca_id == ctx.id, IssuedCertificate.serial_hex == serial_hex(item.serial)
                )
            ).first()
        if row is None:
            return None
        # An intent whose signing outcome is unknown may exist as a certificate: answer good until revoked.
        return ("good" if row[0] == "intent" else row[0], row[1], row[2])

    def _ca_for_cert_id(self, item: ocsp.CertIdRequest) -> CaContext | None:
        for ca in self._all_contexts():
            if ocsp.match_cert_id(item, *ca.key_material()):
                return ca
        return None

    def timestamp(self, query_der: bytes) -> bytes:
        """An RFC 3161 reply for any input: a rejection with failInfo for bad queries."""
        try:
            query = tsa.parse_query(query_der)
            family = tsa.choose(query)
            ctx = next((c for c in self._all_contexts() if c.algorithm == family and c.tsa_signer), None)
            if ctx is None:
                return tsa.rejection("badAlg", f"no {family} time-stamping unit is configured")
            return tsa.build_reply(
                query,
                ctx.tsa_cert,
                ctx.tsa_signer,
                serial=random_serial(),
                gen_time=self.clock.now(),
                policy_oid=self.ceremony.tsa_policy_oid,
                accuracy_ms=self.ceremony.tsa_accuracy_ms,
                include_cert=query.cert_req,
                certs=[x509.Certificate.load(c) for c in ctx.chain],
            )
        except DomainError as exc:
            return tsa.rejection(exc.code, exc.detail)


def _single(item: ocsp.CertIdRequest, status, now: datetime) -> bytes:
    state, revoked_at, reason = status or ("unknown", None, None)
    return ocsp.single_response(
        ocsp.SingleStatus(item, state, revoked_at, reason, now, now + OCSP_VALIDITY), now
    )
