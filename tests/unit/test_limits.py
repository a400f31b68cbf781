from __future__ import annotations

import dataclasses

import pytest

from mailgothai.core.limits import (
    check_account_fits,
    check_domain_limits,
    check_new_limits_against_usage,
    check_quota_change,
)
from mailgothai.core.models import Domain, DomainLimits
from mailgothai.errors import InvalidInput, LimitExceeded

GiB = 1024**3
MiB = 1024**2


def domain(count: int = 0, allocated: int = 0, **limits: int) -> Domain:
    return Domain(
        name="moph.go.th",
        limits=DomainLimits(**limits),
        account_count=count,
        quota_allocated=allocated,
    )


# ---- adding accounts ----------------------------------------------------------


def test_account_fits_when_under_both_limits() -> None:
    check_account_fits(domain(99, 8 * GiB, max_accounts=100, quota_pool=10 * GiB), 2 * GiB)


def test_unlimited_domain_takes_anything() -> None:
    check_account_fits(domain(10**6, 10**15, max_accounts=0, quota_pool=0), 5 * GiB, extra_accounts=1000)
    check_account_fits(domain(5, 0), 0)  # quota 0 (unlimited) is fine without a pool


def test_max_accounts_reached() -> None:
    with pytest.raises(LimitExceeded) as exc:
        check_account_fits(domain(100, max_accounts=100), GiB)
    assert exc.value.field == "max_accounts"
    assert exc.value.reason == "domain moph.go.th allows at most 100 accounts and already has 100"
    assert isinstance(exc.value, InvalidInput)


def test_max_accounts_bulk() -> None:
    d = domain(95, max_accounts=100)
    check_account_fits(d, 5 * GiB, extra_accounts=5)
    with pytest.raises(LimitExceeded) as exc:
        check_account_fits(d, 6 * GiB, extra_accounts=6)
    assert exc.value.field == "max_accounts"
    assert "at most 100" in exc.value.reason and "101" in exc.value.reason


def test_pool_exceeded() -> None:
    d = domain(9, 9 * GiB, quota_pool=10 * GiB)
    check_account_fits(d, GiB)  # exactly fills the pool
    with pytest.raises(LimitExceeded) as exc:
        check_account_fits(d, 2 * GiB)
    assert exc.value.field == "quota"
    assert exc.value.reason == "quota 2G would exceed the domain's pool: 9G of 10G allocated"


def test_pool_message_for_uneven_sizes_is_readable() -> None:
    d = domain(1, GiB + 12345, quota_pool=GiB + 20000)
    with pytest.raises(LimitExceeded) as exc:
        check_account_fits(d, 500 * MiB)
    assert exc.value.reason == "quota 500M would exceed the domain's pool: 1 GiB of 1 GiB allocated"


def test_account_count_is_checked_before_pool() -> None:
    with pytest.raises(LimitExceeded) as exc:
        check_account_fits(domain(10, 10 * GiB, max_accounts=10, quota_pool=10 * GiB), GiB)
    assert exc.value.field == "max_accounts"


def test_unlimited_account_quota_refused_in_a_pooled_domain() -> None:
    with pytest.raises(LimitExceeded) as exc:
        check_account_fits(domain(0, 0, quota_pool=10 * GiB), 0)
    assert exc.value.field == "quota"
    assert "unlimited" in exc.value.reason


def test_negative_quota_is_invalid_input() -> None:
    with pytest.raises(InvalidInput) as exc:
        check_account_fits(domain(), -1)
    assert exc.value.field == "quota"
    assert not isinstance(exc.value, LimitExceeded)


# ---- changing a quota -------------------------------------------------------------


def test_quota_change_within_pool() -> None:
    d = domain(5, 9 * GiB, quota_pool=10 * GiB)
    check_quota_change(d, old_quota=2 * GiB, new_quota=3 * GiB)  # 9 - 2 + 3 = 10


def test_quota_change_over_pool() -> None:
    d = domain(5, 9 * GiB, quota_pool=10 * GiB)
    with pytest.raises(LimitExceeded) as exc:
        check_quota_change(d, old_quota=2 * GiB, new_quota=4 * GiB)
    assert exc.value.field == "quota"
    assert exc.value.reason.startswith("quota 4G would exceed the domain's pool: 9G of 10G allocated")


def test_lowering_a_quota_is_allowed_even_over_the_pool() -> None:
    d = domain(5, 12 * GiB, quota_pool=10 * GiB)  # pool lowered behind our back
    check_quota_change(d, old_quota=4 * GiB, new_quota=3 * GiB)
    with pytest.raises(LimitExceeded):
        check_quota_change(d, old_quota=3 * GiB, new_quota=3 * GiB + 1)


