"""A relay started as its systemd unit starts it (`mailgothai --config FILE relay run`, in
the foreground, no PID file from `stack up`) is found by `relay health` and told by
`queue retry` (running_relay.py). Before, both looked for the stack's PID file and a
`--data-dir` command line: under systemd the relay was reported down and never told."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailgothai.settings import Settings
from mailgothai.stack.process import port_open
from relay.conftest import FakeRemote, MailDomain, other_relay_settings
from relay.helpers import message, submission, wait_for

pytestmark = pytest.mark.integration


def _cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILGOTHAI_")}
    return subprocess.run([sys.executable, "-m", "mailgothai.cli.main", "--config", str(config), *args],
                          capture_output=True, text=True, env=env, timeout=120, check=False)


@pytest.fixture
def unit_relay(relay: Settings) -> Iterator[tuple[Settings, Path]]:
    """A second relay of the stack's directory and SQL store, its settings in a file outside
    its data directory, run in the foreground as the unit's ExecStart runs it."""
    root = Path(tempfile.mkdtemp(prefix="mailgothai-unit-"))
    # only a notification retries
    settings = other_relay_settings(relay, root / "var", relay_retry_base=3600, relay_retry_max=3600)
    config = root / "etc" / "mailgothai.toml"
    config.parent.mkdir(mode=0o700)
    config.write_text(settings.to_toml(), encoding="utf-8")
    config.chmod(0o600)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILGOTHAI_")}
    with open(root / "relay.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "mailgothai.cli.main", "--config", str(config), "relay", "run"],
                                stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        wait_for(lambda: port_open(settings.host, settings.submission_port) or proc.poll() is not None,
                 "the relay to listen")
        assert proc.poll() is None, (root / "relay.log").read_text()
        yield settings, config
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        shutil.rmtree(root, ignore_errors=True)


def test_relay_health_finds_a_relay_started_as_the_unit_starts_it(unit_relay: tuple[Settings, Path]) -> None:
    settings, config = unit_relay
    assert not (settings.data_dir / "run" / "relay.pid").exists()  # nothing from `stack up`
    done = _cli(config, "relay", "health", "--json")
    report = json.loads(done.stdout)
    assert report["checks"]["process"] is True, report
    assert done.returncode == 0, report


def test_queue_retry_tells_a_relay_started_as_the_unit_starts_it(
        unit_relay: tuple[Settings, Path], mail_domain: MailDomain, remote: FakeRemote) -> None:
    settings, config = unit_relay
    sender = mail_domain.account("unit-sender")
    later = f"later-{uuid.uuid4().hex[:8]}@remote.example"
    remote.scripts[later] = ["451 4.3.0 try later"]
    with submission(settings, sender) as client:
        client.sendmail(sender, [later], message(sender, later, "retried-by-notification"))
    wait_for(lambda: remote.attempts[later] >= 1, "the first attempt")
    remote.scripts[later] = ["250 OK"]
    done = _cli(config, "queue", "retry", "--all")
    assert done.returncode == 0, done.stderr
    assert "the relay was told" in done.stdout
    [got] = wait_for(lambda: remote.messages_for(later), "the retry the notification asked for")
    assert b"Subject: retried-by-notification" in got


def test_a_second_relay_on_the_same_spool_is_refused(unit_relay: tuple[Settings, Path]) -> None:
    _settings, config = unit_relay
    done = _cli(config, "relay", "run")
    assert done.returncode != 0
    assert "a relay already runs" in done.stderr
