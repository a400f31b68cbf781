"""Inbound protection's daemons (issue 18), when settings.protection is 1: a private
Redis, clamd and rspamd on loopback, configured under DATA/redis, DATA/clamav and
DATA/rspamd from deploy/{redis,clamav,rspamd}, logging to DATA/log; started before the
relay (Redis and clamd before rspamd, which uses both), stopped after it, by PID.

They run as the user of `stack up`, like slapd; but rspamd's workers, which parse every
message from outside, never as root: under root they run as Debian's `_rspamd` (rspamd -u),
which owns DATA/rspamd/db and DATA/rspamd/run, passes through DATA/rspamd and DATA/clamav
(x only) and reaches clamd's socket by its group.
"""

from __future__ import annotations

import json
import logging
import os
import pwd
import re
import shutil
import socket
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from mailgothai.errors import StackError
from mailgothai.paths import DEPLOY_DIR
from mailgothai.settings import Settings
from mailgothai.stack import private
from mailgothai.stack.dovecot import grant_traversal
from mailgothai.stack.process import (
    ProcessStatus,
    children_of,
    holds_open,
    is_running,
    port_open,
    read_pid,
    require_free,
    start_daemon,
    stop_pid,
    wait_until,
)
from mailgothai.stack.templates import render, write_private

log = logging.getLogger(__name__)

# The EICAR test file's signature, all clamd has when no real database is there
# (ClamAV's .ndb: name, any file type, anywhere, hex of the 68 bytes).
EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
EICAR_SIGNATURE = f"MailGoThai.Test.EICAR:0:*:{EICAR.hex()}\n"
DATABASE_SUFFIXES = (".cvd", ".cld", ".cud", ".ndb", ".hdb", ".hsb", ".mdb", ".msb", ".ldb", ".cdb", ".ndu")
# rspamd modules that ask the Internet (DNS lists and SURBL: rbl; feeds, maps of rspamd.com) or keep state
# no one here reads: off, so nothing leaves the machine and no scan waits on them.
DISABLED_MODULES = ("rbl", "fuzzy_check", "asn", "whitelist", "multimap", "url_redirector",
                    "neural", "ratelimit", "replies", "history_redis", "dkim_signing", "reputation",
                    "rspamd_update", "dcc", "spamassassin", "bimi", "mx_check")
# Below any score a message gets: every unknown triplet is greylisted (deploy/rspamd/local.d/greylist.conf.in)
GREYLIST_MIN_SCORE = -1000
WORKER_USER = "_rspamd"  # made by Debian's rspamd package
_SECRET = re.compile(r"[A-Za-z0-9._~+/=-]{8,200}")


@dataclass(frozen=True)
class Paths:
    data: Path

    @property
    def log_dir(self) -> Path:
        return self.data / "log"

    # Redis
    @property
    def redis_dir(self) -> Path:
        return self.data / "redis"

    @property
    def redis_conf(self) -> Path:
        return self.redis_dir / "redis.conf"

    @property
    def redis_pid(self) -> Path:
        return self.redis_dir / "redis.pid"

    # clamd
    @property
    def clamav_dir(self) -> Path:
        return self.data / "clamav"

    @property
    def clamd_conf(self) -> Path:
        return self.clamav_dir / "clamd.conf"

    @property
    def clamd_pid(self) -> Path:
        return self.clamav_dir / "clamd.pid"

    @property
    def clamd_socket(self) -> Path:
        return self.clamav_dir / "clamd.sock"

    # rspamd
    @property
    def rspamd_dir(self) -> Path:
        return self.data / "rspamd"

    @property
    def rspamd_conf(self) -> Path:
        return self.rspamd_dir / "rspamd.conf"

    @property
    def rspamd_pid(self) -> Path:
        return self.rspamd_dir / "run" / "rspamd.pid"


def paths_for(settings: Settings) -> Paths:
    return Paths(settings.data_dir.resolve())


def traversed(settings: Settings) -> tuple[Path, ...]:
    """The directories rspamd's workers pass through when the stack runs as root (x only)."""
    p = paths_for(settings)
    return (p.rspamd_dir, p.clamav_dir) if os.geteuid() == 0 else ()


def _worker() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(WORKER_USER)
    except KeyError as exc:
        raise StackError(f"user {WORKER_USER} not found: rspamd's workers run as it under root "
                         "(the Debian package rspamd makes it)") from exc


def _hand_to_workers(p: Paths) -> None:
    """Under root: rspamd's state directories are its workers', the way to them and to
    clamd's socket open to them (search only)."""
    worker = _worker()
    for directory in (p.rspamd_dir / "db", p.rspamd_pid.parent):
        for path in (directory, *directory.rglob("*")):
            try:
                os.chown(path, worker.pw_uid, worker.pw_gid, follow_symlinks=False)
            except FileNotFoundError:  # a running rspamd's temporary file, renamed since it was listed
                continue
    for directory in (p.rspamd_dir, p.clamav_dir):
        os.chmod(directory, 0o711)
    grant_traversal(p.rspamd_dir, worker.pw_uid, worker.pw_gid)


