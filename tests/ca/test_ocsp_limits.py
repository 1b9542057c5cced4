"""OCSP requests are walked element by element and refused at the CertID limit, not parsed in full."""

from __future__ import annotations

import asn1crypto.ocsp
import pytest
from asn1crypto import ocsp as asn1_ocsp

from ca import ocsp
from core.der import tlv

FLOOD = 280_000


def _request_entry(serial: int) -> bytes:
    cert_id = {
        "hash_algorithm": {"algorithm": "sha1"},
        "issuer_name_hash": b"\x11" * 20,
        "issuer_key_hash": b"\x22" * 20,
        "serial_number": serial,
    }
    return asn1_ocsp.Request({"req_cert": cert_id}).dump()


def _request(count: int) -> bytes:
    entries = b"".join([_request_entry(0x1234_5678_9ABC)] * count)
    return tlv(0x30, tlv(0x30, tlv(0x30, entries)))


@pytest.fixture
def decoded(monkeypatch):
    """How many times asn1crypto was asked to decode an OCSP request."""
    calls = []
    original = asn1_ocsp.OCSPRequest.load.__func__

    def counting(cls, *args, **kwargs):
        calls.append(cls)
        return original(cls, *args, **kwargs)

    monkeypatch.setattr(asn1crypto.ocsp.OCSPRequest, "load", classmethod(counting))
    return calls


def test_a_flood_of_cert_ids_stops_at_the_limit(decoded):
    der = _request(FLOOD)
    assert len(der) > 18_000_000  # ~19 MB, under the 20 MiB body limit
    with pytest.raises(ocsp.TooManyCertIds) as raised:
        ocsp.parse_request(der)
    assert raised.value.certids_seen == ocsp.MAX_REQUESTS + 1
    assert decoded == []  # no CertID was decoded


def test_the_limit_itself_is_accepted(decoded):
    parsed = ocsp.parse_request(_request(ocsp.MAX_REQUESTS))
    assert len(parsed) == ocsp.MAX_REQUESTS
    assert parsed[0].serial == 0x1234_5678_9ABC
    assert len(decoded) == 1


@pytest.mark.parametrize(
    "der",
    [
        tlv(0x30, tlv(0x30, tlv(0x31, _request_entry(1)))),  # requestList of the wrong type
        tlv(0x30, tlv(0x30, tlv(0x30, _request_entry(1))))[:-3],  # cut short
        b"\x30\x84\xff\xff\xff\xff\x30\x00",  # a length beyond the data
        b"\x30\x80\x30\x80\x00\x00\x00\x00",  # indefinite length
    ],
)
def test_malformed_shapes_are_invalid(der):
    with pytest.raises(ocsp.DomainError):
        ocsp.parse_request(der)


def test_flood_over_http_is_malformed_request(client):
    answer = client.post(
        "/ocsp", content=_request(FLOOD), headers={"Content-Type": "application/ocsp-request"}
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/ocsp-response"
    assert asn1_ocsp.OCSPResponse.load(answer.content)["response_status"].native == "malformed_request"
