"""HTTP client for the national hub (`/hub/v1/...`): batch reports and cross-region status look-ups."""

from __future__ import annotations

import ssl
from urllib.parse import quote

import httpx

from core.errors import DomainError, ErrorCode, ErrorKind

MAX_BATCH = 1000
RESULTS = ("accepted", "duplicate", "rejected")


class HubUnavailable(Exception):
    """The hub could not be reached or did not answer usefully; try again later."""


def _tls_context(cert: tuple[str, str] | None) -> ssl.SSLContext:
    """The default verifying context (SSL_CERT_FILE / SSL_CERT_DIR honoured) with the client
    certificate chain loaded when one is given."""
    context = httpx.create_ssl_context()
    if cert is not None:
        context.load_cert_chain(*cert)
    return context


class HubRefused(HubUnavailable):
    """The hub refused the whole batch because a license in it carries another region's issuer code."""


FOREIGN_ISSUER = "foreign-issuer-code"  # the hub's problem code for that refusal


def _problem_type(response: httpx.Response) -> str:
    try:
        return str(response.json().get("type", ""))
    except (ValueError, AttributeError):
        return ""


class HubClient:
    """Calls the hub as one region, authenticated by the region's hub token, its client certificate
    (``cert``: (PEM certificate file, PEM key file), presented in the TLS handshake), or both."""

    def __init__(
        self,
        hub_url: str,
        hub_token: str | None,
        client: httpx.Client | None = None,
        timeout_s: float = 30.0,
        cert: tuple[str, str] | None = None,
    ):
        self.base = hub_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {hub_token}"} if hub_token else {}
        self._client = client or httpx.Client(timeout=timeout_s, verify=_tls_context(cert))
        self._own_client = client is None

    def report(self, region: str, events: list[dict]) -> dict[str, tuple[str, str]]:
        """POST one batch; returns idempotency key → (result, detail) for the events the hub answered."""
        if len(events) > MAX_BATCH:
            raise ValueError(f"the hub takes at most {MAX_BATCH} events per batch")
        try:
            response = self._client.post(
                f"{self.base}/hub/v1/reports",
                headers=self._headers,
                json={"region": region, "events": events},
            )
        except httpx.HTTPError as exc:
            raise HubUnavailable(f"hub unreachable: {type(exc).__name__}: {exc}") from exc
        if response.status_code == 403 and _problem_type(response).endswith(":" + FOREIGN_ISSUER):
            raise HubRefused(response.json().get("detail", "refused"))
        if response.status_code != 200:
            raise HubUnavailable(f"hub answered {response.status_code}: {response.text[:300]}")
        try:
            results = response.json()["results"]
            return {
                r["idempotency_key"]: (r["result"], str(r.get("detail") or ""))
                for r in results
                if r.get("result") in RESULTS
            }
        except (ValueError, KeyError, TypeError) as exc:
            raise HubUnavailable(f"hub answer is not a report result: {exc}") from exc

    def license_status(self, identifier: str) -> dict | None:
        """``{identifier, region, status, version, updated_at}`` from the hub's index; None if unknown."""
        try:
            response = self._client.get(
                f"{self.base}/hub/v1/licenses/{quote(identifier, safe='')}", headers=self._headers
            )
        except httpx.HTTPError as exc:
            raise DomainError(
                ErrorKind.UNAVAILABLE,
                f"the national hub is unreachable: {exc}",
                code=ErrorCode.HUB_UNAVAILABLE,
            ) from exc
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise DomainError(
                ErrorKind.UNAVAILABLE,
                f"the national hub answered {response.status_code}",
                code=ErrorCode.HUB_UNAVAILABLE,
            )
        return response.json()

    def trust_list(self) -> dict:
        """The hub's signed trust list document (the caller verifies its signature)."""
        try:
            response = self._client.get(f"{self.base}/hub/v1/trust-list")
            response.raise_for_status()
            return response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise HubUnavailable(f"cannot fetch the hub's trust list: {exc}") from exc

    def audit_checkpoint(self, region: str) -> dict | None:
        """The newest audit checkpoint the hub witnessed for ``region`` (the form of
        ``GET /api/v1/audit/checkpoint``), or None if it holds none; HubUnavailable on failure."""
        try:
            response = self._client.get(f"{self.base}/hub/v1/audit-checkpoints/{quote(region, safe='')}")
        except httpx.HTTPError as exc:
            raise HubUnavailable(f"hub unreachable: {type(exc).__name__}: {exc}") from exc
        if response.status_code == 404:
            return None
        return self._json(response)

    def send_audit_checkpoint(self, checkpoint: dict, proof_hex: list[str]) -> dict:
        """Have the hub witness ``checkpoint`` (with the RFC 9162 consistency proof from the size of
        the one it holds); returns what it keeps. HubUnavailable if unreachable or refused."""
        try:
            response = self._client.post(
                f"{self.base}/hub/v1/audit-checkpoints",
                headers=self._headers,
                json={**checkpoint, "consistency_proof_hex": proof_hex},
            )
        except httpx.HTTPError as exc:
            raise HubUnavailable(f"hub unreachable: {type(exc).__name__}: {exc}") from exc
        return self._json(response)

    @staticmethod
    def _json(response: httpx.Response) -> dict:
        if response.status_code == 403 and _problem_type(response).endswith(":" + FOREIGN_ISSUER):
            raise HubRefused(response.json().get("detail", "refused"))
        if response.status_code != 200:
            raise HubUnavailable(f"hub answered {response.status_code}: {response.text[:300]}")
        try:
            return response.json()
        except ValueError as exc:
            raise HubUnavailable(f"hub answer is not JSON: {exc}") from exc

    def close(self) -> None:
        if self._own_client:
            self._client.close()
