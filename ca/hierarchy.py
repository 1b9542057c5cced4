"""CA hierarchy use cases: the ceremony, sub-CAs, OCSP responders, time-stamping units, self-check
and periodic maintenance."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from asn1crypto import x509
from sqlalchemy import select

from ca import ocsp
from ca.issuance_core import IssuanceRequest
from ca.models import CertificateAuthority
from ca.records import (
    REASONS,
    CaContext,
    _key_spec,
    _name,
)
from core.der import serial_hex
from core.errors import DomainError, ErrorCode, conflict, invalid, not_found
from db.audit import record
from db.truth import Topic, bump
from policies.ceremony import CaSpec, ca_spec


class CaHierarchy:
    """The CA hierarchy: creating CAs, their responders and time-stamping units; loading them.
    Part of :class:`ca.service.CAService`."""

    def bootstrap(self, actor: str) -> bool:
        """Create every CA of the ceremony that does not exist yet; True if any was created."""
        created = False
        for spec in self.ceremony.cas:
            with self.db.read() as s:
                exists = s.get(CertificateAuthority, spec.id) is not None
            if not exists:
                self.create_ca(spec, actor)
                created = True
        return created

    def create_ca(self, spec: CaSpec, actor: str) -> CaContext:
        profile_name = "issuing-ca" if spec.parent else "root-ca"
        profile = dataclasses.replace(self.profiles[profile_name], path_length=spec.path_length)
        subject = _name(spec.subject)
        now = self.clock.now()
        with self.db.unit_of_work() as s:
            if s.get(CertificateAuthority, spec.id) is not None:
                raise conflict(f"CA {spec.id} already exists", ErrorCode.CA_EXISTS)
            key = self.keys.create(s, spec.key, f"CA {spec.id}", actor)
            signer = self.keys.signer(key.key_ref)
            spki = signer.public_key_info()
            if spec.parent:
                parent = self.context(spec.parent)
                not_after = min(now + timedelta(days=spec.validity_days), parent.certificate.not_valid_after)
                request = IssuanceRequest(profile, subject, spki, now, not_after)
                cert_der = self._sign_into(s, parent, request, actor)
            else:
                not_after = now + timedelta(days=spec.validity_days)
                request = IssuanceRequest(profile, subject, spki, now, not_after)
                cert_der = self.issuance.self_signed(spec.id, signer, request)
            s.add(
                CertificateAuthority(
                    id=spec.id,
                    name=spec.name,
                    algorithm=spec.algorithm,
                    parent_id=spec.parent,
                    key_ref=key.key_ref,
                    certificate_der=cert_der,
                    crl_shards=spec.crl_shards,
                    status="active",
                    created_at=now,
                )
            )
            record(s, actor, "ca.create", spec.id, name=spec.name, parent=spec.parent, key_ref=key.key_ref)
            bump(s, Topic.CAS)
        self.renew_responder(spec.id, actor)
        if spec.tsa_subject:
            self._create_tsa(spec, actor)
        return self.context(spec.id)

    def check_ca_request(self, raw: dict) -> CaSpec:
        """The spec of a new sub-CA, checked before anyone approves it: invalid (bad definition, no
        parent, a parent with path length 0) or conflict (the id exists)."""
        known = {c.id for c in self.list_cas()}
        try:
            spec = ca_spec(raw, known)
        except (KeyError, TypeError, ValueError) as exc:
            raise invalid(f"bad CA definition: {exc}", ErrorCode.CA_SPEC) from None
        if spec.parent is None:
            raise invalid("new CAs are subordinate: name a parent CA", ErrorCode.CA_SPEC)
        if spec.id in known:
            raise conflict(f"CA {spec.id} already exists", ErrorCode.CA_EXISTS)
        if self.context(spec.parent).certificate.max_path_length == 0:
            raise invalid(f"CA {spec.parent} may not have subordinate CAs (path length 0)", ErrorCode.CA_SPEC)
        return spec

    def check_ca_revocation(self, ca_id: str, reason: str) -> None:
        """Refuse a revocation that cannot be carried out: not_found, invalid (a root, a bad reason)."""
        ctx = self.context(ca_id)
        if ctx.parent_id is None:
            raise invalid("a root is withdrawn from trust lists, not revoked", ErrorCode.ROOT)
        if reason not in REASONS:
            raise invalid(
                f"unknown revocation reason {reason!r}; one of {', '.join(REASONS)}", ErrorCode.BAD_REASON
            )

    def revoke_ca(self, ca_id: str, reason: str, actor: str) -> None:
        """Revoke a subordinate CA's certificate at its parent and stop it issuing anything
        (after :meth:`check_ca_revocation` and a second operator's approval)."""
        self.check_ca_revocation(ca_id, reason)
        ctx = self.context(ca_id)
        with self.db.unit_of_work() as s:
            s.get(CertificateAuthority, ca_id).status = "revoked"
            record(s, actor, "ca.revoke", ca_id, reason=reason)
            bump(s, Topic.CAS)
        self._revoke_row(ctx.parent_id, serial_hex(ctx.certificate.serial_number), reason, actor)

    def _create_tsa(self, spec: CaSpec, actor: str) -> None:
        ctx = self.context(spec.id)
        now = self.clock.now()
        with self.db.unit_of_work() as s:
            key = self.keys.create(s, spec.key, f"TSA of {spec.id}", actor)
            spki = self.keys.signer(key.key_ref).public_key_info()
            not_after = min(
                now + timedelta(days=self.ceremony.tsa_validity_days), ctx.certificate.not_valid_after
            )
            subject = _name({"O": "LongTrust", **spec.tsa_subject})
            request = IssuanceRequest(self.profiles["tsa"], subject, spki, now, not_after)
            cert_der = self._sign_into(s, ctx, request, actor)
            row = s.get(CertificateAuthority, spec.id)
            row.tsa_key_ref, row.tsa_certificate_der = key.key_ref, cert_der
            record(s, actor, "ca.tsa-create", spec.id, key_ref=key.key_ref)
            bump(s, Topic.CAS)

    def renew_responder(self, ca_id: str, actor: str) -> None:
        """Issue a fresh delegated OCSP responder certificate (short-lived, id-pkix-ocsp-nocheck)."""
        ctx = self.context(ca_id)
        now = self.clock.now()
        with self.db.unit_of_work() as s:
            row = s.get(CertificateAuthority, ca_id)
            old_key = row.ocsp_key_ref
            key = self.keys.create(s, _key_spec(ctx), f"OCSP responder of {ca_id}", actor)
            spki = self.keys.signer(key.key_ref).public_key_info()
            not_after = min(
                now + timedelta(days=self.ceremony.ocsp_validity_days), ctx.certificate.not_valid_after
            )
            subject = _name({"O": "LongTrust", "CN": f"{ctx.name} OCSP Responder"})
            request = IssuanceRequest(self.profiles["ocsp-responder"], subject, spki, now, not_after)
            cert_der = self._sign_into(s, ctx, request, actor)
            row.ocsp_key_ref, row.ocsp_certificate_der = key.key_ref, cert_der
            if old_key:
                self.keys.disable(s, old_key, actor, "responder renewed")
            record(s, actor, "ca.responder-renew", ca_id, key_ref=key.key_ref)
            bump(s, Topic.CAS)

    def self_check(self) -> list[str]:
        """Problems that must stop the service: CA keys not matching certificates, missing key usages."""
        problems = []
        with self.db.read() as s:
            ids = list(s.scalars(select(CertificateAuthority.id)))
        for ca_id in ids:
            try:
                ctx = self.context(ca_id)
            except (DomainError, ValueError) as exc:
                problems.append(f"CA {ca_id}: {exc}")
                continue
            if (
                ctx.signer.public_key_info()["public_key"].dump()
                != ctx.certificate.public_key["public_key"].dump()
            ):
                problems.append(f"CA {ca_id}: its key does not match its certificate")
            usages = ctx.certificate.key_usage_value.native if ctx.certificate.key_usage_value else set()
            if not {"key_cert_sign", "crl_sign"} <= set(usages):
                problems.append(f"CA {ca_id}: certificate lacks keyCertSign/cRLSign")
        return problems

    def context(self, ca_id: str) -> CaContext:
        """The CA as the database has it now (cached until any CA or key changes, in any process).

        Raises DomainError NOT_FOUND for an unknown CA."""
        return self._contexts.get_or_load(ca_id, lambda: self._load_context(ca_id))

    def _load_context(self, ca_id: str) -> CaContext:
        with self.db.read() as s:
            row = s.get(CertificateAuthority, ca_id)
        if row is None:
            raise not_found(f"no CA {ca_id!r}")
        cert = x509.Certificate.load(row.certificate_der)
        chain = [] if row.parent_id is None else [row.certificate_der] + self.context(row.parent_id).chain
        responder = responder_cert = None
        if row.ocsp_key_ref:
            responder_cert = x509.Certificate.load(row.ocsp_certificate_der)
            responder = ocsp.Responder(responder_cert, self.keys.signer(row.ocsp_key_ref))
        return CaContext(
            id=row.id,
            name=row.name,
            algorithm=row.algorithm,
            parent_id=row.parent_id,
            certificate=cert,
            signer=self.keys.signer(row.key_ref),
            chain=chain,
            responder=responder,
            responder_cert=responder_cert,
            tsa_cert=x509.Certificate.load(row.tsa_certificate_der) if row.tsa_certificate_der else None,
            tsa_signer=self.keys.signer(row.tsa_key_ref) if row.tsa_key_ref else None,
            crl_shards=row.crl_shards,
            status=row.status,
        )

    def list_cas(self) -> list[CertificateAuthority]:
        with self.db.read() as s:
            return list(
                s.scalars(
                    select(CertificateAuthority).order_by(
                        CertificateAuthority.created_at, CertificateAuthority.id
                    )
                )
            )

    def _all_contexts(self) -> list[CaContext]:
        """Every CA, as the database has it now."""
        ids = self._contexts.get_or_load(None, lambda: tuple(ca.id for ca in self.list_cas()))
        return [self.context(ca_id) for ca_id in ids]

    def maintain(self, actor: str = "system:scheduler") -> None:
        """Periodic work: refresh CRLs, renew responder certificates close to expiry."""
        renew_before = timedelta(days=self.ceremony.ocsp_renew_before_days)
        self.revoke_stale_intents(actor)
        for ca in self.list_cas():
            self.current_crls(ca.id)
            responder_cert = (
                x509.Certificate.load(ca.ocsp_certificate_der) if ca.ocsp_certificate_der else None
            )
            if responder_cert is None or responder_cert.not_valid_after - renew_before <= self.clock.now():
                self.renew_responder(ca.id, actor)
