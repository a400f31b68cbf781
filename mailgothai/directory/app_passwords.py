"""App passwords and the second factor's place of the main password, in the account's
entry (issue 20; core/app_passwords.py says why they are kept this way).

- Each app password: one value of userPassword (its hash) and one of mgtAppPassword.
  Adding and revoking change both in one modify, so slapd never accepts an app password
  the list does not show, nor the reverse.
- With the second factor on (mgtSecondFactor TRUE), the main password's hash is in
  mgtWebPassword, not in userPassword: no bind takes it, so neither IMAP nor SMTP AUTH,
  with no rule of theirs; only the app passwords open them. Turning it off puts it back.
- A new main password (set_password_hash) goes where the main password lives now and
  keeps the app passwords (password_change), unless it is set to take an account back
  (an admin's reset, a reset link): then they go in the same modify.

The application's DN reads userPassword never, mgtWebPassword only to check a web login.
"""

from __future__ import annotations

import ldap3

from mailgothai.core.app_passwords import AppPassword, parse
from mailgothai.directory.entries import Entry
from mailgothai.directory.gateway import Gateway
from mailgothai.directory.layout import Layout
from mailgothai.errors import NotFound

APP = "mgtAppPassword"
WEB = "mgtWebPassword"
SECOND_FACTOR = "mgtSecondFactor"
LEGACY_MARK = "mgtPasswordUpgrade"


def apps_of(entry: Entry) -> list[AppPassword]:
    found = [parse(value) for value in entry.all(APP)]
    return sorted((app for app in found if app is not None), key=lambda app: app.created)


def second_factor_of(entry: Entry) -> bool:
    return entry.first(SECOND_FACTOR).upper() == "TRUE"


def credentials_at(gateway: Gateway, dn: str) -> tuple[list[AppPassword], bool]:
    """The app passwords of the account at `dn` and whether its second factor is on (the
    mail server's identity reads both: the relay and the auth policy service tell by them
    which credential a login proved). No entry: none, and off."""
    entry = gateway.read(dn, (APP, SECOND_FACTOR))
    if entry is None:
        return [], False
    return apps_of(entry), second_factor_of(entry)


def password_change(gateway: Gateway, dn: str, attributes: dict[str, object],
                    keep_apps: bool = True) -> tuple[dict[str, object], list[AppPassword]]:
    """The attributes that set a new main password (userPassword, and the legacy mark, as
    directory/passwords.py makes them) rewritten for an entry that may hold app passwords
    or have its second factor on, and the app passwords that go with it: with `keep_apps`
    they stay (none go); without, every one goes. With the second factor on, the new hash
    goes to mgtWebPassword (never marked for an upgrade at an IMAP login, which the main
    password cannot make then). An entry with neither costs one read."""
    entry = gateway.read(dn, (APP, SECOND_FACTOR))
    if entry is None:
        return attributes, []
    apps = apps_of(entry)
    kept, dropped = (apps, []) if keep_apps else ([], apps)
    changed = dict(attributes)
    if dropped:
        changed[APP] = None
    if second_factor_of(entry):
        changed[WEB] = changed.pop("userPassword")
        changed["userPassword"] = [app.hash for app in kept]
        changed[LEGACY_MARK] = None
    elif kept:
        changed["userPassword"] = [attributes["userPassword"], *(app.hash for app in kept)]
    return changed, dropped


class AppPasswordDirectory:
    def __init__(self, gateway: Gateway, layout: Layout) -> None:
        self._gw = gateway
        self._layout = layout

    def _entry(self, email: str) -> Entry:
        entry = self._gw.read(self._layout.account(email), (APP, SECOND_FACTOR))
        if entry is None:
            raise NotFound("account", email)
        return entry

    def list(self, email: str) -> list[AppPassword]:
        return apps_of(self._entry(email))

    def second_factor(self, email: str) -> bool:
        return second_factor_of(self._entry(email))

    def add(self, email: str, app: AppPassword) -> None:
        self._gw.modify(self._layout.account(email), {
            "userPassword": [(ldap3.MODIFY_ADD, [app.hash])],
            APP: [(ldap3.MODIFY_ADD, [app.value()])],
        })

    def remove(self, email: str, app_id: str) -> AppPassword | None:
        """Revoke one (both of its values in one modify); None if there is none by that id."""
        for app in self.list(email):
            if app.id == app_id:
                self._gw.modify(self._layout.account(email), {
                    "userPassword": [(ldap3.MODIFY_DELETE, [app.hash])],
                    APP: [(ldap3.MODIFY_DELETE, [app.value()])],
                })
                return app
        return None

    def web_password(self, email: str) -> str | None:
        """The main password's hash while the second factor is on (read as the application);
        None while it is in userPassword."""
        entry = self._gw.as_application().read(self._layout.account(email), (WEB, SECOND_FACTOR))
        if entry is None or not second_factor_of(entry):
            return None
        return entry.first(WEB) or None

    def move_main_password(self, email: str, main_hash: str, *, web_only: bool) -> None:
        """Second factor on (web_only): the main password (just verified, hashed anew) leaves
        userPassword for mgtWebPassword; off: it goes back. App passwords stay."""
        apps = [app.hash for app in self.list(email)]
        if web_only:
            values: dict[str, object] = {"userPassword": apps, WEB: main_hash, SECOND_FACTOR: "TRUE",
                                         LEGACY_MARK: None}
        else:
            values = {"userPassword": [main_hash, *apps], WEB: None, SECOND_FACTOR: None, LEGACY_MARK: None}
        self._gw.replace(self._layout.account(email), values)


def apps_of_logins(gateway: Gateway, layout: Layout, logins: list[str]) -> dict[str, list[AppPassword]]:
    """The app passwords of these accounts (by address, lower-cased; one search), for
    telling which one logged in; accounts with none are left out."""
    out: dict[str, list[AppPassword]] = {}
    wanted = sorted({login.lower() for login in logins if "@" in login})
    for start in range(0, len(wanted), 200):
        for entry in gateway.search_equal(layout.domains, "mail", wanted[start:start + 200], ("mail", APP)):
            apps = apps_of(entry)
            if apps and entry.first("mail"):
                out[entry.first("mail").lower()] = apps
    return out
