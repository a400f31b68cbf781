"""TOTP secrets in SQL, sealed by services/totp.py before they get here: administrators'
(table `admin_totp`, migration 0003) and mail users' (`user_totp`, migration 0011, the
same columns keyed by the address: store/second_factor.py). `use_step` is the replay guard: a time step is
taken at most once, and only one later than the last taken, in one conditional update."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, update

from mailgothai.store.db import Store
from mailgothai.store.times import aware
from mailgothai.store.web_state import AdminTotp

Model = Any  # AdminTotp, or second_factor.UserTotp: the same columns, the key named differently


@dataclass(frozen=True)
class TotpRecord:
    login: str
    secret_sealed: bytes
    enabled: bool
    last_step: int  # the last time step used
    created_at: datetime | None = None  # when this secret was made


class TotpRecords:
    def __init__(self, store: Store, model: Model = AdminTotp) -> None:
        self._store = store
        self._model = model
        self._key = "admin_login" if model is AdminTotp else "login"

    def get(self, login: str) -> TotpRecord | None:
        with self._store.session() as session:
            row = session.get(self._model, login)
            if row is None:
                return None
            return TotpRecord(login, row.secret_encrypted, row.enabled, row.last_step, aware(row.created_at))

    def put_pending(self, login: str, sealed: bytes, at: datetime) -> bool:
        """A new secret, not yet in force, replacing a pending one; False (nothing written)
        if one is already in force."""
        with self._store.session() as session:
            row = session.get(self._model, login)
            if row is None:
                session.add(self._model(**{self._key: login}, secret_encrypted=sealed, enabled=False, last_step=0,
                                        created_at=at))
                return True
            if row.enabled:
                return False
            row.secret_encrypted, row.last_step, row.created_at = sealed, 0, at
            return True

    def use_step(self, login: str, step: int, *, enable: bool = False) -> bool:
        """Take time step `step` if it is later than the last one taken (and turn the
        secret on, if asked); False if it was not (a replayed or older code)."""
        values: dict[str, object] = {"last_step": step}
        if enable:
            values["enabled"] = True
        model = self._model
        query = update(model).where(getattr(model, self._key) == login, model.last_step < step).values(values)
        with self._store.session() as session:
            done = cast(CursorResult[Any], session.execute(query))
            return bool(done.rowcount)

    def remove(self, login: str) -> bool:
        with self._store.session() as session:
            row = session.get(self._model, login)
            if row is None:
                return False
            session.delete(row)
            return True
