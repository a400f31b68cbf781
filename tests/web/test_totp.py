"""TOTP: an admin with a second factor cannot log in without a valid code."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import timedelta
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest

from mailgothai.core.models import Role
from mailgothai.errors import InvalidInput
from mailgothai.services.actor import Actor
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.registry import Services
from tests.web.conftest import PASSWORD, Client, Live

pytestmark = pytest.mark.sql


def _enable(client: Client) -> pyotp.TOTP:
    client.get("/security")
    assert client.post("/security/totp/begin").status_code == 303
    page = client.get("/security").text
    uri = unescape(re.search(r"(otpauth://[^<\"]+)", page).group(1))
    totp = pyotp.TOTP(parse_qs(urlsplit(uri).query)["secret"][0])
    assert client.post("/security/totp/confirm", {"code": totp.now()}).status_code == 303
    return totp


def test_admin_with_totp_needs_a_valid_code(new_client, live: Live) -> None:  # type: ignore[no-untyped-def]
    login = f"totp-{uuid.uuid4().hex[:6]}"
    with Services.open(live.settings, Actor("setup", Role.SUPERADMIN, origin="test")) as svc:
        svc.admins.add(login, Role.SUPERADMIN, PasswordInput(plain=PASSWORD))
    first = new_client()
    first.login_admin(login)
    totp = _enable(first)
    used = totp.now()

    c = new_client()
    response = c.login_admin(login)
    assert response.status_code == 303 and response.headers["location"] == "/login/totp"
    assert c.get("/").headers["location"] == "/login/totp"  # the password alone reaches nothing
    assert c.get("/domains").status_code == 303
    c.get("/login/totp")
    assert c.post("/login/totp", {"code": "000000" if used != "000000" else "111111"}).status_code == 401
    assert c.post("/login/totp", {"code": used}).status_code == 401  # already used: no replay
    assert c.get("/").status_code == 303
    real_clock = live.state.totp._clock
    live.state.totp._clock = lambda: real_clock() + timedelta(seconds=30)  # the next time step
    try:
        ok = c.post("/login/totp", {"code": totp.at(live.state.totp._clock())})
    finally:
        live.state.totp._clock = real_clock
    assert ok.status_code == 303 and ok.headers["location"] == "/"
    assert c.get("/").status_code == 200


def test_operator_can_require_totp(new_client, live: Live, world) -> None:  # type: ignore[no-untyped-def]
    login = f"must-{uuid.uuid4().hex[:6]}"
    with Services.open(live.settings, Actor("setup", Role.SUPERADMIN, origin="test")) as svc:
        svc.admins.add(login, Role.DOMAIN_ADMIN, PasswordInput(plain=PASSWORD), domains=(world.a,))
    original = live.state.settings
    live.state.settings = original.replace(web_require_totp=1)
    try:
        c = new_client()
        response = c.login_admin(login)
        assert response.headers["location"] == "/login/totp/enrol"
        assert c.get("/").status_code == 303
        assert "otpauth://" in c.get("/login/totp/enrol").text
    finally:
        live.state.settings = original


def _pending_secret(client: Client) -> str:
    """The secret the user's security page offers to scan, "" if none."""
    found = re.search(r"(otpauth://[^<\"]+)", client.get("/me/security").text)
    return parse_qs(urlsplit(unescape(found.group(1))).query)["secret"][0] if found else ""


def _clerk_on_security_page(new_client, live: Live):  # type: ignore[no-untyped-def]
    """(a new mail user of a new domain, its browser logged in on "My security")."""
    domain = f"t{uuid.uuid4().hex[:8]}.go.th"
    clerk = f"clerk@{domain}"
    with Services.open(live.settings, Actor("setup", Role.SUPERADMIN, origin="test")) as svc:
        svc.domains.add(domain, max_accounts="10", quota_pool="10G")
        svc.accounts.add(clerk, PasswordInput(plain=PASSWORD))
    browser = new_client()
    browser.login_user(clerk)
    browser.get("/me/security")
    return clerk, browser


def test_a_pending_mail_user_secret_never_passes_to_the_next_holder_of_the_address(
        new_client, live: Live) -> None:  # type: ignore[no-untyped-def]
    """The secrets are kept by address: a deleted account's, pending or on, go with it (a
    restore gets none back: its marked entry asks for a code until an admin turns it off),
    and the address's next holder is never offered it."""
    from mailgothai.services.second_factor import UserSecurity
    from mailgothai.store.second_factor import UserTotp

    clerk, former = _clerk_on_security_page(new_client, live)
    assert former.post("/me/totp/begin").status_code == 303
    first = _pending_secret(former)
    assert first and UserSecurity(live.state.backends, clerk).start_totp() == \
        UserSecurity(live.state.backends, clerk).start_totp(), "the account's own pending secret is kept"

    with Services.open(live.settings, Actor("setup", Role.SUPERADMIN, origin="test")) as svc:
        svc.accounts.delete(clerk)
        with svc.backends.store.session() as session:
            assert session.get(UserTotp, clerk) is None, "the deleted account's secret went with it"
        svc.accounts.add(clerk, PasswordInput(plain=PASSWORD))
    holder = new_client()
    holder.login_user(clerk)
    assert _pending_secret(holder) == "", "nothing to scan but what the new holder starts"  # (its csrf too)
    assert holder.post("/me/totp/begin").status_code == 303
    second = _pending_secret(holder)
    assert second and second != first


