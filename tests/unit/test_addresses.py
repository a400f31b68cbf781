from __future__ import annotations

import pytest

from mailgothai.core.addresses import (
    normalize_address,
    normalize_domain,
    parse_address_list,
    split_address,
)
from mailgothai.errors import InvalidInput

THAI_EXAMPLE_ALABEL = "xn--72c1a1bt4awk9o.xn--o3cw4h"  # ตัวอย่าง.ไทย, IDNA 2008 / UTS 46


def reason_of(exc_info: pytest.ExceptionInfo[InvalidInput]) -> str:
    return exc_info.value.reason


# ---- domains ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("moph.go.th", "moph.go.th"),
        ("  MOPH.Go.TH ", "moph.go.th"),
        ("m-society.go.th", "m-society.go.th"),
        ("sao001.chiangmai.go.th", "sao001.chiangmai.go.th"),
        ("ตัวอย่าง.ไทย", THAI_EXAMPLE_ALABEL),
        ("ตัวอย่าง。ไทย", THAI_EXAMPLE_ALABEL),  # ideographic full stop
        ("XN--72C1A1BT4AWK9O.XN--O3CW4H", THAI_EXAMPLE_ALABEL),
        ("moph.ไทย", "moph.xn--o3cw4h"),
        ("ＭＯＰＨ.go.th", "moph.go.th"),  # full-width letters map to ASCII
        ("bücher.de", "xn--bcher-kva.de"),
    ],
)
def test_normalize_domain_accepts(text: str, expected: str) -> None:
    assert normalize_domain(text) == expected


def test_thai_alabel_round_trips_through_idna_decoding() -> None:
    assert THAI_EXAMPLE_ALABEL.encode("ascii").decode("idna") == "ตัวอย่าง.ไทย"


@pytest.mark.parametrize(
    ("text", "reason_part"),
    [
        ("", "is empty"),
        ("   ", "is empty"),
        ("moph.go.th.", "ends with a dot"),
        (".moph.go.th", "starts with a dot"),
        ("moph..go.th", "empty label"),
        ("localhost", "at least two labels"),
        ("a" * 64 + ".go.th", "domain label longer than 63 characters"),
        ("-moph.go.th", "hyphen"),
        ("moph-.go.th", "hyphen"),
        ("mo_ph.go.th", "invalid character '_'"),
        ("mo ph.go.th", "contains a space"),
        ("moph.go.th\x00", "control character"),
        ("10.0.0.1", "all digits"),
        ("xn--zz-.go.th", "hyphen"),
        ("xn--a.go.th", "not a valid IDNA A-label"),
    ],
)
def test_normalize_domain_rejects(text: str, reason_part: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        normalize_domain(text)
    assert exc.value.field == "domain"
    assert reason_part in reason_of(exc)


def test_domain_label_of_exactly_63_is_fine_and_total_length_is_limited() -> None:
    label = "a" * 63
    assert normalize_domain(f"{label}.go.th") == f"{label}.go.th"
    four = ".".join([label] * 4)  # 255 characters
    with pytest.raises(InvalidInput) as exc:
        normalize_domain(four)
    assert reason_of(exc) == "domain longer than 253 characters"
    assert len(normalize_domain(".".join([label] * 3) + "." + "b" * 61)) == 253


def test_domain_length_counts_the_encoded_form() -> None:
    # 20 Thai characters make a label well over 63 characters once punycode-encoded
    with pytest.raises(InvalidInput) as exc:
        normalize_domain("ตัวอย่าง" * 8 + ".ไทย")
    assert reason_of(exc) == "domain label longer than 63 characters"


def test_normalize_domain_uses_the_given_field() -> None:
    with pytest.raises(InvalidInput) as exc:
        normalize_domain("nodots", field="domain_name")
    assert exc.value.field == "domain_name"


# ---- addresses --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Smith@Example.GO.TH", "smith@example.go.th"),
        ("  somchai.s@moph.go.th  ", "somchai.s@moph.go.th"),
        ("Somchai.S@MOPH.go.th", "somchai.s@moph.go.th"),
        ("o'brien+tag@d.go.th", "o'brien+tag@d.go.th"),
        ("a!#$%&'*+-/=?^_`{|}~z@d.go.th", "a!#$%&'*+-/=?^_`{|}~z@d.go.th"),
        ("user@ตัวอย่าง.ไทย", "user@" + THAI_EXAMPLE_ALABEL),
        ("a" * 64 + "@d.go.th", "a" * 64 + "@d.go.th"),
    ],
)
def test_normalize_address_accepts(text: str, expected: str) -> None:
    assert normalize_address(text) == expected


