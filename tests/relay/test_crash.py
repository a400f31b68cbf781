"""kill -9 of the relay while 500 messages are being submitted: after a restart every
message that got a 250 is delivered; none is lost."""

from __future__ import annotations

import os
import signal
import smtplib
import threading
import time
import uuid
from collections import Counter

import pytest
from imapclient import IMAPClient

from mailgothai.settings import Settings
from mailgothai.stack import manager
from relay.conftest import MailDomain
from relay.helpers import PASSWORD, message, submission, wait_for

pytestmark = pytest.mark.integration

TOTAL = 500
CLIENTS = 4
KILL_AFTER = 150  # accepted messages


def _message_ids(settings: Settings, user: str) -> list[str]:
    with IMAPClient(settings.host, port=settings.imap_port, ssl=False, timeout=60) as imap:
        imap.login(user, PASSWORD)
        imap.select_folder("INBOX", readonly=True)
        ids = imap.search("ALL")
        if not ids:
            return []
        data = imap.fetch(ids, ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
    return [v[b"BODY[HEADER.FIELDS (MESSAGE-ID)]"].decode().split(":", 1)[1].strip() for v in data.values()]


def test_kill_9_during_submission_loses_no_accepted_message(relay: Settings, mail_domain: MailDomain) -> None:
    mail_domain.services.domains.set(mail_domain.name, hourly_send_limit=100_000)
    sender = mail_domain.account("bulk")
    readers = [mail_domain.account(f"box{n}") for n in range(5)]
    jobs = [(f"<{uuid.uuid4().hex}@crash.test>", readers[n % len(readers)]) for n in range(TOTAL)]
    accepted: list[tuple[str, str]] = []
    failed: list[str] = []
    lock = threading.Lock()
    killed = threading.Event()
    abort = threading.Event()  # the killer failed: stop submitting
    errors: list[BaseException] = []
    old_pid = manager.RELAY.status(relay).pid

    def submit(share: list[tuple[str, str]]) -> None:
        client: smtplib.SMTP | None = None
        for msg_id, rcpt in share:
            raw = message(sender, rcpt, "crash", ("z" * 70 + "\r\n") * 140).replace(
                b"Message-ID: <", b"X-Old-Id: <", 1).replace(b"\r\n\r\n", f"\r\nMessage-ID: {msg_id}\r\n\r\n".encode(), 1)
            deadline = time.monotonic() + 120
            while not abort.is_set() and time.monotonic() < deadline:  # relay down: try again
                try:
                    if client is None:
                        client = submission(relay, sender)
                    client.sendmail(sender, [rcpt], raw)
                    with lock:
                        accepted.append((msg_id, rcpt))
                    break
                except (smtplib.SMTPException, OSError):
                    if client is not None:
                        try:
                            client.close()
                        except OSError:
                            pass
                    client = None
                    with lock:
                        failed.append(msg_id)  # no 250: the client keeps it and tries again
                    time.sleep(0.05)
        if client is not None:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                pass

    def killer() -> None:
        try:
            wait_for(lambda: len(accepted) >= KILL_AFTER, "the first messages to be accepted", timeout=300)
            assert old_pid is not None
            os.kill(old_pid, signal.SIGKILL)
            killed.set()
            wait_for(lambda: not manager.RELAY.status(relay).running, "the relay to die")
            manager.start_relay(relay)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
            abort.set()

    threads = [threading.Thread(target=submit, args=(jobs[n::CLIENTS],)) for n in range(CLIENTS)]
    kill_thread = threading.Thread(target=killer)
    for t in (*threads, kill_thread):
        t.start()
    for t in (*threads, kill_thread):
        t.join()

    assert not errors, errors
    assert killed.is_set()
    assert manager.RELAY.status(relay).pid != old_pid
    assert len(accepted) == TOTAL  # every message got its 250 in the end (retried by the clients)
    want = Counter(rcpt for _, rcpt in accepted)

    def delivered() -> dict[str, list[str]] | None:
        got = {r: _message_ids(relay, r) for r in readers}
        return got if all(len(set(got[r])) >= want[r] for r in readers) else None

    got = wait_for(delivered, "every accepted message in its mailbox", timeout=300)
    for msg_id, rcpt in accepted:
        assert msg_id in got[rcpt], f"accepted but lost: {msg_id}"
    duplicates = sum(len(ids) - len(set(ids)) for ids in got.values())
    print(f"accepted {len(accepted)}, refused attempts {len(failed)}, duplicates after the kill {duplicates}")
