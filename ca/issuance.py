"""Certificate issuance: checks, then the two-step cycle (intent committed, then certificate stored)
around the issuance core."""

from __future__ import annotations

import functools
from collections.abc import Generator
from datetime import timedelta

from asn1crypto import x509
from sqlalchemy import bindparam, insert, update
from sqlalchemy.exc import IntegrityError

from ca.csr import parse_csr
from ca.issuance_core import IssuanceRequest
from ca.models import IssuedCertificate
from ca.records import (
    CaContext,
    IssuedView,
    _key_kind,
    _subject_text,
    to_pem,
)
from core.der import serial_hex
from core.errors import ErrorCode, conflict, invalid
from core.threads import drive
from db.audit import Change, record, write_steps
from db.statements import values_list
from policies.profiles import Profile

_TABLE = IssuedCertificate.__table__
_INTENT_COLUMNS = (
    "ca_id",
    "serial_hex",
    "shard",
    "profile",
    "subject",
    "credit_code",
    "status",
    "tbs_der",
    "not_before",
    "not_after",
    "requester",
    "created_at",
)
# No RETURNING (nothing reads the new row's id); named parameters, as it may run inside a WITH clause.
_ADD_INTENT = insert(_TABLE).inline().values({c: bindparam(c) for c in _INTENT_COLUMNS})
_STORED_COLUMNS = ("c_ca", "c_serial", "certificate_der")
_STORE_CERTIFICATE = (
    update(_TABLE)
    .where(_TABLE.c.ca_id == bindparam("c_ca"), _TABLE.c.serial_hex == bindparam("c_serial"))
    .values(certificate_der=bindparam("certificate_der"), status="good")
)


# Several certificates stored by one statement on PostgreSQL (audit.Change.bulk); several intents,
# plain INSERTs, are one statement anyway (db.statements).
@functools.lru_cache(maxsize=64)
def _pg_store_certificates(rows: int) -> str:
    return (
        f"UPDATE {_TABLE.name} AS t SET certificate_der = u.der, status = 'good'"
        f" FROM (VALUES {values_list(len(_STORED_COLUMNS), rows)}) AS u(ca, serial, der)"
        " WHERE t.ca_id = u.ca AND t.serial_hex = u.serial"
    )


def _store_certificates(params: list[dict]) -> tuple[str, list]:
    return _pg_store_certificates(len(params)), [p[c] for p in params for c in _STORED_COLUMNS]


