"""Readiness: what a load balancer asks before sending traffic to this process."""

from __future__ import annotations

import logging

import httpx

log = logging.getLogger("longtrust.probes")
HUB_TIMEOUT_S = 3.0


def _database(services) -> None:
    with services.db.read() as s:
        s.connection().exec_driver_sql("SELECT 1")


def _keys(services) -> None:
    for ca in services.ca.list_cas():
        if ca.status == "active":
            services.keys.signer(ca.key_ref)


def _hub(services) -> None:
    response = httpx.get(f"{services.settings.hub_url}/healthz", timeout=HUB_TIMEOUT_S)
    if response.status_code != 200:
        raise RuntimeError(f"the hub answered {response.status_code}")


def readiness(services) -> dict[str, str]:
    """Each check → ``"ok"`` or one line saying what failed: ``database`` (answers a query),
    ``keys`` (every active CA's signing key loads), ``hub`` (its /healthz answers 200 within
    3 s; only when LONGTRUST_HUB_URL is set)."""
    checks = {"database": _database, "keys": _keys}
    if services.settings.hub_url:
        checks["hub"] = _hub
    results = {}
    for name, check in checks.items():
        try:
            check(services)
            results[name] = "ok"
        except Exception as exc:  # a probe reports every failure; it never raises
            log.warning("readiness check %s failed: %s", name, exc)
            results[name] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".strip()
    return results
