"""The domain limit rules, as pure checks on the values in :mod:`mailgothai.core.models`.

They hold for the UI, the API, the CLI and CSV import alike. A limit of 0 (accounts or
quota pool) means "no limit". An account quota of 0 means "unlimited" to Dovecot, so a
domain that has a quota pool refuses accounts with quota 0: they would escape the pool.
"""

from __future__ import annotations

from dataclasses import fields

from mailgothai.core.models import Domain, DomainLimits
from mailgothai.core.quota import MAX_SIZE, format_size, format_size_human
from mailgothai.core.reasons import Why
from mailgothai.core.retention import parse_retention_days
from mailgothai.errors import InvalidInput, LimitExceeded

# The largest counts a domain may be given (0 is "no limit"): far above any agency, far
# below what the directory's INTEGER and SQL's 64-bit integers hold, which the relay's
# counters are compared with (10**30 overflowed SQLite at every authenticated RCPT).
MAX_COUNTS: dict[str, int] = {"max_accounts": 10_000_000, "hourly_send_limit": 10_000_000}


def _show(n: int) -> str:
    """A size for a message: exact ("9G") when it has a unit, else approximate ("1.2 GiB")."""
    text = format_size(n)
    return format_size_human(n) if text.isdigit() else text


def _need_non_negative(field: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(field, Why.NOT_WHOLE_NUMBER(value=repr(value)))
    if value < 0:
        raise InvalidInput(field, Why.NEGATIVE())


def _check_pooled_quota(domain: Domain, quota: int) -> None:
    if domain.limits.quota_pool > 0 and quota == 0:
        raise LimitExceeded(
            "quota", Why.POOLED_QUOTA_UNLIMITED(domain=domain.name)
        )


def check_account_fits(domain: Domain, new_quota: int, extra_accounts: int = 1) -> None:
    """Refuse adding ``extra_accounts`` accounts whose quotas total ``new_quota`` bytes."""
    _need_non_negative("quota", new_quota)
    _need_non_negative("max_accounts", extra_accounts)
    limits = domain.limits
    if limits.max_accounts > 0 and domain.account_count + extra_accounts > limits.max_accounts:
        if extra_accounts == 1:
            why = Why.ACCOUNTS_FULL(domain=domain.name, max=limits.max_accounts, count=domain.account_count)
        else:
            why = Why.ACCOUNTS_WOULD_OVERFLOW(domain=domain.name, max=limits.max_accounts,
                                              count=domain.account_count, extra=extra_accounts,
                                              total=domain.account_count + extra_accounts)
        raise LimitExceeded("max_accounts", why)
    if extra_accounts > 0:
        _check_pooled_quota(domain, new_quota)
    if limits.quota_pool > 0 and domain.quota_allocated + new_quota > limits.quota_pool:
        raise LimitExceeded(
            "quota",
            Why.POOL_WOULD_OVERFLOW(quota=_show(new_quota), used=_show(domain.quota_allocated),
                                    pool=_show(limits.quota_pool)),
        )


def check_quota_change(domain: Domain, old_quota: int, new_quota: int) -> None:
    """Refuse changing one account's quota from ``old_quota`` to ``new_quota`` if the pool can't hold it.

    Lowering a quota is always allowed, even in a domain that is already over its pool.
    """
    _need_non_negative("quota", old_quota)
    _need_non_negative("quota", new_quota)
    _check_pooled_quota(domain, new_quota)
    pool = domain.limits.quota_pool
    if pool > 0 and new_quota > old_quota and domain.quota_allocated - old_quota + new_quota > pool:
        raise LimitExceeded(
            "quota",
            Why.POOL_WOULD_OVERFLOW_CHANGE(quota=_show(new_quota), used=_show(domain.quota_allocated),
                                           pool=_show(pool), old=_show(old_quota)),
        )


def check_domain_limits(limits: DomainLimits) -> None:
    """Validate the values themselves; the field of the error is the DomainLimits attribute."""
    for f in fields(limits):
        _need_non_negative(f.name, getattr(limits, f.name))
    for name in ("quota_pool", "default_quota", "max_message_size"):
        if getattr(limits, name) > MAX_SIZE:
            raise InvalidInput(name, Why.ABOVE_MAXIMUM(max=format_size(MAX_SIZE)))
    for name, most in MAX_COUNTS.items():
        if getattr(limits, name) > most:
            raise InvalidInput(name, Why.ABOVE_MAXIMUM(max=most))
    if limits.max_message_size == 0:
        raise InvalidInput("max_message_size", Why.NOT_ABOVE_ZERO())
    parse_retention_days(limits.retention_days)
    if limits.quota_pool > 0:
        if limits.default_quota == 0:
            raise InvalidInput("default_quota", Why.UNLIMITED_WITH_POOL())
        if limits.default_quota > limits.quota_pool:
            raise InvalidInput(
                "default_quota",
                Why.DEFAULT_ABOVE_POOL(quota=_show(limits.default_quota), pool=_show(limits.quota_pool)),
            )


def check_new_limits_against_usage(domain: Domain, new: DomainLimits) -> None:
    """Validate ``new`` (see check_domain_limits) and refuse limits below what the domain already uses."""
    check_domain_limits(new)
    if new.max_accounts > 0 and new.max_accounts < domain.account_count:
        raise LimitExceeded(
            "max_accounts",
            Why.MAX_BELOW_COUNT(domain=domain.name, count=domain.account_count, max=new.max_accounts),
        )
    if new.quota_pool > 0 and new.quota_pool < domain.quota_allocated:
        raise LimitExceeded(
            "quota_pool",
            Why.POOL_BELOW_ALLOCATED(domain=domain.name, allocated=_show(domain.quota_allocated),
                                     pool=_show(new.quota_pool)),
        )
