"""Sieve mail through the relay's pickup directory (relay/sieve_pickup.py): Dovecot's mail
user drops it there and the delivery goes on; the relay takes it under the Sieve path's
rules. A redirect over the hourly limit waits there (not lost, not sent past the limit);
a file that is not the mail user's, or not an envelope and a message, is set aside and
never sent; files dropped while the relay was down leave, once, when it starts."""

from __future__ import annotations

import json
import os
import smtplib
import uuid
from pathlib import Path

import pytest

from mailgothai.relay.spool import new_queue_id
from mailgothai.settings import Settings
from mailgothai.stack import manager
from relay.conftest import FakeRemote, MailDomain
from relay.helpers import message, mx, reload_relay, submission, wait_for
from relay.test_sieve_mail import put_script

pytestmark = [pytest.mark.integration, pytest.mark.sql]


@pytest.fixture
def signed_domain(mail_domain: MailDomain, relay: Settings) -> MailDomain:
    mail_domain.services.dkim.generate(mail_domain.name, "rsa")
    reload_relay(relay)
    return mail_domain


def pickup(settings: Settings, part: str) -> Path:
    return settings.sieve_pickup_dir / part


def files_naming(settings: Settings, part: str, text: str) -> list[Path]:
    """Files of pickup/PART whose content names `text` (the relay's user reads them all)."""
    found = []
    for path in pickup(settings, part).iterdir():
        try:
            if text.encode() in path.read_bytes():
                found.append(path)
        except OSError:
            continue
    return found


def drop(settings: Settings, uid: int, head: bytes, body: bytes, name: str | None = None) -> str:
    """A file put into new/ the way the client does (tmp/, then renamed), owned by `uid`."""
    name = name or new_queue_id()
    tmp = pickup(settings, "tmp") / name
    tmp.write_bytes(head + b"\n" + body)
    os.chown(tmp, uid, settings.mail_gid)
    os.chmod(tmp, 0o644)
    os.replace(tmp, pickup(settings, "new") / name)
    return name


def reply_from(user: str, to: str, subject: str) -> bytes:
    return message(user, to, subject, "away\r\n", extra="Auto-Submitted: auto-replied (vacation)\r\n")


def envelope(user: str, to: str) -> bytes:
    return json.dumps({"user": user, "sender": "", "recipients": [to]}).encode()


def test_a_redirect_over_the_hourly_limit_waits_in_the_pickup_and_leaves_once_the_limit_allows(
        relay: Settings, signed_domain: MailDomain, remote: FakeRemote) -> None:
    signed_domain.services.domains.set(signed_domain.name, hourly_send_limit=1)
    boss, reader = signed_domain.account("boss"), signed_domain.account("reader")
    with submission(relay, boss) as client:  # the hour's one recipient, spent by the user
        assert client.sendmail(boss, [reader], message(boss, reader, "mine")) == {}
    target = f"boss-away-{uuid.uuid4().hex[:8]}@remote.example"
    put_script(relay, boss, f'redirect "{target}";\n')
    outsider = "partner@outside.example"
    with mx(relay) as client:  # delivered at once: Dovecot does not wait for the relay
        assert client.sendmail(outsider, [boss], message(outsider, boss, "for the boss")) == {}

    [waiting] = wait_for(lambda: files_naming(relay, "new", target), "the redirect in the pickup")
    log = manager.RELAY.log_file(relay)
    held = f"Sieve pickup {waiting.name} for {boss}: redirect over the hourly limit"
    wait_for(lambda: held in log.read_text(errors="replace"), "the redirect held back by the limit")
    reload_relay(relay)  # tried again at once: still over the limit
    assert files_naming(relay, "new", target) == [waiting]
    assert remote.messages_for(target) == []

    signed_domain.services.domains.set(signed_domain.name, hourly_send_limit=3)  # as a new hour would
    reload_relay(relay)
    [got] = wait_for(lambda: remote.messages_for(target), "the redirect, once the limit allows")
    assert b"Subject: for the boss" in got and b"(Sieve pickup)" in got
    wait_for(lambda: not waiting.exists(), "the pickup file removed")
    with submission(relay, boss) as client:  # the redirect was counted: 2 of 3 spent, one left
        assert client.docmd("MAIL", f"FROM:<{boss}>")[0] == 250
        assert client.docmd("RCPT", f"TO:<{reader}>")[0] == 250
        assert client.docmd("RCPT", "TO:<someone@remote.example>")[0] == 452
    reload_relay(relay)
    assert len(remote.messages_for(target)) == 1


