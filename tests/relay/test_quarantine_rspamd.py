"""The quarantine with the real rspamd, Redis and clamd (stack/protection.py), started for
this module beside the session's stack on free ports (issue 18): GTUBE over the MX to a
domain whose policy quarantines instead of rejecting is kept (250), listed, and released
once into the INBOX with the kept bytes; a kept message learned as spam through the
service counts in rspamd's statistics, learning it again is no error, and a wrong
controller password is the service's error, not a pass."""

from __future__ import annotations

import contextlib
import json
import smtplib
import time
import urllib.request
import uuid
from collections.abc import Iterator

import pytest
from conftest import free_port

from mailgothai.core.models import Role
from mailgothai.core.quarantine import State
from mailgothai.core.spam import Scan, SpamPolicy
from mailgothai.errors import NotFound
from mailgothai.relay.quarantine import Quarantine
from mailgothai.relay.spool import Envelope, Target, new_queue_id
from mailgothai.rspamd_controller import SpamLearningError
from mailgothai.services.actor import Actor
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.registry import Services
from mailgothai.settings import Secret, Settings
from mailgothai.stack import protection
from mailgothai.store.db import Store
from mailgothai.store.quarantine import QuarantineIndex
from mailgothai.store.quarantine_files import QuarantineFiles
from mailgothai.store.spam_policy import SpamPolicies
from relay.conftest import MailDomain, relay_with
from relay.helpers import PASSWORD, fetch_all, message, mx, wait_for, wait_for_messages

pytestmark = pytest.mark.sql

OPERATOR = Actor("test-operator", Role.SUPERADMIN, origin="test")
GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
WORDS = ("lottery winner claim prize transfer account urgent verify bank password immediately "
         "congratulations selected million reward deposit confirm details").split()


@pytest.fixture(scope="module")
def scanning(stack: Settings) -> Iterator[Settings]:
    """rspamd, Redis and clamd of the session's data directory, on ports of their own (the
    session's own, if its stack runs them already)."""
    if stack.protection:
        yield stack
        return
    settings = stack.replace(protection=1, rspamd_port=free_port(), rspamd_controller_port=free_port(),
                             redis_port=free_port())
    if len(str(settings.rspamd_password)) < 8:  # a stack made before protection: its passwords here
        settings = settings.replace(rspamd_password=Secret(uuid.uuid4().hex),
                                    redis_password=Secret(uuid.uuid4().hex))
    protection.start(settings)
    try:
        yield settings
    finally:
        protection.stop(settings)


def learned(settings: Settings) -> int:
    request = urllib.request.Request(f"http://{settings.host}:{settings.rspamd_controller_port}/stat",
                                     headers={"Password": str(settings.rspamd_password)})
    with urllib.request.urlopen(request, timeout=20) as reply:  # noqa: S310 (loopback)
        return int(json.load(reply)["learned"])


def keep(settings: Settings, to: str) -> str:
    body = " ".join(WORDS[(i * 7) % len(WORDS)] + str(i) for i in range(200))
    data = (f"From: Prize <win@lottery.example>\r\nTo: {to}\r\nSubject: claim {uuid.uuid4().hex}\r\n"
            f"Message-ID: <{uuid.uuid4().hex}@lottery.example>\r\n\r\n{body}\r\n").encode()
    store = Store.open(settings.sql_url_effective)
    try:
        quarantine = Quarantine(QuarantineFiles(settings.quarantine_path), QuarantineIndex(store),
                                settings.relay_hostname)
        return quarantine.keep(Envelope(new_queue_id(), "win@lottery.example", (Target(to, to, True),), time.time()),
                               data, Scan("no action", 10.0, {}), to.split("@")[1], 30)
    finally:
        store.close()


def test_a_kept_message_learned_as_spam_counts_in_rspamd(scanning: Settings) -> None:
    held_id = keep(scanning, f"somchai@l{uuid.uuid4().hex[:8]}.go.th")
    before = learned(scanning)
    with Services.open(scanning, OPERATOR) as services:
        services.quarantine.learn(held_id, spam=True)
        assert learned(scanning) == before + 1
        # again: no error (rspamd answers 208 once its learn cache in Redis holds the message;
        # just after the first lesson it may count it a second time)
        services.quarantine.learn(held_id, spam=True)
        actions = [e.action for e in services.backends.audit.query(object_id=held_id)]
    assert actions == ["quarantine.learn_spam", "quarantine.learn_spam"]


def test_a_wrong_controller_password_is_an_error(scanning: Settings) -> None:
    held_id = keep(scanning, f"malee@l{uuid.uuid4().hex[:8]}.go.th")
    with Services.open(scanning.replace(rspamd_password=Secret("not-the-password")), OPERATOR) as services:
        with pytest.raises(SpamLearningError):
            services.quarantine.learn(held_id, spam=False)


