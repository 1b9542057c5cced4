"""CA use cases: hierarchy bootstrap, issuance (lint → intent → sign → check → store), revocation,
CRLs, OCSP and time stamps. Each state change commits with its audit event.

``CAService`` is the one entry point; each group of use cases lives in its own module
(ca.hierarchy, ca.issuance, ca.revocation, ca.status) and shares ca.records."""

from __future__ import annotations

from datetime import datetime

from ca.hierarchy import CaHierarchy
from ca.issuance import CaIssuance
from ca.issuance_core import IssuanceCore
from ca.records import (  # noqa: F401  (the names callers import from ca.service)
    CRL_VALIDITY,
    INTENT_TIMEOUT,
    OCSP_REFRESH,
    OCSP_VALIDITY,
    REASONS,
    CaContext,
    IssuedView,
    parse_serial,
    to_pem,
)
from ca.revocation import CaRevocation
from ca.status import CaStatus
from core.clock import Clock
from core.versioned import VersionedCache
from db.base import Database
from db.truth import Topic
from keys.service import KeyService
from policies.ceremony import Ceremony
from policies.profiles import Profile


class CAService(CaHierarchy, CaIssuance, CaRevocation, CaStatus):
    def __init__(
        self,
        db: Database,
        keys: KeyService,
        profiles: dict[str, Profile],
        ceremony: Ceremony,
        public_url: str,
        clock: Clock,
    ):
        self.db = db
        self.keys = keys
        self.profiles = profiles
        self.ceremony = ceremony
        self.public_url = public_url.rstrip("/")
        self.clock = clock
        self.issuance = IssuanceCore(self.public_url)
        # Loaded CAs (and the tuple of all CA ids under the key None), until a CA or key changes.
        self._contexts: VersionedCache = VersionedCache(db.generation.watch(Topic.CAS, Topic.KEYS))
        # Pre-signed OCSP answers by request bytes and by (CA, CertID, status), until any status changes.
        self._ocsp_answers: VersionedCache[object, tuple[bytes, datetime]] = VersionedCache(
            db.generation.watch(Topic.CAS, Topic.KEYS, Topic.REVOCATIONS), max_items=100_000
        )
