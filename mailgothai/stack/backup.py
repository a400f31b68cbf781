"""`mailgothai backup --out DIR [--since EARLIER] [--no-mail]`: a backup of a running service.

In this order, each part consistent in itself while the service writes:
- the directory: `slapcat -n0` (cn=config, kept for reference) and `slapcat -n1` of node 1
  (one mdb read transaction each: a snapshot, whatever slapd does meanwhile);
- the SQL store: SQLite's online backup API (a snapshot of the file, retried by SQLite
  while writers commit) or `pg_dump -Fc` (one snapshot);
- DKIM keys, the TLS certificate and key, the settings file, the quarantine's files, the
  import jobs' files (uploads, results);
- the mail: the mailbox root's tree. A Maildir message file never changes its bytes (only
  its name's flags and new/ -> cur/), so with `--since EARLIER` a message whose folder, base
  name, size and mtime are those of a file in EARLIER's manifest is hard-linked from
  EARLIER (its checksum taken from that manifest), everything else copied: each backup is a
  whole, independently restorable directory that costs only the new mail. A message that
  moves or goes between the listing and its copy is looked for by its base name in its
  folder's new/ and cur/; one gone for good is recorded in the manifest's `gone`.

The backup is written into DIR.partial and renamed to DIR when complete: a backup that
stopped half-way never looks like one.
"""

from __future__ import annotations

import datetime
import errno
import glob
import hashlib
import logging
import os
import shutil
import sqlite3
import stat
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from mailgothai.core.reasons import Why
from mailgothai.durable import fsync_dir
from mailgothai.errors import InvalidInput, StackError
from mailgothai.settings import Settings
from mailgothai.stack import backup_manifest as fmt
from mailgothai.stack import slapd
from mailgothai.stack.backup_manifest import FileRecord, Manifest
from mailgothai.stack.private import UMASK
from mailgothai.stack.process import run_tool

log = logging.getLogger(__name__)
MESSAGE_DIRS = ("cur", "new")
SKIPPED_MAIL_DIRS = (".purging",)  # mailboxes being purged (services/purge.py)
LOCK_SUFFIX = ".lock"  # Dovecot's dotlocks (dovecot-uidlist.lock while it delivers or syncs)


def sql_kind(url: str) -> str:
    if url.startswith("sqlite:"):
        return "sqlite"
    if url.startswith(("postgresql:", "postgresql+", "postgres:")):
        return "postgresql"
    raise StackError(f"backup knows SQLite and PostgreSQL stores, not {url.partition(':')[0]}")


def sqlite_path(url: str) -> Path:
    from sqlalchemy.engine import make_url

    database = make_url(url).database
    if not database:
        raise StackError("the SQLite URL names no file")
    return Path(database)


def libpq_url(url: str) -> str:
    """SQLAlchemy's postgresql+DRIVER:// URL as libpq's tools (pg_dump, pg_restore) take it."""
    scheme, sep, rest = url.partition("://")
    return "postgresql://" + rest if sep else url


def pg_conninfo(url: str) -> tuple[str, str | None]:
    """(libpq URL without the password, the password): the password goes to PGPASSWORD,
    never on a command line, which every local user can read in /proc."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    password = None if parsed.password is None else str(parsed.password)
    return libpq_url(parsed._replace(password=None).render_as_string(hide_password=False)), password


def run_pg_tool(args: list[str], url: str, what: str) -> None:
    """Run pg_dump or pg_restore on the database `url` names."""
    conninfo, password = pg_conninfo(url)
    env = dict(os.environ)
    if password is not None:
        env["PGPASSWORD"] = password
    done = subprocess.run([*args, "--dbname", conninfo], capture_output=True, text=True, check=False, env=env,
                          umask=UMASK)
    if done.returncode != 0:
        raise StackError(f"{what} failed (exit {done.returncode}): {(done.stderr or done.stdout).strip()[-2000:]}")


def pg_tool(name: str) -> str:
    """A PostgreSQL client program: the newest under /usr/lib/postgresql, else on PATH."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    path = found[-1] if found else shutil.which(name)
    if not path:
        raise StackError(f"{name} not found: install Debian's postgresql-client package")
    return path


