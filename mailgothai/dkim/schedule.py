"""The DKIM key schedule: a pending key becomes the signing key of its algorithm when its
`switch_after` has passed, and the key it replaces is retired after `dkim_retire_delay`.
The relay applies what is due at each refresh of its key table (`advance`); the DKIM
service switches at once when asked (`switch`)."""

from __future__ import annotations

from datetime import datetime, timedelta

from mailgothai.dkim.keys import KeyFiles
from mailgothai.store.relay_state import DkimKey, DkimKeyRecords, KeyState


def advance(records: DkimKeyRecords, files: KeyFiles, now: datetime, retire_delay: int) -> list[DkimKey]:
    """Apply switches and retirements that are due; returns the keys that changed.
    Called by the relay when it refreshes its signing table (no actor: the schedule
    was set by whoever rotated)."""
    changed: list[DkimKey] = []
    for key in records.all_live():
        if key.state is KeyState.PENDING and key.switch_after is not None and key.switch_after <= now:
            changed.extend(switch(records, key, now, retire_delay))
        elif key.state is KeyState.RETIRING and key.retire_after is not None and key.retire_after <= now:
            if records.set_state(key.domain, key.selector, KeyState.RETIRED, expect=KeyState.RETIRING,
                                 retired_at=now):
                files.remove(key.domain, key.selector)
                changed.append(key)
    return changed


def switch(records: DkimKeyRecords, new: DkimKey, now: datetime, retire_delay: int) -> list[DkimKey]:
    """Make `new` the signing key of its algorithm; the one it replaces starts retiring."""
    if not records.set_state(new.domain, new.selector, KeyState.ACTIVE, expect=KeyState.PENDING,
                             activated_at=now):
        return []
    changed = [new]
    for old in records.for_domain(new.domain):
        if old.algorithm == new.algorithm and old.state is KeyState.ACTIVE and old.selector != new.selector:
            records.set_state(old.domain, old.selector, KeyState.RETIRING, expect=KeyState.ACTIVE,
                              retire_after=now + timedelta(seconds=retire_delay))
            changed.append(old)
    return changed
