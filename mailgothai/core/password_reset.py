"""Self-service password reset (issue 20), the parts with no I/O: link tokens and what is
stored of them, the request throttle's keys and decision, and the two mails (a reset
link; a recovery address's confirmation link), in Thai and English.

A link's token is 32 random bytes (URL-safe base64, 43 characters); the store keeps only
its SHA-256, so a copy of the database (a backup, a replica) opens no account. A token
is single use and short-lived (`password_reset_lifetime`, default 30 minutes); a
confirmation token lives a day.
"""

from __future__ import annotations

import email.utils
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage

from mailgothai.core.thai_time import minute_text
from mailgothai.core.throttle import client_key

TOKEN_BYTES = 32
TOKEN_CHARS = 43  # base64url of 32 bytes, unpadded
CONFIRM_LIFETIME = 86400  # seconds a recovery address's confirmation link works
RESET, CONFIRM = "reset", "confirm"  # what a token is for
THROTTLE_WINDOW = 3600  # seconds the request counts look back


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    """What the store keeps of a token (hex SHA-256). A token of the wrong shape hashes
    like any other and is simply not found."""
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def plausible_token(token: str) -> bool:
    return len(token) == TOKEN_CHARS and all(c.isascii() and (c.isalnum() or c in "-_") for c in token)


# ---- throttle -------------------------------------------------------------------------
@dataclass(frozen=True)
class ThrottleRules:
    per_address: int  # reset mails one address may ask for in THROTTLE_WINDOW; 0: no limit
    per_source: int  # requests one client (IPv4 address, IPv6 /64) may make in THROTTLE_WINDOW; 0: no limit


def address_key(address: str) -> str:
    """The key an address's requests count under: what was typed, normalised if it can be
    (so a known and an unknown address are counted alike)."""
    return "a:" + address.strip().lower()[:320]


def source_key(ip: str) -> str:
    return "s:" + client_key(ip)


@dataclass(frozen=True)
class Admission:
    source_over: bool  # the client has asked too often: refused (429), whatever the address
    address_over: bool  # this address was asked for too often: the same answer, no mail


def admit(rules: ThrottleRules, address_count: int, source_count: int) -> Admission:
    """Counts are of the requests before this one within the window."""
    return Admission(source_over=bool(rules.per_source) and source_count >= rules.per_source,
                     address_over=bool(rules.per_address) and address_count >= rules.per_address)


# ---- the mails --------------------------------------------------------------------------
def link(public_url: str, path: str, token: str) -> str:
    return f"{public_url.rstrip('/')}{path}/{token}"


def _message(*, sender: str, to: str, subject: str, body: str, now: datetime, domain: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = email.utils.format_datetime(now)
    msg["Message-ID"] = email.utils.make_msgid(domain=domain)
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office reply comes back
    msg["Content-Language"] = "th, en"
    msg.set_content(body, charset="utf-8", cte="quoted-printable")
    return msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))