def test_a_secret_left_at_the_address_before_its_deletion_is_never_handed_out(
        live: Live) -> None:
    """One left from before deletions dropped them (or by a drop that failed): older than
    the address's latest deletion, it is dropped, not offered nor turned on."""
    from mailgothai.core.totp_box import TotpBox
    from mailgothai.services.second_factor import UserSecurity
    from mailgothai.store.second_factor import UserTotp
    from mailgothai.store.totp import TotpRecords

    domain = f"t{uuid.uuid4().hex[:8]}.go.th"
    clerk = f"clerk@{domain}"
    with Services.open(live.settings, Actor("setup", Role.SUPERADMIN, origin="test")) as svc:
        svc.domains.add(domain, max_accounts="10", quota_pool="10G")
        svc.accounts.add(clerk, PasswordInput(plain=PASSWORD))
        deleted = svc.accounts.delete(clerk)
        left = pyotp.random_base32()  # as if the former holder's pending secret had stayed
        sealed = TotpBox(str(live.settings.web_secret_key)).seal(clerk, left)
        assert TotpRecords(svc.backends.store, UserTotp).put_pending(clerk, sealed,
                                                                     deleted.deleted_at - timedelta(minutes=5))
        svc.accounts.add(clerk, PasswordInput(plain=PASSWORD))
    security = UserSecurity(live.state.backends, clerk)
    with pytest.raises(InvalidInput):  # a code of the left secret does not turn it on
        security.enable_totp(PASSWORD, pyotp.TOTP(left).now())
    uri = security.start_totp()
    assert parse_qs(urlsplit(uri).query)["secret"][0] != left


def _wrong_codes(totp: pyotp.TOTP) -> Iterator[str]:
    """Six-digit codes the secret does not take now (nor a step either side)."""
    return (code for code in (f"{i:06d}" for i in range(1_000_000)) if not totp.verify(code, valid_window=2))


def test_an_admins_wrong_codes_count_on_across_password_logins(new_client, live: Live) -> None:  # type: ignore[no-untyped-def]
    """The right password of an admin with a second factor clears no wrong code from this
    source (it did: a password, 4 wrong codes, the password again, ... guessed codes for
    ever): after the 5th wrong code the code step is refused, the right code too."""
    login = f"totp-{uuid.uuid4().hex[:6]}"
    with Services.open(live.settings, Actor("setup", Role.SUPERADMIN, origin="test")) as svc:
        svc.admins.add(login, Role.SUPERADMIN, PasswordInput(plain=PASSWORD))
    first = new_client()
    first.login_admin(login)
    totp = _enable(first)
    wrong = _wrong_codes(totp)

    c = new_client()
    assert c.login_admin(login).headers["location"] == "/login/totp"
    c.get("/login/totp")
    assert [c.post("/login/totp", {"code": next(wrong)}).status_code for _ in range(4)] == [401] * 4
    assert c.login_admin(login).headers["location"] == "/login/totp"  # the password again: no wrong code cleared
    c.get("/login/totp")
    assert c.post("/login/totp", {"code": next(wrong)}).status_code == 401  # the 5th wrong code
    assert c.post("/login/totp", {"code": totp.now()}).status_code == 429  # refused, the right code too
    assert c.login_admin(login).headers["location"] == "/login/totp"  # and after the password again
    c.get("/login/totp")
    assert c.post("/login/totp", {"code": totp.now()}).status_code == 429


