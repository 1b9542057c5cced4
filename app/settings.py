"""Settings from the environment (LONGTRUST_*)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict

from keys.kek import DEFAULT_DEV_KEK_B64
from verify.fetching import parse_prefixes

# A UUID-based OID (X.667 arc 2.25) needs no registration; operators set their own arc.
DEFAULT_SEAL_ATTRIBUTE_OID = "2.25.205704455834958305441458399337302593871"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LONGTRUST_", extra="ignore")

    data_dir: Path = Path("./longtrust-data")
    database_url: str | None = None
    database_connect_timeout_s: float = 5.0
    environment: Literal["development", "production"] = "development"
    kek: str = DEFAULT_DEV_KEK_B64
    public_url: str = "http://127.0.0.1:8400"
    region: str = "110000"
    hub_url: str | None = None
    hub_token: str | None = None
    hub_relay_interval_s: float = 5.0
    hub_certificate_file: Path | None = None
    verify_fetch_revocation: bool = True
    fetch_allow: str = ""  # comma-separated URL prefixes verification may fetch (verify.fetching)
    max_body_bytes: int = 20 * 1024 * 1024
    sm2_user_id: str = "1234567812345678"
    seal_attribute_oid: str = DEFAULT_SEAL_ATTRIBUTE_OID
    pkcs11_module: str | None = None
    pkcs11_token_label: str | None = None
    pkcs11_pin: str | None = None
    ceremony_file: Path | None = None
    crl_interval_s: float = 3600.0

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir.resolve() / 'longtrust.db'}"

    def startup_problems(self) -> list[str]:
        """Reasons the service must not start with these settings."""
        problems = []
        if self.environment != "development" and self.kek == DEFAULT_DEV_KEK_B64:
            problems.append(
                "LONGTRUST_KEK is not set: the public development KEK is only for development; "
                "set a random 32-byte base64 key"
            )
        try:
            parse_prefixes(self.fetch_allow)
        except ValueError as exc:
            problems.append(str(exc))
        if not (len(self.region) == 6 and self.region.isdigit()):
            problems.append("LONGTRUST_REGION must be a 6-digit GB/T 2260 code")
        return problems
