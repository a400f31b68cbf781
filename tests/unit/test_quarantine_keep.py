"""The relay's quarantine (relay/quarantine.py) over a real SQL store (store/quarantine.py,
migration 0008; SQLite here, PostgreSQL when the `sql` tests run there) and a real spool:
kept durably and owner-only, released once per recipient with the bytes unchanged even
across a crash between spooling and marking, expired and swept. The delivery over LMTP
into Dovecot is tests/relay/test_quarantine_release.py."""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mailgothai.core.quarantine import State, release_queue_id, subject_of
from mailgothai.core.spam import Scan
from mailgothai.errors import StoreError
from mailgothai.relay.quarantine import Quarantine
from mailgothai.relay.quota import QuotaStatus
from mailgothai.relay.spool import Envelope, Spool, Target
from mailgothai.store.db import Store
from mailgothai.store.quarantine import QuarantineIndex
from mailgothai.store.quarantine_files import QuarantineFiles
from tests import pgcluster

pytestmark = pytest.mark.sql

MESSAGE = (b"From: Prize Office <win@lottery.example>\r\nTo: somchai@a.go.th\r\n"
           b"Subject: =?utf-8?b?4Lij4Liy4LiH4Lin4Lix4Lil?= you won\r\n\r\nClaim now.\r\n")
SCAN = Scan(action="no action", score=12.5, symbols={"BAYES_SPAM": 5.1, "MISSING_DATE": 1.0})


class RecordingQueue:
    """Stands for the delivery queue: what the quarantine handed it."""

    def __init__(self) -> None:
        self.submitted: list[tuple[Envelope, bytes]] = []
        self.scheduled: list[str] = []

    def submit(self, envelope: Envelope, message: bytes) -> None:
        self.submitted.append((envelope, message))

    def schedule(self, queue_id: str, when: float) -> None:
        self.scheduled.append(queue_id)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    url = pgcluster.cluster().new_database() if pgcluster.wanted() else f"sqlite:///{tmp_path / 'store.sqlite3'}"
    opened = Store.open(url)
    opened.migrate()
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def quarantine(store: Store, tmp_path: Path) -> Quarantine:
    return Quarantine(QuarantineFiles(tmp_path / "quarantine"), QuarantineIndex(store), "mx1.example.test")


def _envelope(*addresses: str) -> Envelope:
    return Envelope("0" * 22, "win@lottery.example", tuple(Target(a, a, True) for a in addresses),
                    datetime(2026, 12, 1, tzinfo=UTC).timestamp(), client="203.0.113.9")


def _release(q: Quarantine, spool: Spool, queue: RecordingQueue) -> int:
    quota = QuotaStatus(Path("/nonexistent/quota-status"), grant_bytes=0, grant_seconds=0)
    return asyncio.run(q.release(spool, queue, quota))  # type: ignore[arg-type]


def test_kept_owner_only_and_indexed(quarantine: Quarantine, tmp_path: Path) -> None:
    held_id = quarantine.keep(_envelope("somchai@a.go.th", "malee@a.go.th"), MESSAGE, SCAN, "A.go.th", 14)
    root = tmp_path / "quarantine"
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    assert stat.S_IMODE((root / held_id).stat().st_mode) == 0o600
    assert (root / held_id).read_bytes() == MESSAGE
    held = quarantine.index.get(held_id)
    assert held is not None
    assert (held.domain, held.sender, held.node, held.size) == ("a.go.th", "win@lottery.example",
                                                                "mx1.example.test", len(MESSAGE))
    assert held.subject == "รางวัล you won" == subject_of(MESSAGE)
    assert held.score == 12.5 and dict(held.symbols) == {"BAYES_SPAM": 5.1, "MISSING_DATE": 1.0}
    assert held.expires_at - held.received_at == timedelta(days=14)
    assert [(r.address, r.state) for r in held.recipients] == [("somchai@a.go.th", State.HELD),
                                                               ("malee@a.go.th", State.HELD)]


def test_nothing_left_when_sql_refuses(quarantine: Quarantine, store: Store, tmp_path: Path) -> None:
    store.close()
    broken = Quarantine(quarantine.files, QuarantineIndex(Store.open("sqlite:////nonexistent/x.sqlite3")), "mx1")
    with pytest.raises((StoreError, OSError)):
        broken.keep(_envelope("somchai@a.go.th"), MESSAGE, SCAN, "a.go.th", 14)
    assert os.listdir(tmp_path / "quarantine") == []


