"""The DER splicing helpers agree with asn1crypto's encoder; serial numbers have one text form."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from asn1crypto import core as asn1_core
from asn1crypto import x509

from core.der import der_bit_string, der_header, der_integer, der_time, generalized_time, serial_hex, tlv


@pytest.mark.parametrize("value", [0, 1, 127, 128, 255, 256, -1, -128, -129, 2**64, 2**130 + 7])
def test_integers_match_asn1crypto(value):
    assert der_integer(value) == asn1_core.Integer(value).dump()


@pytest.mark.parametrize("size", [0, 1, 127, 128, 255, 256, 70000])
def test_lengths_match_asn1crypto(size):
    body = b"\x01" * size
    assert tlv(0x04, body) == asn1_core.OctetString(body).dump()
    assert der_bit_string(body) == asn1_core.OctetBitString(body).dump()


def test_times_pick_utc_time_or_generalized_time_by_year():
    for at in [datetime(2049, 12, 31, 23, 59, 59, tzinfo=UTC), datetime(2050, 1, 1, tzinfo=UTC)]:
        name = "utc_time" if at.year < 2050 else "general_time"
        assert der_time(at) == x509.Time(name=name, value=at).dump()
    assert generalized_time(datetime(2026, 5, 1, 8, tzinfo=timezone(timedelta(hours=8)))) == (
        asn1_core.GeneralizedTime(datetime(2026, 5, 1, tzinfo=UTC)).dump()
    )


def test_header_walks_elements_and_refuses_overruns():
    data = asn1_core.Sequence.load(tlv(0x30, der_integer(5) + tlv(0x04, b"ab"))).dump()
    tag, start, end = der_header(data, 0, len(data))
    assert (tag, end) == (0x30, len(data))
    tag, inner_start, inner_end = der_header(data, start, end)
    assert tag == 0x02 and data[inner_start:inner_end] == b"\x05"
    with pytest.raises(ValueError):
        der_header(data, 0, len(data) - 1)
    with pytest.raises(ValueError):
        der_header(b"\x30\x80\x00\x00", 0, 4)


@pytest.mark.parametrize(
    ("serial", "text"),
    [
        (0, "00"),
        (1, "01"),
        (0x0156B4, "0156b4"),
        (0xFF, "ff"),
        (0x100, "0100"),
        (-0x1AB, "-01ab"),
        (2**159 - 1, "7f" + "ff" * 19),
    ],
)
def test_a_serial_number_is_two_hex_digits_a_byte(serial, text):
    assert serial_hex(serial) == text
    assert int(text, 16) == serial
