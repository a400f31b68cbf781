"""Step 1 of the relay policy against the running relay: commands and connections per
client address (a token bucket each) and refused commands per connection.

The relay is restarted with small limits for this module. Clients come from different
loopback addresses (127.0.0.2, .3, ...: all of 127/8 is this machine), so each has a
bucket of its own, as separate hosts would."""

from __future__ import annotations

import smtplib
import threading
import time
from collections.abc import Iterator

import pytest

from mailgothai.settings import Settings
from relay.conftest import MailDomain, relay_with
from relay.helpers import fetch_all, message, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.sql]

RATE, BURST, MAX_ERRORS = 10, 40, 5
STEADY, HAMMER, HARVEST, TYPOS = "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"


@pytest.fixture(scope="module")
def limited(relay: Settings) -> Iterator[Settings]:
    with relay_with(relay, relay_command_rate_per_ip=RATE, relay_command_burst_per_ip=BURST,
                    relay_max_errors_per_connection=MAX_ERRORS) as settings:
        yield settings


def mx_from(settings: Settings, source: str) -> smtplib.SMTP:
    client = smtplib.SMTP(settings.host, settings.smtp_port, timeout=30, source_address=(source, 0))
    client.ehlo("mx.remote.test")
    return client


def closed_by_relay(client: smtplib.SMTP) -> bool:
    """True when the relay has closed the connection (end of stream after its reply)."""
    assert client.file is not None
    return client.file.read() == b""


def test_a_client_hammering_the_listener_is_cut_off_while_a_steady_one_never_is(
        limited: Settings, mail_domain: MailDomain) -> None:
    reader = mail_domain.account("steady-reader")
    sender = "newsletter@elsewhere.example"
    steady_done = threading.Event()
    steady_results: list[dict[str, tuple[int, bytes]]] = []
    steady_errors: list[BaseException] = []
    sends = 8

    def steady() -> None:
        """Six commands a message (connect, EHLO, MAIL, RCPT, DATA, QUIT), one message
        a second at most: under RATE commands a second, whatever the machine's speed."""
        try:
            for n in range(sends):
                started = time.monotonic()
                with mx_from(limited, STEADY) as client:
                    mail = message(sender, reader, f"steady {n}")
                    steady_results.append(client.sendmail(sender, [reader], mail))
                time.sleep(max(0.0, 1.0 - (time.monotonic() - started)))
        except BaseException as exc:  # noqa: BLE001 - reported below
            steady_errors.append(exc)
        finally:
            steady_done.set()

    thread = threading.Thread(target=steady)
    thread.start()
    # The hammer: NOOPs as fast as the relay answers, reconnecting whenever it is cut off,
    # for as long as the steady client is sending.
    first_session_ok = 0
    refusals: list[tuple[int, bytes]] = []
    refused_at_greeting: list[tuple[int, bytes]] = []
    sessions = 0
    try:
        while not steady_done.is_set():
            try:
                client = mx_from(limited, HAMMER)
            except smtplib.SMTPConnectError as exc:
                refused_at_greeting.append((exc.smtp_code, exc.smtp_error))
                time.sleep(0.01)  # (keeps the client's ephemeral ports from running out)
                continue
            except smtplib.SMTPServerDisconnected:
                continue  # refused between the greeting and EHLO
            sessions += 1
            with client:
                try:
                    while not steady_done.is_set():  # (a relay that never refuses fails below, not hangs)
                        code, text = client.noop()
                        if code != 250:
                            refusals.append((code, text))
                            assert closed_by_relay(client)
                            break
                        if sessions == 1:
                            first_session_ok += 1
                except smtplib.SMTPServerDisconnected:
                    pass  # refused at EHLO: closed before the first NOOP
    finally:
        thread.join()

    assert not steady_errors, steady_errors
    assert steady_results == [{}] * sends  # every message accepted, no recipient refused
    wait_for(lambda: len(fetch_all(limited, reader)) == sends, "the steady client's messages")
    # the hammer got its burst (less the token of its connection and EHLO), then 421 4.7.0
    assert first_session_ok >= BURST - 2
    assert refusals and all(r == (421, b"4.7.0 Too many commands from your address, slow down and try later")
                            for r in refusals)
    # and reconnecting does not refill the bucket: a new connection is refused at once
    assert refused_at_greeting
    assert all(code == 421 and text.startswith(b"4.7.0 Too many commands")
               for code, text in refused_at_greeting)


def test_a_connection_is_closed_after_too_many_refused_commands(limited: Settings,
                                                                mail_domain: MailDomain) -> None:
    with mx_from(limited, HARVEST) as client:
        assert client.docmd("MAIL", "FROM:<harvester@elsewhere.example>")[0] == 250
        answers = [client.docmd("RCPT", f"TO:<guess{n}@{mail_domain.name}>") for n in range(MAX_ERRORS)]
        assert [code for code, _ in answers] == [550] * MAX_ERRORS
        assert all(text.startswith(b"5.1.1 No such user here") for _, text in answers)
        # the relay answered the last refusal and then closed the session
        code, text = client.getreply()
        assert (code, text) == (421, b"4.7.0 Too many refused commands in this session, closing")
        assert closed_by_relay(client)


def test_a_few_typos_do_not_close_the_connection(limited: Settings, mail_domain: MailDomain) -> None:
    reader = mail_domain.account("after-typos")
    sender = "colleague@elsewhere.example"
    with mx_from(limited, TYPOS) as client:
        typos = [f"after-typo{n}@{mail_domain.name}" for n in range(MAX_ERRORS - 1)]
        refused = client.sendmail(sender, [*typos, reader], message(sender, reader, "after typos"))
        assert sorted(refused) == sorted(typos) and {v[0] for v in refused.values()} == {550}
        assert client.noop()[0] == 250  # still open
    [got] = wait_for(lambda: fetch_all(limited, reader), "the message after the typos")
    assert b"Subject: after typos" in got
