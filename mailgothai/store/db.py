"""The SQL store: an engine, sessions, and migrations. SQLAlchemy errors become StoreError here."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from mailgothai.errors import StoreError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")  # a confirmed change survives a crash
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _owner_only_sqlite(database: Path) -> None:
    """The SQLite file made 0600 before the engine opens it: it holds web sessions with
    their CSRF tokens, token hashes, the audit log and import rows. SQLite gives the -wal
    and -shm files it makes the main file's mode (whatever the umask); existing ones, from
    an older version, are made owner-only here too."""
    database.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.close(os.open(database, os.O_CREAT | os.O_RDWR, 0o600))
    for path in (database, database.with_name(database.name + "-wal"), database.with_name(database.name + "-shm")):
        if path.exists() and path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    def __repr__(self) -> str:
        return f"Store({self.engine.url.render_as_string(hide_password=True)!r})"

    @classmethod
    def open(cls, url: str) -> Store:
        try:
            parsed = make_url(url)
            if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
                _owner_only_sqlite(Path(parsed.database))
            engine = create_engine(parsed, pool_pre_ping=True)
        except (ArgumentError, SQLAlchemyError, OSError, ImportError) as exc:
            raise StoreError(f"cannot open the SQL store {url.split('@')[-1]!r}: {exc}") from exc
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
        return cls(engine)

    def migrate(self) -> None:
        """Bring the schema to the newest migration (does nothing when it is there)."""
        from alembic import command  # here, not at the top: every CLI command would pay ~0.3 s for it
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        try:
            with self.engine.begin() as connection:
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        except SQLAlchemyError as exc:
            raise StoreError(f"migrating the SQL store failed: {exc}") from exc

    def current_revision(self) -> str | None:
        from alembic.runtime.migration import MigrationContext

        try:
            with self.engine.connect() as connection:
                return MigrationContext.configure(connection).get_current_revision()
        except SQLAlchemyError as exc:
            raise StoreError(f"the SQL store is unreachable: {exc}") from exc

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits when the block ends and rolls back if it raises."""
        try:
            with self._sessions.begin() as session:
                yield session
        except SQLAlchemyError as exc:
            raise StoreError(f"SQL store: {exc}") from exc

    def ping(self) -> str:
        """One trivial query; the engine's name (sqlite, postgresql) if it answered."""
        with self.session() as session:
            session.execute(text("SELECT 1"))
        return self.engine.dialect.name

    def close(self) -> None:
        self.engine.dispose()
