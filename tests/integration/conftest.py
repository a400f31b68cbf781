"""Helpers for the integration tests: real IMAP, LMTP and LDAP clients against the
session's stack (tests/conftest.py), a look into the audit log, and at stored passwords."""

from __future__ import annotations

import contextlib
import smtplib
from collections.abc import Iterator
from dataclasses import dataclass

import ldap3
import pytest
from imapclient import IMAPClient
from imapclient.exceptions import LoginError

from mailgothai.directory.layout import Layout
from mailgothai.settings import Settings
from mailgothai.store import AuditLog, Store


def imap_login(client: IMAPClient, user: str, password: str) -> None:
    """Log in as mail clients do: LOGIN with the name as an IMAP quoted string, or
    AUTHENTICATE PLAIN (UTF-8, RFC 4616) when the password is not ASCII.

    Python's imaplib sends the LOGIN name bare, which breaks names holding IMAP
    specials such as '{' (a literal) even though they are valid addresses, and it
    cannot send a non-ASCII password with LOGIN at all.
    """
    if not password.isascii():
        client.plain_login(user, password)
        return
    client.login('"' + user.replace("\\", "\\\\").replace('"', '\\"') + '"', password)


def imap_alive(session: IMAPClient) -> bool:
    """An open IMAP session still answers (False once the server kicked or closed it)."""
    try:
        session.noop()
    except Exception:  # noqa: BLE001 - imaplib's abort (BYE), or the socket closed
        return False
    return True


@dataclass(frozen=True)
class MailClients:
    """IMAP and LMTP as a mail user and a delivering MTA would use them."""

    settings: Settings

    @contextlib.contextmanager
    def imap(self, user: str, password: str) -> Iterator[IMAPClient]:
        client = IMAPClient(self.settings.host, port=self.settings.imap_port, ssl=False, timeout=30)
        try:
            imap_login(client, user, password)
            yield client
        finally:
            try:
                client.logout()
            except Exception:  # noqa: BLE001 - e.g. the server ended the session: close our end
                with contextlib.suppress(Exception):
                    client.shutdown()

    def can_login(self, user: str, password: str) -> bool:
        """A fresh IMAP login; True if the server says OK, False if it refuses it."""
        client = IMAPClient(self.settings.host, port=self.settings.imap_port, ssl=False, timeout=30)
        try:
            imap_login(client, user, password)
        except LoginError:
            return False
        finally:
            with contextlib.suppress(Exception):
                client.logout()
        return True

    def quota_kib(self, user: str, password: str) -> int:
        """The STORAGE limit GETQUOTAROOT INBOX reports, in KiB (as IMAP counts it)."""
        with self.imap(user, password) as client:
            _, quotas = client.get_quota_root("INBOX")
        storage = [q for q in quotas if q.resource == "STORAGE"]
        assert len(storage) == 1, quotas
        return int(storage[0].limit)

    def deliver(self, recipient: str, message: bytes, sender: str = "sender@example.org") -> None:
        with smtplib.LMTP(self.settings.host, self.settings.lmtp_port, timeout=30) as lmtp:
            refused = lmtp.sendmail(sender, [recipient], message)
        assert refused == {}, refused


@pytest.fixture
def mail(stack: Settings) -> MailClients:
    return MailClients(stack)


@pytest.fixture
def layout(stack: Settings) -> Layout:
    return Layout(stack.ldap_base)


@dataclass(frozen=True)
class AuditProbe:
    settings: Settings

    def count(self, **filters: object) -> int:
        store = Store.open(self.settings.sql_url_effective)
        try:
            return AuditLog(store).count(**filters)
        finally:
            store.close()


@pytest.fixture
def audit(stack: Settings) -> AuditProbe:
    return AuditProbe(stack)


# ---- stored passwords ------------------------------------------------------------
def stored(settings: Settings, dn: str) -> tuple[str, str | None]:
    """(userPassword, mgtPasswordUpgrade or None) as slapd holds them, read as the rootdn."""
    conn = ldap3.Connection(ldap3.Server(settings.host, port=settings.ldap_port, get_info=ldap3.NONE),
                            user=settings.ldap_manager_dn, password=str(settings.ldap_manager_password),
                            auto_bind=True)
    try:
        conn.search(dn, "(objectClass=*)", ldap3.BASE, attributes=["userPassword", "mgtPasswordUpgrade"])
        raw = conn.response[0]["raw_attributes"]
        mark = raw.get("mgtPasswordUpgrade")
        return raw["userPassword"][0].decode(), mark[0].decode() if mark else None
    finally:
        conn.unbind()


def argon2id_of(settings: Settings) -> str:
    """How every hash the project writes with these settings begins."""
    a = settings.argon2
    return f"{{ARGON2}}$argon2id$v=19$m={a.memory_kib},t={a.time_cost},p={a.parallelism}$"
