"""An admin's reset writes the new password first; if what follows in SQL fails (the
store away: web sessions, reset links, the recovery address), the old password's IMAP,
ManageSieve and SMTP sessions have ended all the same and the reset is in the audit log:
a failure after the write never leaves an intruder's sessions open or the change unrecorded."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest

from mailgothai.errors import StoreError
from mailgothai.services.accounts import AccountService
from mailgothai.services.passwords import PasswordInput
from tests.fakes import fake_backends
from tests.fakes.backends import OPERATOR

NEW = "Taken-back-pass-7"


class StoreDown:
    """AccountSecrets whose every call fails, as with the SQL store unreachable."""

    def __getattr__(self, name: str) -> Callable[..., None]:
        def down(*args: object, **kwargs: object) -> None:
            raise StoreError(f"store down ({name})")
        return down


def test_a_failure_after_the_write_still_ends_the_sessions_and_records_the_reset(tmp_path: Path) -> None:
    world = fake_backends(tmp_path)
    world.add_domain("agency.go.th")
    user = world.account("somchai@agency.go.th").email
    world.forget_history()
    backends = dataclasses.replace(world.backends, account_secrets=StoreDown())  # type: ignore[arg-type]
    with pytest.raises(StoreError):
        AccountService(backends, OPERATOR).set_password(user, PasswordInput(plain=NEW), must_change=False)
    assert backends.accounts.check_password(user, NEW), "the new password is written"
    assert world.mail.kicked == [user], "its open sessions ended"
    assert [(e.action, e.object_id) for e in world.audit.entries] == [("account.password", user)]
