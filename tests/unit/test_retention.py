"""The rules of accounts over time (core/retention.py), without servers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailgothai.core.limits import check_domain_limits
from mailgothai.core.models import DomainLimits
from mailgothai.core.retention import (
    check_hold_reason,
    handover_folder,
    looks_like_mailbox_id,
    parse_mailbox_id,
    parse_retention_days,
    purge_date,
    purge_verdict,
)
from mailgothai.directory.retained import ldap_time, parse_ldap_time
from mailgothai.errors import InvalidInput

NOW = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize("text, days", [("0", 0), ("30", 30), (" 3650 ", 3650), (90, 90)])
def test_retention_days_from_0_to_3650(text: str | int, days: int) -> None:
    assert parse_retention_days(text) == days


@pytest.mark.parametrize("text", ["-1", "3651", "30.5", "thirty", "", "1e3"])
def test_other_retention_days_are_refused_naming_the_field(text: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_retention_days(text)
    assert refused.value.field == "retention_days"


def test_domain_limits_check_the_retention_period() -> None:
    check_domain_limits(DomainLimits(retention_days=3650))
    with pytest.raises(InvalidInput):
        check_domain_limits(DomainLimits(retention_days=4000))


def test_mailbox_ids_are_entry_uuids() -> None:
    assert looks_like_mailbox_id("7022FC24-8378-1041-803C-47F02781A394")
    assert parse_mailbox_id(" 7022FC24-8378-1041-803C-47F02781A394 ") == "7022fc24-8378-1041-803c-47f02781a394"
    for text in ("malee@moph.go.th", "7022fc24837810418 03c47f02781a394", "../../etc", "7022fc24-8378-1041-803c"):
        assert not looks_like_mailbox_id(text)
        with pytest.raises(InvalidInput):
            parse_mailbox_id(text)


def test_the_purge_date_is_fixed_at_deletion() -> None:
    assert purge_date(NOW, 30) == NOW + timedelta(days=30)
    assert purge_date(NOW, 0) == NOW


def test_purge_verdicts() -> None:
    due, later = NOW - timedelta(seconds=1), NOW + timedelta(days=1)
    assert purge_verdict(due, NOW, "", "").purge
    assert purge_verdict(NOW, NOW, "", "").purge
    assert not purge_verdict(later, NOW, "", "").purge
    held = purge_verdict(due, NOW, "case 1/2569", "")
    assert not held.purge and "case 1/2569" in held.reason
    domain_held = purge_verdict(due, NOW, "", "inquiry")
    assert not domain_held.purge and "domain" in domain_held.reason


def test_hold_reasons() -> None:
    assert check_hold_reason("  คดีที่ 12/2569\n ศาลปกครอง ") == "คดีที่ 12/2569 ศาลปกครอง"
    for bad in ("", "   ", "x" * 1025, "a\x00b"):
        with pytest.raises(InvalidInput) as refused:
            check_hold_reason(bad)
        assert refused.value.field == "reason"


def test_the_handover_folder_is_one_folder_named_by_the_address() -> None:
    assert handover_folder("saraban@moph.go.th") == "Archive/saraban@moph.go.th"
    taken = frozenset({"INBOX", "Archive/saraban@moph.go.th", "archive/saraban@moph.go.th (2)"})
    assert handover_folder("saraban@moph.go.th", taken) == "Archive/saraban@moph.go.th (3)"
    # '/' separates folders, '*' and '%' are IMAP wildcards: written as listescape reads them
    assert handover_folder("a/b*c%d@moph.go.th") == "Archive/a\\2fb\\2ac\\25d@moph.go.th"


@given(st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=40))
def test_a_handover_folder_never_opens_another_level(local: str) -> None:
    folder = handover_folder(f"{local}@moph.go.th")
    assert folder.count("/") == 1 and not any(c in folder for c in "*%\"\r\n")


def test_ldap_times_to_the_microsecond() -> None:
    moment = datetime(2026, 12, 3, 15, 17, 22, 152859, tzinfo=UTC)
    assert ldap_time(moment) == "20261203151722.152859Z"
    assert parse_ldap_time(ldap_time(moment)) == moment
    assert parse_ldap_time("20261203151722Z") == moment.replace(microsecond=0)
