"""A message that keeps failing temporarily past the queue lifetime is bounced once
(status 4.4.7), through a real spool and a real SMTP peer (the fake remote)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from mailgothai.relay.delivery import DeliveryQueue, QueuePolicy
from mailgothai.relay.lmtp import LmtpPool
from mailgothai.relay.remote import RemoteSender, Resolver
from mailgothai.relay.spool import Envelope, Spool, Target, new_queue_id
from relay.conftest import FakeRemote
from relay.helpers import message


def test_expired_message_bounces_once_with_4_4_7(tmp_path: Path, remote: FakeRemote) -> None:
    sender, target = "author@remote-sender.example", "stuck@remote.example"
    remote.scripts[target] = ["451 4.3.0 come back later"]
    spool = Spool(tmp_path / "spool")
    spool.prepare()

    async def route_sender(address: str) -> tuple[Target, ...]:
        return (Target(address, address, local=False),)

    async def run() -> None:
        queue = DeliveryQueue(spool, LmtpPool("127.0.0.1", 1, 1, "t"),
                              RemoteSender(f"127.0.0.1:{remote.port}", Resolver("off", 1), "relay.test"),  # type: ignore[attr-defined]
                              QueuePolicy(retry_base=1, retry_max=1, lifetime=1, workers=2, hostname="relay.test"),
                              route_sender, smarthost=True)
        # submitted with AUTH (mail from outside gets no DSN to an outside sender: delivery.py)
        envelope = Envelope(new_queue_id(), sender, (Target(target, target, local=False),), time.time(),
                            auth_user=sender)
        data = message(sender, target, "will-expire")
        spool.store(envelope, data)
        queue.submit(envelope, data)
        worker = asyncio.create_task(queue.run())
        deadline = time.monotonic() + 60
        while (list(spool.iter_ids()) or not remote.messages_for(sender)) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.5)  # a further retry period: still one bounce
        worker.cancel()
        await queue.drain()

    asyncio.run(run())
    assert remote.attempts[target] >= 2  # tried, deferred, tried again after the lifetime
    [dsn] = remote.messages_for(sender)
    assert b"Status: 4.4.7" in dsn and f"Final-Recipient: rfc822; {target}".encode() in dsn
    assert b"Subject: will-expire" in dsn and b"(it stayed in the queue too long)" in dsn
    assert list(spool.iter_ids()) == []  # the original and the bounce are both done
