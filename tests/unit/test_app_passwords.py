"""core/app_passwords.py: the stored value, names, the fingerprint, recovery codes."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest

from mailgothai.core import app_passwords as core
from mailgothai.core.app_passwords import AppPassword
from mailgothai.errors import InvalidInput


def test_the_stored_value_reads_back_with_a_name_of_several_words() -> None:
    app = AppPassword("0a1b2c3d", "iPhone ของ สมชาย", datetime(2026, 12, 4, 20, 15, 7, tzinfo=UTC), "deadbeef",
                      "{ARGON2}$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g")
    assert core.parse(app.value()) == app
    assert core.parse("garbage") is None
    assert core.parse("0a1b2c3d 2026-12-04 deadbeef {ARGON2}$x name") is None


@pytest.mark.parametrize("bad", ["", "   ", "x" * 65, "tab\x07bell"])
def test_a_name_is_refused_naming_the_field(bad: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        core.check_name(bad)
    assert caught.value.field == "name"


def test_a_name_is_kept_with_its_spaces_collapsed() -> None:
    assert core.check_name("  Thunderbird   บ้าน ") == "Thunderbird บ้าน"


def test_the_fingerprint_is_dovecots_auth_policy_hash_cut_to_32_bits() -> None:
    expected = hashlib.sha256(b"nonce" + b"a@b.go.th" + b"\0" + b"pass").hexdigest()[:8]
    assert core.fingerprint("nonce", "a@b.go.th", "pass") == expected
    apps = [AppPassword("1", "x", datetime.now(UTC), expected, "{ARGON2}h")]
    assert core.matching(apps, expected.upper()) is apps[0]
    assert core.matching(apps, "00000000") is None


def test_secrets_and_recovery_codes() -> None:
    secret = core.new_secret()
    assert len(secret) == 19 and secret.count("-") == 3
    codes = core.new_recovery_codes()
    assert len(set(codes)) == 10
    code = codes[0]
    assert core.recovery_code_hash(code) == core.recovery_code_hash(code.upper().replace("-", " "))
    assert core.recovery_code_hash("123456") is None
    assert core.recovery_code_hash(codes[1]) != core.recovery_code_hash(code)


def test_the_nonce_is_the_one_dovecot_is_given(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from mailgothai.core.app_passwords import policy_nonce
    from mailgothai.settings import load_settings
    from mailgothai.stack.dovecot import auth_policy_config

    settings = load_settings(data_dir=tmp_path, environ={}).replace(auth_policy_secret="s3cret")
    config = auth_policy_config(settings)
    assert f"auth_policy_hash_nonce = {policy_nonce('s3cret')}\n" in config
    assert "auth_policy_hash_truncate = 32" in config and "pwhash=%{hashed_password}" in config


def test_only_the_main_password_clears_the_login_failures_of_an_account_without_a_second_factor() -> None:
    app = AppPassword("0a0b0c0d", "phone", datetime(2025, 1, 1, tzinfo=UTC), "1234abcd", "{ARGON2}x")
    clears = core.success_clears_login_failures
    assert clears([app], False, "1234ABCD") is False  # an app password proves nothing of the main one
    assert clears([app], False, "") is False  # cannot be told from one
    assert clears([app], False, "ffff0000") is True  # the main password
    assert clears([], False, "") is True  # no app password: the main password it is
    assert clears([app], True, "1234abcd") is True  # the factor on: the login's failures guess app passwords