def test_normalize_address_is_idempotent() -> None:
    once = normalize_address("Smith.J+Mail@ตัวอย่าง.ไทย")
    assert normalize_address(once) == once


# the generator's deliberately bad e-mail rows (../shared/data/gen_dataset.py)
@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("no-at-sign1.go.th", "missing '@'"),
        ("two1@@d.go.th", "more than one '@'"),
        ("sp ace1@d.go.th", "address contains a space"),
        ("@1d.go.th", "nothing before the '@'"),
        ("trailing1.@d.go.th", "local part ends with a dot"),
        ("x1@d.go.th.", "domain ends with a dot"),
        ("a" * 65 + "@d.go.th", "local part longer than 64 characters"),
    ],
)
def test_generator_bad_emails_are_rejected(text: str, reason: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        normalize_address(text)
    assert exc.value.field == "email"
    assert reason_of(exc) == reason


@pytest.mark.parametrize(
    ("text", "reason_part"),
    [
        ("", "is empty"),
        ("user@", "nothing after the '@'"),
        (".user@d.go.th", "local part starts with a dot"),
        ("us..er@d.go.th", "two dots in a row"),
        ('"john doe"@d.go.th', "quoted local parts are not accepted"),
        ('"john"@d.go.th', "quoted local parts are not accepted"),
        ('jo"hn@d.go.th', "quoted local parts are not accepted"),
        ("john\tdoe@d.go.th", "control character"),
        ("john\x00@d.go.th", "control character"),
        ("john\u00a0doe@d.go.th", "contains a space"),
        ("สมชาย@d.go.th", "non-ASCII"),
        ("jöhn@d.go.th", "non-ASCII"),
        ("john(comment)@d.go.th", "invalid character '('"),
        ("a,b@d.go.th", "invalid character ','"),
        ("john@d_x.go.th", "invalid character '_'"),
        ("john@localhost", "at least two labels"),
        ("john@[127.0.0.1]", "invalid character '['"),
    ],
)
def test_normalize_address_rejects(text: str, reason_part: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        normalize_address(text)
    assert reason_part in reason_of(exc)


def test_whole_address_limit_is_254() -> None:
    local = "a" * 64
    domain_254 = ".".join(["b" * 63, "c" * 63, "d" * 61])  # 189 chars; 64+1+189 = 254
    assert len(normalize_address(f"{local}@{domain_254}")) == 254
    with pytest.raises(InvalidInput) as exc:
        normalize_address(f"{local}@{domain_254}x")
    assert reason_of(exc) == "address longer than 254 characters"


def test_normalize_address_uses_the_given_field() -> None:
    with pytest.raises(InvalidInput) as exc:
        normalize_address("nobody", field="forward")
    assert exc.value.field == "forward"
    assert str(exc.value) == "forward: missing '@'"


def test_split_address() -> None:
    assert split_address("somchai.s@moph.go.th") == ("somchai.s", "moph.go.th")
    with pytest.raises(InvalidInput):
        split_address("no-at-sign")
    with pytest.raises(InvalidInput):
        split_address("user@")


# ---- lists ------------------------------------------------------------------


def test_parse_address_list_separators_blanks_and_duplicates() -> None:
    text = " A@d.go.th; b@d.go.th ,, ;a@D.GO.TH; c@ตัวอย่าง.ไทย ; "
    assert parse_address_list(text, "aliases") == (
        "a@d.go.th",
        "b@d.go.th",
        "c@" + THAI_EXAMPLE_ALABEL,
    )


@pytest.mark.parametrize("text", ["", "  ", ";", " ; , "])
def test_parse_address_list_empty(text: str) -> None:
    assert parse_address_list(text, "forward") == ()


def test_parse_address_list_error_names_field_and_address() -> None:
    with pytest.raises(InvalidInput) as exc:
        parse_address_list("ok@d.go.th; bad@@d.go.th; other@d.go.th", "forward")
    assert exc.value.field == "forward"
    assert exc.value.reason == "'bad@@d.go.th': more than one '@'"
