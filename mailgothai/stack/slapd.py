"""A private slapd: cn=config from deploy/slapd, data under DATA_DIR/slapd."""

from __future__ import annotations

import os
import re
import shutil
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import ldap3

from mailgothai.core.passwords import hash_password
from mailgothai.directory.pool import discard
from mailgothai.errors import StackError
from mailgothai.paths import SCHEMA_DIR
from mailgothai.settings import Settings
from mailgothai.stack.process import (
    ProcessStatus,
    is_running,
    read_pid,
    require_free,
    run_tool,
    start_daemon,
    stop_pid,
    wait_until,
)
from mailgothai.stack.templates import render, write_private

MODULE_PATH = "/usr/lib/ldap"
SYSTEM_SCHEMAS = ("core", "cosine", "inetorgperson")
SYSTEM_SCHEMA_DIR = Path("/etc/ldap/schema")
DB_MAX_SIZE = 16 * 1024**3  # sparse: the map only reserves address space


def tool(name: str) -> str:
    """The path of one of OpenLDAP's programs (slapd, slapadd, slapcat, slaptest)."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    if not found:
        raise StackError(f"{name} not found: install the Debian packages slapd and ldap-utils")
    return found


_tool = tool  # the name before backups needed it outside this module


@dataclass(frozen=True)
class SlapdPaths:
    root: Path

    @property
    def config_dir(self) -> Path:
        return self.root / "slapd.d"

    @property
    def db_dir(self) -> Path:
        return self.root / "db"

    @property
    def pid_file(self) -> Path:
        return self.root / "slapd.pid"

    @property
    def args_file(self) -> Path:
        return self.root / "slapd.args"

    @property
    def log(self) -> Path:
        return self.root / "slapd.log"

    @property
    def socket(self) -> Path:
        return self.root / "ldapi"


def paths_for(settings: Settings, node: int = 1) -> SlapdPaths:
    """Node 1 lives in DATA/slapd, further providers in DATA/slapd2, DATA/slapd3, ..."""
    return SlapdPaths((settings.data_dir / ("slapd" if node == 1 else f"slapd{node}")).resolve())


def nodes(settings: Settings) -> range:
    return range(1, len(settings.ldap_local_ports) + 1)


def port_of(settings: Settings, node: int) -> int:
    return settings.ldap_local_ports[node - 1]


def _schemas_ldif() -> str:
    parts = [(SYSTEM_SCHEMA_DIR / f"{name}.ldif").read_text(encoding="utf-8") for name in SYSTEM_SCHEMAS]
    parts.append((SCHEMA_DIR / "mailgothai.ldif").read_text(encoding="utf-8"))
    # The system LDIFs carry comments and blank lines; entries must be separated by one.
    return "\n".join(part.strip() + "\n" for part in parts)


@dataclass(frozen=True)
class Replication:
    """How one node replicates: its serverID and the providers it pulls from.

    Multi-provider (every provider pulls from every other, olcMultiProvider) or, with
    consumer=True, a read-only consumer that pulls from the providers and refers writes
    to them. No peers: a standalone directory.
    """

    server_id: int = 0
    peers: tuple[str, ...] = ()  # URIs of the providers this node pulls from
    consumer: bool = False

    def global_lines(self) -> str:
        return f"olcServerID: {self.server_id}\n" if self.peers and not self.consumer else ""

    def database_lines(self, settings: Settings) -> str:
        if not self.peers:
            return ""
        lines = []
        for rid, uri in enumerate(self.peers, start=1):
            lines.append(
                f"olcSyncrepl: {{{rid - 1}}}rid={rid:03d} provider={uri} bindmethod=simple "
                f'binddn="{settings.ldap_replicator_dn}" credentials={settings.ldap_replicator_password} '
                f'searchbase="{settings.ldap_base}" type=refreshAndPersist retry="1 +" timeout=3 '
                f"network-timeout=3 keepalive=60:3:10"
            )
        if self.consumer:
            lines.append(f"olcUpdateRef: {self.peers[0]}")
        else:
            lines.append("olcMultiProvider: TRUE")
        return "\n".join(lines) + "\n"


def local_replication(settings: Settings, node: int) -> Replication:
    """The replication of node `node` of the stack's own providers on this machine."""
    uris = tuple(f"ldap://{settings.host}:{port}" for port in settings.ldap_local_ports)
    if len(uris) < 2:
        return Replication()
    return Replication(server_id=node, peers=tuple(uri for n, uri in enumerate(uris, start=1) if n != node))


def config_ldif(settings: Settings, paths: SlapdPaths, manager_pw_hash: str,
                replication: Replication = Replication()) -> str:
    return render(
        "slapd/config.ldif.in",
        {
            "server_id": replication.global_lines(),
            "replication": replication.database_lines(settings),
            "replicator_dn": settings.ldap_replicator_dn,
            "pid_file": paths.pid_file,
            "args_file": paths.args_file,
            "module_path": MODULE_PATH,
            "schemas": _schemas_ldif(),
            "uid": os.getuid(),
            "gid": os.getgid(),
            "suffix": settings.ldap_base,
            "suffix_regex": re.escape(settings.ldap_base),
            "manager_dn": settings.ldap_manager_dn,
            "manager_pw_hash": manager_pw_hash,
            "db_dir": paths.db_dir,
            "db_max_size": DB_MAX_SIZE,
            "app_dn": settings.ldap_app_dn,
            "mail_dn": settings.ldap_mail_dn,
        },
    )