def _secret(settings: Settings, name: str) -> str:
    value = str(getattr(settings, name))
    if not _SECRET.fullmatch(value):
        raise StackError(f"{name}: 8 to 200 characters of A-Z a-z 0-9 . _ ~ + / = - (it goes into a "
                         "configuration file unquoted); remove it from the settings file for a new one")
    return value


def dns_config(settings: Settings) -> str:
    """rspamd's resolvers from relay_dns (see deploy/rspamd/local.d/options.inc.in)."""
    mode = settings.relay_dns.strip() or "off"
    timeout = f"{max(1, settings.relay_dns_timeout)}s"
    if mode == "system":
        return f"  timeout = {timeout};"
    if mode == "off":  # nothing listens there: refused at once, and given up after 0.1 s
        return '  nameserver = ["127.0.0.1:9"];\n  timeout = 0.1s;\n  retransmits = 1;'
    servers = ", ".join(json.dumps(f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}")
                        for ip, port in settings.relay_dns_servers)
    return f"  nameserver = [{servers}];\n  timeout = {timeout};\n  retransmits = 2;"


def seed_database(settings: Settings) -> None:
    """The default database directory with no signatures gets the EICAR one, so clamd
    starts; a directory the operator named is left as it is."""
    db = settings.clamav_database_path.resolve()
    if settings.clamav_database_dir:
        if not db.is_dir():
            raise StackError(f"clamav_database_dir: no such directory: {db}")
        return
    db.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not any(p.suffix in DATABASE_SUFFIXES for p in db.iterdir()):
        write_private(db / "mailgothai-eicar.ndb", EICAR_SIGNATURE)
        log.warning("clamd has only the EICAR test signature (%s): production must run freshclam and set "
                    "clamav_database_dir=/var/lib/clamav", db)


def write_config(settings: Settings) -> Paths:
    """(Re)write the three daemons' configuration; cheap, done at every start."""
    p = paths_for(settings)
    for directory in (p.log_dir, p.redis_dir, p.clamav_dir, p.clamav_dir / "tmp", p.rspamd_dir,
                      p.rspamd_dir / "db", p.rspamd_pid.parent, p.rspamd_dir / "local.d", p.rspamd_dir / "override.d"):
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    if len(str(p.clamd_socket).encode()) > 100:
        raise StackError(f"clamd's socket path is too long for a Unix socket: {p.clamd_socket} (a shorter data_dir)")
    redis_password, rspamd_password = _secret(settings, "redis_password"), _secret(settings, "rspamd_password")
    write_private(p.redis_conf, render("redis/redis.conf.in", {
        "host": settings.host, "port": settings.redis_port, "password": redis_password,
        "pid_file": p.redis_pid, "log_file": p.log_dir / "redis.log", "dir": p.redis_dir,
    }))
    seed_database(settings)
    root = os.geteuid() == 0
    write_private(p.clamd_conf, render("clamav/clamd.conf.in", {
        "socket": p.clamd_socket, "pid_file": p.clamd_pid, "database": settings.clamav_database_path.resolve(),
        "tmp": p.clamav_dir / "tmp", "log_file": p.log_dir / "clamd.log",
        "socket_access": f"LocalSocketMode 660\nLocalSocketGroup {WORKER_USER}" if root else "LocalSocketMode 600",
    }))
    values: dict[str, object] = {
        "host": settings.host, "port": settings.rspamd_port, "controller_port": settings.rspamd_controller_port,
        "password": json.dumps(rspamd_password), "pid_file": json.dumps(str(p.rspamd_pid)),
        "log_file": json.dumps(str(p.log_dir / "rspamd.log")), "dns": dns_config(settings),
        "redis_port": settings.redis_port, "redis_password": json.dumps(redis_password),
        "socket": p.clamd_socket, "delay": max(1, settings.greylist_delay), "min_score": GREYLIST_MIN_SCORE,
    }
    write_private(p.rspamd_conf, render("rspamd/rspamd.conf.in", values))
    wanted: set[Path] = set()
    for template in sorted((DEPLOY_DIR / "rspamd").glob("*.d/*")):
        relative = template.relative_to(DEPLOY_DIR / "rspamd")
        target = p.rspamd_dir / relative.with_suffix("") if template.suffix == ".in" else p.rspamd_dir / relative
        text = render(f"rspamd/{relative}", values) if template.suffix == ".in" else template.read_text("utf-8")
        write_private(target, text)
        wanted.add(target)
    # without DNS the HELO and host name checks would only score their own failed lookups
    for name in (*DISABLED_MODULES, *(("hfilter",) if settings.relay_dns.strip() in ("", "off") else ())):
        target = p.rspamd_dir / "local.d" / f"{name}.conf"
        write_private(target, "# off in MailGoThai's rspamd (stack/protection.py DISABLED_MODULES)\nenabled = false;\n")
        wanted.add(target)
    for old in (*(p.rspamd_dir / "local.d").iterdir(), *(p.rspamd_dir / "override.d").iterdir()):
        if old not in wanted:  # a file an older version wrote
            old.unlink()
    if os.geteuid() == 0:
        _hand_to_workers(p)
    return p