def base_name(name: str) -> str:
    """A Maildir message file's unique part: its name without the `:2,FLAGS` info."""
    return name.partition(":")[0]


@dataclass(frozen=True)
class BackupResult:
    path: Path
    manifest: Manifest
    digest: str  # the manifest's SHA-256 (keep it apart from the backup to detect a rewrite)
    linked: int  # mail files hard-linked from the earlier backup
    copied: int  # mail files copied


class _Writer:
    """Fills a backup directory and its manifest."""

    def __init__(self, root: Path, manifest: Manifest) -> None:
        self.root = root
        self.manifest = manifest
        self.linked = 0
        self.copied = 0
        self.skipped = 0  # mail store entries not copied: links where messages belong, FIFOs, devices

    def mkdir(self, rel: str) -> Path:
        path = self.root / rel
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        return path

    def add_written(self, rel: str) -> None:
        """A file something else wrote into the backup (slapcat, pg_dump, SQLite)."""
        path = self.root / rel
        os.chmod(path, 0o600)
        self.manifest.files[rel] = FileRecord(path.stat().st_size, fmt.sha256_file(path))

    def copy(self, src: Path, rel: str, keep_mtime: bool = False) -> FileRecord:
        """Copy one file into the backup, hashing it on the way. FileNotFoundError if it is gone."""
        with open(src, "rb") as source:
            return self.copy_open(source, rel, keep_mtime)

    def copy_open(self, source: BinaryIO, rel: str, keep_mtime: bool = False) -> FileRecord:
        """Copy a file opened by the caller into the backup, hashing it on the way."""
        digest = hashlib.sha256()
        size = 0
        st = os.fstat(source.fileno())
        dst = self.root / rel
        fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            while chunk := source.read(fmt.CHUNK):
                digest.update(chunk)
                out.write(chunk)
                size += len(chunk)
        if keep_mtime:
            os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns))
        record = FileRecord(size, digest.hexdigest(), st.st_mtime_ns if keep_mtime else None)
        self.manifest.files[rel] = record
        return record

    def copy_tree(self, src: Path, rel: str) -> None:
        """Every file under `src` (following a symlinked top, e.g. a shared DKIM directory)."""
        if not src.exists():
            return
        self.mkdir(rel)
        for entry in sorted(os.scandir(src), key=lambda e: e.name):
            child = f"{rel}/{entry.name}"
            if entry.is_dir(follow_symlinks=False):
                self.copy_tree(Path(entry.path), child)
            elif entry.is_file(follow_symlinks=False):
                try:
                    self.copy(Path(entry.path), child)
                except FileNotFoundError:
                    self.manifest.gone.append(child)


