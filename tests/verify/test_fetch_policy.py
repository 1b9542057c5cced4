"""Outbound fetches on behalf of anonymous verifiers happen only under the fetch policy."""

from __future__ import annotations

import base64
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from asn1crypto import x509

from tests.verify.pki_fixtures import NOW, YEAR, Issued, hierarchy, issue, sm2_signer
from tests.verify.test_ses_interop import build_seal
from verify.certificates import verify_certificate
from verify.fetching import FetchCache, FetchPolicy, endpoint_prefixes, parse_prefixes


class Listener:
    """A tiny HTTP server on 127.0.0.1 that counts requests and serves one certificate at /ca.der."""

    def __init__(self, ca_der: bytes = b"", padding: int = 0):
        self.paths: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                outer.paths.append(self.path)
                if self.path == "/ca.der" and ca_der:
                    body = ca_der + b"\0" * padding
                    self.send_response(200)
                    self.send_header("Content-Type", "application/pkix-cert")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                else:
                    self.send_error(404)

            do_GET = do_POST = _answer

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def _uri(url: str) -> x509.GeneralName:
    return x509.GeneralName(name="uniform_resource_identifier", value=url)


def hostile_certificate(issuer: Issued, base: str) -> Issued:
    """A certificate under `issuer` whose caIssuers, OCSP and CRL URLs all point at `base`."""
    signer = sm2_signer("hostile")
    name = x509.Name.build({"country_name": "CN", "common_name": "hostile maker"})
    aia = [
        {"access_method": "ca_issuers", "access_location": _uri(base + "ca.der")},
        {"access_method": "ocsp", "access_location": _uri(base + "ocsp")},
    ]
    crl_dp = [{"distribution_point": {"full_name": [_uri(base + "crl")]}}]
    tbs = x509.TbsCertificate(
        {
            "version": "v3",
            "serial_number": 0x5EED,
            "signature": issuer.signer.algorithm_identifier(),
            "issuer": issuer.cert.subject,
            "validity": {
                "not_before": x509.Time({"utc_time": NOW - YEAR}),
                "not_after": x509.Time({"utc_time": NOW + YEAR}),
            },
            "subject": name,
            "subject_public_key_info": signer.public_key_info(),
            "extensions": [
                {"extn_id": "key_usage", "critical": True, "extn_value": {"digital_signature"}},
                {"extn_id": "authority_information_access", "critical": False, "extn_value": aia},
                {"extn_id": "crl_distribution_points", "critical": False, "extn_value": crl_dp},
            ],
        }
    )
    cert = x509.Certificate(
        {
            "tbs_certificate": tbs,
            "signature_algorithm": issuer.signer.algorithm_identifier(),
            "signature_value": issuer.signer.sign(tbs.dump()),
        }
    )
    return Issued(x509.Certificate.load(cert.dump()), signer)


@pytest.fixture
def pki():
    return hierarchy("sm2")


@pytest.fixture
def listener(pki):
    server = Listener(pki.issuing.der)
    yield server
    server.close()


def _client(settings, monkeypatch, foreign_root: bytes, foreign_intermediates: tuple[bytes, ...] = ()):
    """The API with another region's root in the trust material, as the hub trust list gives it."""
    from fastapi.testclient import TestClient

    from app import container
    from app.cli import initialise
    from app.main import create_app
    from verify.service import TrustMaterial

    class WithForeignRegion(container.LocalTrust):
        def material(self) -> TrustMaterial:
            own = super().material()
            return TrustMaterial(
                own.anchors, own.intermediates, own.crls, (foreign_root,), foreign_intermediates
            )

    monkeypatch.setattr(container, "LocalTrust", WithForeignRegion)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    initialise(settings)
    services = container.build_services(settings)
    return services, TestClient(create_app(settings, services), raise_server_exceptions=False)


def _verify_seal(client, maker: Issued) -> dict:
    seal = build_seal(maker.signer, maker.der, [maker.der])
    answer = client.post("/api/v1/verify/seal", json={"seal_der_b64": base64.b64encode(seal.dump()).decode()})
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_anonymous_verify_of_a_hostile_certificate_fetches_nothing(settings, monkeypatch, pki, listener):
    services, client = _client(settings, monkeypatch, pki.root.der)
    with client:
        report = _verify_seal(client, hostile_certificate(pki.issuing, listener.url))
    services.close()
    assert listener.paths == []
    assert report["indication"] != "TOTAL_PASSED"
    text = str(report)
    assert "refused" not in text.lower() and "errno" not in text.lower()


def test_a_prefix_in_the_allow_list_is_fetched_and_cached(settings, monkeypatch, pki, listener):
    settings.fetch_allow = listener.url
    services, client = _client(settings, monkeypatch, pki.root.der)
    hostile = hostile_certificate(pki.issuing, listener.url)
    with client:
        report = _verify_seal(client, hostile)
        assert "/ca.der" in listener.paths  # the issuer came from the allowed source
        fetched_before = listener.paths.count("/ca.der")
        _verify_seal(client, hostile)
    services.close()
    assert listener.paths.count("/ca.der") == fetched_before == 1  # within its validity: cached
    chain = next(
        c for c in report["checks"] if c["name"].startswith("maker_certificate") and "chain" in c["name"]
    )
    assert chain["result"] == "passed", chain


