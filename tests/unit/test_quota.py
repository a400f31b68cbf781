from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailgothai.core.quota import MAX_SIZE, format_size, format_size_human, parse_size
from mailgothai.errors import InvalidInput

KiB, MiB, GiB, TiB, PiB = 1024, 1024**2, 1024**3, 1024**4, 1024**5


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("500M", 500 * MiB),
        ("2G", 2 * GiB),
        ("1073741824", GiB),
        ("0", 0),
        ("1048576", MiB),
        ("2g", 2 * GiB),
        ("10k", 10 * KiB),
        ("3T", 3 * TiB),
        ("1P", PiB),
        ("2GB", 2 * GiB),
        ("2 GiB", 2 * GiB),
        ("500 mb", 500 * MiB),
        ("500MiB", 500 * MiB),
        ("1kib", KiB),
        ("5TB", 5 * TiB),
        ("1.5G", int(1.5 * GiB)),
        ("1.5G", 1536 * MiB),
        ("0.5 M", 512 * KiB),
        ("1.1K", 1126),  # fractions of a byte are dropped
        ("  2G  ", 2 * GiB),
        ("100B", 100),
        ("007M", 7 * MiB),
    ],
)
def test_parse_size_accepts(text: str, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("value", [0, 1, 5 * GiB, PiB])
def test_parse_size_accepts_int(value: int) -> None:
    assert parse_size(value) == value


# the generator's deliberately bad quotas, plus more
@pytest.mark.parametrize(
    ("text", "reason_part"),
    [
        ("lots", "not a size"),
        ("-5G", "must not be negative"),
        ("1.5.2G", "not a size"),
        ("99999999T", "larger than the maximum 1P"),
        ("G", "no number"),
        ("GiB", "no number"),
        ("", "is empty"),
        ("   ", "is empty"),
        ("-1", "must not be negative"),
        ("1.5", "needs a unit"),
        ("2X", "not a size"),
        ("2 G B", "not a size"),
        ("1,5G", "not a size"),
        ("+5G", "not a size"),
        ("1e9", "not a size"),
        (".5G", "not a size"),
        ("5.G", "not a size"),
        ("๕G", "not a size"),  # Thai digit five
        ("1025T", "larger than the maximum 1P"),
        ("1" + "0" * 5000, "larger than the maximum"),
    ],
)
def test_parse_size_rejects(text: str, reason_part: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        parse_size(text)
    assert exc.value.field == "quota"
    assert reason_part in exc.value.reason


def test_parse_size_limits_and_field() -> None:
    assert parse_size(str(MAX_SIZE)) == MAX_SIZE
    with pytest.raises(InvalidInput) as exc:
        parse_size(str(MAX_SIZE + 1), field="quota_pool")
    assert exc.value.field == "quota_pool"
    assert exc.value.reason == "larger than the maximum 1P"
    with pytest.raises(InvalidInput):
        parse_size(-1)
    with pytest.raises(InvalidInput):
        parse_size(True)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (0, "0"),
        (1, "1"),
        (1000, "1000"),
        (KiB, "1K"),
        (500 * MiB, "500M"),
        (2 * GiB, "2G"),
        (1536 * MiB, "1536M"),
        (1024 * GiB, "1T"),
        (PiB, "1P"),
        (GiB + 1, str(GiB + 1)),
    ],
)
def test_format_size(n: int, expected: str) -> None:
    assert format_size(n) == expected


def test_format_size_refuses_negative() -> None:
    with pytest.raises(ValueError):
        format_size(-1)


@given(st.integers(min_value=0, max_value=MAX_SIZE))
def test_format_then_parse_round_trips(n: int) -> None:
    assert parse_size(format_size(n)) == n


@given(st.integers(min_value=0, max_value=1024 * 1024), st.sampled_from(["K", "M", "G", "T", "P"]))
def test_round_trip_of_unit_multiples(k: int, unit: str) -> None:
    n = k * {"K": KiB, "M": MiB, "G": GiB, "T": TiB, "P": PiB}[unit]
    if n <= MAX_SIZE:
        assert parse_size(format_size(n)) == n
        assert len(format_size(n)) <= len(str(n))


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (0, "0 B"),
        (512, "512 B"),
        (KiB, "1 KiB"),
        (1536 * MiB, "1.5 GiB"),
        (2 * GiB, "2 GiB"),
        (500 * MiB, "500 MiB"),
        (1023 * KiB + 1000, "1 MiB"),
        (PiB, "1 PiB"),
    ],
)
def test_format_size_human(n: int, expected: str) -> None:
    assert format_size_human(n) == expected
