"""The audit log's copy of a value (store/audit.py: clean): secrets redacted at any depth,
everything else JSON-ready and unchanged."""

from __future__ import annotations

import enum
from datetime import UTC, datetime

from mailgothai.store.audit import REDACTED, clean


class Colour(enum.StrEnum):
    RED = "red"


def test_secret_named_keys_are_redacted_at_any_depth() -> None:
    value = {"email": "a@b.example", "Password": "x", "nested": [{"api_token": "t", "quota": 5}],
             "tuple": ("PasswordHash", 1), "flag": True, "none": None}
    assert clean(value) == {"email": "a@b.example", "Password": REDACTED,
                            "nested": [{"api_token": REDACTED, "quota": 5}],
                            "tuple": ["PasswordHash", 1], "flag": True, "none": None}


def test_enums_times_and_bytes_become_plain_values() -> None:
    at = datetime(2026, 12, 4, 20, 0, tzinfo=UTC)
    assert clean({"status": Colour.RED, "at": at, "raw": b"\xe0\xb8\x81", "n": 1.5}) == {
        "status": "red", "at": at.isoformat(), "raw": "ก", "n": 1.5}
    assert clean(Colour.RED) == "red" and type(clean(Colour.RED)) is str
