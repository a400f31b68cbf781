"""The listings' sort and VLV control values, encoded and read by wire.py (the project's
one BER encoder): the exact bytes the former pyasn1 encoding of directory/vlv.py gave
(recorded from it before it was removed), except that TRUE is written 0xFF, as RFC 4511
(section 5.1) asks and wire.py writes every BOOLEAN, where pyasn1 wrote 0x01."""

from __future__ import annotations

import pytest

from mailgothai.directory.vlv import (
    SORT_REQUEST_OID,
    VLV_REQUEST_OID,
    SortKey,
    VlvResult,
    parse_vlv_response,
    sort_control,
    vlv_control,
)

RULE = "caseIgnoreOrderingMatch"


def recorded(hex_bytes: str, true_at: int | None = None) -> bytes:
    """Bytes recorded from pyasn1; `true_at`: the offset of a BOOLEAN TRUE's content there."""
    data = bytearray.fromhex(hex_bytes)
    if true_at is not None:
        assert data[true_at] == 0x01
        data[true_at] = 0xFF
    return bytes(data)


@pytest.mark.parametrize(("keys", "expected"), [
    ([SortKey("mail", RULE)],
     recorded("3021301f04046d61696c80176361736549676e6f72654f72646572696e674d61746368")),
    ([SortKey("cn", RULE, True)],
     recorded("302230200402636e80176361736549676e6f72654f72646572696e674d61746368810101", true_at=35)),
    ([SortKey("mgtQuota"), SortKey("mail", RULE)],
     recorded("302d300a04086d677451756f7461301f04046d61696c80176361736549676e6f72654f72646572696e674d61746368")),
    ([SortKey("mgtQuota", "", True)], recorded("300f300d04086d677451756f7461810101", true_at=16)),
])
def test_sort_control_bytes(keys: list[SortKey], expected: bytes) -> None:
    assert sort_control(keys) == (SORT_REQUEST_OID, True, expected)


@pytest.mark.parametrize(("args", "expected"), [
    ((1, 49, 0, None), "300e020100020131a006020101020100"),
    ((51, 49, 40000, b"\x01\x02\x03\x04"), "3016020100020131a0080201330203009c40040401020304"),
    ((1, 0, 0, b""), "300e020100020100a006020101020100"),  # an empty context ID is left out
    ((200, 300, 70000, bytes(range(150))),  # lengths past 127 in the long form
     "3081ab0201000202012ca009020200c80203011170048196" + bytes(range(150)).hex()),
])
def test_vlv_control_bytes(args: tuple[int, int, int, bytes | None], expected: str) -> None:
    assert vlv_control(*args) == (VLV_REQUEST_OID, True, bytes.fromhex(expected))


@pytest.mark.parametrize(("raw", "expected"), [
    ("300f0201330203009c400a01000402abcd", VlvResult(51, 40000, 0, b"\xab\xcd")),
    ("30090201010201000a014c", VlvResult(1, 0, 76, None)),  # no context ID; result 76 (offsetRangeError)
])
def test_vlv_response_is_read(raw: str, expected: VlvResult) -> None:
    assert parse_vlv_response(bytes.fromhex(raw)) == expected


def test_what_is_not_a_vlv_response_is_refused() -> None:
    with pytest.raises(ValueError):
        parse_vlv_response(bytes.fromhex("3006040161040162"))
