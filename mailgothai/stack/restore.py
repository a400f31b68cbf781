"""`mailgothai restore DIR --data-dir NEW`: a whole service from a backup (stack/backup.py).

The backup is verified first (every check of `backup verify`), and NEW must not exist or
be empty: nothing is changed otherwise. Then, into NEW:
- the settings: the backup's settings file with data_dir NEW; the mailbox root, the spool,
  the quarantine and the TLS files are NEW's own (a restore never writes where the old
  service kept anything); MAILGOTHAI_* variables override the backup's values (e.g. other
  ports: several providers' cn=config names each other's) and are written into NEW's file;
- the directory: a fresh cn=config made by this version's own code for NEW's paths
  (`slapd.initialise`; the backup's config.ldif names the old paths and is kept for
  reference only), then `slapadd -q` of data.ldif, which keeps every entryUUID: each
  mailbox (MAILBOXES/XX/ENTRYUUID) belongs to its account again;
- the SQL store: the SQLite file copied, or `pg_restore` into the database
  MAILGOTHAI_SQL_URL names, which must have no tables (last, in one transaction);
- the DKIM keys, the certificate, the quarantine's and import jobs' files and the mail (mtimes kept: a
  Maildir message's mtime is its arrival date), owned by the mail user.
A failure half-way removes what was written into NEW. Then `mailgothai --data-dir NEW
stack up` starts the service (and brings the directory's configuration up to date).
"""

from __future__ import annotations

import os
import shutil
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mailgothai.core.reasons import Why
from mailgothai.errors import InvalidInput, StackError
from mailgothai.settings import Settings, load_settings, save_settings
from mailgothai.stack import backup_manifest as fmt
from mailgothai.stack import slapd
from mailgothai.stack.backup import pg_tool, run_pg_tool, sql_kind
from mailgothai.stack.backup_manifest import Manifest
from mailgothai.stack.process import run_tool

# Settings naming places of the old service: a restore puts these under NEW (empty = default).
RESET_PATHS = ("mailbox_root", "relay_spool_dir", "quarantine_dir", "tls_cert_file", "tls_key_file")


@dataclass(frozen=True)
class RestoreResult:
    settings: Settings
    manifest: Manifest
    reset: tuple[str, ...]  # settings that named the old service's places, now NEW's defaults


def _empty_or_absent(path: Path) -> bool:
    if not path.exists() and not path.is_symlink():
        return True
    return path.is_dir() and not path.is_symlink() and not any(path.iterdir())


def restored_settings(backup: Path, target: Settings) -> tuple[Settings, tuple[str, ...]]:
    """The backup's settings, living in target.data_dir; its SQL URL from `target`'s
    (the environment's MAILGOTHAI_SQL_URL) when the backup holds a PostgreSQL dump."""
    saved = backup / fmt.SETTINGS_FILE
    values = tomllib.loads(saved.read_text(encoding="utf-8")) if saved.is_file() else {}
    reset = tuple(name for name in RESET_PATHS if values.get(name))
    environ = {k: v for k, v in os.environ.items() if k != "MAILGOTHAI_DATA_DIR"}
    settings = load_settings(data_dir=target.data_dir, config=saved if saved.is_file() else None,
                             environ=environ)
    return settings.replace(**{name: "" for name in RESET_PATHS}, sql_url=target.sql_url), reset


