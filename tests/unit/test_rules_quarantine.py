"""The quarantine's service rules (services/quarantine.py) on the fakes: who sees and
changes what (an operator all, a domain admin its domains' recipients only, a mail user
their own rows only), a release or a delete once, teaching rspamd, the audit records."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mailgothai.core.quarantine import Held, Recipient, State
from mailgothai.errors import InvalidInput, NotFound
from mailgothai.services.quarantine import QuarantineService
from mailgothai.services.registry import Services
from tests.fakes import OPERATOR, admin_of, fake_backends
from tests.fakes.quarantine import FakeHeldMessages, FakeLearner, FakeQuarantine
from tests.fakes.store import FakeAuditLog

MESSAGE = (b"From: Prize <win@lottery.example>\r\nTo: somchai@a.go.th\r\nSubject: you won\r\n"
           b"Content-Type: text/html\r\n\r\n<p>Claim <b>now</b></p><script>alert(1)</script>\r\n")
T0 = datetime(2026, 12, 1, tzinfo=UTC)


@dataclasses.dataclass
class World:
    index: FakeQuarantine
    files: FakeHeldMessages
    learner: FakeLearner
    backends: object
    audit: FakeAuditLog

    def service(self, actor: object = OPERATOR) -> QuarantineService:
        return QuarantineService(self.backends, actor)  # type: ignore[arg-type]

    def user(self, email: str) -> QuarantineService:
        return QuarantineService.of_user(self.backends, email)  # type: ignore[arg-type]

    def keep(self, *rcpts: str, minutes: int = 0, held_id: str = "") -> Held:
        held_id = held_id or f"{len(self.index.messages) + 1:022x}"
        held = Held(held_id, "mx1", rcpts[0].split("@")[1], "win@lottery.example", "you won", 12.0,
                    {"BAYES_SPAM": 5.0}, len(MESSAGE), T0 + timedelta(minutes=minutes),
                    T0 + timedelta(days=30), tuple(Recipient(0, r, r, True) for r in rcpts))
        self.files.files[held_id] = MESSAGE
        return self.index.add(held)


@pytest.fixture
def world(tmp_path: Path) -> World:
    fakes = fake_backends(tmp_path)
    index, files, learner = FakeQuarantine(), FakeHeldMessages(), FakeLearner()
    backends = dataclasses.replace(fakes.backends, quarantine=index, held_messages=files, spam_learner=learner)
    return World(index, files, learner, backends, fakes.audit)


def test_operator_sees_all_newest_first_domain_admin_its_domains_only(world: World) -> None:
    a = world.keep("somchai@a.go.th", minutes=1)
    b = world.keep("boss@b.go.th", minutes=2)
    assert [h.id for h in world.service().listing()] == [b.id, a.id]
    assert [h.id for h in world.service(admin_of("a.go.th")).listing()] == [a.id]
    assert [h.id for h in world.service(admin_of("a.go.th")).listing("a.go.th")] == [a.id]
    with pytest.raises(NotFound):
        world.service(admin_of("a.go.th")).listing("b.go.th")
    with pytest.raises(NotFound):
        world.service(admin_of("a.go.th")).listing(recipient="boss@b.go.th")
    with pytest.raises(InvalidInput) as refused:
        world.service().listing(recipient="not an address")
    assert refused.value.field == "recipient"


def test_domain_admin_cannot_see_release_delete_or_teach_another_domains(world: World) -> None:
    b = world.keep("boss@b.go.th")
    admin_a = world.service(admin_of("a.go.th"))
    for attempt in (lambda: admin_a.show(b.id), lambda: admin_a.release(b.id), lambda: admin_a.delete(b.id),
                    lambda: admin_a.learn(b.id, spam=True)):
        with pytest.raises(NotFound):
            attempt()
    assert world.index.messages[b.id].recipients[0].state is State.HELD
    assert world.learner.learned == [] and world.audit.entries == []


def test_a_message_to_two_domains_shows_each_admin_its_own_recipients(world: World) -> None:
    both = world.keep("somchai@a.go.th", "boss@b.go.th")
    assert [r.address for r in world.service(admin_of("b.go.th")).get(both.id).recipients] == ["boss@b.go.th"]
    assert world.service(admin_of("b.go.th")).release(both.id) == ["boss@b.go.th"]
    states = {r.address: r.state for r in world.index.messages[both.id].recipients}
    assert states == {"somchai@a.go.th": State.HELD, "boss@b.go.th": State.RELEASE_REQUESTED}


def test_released_once_and_audited(world: World) -> None:
    held = world.keep("somchai@a.go.th", "malee@a.go.th")
    admin = world.service(admin_of("a.go.th"))
    assert admin.release(held.id, recipient="MALEE@a.go.th") == ["malee@a.go.th"]
    assert admin.release(held.id, recipient="malee@a.go.th") == []  # the second click changes nothing
    assert admin.release(held.id) == ["somchai@a.go.th"]
    assert admin.release(held.id) == []
    entries = world.audit.entries
    assert [(e.action, e.after["recipients"], e.domain) for e in entries] == [
        ("quarantine.release", ["malee@a.go.th"], "a.go.th"), ("quarantine.release", ["somchai@a.go.th"], "a.go.th")]
    with pytest.raises(NotFound):
        admin.release(held.id, recipient="nobody@a.go.th")


def test_deleted_is_never_released(world: World) -> None:
    held = world.keep("somchai@a.go.th")
    assert world.service().delete(held.id) == ["somchai@a.go.th"]
    assert world.service().release(held.id) == []
    assert world.index.messages[held.id].recipients[0].state is State.DELETED
    assert world.audit.actions() == ["quarantine.delete"]  # type: ignore[attr-defined]


def test_a_mail_user_sees_and_releases_only_their_own_row(world: World) -> None:
    held = world.keep("somchai@a.go.th", "malee@a.go.th")
    other = world.keep("boss@b.go.th")
    malee = world.user("malee@a.go.th")
    [listed] = malee.listing()
    assert listed.id == held.id and [r.address for r in listed.recipients] == ["malee@a.go.th"]
    assert malee.listing("b.go.th") == [listed]  # a domain asked for changes nothing: their own only
    with pytest.raises(NotFound):
        malee.show(other.id)
    assert malee.release(held.id) == ["malee@a.go.th"]
    with pytest.raises(NotFound):
        malee.release(held.id, recipient="somchai@a.go.th")
    assert {r.address: r.state for r in world.index.messages[held.id].recipients}["somchai@a.go.th"] is State.HELD


def test_show_gives_headers_and_text_never_html(world: World) -> None:
    held = world.keep("somchai@a.go.th")
    shown = world.service().show(held.id)
    assert shown.preview is not None
    assert ("Subject", "you won") in shown.preview.headers
    assert shown.preview.text == "Claim now"  # the script's text is not shown either
    world.files.files.clear()  # kept on another relay's machine
    assert world.service().show(held.id).preview is None


def test_teaching_rspamd_sends_the_kept_bytes(world: World) -> None:
    held = world.keep("somchai@a.go.th")
    world.service(admin_of("a.go.th")).learn(held.id, spam=False)
    assert world.learner.learned == [(False, MESSAGE)]
    assert world.audit.actions() == ["quarantine.learn_ham"]  # type: ignore[attr-defined]
    world.service().delete(held.id)  # no recipient holds it: its file is the relay's to remove
    with pytest.raises(NotFound):
        world.service().learn(held.id, spam=True)


def test_an_id_not_of_the_quarantines_form_is_not_found(world: World) -> None:
    with pytest.raises(NotFound):
        world.service().show("../../etc/passwd")


def test_a_deleted_accounts_quarantine_never_reaches_a_new_holder_of_the_address_and_a_rename_takes_it(
        tmp_path: Path) -> None:
    fakes = fake_backends(tmp_path)
    index, files = FakeQuarantine(), FakeHeldMessages()
    fakes.backends = dataclasses.replace(fakes.backends, quarantine=index, held_messages=files)
    world = World(index, files, FakeLearner(), fakes.backends, fakes.audit)
    fakes.add_domain("a.go.th")
    for local in ("director", "clerk", "neighbour"):
        fakes.account(f"{local}@a.go.th")
    old = world.keep("director@a.go.th", "neighbour@a.go.th", minutes=1)
    moving = world.keep("clerk@a.go.th", minutes=2)

    services = Services(fakes.backends, OPERATOR)
    services.accounts.delete("director@a.go.th")
    fakes.account("director@a.go.th")  # someone else, at the same address
    assert world.user("director@a.go.th").listing() == []
    with pytest.raises(NotFound):
        world.user("director@a.go.th").release(old.id)
    assert [h.id for h in world.user("neighbour@a.go.th").listing()] == [old.id], "the others' rows stay"

    services.lifecycle.rename("clerk@a.go.th", "registrar@a.go.th")
    assert world.user("clerk@a.go.th").listing() == []
    assert world.user("registrar@a.go.th").release(moving.id) == ["registrar@a.go.th"]
