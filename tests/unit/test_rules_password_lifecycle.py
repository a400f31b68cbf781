"""Passwords over time (issue 20) on the fakes: core/password_lifecycle.py's rules, who
marks an account "change at next login" (a generated password at creation by the domain's
default, every new account when the domain asks, an admin's reset), who may set a domain's
settings, and the expiry job (services/password_lifecycle.PasswordExpiry) with its clock
given: a password with no time gets its clock started, a warning goes out once, an expired
password is marked, audited and flushed from Dovecot's cache. The real directory, Dovecot
and relay: tests/integration/test_password_lifecycle.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mailgothai.core.password_lifecycle import Lifecycle, change_required_text
from mailgothai.errors import InvalidInput, NotFound
from mailgothai.services.accounts import AccountService
from mailgothai.services.password_lifecycle import PasswordExpiry, PasswordLifecycleService, must_change_now
from mailgothai.services.passwords import PasswordInput
from tests.fakes import OPERATOR, FakeWorld, admin_of, fake_backends

MINE, THEIRS = "mine.test", "theirs.test"
ADMIN = admin_of(MINE)
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
CHOSEN = "Lamp-river-Kx7-93"


@pytest.fixture
def world(tmp_path: Path) -> FakeWorld:
    world = fake_backends(tmp_path)
    for name in (MINE, THEIRS):
        world.add_domain(name)
    world.forget_history()
    return world


def test_the_lifecycle_rules() -> None:
    default = Lifecycle()
    assert default.must_change_new(generated=True) and not default.must_change_new(generated=False)
    assert Lifecycle(must_change_on_create=True).must_change_new(generated=False)
    assert not Lifecycle(must_change_generated=False).must_change_new(generated=True)
    assert default.expires_at(NOW) is None and not default.expired(NOW - timedelta(days=9999), NOW)
    aging = Lifecycle(max_age_days=90, warn_days=7)
    assert aging.expires_at(NOW) == NOW + timedelta(days=90)
    assert aging.expired(NOW - timedelta(days=90), NOW) and not aging.expired(NOW - timedelta(days=89), NOW)
    assert aging.changed_before(NOW, 7) == NOW - timedelta(days=83)
    for field, values in (("max_age_days", {"max_age_days": 0}), ("warn_days", {"warn_days": 91})):
        with pytest.raises(InvalidInput) as caught:
            Lifecycle(**values)  # type: ignore[arg-type]
        assert caught.value.field == field
    assert "," not in change_required_text("https://mail.example.go.th/me")


def test_who_starts_marked(world: FakeWorld) -> None:
    accounts = AccountService(world.backends, OPERATOR)
    generated = accounts.add(f"gen@{MINE}", PasswordInput(generate=True)).account
    chosen = accounts.add(f"chosen@{MINE}", PasswordInput(plain=CHOSEN)).account
    assert generated.must_change_password and not chosen.must_change_password
    PasswordLifecycleService(world.backends, ADMIN).set(MINE, {"must_change_on_create": "yes"}, NOW)
    assert accounts.add(f"later@{MINE}", PasswordInput(plain=CHOSEN)).account.must_change_password
    # an admin's reset marks; unless told not to
    accounts.set_password(f"chosen@{MINE}", PasswordInput(plain="Orchid-Tugboat-58q"))
    assert world.backends.accounts.get(f"chosen@{MINE}").must_change_password
    assert f"chosen@{MINE}" in world.mail.flushed
    accounts.set_password(f"chosen@{MINE}", PasswordInput(plain="Orchid-Tugboat-59q"), must_change=False)
    assert not world.backends.accounts.get(f"chosen@{MINE}").must_change_password


def test_a_domain_admin_sets_only_its_own_domains_and_each_field_is_checked(world: FakeWorld) -> None:
    service = PasswordLifecycleService(world.backends, ADMIN)
    shown = service.set(MINE, {"max_age_days": "90", "warn_days": "10"}, NOW)
    assert shown.lifecycle == Lifecycle(max_age_days=90, warn_days=10) and shown.changed is not None
    assert [e.action for e in world.audit.entries] == ["password.lifecycle.set"]
    assert service.set(MINE, {"max_age_days": "off"}, NOW).lifecycle.max_age_days is None
    with pytest.raises(NotFound):
        service.set(THEIRS, {"max_age_days": "90"}, NOW)
    for changes, field in (({"max_age_days": "soon"}, "max_age_days"), ({"warn_days": "-1"}, "warn_days"),
                           ({"must_change_on_create": "maybe"}, "must_change_on_create"),
                           ({"colour": "1"}, "colour")):
        with pytest.raises(InvalidInput) as caught:
            service.set(MINE, changes, NOW)
        assert caught.value.field == field


def test_the_expiry_job_warns_once_then_marks_and_the_web_sees_the_age_at_once(world: FakeWorld) -> None:
    sent: list[tuple[str, bytes]] = []
    user = f"kanya@{MINE}"
    AccountService(world.backends, OPERATOR).add(user, PasswordInput(plain=CHOSEN))
    world.backends.accounts.stamp_password_time(user, NOW)
    old = f"old@{MINE}"  # made before issue 20: no time stored
    AccountService(world.backends, OPERATOR).add(old, PasswordInput(plain=CHOSEN))
    world.backends.accounts.stamp_password_time(old, None)  # type: ignore[arg-type]
    PasswordLifecycleService(world.backends, OPERATOR).set(MINE, {"max_age_days": "30", "warn_days": "7"}, NOW)
    world.forget_history()
    job = PasswordExpiry(world.backends, lambda email, message: sent.append((email, message)))

    first = job.run(NOW + timedelta(days=3))
    assert first.stamped == 1 and first.warned == [] and first.marked == []
    assert job.run(NOW + timedelta(days=24)).warned == [user]
    assert job.run(NOW + timedelta(days=25)).warned == []  # once
    assert [email for email, _ in sent] == [user]
    assert b"Auto-Submitted: auto-generated" in sent[0][1] and b"\r\n" in sent[0][1]

    account = world.backends.accounts.get(user)
    assert not account.must_change_password
    assert must_change_now(world.backends, account, NOW + timedelta(days=30))  # the web: at once
    late = job.run(NOW + timedelta(days=30))
    assert late.marked == [user] and world.backends.accounts.get(user).must_change_password
    assert user in world.mail.flushed
    assert [e.action for e in world.audit.entries] == ["account.password.expired"]
    assert job.run(NOW + timedelta(days=31)).marked == []  # already marked


def test_a_warning_follows_a_rename_and_never_passes_to_a_new_holder(world: FakeWorld) -> None:
    from mailgothai.services.lifecycle import LifecycleService

    sent: list[str] = []
    job = PasswordExpiry(world.backends, lambda email, message: sent.append(email))
    user, renamed = f"pranee@{MINE}", f"pranee.s@{MINE}"
    AccountService(world.backends, OPERATOR).add(user, PasswordInput(plain=CHOSEN))
    world.backends.accounts.stamp_password_time(user, NOW)
    PasswordLifecycleService(world.backends, OPERATOR).set(MINE, {"max_age_days": "30", "warn_days": "7"}, NOW)
    assert job.run(NOW + timedelta(days=24)).warned == [user]
    LifecycleService(world.backends, OPERATOR).rename(user, renamed)
    assert job.run(NOW + timedelta(days=25)).warned == []  # the same expiry: warned once, whatever its address
    # deleted, and a newcomer takes the address the same moment: it is warned for its own password
    AccountService(world.backends, OPERATOR).delete(renamed)
    AccountService(world.backends, OPERATOR).add(renamed, PasswordInput(plain=CHOSEN))
    world.backends.accounts.stamp_password_time(renamed, NOW)
    assert job.run(NOW + timedelta(days=26)).warned == [renamed]
    assert sent == [user, renamed]


def test_a_failed_warning_is_tried_again(world: FakeWorld) -> None:
    user = f"somsri@{MINE}"
    AccountService(world.backends, OPERATOR).add(user, PasswordInput(plain=CHOSEN))
    world.backends.accounts.stamp_password_time(user, NOW)
    PasswordLifecycleService(world.backends, OPERATOR).set(MINE, {"max_age_days": "30"}, NOW)

    def down(email: str, message: bytes) -> None:
        raise OSError("relay down")

    assert PasswordExpiry(world.backends, down).run(NOW + timedelta(days=20)).failed == [user]
    sent: list[str] = []
    assert PasswordExpiry(world.backends, lambda e, m: sent.append(e)).run(NOW + timedelta(days=20)).warned == [user]


def test_a_deleted_domain_takes_its_settings_along(world: FakeWorld) -> None:
    from mailgothai.services.domains import DomainService

    PasswordLifecycleService(world.backends, OPERATOR).set(THEIRS, {"max_age_days": "30"}, NOW)
    DomainService(world.backends, OPERATOR).delete(THEIRS)
    world.add_domain(THEIRS)  # the name added again starts with the defaults
    assert PasswordLifecycleService(world.backends, OPERATOR).show(THEIRS).lifecycle == Lifecycle()
