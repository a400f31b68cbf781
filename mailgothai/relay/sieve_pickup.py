"""Sieve mail from the pickup directory: what Dovecot's Sieve sends on this node
(out-of-office replies, redirects) without holding the delivery, as Postfix's
sendmail/postdrop/pickup do.

Dovecot's sendmail script (deploy/dovecot/sieve-pickup.sh inside DATA/dovecot/sieve/sendmail),
run by Dovecot's mail user, writes each message with its envelope into
SPOOL/sieve-pickup/tmp, fsyncs it, renames it into new/ and fsyncs that (the file: one JSON
line {"user", "sender", "recipients"}, then the message; its name is the queue id the relay
gives it). The relay polls new/ and takes each file through the rules of the
authenticated Sieve path (relay/handler.py `_sieve_login` and after): the user an active
hosted account, the envelope sender one of the user's addresses or <>
(core/sieve_mail.py), each recipient as for an authenticated user, the size limits, the
user's hourly limit counted, DKIM-signed for the user's domain, into the fsynced spool.
Then the file is removed.

Trust: only the mail user (and the relay's user) may write into tmp/ and new/ (the stack
user's with the mail group, 1730 and 1770: stack/sieve.py ensure_pickup), so a file there is the
mail user's word, as a login with the secret only the mail user reads is. The relay checks
the directory (its own, not writable by others) and each file (a regular file of
`mail_uid`, one link, not writable by group or others) and sets aside what fails.

- refused (no such active account, a sender not the user's, a From: not the user's on mail that
  is not a redirect (core/sieve_mail.py), every recipient refused, too
  big): dropped and logged;
- over the user's hourly limit: an out-of-office reply is dropped (as the SMTP path does);
  a redirect waits in new/ and is tried again every minute (or at SIGUSR1) until the hour
  allows: never lost, never sent past the limit;
- the directory or SQL store unavailable, the spool not writable: tried again later;
- malformed, or not the mail user's: moved to bad/ and logged; never stops the relay.

Never twice: the spool holds the message (fsynced) before the file is removed (and new/
fsynced); a relay that dies between the two finds at its start the file whose queue id is
already in the spool and removes it (`settle`, before the queue delivers anything).
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import os
import re
import stat
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from mailgothai.core import dkim as canon
from mailgothai.core import policy as p
from mailgothai.core import sieve_mail
from mailgothai.core.addresses import normalize_address
from mailgothai.core.auth_results import without_own_results
from mailgothai.core.sender_headers import read_sender_fields
from mailgothai.durable import fsync_dir
from mailgothai.errors import InvalidInput, MailGoThaiError
from mailgothai.relay.context import RelayContext
from mailgothai.relay.handler import MAX_RECIPIENTS, RelayHandler
from mailgothai.relay.lookup import cached_or_thread
from mailgothai.relay.spool import Envelope, Target

log = logging.getLogger("mailgothai.relay")

POLL_SECONDS = 0.2  # how often new/ is looked at (a listing of an empty directory)
RETRY_SECONDS = 60.0  # a redirect over the hourly limit: tried again (or at SIGUSR1)
TEMPORARY_RETRY_SECONDS = 10.0  # the directory, the SQL store or the spool failed
STALE_TMP_SECONDS = 3600.0  # a file in tmp/ this old was never finished (its writer died)
NAME = re.compile(r"[0-9a-f]{22}")  # spool.new_queue_id()'s form
AUTO_REPLY = re.compile(rb"^Auto-Submitted:[ \t]*auto-replied", re.IGNORECASE | re.MULTILINE)
LISTENER = "sieve-pickup"  # in the relay's log, where a listener's name goes


class Malformed(Exception):
    """A file in the pickup directory that is not Sieve mail of the mail user: set aside."""


@dataclass(frozen=True)
class Picked:
    name: str
    user: str
    sender: str
    recipients: tuple[str, ...]
    message: bytes

    @property
    def auto_reply(self) -> bool:
        head = self.message.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
        return AUTO_REPLY.search(head) is not None


def read_file(path: Path, mail_uid: int) -> Picked:
    """The file at `path` checked and parsed, or Malformed saying why."""
    if not NAME.fullmatch(path.name):
        raise Malformed("not a name the Sieve client gives")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise Malformed(f"cannot be opened as a file: {exc.strerror}") from exc
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise Malformed("not a regular file")
        if st.st_uid != mail_uid:
            raise Malformed(f"owned by uid {st.st_uid}, not by the mail user ({mail_uid})")
        if st.st_nlink != 1 or st.st_mode & 0o022:
            raise Malformed("linked elsewhere, or writable by others than its owner")
        with os.fdopen(os.dup(fd), "rb") as fh:
            data = fh.read()
    finally:
        os.close(fd)
    line, newline, message = data.partition(b"\n")
    try:
        head = json.loads(line)
        user, sender, recipients = head["user"], head["sender"], head["recipients"]
        if not (isinstance(user, str) and isinstance(sender, str) and isinstance(recipients, list)
                and recipients and all(isinstance(r, str) for r in recipients)):
            raise ValueError("envelope fields of the wrong kind")
        if len(recipients) > MAX_RECIPIENTS or not newline or not message:
            raise ValueError("no message, or too many recipients")
        user = normalize_address(user, "user")
    except (ValueError, KeyError, TypeError, InvalidInput) as exc:
        raise Malformed(f"not an envelope and a message: {exc}") from exc
    checked = [p.parse_envelope_address(a, sender=False) for a in recipients]
    from_ = p.parse_envelope_address(sender, sender=True)
    if not from_.ok or not all(c.ok for c in checked):
        raise Malformed("an envelope address the relay would refuse")
    return Picked(path.name, user, from_.address, tuple(dict.fromkeys(c.address for c in checked)), message)


class SievePickup:
    def __init__(self, ctx: RelayContext) -> None:
        self.ctx = ctx
        self.root = ctx.settings.sieve_pickup_dir
        self.new, self.tmp, self.bad = self.root / "new", self.root / "tmp", self.root / "bad"
        self.rules = RelayHandler(ctx, "submission")  # the authenticated path's lookups
        self.waiting: dict[str, float] = {}  # file name -> monotonic time of its next try
        self.spooled: set[str] = set()  # spooled, but the file could not be removed: never again
        self._distrusted = False
        self._swept = 0.0

    # ---- the directory ----------------------------------------------------------------
    def trusted(self) -> bool:
        """new/ exists, is the relay's (or root's) and no one but it and the mail group
        may write to it; else nothing there is taken (logged once)."""
        try:
            st = os.lstat(self.new)
        except FileNotFoundError:
            return False
        fine = (stat.S_ISDIR(st.st_mode) and st.st_uid in (os.geteuid(), 0) and not st.st_mode & 0o002
                and (not st.st_mode & 0o020 or st.st_gid == self.ctx.settings.mail_gid))
        if not fine and not self._distrusted:
            log.error("Sieve pickup %s: not the relay's, or writable by others (mode %o): nothing taken from it",
                      self.new, stat.S_IMODE(st.st_mode))
        self._distrusted = not fine
        return fine

    def settle(self) -> int:
        """At start, before the queue delivers: files already in the spool (the relay died
        after spooling them, before removing them) are removed, never sent twice."""
        if not self.trusted():
            return 0
        settled = 0
        for name in os.listdir(self.new):
            if NAME.fullmatch(name) and self.ctx.spool.msg_path(name).exists():
                (self.new / name).unlink(missing_ok=True)
                settled += 1
        if settled:
            fsync_dir(self.new)
            log.info("Sieve pickup: %d file(s) already spooled before a stop, removed", settled)
        return settled

    def wake(self) -> None:
        """Everything waiting is tried at the next look (SIGUSR1: a limit may have been raised)."""
        self.waiting.clear()

    def _sweep_tmp(self) -> None:
        now = time.time()
        for entry in os.scandir(self.tmp):
            try:
                if now - entry.stat(follow_symlinks=False).st_mtime > STALE_TMP_SECONDS:
                    os.unlink(entry.path)
                    log.warning("Sieve pickup: unfinished %s removed", entry.name)
            except OSError:
                continue

    def set_aside(self, name: str, why: str) -> None:
        try:
            os.replace(self.new / name, self.bad / name)
        except OSError as exc:
            log.error("Sieve pickup: %r could not be set aside (%s); removed", name, exc)
            (self.new / name).unlink(missing_ok=True)
        log.error("Sieve pickup: %r set aside in %s: %s", name, self.bad, why)

    def _done(self, name: str) -> None:
        (self.new / name).unlink(missing_ok=True)
        fsync_dir(self.new)
        self.waiting.pop(name, None)

    def _forget(self, name: str) -> None:
        """The file of a spooled message removed; if it cannot be, it stays marked in
        `spooled` (and `settle` removes it at the next start): never taken again."""
        try:
            self._done(name)
        except OSError as exc:
            log.error("Sieve pickup %s: spooled, but the file could not be removed: %s", name, exc)
            return
        self.spooled.discard(name)

    # ---- the loop -----------------------------------------------------------------------
    async def run(self) -> None:
        while True:
            try:
                await self.drain()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the relay goes on; the file stays for the next look
                log.exception("Sieve pickup: unexpected failure; trying again")
                await asyncio.sleep(RETRY_SECONDS / 6)
            await asyncio.sleep(POLL_SECONDS)

    async def drain(self) -> int:
        """Takes every file of new/ that is due; returns how many left the directory."""
        if not self.trusted():
            return 0
        if time.monotonic() - self._swept > 600:
            self._swept = time.monotonic()
            await asyncio.to_thread(self._sweep_tmp)
        names = sorted(os.listdir(self.new))
        now = time.monotonic()
        taken = 0
        for name in names:
            if self.waiting.get(name, 0.0) > now:
                continue
            if await self.take(name):
                taken += 1
        for name in set(self.waiting) - set(names):
            del self.waiting[name]
        return taken

    async def take(self, name: str) -> bool:
        """One file: spooled, dropped or set aside (True: it left new/), or kept to try again."""
        if name in self.spooled:
            await asyncio.to_thread(self._forget, name)
            return False
        try:
            picked = await asyncio.to_thread(read_file, self.new / name, self.ctx.settings.mail_uid)
        except FileNotFoundError:
            return False
        except Malformed as exc:
            await asyncio.to_thread(self.set_aside, name, str(exc))
            return True
        try:
            outcome: str | bool | None = await self._send(picked)  # False: a temporary failure
        except MailGoThaiError as exc:
            log.warning("Sieve pickup %s for %s: %s; trying again later", name, picked.user, exc)
            outcome = False
        except OSError as exc:
            log.error("Sieve pickup %s: spool write failed: %s; trying again later", name, exc)
            outcome = False
        if outcome is None:
            self.waiting[name] = time.monotonic() + RETRY_SECONDS
            return False
        if outcome is False:
            self.waiting[name] = time.monotonic() + TEMPORARY_RETRY_SECONDS
            return False
        if outcome:  # "" was spooled (and the file removed then)
            log.warning("Sieve pickup %s for %s dropped: %s", name, picked.user, outcome)
            await asyncio.to_thread(self._done, name)
        return True

    async def _send(self, picked: Picked) -> str | None:
        """The empty string when spooled, else the reason it was dropped; None: over the
        hourly limit, to try again later (raises MailGoThaiError/OSError for a temporary
        failure)."""
        ctx, user = self.ctx, picked.user
        owned = await cached_or_thread(ctx.directory.owned_addresses, user)
        if not owned:  # no such account, or not active: nothing leaves in its name
            return "not an active account"
        _, domain = await cached_or_thread(self.rules._sender_facts, user, picked.sender or user)
        decision = sieve_mail.decide_sender(picked.sender, owned=owned,
                                            user_domain_active=domain is not None and domain.active)
        if not decision.ok:
            return str(decision.reply)
        data = canon.to_crlf(picked.message)
        headers = canon.parse(data).headers
        if not sieve_mail.is_redirect(headers, owned):  # Sieve's own mail (a vacation reply): the user's From:
            refused = await self.rules.sender_fields_refusal(read_sender_fields(headers), owned)
            if refused:
                return str(refused)
        limits = [domain.max_message_size] if domain is not None else []
        targets: dict[str, Target] = {}
        versions: dict[str, str] = {}
        for rcpt in picked.recipients:
            expansion, rdomain = await cached_or_thread(self.rules._recipient_facts, rcpt)
            facts = expansion.facts
            if facts.hosted and facts.targets:
                full = [t.address for t in expansion.targets if t.local and not await ctx.quota.has_room(
                    t.address, len(data), expansion.versions.get(t.address, ""))]
                facts = p.RecipientFacts(**{**facts.__dict__, "over_quota": tuple(full)})
            decision = p.decide_recipient(facts, authenticated=True)
            if not decision.ok:
                log.warning("Sieve pickup %s for %s: recipient %s refused: %s", picked.name, user, rcpt,
                            decision.reply)
                continue
            if rdomain is not None:
                limits.append(rdomain.max_message_size)
            for target in expansion.targets:
                targets.setdefault(target.address, target)
            versions.update({a: v for a, v in expansion.versions.items() if a not in versions})
        if not targets:
            return "no recipient the relay takes"
        too_big = p.check_size(len(data), min([x for x in limits if x] or [0]))
        if too_big:
            return str(too_big)
        count = len(picked.recipients)
        hour = int(time.time() // 3600)
        total, limit = await asyncio.to_thread(self._count, user, hour, count)
        over = p.check_hourly(total, limit)
        if over:
            if picked.auto_reply:
                return f"out-of-office reply over the hourly limit: {over}"
            log.info("Sieve pickup %s for %s: redirect over the hourly limit (%s); it waits", picked.name, user, over)
            return None
        try:
            message = await asyncio.to_thread(self._signed, user, data, picked.name)
            spooled = Envelope(picked.name, picked.sender, tuple(targets.values()), time.time(), auth_user=user,
                               client=LISTENER)
            await asyncio.to_thread(ctx.spool.store, spooled, message)
        except BaseException:
            await asyncio.to_thread(self._give_back, user, hour, count)
            raise
        self.spooled.add(picked.name)
        await asyncio.to_thread(self._forget, picked.name)  # before the queue may deliver it
        ctx.quota.hold(spooled.queue_id, [t.address for t in spooled.targets if t.local], len(message))
        ctx.queue.submit(spooled, message)
        ctx.log_accepted(spooled, len(message), LISTENER)
        return ""

    def _count(self, user: str, hour: int, count: int) -> tuple[int | None, int]:
        domain = self.ctx.directory.domain(p.domain_of(user))
        limit = domain.hourly_send_limit if domain else 0
        return self.ctx.counters.add(user, hour, count, limit), limit

    def _give_back(self, user: str, hour: int, count: int) -> None:
        try:
            self.ctx.counters.add(user, hour, -count, 0)
        except MailGoThaiError as exc:
            log.warning("could not give back %d recipients of %s to the hourly counter: %s", count, user, exc)

    def _signed(self, user: str, data: bytes, queue_id: str) -> bytes:
        """The message as the authenticated path spools it: our own Authentication-Results
        removed, DKIM-signed for the user's domain, a Received field first."""
        data = without_own_results(data, self.ctx.settings.relay_hostname)
        added = self.ctx.sign(data, p.domain_of(user), canon.parse(data))
        received = (f"Received: from sieve.localhost (Sieve pickup)\r\n\tby {self.ctx.settings.relay_hostname} "
                    f"(MailGoThai) with local id {queue_id};\r\n\t{email.utils.format_datetime(datetime.now(UTC))}\r\n")
        return received.encode() + added + data
