"""Prometheus metrics: request counts and latencies by route template, the operations operators
watch (issuance, stamps, verifications, OCSP, licenses), key use by algorithm and the hub outbox lag.

Labels carry route templates, algorithms and outcomes only, never identifiers, so the endpoint can
stay public. With several worker processes `longtrust serve` points PROMETHEUS_MULTIPROC_DIR at a
folder in the data directory before any worker starts; each scrape then sums every worker's
counters (prometheus-client's multiprocess mode).
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram
from prometheus_client import generate_latest as _generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST

REQUESTS = Counter("longtrust_http_requests", "HTTP requests answered", ["method", "route", "status"])
LATENCY = Histogram(
    "longtrust_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
CERTIFICATES = Counter("longtrust_certificates_issued", "Certificate issuance requests", ["outcome"])
STAMPS = Counter("longtrust_stamps", "Stamp requests", ["kind", "outcome"])
VERIFICATIONS = Counter("longtrust_verifications", "Verification requests", ["kind", "outcome"])
OCSP = Counter("longtrust_ocsp_requests", "OCSP requests", ["outcome"])
LICENSES = Counter("longtrust_licenses_issued", "License issuance requests", ["outcome"])
KEY_USE = Counter("longtrust_key_signatures", "Signatures made with managed keys", ["algorithm"])

# (method, route template) → (counter, fixed labels)
OPERATIONS: dict[tuple[str, str], tuple[Counter, dict]] = {
    ("POST", "/api/v1/cas/{ca_id}/certificates"): (CERTIFICATES, {}),
    ("POST", "/api/v1/seals/{seal_id}/stamp/pdf"): (STAMPS, {"kind": "pdf"}),
    ("POST", "/api/v1/seals/{seal_id}/stamp/data"): (STAMPS, {"kind": "data"}),
    ("POST", "/api/v1/seals/{seal_id}/stamp/ofd"): (STAMPS, {"kind": "ofd"}),
    ("POST", "/ocsp"): (OCSP, {}),
    ("GET", "/ocsp/{encoded:path}"): (OCSP, {}),
    ("POST", "/api/v1/licenses"): (LICENSES, {}),
    **{
        ("POST", f"/api/v1/verify/{kind}"): (VERIFICATIONS, {"kind": kind})
        for kind in ("certificate", "pdf", "ofd", "seal", "license")
    },
}


def outcome(status: int) -> str:
    """``ok`` (< 400), ``refused`` (4xx: bad input, no permission) or ``failed`` (5xx)."""
    return "ok" if status < 400 else "refused" if status < 500 else "failed"


def ocsp_outcome(response_status: str) -> str:
    """The outcome of an OCSP answer by its responseStatus (RFC 6960 §4.2.1): ``ok`` (successful),
    ``failed`` (internalError, tryLater: the responder's side) or ``refused`` (the caller's)."""
    if response_status == "successful":
        return "ok"
    return "failed" if response_status in ("internalError", "tryLater") else "refused"


def observe_request(method: str, route: str, status: int, seconds: float, result: str | None = None) -> None:
    """Count one answered request; ``route`` is the template (``/api/v1/seals/{seal_id}``). ``result``
    (``ok``, ``refused`` or ``failed``) overrides the outcome the HTTP status gives, for a protocol
    that answers its errors with HTTP 200 (OCSP)."""
    count, latency, operation = _children(method, route, status, result)
    count.inc()
    latency.observe(seconds)
    if operation is not None:
        operation.inc()


@functools.lru_cache(maxsize=4096)
def _children(method: str, route: str, status: int, result: str | None) -> tuple:
    """The labelled metrics one answer moves (looked up once: labels() costs more than inc())."""
    operation = OPERATIONS.get((method, route))
    if operation is not None:
        counter, labels = operation
        operation = counter.labels(**labels, outcome=result or outcome(status))
    return REQUESTS.labels(method, route, str(status)), LATENCY.labels(method, route), operation


def key_used(algorithm: str) -> None:
    """Count one signature by a managed key (``sm2-sm3``, ``rsa-pkcs1-sha256``, …)."""
    KEY_USE.labels(algorithm).inc()


class OutboxCollector:
    """Scrape-time gauges of the hub outbox: events waiting and the age of the oldest, in seconds."""

    def __init__(self, backlog: Callable[[], dict]):
        self._backlog = backlog

    def collect(self):
        backlog = self._backlog()
        oldest = backlog.get("oldest_pending_at")
        age = max(0.0, time.time() - oldest.timestamp()) if oldest is not None else 0.0
        yield GaugeMetricFamily(
            "longtrust_outbox_pending", "Hub outbox events not yet delivered", value=backlog.get("pending", 0)
        )
        yield GaugeMetricFamily(
            "longtrust_outbox_lag_seconds", "Age of the oldest undelivered hub outbox event", value=age
        )


def render(backlog: Callable[[], dict]) -> bytes:
    """The Prometheus text exposition: every worker's counters (multiprocess mode) or this
    process's, followed by the outbox gauges read from the database now."""
    if os.environ.get(MULTIPROC_ENV):
        counters = CollectorRegistry()
        MultiProcessCollector(counters)
    else:
        counters = REGISTRY
    scrape = CollectorRegistry(auto_describe=False)
    scrape.register(OutboxCollector(backlog))
    return _generate_latest(counters) + _generate_latest(scrape)
