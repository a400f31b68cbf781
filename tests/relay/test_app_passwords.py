"""App passwords and a mail user's second factor (issue 20), as the user meets them: made
in the web self-service, they open IMAP (Dovecot, binding to slapd) and SMTP AUTH (the
relay) but never the web; revoked, they stop at once (the revocation flushes Dovecot's
auth cache; the relay's cache keys on the entry's entryCSN). With TOTP on, the web asks
for a code (or a recovery code, each once) and the main password no longer opens IMAP
or SMTP, while the app password still does."""

from __future__ import annotations

import contextlib
import json
import re
import smtplib
import time
from collections.abc import Iterator
from typing import cast
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
from imapclient import IMAPClient
from imapclient.exceptions import LoginError
from web.conftest import Client, Live, serve

from mailgothai.core.models import Role, Status
from mailgothai.core.passwords import make_ssha
from mailgothai.directory.layout import Layout
from mailgothai.services.actor import Actor
from mailgothai.services.lifecycle import LifecycleService
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.second_factor import UserSecurity
from mailgothai.services.selfservice import SelfService
from mailgothai.services.usage import UsageRefresher
from mailgothai.settings import Settings
from relay.conftest import MailDomain, relay_with
from relay.helpers import PASSWORD, submission
from tests.conftest import Cli
from tests.integration.conftest import argon2id_of, stored

pytestmark = pytest.mark.integration

SECRET = re.compile(r'<code id="secret-value">([^<]+)</code>')
NEW_PASSWORD = "Another-Relay-pass-7"
OPERATOR = Actor("app-password-tests", Role.SUPERADMIN, origin="test")
NEGATIVE_TTL = 10
CODES = re.compile(r"<li><code translate=\"no\">([a-z0-9-]+)</code></li>")


@pytest.fixture(scope="module")
def web(relay: Settings) -> Iterator[Live]:
    yield from serve(relay.replace(web_secret_key="app-password-tests"))


@pytest.fixture
def browser(web: Live) -> Iterator[Client]:
    client = Client(web)
    yield client
    client.close()


def imap_ok(settings: Settings, user: str, password: str) -> bool:
    client = IMAPClient(settings.host, port=settings.imap_port, ssl=False, timeout=30)
    try:
        client.login(user, password)
    except LoginError:
        return False
    finally:
        with contextlib.suppress(Exception):
            client.logout()
    return True


def smtp_ok(settings: Settings, user: str, password: str) -> bool:
    with submission(settings) as client:
        try:
            return client.login(user, password)[0] == 235
        except smtplib.SMTPAuthenticationError:
            return False


def web_ok(web: Live, user: str, password: str) -> bool:
    client = Client(web)
    try:
        answer = client.login_user(user, password)
        return answer.status_code == 303 and answer.headers["location"] == "/me"
    finally:
        client.close()


def make_app_password(browser: Client, name: str) -> str:
    browser.get("/me/security")
    page = browser.post("/me/app-passwords", {"name": name, "current_password": PASSWORD})
    assert page.status_code == 200, page.text
    found = SECRET.search(page.text)
    assert found, page.text
    return found.group(1)


def app_id_of(browser: Client, name: str) -> str:
    page = browser.get("/me/security").text
    row = re.search(rf'<td translate="no">{re.escape(name)}</td>.*?/me/app-passwords/([0-9a-f]+)/revoke', page, re.S)
    assert row, page
    return row.group(1)


def last_use(browser: Client, name: str, protocol: str = "") -> str:
    """The "last used" cell of the app password's row, once the recorder has written it
    (every last_login_flush seconds)."""
    for _ in range(120):
        page = browser.get("/me/security").text
        row = re.search(rf'<td translate="no">{re.escape(name)}</td>\s*<td>[^<]*</td>\s*<td>(.*?)</td>', page, re.S)
        assert row, page
        if "(" in row.group(1) and protocol in row.group(1):
            return re.sub(r"<[^>]+>", "", row.group(1)).split("(", 1)[1]
        time.sleep(0.5)
    raise AssertionError(f"no last use shown for {name}")