class _MailCopier:
    """The mailbox root into DIR/mail, linking unchanged messages from an earlier backup."""

    def __init__(self, writer: _Writer, previous_root: Path | None, previous: Manifest | None) -> None:
        self.w = writer
        self.previous_root = previous_root
        # (folder relpath, base name) -> (relpath in the earlier backup, its record)
        self.earlier: dict[tuple[str, str], tuple[str, FileRecord]] = {}
        if previous is not None:
            for rel, record in previous.files.items():
                folder, sub, name = _split_message(rel)
                if sub and record.mtime_ns is not None:
                    self.earlier[(folder, base_name(name))] = (rel, record)

    def run(self, src_root: Path) -> None:
        self.w.mkdir(fmt.MAIL_DIR)
        if src_root.is_dir():
            fd = os.open(src_root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                self.directory(_Folder(src_root, fd), fmt.MAIL_DIR)
            finally:
                os.close(fd)
        if self.w.skipped:  # links where messages belong, FIFOs, devices (logged each)
            self.w.manifest.counts["mail_skipped"] = self.w.skipped

    def directory(self, src: _Folder, rel: str) -> None:
        """src (opened by its descriptor: below the mail root, everything is reached from
        its parent's descriptor with O_NOFOLLOW, so a directory the mail user swaps for a
        link meanwhile is not followed) into rel."""
        entries = {e.name: e for e in os.scandir(src.fd)}
        self.w.mkdir(rel)
        is_maildir = all(name in entries and entries[name].is_dir(follow_symlinks=False)
                         for name in MESSAGE_DIRS)
        if is_maildir:
            for sub in (*MESSAGE_DIRS, "tmp"):  # tmp/ holds deliveries under way: never taken
                self.w.mkdir(f"{rel}/{sub}")
            maildir = _Folder(src.path, src.fd)
            try:
                for sub in MESSAGE_DIRS:
                    fd = self._open_dir(src, sub, f"{rel}/{sub}")
                    if fd is not None:
                        maildir.subs[sub] = fd
                self.messages(maildir, rel)
            finally:
                for fd in maildir.subs.values():
                    os.close(fd)
        for name in sorted(entries):
            entry = entries[name]
            child = f"{rel}/{name}"
            if rel == fmt.MAIL_DIR and name in SKIPPED_MAIL_DIRS:
                continue
            if is_maildir and name in (*MESSAGE_DIRS, "tmp"):
                continue
            if name.endswith(LOCK_SUFFIX):  # a restored dotlock would stall Dovecot until it is stale
                continue
            if entry.is_symlink():
                try:
                    target = os.readlink(name, dir_fd=src.fd)
                except OSError:  # gone, or no longer a link
                    self.w.manifest.gone.append(child)
                    continue
                os.symlink(target, self.w.root / child)
                self.w.manifest.symlinks[child] = target
            elif entry.is_dir(follow_symlinks=False):
                fd = self._open_dir(src, name, child)
                if fd is not None:
                    try:
                        self.directory(_Folder(src.path / name, fd), child)
                    finally:
                        os.close(fd)
            elif entry.is_file(follow_symlinks=False):
                # Dovecot's own files (uidlist, keywords, indexes, Sieve scripts): always copied
                try:
                    source = _open_mail(name, src.fd)
                except FileNotFoundError:
                    self.w.manifest.gone.append(child)
                    continue
                except OSError as exc:  # made a link since the listing
                    self._skip(src.path / name, str(exc.strerror))
                    continue
                with source:
                    if self._regular(source, src.path / name):
                        self.w.copy_open(source, child, keep_mtime=True)
            else:
                self._skip(src.path / name, "not a regular file")

    def _open_dir(self, parent: _Folder, name: str, rel: str) -> int | None:
        """parent/name as a directory, never through a link; None (gone, or skipped) if not one now."""
        try:
            return os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent.fd)
        except FileNotFoundError:  # a mailbox removed meanwhile (a purge)
            self.w.manifest.gone.append(rel + "/")
        except OSError as exc:  # ELOOP, ENOTDIR: swapped for a link or a file since the listing
            self._skip(parent.path / name, f"no longer a directory ({exc.strerror})")
        return None

    def _listing(self, src: _Folder) -> dict[str, tuple[str, str]]:
        """base name -> (new|cur, file name), from new/ then cur/ (a message only ever
        moves from new/ to cur/, so cur/ wins when it is seen in both)."""
        found: dict[str, tuple[str, str]] = {}
        for sub in MESSAGE_DIRS[::-1]:
            if sub not in src.subs:
                continue
            try:
                names = os.listdir(src.subs[sub])
            except FileNotFoundError:
                continue
            for name in names:
                found[base_name(name)] = (sub, name)
        return found

    def messages(self, src: _Folder, rel: str) -> None:
        for base, (sub, name) in sorted(self._listing(src).items()):
            for _attempt in range(5):
                if self.message(src, rel, sub, name, base):
                    break
                again = self._listing(src).get(base)  # renamed (flags) or moved to cur/
                if again is None:
                    self.w.manifest.gone.append(f"{rel}/{sub}/{name}")
                    break
                sub, name = again
            else:
                self.w.manifest.gone.append(f"{rel}/{sub}/{name}")

    def message(self, src: _Folder, rel: str, sub: str, name: str, base: str) -> bool:
        """One message into the backup; False if it was no longer there. The mail store is
        the mail user's: a symbolic link where a message belongs is recorded as a link (its
        target, e.g. the settings file, is never read), anything else not a regular file (a
        FIFO would hang the backup) is skipped and counted."""
        path = src.path / sub / name
        child = f"{rel}/{sub}/{name}"
        try:
            source = _open_mail(name, src.subs[sub])
        except FileNotFoundError:
            return False
        except OSError as exc:
            if exc.errno != errno.ELOOP:
                raise
            return self._symlink(src.subs[sub], name, path, child)
        with source:
            if not self._regular(source, path):
                return True
            st = os.fstat(source.fileno())
            earlier = self.earlier.get((rel, base))
            if earlier is not None and self.previous_root is not None:
                old_rel, record = earlier
                if record.size == st.st_size and record.mtime_ns == st.st_mtime_ns:
                    try:
                        os.link(self.previous_root / old_rel, self.w.root / child)
                    except OSError as exc:
                        if exc.errno not in (errno.EXDEV, errno.ENOENT, errno.EMLINK, errno.EPERM):
                            raise
                    else:
                        self.w.manifest.files[child] = record
                        self.w.linked += 1
                        return True
            self.w.copy_open(source, child, keep_mtime=True)
        self.w.copied += 1
        return True

    def _symlink(self, dir_fd: int, name: str, path: Path, child: str) -> bool:
        """A link where a message belongs: recorded as one (as links beside the messages are)."""
        try:
            target = os.readlink(name, dir_fd=dir_fd)
        except OSError:  # gone, or no longer a link: looked for again
            return False
        os.symlink(target, self.w.root / child)
        self.w.manifest.symlinks[child] = target
        self.w.skipped += 1
        log.warning("%s is a symbolic link (to %s) where a message belongs: kept as a link, nothing read "
                    "through it", path, target)
        return True

    def _regular(self, source: BinaryIO, path: Path) -> bool:
        if stat.S_ISREG(os.fstat(source.fileno()).st_mode):
            return True
        self._skip(path, "not a regular file")
        return False

    def _skip(self, path: Path, why: str) -> None:
        self.w.skipped += 1
        log.warning("%s: %s, not in the backup", path, why)


