"""The backup format (`mailgothai backup`): a directory, owner-only, with a manifest.

    DIR/manifest.json    {"format": "mailgothai-backup", "version": 1, "created", "source_data_dir_name",
                          "sql": "sqlite" | "postgresql", "previous", "files": {relpath: {"size",
                          "sha256", ["mtime_ns"]}}, "symlinks": {relpath: target}, "counts", "gone"}
    DIR/manifest.sha256  the SHA-256 of manifest.json (as `sha256sum` writes it)
    DIR/directory/config.ldif, data.ldif   slapcat -n0 (cn=config, for reference) and -n1
    DIR/sql/mailgothai.sqlite3 | mailgothai.pgdump
    DIR/files/settings/mailgothai.toml, files/dkim/..., files/tls/relay.{crt,key}, files/quarantine/...,
        files/imports/JOB/...
    DIR/mail/...         the mailbox root's tree (XX/ENTRYUUID/Maildir/...)

This module reads, writes and checks that format; `stack/backup.py` takes a backup,
`stack/restore.py` restores one. The manifest's checksum finds a manifest damaged by
accident or cut short, not one rewritten on purpose together with its checksum.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FORMAT = "mailgothai-backup"
VERSION = 1
MANIFEST = "manifest.json"
MANIFEST_SUM = "manifest.sha256"
CONFIG_LDIF = "directory/config.ldif"
DATA_LDIF = "directory/data.ldif"
SQLITE_FILE = "sql/mailgothai.sqlite3"
PGDUMP_FILE = "sql/mailgothai.pgdump"
SETTINGS_DIR = "files/settings"
SETTINGS_FILE = "files/settings/mailgothai.toml"
DKIM_DIR = "files/dkim"
TLS_DIR = "files/tls"
TLS_CERT = "files/tls/relay.crt"
TLS_KEY = "files/tls/relay.key"
QUARANTINE_DIR = "files/quarantine"
IMPORTS_DIR = "files/imports"  # import jobs' uploads and result files (DATA/imports/JOB)
MAIL_DIR = "mail"
PARTIAL_SUFFIX = ".partial"
CHUNK = 1 << 20

# What `counts` holds, by the object class an entry of data.ldif carries (lower case).
COUNTED_CLASSES = {"mgtdomain": "domains", "mgtalias": "aliases", "mgtadmin": "admins"}


@dataclass(frozen=True)
class FileRecord:
    size: int
    sha256: str
    mtime_ns: int | None = None  # mail files: a Maildir message's mtime is its arrival time

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"size": self.size, "sha256": self.sha256}
        if self.mtime_ns is not None:
            data["mtime_ns"] = self.mtime_ns
        return data


@dataclass
class Manifest:
    created: str
    source_data_dir_name: str
    sql: str  # "sqlite" or "postgresql"
    previous: str | None = None
    files: dict[str, FileRecord] = field(default_factory=dict)
    symlinks: dict[str, str] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    gone: list[str] = field(default_factory=list)  # mail listed but gone before it was copied
    mail_included: bool = True  # False: taken with --no-mail

    @property
    def sql_file(self) -> str:
        return SQLITE_FILE if self.sql == "sqlite" else PGDUMP_FILE

    def as_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT, "version": VERSION, "created": self.created,
            "source_data_dir_name": self.source_data_dir_name, "sql": self.sql, "previous": self.previous,
            "files": {path: rec.as_json() for path, rec in sorted(self.files.items())},
            "symlinks": dict(sorted(self.symlinks.items())), "counts": self.counts, "gone": sorted(self.gone),
            "mail_included": self.mail_included,
        }

    @classmethod
    def from_json(cls, data: Any) -> Manifest:
        """Raises BackupProblem naming what is wrong with the manifest's shape."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise BackupProblem(f"{MANIFEST}: not a MailGoThai backup manifest (format is not {FORMAT!r})")
        if data.get("version") != VERSION:
            raise BackupProblem(f"{MANIFEST}: version {data.get('version')!r}; this version reads {VERSION}")
        if data.get("sql") not in ("sqlite", "postgresql"):
            raise BackupProblem(f"{MANIFEST}: sql is {data.get('sql')!r}, not 'sqlite' or 'postgresql'")
        try:
            files = {str(path): FileRecord(int(rec["size"]), str(rec["sha256"]),
                                           int(rec["mtime_ns"]) if "mtime_ns" in rec else None)
                     for path, rec in dict(data["files"]).items()}
            return cls(created=str(data["created"]), source_data_dir_name=str(data["source_data_dir_name"]),
                       sql=str(data["sql"]), previous=None if data.get("previous") is None else str(data["previous"]),
                       files=files, symlinks={str(k): str(v) for k, v in dict(data.get("symlinks") or {}).items()},
                       counts={str(k): int(v) for k, v in dict(data.get("counts") or {}).items()},
                       gone=[str(g) for g in data.get("gone") or []],
                       mail_included=bool(data.get("mail_included", True)))
        except (KeyError, TypeError, ValueError) as exc:
            raise BackupProblem(f"{MANIFEST}: malformed ({exc!r})") from exc


