"""Passwords over time (issue 20): each domain's lifecycle settings (change at next login
for new accounts, maximum age, warning lead; core/password_lifecycle.py), whether an
account must change its password now, and the expiry job (`mailgothai password-expiry run`,
a systemd timer) that marks expired passwords and sends each warning once.

Who may do what: the operator sets any domain's settings, a domain admin its own domains'
(another domain is not found). Every change leaves an audit record.

The mark (mgtMustChangePassword in the directory) is what Dovecot and the relay refuse a
login on; the web also compares the age itself (`must_change_now`). The job marks an
expired password, flushes Dovecot's cached login of the account, and leaves an audit
record; a password set before issue 20 (no time stored) has its clock started by the job
(now), so turning expiry on never locks everyone out at once.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid

from mailgothai.core.addresses import normalize_domain
from mailgothai.core.models import Account
from mailgothai.core.password_lifecycle import Lifecycle, change_required_text
from mailgothai.core.reasons import Why
from mailgothai.core.spam_records import Changed
from mailgothai.core.thai_time import minute_text
from mailgothai.errors import InvalidInput, MailGoThaiError
from mailgothai.services import ports
from mailgothai.services.backends import Backends
from mailgothai.services.base import Service
from mailgothai.services.domain_routing import login_names

log = logging.getLogger(__name__)
FIELDS = ("must_change_generated", "must_change_on_create", "max_age_days", "warn_days")
Send = Callable[[str, bytes], None]  # (the account's address, the message): through the relay


def lifecycle_for(backends: Backends, domain: str) -> Lifecycle:
    store = backends.password_lifecycle
    return store.get(domain)[0] if store is not None else Lifecycle()


def must_change_now(backends: Backends, account: Account, now: datetime) -> bool:
    """Marked "change at next login", or its password older than its domain's maximum age."""
    if account.must_change_password:
        return True
    return lifecycle_for(backends, account.domain).expired(account.password_changed_at, now)


def change_url(backends: Backends) -> str:
    return backends.settings.password_change_url_effective


def refusal_text(backends: Backends) -> str:
    return change_required_text(change_url(backends))


@dataclass(frozen=True)
class DomainLifecycle:
    domain: str
    lifecycle: Lifecycle
    changed: Changed | None

    def as_dict(self) -> dict[str, object]:
        return {"domain": self.domain, **self.lifecycle.as_dict(),
                "changed_at": self.changed.at.isoformat() if self.changed else None,
                "changed_by": self.changed.by if self.changed else None}


