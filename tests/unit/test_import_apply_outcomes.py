"""A chunk's rows written one at a time: after one of them fails, every other row keeps
its own outcome (issue 16: the outcomes were paired with the rows by position, so one
failure shifted them and the wrong users' Dovecot auth cache was flushed, while the
updated users kept a stale cached password)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest

from mailgothai.errors import DirectoryError
from mailgothai.services.import_apply import Applier, Item
from mailgothai.store.jobs import Outcome, RowRecord, RowState


def _update(row: int, email: str) -> Item:
    return Item(RowRecord(row=row, email=email, domain="a.go.th", quota=0, action="update",
                          state=RowState.PLANNED, column="", reason="", data=None))


def test_one_failed_row_does_not_shift_the_others_outcomes() -> None:
    flushed: list[str] = []
    finished: list[Outcome] = []
    backends = SimpleNamespace(doveadm=SimpleNamespace(flush_auth_cache=flushed.extend))
    jobs = SimpleNamespace(set_state=lambda *args: None, finish_rows=lambda job, outcomes: finished.extend(outcomes))
    journal = SimpleNamespace(append=lambda rows: list(rows))
    applier = Applier(backends, jobs, 1, actor="t", origin="test", journal=journal)  # type: ignore[arg-type]
    items = [_update(1, "first@a.go.th"), _update(2, "second@a.go.th"), _update(3, "third@a.go.th")]

    def write_one(item: Item) -> Outcome:
        if item.record.row == 1:
            raise DirectoryError("the directory went away")
        state = RowState.APPLIED if item.record.row == 3 else RowState.FAILED
        return Outcome(item.record.row, state, "email" if state is RowState.FAILED else "", "refused")

    applier._write_one = write_one  # type: ignore[method-assign]
    with ThreadPoolExecutor(2) as writers, pytest.raises(DirectoryError):
        applier._write(items, writers)
    assert [(o.row, o.state) for o in finished] == [(2, RowState.FAILED), (3, RowState.APPLIED)]
    assert flushed == ["third@a.go.th"]  # only the row that was updated, not the one that failed