def test_fetching_is_bounded_in_size(pki):
    server = Listener(pki.issuing.der, padding=64 * 1024)
    try:
        policy = FetchPolicy((server.url,), max_response_bytes=16 * 1024)
        checks = verify_certificate(
            hostile_certificate(pki.issuing, server.url).der,
            trust_anchors=[pki.root.der],
            fetch_revocation=policy,
        )
    finally:
        server.close()
    assert server.paths == ["/ca.der"]
    assert checks[0].sub_indication == "NO_CERTIFICATE_CHAIN_FOUND"
    assert "too large" not in checks[0].detail and "127.0.0.1:" not in checks[0].detail.replace(
        server.url, ""
    )


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://pki.example/crl/a.crl", True),
        ("https://pki.example/crl/a.crl", False),  # another scheme is another origin
        ("http://pki.example:8080/crl/a.crl", False),
        ("http://pki.example/crlx/a.crl", False),  # a prefix ends at a path segment
        ("http://pki.example/crl/../admin", False),
        ("http://pki.example/crl/%2e%2e/admin", False),
        ("http://pki.example@127.0.0.1/crl/a.crl", False),
        ("http://pki.example.evil.test/crl/a.crl", False),
        ("http://127.0.0.1:22/", False),
        ("http://169.254.169.254/latest/meta-data/", False),
        ("http://10.0.0.1/crl/a.crl", False),
        ("ftp://pki.example/crl/a.crl", False),
        ("file:///etc/passwd", False),
        ("ldap://pki.example/cn=x", False),
        ("https://hub.example/region/230000/ocsp", True),  # published in the trust list
    ],
)
def test_policy_allows_only_urls_under_a_prefix(url, allowed):
    policy = FetchPolicy(("http://pki.example/crl",), published=lambda: ["https://hub.example/region/"])
    assert policy.allows(url) is allowed


def test_allow_list_setting_is_checked(tmp_path):
    from app.settings import Settings

    assert parse_prefixes(" http://a.example/crl/ , https://b.example/ ,") == (
        "http://a.example/crl/",
        "https://b.example/",
    )
    with pytest.raises(ValueError, match="not an http"):
        parse_prefixes("gopher://a.example/")
    problems = Settings(data_dir=Path(tmp_path), fetch_allow="file:///etc/").startup_problems()
    assert any("LONGTRUST_FETCH_ALLOW" in p for p in problems)


def test_fetching_is_bounded_in_count(pki, listener):
    policy = FetchPolicy((listener.url,), max_fetches=1)
    checks = verify_certificate(
        hostile_certificate(pki.issuing, listener.url).der,
        trust_anchors=[pki.root.der],
        fetch_revocation=policy,
    )
    assert listener.paths == ["/ca.der"]  # the issuer; CRL and OCSP would have been the second and third
    assert checks[0].result == "passed" and checks[2].result == "indeterminate"


def test_the_cache_is_bounded_and_honours_expiry():
    import time

    cache = FetchCache(max_entries=2, max_bytes=10)
    later = time.time() + 60
    cache.put(("GET", "a", b""), later, b"1234", None)
    cache.put(("GET", "b", b""), later, b"1234", None)
    cache.put(("GET", "c", b""), later, b"1234", None)  # over both bounds: the oldest goes
    assert cache.get(("GET", "a", b"")) is None
    assert cache.get(("GET", "c", b"")) == (b"1234", None)
    cache.put(("GET", "d", b""), time.time() - 1, b"x", None)  # already expired: not kept
    assert cache.get(("GET", "d", b"")) is None
    cache.put(("GET", "e", b""), later, b"x" * 11, None)  # larger than the whole cache
    assert cache.get(("GET", "e", b"")) is None


def test_endpoints_named_by_trust_list_certificates_are_fetched(settings, monkeypatch, listener):
    """Another region's issuing CA, as the hub trust list gives it, publishes under <listener>/crl/:
    a certificate it issued gets its CRL fetched from there, and nothing outside that folder."""
    root = issue("region root", sm2_signer("region-root"), ca=True)
    issuing = issue(
        "region issuing", sm2_signer("region-issuing"), root, ca=True, crl_url=listener.url + "crl/root.crl"
    )
    leaf = issue(
        "region maker",
        sm2_signer("region-maker"),
        issuing,
        crl_url=listener.url + "crl/issuing.crl",
        ocsp_url=listener.url + "elsewhere/ocsp",
    )
    assert endpoint_prefixes((issuing.der,)) == (listener.url + "crl/",)
    services, client = _client(settings, monkeypatch, root.der, (issuing.der,))
    with client:
        _verify_seal(client, leaf)
    services.close()
    assert "/crl/root.crl" in listener.paths  # the issuing CA's own revocation comes first
    assert not [p for p in listener.paths if not p.startswith("/crl/")]