def _minutes(seconds: int) -> int:
    return max(1, seconds // 60)


def _system_mail(*, account: str, to: str, subject: str, thai: str, english: str, now: datetime) -> bytes:
    """A mail from no-reply@ the account's domain (signed with its key): the Thai text, then
    the English one."""
    domain = account.rpartition("@")[2]
    return _message(sender=f"no-reply@{domain}", to=to, subject=f"{subject}: {account}",
                    body=f"{thai}\n-----\n\n{english}", now=now, domain=domain)


def reset_mail(*, account: str, to: str, url: str, lifetime: int, now: datetime) -> bytes:
    """The mail with a reset link, to the confirmed recovery address."""
    minutes = _minutes(lifetime)
    return _system_mail(
        account=account, to=to, subject="ตั้งรหัสผ่านใหม่ / Reset your password", now=now,
        thai=(f"มีผู้ขอตั้งรหัสผ่านใหม่ของบัญชีอีเมล {account}\n"
              f"ถ้าเป็นคุณ เปิดลิงก์นี้ภายใน {minutes} นาทีเพื่อตั้งรหัสผ่านใหม่ (ใช้ได้ครั้งเดียว):\n\n"
              f"{url}\n\n"
              "ถ้าคุณไม่ได้ขอ ไม่ต้องทำอะไร รหัสผ่านเดิมยังใช้ได้ตามเดิม\n"),
        english=(f"Someone asked to set a new password for the mail account {account}.\n"
                 f"If it was you, open this link within {minutes} minutes to set a new password (it works once):\n\n"
                 f"{url}\n\n"
                 "If it was not you, do nothing: your password stays as it is.\n"))


def confirm_mail(*, account: str, to: str, url: str, now: datetime) -> bytes:
    """The mail that asks the owner of a new recovery address to confirm it."""
    return _system_mail(
        account=account, to=to, subject="ยืนยันที่อยู่สำหรับกู้คืนรหัสผ่าน / Confirm your recovery address", now=now,
        thai=(f"บัญชีอีเมล {account} ขอใช้ที่อยู่นี้ ({to}) เป็นที่อยู่สำหรับกู้คืนรหัสผ่าน\n"
              "ถ้าเป็นคุณ เปิดลิงก์นี้ภายใน 24 ชั่วโมงเพื่อยืนยัน:\n\n"
              f"{url}\n\n"
              "ถ้าคุณไม่ได้ขอ ไม่ต้องทำอะไร ที่อยู่นี้จะไม่ถูกใช้\n"),
        english=(f"The mail account {account} asks to use this address ({to}) to recover its password.\n"
                 "If it was you, open this link within 24 hours to confirm it:\n\n"
                 f"{url}\n\n"
                 "If it was not you, do nothing: this address will not be used.\n"))


def recovery_notice_mail(*, account: str, recovery: str, now: datetime) -> bytes:
    """To the account itself once a recovery address is confirmed: whoever holds that
    address can set the account's password from now on, so the owner must hear of it."""
    when = minute_text(now)
    return _system_mail(
        account=account, to=account, subject="มีที่อยู่กู้คืนรหัสผ่านใหม่ / A new recovery address", now=now,
        thai=(f"เมื่อ {when} (เวลาประเทศไทย) มีการยืนยันที่อยู่ {recovery} เป็นที่อยู่สำหรับกู้คืนรหัสผ่านของบัญชี {account}\n"
              "ผู้ที่ใช้ที่อยู่นั้นได้ จะตั้งรหัสผ่านใหม่ของบัญชีนี้ได้\n"
              "ถ้าไม่ใช่คุณ ให้เปลี่ยนรหัสผ่านและลบที่อยู่นี้ในหน้าตั้งค่าของกล่องจดหมาย หรือแจ้งผู้ดูแลระบบของหน่วยงาน\n"),
        english=(f"At {when} (Thailand time) {recovery} was confirmed as the recovery address of the mail account "
                 f"{account}.\n"
                 "Whoever can read mail there can now set this account's password.\n"
                 "If it was not you, change your password and remove that address in your mailbox's settings, "
                 "or tell your agency's mail administrator.\n"))


def reset_notice_mail(*, account: str, now: datetime) -> bytes:
    """To the account itself after its password was set through a reset link."""
    when = minute_text(now)
    return _system_mail(
        account=account, to=account, subject="รหัสผ่านถูกตั้งใหม่ / Your password was reset", now=now,
        thai=(f"เมื่อ {when} (เวลาประเทศไทย) รหัสผ่านของบัญชี {account} ถูกตั้งใหม่ผ่านลิงก์กู้คืนรหัสผ่าน\n"
              "ถ้าไม่ใช่คุณ ให้แจ้งผู้ดูแลระบบของหน่วยงานทันที\n"),
        english=(f"At {when} (Thailand time) the password of the mail account {account} was set through a reset "
                 "link.\n"
                 "If it was not you, tell your agency's mail administrator at once.\n"))
