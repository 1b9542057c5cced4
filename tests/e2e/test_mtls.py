"""mTLS with real processes and real TLS: `longtrust serve --tls-cert --tls-key --client-ca` accepts
client certificates issued by the deployment's own CA as the credential of the token they are bound
to, refuses them once revoked (in every process at once), and still takes bearer tokens."""

from __future__ import annotations

import json
import ssl
import subprocess
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.e2e.processes import Process, cli, databases, environment, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def server_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed server certificate for 127.0.0.1 made with openssl (the clients pin it)."""
    cert, key = folder / "server.pem", folder / "server.key"
    openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
        "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert),
    )  # fmt: skip
    return cert, key


def client_key(folder: Path, name: str) -> tuple[Path, Path]:
    """A new RSA key and a PKCS#10 request for CN=``name`` (files: key, csr)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .sign(key, hashes.SHA256())
    )
    key_file, csr_file = folder / f"{name}.key", folder / f"{name}.csr"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    csr_file.write_bytes(csr.public_bytes(serialization.Encoding.PEM))
    return key_file, csr_file


def issue_client_certificate(folder: Path, name: str, env: dict) -> tuple[Path, Path]:
    """A tls-client certificate from the deployment's RSA issuing CA (the CLI, as an operator would);
    returns (certificate + chain PEM file, key file)."""
    key_file, csr_file = client_key(folder, name)
    pem = cli(
        "ca", "issue", "--ca", "rsa-issuing", "--csr", str(csr_file), "--profile", "tls-client", env=env
    )
    cert_file = folder / f"{name}.pem"
    cert_file.write_text(pem + "\n")
    return cert_file, key_file


def foreign_client_certificate(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "foreign.pem", folder / "foreign.key"
    openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=intruder",
        "-addext", "extendedKeyUsage=clientAuth", "-keyout", str(key), "-out", str(cert),
    )  # fmt: skip
    return cert, key


def ca_bundle(folder: Path, env: dict) -> Path:
    """The deployment's RSA CA certificates (root and issuing) as the --client-ca file."""
    cas = json.loads(cli("ca", "list", "--json", env=env))
    bundle = folder / "client-ca.pem"
    bundle.write_text("".join(c["certificate_pem"] for c in cas if c["algorithm"] == "rsa"))
    return bundle


def leaf(cert_file: Path) -> str:
    """The client's own certificate: the first PEM block of certificate + chain."""
    text = cert_file.read_text()
    return text[: text.index("-----END CERTIFICATE-----") + len("-----END CERTIFICATE-----")] + "\n"


def serial_of(cert_file: Path) -> str:
    return format(x509.load_pem_x509_certificate(leaf(cert_file).encode()).serial_number, "x")


def tls_client(server_cert: Path, cert: tuple[Path, Path] | None = None) -> httpx.Client:
    context = ssl.create_default_context(cafile=str(server_cert))
    if cert is not None:
        context.load_cert_chain(str(cert[0]), str(cert[1]))
    return httpx.Client(verify=context, timeout=30)


def tls_serve(env: dict, folder: Path, name: str, server: tuple[Path, Path], client_ca: Path) -> Process:
    args = ["serve", "--tls-cert", str(server[0]), "--tls-key", str(server[1]), "--client-ca", str(client_ca)]
    verify = ssl.create_default_context(cafile=str(server[0]))
    return Process(args, env, free_port(), folder / f"{name}.log", verify=verify).start()


@pytest.fixture(params=["sqlite", "postgresql"])
def deployment(request, tmp_path):
    """One initialised deployment: its env, a server certificate and the --client-ca bundle."""
    with databases(request.param, 1) as (url,):
        env = environment(tmp_path / "data", url)
        cli("init", env=env)
        yield env, server_certificate(tmp_path), ca_bundle(tmp_path, env)