class BackupProblem(Exception):
    """One thing wrong with a backup, in words naming the file."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def write_private_bytes(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def write_manifest(root: Path, manifest: Manifest) -> str:
    """Write manifest.json and manifest.sha256 into `root`; returns the manifest's SHA-256."""
    data = (json.dumps(manifest.as_json(), indent=1, ensure_ascii=False) + "\n").encode("utf-8")
    digest = hashlib.sha256(data).hexdigest()
    write_private_bytes(root / MANIFEST, data)
    write_private_bytes(root / MANIFEST_SUM, f"{digest}  {MANIFEST}\n".encode())
    return digest


def read_manifest(root: Path) -> Manifest:
    """The manifest of the backup at `root`, its own checksum checked first.
    Raises BackupProblem (missing, cut short, changed, malformed)."""
    if not root.is_dir():
        raise BackupProblem(f"{root}: no such directory")
    if root.name.endswith(PARTIAL_SUFFIX):
        raise BackupProblem(f"{root}: an unfinished backup (a backup that completes is renamed without "
                            f"{PARTIAL_SUFFIX})")
    try:
        data = (root / MANIFEST).read_bytes()
    except FileNotFoundError as exc:
        raise BackupProblem(f"{MANIFEST} is missing: not a complete backup") from exc
    try:
        expected = (root / MANIFEST_SUM).read_text(encoding="ascii").split()[0].lower()
    except (FileNotFoundError, IndexError, UnicodeDecodeError) as exc:
        raise BackupProblem(f"{MANIFEST_SUM} is missing or empty: not a complete backup") from exc
    if hashlib.sha256(data).hexdigest() != expected:
        raise BackupProblem(f"{MANIFEST} does not match {MANIFEST_SUM}: the manifest was changed or cut short")
    try:
        parsed = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BackupProblem(f"{MANIFEST}: not JSON ({exc})") from exc
    return Manifest.from_json(parsed)


def manifest_digest(root: Path) -> str:
    return hashlib.sha256((root / MANIFEST).read_bytes()).hexdigest()


# ---- checking a backup -------------------------------------------------------------
def walk(root: Path) -> Iterator[tuple[str, os.DirEntry[str]]]:
    """Every file and symlink under `root` (relative path, entry); directories are descended."""
    stack = [(root, "")]
    while stack:
        directory, prefix = stack.pop()
        with os.scandir(directory) as entries:
            for entry in entries:
                rel = prefix + entry.name
                if entry.is_dir(follow_symlinks=False):
                    stack.append((Path(entry.path), rel + "/"))
                else:
                    yield rel, entry


@dataclass
class LdifSummary:
    entries: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    out_of_order: bool = False  # an entry before its parent (slapadd wants parents first)


def _dn_value(line: bytes) -> str:
    if line.startswith(b"dn::"):
        return base64.b64decode(line[4:].strip(), validate=True).decode("utf-8")
    return line[3:].strip().decode("utf-8")


def _parent(dn: str) -> str:
    escaped = False
    for i, ch in enumerate(dn):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == ",":
            return dn[i + 1:].strip()
    return ""


def scan_ldif(path: Path, counted: bool = True) -> LdifSummary:
    """Read an LDIF file as slapcat writes it, checking its shape: each entry a dn line and
    `attr: value` / `attr:: base64` lines (long lines folded with a leading space), entries
    separated by blank lines. Counts entries by object class; raises BackupProblem naming the
    line that is wrong."""
    summary = LdifSummary()
    seen: set[str] = set()
    first = True  # the next non-blank line starts an entry
    dn = ""
    current: bytes | None = None  # the logical line being unfolded
    classes: list[str] = []

    def finish_line(number: int) -> None:
        nonlocal dn
        assert current is not None
        name, sep, value = current.partition(b":")
        if not sep or not name or b" " in name:
            raise BackupProblem(f"{path.name} line {number}: not an LDIF attribute line")
        if value.startswith(b":"):
            try:
                base64.b64decode(value[1:].strip(), validate=True)
            except (binascii.Error, ValueError) as exc:
                raise BackupProblem(f"{path.name} line {number}: bad base64 ({exc})") from exc
        if name.lower() == b"objectclass" and counted:
            classes.append(value.strip().decode("utf-8", "replace").lower())

    def finish_entry() -> None:
        summary.entries += 1
        if counted:
            for cls in classes:
                key = COUNTED_CLASSES.get(cls)
                if key:
                    summary.counts[key] = summary.counts.get(key, 0) + 1
            if "mgtaccount" in classes:
                key = "retained_accounts" if ",ou=retained," in dn.lower() + "," else "accounts"
                summary.counts[key] = summary.counts.get(key, 0) + 1
            classes.clear()

    with open(path, "rb") as fh:
        number = 0
        for number, raw in enumerate(fh, start=1):  # noqa: B007 - the last number names a cut-short file
            line = raw.rstrip(b"\r\n")
            if line.startswith(b" ") and current is not None:
                current += line[1:]
                continue
            if current is not None:
                if first:
                    try:
                        dn = _dn_value(current)
                    except (binascii.Error, ValueError) as exc:
                        raise BackupProblem(f"{path.name} line {number - 1}: bad dn ({exc})") from exc
                    key = dn.lower()
                    parent = _parent(key)
                    if parent and parent not in seen and seen:
                        summary.out_of_order = True
                    seen.add(key)
                    first = False
                else:
                    finish_line(number - 1)
                current = None
            if not line:
                if not first:
                    finish_entry()
                    first = True
                continue
            if line.startswith(b"#"):
                continue
            if first and not line.lower().startswith(b"dn:"):
                raise BackupProblem(f"{path.name} line {number}: an entry must begin with dn:")
            current = line
        if current is not None:
            if first:
                raise BackupProblem(f"{path.name} line {number}: the file ends inside an entry")
            finish_line(number)
        if not first:
            finish_entry()
    if summary.entries == 0:
        raise BackupProblem(f"{path.name}: no entries")
    return summary