@dataclass
class _Folder:
    """A directory of the mail store, by its descriptor (path: for messages and the manifest's
    words only); a Maildir's cur/ and new/ descriptors in subs."""

    path: Path
    fd: int
    subs: dict[str, int] = field(default_factory=dict)


def _open_mail(name: str, dir_fd: int) -> BinaryIO:
    """A file of the mail store opened for reading, never through a symbolic link (OSError
    ELOOP) and without waiting (O_NONBLOCK: a FIFO opens at once, and fstat tells it)."""
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    return open(fd, "rb")


def _split_message(rel: str) -> tuple[str, str, str]:
    """'mail/XX/ID/Maildir/cur/NAME' -> ('mail/XX/ID/Maildir', 'cur', 'NAME'); sub '' if not a message."""
    head, _, name = rel.rpartition("/")
    folder, _, sub = head.rpartition("/")
    if sub in MESSAGE_DIRS and folder.startswith(fmt.MAIL_DIR + "/"):
        return folder, sub, name
    return "", "", name


def _slapcat(settings: Settings, database: int, out: Path) -> None:
    paths = slapd.paths_for(settings, 1)
    run_tool([slapd.tool("slapcat"), "-F", str(paths.config_dir), f"-n{database}", "-l", str(out)],
             what=f"slapcat -n{database}")


def _parents_first(path: Path) -> None:
    """Rewrite an LDIF file with each entry after its parent (by the depth of its DN):
    slapadd needs that, and slapcat keeps the order entries were added in, which an entry
    moved under a newer parent breaks."""
    text = path.read_bytes()
    records = [r for r in text.split(b"\n\n") if r.strip()]

    def depth(record: bytes) -> int:
        lines = record.lstrip(b"\n").split(b"\n")
        line = lines[0]
        for more in lines[1:]:  # a long dn is folded over several lines
            if not more.startswith(b" "):
                break
            line += more[1:]
        parent, count = fmt._parent(fmt._dn_value(line).lower()), 0
        while parent:
            parent, count = fmt._parent(parent), count + 1
        return count

    records.sort(key=depth)
    tmp = path.with_name(path.name + ".sorted")
    fmt.write_private_bytes(tmp, b"\n\n".join(records) + b"\n\n")
    os.replace(tmp, path)


def _sqlite_backup(source: Path, target: Path) -> None:
    if not source.is_file():
        raise StackError(f"the SQL store {source} does not exist")
    src = sqlite3.connect(source)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")  # one file, no -wal beside it
        finally:
            dst.close()
    finally:
        src.close()