def test_an_app_password_opens_imap_and_smtp_never_the_web_and_revoked_stops_at_once(
        relay: Settings, web: Live, browser: Client, mail_domain: MailDomain) -> None:
    user = mail_domain.account("apppw")
    assert browser.login_user(user, PASSWORD).headers["location"] == "/me"
    app = make_app_password(browser, "โทรศัพท์ของฉัน")
    assert re.fullmatch(r"[a-z0-9]{4}(-[a-z0-9]{4}){3}", app)
    assert "โทรศัพท์ของฉัน" in browser.get("/me/security").text
    assert app not in browser.get("/me/security").text, "shown once only"

    assert imap_ok(relay, user, app)
    assert last_use(browser, "โทรศัพท์ของฉัน").startswith("IMAP"), "Dovecot's report names the app password"
    assert smtp_ok(relay, user, app)
    assert last_use(browser, "โทรศัพท์ของฉัน", "SMTP").startswith("SMTP"), "the relay tells which app password"
    assert not web_ok(web, user, app), "an app password never opens the web"
    assert imap_ok(relay, user, PASSWORD) and smtp_ok(relay, user, PASSWORD), "the main password still works"
    assert web_ok(web, user, PASSWORD)

    # a second one, revoked: the first keeps working; both are cached by Dovecot and the relay now
    other = make_app_password(browser, "laptop-tb")
    assert imap_ok(relay, user, other) and smtp_ok(relay, user, other)
    browser.get("/me/security")
    gone = browser.post(f"/me/app-passwords/{app_id_of(browser, 'laptop-tb')}/revoke")
    assert gone.status_code == 303, gone.text
    assert "laptop-tb" not in browser.get("/me/security").text
    assert not imap_ok(relay, user, other), "revocation flushes Dovecot's auth cache: refused at once"
    assert not smtp_ok(relay, user, other), "the relay's cache keys on entryCSN: refused at once"
    assert imap_ok(relay, user, app) and smtp_ok(relay, user, app)
    assert imap_ok(relay, user, PASSWORD)

    # the self-service's "current password" is the main one; a new main password keeps the app passwords
    browser.get("/me")
    refused = browser.post("/me/password", {"current_password": app, "new_password": NEW_PASSWORD,
                                            "new_password_repeat": NEW_PASSWORD})
    assert refused.status_code == 400 and "is not your current password" in refused.text
    changed = browser.post("/me/password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD,
                                            "new_password_repeat": NEW_PASSWORD})
    assert changed.status_code == 303, changed.text
    assert imap_ok(relay, user, NEW_PASSWORD)
    assert imap_ok(relay, user, app) and smtp_ok(relay, user, app), "app passwords outlive a password change"
    assert not imap_ok(relay, user, PASSWORD)
    # Dovecot's auth cache keeps one password per account: after a failed login it answers a
    # password other than the cached one from the cache (refused) until auth_cache_negative_ttl
    # (10 s, deploy/dovecot/dovecot.conf.in) has passed, then asks slapd again
    assert not imap_ok(relay, user, NEW_PASSWORD), "answered from Dovecot's cache (it holds the app password)"
    time.sleep(NEGATIVE_TTL + 1)
    assert imap_ok(relay, user, NEW_PASSWORD)