def test_released_once_per_recipient_with_its_bytes(quarantine: Quarantine, tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    spool.prepare()
    queue = RecordingQueue()
    held_id = quarantine.keep(_envelope("somchai@a.go.th", "malee@a.go.th"), MESSAGE, SCAN, "a.go.th", 14)
    held = quarantine.index.get(held_id)
    assert held is not None
    somchai = held.recipients[0]
    assert _release(quarantine, spool, queue) == 0  # nothing asked yet
    assert quarantine.index.move(held_id, [somchai.id], State.RELEASE_REQUESTED, "admin") == [somchai.id]
    assert quarantine.index.move(held_id, [somchai.id], State.RELEASE_REQUESTED, "admin") == []  # second click
    assert _release(quarantine, spool, queue) == 1
    assert _release(quarantine, spool, queue) == 0
    [(envelope, message)] = queue.submitted
    assert message == MESSAGE and spool.load(envelope.queue_id) == (envelope, MESSAGE)
    assert envelope.queue_id == release_queue_id(held_id, somchai.id)
    assert envelope.sender == "win@lottery.example"
    assert [t.address for t in envelope.targets] == ["somchai@a.go.th"]
    after = quarantine.index.get(held_id)
    assert after is not None
    assert [r.state for r in after.recipients] == [State.RELEASED, State.HELD]
    assert after.recipients[0].released_at is not None and after.recipients[0].released_by == "admin"


def test_a_crash_between_spooling_and_marking_spools_once(quarantine: Quarantine, tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    spool.prepare()
    held_id = quarantine.keep(_envelope("somchai@a.go.th"), MESSAGE, SCAN, "a.go.th", 14)
    rid = quarantine.index.get(held_id).recipients[0].id  # type: ignore[union-attr]
    quarantine.index.move(held_id, [rid], State.RELEASE_REQUESTED, "admin")
    # the relay spooled it and died before marking it
    spool.store(Envelope(release_queue_id(held_id, rid), "win@lottery.example",
                         (Target("somchai@a.go.th", "somchai@a.go.th", True),), 0.0), MESSAGE)
    restarted = Quarantine(quarantine.files, quarantine.index, quarantine.node)
    assert restarted.settle(spool) == 1  # at start: only marked
    queue = RecordingQueue()
    assert _release(restarted, spool, queue) == 0 and queue.submitted == []
    assert list(spool.iter_ids()) == [release_queue_id(held_id, rid)]
    assert quarantine.index.get(held_id).recipients[0].state is State.RELEASED  # type: ignore[union-attr]


def test_another_nodes_messages_are_left_to_it(quarantine: Quarantine, tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    spool.prepare()
    held_id = quarantine.keep(_envelope("somchai@a.go.th"), MESSAGE, SCAN, "a.go.th", 14)
    rid = quarantine.index.get(held_id).recipients[0].id  # type: ignore[union-attr]
    quarantine.index.move(held_id, [rid], State.RELEASE_REQUESTED, "admin")
    other = Quarantine(QuarantineFiles(tmp_path / "other"), quarantine.index, "mx2.example.test")
    queue = RecordingQueue()
    assert _release(other, spool, queue) == 0 and list(spool.iter_ids()) == []
    assert _release(quarantine, spool, queue) == 1


def test_expired_and_no_longer_held_files_go(quarantine: Quarantine, tmp_path: Path) -> None:
    old = quarantine.keep(_envelope("somchai@a.go.th"), MESSAGE, SCAN, "a.go.th", 3)
    done = quarantine.keep(_envelope("somchai@a.go.th"), MESSAGE, SCAN, "a.go.th", 30)
    kept = quarantine.keep(_envelope("somchai@a.go.th"), MESSAGE, SCAN, "a.go.th", 30)
    rid = quarantine.index.get(done).recipients[0].id  # type: ignore[union-attr]
    assert quarantine.index.move(done, [rid], State.DELETED, "admin") == [rid]
    assert quarantine.index.move(done, [rid], State.RELEASE_REQUESTED, "admin") == []  # deleted stays deleted
    now = datetime(2026, 12, 1, tzinfo=UTC) + timedelta(days=4)
    assert quarantine.sweep(now) == 2
    assert quarantine.files.ids() == [kept]
    assert quarantine.index.get(old) is None  # rows gone with the file
    assert quarantine.index.get(done) is not None  # listed as deleted until it expires
    assert quarantine.sweep(now + timedelta(days=30)) == 1
    assert quarantine.files.ids() == [] and quarantine.index.get(kept) is None


def test_listing_by_domain_and_by_recipient(quarantine: Quarantine) -> None:
    a = quarantine.keep(_envelope("somchai@a.go.th", "malee@a.go.th"), MESSAGE, SCAN, "a.go.th", 30)
    b = quarantine.keep(_envelope("boss@b.go.th"), MESSAGE, SCAN, "b.go.th", 30)
    index = quarantine.index
    assert [h.id for h in index.page(domains=["a.go.th"])] == [a]
    assert sorted(h.id for h in index.page()) == sorted([a, b])
    assert [h.id for h in index.page(domains=[])] == []
    [mine] = index.page(address="malee@a.go.th")
    assert mine.id == a and [r.address for r in mine.recipients] == ["malee@a.go.th"]
    # one transaction may reach two domains of the same policy: each domain sees its own recipients
    both = quarantine.keep(_envelope("somchai@a.go.th", "boss@b.go.th"), MESSAGE, SCAN, "a.go.th", 30)
    [seen_by_b] = [h for h in index.page(domains=["b.go.th"]) if h.id == both]
    assert [r.address for r in seen_by_b.recipients] == ["boss@b.go.th"]



def test_a_score_sql_and_json_cannot_keep_is_kept_as_zero(quarantine: Quarantine) -> None:
    odd = Scan(action="reject", score=float("inf"), symbols={"GTUBE": float("nan"), "OK": 1.5})
    held = quarantine.index.get(quarantine.keep(_envelope("somchai@a.go.th"), MESSAGE, odd, "a.go.th", 1))
    assert held is not None and held.score == 0.0 and dict(held.symbols) == {"GTUBE": 0.0, "OK": 1.5}


def test_relays_of_one_name_release_only_what_they_keep(quarantine: Quarantine, tmp_path: Path) -> None:
    """Relays of a service share one relay_hostname (deploy/README): each keeps its own files,
    and the one holding the message is the one that spools it, once."""
    held_id = quarantine.keep(_envelope("somchai@a.go.th"), MESSAGE, SCAN, "a.go.th", 14)
    rid = quarantine.index.get(held_id).recipients[0].id  # type: ignore[union-attr]
    quarantine.index.move(held_id, [rid], State.RELEASE_REQUESTED, "admin")
    twin = Quarantine(QuarantineFiles(tmp_path / "twin"), quarantine.index, quarantine.node)
    twin_spool, spool = Spool(tmp_path / "twin-spool"), Spool(tmp_path / "spool")
    twin_spool.prepare()
    spool.prepare()
    assert _release(twin, twin_spool, RecordingQueue()) == 0 and list(twin_spool.iter_ids()) == []
    assert _release(quarantine, spool, RecordingQueue()) == 1
    assert _release(twin, twin_spool, RecordingQueue()) == 0 and list(twin_spool.iter_ids()) == []


def test_the_relays_quarantine_index_commits_with_synchronous_full(tmp_path: Path) -> None:
    """The relay set synchronous=NORMAL (for its hourly counters) on its whole SQLite
    engine, the quarantine index's too: a row committed before the 250 could be lost to a
    power cut, and its file then swept as an orphan. Only the counters' engine is NORMAL."""
    from sqlalchemy import text

    from mailgothai.relay import wiring
    from mailgothai.settings import load_settings

    settings = load_settings(data_dir=tmp_path / "data", environ={})
    assert settings.sql_url_effective.startswith("sqlite")
    ctx = wiring.build(settings)
    try:
        assert ctx.quarantine is not None
        with ctx.quarantine.index._store.engine.connect() as connection:
            assert connection.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
        with ctx.store.engine.connect() as connection:
            assert connection.execute(text("PRAGMA synchronous")).scalar() == 2
        with ctx.counters._store.engine.connect() as connection:
            assert connection.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL: a rate limit
    finally:
        ctx.close()