def _bool(value: object, name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise InvalidInput(name, Why.NOT_A_CHOICE(choices="yes, no", value=str(value)))


def _int(value: object, name: str, *, none_ok: bool) -> int | None:
    if none_ok and (value is None or str(value).strip().lower() in ("", "off", "none", "0")):
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        raise InvalidInput(name, Why.NOT_WHOLE_DAYS(value=str(value))) from None


def lifecycle_with(current: Lifecycle, changes: Mapping[str, object]) -> Lifecycle:
    """current with the fields given changed (each checked, an error naming the field)."""
    values: dict[str, object] = {}
    for name, value in changes.items():
        if name not in FIELDS:
            raise InvalidInput(name, Why.NOT_A_CHOICE(choices=", ".join(FIELDS), value=name))
        if name in ("must_change_generated", "must_change_on_create"):
            values[name] = _bool(value, name)
        else:
            values[name] = _int(value, name, none_ok=name == "max_age_days")
    return dataclasses.replace(current, **values)  # type: ignore[arg-type]


class PasswordLifecycleService(Service):
    def _domain(self, domain: str) -> str:
        name = normalize_domain(domain)
        self.actor.require_domain(name)
        return self.b.domains.get(name).name

    @property
    def _store(self) -> ports.PasswordLifecycles:
        if self.b.password_lifecycle is None:
            raise MailGoThaiError("password lifecycle settings are not available with these backends")
        return self.b.password_lifecycle

    def show(self, domain: str) -> DomainLifecycle:
        name = self._domain(domain)
        return DomainLifecycle(name, *self._store.get(name))

    def set(self, domain: str, changes: Mapping[str, object], now: datetime) -> DomainLifecycle:
        current = self.show(domain)
        lifecycle = lifecycle_with(current.lifecycle, changes)
        self._store.set(current.domain, lifecycle, now, self.actor.login)
        self.audit("password.lifecycle.set", "domain", current.domain, current.domain,
                   before=current.lifecycle.as_dict() if current.changed else None, after=lifecycle.as_dict())
        return self.show(current.domain)


@dataclass
class ExpiryReport:
    stamped: int = 0  # passwords with no time: their clock started now
    marked: list[str] = field(default_factory=list)  # expired: must be changed now
    warned: list[str] = field(default_factory=list)  # warning sent
    failed: list[str] = field(default_factory=list)  # warning not sent (tried again next run)

    def as_dict(self) -> dict[str, object]:
        return {"stamped": self.stamped, "marked": self.marked, "warned": self.warned, "failed": self.failed}


def warning_message(email: str, expires_at: datetime, url: str, now: datetime) -> bytes:
    """The warning: from the domain's postmaster, in Thai and English."""
    domain = email.rpartition("@")[2]
    local = minute_text(expires_at)  # the warning names the expiry in Thailand's time
    message = EmailMessage()
    message["From"] = f"postmaster@{domain}"
    message["To"] = email
    message["Subject"] = "รหัสผ่านของคุณจะหมดอายุ / Your mail password expires soon"
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(domain=domain)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(
        f"รหัสผ่านของบัญชี {email} จะหมดอายุเมื่อ {local} (เวลาประเทศไทย)\n"
        f"โปรดเปลี่ยนรหัสผ่านที่ {url}\n"
        "หลังหมดอายุ โปรแกรมอีเมลจะเข้าระบบไม่ได้จนกว่าจะเปลี่ยนรหัสผ่าน\n\n"
        f"The password of {email} expires on {local} (Thailand time).\n"
        f"Change it at {url}\n"
        "Once it has expired, mail programs cannot log in until it is changed.\n")
    return message.as_bytes(policy=SMTP)  # CRLF line ends: smtplib sends bytes as they are


class PasswordExpiry:
    """The job: for every domain whose passwords expire, mark the expired ones and warn
    those expiring within the domain's warn_days, each warning once."""

    def __init__(self, backends: Backends, send: Send) -> None:
        self.b = backends
        self.send = send

    def run(self, now: datetime) -> ExpiryReport:
        report = ExpiryReport()
        store = self.b.password_lifecycle
        if store is None:
            return report
        url = change_url(self.b)
        for domain, lifecycle in sorted(store.with_expiry().items()):
            before = lifecycle.changed_before(now, lifecycle.warn_days)
            assert before is not None
            flush: list[str] = []
            for email, changed_at, marked in self.b.accounts.password_ages(domain, before):
                if changed_at is None:
                    self.b.accounts.stamp_password_time(email, now)
                    report.stamped += 1
                    continue
                expires = lifecycle.expires_at(changed_at)
                assert expires is not None
                if expires <= now:
                    if not marked:
                        self.b.accounts.set_must_change(email, True)
                        self.b.audit.record(actor="password-expiry", origin="cli", action="account.password.expired",
                                            object_type="account", object_id=email, domain=domain)
                        report.marked.append(email)
                        flush.append(email)
                    continue
                if marked or not store.claim_warning(email, expires, now):
                    continue
                try:
                    self.send(email, warning_message(email, expires, url, now))
                except Exception as exc:  # noqa: BLE001 - the relay down: the next run tries again
                    log.warning("password expiry warning to %s not sent: %s", email, exc)
                    store.release_warning(email, expires)
                    report.failed.append(email)
                    continue
                report.warned.append(email)
            if flush:  # the marks apply at once: Dovecot's cached logins and this node's relay's entries go
                self.b.doveadm.flush_auth_cache(login_names(self.b, flush))
                self.b.tell_relay()
        store.forget_warnings(now - timedelta(days=366))
        return report