def restore_full(backup: Path, target: Settings, progress: Callable[[str], None] = lambda _: None) -> RestoreResult:
    """Build a new service in target.data_dir from the backup at `backup` (see the module)."""
    new = target.data_dir
    if not _empty_or_absent(new):
        raise InvalidInput("data_dir", Why.RESTORE_TARGET_NOT_EMPTY(path=str(new)))
    progress("verifying the backup")
    checked = fmt.verify(backup, pg_restore=_pg_restore_or_default())
    if not checked.ok or checked.manifest is None:
        raise InvalidInput("backup", Why.BACKUP_UNUSABLE(path=str(backup), problems="; ".join(checked.problems[:10])))
    manifest = checked.manifest
    if manifest.sql == "sqlite" and target.sql_url and sql_kind(target.sql_url) != "sqlite":
        raise InvalidInput("sql_url", Why.RESTORE_SQL_KIND(kind="SQLite", target=sql_kind(target.sql_url)))
    if manifest.sql == "postgresql":
        if not target.sql_url or sql_kind(target.sql_url) != "postgresql":
            raise InvalidInput("sql_url", Why.RESTORE_SQL_KIND(kind="PostgreSQL",
                                                                target=target.sql_url or "SQLite"))
        _require_empty_database(target.sql_url)
    settings, reset = restored_settings(backup, target)
    existed = new.exists()
    new.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        os.chmod(new, 0o700)
        save_settings(settings)
        progress("directory (slapadd -q)")
        for node in slapd.nodes(settings):
            slapd.initialise(settings, node, skeleton=False)
        run_tool([slapd.tool("slapadd"), "-q", "-n1", "-F", str(slapd.paths_for(settings, 1).config_dir),
                  "-l", str(backup / fmt.DATA_LDIF)], what="slapadd of the backup's data.ldif")
        progress("files")
        if manifest.sql == "sqlite":
            _copy_file(backup / fmt.SQLITE_FILE, new / "mailgothai.sqlite3")
        _copy_tree(backup / fmt.DKIM_DIR, settings.dkim_key_dir)
        if (backup / fmt.TLS_CERT).is_file():
            _copy_tree(backup / fmt.TLS_DIR, settings.tls_cert_path.parent)
        _copy_tree(backup / fmt.QUARANTINE_DIR, settings.quarantine_path)
        _copy_tree(backup / fmt.IMPORTS_DIR, settings.data_dir / "imports")
        progress("mail")
        owner = (settings.mail_uid, settings.mail_gid) if os.geteuid() == 0 else None
        _copy_tree(backup / fmt.MAIL_DIR, settings.mailbox_root_path, keep_mtime=True, owner=owner)
        if manifest.sql == "postgresql":
            progress("SQL store (pg_restore)")
            run_pg_tool([pg_tool("pg_restore"), "--no-owner", "--no-privileges", "--single-transaction",
                         "--exit-on-error", str(backup / fmt.PGDUMP_FILE)], target.sql_url, "pg_restore")
    except BaseException:
        if existed:
            for child in new.iterdir():
                _remove(child)
        else:
            shutil.rmtree(new, ignore_errors=True)
        raise
    return RestoreResult(settings, manifest, reset)


def _pg_restore_or_default() -> str:
    try:
        return pg_tool("pg_restore")
    except StackError:
        return "pg_restore"


def _require_empty_database(url: str) -> None:
    import sqlalchemy

    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as conn:
            tables = sqlalchemy.inspect(conn).get_table_names()
    except sqlalchemy.exc.SQLAlchemyError as exc:
        raise StackError(f"the database MAILGOTHAI_SQL_URL names cannot be reached: {exc}") from exc
    finally:
        engine.dispose()
    if tables:
        from sqlalchemy.engine import make_url

        raise InvalidInput("sql_url", Why.RESTORE_SQL_NOT_EMPTY(database=str(make_url(url).database)))


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _copy_file(src: Path, dst: Path, keep_mtime: bool = False, owner: tuple[int, int] | None = None) -> None:
    with open(src, "rb") as source:
        fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(source, out, fmt.CHUNK)
            if owner is not None:
                os.fchown(out.fileno(), *owner)
        if keep_mtime:
            st = os.fstat(source.fileno())
            os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns))


def _copy_tree(src: Path, dst: Path, keep_mtime: bool = False, owner: tuple[int, int] | None = None) -> None:
    """src's directories (0700), files (0600) and symbolic links into dst."""
    if not src.is_dir():
        return
    dst.mkdir(parents=True, exist_ok=True, mode=0o700)
    if owner is not None:
        os.chown(dst, *owner)
    for entry in os.scandir(src):
        target = dst / entry.name
        if entry.is_symlink():
            os.symlink(os.readlink(entry.path), target)
            if owner is not None:
                os.lchown(target, *owner)
        elif entry.is_dir(follow_symlinks=False):
            _copy_tree(Path(entry.path), target, keep_mtime, owner)
        else:
            _copy_file(Path(entry.path), target, keep_mtime, owner)