class CaIssuance:
    """Issuing certificates for requests and for keys held in keys/. Part of :class:`ca.service.CAService`."""

    def issue(
        self,
        ca_id: str,
        csr: bytes,
        profile_name: str,
        actor: str,
        credit_code: str | None = None,
        validity_days: int | None = None,
    ) -> IssuedView:
        """Certify the key of a PKCS#10 request (proof of possession checked) under a profile.
        Raises ApiError (4xx) for a request or CA that cannot be served."""
        steps = self.issue_steps(ca_id, csr, profile_name, actor, credit_code, validity_days)
        return write_steps(self.db, steps)

    def issue_steps(
        self,
        ca_id: str,
        csr: bytes,
        profile_name: str,
        actor: str,
        credit_code: str | None = None,
        validity_days: int | None = None,
    ) -> Generator[Change, None, IssuedView]:
        """:meth:`issue` as a call in steps (core.threads.BatchThreads): it yields the intent's
        Change, then the certificate's, each to be committed before it goes on."""
        self.context(ca_id)
        self._profile(profile_name)
        request = parse_csr(csr)
        return (
            yield from self._issue_steps(
                ca_id,
                request.public_key_info,
                request.subject,
                profile_name,
                actor,
                credit_code,
                validity_days,
            )
        )

    def issue_for_key(
        self,
        ca_id: str,
        spki,
        subject: x509.Name,
        profile_name: str,
        actor: str,
        credit_code: str | None = None,
        validity_days: int | None = None,
    ) -> IssuedView:
        """Certify a key we hold ourselves (keys/), e.g. a seal holder's, without a request."""
        steps = self._issue_steps(ca_id, spki, subject, profile_name, actor, credit_code, validity_days)
        return write_steps(self.db, steps)

    def _issue_steps(
        self,
        ca_id: str,
        spki,
        subject: x509.Name,
        profile_name: str,
        actor: str,
        credit_code: str | None,
        validity_days: int | None,
    ) -> Generator[Change, None, IssuedView]:
        ctx = self.context(ca_id)
        if ctx.status != "active":
            raise conflict(f"CA {ca_id} is {ctx.status}: it issues nothing", ErrorCode.CA_REVOKED)
        profile = self._profile(profile_name)
        kind = _key_kind(spki)
        allowed = {"sm2": {"sm2"}, "rsa": {"rsa", "ecdsa-p256"}}[ctx.algorithm]
        if kind not in allowed:
            raise invalid(
                f"CA {ca_id} signs only {ctx.algorithm.upper()}: it does not certify {kind} keys",
                ErrorCode.ALGORITHM_NOT_SIGNED,
            )
        problem = profile.key_problem(spki)
        if problem:
            raise invalid(problem, ErrorCode.KEY_POLICY)
        problems = profile.subject_problems(subject)
        if problems:
            raise invalid("; ".join(problems), ErrorCode.SUBJECT)
        if self._is_ca_key(spki):
            raise invalid("the request reuses a CA key", ErrorCode.KEY_REUSE)
        if validity_days is not None and not 1 <= validity_days <= profile.max_validity_days:
            raise invalid(
                f"validity_days must be 1..{profile.max_validity_days} for {profile_name}", ErrorCode.VALIDITY
            )
        now = self.clock.now()
        not_after = min(
            now + timedelta(days=validity_days or profile.max_validity_days), ctx.certificate.not_valid_after
        )
        request = IssuanceRequest(profile, subject, spki, now, not_after, credit_code)
        cert_der = yield from self._sign_steps(ctx, request, actor)
        return IssuedView(
            ca_id,
            serial_hex(x509.Certificate.load(cert_der).serial_number),
            "good",
            to_pem(cert_der),
            "".join(to_pem(c) for c in ctx.chain),
        )

    def _profile(self, name: str) -> Profile:
        profile = self.profiles.get(name)
        if profile is None or profile.ca:
            names = ", ".join(sorted(n for n, p in self.profiles.items() if not p.ca))
            raise invalid(f"unknown profile {name!r}; one of {names}", ErrorCode.UNKNOWN_PROFILE)
        return profile

    def _sign_into(self, session, ctx: CaContext, request: IssuanceRequest, actor: str) -> bytes:
        """The issuance cycle in the caller's session (CA set-up): each step committed there."""

        def write(change: Change) -> None:
            try:
                session.execute(change.statement, change.params)
                record(session, change.actor, change.action, change.target, **change.details)
                session.commit()
            except IntegrityError:
                session.rollback()
                raise

        return drive(self._sign_steps(ctx, request, actor), write)

    def _sign_steps(
        self, ctx: CaContext, request: IssuanceRequest, actor: str
    ) -> Generator[Change, None, bytes]:
        """The issuance cycle: the core builds and lints, the intent is committed (the first Change
        yielded), the core signs exactly the linted TBS and checks it, the certificate is stored
        (the second). Signing holds no write lock: it runs between the two units of work."""
        token = self.issuance.prepare(ctx.issuing, request)
        try:
            key, subject_text = serial_hex(token.serial), _subject_text(request.subject)
            target, profile_name = f"{ctx.id}/{key}", request.profile.name
            intent = {
                "ca_id": ctx.id,
                "serial_hex": key,
                "shard": token.shard,
                "profile": profile_name,
                "subject": subject_text,
                "credit_code": request.credit_code,
                "status": "intent",
                "tbs_der": token.tbs,
                "not_before": token.not_before,
                "not_after": token.not_after,
                "requester": actor,
                "created_at": request.now,
            }
            try:
                yield Change(
                    _ADD_INTENT,
                    intent,
                    actor,
                    "certificate.sign-intent",
                    target,
                    {"profile": profile_name},
                )
            except IntegrityError:
                raise conflict("serial collision; retry the request", ErrorCode.SERIAL_COLLISION) from None
            cert_der = self.issuance.issue(token)
            stored = {"c_ca": ctx.id, "c_serial": key, "certificate_der": cert_der}
            details = {"profile": profile_name, "subject": subject_text, "credit_code": request.credit_code}
            yield Change(
                _STORE_CERTIFICATE, stored, actor, "certificate.issue", target, details, _store_certificates
            )
            return cert_der
        finally:
            self.issuance.discard(token)  # a token that was signed is already gone: nothing happens

    def _is_ca_key(self, spki) -> bool:
        key = spki["public_key"].dump()
        return any(ctx.certificate.public_key["public_key"].dump() == key for ctx in self._all_contexts())
