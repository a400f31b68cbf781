"""Deliberately invalid rows, one kind at a time, for checking an importer's report.

Every bad row carries the surname "ผิดพลาด" so a person reading the file can spot it.
The kinds cover what the importer must refuse: address syntax and length, domains not
hosted, duplicates inside the file, sizes, status, over-long and control-character
names (one with a line break inside a quoted cell, which must still count as one row),
alias and forward addresses, and passwords.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Protocol

MARK = "ผิดพลาด"
KINDS = ("email_syntax", "unknown_domain", "duplicate", "quota", "status", "too_long", "control_chars",
         "alias_foreign", "local_too_long", "password", "alias_taken", "forward_syntax", "newline_in_name")


class HasEmail(Protocol):
    @property
    def email(self) -> str: ...


def make(kind: str, rng: random.Random, domains: list[str], earlier: Sequence[HasEmail]) -> list[str]:
    """The cells of one bad row of this kind (columns as in generate.HEADER)."""
    d = rng.choice(domains)
    n = rng.randrange(10**6)
    row = ["", "ทดสอบ", MARK, f"ทดสอบ {MARK}", "", "1G", "active", "", ""]
    if kind == "email_syntax":
        row[0] = rng.choice([f"no-at-sign{n}.go.th", f"two{n}@@{d}", f"sp ace{n}@{d}", f"@{n}{d}",
                             f"trailing{n}.@{d}", f"x{n}@{d}.", f"dots{n}..x@{d}", f"{n}@bad_domain.go.th"])
    elif kind == "unknown_domain":
        row[0] = f"user{n}@not-hosted-{rng.randrange(10**4)}.example"
    elif kind == "duplicate":
        row[0] = rng.choice(earlier).email
    elif kind == "quota":
        row[0] = f"badquota{n}@{d}"
        row[5] = rng.choice(["lots", "-5G", "1.5.2G", "99999999T", "G", "12 parsecs"])
    elif kind == "status":
        row[0] = f"badstatus{n}@{d}"
        row[6] = rng.choice(["enabled-ish", "yes", "deleted?", "ใช้งาน"])
    elif kind == "too_long":
        row[0] = f"longname{n}@{d}"
        row[3] = "ก" * 1000
    elif kind == "control_chars":
        row[0] = f"ctrl{n}@{d}"
        row[1] = rng.choice(["bad\x00name", "tab\there", "bell\x07"])
    elif kind == "alias_foreign":
        row[0] = f"aliasbad{n}@{d}"
        row[7] = f"alias{n}@not-hosted.example"
    elif kind == "local_too_long":
        row[0] = "a" * 65 + f"@{d}"
    elif kind == "password":
        row[0] = f"badpass{n}@{d}"
        row[4] = rng.choice(["short", "{SSHA}not-base64!", "{MD5}X03MO1qnZdYdgyfeuILPmQ==", "{ARGON2}$argon2d$x"])
    elif kind == "alias_taken":
        row[0] = f"aliastaken{n}@{d}"
        row[7] = rng.choice(earlier).email
    elif kind == "forward_syntax":
        row[0] = f"badforward{n}@{d}"
        row[8] = f"nobody{n}@@example.org"
    elif kind == "newline_in_name":
        row[0] = f"newline{n}@{d}"
        row[3] = "first line\nsecond line"
    else:
        raise ValueError(f"unknown bad row kind {kind!r}")
    return row