def initialise(settings: Settings, node: int = 1, skeleton: bool = True) -> bool:
    """Create cn=config (and, on node 1, the directory skeleton) if the data dir is new.

    Further providers start empty and receive everything from node 1 by replication.
    skeleton=False: node 1 starts empty too (a restore loads its entries with slapadd).
    Returns True if it created them, False if an existing directory is reused as is.
    """
    paths = paths_for(settings, node)
    replication = local_replication(settings, node)
    if (paths.config_dir / "cn=config.ldif").exists():
        if replication.peers and not _replicates(paths):
            raise StackError(f"{paths.root} was created as a standalone directory; start from a new data "
                             "directory to run several providers (or add syncrepl to its cn=config by hand)")
        return False
    staging = paths.root / "slapd.d.new"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True, mode=0o700)
    paths.db_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    params = settings.argon2
    config = config_ldif(settings, paths, hash_password(settings.ldap_manager_password, params), replication)
    config_file = paths.root / "config.ldif"
    write_private(config_file, config)
    run_tool([tool("slapadd"), "-n0", "-F", str(staging), "-l", str(config_file)], what="slapadd of cn=config")
    base = render(
        "slapd/base.ldif.in",
        {
            "suffix": settings.ldap_base,
            "suffix_regex": re.escape(settings.ldap_base),
            "org": settings.ldap_base.partition("=")[2].partition(",")[0],
            "app_dn": settings.ldap_app_dn,
            "mail_dn": settings.ldap_mail_dn,
            "app_pw_hash": hash_password(settings.ldap_app_password, params),
            "mail_pw_hash": hash_password(settings.ldap_mail_password, params),
            "replicator_dn": settings.ldap_replicator_dn,
            "replicator_pw_hash": hash_password(settings.ldap_replicator_password, params),
        },
    )
    if node == 1 and skeleton:
        base_file = paths.root / "base.ldif"
        write_private(base_file, base)
        # -w writes the contextCSN, so providers that start empty know what they miss.
        run_tool([tool("slapadd"), "-q", "-w", "-n1", "-F", str(staging), "-l", str(base_file)],
                 what="slapadd of the base")
        base_file.unlink()
    run_tool([tool("slaptest"), "-F", str(staging), "-u"], what="slaptest")
    os.replace(staging, paths.config_dir)  # the config appears whole or not at all
    return True


def _replicates(paths: SlapdPaths) -> bool:
    database = paths.config_dir / "cn=config" / "olcDatabase={1}mdb.ldif"
    return database.is_file() and "olcSyncrepl" in database.read_text(encoding="utf-8", errors="replace")


def listen_urls(settings: Settings, node: int = 1) -> str:
    socket = urllib.parse.quote(str(paths_for(settings, node).socket), safe="")
    return f"ldap://{settings.host}:{port_of(settings, node)}/ ldapi://{socket}"


def start(settings: Settings, node: int = 1) -> int:
    paths = paths_for(settings, node)
    pid = read_pid(paths.pid_file)
    if is_running(pid, str(paths.config_dir)):
        assert pid is not None
        return pid
    paths.pid_file.unlink(missing_ok=True)
    port = port_of(settings, node)
    require_free(settings.host, port)
    start_daemon([tool("slapd"), "-F", str(paths.config_dir), "-h", listen_urls(settings, node)], paths.log,
                 "slapd" if node == 1 else f"slapd{node}")
    wait_until(lambda: read_pid(paths.pid_file) is not None, 20, "slapd to write its PID file")
    wait_until(lambda: answers(settings.host, port), 20, f"slapd on {settings.host}:{port}")
    started = read_pid(paths.pid_file)
    assert started is not None
    return started


def answers(host: str, port: int) -> bool:
    """Does slapd answer an anonymous bind? The connection is closed either way (a bind
    that fails half-way, e.g. while slapd is still starting, leaves its socket open)."""
    server = ldap3.Server(host, port=port, connect_timeout=1)
    conn = ldap3.Connection(server, receive_timeout=2)
    try:
        conn.open()
        return bool(conn.bind())
    except ldap3.core.exceptions.LDAPException:
        return False
    finally:
        discard(conn)


def stop(settings: Settings, node: int = 1) -> None:
    paths = paths_for(settings, node)
    stop_pid(read_pid(paths.pid_file), str(paths.config_dir))


def status(settings: Settings, node: int = 1) -> ProcessStatus:
    paths = paths_for(settings, node)
    pid = read_pid(paths.pid_file)
    return ProcessStatus("slapd" if node == 1 else f"slapd{node}", pid, is_running(pid, str(paths.config_dir)))


def load_offline(settings: Settings, ldif_file: Path) -> None:
    """Add the entries of an LDIF file with slapadd -q, the fast path for a first load
    of a large directory. slapd must be stopped; entries must come parents first."""
    if status(settings).running:
        raise StackError("stop slapd first: offline loading needs the database to itself")
    paths = paths_for(settings)
    run_tool([tool("slapadd"), "-q", "-n1", "-F", str(paths.config_dir), "-l", str(ldif_file)],
             what="slapadd of " + ldif_file.name)
