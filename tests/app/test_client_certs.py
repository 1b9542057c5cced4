"""Client certificates as credentials behind a load balancer: the configured header counts only from a
trusted proxy; a certificate authenticates as the token it is bound to, and only while it is a live
certificate of this deployment's CA."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from fastapi.testclient import TestClient

from app.cert_credentials import from_pem
from app.main import create_app
from app.settings import Settings
from policies.access import access_policy
from tests.app.test_tokens import NEW_ENDPOINTS
from tests.ca.csrs import make_csr
from tests.conftest import auth

HEADER = "X-SSL-Client-Cert"
PROXY, STRANGER = ("10.1.2.3", 40000), ("192.0.2.9", 40000)
ORG = "91440300708461136T"


@pytest.fixture
def behind_proxy(settings, services):
    """``client(peer)`` → a TestClient whose TCP peer is ``peer``; the app trusts 10.0.0.0/8."""
    services.settings = settings.model_copy(
        update={"client_cert_header": HEADER, "trusted_proxies": "10.0.0.0/8, 2001:db8::/32"}
    )
    app = create_app(services.settings, services)
    clients = []

    def client(peer):
        c = TestClient(app, raise_server_exceptions=False, client=peer)
        clients.append(c.__enter__())
        return c

    yield client
    for c in clients:
        c.__exit__(None, None, None)


@pytest.fixture
def admin(token):
    return auth(token("security-admin", "alice"))


def issue(services, profile: str = "tls-client") -> tuple[str, str]:
    """(PEM certificate, serial hex) from the deployment's RSA issuing CA."""
    csr = make_csr("rsa", {"organization_name": "审批系统", "common_name": "approval gateway"})
    view = services.ca.issue("rsa-issuing", csr, profile, "test", credit_code=ORG)
    return view.certificate_pem, view.serial_hex


def self_signed() -> str:
    """A clientAuth certificate from a CA that is not this deployment's."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "intruder")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def presented(pem: str) -> dict:
    return {HEADER: quote(pem, safe="")}  # as nginx's $ssl_client_escaped_cert


def bind(client, admin, pem: str, role: str = "approval-system"):
    return client.post(
        "/api/v1/tokens", headers=admin, json={"role": role, "name": "gateway", "client_certificate_pem": pem}
    )


def test_header_from_a_trusted_proxy_authenticates_and_from_others_is_ignored(behind_proxy, services, admin):
    pem, _serial = issue(services)
    proxy, stranger = behind_proxy(PROXY), behind_proxy(STRANGER)
    made = bind(proxy, admin, pem)
    assert made.status_code == 201, made.text
    assert len(made.json()["client_cert_sha256"]) == 64
    assert proxy.get("/api/v1/seals", headers=presented(pem)).status_code == 200
    assert proxy.get("/api/v1/tokens", headers=presented(pem)).status_code == 403  # the token's role
    ignored = stranger.get("/api/v1/seals", headers=presented(pem))
    assert ignored.status_code == 401
    assert ignored.headers["content-type"].startswith("application/problem+json")


def test_revoked_unbound_and_malformed_certificates_are_refused(behind_proxy, services, admin):
    pem, serial = issue(services)
    other, _ = issue(services)
    proxy = behind_proxy(PROXY)
    assert bind(proxy, admin, pem).status_code == 201
    assert proxy.get("/api/v1/seals", headers=presented(pem)).status_code == 200
    unbound = proxy.get("/api/v1/seals", headers=presented(other))
    assert unbound.status_code == 401 and "bound to no live token" in unbound.json()["detail"]
    garbage = proxy.get("/api/v1/seals", headers={HEADER: "not a certificate"})
    assert garbage.status_code == 401
    revoked = proxy.post(
        f"/api/v1/cas/rsa-issuing/certificates/{serial}/revoke",
        headers=admin,
        json={"reason": "keyCompromise"},
    )
    assert revoked.status_code == 200
    refused = proxy.get("/api/v1/seals", headers=presented(pem))
    assert refused.status_code == 401
    assert refused.headers["content-type"].startswith("application/problem+json")


def test_only_live_client_certificates_of_this_ca_can_be_bound(behind_proxy, services, admin):
    proxy = behind_proxy(PROXY)
    signing, _ = issue(services, "organization-signing")  # no clientAuth
    refused = bind(proxy, admin, signing)
    assert refused.status_code == 400 and "clientAuth" in refused.json()["detail"]
    pem, serial = issue(services)
    services.ca.revoke("rsa-issuing", serial, "superseded", "test")
    assert "revoked" in bind(proxy, admin, pem).json()["detail"]
    foreign = bind(proxy, admin, self_signed())
    assert foreign.status_code == 400 and "not issued by this deployment" in foreign.json()["detail"]
    assert bind(proxy, admin, "-----BEGIN CERTIFICATE-----\n").status_code == 400
    fresh, _ = issue(services)
    assert bind(proxy, admin, fresh).status_code == 201
    twice = bind(proxy, admin, fresh)
    assert twice.status_code == 409
    assert (
        proxy.post("/api/v1/tokens", headers=admin, json={"role": "verifier", "name": "x"}).status_code == 201
    )


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({"client_cert_header": HEADER}, "LONGTRUST_TRUSTED_PROXIES"),
        ({"trusted_proxies": "10.0.0.0/8, proxy.example"}, "not an IP address or CIDR"),
        ({"tls_cert": "/nonexistent/cert.pem"}, "go together"),
        ({"client_ca": "/nonexistent/ca.pem"}, "LONGTRUST_CLIENT_CA needs LONGTRUST_TLS_CERT"),
        ({"hub_url": "https://hub.example"}, "without a hub credential"),
        ({"hub_client_cert": "/nonexistent/c.pem", "hub_client_key": "/nonexistent/k.pem"}, "no file"),
    ],
)
def test_tls_settings_are_checked_at_start(tmp_path, values, problem):
    problems = Settings(data_dir=tmp_path, **values).startup_problems()
    assert any(problem in p for p in problems), problems


def test_a_hub_client_certificate_is_a_hub_credential(tmp_path):
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    cert.write_text("x"), key.write_text("x")
    settings = Settings(
        data_dir=tmp_path, hub_url="https://hub.example", hub_client_cert=cert, hub_client_key=key
    )
    assert not [p for p in settings.startup_problems() if "hub" in p.lower()]


def test_a_bound_certificate_has_exactly_its_tokens_access(behind_proxy, services, token):
    """Access matrix with client certificates as the credential: for every role, the reading
    operations answer a bound certificate exactly as they answer the token it is bound to."""
    proxy = behind_proxy(PROXY)
    reads = [(path, action) for method, path, action, _body in NEW_ENDPOINTS if method == "get"]
    reads += [
        ("/api/v1/seals", "seal.read"),
        ("/api/v1/cas", "ca.read"),
        ("/api/v1/audit/checkpoint", "audit.read"),
    ]
    mismatches = []
    for role in sorted(access_policy().roles):
        pem, _ = issue(services)
        with services.db.unit_of_work() as s:
            issued = services.tokens.issue(s, role, f"cert-{role}", "test", client_cert_der=from_pem(pem))
        for path, action in reads:
            by_token = proxy.get(path, headers=auth(issued.token)).status_code
            by_certificate = proxy.get(path, headers=presented(pem)).status_code
            if by_certificate != by_token or (by_certificate == 403) == access_policy().allows(role, action):
                mismatches.append((role, path, by_token, by_certificate))
    assert mismatches == []
