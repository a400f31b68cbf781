"""The queue: a remote that fails temporarily is retried until it accepts; one that
fails for good produces exactly one DSN to the sender; never a bounce for a bounce;
`mailgothai queue list|show|retry|delete` on what waits."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from conftest import Cli

from mailgothai.settings import Settings
from relay.conftest import FakeRemote, MailDomain
from relay.helpers import fetch_all, message, mx, submission, wait_for, wait_for_messages

pytestmark = pytest.mark.integration


def test_temporary_failures_are_retried_until_accepted(relay: Settings, mail_domain: MailDomain,
                                                       remote: FakeRemote) -> None:
    sender = mail_domain.account("patient")
    target = f"busy-{mail_domain.name}@remote.example"
    remote.scripts[target] = ["451 4.3.0 busy, try later", "421 4.4.2 still busy", "250 OK"]
    with submission(relay, sender) as client:
        assert client.sendmail(sender, [target], message(sender, target, "eventually")) == {}
    [got] = wait_for(lambda: remote.messages_for(target), "delivery after the retries")
    assert b"Subject: eventually" in got
    assert remote.attempts[target] == 3
    assert fetch_all(relay, sender) == []  # no bounce


def test_a_permanent_failure_gives_exactly_one_dsn(relay: Settings, mail_domain: MailDomain,
                                                   remote: FakeRemote) -> None:
    sender = mail_domain.account("unlucky")
    good, bad = f"ok-{mail_domain.name}@remote.example", f"gone-{mail_domain.name}@remote.example"
    remote.scripts[bad] = ["550 5.1.1 no such user at the remote"]
    with submission(relay, sender) as client:
        assert client.sendmail(sender, [good, bad], message(sender, bad, "doomed")) == {}
    [dsn] = wait_for_messages(relay, sender)
    assert b"Content-Type: multipart/report; report-type=delivery-status" in dsn
    assert f"Final-Recipient: rfc822; {bad}".encode() in dsn
    assert b"Status: 5.1.1" in dsn and b"Action: failed" in dsn
    assert b"Subject: doomed" in dsn  # the original's headers come back
    assert good.encode() not in dsn.split(b"message/delivery-status")[1].split(b"text/rfc822-headers")[0]
    assert remote.messages_for(good)
    time.sleep(3)  # several retry periods (retry_base is 1 s): still one DSN
    assert len(fetch_all(relay, sender)) == 1


def test_no_bounce_for_a_bounce(relay: Settings, mail_domain: MailDomain, remote: FakeRemote) -> None:
    """A null-sender message (a bounce) that fails for good is dropped, not bounced."""
    reader = mail_domain.account("bounces")
    forward_gone = f"gone2-{mail_domain.name}@remote.example"
    remote.scripts[forward_gone] = ["550 5.1.1 no such user"]
    mail_domain.services.accounts.update(reader, forwards=forward_gone)
    with mx(relay) as client:
        assert client.sendmail("", [reader], message("MAILER-DAEMON@elsewhere.example", reader, "a-bounce")) == {}
    [got] = wait_for_messages(relay, reader)  # the local copy arrives
    wait_for(lambda: remote.attempts[forward_gone] >= 1, "the forward to be refused")
    time.sleep(2)
    assert len(fetch_all(relay, reader)) == 1  # nothing came back for the refused forward
    assert b"Subject: a-bounce" in got


def test_queue_commands_list_show_retry_delete(relay: Settings, mail_domain: MailDomain,
                                               remote: FakeRemote) -> None:
    cli = Cli(relay)
    sender = mail_domain.account("queued")
    slow, dropped = f"slow-{mail_domain.name}@remote.example", f"drop-{mail_domain.name}@remote.example"
    remote.scripts[slow] = ["451 4.3.0 later"]  # until the remote recovers, below
    remote.scripts[dropped] = ["451 4.3.0 never"]
    with submission(relay, sender) as client:
        client.sendmail(sender, [slow], message(sender, slow, "slow"))
        client.sendmail(sender, [dropped], message(sender, dropped, "dropped"))

    def queued() -> dict[str, dict[str, object]] | None:
        out = cli("queue", "list", "--json")
        assert out.returncode == 0, out.stderr
        rows = {r["pending"][0]: r for r in json.loads(out.stdout) if r["pending"] and r["sender"] == sender}
        return rows if {slow, dropped} <= set(rows) and all(r["attempts"] for r in rows.values()) else None

    rows = wait_for(queued, "both messages to wait in the queue after a first attempt")
    shown = cli("queue", "show", str(rows[slow]["queue_id"]), "--json")
    assert shown.returncode == 0, shown.stderr
    detail = json.loads(shown.stdout)
    assert detail["last_error"][slow].startswith("451") and "Subject: slow" in detail["headers"]

    assert cli("queue", "delete", str(rows[dropped]["queue_id"])).returncode == 0
    remote.scripts[slow] = ["250 OK"]
    assert cli("queue", "retry", "--all").returncode == 0
    wait_for(lambda: remote.messages_for(slow), "the slow message after retries")
    assert not remote.messages_for(dropped)
    assert cli("queue", "show", str(rows[dropped]["queue_id"])).returncode == 1
    bad = cli("queue", "show", "../../etc/passwd")
    assert bad.returncode == 2 and "queue_id" in bad.stderr


def test_the_spool_counts_recorded_deliveries_and_drops_them_with_the_message(tmp_path: Path) -> None:
    """`queue/ID.done` (appended the moment a recipient is confirmed) joins the saved
    state; a line cut short (a power cut mid-write) counts for nothing; it goes with the
    message."""
    from mailgothai.relay.spool import DeliveryState, Envelope, Spool, Target, new_queue_id

    spool = Spool(tmp_path / "spool")
    spool.prepare()
    targets = tuple(Target(f"{n}@h.go.th", f"{n}@h.go.th", local=True) for n in ("a", "b", "c"))
    queue_id = new_queue_id()
    spool.store(Envelope(queue_id, "s@h.go.th", targets, 0.0), b"Subject: x\r\n\r\nbody\r\n")
    spool.save_state(queue_id, DeliveryState(attempts=1, done=["a@h.go.th"]))
    spool.record_delivered(queue_id, ["b@h.go.th"])
    with open(spool.done_path(queue_id), "ab") as fh:
        fh.write(b"c@h.go")  # unfinished line
    assert spool.state(queue_id).done == ["a@h.go.th", "b@h.go.th"]
    spool.remove(queue_id)
    assert list(spool.queue.iterdir()) == []
    # a crash between the message's removal and its progress files': recover tidies up
    other = new_queue_id()
    spool.store(Envelope(other, "s@h.go.th", targets, 0.0), b"x\r\n")
    spool.record_delivered(other, ["a@h.go.th"])
    spool.msg_path(other).unlink()
    assert spool.recover() == [] and list(spool.queue.iterdir()) == []


def test_a_spooled_target_keeps_its_mailbox_id_and_older_spool_files_still_load(tmp_path: Path) -> None:
    """The mailbox a local target was accepted for is on disk with the message (the
    delivery after a restart goes to that mailbox); a message spooled by a version that
    did not record it loads with none."""
    from mailgothai.relay.spool import Envelope, Spool, Target, new_queue_id

    spool = Spool(tmp_path / "spool")
    spool.prepare()
    target = Target("a@h.go.th", "alias@h.go.th", local=True, mailbox="0f6c3a52-1d0e-4c7b-9c55-6b1f3c1c2a10")
    queue_id = new_queue_id()
    spool.store(Envelope(queue_id, "s@h.go.th", (target,), 0.0), b"x\r\n")
    assert spool.load(queue_id)[0].targets == (target,)
    older = b'{"queue_id":"q","sender":"","targets":[{"address":"a@h.go.th","original":"a@h.go.th","local":true}],' \
            b'"received_at":0.0,"auth_user":"","client":"","is_bounce":false}'
    assert Envelope.from_json(older).targets == (Target("a@h.go.th", "a@h.go.th", local=True, mailbox=""),)


def test_retry_all_skips_a_message_delivered_while_it_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """`queue retry --all` lists the queue, then reschedules each message: one the relay
    delivers (and removes) in between is no longer there — not an error, and no progress
    file is left for it; asked for by its id, it is "not found"."""
    import argparse

    from mailgothai.cli.queue import cmd_retry
    from mailgothai.errors import NotFound
    from mailgothai.relay.spool import Envelope, Spool, Target, new_queue_id

    settings = Settings(data_dir=tmp_path)
    spool = Spool(settings.spool_dir.resolve())
    spool.prepare()
    target = (Target("a@h.go.th", "a@h.go.th", local=True),)
    waiting, delivered = new_queue_id(), new_queue_id()
    for qid in (waiting, delivered):
        spool.store(Envelope(qid, "s@h.go.th", target, 0.0), b"x\r\n")
    listed = list(spool.iter_ids())
    spool.remove(delivered)  # the relay finished it after the listing
    monkeypatch.setattr(Spool, "iter_ids", lambda self: iter(listed))
    assert cmd_retry(argparse.Namespace(all=True, queue_id=None), settings) == 0
    assert capsys.readouterr().out.startswith("1 message(s) scheduled for delivery now")
    assert spool.state(waiting).next_try == 0.0
    assert not spool.state_path(delivered).exists()
    with pytest.raises(NotFound):
        cmd_retry(argparse.Namespace(all=False, queue_id=delivered), settings)


def test_a_connection_lost_after_the_data_is_not_tried_again_at_the_next_mx() -> None:
    """The remote sender moved on to the next MX host whenever every reply was 421, its own
    "421 4.4.2 connection ... lost" too: lost after the final dot, the first host may have
    accepted (and will deliver) the message, and the second delivered it again in the same
    attempt. Now the recipients of a connection lost once the data was sent are a temporary
    failure, left to a later attempt (as every MTA does: a duplicate stays possible then);
    a host that cannot be reached at all still passes to the next."""
    import asyncio

    from aiosmtpd.smtp import SMTP as Server

    from mailgothai.relay.remote import RemoteReply, RemoteSender, Resolver

    class Dropping:
        """An MX that takes the message, then drops the connection before it replies."""

        def __init__(self) -> None:
            self.received: list[bytes] = []

        async def handle_DATA(self, server: Server, session: object, envelope: object) -> str:
            self.received.append(getattr(envelope, "original_content", b""))
            assert server.transport is not None
            server.transport.abort()
            return "250 2.0.0 never heard"

    class Accepting:
        def __init__(self) -> None:
            self.received: list[bytes] = []

        async def handle_DATA(self, server: Server, session: object, envelope: object) -> str:
            self.received.append(getattr(envelope, "original_content", b""))
            return "250 2.0.0 accepted"

    class ThreeMx(Resolver):
        async def mx_hosts(self, domain: str) -> list[str]:
            return ["mx1.remote.example", "mx2.remote.example", "mx3.remote.example"]

    async def run() -> tuple[dict[str, RemoteReply], list[str], Dropping, Accepting]:
        loop = asyncio.get_running_loop()
        dropping, accepting = Dropping(), Accepting()
        servers = [await loop.create_server(lambda h=h: Server(h, hostname="mx.test"), "127.0.0.1", 0)
                   for h in (dropping, accepting)]
        ports = {"mx1.remote.example": 1,  # nothing listens: the connection fails, the next host is tried
                 "mx2.remote.example": servers[0].sockets[0].getsockname()[1],
                 "mx3.remote.example": servers[1].sockets[0].getsockname()[1]}
        tried: list[str] = []

        class Sender(RemoteSender):
            async def _try_host(self, host: str, port: int, sender: str, recipients: list[str],
                                message: bytes) -> dict[str, RemoteReply]:
                tried.append(host)
                return await super()._try_host("127.0.0.1", ports[host], sender, recipients, message)

        try:
            replies = await Sender("", ThreeMx("off", 5.0), "relay.test", timeout=10.0).deliver(
                "a@h.go.th", ["someone@remote.example"], b"Subject: once\r\n\r\nonly once\r\n")
        finally:
            for server in servers:
                server.close()
        return replies, tried, dropping, accepting

    replies, tried, dropping, accepting = asyncio.run(run())
    assert len(dropping.received) == 1
    assert accepting.received == []  # not sent again in the same attempt
    assert tried == ["mx1.remote.example", "mx2.remote.example"]
    reply = replies["someone@remote.example"]
    assert 400 <= reply.code < 500 and "lost" in reply.text, reply  # retried later