def test_gtube_over_the_mx_is_kept_then_released_once(scanning: Settings, relay: Settings,
                                                      mail_domain: MailDomain) -> None:
    user = mail_domain.account("somchai")
    store = Store.open(relay.sql_url_effective)
    try:
        SpamPolicies(store).set_policy(mail_domain.name, SpamPolicy(reject=None, greylisting=False), "test")
    finally:
        store.close()
    sent = message("offers@sender.example", user, "a kept offer", f"{GTUBE}\r\n")
    scanned = {name: getattr(scanning, name) for name in ("protection", "rspamd_port", "rspamd_controller_port",
                                                          "redis_port", "rspamd_password", "redis_password")}
    with relay_with(relay, **scanned) as protected:
        with contextlib.closing(mx(protected)) as client:
            assert client.sendmail("offers@sender.example", [user], sent) == {}  # 250: kept
            with contextlib.suppress(smtplib.SMTPException):
                client.quit()
        services = mail_domain.services
        [held] = services.quarantine.listing(mail_domain.name)
        assert (held.sender, held.subject, held.recipients[0].address) == ("offers@sender.example",
                                                                          "a kept offer", user)
        kept = (protected.quarantine_path / held.id).read_bytes()
        assert kept.endswith(sent) and fetch_all(protected, user) == []
        assert services.quarantine.release(held.id) == [user]
        assert services.quarantine.release(held.id) == []
        [arrived] = wait_for_messages(protected, user)
        assert arrived.endswith(kept)  # the kept bytes (with the relay's own fields), unchanged
        wait_for(lambda: services.quarantine.get(held.id).recipients[0].state is State.RELEASED or None,
                 "the release marked")
        # nothing more comes: another release to the same mailbox arrives, alone
        second = message("offers@sender.example", user, "second offer", f"{GTUBE}\r\n")
        with contextlib.closing(mx(protected)) as client:
            assert client.sendmail("offers@sender.example", [user], second) == {}
            with contextlib.suppress(smtplib.SMTPException):
                client.quit()
        [other] = [h for h in services.quarantine.listing(mail_domain.name) if h.id != held.id]
        services.quarantine.release(other.id)
        everything = wait_for_messages(protected, user, 2)
        assert len(everything) == 2 and sum(m.endswith(kept) for m in everything) == 1


def test_gtube_to_an_alias_domain_is_kept_for_its_domains_admins(scanning: Settings, relay: Settings,
                                                                 mail_domain: MailDomain) -> None:
    """Mail to user@NEW, an alias domain of D, is D's: kept over the MX under D (the RCPT TO
    as written shown beside the mailbox), listed and released by D's admin, audited under D;
    another domain's admin does not find it."""
    tag = uuid.uuid4().hex[:8]
    alias, elsewhere = f"n{tag}.go.th", f"e{tag}.go.th"
    services = mail_domain.services
    user = mail_domain.account("malee")
    services.domain_routing.add_alias_domain(alias, mail_domain.name)
    services.domains.add(elsewhere, description="another agency")
    for login, domain in ((f"da-{tag}", mail_domain.name), (f"other-{tag}", elsewhere)):
        services.admins.add(login, Role.DOMAIN_ADMIN, PasswordInput(plain=PASSWORD), domains=(domain,))
    store = Store.open(relay.sql_url_effective)
    try:
        SpamPolicies(store).set_policy(mail_domain.name, SpamPolicy(reject=None, greylisting=False), "test")
    finally:
        store.close()
    typed = f"malee@{alias}"
    sent = message("offers@sender.example", typed, f"to the alias domain {tag}", f"{GTUBE}\r\n")
    scanned = {name: getattr(scanning, name) for name in ("protection", "rspamd_port", "rspamd_controller_port",
                                                          "redis_port", "rspamd_password", "redis_password")}
    with relay_with(relay, **scanned) as protected:
        with contextlib.closing(mx(protected)) as client:
            assert client.sendmail("offers@sender.example", [typed], sent) == {}  # 250: kept
            with contextlib.suppress(smtplib.SMTPException):
                client.quit()
        admin = Actor(f"da-{tag}", Role.DOMAIN_ADMIN, frozenset({mail_domain.name}), origin="test")
        with Services.open(protected, admin) as theirs:
            [held] = theirs.quarantine.listing(mail_domain.name)
            [recipient] = held.recipients
            assert (recipient.address, recipient.original, recipient.domain) == (user, typed, mail_domain.name)
            assert theirs.quarantine.get(held.id).id == held.id
            other = Actor(f"other-{tag}", Role.DOMAIN_ADMIN, frozenset({elsewhere}), origin="test")
            with Services.open(protected, other) as strangers:
                assert strangers.quarantine.listing() == []
                with pytest.raises(NotFound):
                    strangers.quarantine.get(held.id)
            assert theirs.quarantine.release(held.id) == [user]
        [arrived] = wait_for_messages(protected, user)
        assert arrived.endswith(sent)
        [record] = services.backends.audit.query(object_id=held.id)
        assert (record.action, record.domain) == ("quarantine.release", mail_domain.name)
