"""A private PostgreSQL cluster for the test suite, started on a free loopback port in a
temporary directory when MAILGOTHAI_TEST_SQL=postgresql, stopped at the end of the
session. Each stack the tests start gets a database of its own in it.

PostgreSQL refuses to run as root, so as root the cluster runs as the `postgres` user
that Debian's package creates.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

ENV_SWITCH = "MAILGOTHAI_TEST_SQL"


def wanted() -> bool:
    return os.environ.get(ENV_SWITCH, "sqlite").lower() in ("postgresql", "postgres", "pg")


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError(f"{name} not found: install Debian's postgresql package (scripts/install.sh does)")
    return found[-1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Cluster:
    root: Path
    port: int
    user: str

    @property
    def admin_url(self) -> str:
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/postgres"

    def _as_owner(self, *cmd: str) -> subprocess.CompletedProcess[str]:
        prefix = ["runuser", "-u", self.user, "--"] if os.geteuid() == 0 else []
        return subprocess.run([*prefix, *cmd], capture_output=True, text=True, check=False,
                              stdin=subprocess.DEVNULL)

    def start(self) -> None:
        data = self.root / "data"
        done = self._as_owner(_bin("initdb"), "-D", str(data), "-A", "trust", "-U", self.user, "-E", "UTF8",
                              "--locale=C.UTF-8")
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed: {done.stderr}")
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c fsync=on"
        done = self._as_owner(_bin("pg_ctl"), "-D", str(data), "-l", str(self.root / "log"), "-o", options,
                              "-w", "-t", "60", "start")
        if done.returncode != 0:
            raise RuntimeError(f"pg_ctl start failed: {done.stderr}{(self.root / 'log').read_text()}")

    def stop(self) -> None:
        self._as_owner(_bin("pg_ctl"), "-D", str(self.root / "data"), "-m", "fast", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def new_database(self) -> str:
        """A fresh, empty database; returns its SQLAlchemy URL."""
        import sqlalchemy

        name = f"mgt_{uuid.uuid4().hex[:12]}"
        engine = sqlalchemy.create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
        finally:
            engine.dispose()
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{name}"


_cluster: Cluster | None = None


def cluster() -> Cluster:
    """The session's cluster, started on first use."""
    global _cluster
    if _cluster is None:
        user = "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
        root = Path(tempfile.mkdtemp(prefix="mgt-pg-"))
        if os.geteuid() == 0:
            entry = pwd.getpwnam(user)
            os.chown(root, entry.pw_uid, entry.pw_gid)
        candidate = Cluster(root, _free_port(), user)
        candidate.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", candidate.port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        _cluster = candidate
    return _cluster


def stop() -> None:
    global _cluster
    if _cluster is not None:
        _cluster.stop()
        _cluster = None