def _binary(name: str, package: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    if not found:
        raise StackError(f"{name} not found: install the Debian package {package}")
    return found


def rspamd_argv(settings: Settings) -> list[str]:
    p = paths_for(settings)
    argv = [_binary("rspamd", "rspamd"), "-c", str(p.rspamd_conf), f"--var=LOCAL_CONFDIR={p.rspamd_dir}",
            f"--var=DBDIR={p.rspamd_dir / 'db'}", f"--var=RUNDIR={p.rspamd_pid.parent}", f"--var=LOGDIR={p.log_dir}"]
    return [*argv, "-u", WORKER_USER, "-g", WORKER_USER] if os.geteuid() == 0 else argv


def rspamd_running(p: Paths) -> bool:
    """rspamd's main process renames itself ("rspamd: main process"): ours is the one
    holding our PID file open."""
    pid = read_pid(p.rspamd_pid)
    if pid is None or not is_running(pid, "rspamd: main process"):
        return False
    return holds_open(pid, p.rspamd_pid)


def clamd_answers(path: Path) -> bool:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(2)
            sock.connect(str(path))
            sock.sendall(b"zPING\0")
            return sock.recv(16).startswith(b"PONG")
    except OSError:
        return False


def rspamd_answers(host: str, port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/ping", timeout=2) as reply:  # noqa: S310 (loopback)
            return bool(reply.read().strip() == b"pong")
    except OSError:
        return False


def start(settings: Settings) -> None:
    """Redis, clamd, then rspamd, each unless it runs; waits until each answers."""
    p = write_config(settings)
    if not is_running(read_pid(p.redis_pid), str(p.redis_conf)):
        require_free(settings.host, settings.redis_port)
        start_daemon([_binary("redis-server", "redis-server"), str(p.redis_conf)], p.log_dir / "redis.log", "redis")
        wait_until(lambda: is_running(read_pid(p.redis_pid), str(p.redis_conf))
                   and port_open(settings.host, settings.redis_port), 20, "Redis")
    if not is_running(read_pid(p.clamd_pid), str(p.clamd_conf)):
        start_daemon([_binary("clamd", "clamav-daemon"), "-c", str(p.clamd_conf)], p.log_dir / "clamd.log", "clamd")
        # with freshclam's full database clamd takes tens of seconds (and about 1 GB) to load it
        wait_until(lambda: is_running(read_pid(p.clamd_pid), str(p.clamd_conf)) and clamd_answers(p.clamd_socket),
                   180, "clamd")
    if not rspamd_running(p):
        require_free(settings.host, settings.rspamd_port, settings.rspamd_controller_port)
        start_daemon(rspamd_argv(settings), p.log_dir / "rspamd.log", "rspamd")
        wait_until(lambda: rspamd_running(p) and rspamd_answers(settings.host, settings.rspamd_port)
                   and rspamd_answers(settings.host, settings.rspamd_controller_port), 60, "rspamd")
    # clamd and rspamd make their PID files 0644 whatever the umask: owner-only again. (rspamd
    # writes its caches in db/ 0644 too, while it runs: that directory is closed to others.)
    for directory in (p.redis_dir, p.clamav_dir, p.rspamd_dir):
        private.repair(directory, traversed=traversed(settings), left_alone=(p.rspamd_dir / "db",))


def stop(settings: Settings) -> None:
    """rspamd, then clamd and Redis (whatever the protection setting: one turned off since runs no more)."""
    p = paths_for(settings)
    if rspamd_running(p):
        pid = read_pid(p.rspamd_pid)
        assert pid is not None
        workers = children_of(pid)
        stop_pid(pid, "rspamd: main process")
        for worker in workers:  # gone with their main process, unless it had to be killed
            stop_pid(worker, "rspamd: ")
    stop_pid(read_pid(p.clamd_pid), str(p.clamd_conf))
    stop_pid(read_pid(p.redis_pid), str(p.redis_conf))


def status(settings: Settings) -> tuple[ProcessStatus, ...]:
    p = paths_for(settings)
    found = []
    for name, pid_file, marker in (("redis", p.redis_pid, p.redis_conf), ("clamd", p.clamd_pid, p.clamd_conf)):
        pid = read_pid(pid_file)
        found.append(ProcessStatus(name, pid, is_running(pid, str(marker))))
    return (*found, ProcessStatus("rspamd", read_pid(p.rspamd_pid), rspamd_running(p)))


def endpoints(settings: Settings) -> dict[str, str]:
    """For `stack status --json`."""
    s = settings
    return {"rspamd": f"http://{s.host}:{s.rspamd_port}/",
            "rspamd_controller": f"http://{s.host}:{s.rspamd_controller_port}/",
            "redis": f"{s.host}:{s.redis_port}", "clamd": str(paths_for(s).clamd_socket)}
