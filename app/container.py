"""Wiring: builds every room's service from the settings, once per process."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from app.admin_router import build_router as admin_router
from app.auth import make_require
from app.settings import Settings
from app.tokens import TokenService
from app.trust import LocalTrust
from ca.router import build_router as ca_router
from ca.service import CAService
from core.clock import SystemClock
from db.base import Database
from keys.kek import KeyEncryptor
from keys.service import KeyService
from policies.ceremony import load_ceremony
from policies.profiles import load_profiles
from seal_service.router import build_router as seal_router
from seal_service.service import SealService
from verify.router import build_router as verify_router
from verify.service import VerifyService


class StartupError(RuntimeError):
    """The service must not start; the message says why."""


@dataclass
class Services:
    settings: Settings
    db: Database
    keys: KeyService
    tokens: TokenService
    ca: CAService
    seals: SealService
    verify: VerifyService
    _stop: threading.Event = field(default_factory=threading.Event)

    def routers(self):
        require = make_require(self.tokens)
        return [
            admin_router(self.tokens, require),
            ca_router(self.ca, require),
            seal_router(self.seals, require),
            verify_router(self.verify),
        ]

    def periodic_jobs(self) -> list:
        return [self.ca.maintain]

    def health(self) -> dict:
        with self.db.read() as s:
            s.connection().exec_driver_sql("SELECT 1")
        return {"status": "ok", "region": self.settings.region}

    def close(self) -> None:
        self._stop.set()
        self.db.dispose()


def _pkcs11_token(settings: Settings):
    if not settings.pkcs11_module:
        return None
    from keys.pkcs11 import Pkcs11Token

    if not (settings.pkcs11_token_label and settings.pkcs11_pin):
        raise StartupError(
            "LONGTRUST_PKCS11_MODULE needs LONGTRUST_PKCS11_TOKEN_LABEL and LONGTRUST_PKCS11_PIN"
        )
    return Pkcs11Token(settings.pkcs11_module, settings.pkcs11_token_label, settings.pkcs11_pin)


def build_services(settings: Settings) -> Services:
    problems = settings.startup_problems()
    if problems:
        raise StartupError("; ".join(problems))
    db = Database(settings.db_url)
    keys = KeyService(
        db,
        KeyEncryptor(settings.kek),
        sm2_user_id=settings.sm2_user_id.encode(),
        pkcs11_token=_pkcs11_token(settings),
    )
    clock = SystemClock()
    ca = CAService(
        db, keys, load_profiles(), load_ceremony(settings.ceremony_file), settings.public_url, clock
    )
    seals = SealService(db, keys, ca, clock, settings.region, settings.seal_attribute_oid)
    verifier = VerifyService(LocalTrust(ca), settings.seal_attribute_oid)
    return Services(
        settings=settings, db=db, keys=keys, tokens=TokenService(db), ca=ca, seals=seals, verify=verifier
    )