def test_quota_change_without_pool_and_to_unlimited() -> None:
    check_quota_change(domain(5, 10**15), old_quota=GiB, new_quota=100 * GiB)
    check_quota_change(domain(5, 10**15), old_quota=GiB, new_quota=0)
    with pytest.raises(LimitExceeded) as exc:
        check_quota_change(domain(5, 5 * GiB, quota_pool=10 * GiB), old_quota=GiB, new_quota=0)
    assert exc.value.field == "quota"


# ---- the limit values themselves ------------------------------------------------


def test_default_limits_are_valid() -> None:
    check_domain_limits(DomainLimits())
    check_domain_limits(DomainLimits(max_accounts=100, quota_pool=10 * GiB, default_quota=10 * GiB))


@pytest.mark.parametrize(
    ("changes", "field", "reason_part"),
    [
        ({"max_accounts": -1}, "max_accounts", "negative"),
        ({"quota_pool": -1}, "quota_pool", "negative"),
        ({"default_quota": -5}, "default_quota", "negative"),
        ({"hourly_send_limit": -1}, "hourly_send_limit", "negative"),
        ({"max_message_size": 0}, "max_message_size", "greater than 0"),
        ({"max_message_size": -1}, "max_message_size", "negative"),
        ({"quota_pool": GiB, "default_quota": 2 * GiB}, "default_quota", "larger than the domain's pool 1G"),
        ({"quota_pool": GiB, "default_quota": 0}, "default_quota", "unlimited"),
        ({"quota_pool": 1024**5 + 1}, "quota_pool", "maximum"),
        ({"max_accounts": 1.5}, "max_accounts", "whole number"),
        ({"max_accounts": True}, "max_accounts", "whole number"),
        # past a sane maximum: 10**30 was kept, and SQLite overflowed at every authenticated RCPT
        ({"max_accounts": 10**30}, "max_accounts", "larger than the maximum 10000000"),
        ({"max_accounts": 2**63}, "max_accounts", "larger than the maximum 10000000"),
        ({"max_accounts": 10_000_001}, "max_accounts", "larger than the maximum 10000000"),
        ({"hourly_send_limit": 10**30}, "hourly_send_limit", "larger than the maximum 10000000"),
        ({"hourly_send_limit": 10_000_001}, "hourly_send_limit", "larger than the maximum 10000000"),
        ({"default_quota": 10**30}, "default_quota", "maximum"),
        ({"max_message_size": 10**30}, "max_message_size", "maximum"),
        ({"retention_days": 10**30}, "retention_days", "between 0 and 3650"),
    ],
)
def test_invalid_limit_values(changes: dict[str, object], field: str, reason_part: str) -> None:
    limits = dataclasses.replace(DomainLimits(), **changes)
    with pytest.raises(InvalidInput) as exc:
        check_domain_limits(limits)
    assert exc.value.field == field
    assert reason_part in exc.value.reason
    assert not isinstance(exc.value, LimitExceeded)


def test_hourly_send_limit_zero_is_allowed() -> None:
    check_domain_limits(DomainLimits(hourly_send_limit=0))


def test_the_largest_counts_are_allowed() -> None:
    check_domain_limits(DomainLimits(max_accounts=10_000_000, hourly_send_limit=10_000_000))


# ---- new limits against current usage -----------------------------------------


def test_new_limits_at_usage_are_fine() -> None:
    d = domain(50, 20 * GiB, max_accounts=100, quota_pool=100 * GiB)
    check_new_limits_against_usage(d, DomainLimits(max_accounts=50, quota_pool=20 * GiB))
    check_new_limits_against_usage(d, DomainLimits(max_accounts=0, quota_pool=0))


def test_lowering_max_accounts_below_count_is_refused() -> None:
    d = domain(50, 0, max_accounts=100)
    with pytest.raises(LimitExceeded) as exc:
        check_new_limits_against_usage(d, DomainLimits(max_accounts=49))
    assert exc.value.field == "max_accounts"
    assert exc.value.reason == (
        "domain moph.go.th already has 50 accounts; the maximum cannot be lowered to 49"
    )


def test_setting_a_pool_below_allocation_is_refused() -> None:
    d = domain(50, 20 * GiB)  # no pool so far
    with pytest.raises(LimitExceeded) as exc:
        check_new_limits_against_usage(d, DomainLimits(quota_pool=19 * GiB))
    assert exc.value.field == "quota_pool"
    assert "20G allocated" in exc.value.reason and "19G" in exc.value.reason


def test_new_limits_are_validated_too() -> None:
    with pytest.raises(InvalidInput) as exc:
        check_new_limits_against_usage(domain(), DomainLimits(max_message_size=0))
    assert exc.value.field == "max_message_size"
