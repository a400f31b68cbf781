"""aiosmtpd hooks: each gathers the facts for one SMTP step (in a worker thread when
they come from slapd or SQL) and answers with the core policy's decision."""

from __future__ import annotations

import asyncio
import base64
import email.utils
import hmac
import ipaddress
import logging
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from aiosmtpd.smtp import SMTP, AuthResult, Session
from aiosmtpd.smtp import Envelope as SmtpEnvelope

from mailgothai.core import dkim as canon
from mailgothai.core import policy as p
from mailgothai.core import sieve_mail
from mailgothai.core.addresses import normalize_address
from mailgothai.core.auth_results import without_own_results
from mailgothai.core.password_lifecycle import change_required_text
from mailgothai.core.scan_results import authentication_results, sender_authenticated, without_spam_headers
from mailgothai.core.sender_headers import SenderField, read_sender_fields
from mailgothai.core.spam import Verdict
from mailgothai.errors import InvalidInput, MailGoThaiError
from mailgothai.relay.auth import AuthUnavailable
from mailgothai.relay.context import RelayContext
from mailgothai.relay.inbound import InboundVerdict
from mailgothai.relay.lookup import cached_or_thread
from mailgothai.relay.metrics import answered
from mailgothai.relay.protection import Inbound, SpamState
from mailgothai.relay.rspamd import ScanRequest
from mailgothai.relay.spool import Envelope, Target, new_queue_id

T = TypeVar("T")
log = logging.getLogger("mailgothai.relay")
MAX_RECIPIENTS = 100
UNKNOWN_VERSION = "\0unknown"  # a session's entry version that no entry has: its next MAIL ends it


@dataclass
class Transaction:
    sender: str = ""
    auth_user: str | None = None
    owned: frozenset[str] = frozenset()
    dkim_domain: str | None = None  # a hosted domain unauthenticated mail claims: needs its signature
    size_limits: list[int] = field(default_factory=list)
    targets: dict[str, Target] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)  # local target -> entryCSN (quota grants)
    counted: int = 0  # recipients added to auth_user's hourly counter and not yet sent
    counted_hour: int = 0
    sieve: bool = False  # Sieve mail for auth_user (core/sieve_mail.py)
    spam: SpamState = field(default_factory=SpamState)  # inbound protection (relay/protection.py)


def _tx(envelope: SmtpEnvelope) -> Transaction:
    tx = getattr(envelope, "mgt", None)
    if tx is None:
        tx = Transaction()
        envelope.mgt = tx  # type: ignore[attr-defined]
    return tx


def is_loopback(peer: Any) -> bool:
    try:
        return ipaddress.ip_address(peer[0]).is_loopback
    except (TypeError, ValueError, IndexError):
        return False


def _client_ip(session: Session | None) -> str:
    peer: Any = session.peer if session is not None else None  # (host, port, ...) from the transport
    try:
        return str(peer[0])
    except (TypeError, IndexError):
        return "?"


def _session_of(server: SMTP) -> Session:
    """The session of a command being handled (aiosmtpd sets it when the connection opens)."""
    session = server.session
    if session is None:
        raise RuntimeError("an SMTP command outside a connection")
    return session


def _acts_for_sieve(session: Session) -> bool:
    """Logged in as the Sieve sender (stack/sieve_sendmail.py), not as the user itself."""
    return bool(session.authenticated) and bool(getattr(session, "mgt_sieve", False))


def _held_to(session: Session) -> str | None:
    """The account entry's version (entryCSN) a session's own login was checked against
    (set by RelayHandler._login); None for no login or the Sieve sender's."""
    version = getattr(session, "mgt_login_version", None) if session.authenticated else None
    return version if isinstance(version, str) else None


def _lists_owner(rcpt: str, targets: tuple[Target, ...]) -> str:
    """Whose own allow and block lists count for `rcpt`: its mailbox when it reaches one
    local mailbox (an alias, an alias domain's address), else the address itself."""
    local = [t.address for t in targets if t.local]
    return local[0] if len(local) == 1 else rcpt


