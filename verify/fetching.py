"""Outbound fetches (caIssuers, CRL, OCSP) under a policy, for pyhanko-certvalidator.

A certificate posted by an anonymous caller names the URLs certvalidator would fetch, so nothing is
fetched unless the URL lies under an allowed prefix: the endpoints published in the hub's trust list
(``published``, a callable returning the current prefixes) or the operator's allow-list
(``LONGTRUST_FETCH_ALLOW``). Only ``http`` and ``https`` are fetched, redirects are not followed,
and every validation is bounded in number of fetches, response size and total time. A URL outside
the prefixes is refused whatever its address (loopback, link-local, private and public alike);
one under a prefix is fetched whatever its address, as the operator trusts those sources.

Fetched data is cached per URL (and request body, for OCSP) within its own validity: a CRL until
its nextUpdate, an OCSP response until the earliest nextUpdate of its answers, a certificate for
``max_cache_s``, never longer than ``max_cache_s`` (RFC 5280 §5.1.2.5, RFC 6960 §4.2.2.1).
Failures are reported without network details: the error says only that the fetch was refused or
failed, never an address, a port or a socket error.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from urllib.parse import SplitResult, urlsplit

import aiohttp
from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509
from pyhanko_certvalidator.fetchers import Fetchers, OwnedFetcherBackend
from pyhanko_certvalidator.fetchers.aiohttp_fetchers import AIOHttpFetcherBackend
from pyhanko_certvalidator.fetchers.aiohttp_fetchers.cert_fetch_client import AIOHttpCertificateFetcher
from pyhanko_certvalidator.fetchers.aiohttp_fetchers.crl_client import AIOHttpCRLFetcher
from pyhanko_certvalidator.fetchers.aiohttp_fetchers.ocsp_client import AIOHttpOCSPFetcher
from pyhanko_certvalidator.fetchers.api import FetchLimits
from pyhanko_certvalidator.fetchers.common_utils import FetchBudget

_PORTS = {"http": 80, "https": 443}


class FetchRefused(aiohttp.ClientError):
    """The URL is not allowed by the fetch policy, or a bound was reached (nothing was sent)."""


class FetchFailed(aiohttp.ClientError):
    """The fetch was made and failed; the reason is kept out of the message on purpose."""


@dataclass(frozen=True)
class _Location:
    scheme: str
    host: str
    port: int
    path: str


def _location(url: str) -> _Location | None:
    """The normalised parts of an http(s) URL, or None for anything else (other schemes, userinfo)."""
    try:
        parts: SplitResult = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _PORTS or not parts.hostname or parts.username is not None or "\\" in url:
        return None
    segments = parts.path.split("/")
    if any(s in (".", "..") or "%2e" in s.lower() or "%2f" in s.lower() for s in segments):
        return None
    return _Location(scheme, parts.hostname.lower().rstrip("."), port or _PORTS[scheme], parts.path or "/")


def _under(url: _Location, prefix: _Location) -> bool:
    if (url.scheme, url.host, url.port) != (prefix.scheme, prefix.host, prefix.port):
        return False
    base = prefix.path
    return url.path == base or url.path.startswith(base if base.endswith("/") else base + "/")


class FetchCache:
    """Fetched bytes by (method, URL, body digest), each until its own expiry; LRU-bounded in entries
    and bytes. Thread-safe (validations run on several threads)."""

    def __init__(self, max_entries: int = 256, max_bytes: int = 64 * 1024 * 1024):
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self._items: OrderedDict[tuple, tuple[float, bytes, str | None]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: tuple) -> tuple[bytes, str | None] | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            if item[0] <= time.time():
                self._drop(key)
                return None
            self._items.move_to_end(key)
            return item[1], item[2]

    def put(self, key: tuple, expires: float, data: bytes, content_type: str | None) -> None:
        if expires <= time.time() or len(data) > self.max_bytes:
            return
        with self._lock:
            if key in self._items:
                self._drop(key)
            self._items[key] = (expires, data, content_type)
            self._bytes += len(data)
            while len(self._items) > self.max_entries or self._bytes > self.max_bytes:
                self._drop(next(iter(self._items)))

    def _drop(self, key: tuple) -> None:
        self._bytes -= len(self._items.pop(key)[1])


@dataclass
class FetchPolicy:
    """What certificate validation may fetch, and how much.

    ``allowed_prefixes``: URL prefixes (``https://crl.example.gov.cn/crl/``) fetched whatever their
    address (operator allow-list). ``published``: a callable returning further prefixes (the hub
    trust list's endpoints), asked on each check. Bounds hold per validation: ``max_fetches``
    requests, ``max_response_bytes`` per response, ``total_timeout_s`` seconds for all fetches
    together (each also at most ``per_request_timeout_s``); cached data lives at most ``max_cache_s``.
    """

    allowed_prefixes: tuple[str, ...] = ()
    published: Callable[[], Iterable[str]] | None = None
    max_fetches: int = 8
    max_response_bytes: int = 4 * 1024 * 1024
    per_request_timeout_s: float = 5.0
    total_timeout_s: float = 10.0
    max_cache_s: float = 3600.0
    cache: FetchCache = field(default_factory=FetchCache)

    def allows(self, url: str) -> bool:
        """True when ``url`` is http(s) and lies under an allowed or published prefix."""
        where = _location(url)
        if where is None:
            return False
        published = tuple(self.published()) if self.published is not None else ()
        for prefix in (*self.allowed_prefixes, *published):
            base = _location(prefix)
            if base is not None and _under(where, base):
                return True
        return False

    def backend(self) -> OwnedFetcherBackend:
        """A fresh certvalidator fetcher backend for one validation, closed by the validation context."""
        return OwnedFetcherBackend(PolicyFetcherBackend(self))


def parse_prefixes(text: str | None) -> tuple[str, ...]:
    """``LONGTRUST_FETCH_ALLOW``: comma-separated URL prefixes; blanks ignored.

    Raises ValueError for a prefix that is not an http(s) URL."""
    prefixes = tuple(p.strip() for p in (text or "").split(",") if p.strip())
    for prefix in prefixes:
        if _location(prefix) is None:
            raise ValueError(f"LONGTRUST_FETCH_ALLOW: {prefix!r} is not an http(s) URL prefix")
    return prefixes


@lru_cache(maxsize=64)
def endpoint_prefixes(certificates: tuple[bytes, ...]) -> tuple[str, ...]:
    """The folders (URL up to its last "/") of the CRL, OCSP and caIssuers URLs named in trusted
    certificates, e.g. the other regions' CA certificates of the hub trust list: their CAs publish
    there. Only http(s) URLs; unparsable certificates are skipped."""
    prefixes: set[str] = set()
    for der in certificates:
        try:
            cert = x509.Certificate.load(der)
            urls = [dp.url for dp in cert.crl_distribution_points] + list(cert.ocsp_urls)
            aia = cert.authority_information_access_value or ()
            urls += [a["access_location"].native for a in aia if a["access_method"].native == "ca_issuers"]
        except (ValueError, TypeError, KeyError):
            continue
        for url in urls:
            if isinstance(url, str) and _location(url) is not None:
                prefixes.add(url[: url.rindex("/") + 1])
    return tuple(sorted(prefixes))


def fetcher_backend(fetch: bool | FetchPolicy) -> OwnedFetcherBackend | None:
    """The backend for a validation: none when fetching is off; a policy backend otherwise (``True``
    alone means a policy without prefixes, which fetches nothing)."""
    if not fetch:
        return None
    return (fetch if isinstance(fetch, FetchPolicy) else FetchPolicy()).backend()


class _Response:
    """The part of an aiohttp response that certvalidator's fetchers read."""

    def __init__(self, data: bytes, content_type: str | None):
        self._data = data
        self.headers = {"Content-Type": content_type} if content_type else {}
        self.request_info, self.history = None, ()

    async def read(self) -> bytes:
        return self._data


class _PolicySession:
    """Stands in for the aiohttp session of certvalidator's fetchers: checks the policy, the bounds
    and the cache before any request, and never follows redirects."""

    def __init__(self, policy: FetchPolicy):
        self._policy = policy
        self._session: aiohttp.ClientSession | None = None
        self._count = 0
        self._deadline: float | None = None

    def get(self, url, headers=None, **_ignored):
        return self._request("GET", url, headers or {}, None)

    def post(self, url, headers=None, data=None, **_ignored):
        return self._request("POST", url, headers or {}, data)

    @asynccontextmanager
    async def _request(self, method: str, url: str, headers: dict, body: bytes | None):
        key = (method, url, hashlib.sha256(body or b"").digest())
        if not self._policy.allows(url):
            raise FetchRefused("not fetched: the URL is outside the fetch policy")
        hit = self._policy.cache.get(key)
        if hit is None:
            data, content_type = await self._fetch(method, url, headers, body)
            kind = (
                "ocsp" if method == "POST" else "crl" if "pkix-crl" in headers.get("Accept", "") else "cert"
            )
            self._policy.cache.put(key, _expiry(kind, data, self._policy.max_cache_s), data, content_type)
            hit = data, content_type
        yield _Response(*hit)

    async def _fetch(self, method, url, headers, body) -> tuple[bytes, str | None]:
        self._count += 1
        if self._count > self._policy.max_fetches:
            raise FetchRefused("not fetched: too many fetches for one validation")
        now = time.monotonic()
        self._deadline = self._deadline or now + self._policy.total_timeout_s
        budget = min(self._policy.per_request_timeout_s, self._deadline - now)
        if budget <= 0:
            raise FetchRefused("not fetched: the time for fetching is used up")
        try:
            async with asyncio.timeout(budget):
                return await self._send(method, url, headers, body)
        except FetchFailed:
            raise
        except Exception:  # details (addresses, ports, socket errors) stay out of the report
            raise FetchFailed("the fetch failed") from None

    async def _send(self, method, url, headers, body) -> tuple[bytes, str | None]:
        if self._session is None:
            self._session = aiohttp.ClientSession(trust_env=False)
        limit = self._policy.max_response_bytes
        async with self._session.request(
            method, url, headers=headers, data=body, allow_redirects=False
        ) as response:
            if response.status != 200:
                raise FetchFailed(f"the fetch answered HTTP {response.status}")
            if (response.content_length or 0) > limit:
                raise FetchFailed("the response is too large")
            data = await response.content.read(limit + 1)
            while len(data) <= limit and not response.content.at_eof():
                data += await response.content.read(limit + 1 - len(data))
            if len(data) > limit:
                raise FetchFailed("the response is too large")
            return data, response.headers.get("Content-Type")

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()


class PolicyFetcherBackend(AIOHttpFetcherBackend):
    """certvalidator's aiohttp fetchers, sending through :class:`_PolicySession`. OCSP requests carry
    no nonce, so that a response can be cached for its validity."""

    def __init__(self, policy: FetchPolicy):
        limits = FetchLimits(max_requests=policy.max_fetches, max_cert_requests=4, max_aia_urls_per_object=2)
        super().__init__(per_request_timeout=policy.per_request_timeout_s, limits=limits)
        self.session = _PolicySession(policy)

    def get_fetchers(self) -> Fetchers:
        session, timeout, budget = self.session, self.per_request_timeout, FetchBudget(self.limits)
        return Fetchers(
            ocsp_fetcher=AIOHttpOCSPFetcher(
                session, per_request_timeout=timeout, request_nonces=False, budget=budget
            ),
            crl_fetcher=AIOHttpCRLFetcher(session, per_request_timeout=timeout, budget=budget),
            cert_fetcher=AIOHttpCertificateFetcher(session, per_request_timeout=timeout, budget=budget),
        )

    async def close(self) -> None:
        await self.session.close()


def _expiry(kind: str, data: bytes, max_age_s: float) -> float:
    """Until when fetched bytes may be reused: a CRL's or OCSP response's own nextUpdate, at most
    ``max_age_s`` from now; not at all (now) when it has none; certificates ``max_age_s``."""
    now = time.time()
    if kind == "cert":
        return now + max_age_s
    next_update = _crl_next_update(data) if kind == "crl" else _ocsp_next_update(data)
    if next_update is None:
        return now
    return min(now + max_age_s, next_update.timestamp())


def _crl_next_update(data: bytes) -> datetime | None:
    try:
        value = asn1_crl.CertificateList.load(data)["tbs_cert_list"]["next_update"].native
    except (ValueError, TypeError, KeyError):
        return None
    return value if isinstance(value, datetime) else None


def _ocsp_next_update(data: bytes) -> datetime | None:
    try:
        basic = asn1_ocsp.OCSPResponse.load(data)["response_bytes"]["response"].parsed
        times = [r["next_update"].native for r in basic["tbs_response_data"]["responses"]]
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    if not times or not all(isinstance(t, datetime) for t in times):
        return None
    return min(times)


__all__ = [
    "endpoint_prefixes",
    "FetchCache",
    "FetchFailed",
    "FetchPolicy",
    "FetchRefused",
    "fetcher_backend",
    "parse_prefixes",
]
