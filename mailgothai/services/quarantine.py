"""The quarantine (issue 18), for people: list, show, release, delete, teach rspamd.

Who reaches what, decided here and nowhere else: an operator every domain's quarantine; a
domain admin its own domains' only (another domain's message is "not found", as
everywhere); a mail user in the web's self-service the rows of their own address only
(`of_user`). A release moves held recipients to release_requested (a conditional UPDATE:
two clicks release once); the relay that keeps the message spools it and marks it released
(relay/quarantine.py). Every change is in the audit log."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mailgothai.core.addresses import normalize_address, normalize_domain, split_address
from mailgothai.core.models import Role
from mailgothai.core.quarantine import MESSAGE_ID, Held, Preview, Recipient, State, preview
from mailgothai.errors import MailGoThaiError, NotFound
from mailgothai.services import ports
from mailgothai.services.base import SelfServable

MAX_PAGE = 500


@dataclass(frozen=True)
class Shown:
    held: Held
    preview: Preview | None  # None: the message's bytes are not on this machine (or gone)


class QuarantineService(SelfServable):
    @property
    def _index(self) -> ports.Quarantined:
        if self.b.quarantine is None:
            raise MailGoThaiError("the quarantine is not available with these backends")
        return self.b.quarantine

    # ---- reading -----------------------------------------------------------------------
    def listing(self, domain: str | None = None, *, recipient: str | None = None, limit: int = 100,
             offset: int = 0) -> list[Held]:
        """Newest first: one domain's, one recipient's, or all the actor may see (each
        message with the recipients the actor reaches)."""
        limit, offset = max(1, min(int(limit), MAX_PAGE)), max(0, int(offset))
        if self._self_email is not None:
            return self._index.page(address=self._self_email, limit=limit, offset=offset)
        if recipient is not None:
            address = normalize_address(recipient, "recipient")
            self.actor.require_domain(split_address(address)[1])
            return self._index.page(address=address, limit=limit, offset=offset)
        if domain is not None:
            name = normalize_domain(domain)
            self.actor.require_domain(name)
            return self._index.page(domains=[name], limit=limit, offset=offset)
        domains = None if self.actor.role is Role.SUPERADMIN else sorted(self.actor.domains)
        return self._index.page(domains=domains, limit=limit, offset=offset)

    def get(self, message_id: str) -> Held:
        """The message as far as the actor may see it (a mail user: their own row only)."""
        held = self._index.get(message_id) if MESSAGE_ID.fullmatch(message_id or "") else None
        if held is None:
            raise NotFound("quarantined message", message_id)
        if self._self_email is not None:
            mine = tuple(r for r in held.recipients if r.address == self._self_email)
        else:
            mine = tuple(r for r in held.recipients if self.actor.may_manage(r.domain))
        if not mine:  # another domain's (or another user's): as if there were none
            raise NotFound("quarantined message", message_id)
        return held.only(mine)

    def show(self, message_id: str) -> Shown:
        held = self.get(message_id)
        data = self._bytes(held)
        return Shown(held, preview(data) if data is not None else None)

    def _bytes(self, held: Held) -> bytes | None:
        if self.b.held_messages is None or not held.waiting:
            return None
        return self.b.held_messages.read(held.id)

    # ---- changing ----------------------------------------------------------------------
    def release(self, message_id: str, recipient: str | None = None) -> list[str]:
        """Ask the message's relay to deliver it to these held recipients (all the actor
        reaches, or one); returns those asked now (none: released or deleted already)."""
        return self._move(message_id, recipient, State.RELEASE_REQUESTED, "quarantine.release")

    def delete(self, message_id: str, recipient: str | None = None) -> list[str]:
        """Never deliver it to these held recipients; the relay removes the file once no
        recipient holds it. Returns those deleted now."""
        return self._move(message_id, recipient, State.DELETED, "quarantine.delete")

    def _move(self, message_id: str, recipient: str | None, to: State, action: str) -> list[str]:
        held = self.get(message_id)
        chosen = self._chosen(held, recipient)
        moved = set(self._index.move(held.id, [r.id for r in chosen], to, self.actor.login))
        addresses = [r.address for r in chosen if r.id in moved]
        if addresses:
            domain = next(r.domain for r in chosen if r.id in moved)
            self.audit(action, "quarantine", held.id, domain,
                       before={"state": State.HELD.value}, after={"state": to.value, "recipients": addresses,
                                                                  "sender": held.sender, "subject": held.subject})
            if to is State.RELEASE_REQUESTED:
                self.b.tell_relay()  # a relay of this machine looks at once (else within a second)
        return addresses

    @staticmethod
    def _chosen(held: Held, recipient: str | None) -> Sequence[Recipient]:
        if recipient is None:
            return held.recipients
        address = normalize_address(recipient, "recipient")
        chosen = [r for r in held.recipients if address in (r.address, r.original)]
        if not chosen:
            raise NotFound("quarantined recipient", address)
        return chosen

    def learn(self, message_id: str, spam: bool) -> None:
        """Teach rspamd this message as spam or as ham (its bytes must be on this machine)."""
        held = self.get(message_id)
        data = self._bytes(held)
        if data is None:
            raise NotFound("quarantined message content", held.id)
        if self.b.spam_learner is None:
            raise MailGoThaiError("rspamd's controller is not available with these backends")
        self.b.spam_learner.learn(spam, data)
        self.audit("quarantine.learn_spam" if spam else "quarantine.learn_ham", "quarantine", held.id,
                   held.recipients[0].domain,
                   after={"sender": held.sender, "subject": held.subject, "score": held.score})
