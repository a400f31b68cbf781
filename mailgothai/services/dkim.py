"""DKIM keys of a domain: generate, rotate with overlap, switch, retire.

Life of a key: `pending` (record shown for publishing, not signing) → `active`
(signing) → `retiring` (replaced; its record stays published so mail already signed
still verifies) → `retired` (private key deleted; the record may be removed).

- `generate`: the domain's first key of an algorithm; active at once (nothing was
  signed before, so nothing can break), record shown for publishing.
- `rotate`: a new pending key; the current one keeps signing. The switch happens on
  `activate` (the admin confirms the record is published) or by itself once
  `switch_after` has passed (the relay applies due switches, see `dkim/schedule.advance`).
- on the switch the old key becomes `retiring` with `retire_after`; `retire` (or the
  relay, once that time has passed) retires it and deletes its private key.

Operators reach every domain, domain admins only their own (others: NotFound). Each
change is audited and a relay running from this data directory is told to reload its
keys at once (the CLI, the web and the API all come through here).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from mailgothai.core.addresses import normalize_domain
from mailgothai.core.dkim import SELECTOR, dns_name, split_txt
from mailgothai.core.reasons import Term, Why
from mailgothai.dkim.keys import KeyFiles, generate
from mailgothai.dkim.schedule import switch
from mailgothai.errors import AlreadyExists, InvalidInput, NotFound
from mailgothai.services.base import Service
from mailgothai.store.relay_state import DkimKey, DkimKeyRecords, KeyState

ALGORITHMS = ("rsa", "ed25519")
MAX_SWITCH_AFTER = 365 * 86400  # seconds: a rotation that waits longer than a year is a mistake


@dataclass(frozen=True)
class DnsRecord:
    """What to publish: name, type and the TXT text (also split in ≤255-char strings)."""

    name: str
    text: str

    @property
    def zone_line(self) -> str:
        quoted = " ".join(f'"{part}"' for part in split_txt(self.text))
        return f"{self.name}. IN TXT ( {quoted} )"


def record_of(key: DkimKey) -> DnsRecord:
    return DnsRecord(dns_name(key.selector, key.domain), key.public_record)


def _now() -> datetime:
    return datetime.now(UTC)


def _algorithm(text: str) -> str:
    value = text.strip().lower()
    if value not in ALGORITHMS:
        raise InvalidInput("algorithm", Why.NOT_A_KEY_TYPE(value=repr(text)))
    return value


def _selector(text: str | None, algorithm: str, now: datetime) -> str:
    if not text:
        return f"mgt{now:%Y%m%d}{'e' if algorithm == 'ed25519' else 'r'}{secrets.token_hex(2)}"
    value = text.strip().lower()
    if not SELECTOR.match(value):
        raise InvalidInput("selector", Why.SELECTOR_SHAPE())
    return value


class DkimService(Service):
    @property
    def _records(self) -> DkimKeyRecords:
        return DkimKeyRecords(self.b.store)

    @property
    def _files(self) -> KeyFiles:
        return KeyFiles(self.b.settings.dkim_key_dir)

    def _domain(self, name: str) -> str:
        domain = normalize_domain(name)
        alias = self.b.domains.find_alias(domain)
        if alias is not None:  # an alias domain (issue 17) signs mail sent as its addresses with keys of its own
            self.actor.require_domain(alias.target)
            return domain
        self.actor.require_domain(domain)
        self.b.domains.get(domain)  # NotFound if not hosted
        return domain

    def list(self, domain: str) -> list[DkimKey]:
        return self._records.for_domain(self._domain(domain))

    def get(self, domain: str, selector: str) -> DkimKey:
        name = self._domain(domain)
        key = self._records.get(name, selector.strip().lower())
        if key is None:
            raise NotFound("DKIM key", f"{selector} of {name}")
        return key

    def record(self, domain: str, selector: str) -> DnsRecord:
        return record_of(self.get(domain, selector))

    def generate(self, domain: str, algorithm: str = "rsa", selector: str | None = None) -> DkimKey:
        """The domain's first key of this algorithm, signing at once."""
        name, alg = self._domain(domain), _algorithm(algorithm)
        live = [k for k in self._records.for_domain(name) if k.algorithm == alg and k.state is not KeyState.RETIRED]
        if live:
            raise AlreadyExists("DKIM key", f"{alg} of {name}", "rotate it instead")
        now = _now()
        return self._create(name, alg, _selector(selector, alg, now), KeyState.ACTIVE, now,
                            activated_at=now, action="dkim.generate")

    def rotate(self, domain: str, algorithm: str = "rsa", selector: str | None = None,
               switch_after: int | None = None) -> DkimKey:
        """A new pending key; the current one signs until the switch (`activate`, or
        `switch_after` seconds from now, default the settings' dkim_switch_delay)."""
        name, alg = self._domain(domain), _algorithm(algorithm)
        keys = [k for k in self._records.for_domain(name) if k.algorithm == alg]
        if not any(k.state is KeyState.ACTIVE for k in keys):
            raise InvalidInput("algorithm", Why.NO_KEY_TO_ROTATE(domain=name, algorithm=alg))
        if any(k.state is KeyState.PENDING for k in keys):
            raise AlreadyExists("DKIM key", f"pending {alg} key of {name}", "activate or retire it first")
        delay = self.b.settings.dkim_switch_delay if switch_after is None else switch_after
        if delay < 0:
            raise InvalidInput("switch_after", Why.NEGATIVE())
        if delay > MAX_SWITCH_AFTER:  # far past it the date overflows (10**12 seconds)
            raise InvalidInput("switch_after", Why.OUT_OF_RANGE(low=0, high=MAX_SWITCH_AFTER))
        now = _now()
        return self._create(name, alg, _selector(selector, alg, now), KeyState.PENDING, now,
                            switch_after=now + timedelta(seconds=delay), action="dkim.rotate")

    def activate(self, domain: str, selector: str) -> DkimKey:
        """The admin confirms the new record is published: the pending key signs from now."""
        key = self.get(domain, selector)
        if key.state is not KeyState.PENDING:
            raise InvalidInput("selector", Why.KEY_NOT_PENDING(selector=key.selector, state=Term(key.state.value)))
        switch(self._records, key, _now(), self.b.settings.dkim_retire_delay)
        after = self.get(domain, selector)
        self.audit("dkim.activate", "dkim_key", f"{key.selector}._domainkey.{key.domain}", key.domain,
                   before=key, after=after)
        self.b.tell_relay()
        return after

    def retire(self, domain: str, selector: str) -> DkimKey:
        """Stop publishing an old (retiring) or abandoned (pending) key; its private key is deleted."""
        key = self.get(domain, selector)
        if key.state not in (KeyState.RETIRING, KeyState.PENDING):
            raise InvalidInput("selector", Why.KEY_NOT_RETIRABLE(selector=key.selector, state=Term(key.state.value)))
        self._records.set_state(key.domain, key.selector, KeyState.RETIRED, expect=key.state, retired_at=_now())
        self._files.remove(key.domain, key.selector)
        after = self.get(domain, selector)
        self.audit("dkim.retire", "dkim_key", f"{key.selector}._domainkey.{key.domain}", key.domain,
                   before=key, after=after)
        self.b.tell_relay()
        return after

    def _create(self, domain: str, algorithm: str, selector: str, state: KeyState, now: datetime,
                action: str, **times: datetime) -> DkimKey:
        if self._records.get(domain, selector) is not None:
            raise AlreadyExists("DKIM selector", f"{selector} of {domain}")
        pair = generate(algorithm)
        self._files.save(domain, selector, pair)
        key = DkimKey(domain, selector, algorithm, state, pair.record, now, **times)
        try:
            self._records.add(key)
        except BaseException:
            self._files.remove(domain, selector)
            raise
        self.audit(action, "dkim_key", f"{selector}._domainkey.{domain}", domain, after=key)
        self.b.tell_relay()
        return key