def test_a_file_not_dropped_by_the_mail_user_is_set_aside_and_never_sent(
        relay: Settings, signed_domain: MailDomain, remote: FakeRemote) -> None:
    user = signed_domain.account("away")
    forged_to, real_to = (f"{tag}-{uuid.uuid4().hex[:8]}@outside.example" for tag in ("forged", "real"))
    stranger = relay.mail_uid + 1  # e.g. another local user, or the stack's own (root here)
    forged = drop(relay, stranger, envelope(user, forged_to), reply_from(user, forged_to, "forged"))
    group_writable = drop(relay, relay.mail_uid, envelope(user, forged_to), reply_from(user, forged_to, "forged"))
    os.chmod(pickup(relay, "new") / group_writable, 0o664)
    drop(relay, relay.mail_uid, envelope(user, real_to), reply_from(user, real_to, "real"))  # the same, the mail user's

    wait_for(lambda: remote.messages_for(real_to), "the mail user's file sent")
    wait_for(lambda: (pickup(relay, "bad") / forged).exists() and (pickup(relay, "bad") / group_writable).exists(),
             "the other files set aside")
    assert not (pickup(relay, "new") / forged).exists()
    assert remote.messages_for(forged_to) == []
    assert f"owned by uid {stranger}, not by the mail user" in manager.RELAY.log_file(relay).read_text(errors="replace")


def test_the_pickup_directory_is_closed_to_all_but_the_mail_user_and_the_relay(relay: Settings) -> None:
    for part, mode in (("tmp", 0o1730), ("new", 0o1770)):  # nothing for others; sticky
        st = pickup(relay, part).stat()
        assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (os.geteuid(), relay.mail_gid, mode)
    assert pickup(relay, "bad").stat().st_mode & 0o777 == 0o700
    script = (relay.data_dir / "dovecot" / "sieve" / "sendmail").read_text()
    assert f"pickup='{relay.sieve_pickup_dir}'" in script  # Dovecot's sendmail drops into it


def test_a_malformed_file_is_set_aside_and_the_relay_goes_on(
        relay: Settings, signed_domain: MailDomain, remote: FakeRemote) -> None:
    user = signed_domain.account("away")
    to = f"after-{uuid.uuid4().hex[:8]}@outside.example"
    bad = [drop(relay, relay.mail_uid, b"not json", b"body"),
           drop(relay, relay.mail_uid, b'{"user": "x"}', b"body"),
           drop(relay, relay.mail_uid, json.dumps({"user": user, "sender": "", "recipients": ["a@b@c"]}).encode(),
                b"Subject: x\r\n\r\nbody\r\n"),
           drop(relay, relay.mail_uid, envelope(user, to), b"", name="not-a-queue-id")]
    wait_for(lambda: all((pickup(relay, "bad") / name).exists() for name in bad), "the malformed files set aside")
    drop(relay, relay.mail_uid, envelope(user, to), reply_from(user, to, "after"))
    wait_for(lambda: remote.messages_for(to), "a good file after them still sent")


def test_files_dropped_while_the_relay_was_down_leave_once_when_it_starts(
        relay: Settings, signed_domain: MailDomain, remote: FakeRemote) -> None:
    away = signed_domain.account("away")
    signed_domain.services.vacation.set(away, subject="Away", message="I am away.")
    partner = f"partner-{uuid.uuid4().hex[:8]}@outside.example"
    manager.RELAY.stop(relay)
    try:
        with smtplib.LMTP(relay.host, relay.lmtp_port, timeout=30) as lmtp:  # straight to Dovecot
            assert lmtp.sendmail(partner, [away], message(partner, away, "while the relay is down")) == {}
        [dropped] = files_naming(relay, "new", partner)
    finally:
        manager.start_relay(relay)
    [reply] = wait_for(lambda: remote.messages_for(partner), "the reply, once the relay runs")
    assert b"Auto-Submitted: auto-replied" in reply
    wait_for(lambda: not dropped.exists(), "the pickup file removed")
    control = f"control-{uuid.uuid4().hex[:8]}@outside.example"
    with mx(relay) as client:
        assert client.sendmail(control, [away], message(control, away, "control")) == {}
    wait_for(lambda: remote.messages_for(control), "the control sender's reply")
    reload_relay(relay)
    assert len(remote.messages_for(partner)) == 1