def _audit_rows(sqlite_file: Path) -> int | None:
    conn = sqlite3.connect(f"file:{sqlite_file}?mode=ro&immutable=1", uri=True)
    try:
        return int(conn.execute("SELECT count(*) FROM audit_log").fetchone()[0])
    except sqlite3.DatabaseError:
        return None
    finally:
        conn.close()


def take_backup(settings: Settings, out: Path, since: Path | None = None, mail: bool = True,
                progress: Callable[[str], None] = lambda _: None) -> BackupResult:
    """Back the service of `settings` up into the new directory `out` (see the module)."""
    out = out.absolute()
    if out.exists() or out.is_symlink():
        raise InvalidInput("out", Why.BACKUP_OUT_EXISTS(path=str(out)))
    partial = out.with_name(out.name + fmt.PARTIAL_SUFFIX)
    if partial.exists():
        raise InvalidInput("out", Why.BACKUP_PARTIAL_EXISTS(path=str(partial)))
    previous: Manifest | None = None
    if since is not None:
        try:
            previous = fmt.read_manifest(since)
        except fmt.BackupProblem as exc:
            raise InvalidInput("since", Why.BACKUP_UNUSABLE(path=str(since), problems=str(exc))) from exc
    url = settings.sql_url_effective
    kind = sql_kind(url)
    manifest = Manifest(created=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
                        source_data_dir_name=settings.data_dir.resolve().name, sql=kind,
                        previous=since.absolute().name if since is not None else None)
    out.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    partial.mkdir(mode=0o700)
    try:
        w = _Writer(partial, manifest)
        progress("directory (slapcat)")
        w.mkdir("directory")
        _slapcat(settings, 0, partial / fmt.CONFIG_LDIF)
        _slapcat(settings, 1, partial / fmt.DATA_LDIF)
        summary = fmt.scan_ldif(partial / fmt.DATA_LDIF)
        if summary.out_of_order:
            _parents_first(partial / fmt.DATA_LDIF)
        w.add_written(fmt.CONFIG_LDIF)
        w.add_written(fmt.DATA_LDIF)
        manifest.counts.update({"entries": summary.entries, "accounts": 0, "domains": 0, **summary.counts})
        progress("SQL store")
        w.mkdir("sql")
        if kind == "sqlite":
            _sqlite_backup(sqlite_path(url), partial / fmt.SQLITE_FILE)
            audit = _audit_rows(partial / fmt.SQLITE_FILE)
            if audit is not None:
                manifest.counts["audit_records"] = audit
        else:
            run_pg_tool([pg_tool("pg_dump"), "-Fc", "--no-owner", "-f", str(partial / fmt.PGDUMP_FILE)], url, "pg_dump")
        w.add_written(manifest.sql_file)
        progress("keys, certificate, settings")
        if settings.config_file.is_file():
            w.mkdir(fmt.SETTINGS_DIR)
            w.copy(settings.config_file, fmt.SETTINGS_FILE)
        w.copy_tree(settings.dkim_key_dir.resolve(), fmt.DKIM_DIR)
        if settings.tls_cert_path.is_file() and settings.tls_key_path.is_file():
            w.mkdir(fmt.TLS_DIR)
            w.copy(settings.tls_cert_path, fmt.TLS_CERT)
            w.copy(settings.tls_key_path, fmt.TLS_KEY)
        w.copy_tree(settings.quarantine_path.resolve(), fmt.QUARANTINE_DIR)
        w.copy_tree((settings.data_dir / "imports").resolve(), fmt.IMPORTS_DIR)
        copier = _MailCopier(w, since.absolute() if since is not None else None, previous)
        if mail:
            progress("mail")
            copier.run(settings.mailbox_root_path.resolve())
        manifest.mail_included = mail
        manifest.counts["mail_files"] = w.linked + w.copied
        digest = fmt.write_manifest(partial, manifest)
        _fsync_tree_top(partial)
        os.rename(partial, out)
        fsync_dir(out.parent)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return BackupResult(out, manifest, digest, w.linked, w.copied)



def _fsync_tree_top(root: Path) -> None:
    """The backup's data on disk before its name says it is complete."""
    subprocess.run(["sync", "-f", str(root)], check=False)