def check_sqlite(path: Path) -> None:
    """The SQLite file opens and passes integrity_check; nothing is written beside it."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
        try:
            rows = conn.execute("PRAGMA integrity_check").fetchall()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise BackupProblem(f"{SQLITE_FILE}: does not open as SQLite ({exc})") from exc
    if rows != [("ok",)]:
        raise BackupProblem(f"{SQLITE_FILE}: integrity check failed: {'; '.join(str(r[0]) for r in rows[:5])}")


def check_pgdump(path: Path, pg_restore: str) -> None:
    done = subprocess.run([pg_restore, "--list", str(path)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BackupProblem(f"{PGDUMP_FILE}: pg_restore cannot read it ({done.stderr.strip()[-500:]})")


@dataclass
class Verification:
    manifest: Manifest | None
    problems: list[str]

    @property
    def ok(self) -> bool:
        return self.manifest is not None and not self.problems


def verify(root: Path, pg_restore: str = "pg_restore") -> Verification:
    """Every check of `mailgothai backup verify`: the manifest's own checksum; each listed file
    present with its size and SHA-256; nothing missing, nothing extra; data.ldif (and
    config.ldif) readable as LDIF, with the counts the manifest gives; the SQL file opens."""
    try:
        manifest = read_manifest(root)
    except BackupProblem as exc:
        return Verification(None, [str(exc)])
    problems: list[str] = []
    listed = set(manifest.files) | set(manifest.symlinks)
    found: set[str] = set()
    for rel, entry in walk(root):
        if rel in (MANIFEST, MANIFEST_SUM):
            continue
        found.add(rel)
        if rel not in listed:
            problems.append(f"{rel}: not in the manifest (an extra file)")
        elif entry.is_symlink():
            if rel not in manifest.symlinks:
                problems.append(f"{rel}: a symbolic link where the manifest lists a file")
            elif os.readlink(entry.path) != manifest.symlinks[rel]:
                problems.append(f"{rel}: the link points elsewhere than the manifest says")
        elif rel in manifest.symlinks:
            problems.append(f"{rel}: a file where the manifest lists a symbolic link")
        else:
            record = manifest.files[rel]
            size = entry.stat(follow_symlinks=False).st_size
            if size != record.size:
                problems.append(f"{rel}: {size} bytes, the manifest says {record.size}")
            elif sha256_file(Path(entry.path)) != record.sha256:
                problems.append(f"{rel}: its SHA-256 differs from the manifest's (the file was changed)")
    problems += [f"{rel}: missing" for rel in sorted(listed - found)]
    for required in (CONFIG_LDIF, DATA_LDIF, manifest.sql_file):
        if required not in manifest.files:
            problems.append(f"{required}: not in the manifest (an incomplete backup)")
    if problems:  # the content checks only make sense on files known whole
        return Verification(manifest, problems)
    try:
        scan_ldif(root / CONFIG_LDIF, counted=False)
        summary = scan_ldif(root / DATA_LDIF)
        for key, value in manifest.counts.items():
            if key in summary.counts or key in COUNTED_CLASSES.values() or key == "accounts":
                if summary.counts.get(key, 0) != value:
                    problems.append(f"{DATA_LDIF}: {summary.counts.get(key, 0)} {key}, the manifest says {value}")
        if manifest.sql == "sqlite":
            check_sqlite(root / SQLITE_FILE)
        else:
            check_pgdump(root / PGDUMP_FILE, pg_restore)
    except BackupProblem as exc:
        problems.append(str(exc))
    return Verification(manifest, problems)
