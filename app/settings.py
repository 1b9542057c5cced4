"""Settings from the environment (LONGTRUST_*)."""

from __future__ import annotations

import ipaddress
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator
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
    hub_client_cert: Path | None = None  # PEM client certificate presented to the hub (mTLS)
    hub_client_key: Path | None = None  # its PEM private key
    hub_relay_interval_s: float = 5.0
    audit_sequence_interval_s: float = 5.0
    hub_certificate_file: Path | None = None
    hub_trust_refresh_s: float = 30.0
    verify_fetch_max_age_s: float = 60.0
    verify_fetch_revocation: bool = True
    fetch_allow: str = ""  # comma-separated URL prefixes verification may fetch (verify.fetching)
    tls_cert: Path | None = None  # `serve` ends TLS itself with this PEM certificate (chain)
    tls_key: Path | None = None
    client_ca: Path | None = None  # PEM CA certificates client certificates must chain to
    client_cert_header: str | None = None  # header a load balancer passes the verified certificate in
    trusted_proxies: str = ""  # comma-separated CIDRs whose client_cert_header is honoured
    hub_client_revocation_max_age_s: float = 60.0  # hub: longest reuse of a region certificate's OCSP/CRL
    max_body_bytes: int = 20 * 1024 * 1024
    sm2_user_id: str = "1234567812345678"
    seal_attribute_oid: str = DEFAULT_SEAL_ATTRIBUTE_OID
    pkcs11_module: str | None = None
    pkcs11_token_label: str | None = None
    pkcs11_pin: str | None = None
    kmc_key_backend: Literal["software", "pkcs11"] = "software"  # where the KMC's escrow key is made
    ceremony_file: Path | None = None
    crl_interval_s: float = 3600.0
    freshness_check: bool = True
    token_default_ttl_days: float | None = 365.0  # approval-system tokens without an explicit expiry
    approval_ttl_s: float = 24 * 3600.0  # dual-control requests expire after this
    rate_limit_auth_failures: str = "20/minute"  # per client address; "" turns it off
    rate_limit_verify: str = "600/minute"  # anonymous /api/v1/verify/* per client address; "" = off
    rate_limit_storage: str = "memory://"  # e.g. redis://127.0.0.1:6379 for a store shared by workers
    rate_limit_key_prefix: str = "longtrust"  # keys in a shared store; one prefix per deployment
    metrics: Literal["on", "off"] = "on"
    log_format: Literal["json", "text"] = "json"
    access_log: bool = True
    # OCSP is the hottest path: log one successful answer in N (every other answer is logged, all are
    # counted in metrics), as EJBCA keeps its OCSP transaction log off by default; a line costs a
    # third of an answer's CPU.
    ocsp_log_every: int = Field(default=10, ge=1)
    console_session_s: float = 8 * 3600.0  # a web console sign-in lasts this long (seconds)

    @field_validator("public_url", "hub_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and url_problem(value):
            raise ValueError(url_problem(value))
        return value.rstrip("/") if value else value

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
        if self.kmc_key_backend == "pkcs11" and not self.pkcs11_module:
            problems.append("LONGTRUST_KMC_KEY_BACKEND=pkcs11 needs LONGTRUST_PKCS11_MODULE (and its token)")
        if self.hub_url and not (self.hub_token or self.hub_client_cert):
            problems.append(
                "LONGTRUST_HUB_URL is set without a hub credential: set LONGTRUST_HUB_TOKEN (the region's "
                "hub token) or LONGTRUST_HUB_CLIENT_CERT and LONGTRUST_HUB_CLIENT_KEY"
            )
        problems += self._tls_problems()
        if self.console_session_s <= 0:
            problems.append("LONGTRUST_CONSOLE_SESSION_S must be a positive number of seconds")
        if self.environment == "production":
            problems += self._production_problems()
        return problems

    def _production_problems(self) -> list[str]:
        problems = []
        if is_loopback(self.public_url):
            problems.append("LONGTRUST_PUBLIC_URL is a loopback address; production needs the public URL")
        if self.hub_url and not self.hub_certificate_file:
            problems.append("LONGTRUST_HUB_URL is set without LONGTRUST_HUB_CERTIFICATE_FILE (pin the hub)")
        return problems

    def _tls_problems(self) -> list[str]:
        problems = []
        pairs = (("tls_cert", "tls_key"), ("hub_client_cert", "hub_client_key"))
        for cert, key in pairs:
            if bool(getattr(self, cert)) != bool(getattr(self, key)):
                problems.append(f"LONGTRUST_{cert.upper()} and LONGTRUST_{key.upper()} go together")
        if self.client_ca and not self.tls_cert:
            problems.append("LONGTRUST_CLIENT_CA needs LONGTRUST_TLS_CERT (TLS ended by the service)")
        for name in ("tls_cert", "tls_key", "client_ca", "hub_client_cert", "hub_client_key"):
            path = getattr(self, name)
            if path is not None and not path.is_file():
                problems.append(f"LONGTRUST_{name.upper()}: no file {path}")
        if self.client_cert_header and not self.trusted_proxies.strip():
            problems.append(
                "LONGTRUST_CLIENT_CERT_HEADER needs LONGTRUST_TRUSTED_PROXIES (the load balancers)"
            )
        try:
            parse_networks(self.trusted_proxies)
        except ValueError as exc:
            problems.append(str(exc))
        return problems

    @property
    def known_names(self) -> set[str]:
        return {f"LONGTRUST_{name.upper()}" for name in type(self).model_fields}


def parse_networks(text: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """CIDRs of a comma-separated list (``10.0.0.0/8, 192.0.2.7``); ValueError names a bad entry."""
    networks = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ValueError(f"LONGTRUST_TRUSTED_PROXIES: {part!r} is not an IP address or CIDR") from None
    return networks


def url_problem(value: str) -> str | None:
    """Why ``value`` is not an absolute http(s) URL with a host, or None when it is."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{value!r} is not an http(s) URL with a host"
    return None


def is_loopback(url: str) -> bool:
    """True for localhost and 127.0.0.0/8 or ::1 hosts."""
    host = urlsplit(url).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def unknown_names(environ: Mapping[str, str]) -> list[str]:
    """LONGTRUST_* names in ``environ`` that are no setting (LONGTRUST_TEST_* belong to the tests)."""
    known = Settings.model_construct().known_names
    return sorted(
        name
        for name in environ
        if name.startswith("LONGTRUST_") and not name.startswith("LONGTRUST_TEST_") and name not in known
    )


def warn_unknown(environ: Mapping[str, str] | None = None) -> list[str]:
    """Print one warning line on stderr for each unknown LONGTRUST_* name; returns the names."""
    names = unknown_names(os.environ if environ is None else environ)
    for name in names:
        print(f"warning: {name} is not a LongTrust setting; it is ignored (misspelt?)", file=sys.stderr)
    return names


def describe(exc: ValidationError) -> str:
    """One line naming each bad setting by its environment name, e.g.
    ``LONGTRUST_ENVIRONMENT: Input should be 'development' or 'production'``."""
    parts = []
    for error in exc.errors():
        field = ".".join(str(p) for p in error.get("loc", ())) or "settings"
        message = error.get("msg", "invalid").removeprefix("Value error, ")
        parts.append(f"LONGTRUST_{field.upper()}: {message}")
    return "; ".join(parts)
