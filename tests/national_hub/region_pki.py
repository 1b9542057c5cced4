"""A region's CA for hub tests: a root that issues TLS client certificates naming its own OCSP
responder and CRL distribution point, served over HTTP on 127.0.0.1 by a real listener that counts
the requests it answers."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


class RegionCA:
    """``issue()`` gives (PEM, DER) of a client certificate; ``revoke(der)`` makes the responder and
    the CRL say so; ``ocsp_up`` / ``crl_up`` switch each endpoint to answering HTTP 503."""

    def __init__(self, name: str = "Region Root CA"):
        self.key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        self.cert = (
            self._builder(_name(name), self.key.public_key(), now)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(_usage(ca=True), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        self.revoked: dict[int, datetime] = {}
        self.ocsp_up = self.crl_up = True
        self.requests = {"ocsp": 0, "crl": 0}
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def pem(self) -> str:
        return self.cert.public_bytes(serialization.Encoding.PEM).decode()

    def _builder(self, subject: x509.Name, public_key, now: datetime) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.cert.subject if hasattr(self, "cert") else subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
        )

    def issue(self, base: str | None = None, endpoints: bool = True) -> tuple[str, bytes]:
        """A client certificate naming ``base`` (default: this CA's listener) as OCSP and CRL host,
        or neither without ``endpoints``."""
        base = base or self.base
        key = ec.generate_private_key(ec.SECP256R1())
        ocsp_url = x509.AccessDescription(
            AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(f"{base}/ocsp")
        )
        crl_url = x509.DistributionPoint([x509.UniformResourceIdentifier(f"{base}/crl")], None, None, None)
        builder = (
            self._builder(_name("region relay"), key.public_key(), datetime.now(UTC))
            .add_extension(_usage(ca=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        )
        if endpoints:
            builder = builder.add_extension(x509.AuthorityInformationAccess([ocsp_url]), critical=False)
            builder = builder.add_extension(x509.CRLDistributionPoints([crl_url]), critical=False)
        cert = builder.sign(self.key, hashes.SHA256())
        return cert.public_bytes(serialization.Encoding.PEM).decode(), cert.public_bytes(
            serialization.Encoding.DER
        )

    def revoke(self, der: bytes) -> None:
        self.revoked[x509.load_der_x509_certificate(der).serial_number] = datetime.now(UTC) - timedelta(
            seconds=1
        )

    def ocsp_answer(self, body: bytes) -> bytes:
        request = ocsp.load_der_ocsp_request(body)
        now = datetime.now(UTC)
        when = self.revoked.get(request.serial_number)
        status = ocsp.OCSPCertStatus.REVOKED if when else ocsp.OCSPCertStatus.GOOD
        response = (
            ocsp.OCSPResponseBuilder()
            .add_response_by_hash(
                request.issuer_name_hash,
                request.issuer_key_hash,
                request.serial_number,
                request.hash_algorithm,
                status,
                now - timedelta(minutes=1),
                now + timedelta(hours=1),
                when,
                None,
            )
            .responder_id(ocsp.OCSPResponderEncoding.HASH, self.cert)
            .certificates([self.cert])
            .sign(self.key, hashes.SHA256())
        )
        return response.public_bytes(serialization.Encoding.DER)

    def crl(self) -> bytes:
        now = datetime.now(UTC)
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.cert.subject)
            .last_update(now - timedelta(minutes=1))
            .next_update(now + timedelta(hours=1))
        )
        for serial, when in self.revoked.items():
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when).build()
            )
        return builder.sign(self.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _usage(ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not ca,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _handler(ca: RegionCA) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self._answer("ocsp", lambda: ca.ocsp_answer(body), "application/ocsp-response")

        def do_GET(self):
            self._answer("crl", ca.crl, "application/pkix-crl")

        def _answer(self, kind: str, make, content_type: str) -> None:
            up = ca.ocsp_up if kind == "ocsp" else ca.crl_up
            ca.requests[kind] += 1
            data = make() if up else b""
            self.send_response(200 if up else 503)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    return Handler