def test_bound_certificate_authenticates_until_revoked_in_every_process(deployment, tmp_path):
    env, server, client_ca = deployment
    cert = issue_client_certificate(tmp_path, "approval-gateway", env)
    a = tls_serve(env, tmp_path, "a", server, client_ca)
    b = None
    try:
        b = tls_serve(env, tmp_path, "b", server, client_ca)
        with tls_client(server[0]) as plain:  # no client certificate: the bearer token still works
            made = plain.post(
                a.url + "/api/v1/tokens",
                headers=a.admin(),
                json={"role": "approval-system", "name": "gateway", "client_certificate_pem": leaf(cert[0])},
            )
            assert made.status_code == 201, made.text
            assert plain.get(a.url + "/api/v1/seals").status_code == 401  # and nothing without one
        with tls_client(server[0], cert) as gateway:
            for process in (a, b):  # the certificate acts as the token's role, in both processes
                assert gateway.get(process.url + "/api/v1/seals").status_code == 200
                assert gateway.get(process.url + "/api/v1/tokens").status_code == 403
            revoked = gateway.post(
                a.url + f"/api/v1/cas/rsa-issuing/certificates/{serial_of(cert[0])}/revoke",
                headers=a.admin(),
                json={"reason": "keyCompromise"},
            )
            assert revoked.status_code == 200, revoked.text
            for process in (b, a):  # refused on the very next request, B first (it had it cached)
                refused = gateway.get(process.url + "/api/v1/seals")
                assert refused.status_code == 401
                assert refused.headers["content-type"].startswith("application/problem+json")
    finally:
        for process in (a, b):
            if process is not None:
                process.stop()


def test_unbound_foreign_and_independent_clients(deployment, tmp_path):
    env, server, client_ca = deployment
    unbound = issue_client_certificate(tmp_path, "stranger", env)
    bound = issue_client_certificate(tmp_path, "auditor-tool", env)
    cli(
        "token",
        "create",
        "--role",
        "auditor",
        "--name",
        "audit-tool",
        "--client-cert",
        str(bound[0]),
        env=env,
    )
    a = tls_serve(env, tmp_path, "a", server, client_ca)
    try:
        with tls_client(server[0], unbound) as client:
            refused = client.get(a.url + "/api/v1/tokens")
        assert refused.status_code == 401
        assert refused.headers["content-type"].startswith("application/problem+json")
        foreign = foreign_client_certificate(tmp_path)
        try:
            with tls_client(server[0], foreign) as client:
                answer = client.get(a.url + "/api/v1/tokens").status_code
        except httpx.TransportError:  # the handshake refused a certificate that does not chain
            answer = "handshake refused"
        assert answer in (401, "handshake refused")
        # curl as an independent client: the bound certificate reads the audit log as an auditor
        curl = subprocess.run(
            [
                "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", str(server[0]),
                "--cert", str(bound[0]), "--key", str(bound[1]), a.url + "/api/v1/tokens",
            ],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert curl.stdout == "200", curl.stderr
    finally:
        a.stop()


def test_load_balancer_header_counts_only_from_the_trusted_tcp_peer(deployment, tmp_path):
    """A real process behind a (simulated) balancer on loopback: the header is honoured when loopback
    is trusted, and ignored when it is not, even with an X-Forwarded-For naming a trusted address."""
    env, _server, _client_ca = deployment
    cert = issue_client_certificate(tmp_path, "gateway", env)
    cli("token", "create", "--role", "auditor", "--name", "gw", "--client-cert", str(cert[0]), env=env)
    header = {"X-SSL-Client-Cert": quote(leaf(cert[0]), safe="")}
    for trusted, expected in (("127.0.0.1/32", 200), ("10.0.0.0/8", 401)):
        lb_env = {
            **env,
            "LONGTRUST_CLIENT_CERT_HEADER": "X-SSL-Client-Cert",
            "LONGTRUST_TRUSTED_PROXIES": trusted,
        }
        server = Process(["serve"], lb_env, free_port(), tmp_path / f"lb-{expected}.log").start()
        try:
            spoofed = {**header, "X-Forwarded-For": "10.1.1.1"}
            assert (
                httpx.get(server.url + "/api/v1/tokens", headers=spoofed, timeout=30).status_code == expected
            )
        finally:
            server.stop()