def test_totp_for_a_mail_user_with_recovery_codes_and_the_main_password_kept_from_mail_clients(
        relay: Settings, web: Live, browser: Client, mail_domain: MailDomain) -> None:
    user = mail_domain.account("totp")
    browser.login_user(user, PASSWORD)
    app = make_app_password(browser, "phone")
    assert imap_ok(relay, user, PASSWORD) and smtp_ok(relay, user, PASSWORD)  # cached by both now

    browser.get("/me/security")
    assert browser.post("/me/totp/begin").status_code == 303
    page = browser.get("/me/security").text
    uri = re.search(r'<code translate="no">(otpauth://[^<]+)</code>', page)
    assert uri, page
    secret = parse_qs(urlsplit(uri.group(1).replace("&amp;", "&")).query)["secret"][0]
    totp = pyotp.TOTP(secret)
    wrong = browser.post("/me/totp/confirm", {"current_password": app, "code": totp.now()})
    assert wrong.status_code == 400, "the current password, not an app password, turns it on"
    shown = browser.post("/me/totp/confirm", {"current_password": PASSWORD, "code": totp.now()})
    assert shown.status_code == 200, shown.text
    codes = CODES.findall(shown.text)
    assert len(codes) == 10

    # the main password no longer opens IMAP or SMTP (cached logins flushed); the app password does
    assert not imap_ok(relay, user, PASSWORD)
    assert not smtp_ok(relay, user, PASSWORD)
    assert imap_ok(relay, user, app) and smtp_ok(relay, user, app)

    # the web: the password, then a code
    person = Client(web)
    try:
        first = person.login_user(user, PASSWORD)
        assert first.headers["location"] == "/mail/login/totp"
        assert person.get("/me").status_code == 303, "no page before the second factor"
        person.get("/mail/login/totp")
        assert person.post("/mail/login/totp", {"code": "000000"}).status_code == 401
        step = int(time.time() // 30) + 1  # the next time step: the one used to turn it on is spent
        done = person.post("/mail/login/totp", {"code": totp.at(step * 30)})
        assert done.headers["location"] == "/me"
        assert person.get("/me").status_code == 200
    finally:
        person.close()
    assert not web_ok(web, user, app), "an app password still never opens the web"

    # a recovery code, once
    for attempt, expected in ((codes[0], "/me"), (codes[0], None)):
        person = Client(web)
        try:
            person.login_user(user, PASSWORD)
            person.get("/mail/login/totp")
            answer = person.post("/mail/login/totp", {"code": attempt.upper()})
            if expected:
                assert answer.headers["location"] == expected
            else:
                assert answer.status_code == 401, "a recovery code works once"
        finally:
            person.close()

    # a new main password with TOTP on: the web's only, as the old one was
    browser.get("/me")
    changed = browser.post("/me/password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD,
                                            "new_password_repeat": NEW_PASSWORD})
    assert changed.status_code == 303, changed.text
    assert not imap_ok(relay, user, NEW_PASSWORD) and not smtp_ok(relay, user, NEW_PASSWORD)
    assert imap_ok(relay, user, app) and smtp_ok(relay, user, app)
    person = Client(web)
    try:
        assert person.login_user(user, NEW_PASSWORD).headers["location"] == "/mail/login/totp"
    finally:
        person.close()

    # turned off: the main password opens mail clients again
    browser.get("/me/security")
    assert browser.post("/me/totp/disable", {"current_password": NEW_PASSWORD}).status_code == 303
    assert imap_ok(relay, user, NEW_PASSWORD) and smtp_ok(relay, user, NEW_PASSWORD)
    assert web_ok(web, user, NEW_PASSWORD)
    assert imap_ok(relay, user, app), "and the app passwords stay"


def test_a_session_alone_cannot_make_an_app_password(relay: Settings, browser: Client,
                                                     mail_domain: MailDomain) -> None:
    """Someone at an unlocked computer (or with a stolen cookie) must not leave with a way
    into the mailbox that outlives the owner's next password change."""
    user = mail_domain.account("unlocked")
    browser.login_user(user, PASSWORD)
    app = make_app_password(browser, "laptop")
    browser.get("/me/security")
    for current in ("", "Not-the-password-1", app):
        refused = browser.post("/me/app-passwords", {"name": "mine now", "current_password": current})
        assert refused.status_code == 400 and not SECRET.search(refused.text)
        assert "current password" in refused.text.lower()
    assert [v.app.name for v in UserSecurity(mail_domain.services.backends, user).app_passwords()] == ["laptop"]


