"""Reading a backup's LDIF as slapcat writes it (directory/ldif_reader.py)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from mailgothai.directory.ldif_reader import LdifError, read_entries


def test_entries_with_folded_lines_base64_values_and_comments(tmp_path: Path) -> None:
    thai = "สมชาย ใจดี"
    long_value = "x" * 150
    path = tmp_path / "data.ldif"
    path.write_bytes(
        b"# slapcat output\n"
        b"dn: o=mailgothai\nobjectClass: organization\no: mailgothai\n\n"
        b"dn: mail=a@b.go.th,ou=users,domainName=b.go.th,ou=domains,o=mailgothai\n"
        b"objectClass: inetOrgPerson\nobjectClass: mgtAccount\n"
        + b"cn:: " + base64.b64encode(thai.encode()) + b"\n"
        + b"description: " + long_value[:70].encode() + b"\n " + long_value[70:].encode() + b"\n"
        b"entryUUID: 0a0b0c0d-0000-1000-8000-000000000001\n"
    )
    entries = list(read_entries(path))
    assert [e.dn for e in entries] == ["o=mailgothai",
                                       "mail=a@b.go.th,ou=users,domainName=b.go.th,ou=domains,o=mailgothai"]
    account = entries[1]
    assert account.all("objectClass") == ("inetOrgPerson", "mgtAccount")
    assert account.first("cn") == thai
    assert account.first("description") == long_value
    assert account.first("entryUUID") == "0a0b0c0d-0000-1000-8000-000000000001"
    wanted = list(read_entries(path, lambda dn: "domainname=b.go.th," in dn.lower()))
    assert [e.dn for e in wanted] == [account.dn]


def test_a_record_that_does_not_begin_with_dn_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.ldif"
    path.write_text("objectClass: top\n\n")
    with pytest.raises(LdifError, match="line 1: a record must begin with dn:"):
        list(read_entries(path))