def test_a_mail_users_wrong_codes_count_on_across_password_logins(new_client, live: Live) -> None:  # type: ignore[no-untyped-def]
    """The same for a mail user's second factor (/mail/login/totp)."""
    from mailgothai.services.second_factor import UserSecurity

    domain = f"t{uuid.uuid4().hex[:8]}.go.th"
    clerk = f"clerk@{domain}"
    with Services.open(live.settings, Actor("setup", Role.SUPERADMIN, origin="test")) as svc:
        svc.domains.add(domain, max_accounts="10", quota_pool="10G")
        svc.accounts.add(clerk, PasswordInput(plain=PASSWORD))
        security = UserSecurity(svc.backends, clerk)
        totp = pyotp.TOTP(parse_qs(urlsplit(security.start_totp()).query)["secret"][0])
        security.enable_totp(PASSWORD, totp.now())
    wrong = _wrong_codes(totp)

    c = new_client()
    assert c.login_user(clerk).headers["location"] == "/mail/login/totp"
    c.get("/mail/login/totp")
    assert [c.post("/mail/login/totp", {"code": next(wrong)}).status_code for _ in range(4)] == [401] * 4
    assert c.login_user(clerk).headers["location"] == "/mail/login/totp"  # the password again: no wrong code cleared
    c.get("/mail/login/totp")
    assert c.post("/mail/login/totp", {"code": next(wrong)}).status_code == 401  # the 5th wrong code
    assert c.post("/mail/login/totp", {"code": totp.now()}).status_code == 429  # refused, the right code too
    assert c.login_user(clerk).headers["location"] == "/mail/login/totp"  # and after the password again
    c.get("/mail/login/totp")
    assert c.post("/mail/login/totp", {"code": totp.now()}).status_code == 429


def test_an_admins_wrong_codes_at_turning_totp_off_are_counted_and_refused(new_client, live: Live) -> None:  # type: ignore[no-untyped-def]
    """Turning an admin's second factor off asks for a code: a wrong one counts in the login
    budget as at the login's code step (under `code:<login>`, from the session's own source),
    and after the free ones the step is refused, the right code too, and the factor stays on
    (it counted nothing: a session could try every code)."""
    from mailgothai.core.login_budget import keys_for
    from mailgothai.services.auth import code_name
    from mailgothai.services.second_factor import SELF_SERVICE_SOURCE
    from mailgothai.store.login_budget import LoginTallies

    login = f"off-{uuid.uuid4().hex[:6]}"
    with Services.open(live.settings, Actor("setup", Role.SUPERADMIN, origin="test")) as svc:
        svc.admins.add(login, Role.SUPERADMIN, PasswordInput(plain=PASSWORD))
    c = new_client()
    c.login_admin(login)
    totp = _enable(c)
    wrong = _wrong_codes(totp)
    c.get("/security")
    free = live.settings.login_free_failures
    assert [c.post("/security/totp/disable", {"code": next(wrong)}).status_code for _ in range(free)] == [400] * free
    keys = keys_for(code_name(login), f"{SELF_SERVICE_SOURCE}:{login}")
    tallies = LoginTallies(live.state.backends.store).read(keys.all)
    assert tallies[keys.pair].failures == free and tallies[keys.account].failures == free
    real_clock = live.state.totp._clock
    live.state.totp._clock = lambda: real_clock() + timedelta(seconds=30)  # a step no code was used in
    try:
        refused = c.post("/security/totp/disable", {"code": totp.at(live.state.totp._clock())})
    finally:
        live.state.totp._clock = real_clock
    assert refused.status_code == 429 and "Too many" in refused.text
    assert live.state.totp.enabled(login)


def test_a_mail_users_wrong_passwords_at_turning_totp_off_count_as_the_web_passwords_guesses(
        new_client, live: Live) -> None:  # type: ignore[no-untyped-def]
    """Turning a mail user's second factor off asks for the current password: a wrong one is
    counted under the name the web's login counts that password under while the factor is on
    (`web:<address>`, not the address's own, which IMAP and SMTP AUTH fill with app password
    guesses), and after the free ones it is refused, the right password too."""
    from mailgothai.core.login_budget import keys_for
    from mailgothai.services.auth import web_password_name
    from mailgothai.services.second_factor import SELF_SERVICE_SOURCE
    from mailgothai.store.login_budget import LoginTallies

    clerk, c = _clerk_on_security_page(new_client, live)
    assert c.post("/me/totp/begin").status_code == 303
    secret = _pending_secret(c)
    assert c.post("/me/totp/confirm", {"current_password": PASSWORD,
                                       "code": pyotp.TOTP(secret).now()}).status_code == 200
    c.get("/me/security")
    free = live.settings.login_free_failures
    assert [c.post("/me/totp/disable", {"current_password": f"guess-{i}"}).status_code
            for i in range(free)] == [400] * free
    source = f"{SELF_SERVICE_SOURCE}:{clerk}"
    web, own = keys_for(web_password_name(clerk), source), keys_for(clerk, source)
    tallies = LoginTallies(live.state.backends.store).read((*web.all, *own.all))
    assert tallies[web.pair].failures == free and tallies[web.account].failures == free
    assert own.pair not in tallies and own.account not in tallies
    refused = c.post("/me/totp/disable", {"current_password": PASSWORD})
    assert refused.status_code == 400 and "too many wrong passwords" in refused.text
    with Services.open(live.settings, Actor("setup", Role.SUPERADMIN, origin="test")) as svc:
        from mailgothai.services.second_factor import has_second_factor

        assert has_second_factor(svc.backends, clerk)