def test_new_recovery_codes_need_the_current_password(web: Live, mail_domain: MailDomain) -> None:
    user = mail_domain.account("fresh-codes")
    totp, codes = _totp_on(web, user)
    person = Client(web)
    try:
        person.login_user(user, PASSWORD)
        person.get("/mail/login/totp")
        step = int(time.time() // 30) + 1
        assert person.post("/mail/login/totp", {"code": totp.at(step * 30)}).headers["location"] == "/me"
        person.get("/me/security")
        for current in ("", "Not-the-password-1"):
            refused = person.post("/me/recovery-codes", {"current_password": current})
            assert refused.status_code == 400 and not CODES.findall(refused.text)
        assert UserSecurity(web.state.backends, user).recovery_codes_left() == 10
        fresh = person.post("/me/recovery-codes", {"current_password": PASSWORD})
        assert fresh.status_code == 200 and len(CODES.findall(fresh.text)) == 10
    finally:
        person.close()
    assert _web_second_step(web, user, codes[0]) == ("/mail/login/totp", 401), "the old codes are gone"
    assert _web_second_step(web, user, CODES.findall(fresh.text)[0]) == ("/mail/login/totp", 303)


def test_a_session_cannot_try_passwords_faster_than_the_login_form(relay: Settings, browser: Client,
                                                                   mail_domain: MailDomain) -> None:
    """The password asked again of a logged-in user counts in the account's login budget:
    after login_free_failures wrong ones the check is refused for a while, even the right
    password; the owner's mail clients elsewhere are not locked out."""
    user = mail_domain.account("guessed")
    browser.login_user(user, PASSWORD)
    for n in range(relay.login_free_failures):
        browser.get("/me/security")
        wrong = browser.post("/me/app-passwords", {"name": f"try {n}", "current_password": f"Guess-number-{n}x"})
        assert wrong.status_code == 400 and "not your current password" in wrong.text
    browser.get("/me/security")
    refused = browser.post("/me/app-passwords", {"name": "right one", "current_password": PASSWORD})
    assert refused.status_code == 400 and "too many wrong passwords" in refused.text and not SECRET.search(refused.text)
    assert UserSecurity(mail_domain.services.backends, user).app_passwords() == []
    assert imap_ok(relay, user, PASSWORD), "the owner's mail client still logs in"


def test_the_admins_of_the_domain_list_and_revoke_app_passwords_and_turn_off_a_lost_second_factor(
        relay: Settings, web: Live, browser: Client, mail_domain: MailDomain) -> None:
    user = mail_domain.account("lostphone")
    browser.login_user(user, PASSWORD)
    app = make_app_password(browser, "old phone")
    browser.get("/me/security")
    browser.post("/me/totp/begin")
    uri = re.search(r'<code translate="no">(otpauth://[^<]+)</code>', browser.get("/me/security").text)
    assert uri
    secret = parse_qs(urlsplit(uri.group(1).replace("&amp;", "&")).query)["secret"][0]
    assert browser.post("/me/totp/confirm", {"current_password": PASSWORD,
                                             "code": pyotp.TOTP(secret).now()}).status_code == 200
    # (a refused SMTP AUTH counts twice in the login budget: smtplib tries PLAIN, then LOGIN)
    assert not smtp_ok(relay, user, PASSWORD) and imap_ok(relay, user, app)

    services = mail_domain.services
    tag = mail_domain.name.split(".")[0]
    other = services.domains.add(f"other-{mail_domain.name}").name
    for login, domain in ((f"da-{tag}", mail_domain.name), (f"xa-{tag}", other)):
        services.admins.add(login, Role.DOMAIN_ADMIN, PasswordInput(plain=PASSWORD), domains=(domain,))
    stranger = Client(web)
    try:
        assert stranger.login_admin(f"xa-{tag}", PASSWORD).headers["location"] == "/"
        assert stranger.get(f"/accounts/{user}/security").status_code in (403, 404), "another domain's admin"
    finally:
        stranger.close()

    admin = Client(web)
    try:
        admin.login_admin(f"da-{tag}", PASSWORD)
        page = admin.get(f"/accounts/{user}/security")
        assert page.status_code == 200 and "old phone" in page.text and app not in page.text
        app_id = re.search(rf"/accounts/{re.escape(user)}/app-passwords/([0-9a-f]+)/revoke", page.text)
        assert app_id, page.text
        assert admin.post(f"/accounts/{user}/app-passwords/{app_id.group(1)}/revoke").status_code == 303
        assert not imap_ok(relay, user, app) and not smtp_ok(relay, user, app), "revoked by the domain's admin"
        admin.get(f"/accounts/{user}/security")
        assert admin.post(f"/accounts/{user}/totp/reset").status_code == 303
    finally:
        admin.close()
    assert imap_ok(relay, user, PASSWORD) and smtp_ok(relay, user, PASSWORD), "the main password is back"
    assert web_ok(web, user, PASSWORD), "and the web asks for no code"


def test_the_operator_lists_and_revokes_a_users_app_passwords_from_the_command_line(
        relay: Settings, cli: Cli, mail_domain: MailDomain) -> None:
    user = mail_domain.account("cli")
    security = UserSecurity(mail_domain.services.backends, user)
    kept, kept_secret = security.create_app_password("tablet", PASSWORD)
    gone, gone_secret = security.create_app_password("old laptop", PASSWORD)
    assert imap_ok(relay, user, gone_secret)

    shown = cli("app-password", "list", user, "--json")
    assert shown.returncode == 0, shown.stderr
    listed = json.loads(shown.stdout)
    assert [a["name"] for a in listed["app_passwords"]] == ["tablet", "old laptop"]
    assert listed["second_factor"] is False
    assert gone_secret not in shown.stdout and gone.hash not in shown.stdout, "neither the password nor its hash"

    done = cli("app-password", "revoke", user, gone.id)
    assert done.returncode == 0 and gone.id in done.stdout, done.stderr
    assert not imap_ok(relay, user, gone_secret), "refused at once"
    assert imap_ok(relay, user, kept_secret)
    missing = cli("app-password", "revoke", user, gone.id)
    assert missing.returncode == 1 and "not found" in missing.stderr
    assert "no second factor" in cli("second-factor", "reset", user).stdout
    assert kept.id in cli("app-password", "list", user).stdout


def test_a_new_account_at_a_deleted_ones_address_does_not_inherit_its_second_factor(
        relay: Settings, web: Live, mail_domain: MailDomain) -> None:
    user = mail_domain.account("reused")
    services = mail_domain.services
    security = UserSecurity(services.backends, user)
    secret = parse_qs(urlsplit(security.start_totp()).query)["secret"][0]
    security.enable_totp(PASSWORD, pyotp.TOTP(secret).now())
    assert not imap_ok(relay, user, PASSWORD)

    services.accounts.delete(user)
    services.accounts.add(user, PasswordInput(plain=PASSWORD))
    assert web_ok(web, user, PASSWORD), "no code asked: the secret was the deleted account's"
    assert imap_ok(relay, user, PASSWORD) and smtp_ok(relay, user, PASSWORD)
    again = UserSecurity(services.backends, user)
    assert not again.totp_enabled()
    uri = again.start_totp()  # the new user may set up a second factor of its own
    assert parse_qs(urlsplit(uri).query)["secret"][0] != secret


def _totp_on(web: Live, user: str) -> tuple[pyotp.TOTP, list[str]]:
    """TOTP turned on as the web would (its web_secret_key seals the secret)."""
    security = UserSecurity(web.state.backends, user)
    totp = pyotp.TOTP(parse_qs(urlsplit(security.start_totp()).query)["secret"][0])
    return totp, security.enable_totp(PASSWORD, totp.now())


def _web_second_step(web: Live, user: str, code: str) -> tuple[str, int]:
    """(where the password sends the browser, what the code step answers)."""
    person = Client(web)
    try:
        first = person.login_user(user, PASSWORD)
        if first.headers.get("location") != "/mail/login/totp":
            return first.headers.get("location", ""), first.status_code
        person.get("/mail/login/totp")
        return "/mail/login/totp", person.post("/mail/login/totp", {"code": code}).status_code
    finally:
        person.close()


def test_a_renamed_account_keeps_its_second_factor_and_never_gets_a_former_holders(
        relay: Settings, web: Live, mail_domain: MailDomain) -> None:
    services = mail_domain.services
    user = mail_domain.account("before-rename")
    totp, codes = _totp_on(web, user)
    new = f"after-rename@{mail_domain.name}"
    former = mail_domain.account("after-rename")  # the new address's former holder, with a second factor
    former_totp, former_codes = _totp_on(web, former)
    services.accounts.delete(former)

    LifecycleService(web.state.backends, OPERATOR).rename(user, new)  # the web's backends: its key reseals
    step = int(time.time() // 30) + 1  # the step used to turn it on is spent
    where, _ = _web_second_step(web, new, "000000")
    assert where == "/mail/login/totp", "renamed, the password alone must not open the web"
    assert _web_second_step(web, new, former_totp.at(step * 30)) == ("/mail/login/totp", 401)
    assert _web_second_step(web, new, former_codes[0]) == ("/mail/login/totp", 401)
    assert _web_second_step(web, new, totp.at(step * 30)) == ("/mail/login/totp", 303)
    assert _web_second_step(web, new, codes[1]) == ("/mail/login/totp", 303)
    assert UserSecurity(web.state.backends, new).recovery_codes_left() == 9
    assert not imap_ok(relay, new, PASSWORD), "the main password still opens the web only"


def test_a_marked_account_whose_secret_is_missing_asks_for_a_code_until_an_admin_turns_it_off(
        relay: Settings, web: Live, mail_domain: MailDomain) -> None:
    """As after a rename killed before its secret followed it: never the password alone."""
    services = mail_domain.services
    user = mail_domain.account("lost-secret")
    totp, codes = _totp_on(web, user)
    security = UserSecurity(web.state.backends, user)
    security.totp.disable(user)  # the SQL side gone, the entry still marked
    security.codes.remove(user)

    step = int(time.time() // 30) + 1
    assert _web_second_step(web, user, totp.at(step * 30)) == ("/mail/login/totp", 401)
    assert _web_second_step(web, user, codes[0]) == ("/mail/login/totp", 401)
    admin_login = f"lost-{mail_domain.name.split('.')[0]}"
    services.admins.add(admin_login, Role.DOMAIN_ADMIN, PasswordInput(plain=PASSWORD), domains=(mail_domain.name,))
    admin = Client(web)
    try:
        admin.login_admin(admin_login, PASSWORD)
        admin.get(f"/accounts/{user}/security")
        assert admin.post(f"/accounts/{user}/totp/reset").status_code == 303
    finally:
        admin.close()
    assert web_ok(web, user, PASSWORD)
    assert imap_ok(relay, user, PASSWORD)


def test_a_password_change_ends_every_other_session_also_one_waiting_for_its_code(
        relay: Settings, web: Live, mail_domain: MailDomain) -> None:
    """Someone with the old password (and a way to the codes) waits at the code step; the
    owner, logged in with a recovery code, changes the password: that session must end
    (the owner's own goes on)."""
    user = mail_domain.account("pending-code")
    totp, codes = _totp_on(web, user)
    intruder, owner = Client(web), Client(web)
    try:
        assert intruder.login_user(user, PASSWORD).headers["location"] == "/mail/login/totp"
        intruder.get("/mail/login/totp")
        assert owner.login_user(user, PASSWORD).headers["location"] == "/mail/login/totp"
        owner.get("/mail/login/totp")
        assert owner.post("/mail/login/totp", {"code": codes[0]}).headers["location"] == "/me"
        owner.get("/me")
        changed = owner.post("/me/password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD,
                                              "new_password_repeat": NEW_PASSWORD})
        assert changed.status_code == 303, changed.text
        assert owner.get("/me").status_code == 200
        step = int(time.time() // 30) + 1
        assert intruder.post("/mail/login/totp", {"code": totp.at(step * 30)}).headers.get("location") != "/me"
        assert intruder.get("/me").headers.get("location", "").startswith("/mail/login")
    finally:
        intruder.close()
        owner.close()


def test_a_web_session_ends_with_its_account_and_never_passes_to_a_new_holder_of_the_address(
        relay: Settings, web: Live, mail_domain: MailDomain) -> None:
    """director@ changes hands: the old holder's open self-service session must not become
    the new holder's (it could make an app password and read the new holder's mail)."""
    services = mail_domain.services
    user = mail_domain.account("director")
    old = Client(web)
    renamed = Client(web)
    suspended = Client(web)
    try:
        assert old.login_user(user, PASSWORD).headers["location"] == "/me"
        services.accounts.delete(user)
        services.accounts.add(user, PasswordInput(plain=NEW_PASSWORD))
        assert old.get("/me").headers.get("location", "").startswith("/mail/login")
        made = old.post("/me/app-passwords", {"name": "mine now"})
        assert made.status_code in (303, 403) and not SECRET.search(made.text)
        assert UserSecurity(services.backends, user).app_passwords() == []
        assert web_ok(web, user, NEW_PASSWORD), "the new holder logs in as usual"

        other = mail_domain.account("renamed-later")
        assert renamed.login_user(other, PASSWORD).headers["location"] == "/me"
        LifecycleService(services.backends, OPERATOR).rename(other, f"renamed-now@{mail_domain.name}")
        assert renamed.get("/me").headers.get("location", "").startswith("/mail/login")

        reset = mail_domain.account("reset-later")  # an admin's reset after a break-in logs everyone out
        assert renamed.login_user(reset, PASSWORD).headers["location"] == "/me"
        services.accounts.set_password(reset, PasswordInput(plain=NEW_PASSWORD), must_change=False)
        assert renamed.get("/me").headers.get("location", "").startswith("/mail/login")

        third = mail_domain.account("disabled-later")
        assert suspended.login_user(third, PASSWORD).headers["location"] == "/me"
        services.accounts.set_status(third, Status.DISABLED)
        assert suspended.get("/me").headers.get("location", "").startswith("/mail/login")

        agency = services.domains.add(f"agency-{mail_domain.name}").name  # a whole agency suspended
        staff = f"staff@{agency}"
        services.accounts.add(staff, PasswordInput(plain=PASSWORD))
        assert suspended.login_user(staff, PASSWORD).headers["location"] == "/me"
        services.domains.set_status(agency, Status.DISABLED)
        assert suspended.get("/me").headers.get("location", "").startswith("/mail/login")
    finally:
        for client in (old, renamed, suspended):
            client.close()


def test_the_relay_refuses_a_revoked_app_password_at_once_even_with_its_lookup_cache_on(
        relay: Settings, mail_domain: MailDomain) -> None:
    with relay_with(relay, relay_lookup_cache_ttl=3600) as cached:
        user = mail_domain.account("cachedrelay")
        security = UserSecurity(mail_domain.services.backends, user)
        app, secret = security.create_app_password("phone", PASSWORD)
        assert smtp_ok(cached, user, secret) and smtp_ok(cached, user, secret)  # the second from its caches
        security.revoke_app_password(app.id)
        assert not smtp_ok(cached, user, secret), "told to read the entry again: refused at once"
        assert smtp_ok(cached, user, PASSWORD)


def test_an_app_password_never_replaces_a_legacy_main_hash_and_the_upgrade_keeps_the_apps(
        relay: Settings, mail_domain: MailDomain) -> None:
    user = f"legacy-apps@{mail_domain.name}"
    legacy = make_ssha(PASSWORD)
    mail_domain.services.accounts.add(user, PasswordInput(stored_hash=legacy))
    app, secret = UserSecurity(mail_domain.services.backends, user).create_app_password("phone", PASSWORD)
    dn = Layout(relay.ldap_base).account(user)

    assert smtp_ok(relay, user, secret)  # the relay's upgrade at AUTH must not take the app password as the main
    assert stored(relay, dn) == (legacy, "TRUE")
    assert smtp_ok(relay, user, PASSWORD)  # the main one: upgraded, the app password kept
    main_hash, mark = stored(relay, dn)
    assert mark is None and main_hash.startswith(argon2id_of(relay))
    assert imap_ok(relay, user, secret) and imap_ok(relay, user, PASSWORD)


@pytest.mark.parametrize("second_factor", [False, True], ids=["password only", "totp on"])
def test_an_admins_reset_revokes_the_app_passwords_the_users_own_change_keeps_them(
        relay: Settings, web: Live, mail_domain: MailDomain, second_factor: bool) -> None:
    """A reset takes an account back after a break-in: whoever knew the old password may
    have made app passwords, which would open IMAP and SMTP past the reset. They go with
    it (audited by name); the user's own change keeps them (its devices go on)."""
    user = mail_domain.account(f"taken-back-{int(second_factor)}")
    security = UserSecurity(mail_domain.services.backends, user)
    _, kept = security.create_app_password("own phone", PASSWORD)
    if second_factor:
        secret = parse_qs(urlsplit(security.start_totp()).query)["secret"][0]
        security.enable_totp(PASSWORD, pyotp.TOTP(secret).now())
    own = f"{NEW_PASSWORD}-own"
    SelfService(mail_domain.services.backends, user, cast(UsageRefresher, None)).change_password(PASSWORD, own, own)
    assert imap_ok(relay, user, kept) and smtp_ok(relay, user, kept), "the user's own change keeps them"

    _, intruders = security.create_app_password("intruder", own)
    assert imap_ok(relay, user, intruders) and smtp_ok(relay, user, intruders)
    mail_domain.services.accounts.set_password(user, PasswordInput(plain=NEW_PASSWORD), must_change=False)
    # the new password first: a refused login fills Dovecot's negative cache for NEGATIVE_TTL
    assert imap_ok(relay, user, NEW_PASSWORD) is not second_factor  # with TOTP on, the web only
    assert web_ok(web, user, NEW_PASSWORD) is not second_factor  # (then it asks for the code)
    assert not smtp_ok(relay, user, intruders) and not smtp_ok(relay, user, kept)
    assert not imap_ok(relay, user, intruders) and not imap_ok(relay, user, kept)
    assert security.app_passwords() == []
    [logged] = mail_domain.services.backends.audit.query(object_id=user, action="account.password", limit=1)
    assert sorted(logged.after["app_logins_revoked"]) == ["intruder", "own phone"]
