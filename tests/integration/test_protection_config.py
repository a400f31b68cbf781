"""rspamd's configuration as rspamd itself reads it (`rspamadm configdump` on what `stack up`
writes): only forced actions, greylisting of every unknown sender with the settings' delay,
resolvers from relay_dns, and nothing that asks the Internet."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mailgothai.settings import Secret, Settings
from mailgothai.stack import protection
from tests.conftest import stack_data_dir, stack_settings

pytestmark = pytest.mark.integration


@pytest.fixture
def data_dir() -> Iterator[Path]:
    with stack_data_dir("rspamd-config") as path:
        path.mkdir(mode=0o700)
        yield path


def configured(data_dir: Path, **overrides: object) -> tuple[Settings, dict[str, Any], list[str]]:
    """The settings, rspamd's whole configuration, and its enabled modules."""
    settings = stack_settings(data_dir, protection=1, rspamd_password=Secret("controller-secret-1"),
                              redis_password=Secret("redis-secret-1"), **overrides)
    protection.write_config(settings)
    argv = protection.rspamd_argv(settings)
    variables = [a for a in argv if a.startswith("--var=")]
    config = ["-c", argv[argv.index("-c") + 1]]

    def rspamadm(*args: str) -> str:
        done = subprocess.run(["rspamadm", *variables, "configdump", *args, *config], capture_output=True,
                              text=True, check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout

    modules = next(line for line in rspamadm("-m").splitlines() if line.startswith("Modules enabled:"))
    return settings, json.loads(rspamadm("-C")), modules.partition(":")[2].replace(",", " ").split()


def test_only_forced_actions_and_greylisting(data_dir: Path) -> None:
    settings, config, modules = configured(data_dir, greylist_delay=42)
    actions = config["actions"]
    assert actions["reject"] is None and actions["add_header"] is None and actions["rewrite_subject"] is None
    assert actions["greylist"] == protection.GREYLIST_MIN_SCORE
    assert {"greylist", "antivirus", "spf", "dkim", "dmarc", "phishing"} <= set(modules)
    assert config["greylist"]["timeout"] == 42
    assert config["greylist"]["check_local"] is True
    assert config["redis"]["servers"] == f"127.0.0.1:{settings.redis_port}"
    clamav = config["antivirus"]["clamav"]
    assert (clamav["symbol"], clamav["action"]) == ("CLAM_VIRUS", "reject")
    assert clamav["servers"] == str(protection.paths_for(settings).clamd_socket)


def test_nothing_enabled_asks_the_internet(data_dir: Path) -> None:
    _, config, modules = configured(data_dir, relay_dns="127.0.0.1:5353")
    for name in ("rbl", "fuzzy_check", "asn", "whitelist", "multimap", "url_redirector", "neural", "reputation"):
        assert name not in modules
    assert "hfilter" in modules  # with DNS
    for name in modules:
        section = json.dumps(config.get(name, {}))
        if name == "phishing":
            assert config[name]["openphish_enabled"] is False and config[name]["phishtank_enabled"] is False
            section = json.dumps(config[name]["exceptions"])
        if name != "regexp":  # (regular expressions that mention http)
            assert "https://" not in section and "http://" not in section, name


def test_resolvers_from_relay_dns(data_dir: Path) -> None:
    _, config, _ = configured(data_dir, relay_dns="127.0.0.1:5353, 2001:db8::53")
    assert config["options"]["dns"]["nameserver"] == ["127.0.0.1:5353", "[2001:db8::53]:53"]


def test_without_dns_lookups_fail_at_once(data_dir: Path) -> None:
    _, config, modules = configured(data_dir, relay_dns="off")
    assert config["options"]["dns"]["nameserver"] == ["127.0.0.1:9"]  # nothing listens there
    assert "hfilter" not in modules  # it would only score its own failed lookups