def _verdict_fields(scanned: Inbound | None) -> dict[str, object]:
    """rspamd's verdict for the `accepted` log line (nothing when it was not asked)."""
    if scanned is None:
        return {}
    if scanned.scan is None or scanned.decision is None:
        return {"spam": "unscanned"}
    junk = scanned.decision.verdict is not Verdict.DELIVER
    return {"spam": "junk" if junk else "deliver", "score": scanned.scan.score}


def _size_param(options: list[str]) -> int:
    for option in options:
        name, _, value = option.partition("=")
        if name.upper() == "SIZE" and value.isdigit():
            return int(value)
    return 0


class RelayHandler:
    def __init__(self, ctx: RelayContext, listener: str) -> None:
        self.ctx = ctx
        self.listener = listener  # "mx" | "submission" | "smtps"
        self._giving_back: dict[str, set[asyncio.Task[None]]] = {}  # user -> refunds in flight
        self._finishing: set[asyncio.Task[Any]] = set()  # acceptances whose connection went meanwhile

    # ---- connection / EHLO / AUTH ----------------------------------------------------
    def auth_allowed(self, server: SMTP, session: Session) -> p.Reply | None:
        if self.listener == "mx":
            return p.reply(p.R.AUTH_NOT_HERE)
        if session.ssl is None and not (self.ctx.settings.relay_dev_mode and is_loopback(session.peer)):
            return p.reply(p.R.AUTH_NEEDS_TLS)
        return None

    async def handle_EHLO(self, server: SMTP, session: Session, envelope: SmtpEnvelope, hostname: str,
                          responses: list[str]) -> list[str]:
        session.host_name = hostname
        if self.auth_allowed(server, session) is not None:
            responses = [r for r in responses if not r.startswith("250-AUTH")]
        return responses

    async def auth_PLAIN(self, server: SMTP, args: list[str]) -> AuthResult:
        refused = self.auth_allowed(server, _session_of(server))
        if refused:
            await server.push(str(refused))
            return AuthResult(success=False, handled=True)
        if len(args) == 1:
            blob = await server.challenge_auth("")
            if not isinstance(blob, bytes):
                return AuthResult(success=False, handled=True)
        else:
            try:
                blob = base64.b64decode(args[1], validate=True)
            except ValueError:
                await server.push(str(p.reply(p.R.AUTH_BAD_BASE64)))
                return AuthResult(success=False, handled=True)
        parts = blob.split(b"\0")
        if len(parts) != 3:
            await server.push(str(p.reply(p.R.AUTH_BAD_PLAIN)))
            return AuthResult(success=False, handled=True)
        if parts[1] == sieve_mail.SIEVE_LOGIN.encode():
            return await self._sieve_login(server, parts[0], parts[2])
        return await self._login(server, parts[1], parts[2])

    async def auth_LOGIN(self, server: SMTP, args: list[str]) -> AuthResult:
        refused = self.auth_allowed(server, _session_of(server))
        if refused:
            await server.push(str(refused))
            return AuthResult(success=False, handled=True)
        if len(args) == 1:
            login = await server.challenge_auth(server.AuthLoginUsernameChallenge)
        else:
            try:
                login = base64.b64decode(args[1], validate=True)
            except ValueError:
                await server.push(str(p.reply(p.R.AUTH_BAD_BASE64)))
                return AuthResult(success=False, handled=True)
        if not isinstance(login, bytes):
            return AuthResult(success=False, handled=True)
        password = await server.challenge_auth(server.AuthLoginPasswordChallenge)
        if not isinstance(password, bytes):
            return AuthResult(success=False, handled=True)
        return await self._login(server, login, password)

    async def _login(self, server: SMTP, login: bytes, password: bytes) -> AuthResult:
        ip = _client_ip(server.session)
        try:
            outcome = await self.ctx.auth.verify(login, password, ip)
        except AuthUnavailable as exc:
            log.warning("AUTH: directory unavailable: %s", exc)
            self.ctx.metrics.auth_refused(p.R.AUTH_UNAVAILABLE)
            return AuthResult(success=False, handled=False, message=str(p.reply(p.R.AUTH_UNAVAILABLE)))
        if outcome.must_change:  # the right password, which must be changed first (issue 20)
            self.ctx.metrics.auth_refused(p.R.AUTH_MUST_CHANGE)
            log.info("AUTH refused from %s: the password must be changed first", ip)
            reply = p.reply(p.R.AUTH_MUST_CHANGE,
                            text=change_required_text(self.ctx.settings.password_change_url_effective))
            return AuthResult(success=False, handled=False, message=str(reply))
        if outcome.login is None:
            kind = p.R.AUTH_LOCKED if outcome.locked else p.R.AUTH_FAILED
            self.ctx.metrics.auth_refused(kind)
            log.info("AUTH failed from %s (%s)", ip, "locked" if outcome.locked else "bad credentials")
            return AuthResult(success=False, handled=False, message=str(p.reply(kind)))
        # The entry version AUTH read before slapd checked the credential, never after: what the
        # session is held to is then never newer than the password slapd verified (a change
        # made in between ends the session at its next MAIL, never lets it outlive the change)
        version = outcome.version if outcome.version is not None else UNKNOWN_VERSION
        _session_of(server).mgt_login_version = version  # type: ignore[attr-defined]
        return AuthResult(success=True, auth_data=outcome.login, message=str(p.reply(p.R.AUTH_OK)))

    def _login_holds(self, login: str, version: str) -> bool:
        """Directory reads (see `cached_or_thread`): whether a session that logged in as
        `login`, its credential checked against the entry's `version`, may go on sending:
        the account may still log in and its entry is unchanged. The relay never reads a
        password hash, so any modification of the entry (a new password, an app password
        revoked, a second factor turned on, a suspension, ...) ends the sessions that
        logged in before it, as it ends the AUTH cache's entries (relay/auth.py)."""
        return self.ctx.directory.login_version(login) == version

    def _end_login(self, session: Session, user: str, step: str) -> str:
        """The reply that ends a session whose login no longer holds; RelaySMTP closes it."""
        session.mgt_ended = True  # type: ignore[attr-defined]
        log.info("%s of %s from %s refused, session closed: the account changed since its AUTH",
                 step, user, _client_ip(session))
        return str(p.reply(p.R.LOGIN_ENDED))

    async def _sieve_login(self, server: SMTP, user_raw: bytes, secret: bytes) -> AuthResult:
        """Dovecot's Sieve mail (stack/sieve_sendmail.py) for the user in the authorization
        identity: only with the stack-made secret, only for an active account. Without
        the secret it is a wrong password like any other."""
        ip = _client_ip(server.session)
        expected = str(self.ctx.settings.sieve_submit_secret).encode()
        if not expected or not hmac.compare_digest(secret, expected):
            log.warning("AUTH as the Sieve sender failed from %s: wrong secret", ip)
            self.ctx.metrics.auth_refused(p.R.AUTH_FAILED)
            return AuthResult(success=False, handled=False, message=str(p.reply(p.R.AUTH_FAILED)))
        try:
            user = normalize_address(user_raw.decode("utf-8", "strict"), "user")
            owned = await cached_or_thread(self.ctx.directory.owned_addresses, user)
        except (InvalidInput, UnicodeDecodeError):
            owned = frozenset()
        except MailGoThaiError as exc:
            log.warning("AUTH: directory unavailable: %s", exc)
            return AuthResult(success=False, handled=False, message=str(p.reply(p.R.AUTH_UNAVAILABLE)))
        if not owned:  # no such account, or not active: nothing leaves in its name
            log.warning("AUTH as the Sieve sender from %s for %r refused: not an active account", ip, user_raw[:320])
            return AuthResult(success=False, handled=False, message=str(p.reply(p.R.AUTH_FAILED)))
        _session_of(server).mgt_sieve = True  # type: ignore[attr-defined]
        return AuthResult(success=True, auth_data=user, message=str(p.reply(p.R.AUTH_OK)))

    # ---- MAIL FROM --------------------------------------------------------------------
    @answered("mail")
    async def handle_MAIL(self, server: SMTP, session: Session, envelope: SmtpEnvelope, address: str,
                          options: list[str]) -> str:
        parsed = p.parse_envelope_address("" if address == "<>" else address, sender=True)
        if not parsed.ok:
            return str(parsed.reply)
        # what _login gave as auth_data: the login (aiosmtpd leaves the attribute untyped)
        auth_user: str | None = session.auth_data if session.authenticated else None
        sender = parsed.address
        sieve = _acts_for_sieve(session)
        held_to = _held_to(session)
        try:  # Sieve mail may have <> as its sender: the facts of the user's domain then
            holds, owned, domain = await cached_or_thread(self._mail_facts, auth_user,
                                                          (sender or auth_user or "") if sieve else sender, held_to)
        except MailGoThaiError as exc:
            log.warning("MAIL FROM: directory unavailable: %s", exc)
            return str(p.reply(p.R.TEMPORARY_FAILURE))
        if not holds:
            assert auth_user is not None
            return self._end_login(session, auth_user, "MAIL FROM")
        if sieve:
            decision = sieve_mail.decide_sender(sender, owned=owned,
                                                user_domain_active=domain is not None and domain.active)
        else:
            decision = p.decide_sender(sender, auth_user=auth_user, owned=owned,
                                       sender_domain_hosted=domain is not None,
                                       sender_domain_active=domain is not None and domain.active)
        if not decision.ok:
            return str(decision.reply)
        tx = _tx(envelope)
        tx.sender, tx.auth_user, tx.owned, tx.sieve = sender, auth_user, owned, sieve
        if p.needs_dkim_proof(sender, auth_user=auth_user, sender_domain_hosted=domain is not None):
            tx.dkim_domain = p.domain_of(sender)
        if auth_user is not None and domain is not None:
            tx.size_limits.append(domain.max_message_size)
        too_big = p.check_size(_size_param(options), min([x for x in tx.size_limits if x] or [0]))
        if too_big:
            return str(too_big)
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return str(decision.reply)

    def _mail_facts(self, auth_user: str | None, sender: str,
                    held_to: str | None) -> tuple[bool, frozenset[str], Any]:
        """Whether the session's login still holds (`held_to`: its version, see
        `_login_holds`; None: nothing to check), then `_sender_facts`: one hop, the same
        cached reads of the user's entry."""
        if auth_user and held_to is not None and not self._login_holds(auth_user, held_to):
            return False, frozenset(), None
        return (True, *self._sender_facts(auth_user, sender))

    def _sender_facts(self, auth_user: str | None, sender: str) -> tuple[frozenset[str], Any]:
        owned = self.ctx.directory.owned_addresses(auth_user) if auth_user else frozenset()
        domain = self.ctx.directory.domain(p.domain_of(sender)) if sender else None
        return owned, domain

    # ---- RCPT TO ------------------------------------------------------------------------
    @answered("rcpt")
    async def handle_RCPT(self, server: SMTP, session: Session, envelope: SmtpEnvelope, address: str,
                          options: list[str]) -> str:
        tx = _tx(envelope)
        parsed = p.parse_envelope_address(address, sender=False)
        if not parsed.ok:
            return str(parsed.reply)
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return str(p.reply(p.R.TOO_MANY_RECIPIENTS))
        rcpt = parsed.address
        size = _size_param(envelope.mail_options)
        try:
            expansion, domain = await cached_or_thread(self._recipient_facts, rcpt)
            facts = expansion.facts
            if facts.hosted and facts.targets:
                full = [t.address for t in expansion.targets if t.local and not await self.ctx.quota.has_room(
                    t.address, size, expansion.versions.get(t.address, ""))]
                facts = p.RecipientFacts(**{**facts.__dict__, "over_quota": tuple(full)})
        except MailGoThaiError as exc:
            log.warning("RCPT TO %s: lookup failed: %s", rcpt, exc)
            return str(p.reply(p.R.TEMPORARY_FAILURE))
        decision = p.decide_recipient(facts, authenticated=tx.auth_user is not None)
        if not decision.ok:
            return str(decision.reply)
        if domain is not None:
            too_big = p.check_size(size, domain.max_message_size)
            if too_big:
                return str(too_big)
        if tx.auth_user is None and domain is not None and self.ctx.protection is not None:
            try:  # the recipient's spam policy and lists (issue 18)
                refused = await self.ctx.protection.at_rcpt(tx.spam, tx.sender, domain.alias_of or domain.name,
                                                            _lists_owner(rcpt, expansion.targets))
            except MailGoThaiError as exc:
                log.warning("RCPT TO %s: spam policy unavailable: %s", rcpt, exc)
                return str(p.reply(p.R.TEMPORARY_FAILURE))
            if refused:
                return str(refused)
        if tx.auth_user is not None:
            refused = await self._count_recipient(tx)
            if refused:
                return str(refused)
        if domain is not None:
            tx.size_limits.append(domain.max_message_size)
        for target in expansion.targets:
            tx.targets.setdefault(target.address, target)
        for address, version in expansion.versions.items():
            tx.versions.setdefault(address, version)
        envelope.rcpt_tos.append(rcpt)
        envelope.rcpt_options.extend(options)
        return str(decision.reply)

    def _recipient_facts(self, rcpt: str) -> tuple[Any, Any]:
        """Directory reads (see `cached_or_thread`): the recipient's expansion and, if hosted, its domain."""
        expansion = self.ctx.router.expand(rcpt)
        hosted = expansion.facts.hosted and rcpt != p.POSTMASTER  # the bare <postmaster> has no domain
        domain = self.ctx.directory.domain(p.domain_of(rcpt)) if hosted else None
        return expansion, domain

    def _add_to_hour(self, user: str, hour: int) -> tuple[int | None, int]:
        """Blocking (directory, SQL): the hour's count with this recipient, and the limit."""
        domain = self.ctx.directory.domain(p.domain_of(user))
        limit = domain.hourly_send_limit if domain else 0
        return self.ctx.counters.add(user, hour, 1, limit), limit

    async def _count_recipient(self, tx: Transaction) -> p.Reply | None:
        assert tx.auth_user is not None
        refunds = self._giving_back.get(tx.auth_user)
        if refunds:  # a transaction this user just gave up: its recipients come back first
            await asyncio.wait(set(refunds))
        hour = tx.counted_hour if tx.counted else int(time.time() // 3600)
        try:
            total, limit = await asyncio.to_thread(self._add_to_hour, tx.auth_user, hour)
        except MailGoThaiError as exc:
            log.warning("hourly counter unavailable: %s", exc)
            return p.reply(p.R.TEMPORARY_FAILURE)
        refused = p.check_hourly(total, limit)
        if refused is None:
            tx.counted, tx.counted_hour = tx.counted + 1, hour
        return refused

    def transaction_over(self, envelope: SmtpEnvelope) -> None:
        """The transaction ends (RSET, EHLO, the end of DATA, a closed connection): the
        recipients it counted go back to the hourly counter unless its message was
        accepted, so a client that gives up or is refused at DATA does not spend its limit."""
        tx = getattr(envelope, "mgt", None)
        if tx is None or not tx.counted or tx.auth_user is None:
            return
        user, hour, count = tx.auth_user, tx.counted_hour, tx.counted
        tx.counted = 0

        def give_back() -> None:
            try:
                self.ctx.counters.add(user, hour, -count, 0)
            except MailGoThaiError as exc:
                log.warning("could not give back %d recipients of %s to the hourly counter: %s", count, user, exc)

        task = asyncio.get_running_loop().create_task(asyncio.to_thread(give_back))
        refunds = self._giving_back.setdefault(user, set())
        refunds.add(task)

        def done(t: asyncio.Task[None]) -> None:
            refunds.discard(t)
            if not refunds and self._giving_back.get(user) is refunds:
                del self._giving_back[user]

        task.add_done_callback(done)

    # ---- DATA -----------------------------------------------------------------------------
    @answered("data")
    async def handle_DATA(self, server: SMTP, session: Session, envelope: SmtpEnvelope) -> str:
        tx = _tx(envelope)
        if not tx.targets:
            return str(p.reply(p.R.NO_VALID_RECIPIENTS))
        held_to = _held_to(session) if tx.auth_user is not None and not tx.sieve else None
        if held_to is not None:  # the login may have ended while the message came in
            assert tx.auth_user is not None
            try:
                holds = await cached_or_thread(self._login_holds, tx.auth_user, held_to)
            except MailGoThaiError as exc:
                log.warning("DATA: directory unavailable: %s", exc)
                return str(p.reply(p.R.TEMPORARY_FAILURE))
            if not holds:
                return self._end_login(session, tx.auth_user, "DATA")
        data = canon.to_crlf(envelope.original_content or b"")
        too_big = p.check_size(len(data), min([x for x in tx.size_limits if x] or [0]))
        if too_big:
            return str(too_big)
        try:  # the size is known now: never accept what a local mailbox cannot take
            checked = _size_param(envelope.mail_options)  # RCPT asked with the declared SIZE=
            for target in tx.targets.values():
                if target.local and len(data) > checked and not await self.ctx.quota.has_room(
                        target.address, len(data), tx.versions.get(target.address, "")):
                    return str(p.reply(p.R.OVER_QUOTA, address=target.original))
        except MailGoThaiError as exc:
            log.warning("DATA: quota check failed: %s", exc)
            return str(p.reply(p.R.TEMPORARY_FAILURE))
        ip = _client_ip(session)
        parsed = canon.parse(data)
        fields = read_sender_fields(parsed.headers)
        own_id = self.ctx.settings.relay_hostname
        queue_id = new_queue_id()
        protection = self.ctx.protection
        scanned: Inbound | None = None
        if tx.auth_user is None:
            refused, scanned, added = await self._inbound(session, envelope, data, parsed, fields, queue_id)
            if refused:
                return str(refused)
            data = without_own_results(data, own_id)  # after the DKIM checks, which saw the message as sent
            data = without_spam_headers(data)  # nobody outside may forge or hide the verdict
        else:
            # Sieve mail, signed for the user's domain: a redirect keeps the original From:
            # (checked when it came in); a vacation reply's is the user's, as at submission
            if tx.sieve and sieve_mail.is_redirect(parsed.headers, tx.owned):
                refused = None
            elif tx.sieve and tx.auth_user:  # a vacation reply; or system mail, from no-reply@/postmaster@
                refused = await self.sender_fields_claims(
                    fields, sieve_mail.senders(parsed.headers, tx.owned, tx.auth_user))
            else:
                refused = await self.sender_fields_claims(fields, tx.owned)
            if refused:
                if tx.sieve:
                    log.warning("DATA: Sieve mail for %s refused: %s", tx.auth_user, refused)
                return str(refused)
            stripped = without_own_results(data, own_id)
            if stripped is not data:
                data, parsed = stripped, canon.parse(stripped)
            if tx.sieve and tx.auth_user:
                signer = p.domain_of(tx.auth_user)
            else:
                signer = p.domain_of(next(a for f in fields if f.header == "From:" for a in f.addresses))
            if protection is not None and self.ctx.settings.scan_submission and not tx.sieve:
                refused = await protection.submission(data, self._scan_request(session, envelope, queue_id))
                if refused:
                    return str(refused)
            added = self.ctx.sign(data, signer, parsed)
        message = self._received(session, tx, queue_id) + added + data
        spooled = Envelope(queue_id, tx.sender, tuple(tx.targets.values()), time.time(),
                           auth_user=tx.auth_user or "", client=ip,
                           sender_verified=not tx.auth_user and scanned is not None and scanned.scan is not None
                           and sender_authenticated(scanned.scan, tx.sender))
        if scanned is not None and scanned.keep and scanned.scan is not None and protection is not None:
            try:  # kept, not delivered; durable before the 250 (a closed connection cannot cut it short)
                held = await self._unsplit(protection.keep(spooled, message, scanned.scan, tx.spam))
            except (OSError, MailGoThaiError) as exc:
                log.error("DATA %s: quarantine write failed: %s", queue_id, exc)
                return str(p.reply(p.R.TEMPORARY_FAILURE))
            log.info("DATA %s: quarantined as %s (score %.2f)", queue_id, held, scanned.scan.score)
            return str(p.reply(p.R.QUEUED, queue_id=queue_id))
        if not await self._unsplit(self._accept(envelope, spooled, message, scanned)):
            return str(p.reply(p.R.TEMPORARY_FAILURE))
        return str(p.reply(p.R.QUEUED, queue_id=queue_id))

    async def _accept(self, envelope: SmtpEnvelope, spooled: Envelope, message: bytes,
                      scanned: Inbound | None) -> bool:
        """Store the message (durable), keep its recipients counted, hand it to the queue:
        one step, run by `_unsplit`. False (nothing stored, the recipients given back)
        when the spool cannot be written."""
        tx = _tx(envelope)
        # sent: the recipients stay counted, even when the connection goes during the write
        # (its transaction_over then finds nothing to give back)
        counted, tx.counted = tx.counted, 0
        try:
            await asyncio.to_thread(self.ctx.spool.store, spooled, message)
        except BaseException as exc:
            tx.counted = counted  # not sent: given back
            self.transaction_over(envelope)
            if not isinstance(exc, OSError):
                raise
            log.error("spool write failed: %s", exc)
            return False
        self.ctx.quota.hold(spooled.queue_id, [t.address for t in spooled.targets if t.local], len(message))
        self.ctx.queue.submit(spooled, message)
        self.ctx.log_accepted(spooled, len(message), self.listener, **_verdict_fields(scanned))
        return True

    async def _unsplit(self, step: Coroutine[Any, Any, T]) -> T:
        """Run `step` (the spool write and what must follow it, or the quarantine write)
        to its end even when the client closes the connection meanwhile: aiosmtpd then
        cancels the DATA handler, and a write that went on in its thread without what
        follows it would leave the message on disk, unsubmitted, its recipients given back
        to the hourly counter. A message that reached the spool is delivered, as the 250
        the client did not wait for promised (a client that sends it again makes a
        duplicate: SMTP's own risk, RFC 1047)."""
        task = asyncio.get_running_loop().create_task(step)
        self._finishing.add(task)
        task.add_done_callback(self._finishing.discard)
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            await asyncio.wait({task})  # its outcome stands; the client is gone
            if not task.cancelled() and task.exception() is not None:
                log.error("DATA after the client closed: %s", task.exception())
            raise

    async def _inbound(self, session: Session, envelope: SmtpEnvelope, data: bytes, parsed: canon.ParsedMessage,
                       fields: tuple[SenderField, ...], queue_id: str) -> tuple[p.Reply | None, Inbound | None, bytes]:
        """Mail without AUTH: the hosted-domain rule, then rspamd (protection = 1). The
        refusal, if any; rspamd's verdict; the fields to add (Authentication-Results, X-Spam).

        The relay's own DKIM check decides the hosted-domain rule. While rspamd scans (and
        verifies DKIM and SPF for the Authentication-Results), it runs only for a message
        that claims a hosted domain, and pyspf not at all: else every message's signatures
        and SPF would be checked twice, with their DNS lookups."""
        tx, protection, own_id = _tx(envelope), self.ctx.protection, self.ctx.settings.relay_hostname
        ip, helo = _client_ip(session), session.host_name or ""
        verdict = InboundVerdict((), "none")
        claims_hosted = protection is None or tx.dkim_domain is not None
        if not claims_hosted:
            try:
                claims_hosted = bool(await cached_or_thread(self._hosted, p.claimed_domains(fields)))
            except MailGoThaiError as exc:
                log.warning("DATA: directory unavailable: %s", exc)
                return p.reply(p.R.TEMPORARY_FAILURE), None, b""
        if claims_hosted:
            verdict = await asyncio.to_thread(self.ctx.inbound.check, data, ip, helo, tx.sender, parsed,
                                              spf=protection is None)
            refused = await self._unauthenticated_claims(tx, fields, verdict.passed_domains())
        else:  # nothing hosted claimed: only unreadable sender fields are refused
            refused = p.decide_unauthenticated_claims(None, fields, frozenset(), frozenset())
        if refused or protection is None:
            return refused, None, b"" if refused else verdict.header(own_id, tx.sender)
        scanned = await protection.inbound(data, self._scan_request(session, envelope, queue_id), tx.spam)
        if scanned.reply is not None:
            return scanned.reply, scanned, b""
        if scanned.scan is not None:
            return None, scanned, authentication_results(own_id, scanned.scan, tx.sender) + scanned.headers
        # unscanned (rspamd_unavailable = accept): the relay's own DKIM and SPF results
        verdict = await asyncio.to_thread(self.ctx.inbound.check, data, ip, helo, tx.sender, parsed)
        return None, scanned, verdict.header(own_id, tx.sender) + scanned.headers

    async def _unauthenticated_claims(self, tx: Transaction, fields: tuple[SenderField, ...],
                                      signers: frozenset[str]) -> p.Reply | None:
        names = p.claimed_domains(fields) | signers | ({tx.dkim_domain} if tx.dkim_domain else frozenset())
        try:
            hosted = await cached_or_thread(self._hosted, names)
        except MailGoThaiError as exc:
            log.warning("DATA: directory unavailable: %s", exc)
            return p.reply(p.R.TEMPORARY_FAILURE)
        return p.decide_unauthenticated_claims(tx.dkim_domain, fields, hosted, signers)

    async def sender_fields_claims(self, fields: tuple[SenderField, ...], owned: frozenset[str]) -> p.Reply | None:
        """Authenticated mail's From:/Sender: rule (`p.decide_sender_fields`): the user's
        own addresses, and no hosted domain shown that is not the user's; the directory is
        asked only about shown domains that are not the user's (for nearly every message,
        none)."""
        try:
            return await self.sender_fields_refusal(fields, owned)
        except MailGoThaiError as exc:
            log.warning("DATA: directory unavailable: %s", exc)
            return p.reply(p.R.TEMPORARY_FAILURE)

    async def sender_fields_refusal(self, fields: tuple[SenderField, ...], owned: frozenset[str]) -> p.Reply | None:
        """`sender_fields_claims`, raising MailGoThaiError when the directory cannot answer."""
        shown = p.shown_to_check(fields, owned)
        hosted = await cached_or_thread(self._hosted, shown) if shown else frozenset()
        return p.decide_sender_fields(fields, owned, hosted)

    def _hosted(self, names: frozenset[str]) -> frozenset[str]:
        """Directory reads (see `cached_or_thread`): those of `names` that are hosted here."""
        return frozenset(n for n in names if self.ctx.directory.domain(n) is not None)

    def _scan_request(self, session: Session, envelope: SmtpEnvelope, queue_id: str) -> ScanRequest:
        tx = _tx(envelope)
        return ScanRequest(sender=tx.sender, recipients=list(envelope.rcpt_tos), ip=_client_ip(session),
                           helo=session.host_name or "", user=tx.auth_user or "", queue_id=queue_id)

    def _received(self, session: Session, tx: Transaction, queue_id: str) -> bytes:
        peer = _client_ip(session)
        helo = "".join(c for c in (session.host_name or "unknown") if c.isprintable() and c not in "()")[:100]
        proto = "ESMTP" + ("S" if session.ssl is not None else "") + ("A" if tx.auth_user else "")
        return (f"Received: from {helo} ([{peer}])\r\n\tby {self.ctx.settings.relay_hostname} (MailGoThai) "
                f"with {proto} id {queue_id};\r\n\t{email.utils.format_datetime(datetime.now(UTC))}\r\n").encode()
