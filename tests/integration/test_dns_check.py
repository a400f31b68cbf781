"""`mailgothai dns show|check` and the DNS service (issue 19) against the session's stack
and a DNS server on loopback (tests/dnsserver.py): the zone file `dns show --zone` prints
loads in dnspython and, published as it is, checks all ok; a missing DMARC record and a
wrong SPF record are named (CLI and service), with exit status 1; `--all` over several
domains; a resolver that never answers is "could not ask", not a crash; a domain admin is
refused on another domain's records. The judging itself: tests/unit/test_dns_records.py."""

from __future__ import annotations

import contextlib
import json
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import dns.zone
import pytest

from mailgothai.core.models import Role
from mailgothai.errors import NotFound, PermissionDenied
from mailgothai.services.actor import Actor
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.registry import Services
from mailgothai.settings import Settings
from tests.conftest import Cli
from tests.dnsserver import DnsServer

pytestmark = pytest.mark.sql

OPERATOR = {"mx_hosts": ("mx1.mailgothai.go.th", "mx2.mailgothai.go.th"), "web_hostname": "admin.mailgothai.go.th",
            "mail_hostname": "mail.mailgothai.go.th", "dmarc_report_address": "dmarc@mailgothai.go.th"}


@pytest.fixture(scope="module")
def dns_server() -> Iterator[DnsServer]:
    with DnsServer.running() as server:
        yield server


@pytest.fixture
def settings(stack: Settings, dns_server: DnsServer) -> Settings:
    return stack.replace(**OPERATOR, dns_check_resolver=dns_server.address, dns_check_timeout=2)


@pytest.fixture
def config(settings: Settings, tmp_path: Path) -> Path:
    """The operator's settings file with the DNS choices: the CLI reads it (--config)."""
    path = tmp_path / "mailgothai.toml"
    path.write_text(settings.to_toml(), encoding="utf-8")
    path.chmod(0o600)
    return path


@contextlib.contextmanager
def operator(settings: Settings) -> Iterator[Services]:
    with Services.open(settings, Actor("dns-test", Role.SUPERADMIN, origin="test")) as svc:
        yield svc


def new_domains(settings: Settings, count: int) -> list[str]:
    tag = uuid.uuid4().hex[:8]
    names = [f"dns{n}-{tag}.go.th" for n in range(count)]
    with operator(settings) as svc:
        for name in names:
            svc.domains.add(name, description="กรมทดสอบ")
            svc.dkim.generate(name)
    return names


def publish_zone(server: DnsServer, text: str, origin: str) -> None:
    """Every record of a zone file, served as it is; and the operator's consent to receive
    the domain's DMARC reports, which goes in the operator's own zone."""
    server.set(f"{origin}._report._dmarc.mailgothai.go.th", "TXT", "v=DMARC1")
    server.publish_zone(text, origin)


def show_zone(cli: Cli, config: Path, domain: str) -> str:
    shown = cli("--config", str(config), "dns", "show", domain, "--zone")
    assert shown.returncode == 0, shown.stderr
    return shown.stdout


def test_published_as_shown_checks_ok_then_a_missing_dmarc_and_a_wrong_spf_are_named(
        cli: Cli, config: Path, settings: Settings, dns_server: DnsServer) -> None:
    [domain] = new_domains(settings, 1)
    with operator(settings) as svc:
        [key] = svc.dkim.list(domain)
    zone = show_zone(cli, config, domain)
    # what an agency's DNS administrator is asked to publish, as the records read
    assert f'{domain}. 3600 IN TXT "v=spf1 mx -all"' in zone
    assert f"{domain}. 3600 IN MX 10 mx1.mailgothai.go.th." in zone
    assert f'_dmarc.{domain}. 3600 IN TXT "v=DMARC1; p=quarantine; rua=mailto:dmarc@mailgothai.go.th"' in zone
    assert f"mta-sts.{domain}. 3600 IN CNAME admin.mailgothai.go.th." in zone
    loaded = dns.zone.from_text(zone, origin=f"{domain}.", check_origin=False)
    dkim = loaded.get_rdataset(f"{key.selector}._domainkey", "TXT")
    assert dkim is not None and b"".join(next(iter(dkim)).strings).decode() == key.public_record

    publish_zone(dns_server, zone, domain)
    ok = cli("--config", str(config), "dns", "check", domain)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.startswith(f"{domain}: all records ok")

    dns_server.clear(f"_dmarc.{domain}")
    dns_server.set(domain, "TXT", "v=spf1 mx +all")
    bad = cli("--config", str(config), "dns", "check", domain)
    assert bad.returncode == 1
    assert bad.stdout.startswith(f"{domain}: 1 missing, 1 wrong")
    assert f"MISSING       dmarc                  _dmarc.{domain} TXT: _dmarc.{domain} does not exist in DNS" \
        in bad.stdout
    assert f"WRONG         spf                    {domain} TXT: '+all' at the end lets any server send mail as " \
           "the domain" in bad.stdout
    assert "publish: v=spf1 mx -all" in bad.stdout
    as_json = json.loads(cli("--config", str(config), "dns", "check", domain, "--json").stdout)
    states = {f["purpose"]: (f["state"], f["code"]) for f in as_json["domains"][0]["findings"]}
    assert states["dmarc"] == ("missing", "dns_no_such_name") and states["spf"] == ("wrong", "dns_spf_allows_all")
    assert as_json["ok"] is False and [p for p, (s, _) in states.items() if s != "ok"] == ["spf", "dmarc"]

    # the service says the same, with the reasons as data
    with operator(settings) as svc:
        result = svc.dns.check(domain)
    assert not result.ok
    assert {f.purpose.value: f.state.value for f in result.findings if f.state.value != "ok"} == {
        "spf": "wrong", "dmarc": "missing"}
    spf = next(f for f in result.findings if f.purpose.value == "spf")
    assert spf.found == ("v=spf1 mx +all",) and spf.expected == ("v=spf1 mx -all",)


def test_show_as_a_table_with_the_mta_sts_policy(settings: Settings, cli: Cli, config: Path) -> None:
    [domain] = new_domains(settings, 1)
    shown = cli("--config", str(config), "dns", "show", domain)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert [line.split() for line in lines if line.startswith(f"{domain} ")] == [
        [domain, "MX", "10", "mx1.mailgothai.go.th"], [domain, "MX", "20", "mx2.mailgothai.go.th"],
        [domain, "TXT", "v=spf1", "mx", "-all"]]
    assert lines[-6:] == [f"The MTA-STS policy served at https://mta-sts.{domain}/.well-known/mta-sts.txt:",
                          "version: STSv1", "mode: testing", "mx: mx1.mailgothai.go.th", "mx: mx2.mailgothai.go.th",
                          "max_age: 604800"]


def test_two_spf_records_and_a_dmarc_without_a_policy(settings: Settings, dns_server: DnsServer, cli: Cli,
                                                      config: Path) -> None:
    [domain] = new_domains(settings, 1)
    publish_zone(dns_server, show_zone(cli, config, domain), domain)
    dns_server.set(domain, "TXT", "v=spf1 mx -all", "v=spf1 include:_spf.google.com ~all")
    dns_server.set(f"_dmarc.{domain}", "TXT", "v=DMARC1; rua=mailto:dmarc@mailgothai.go.th")
    with operator(settings) as svc:
        result = svc.dns.check(domain)
    assert {f.purpose.value: f.reason.code for f in result.findings if f.reason} == {
        "spf": "dns_many_records", "dmarc": "dns_dmarc_no_policy"}


def test_all_domains_are_checked_together(settings: Settings, dns_server: DnsServer, cli: Cli,
                                          config: Path) -> None:
    names = new_domains(settings, 5)
    for name in names:
        publish_zone(dns_server, show_zone(cli, config, name), name)
    dns_server.set(f"_dmarc.{names[2]}", "TXT", "v=DMARC1; p=none; rua=mailto:dmarc@mailgothai.go.th")
    run = cli("--config", str(config), "dns", "check", "--all", "--parallel", "3", "--json")
    assert run.returncode == 1  # the session's other domains publish nothing, and names[2] is wrong
    results = {d["domain"]: d for d in json.loads(run.stdout)["domains"]}
    with operator(settings) as svc:
        hosted = {d.name for d in svc.domains.list()}
    assert set(results) >= hosted and set(names) <= set(results)
    assert [n for n in names if results[n]["ok"]] == [names[0], names[1], names[3], names[4]]
    [wrong] = [f for f in results[names[2]]["findings"] if f["state"] != "ok"]
    assert (wrong["purpose"], wrong["code"]) == ("dmarc", "dns_dmarc_monitor_only")
    text = cli("--config", str(config), "dns", "check", "--all")
    assert f"{names[0]}: all records ok" in text.stdout and f"{names[2]}: 1 wrong" in text.stdout
    assert text.stdout.rstrip().endswith("with records missing or wrong")


def test_a_resolver_that_never_answers_is_could_not_ask(settings: Settings, cli: Cli, config: Path) -> None:
    [domain] = new_domains(settings, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:  # takes the questions, answers none
        silent.bind(("127.0.0.1", 0))
        port = silent.getsockname()[1]
        run = cli("--config", str(config), "dns", "check", domain, "--resolver", f"127.0.0.1:{port}", "--json")
    assert run.returncode == 1, run.stderr
    findings = json.loads(run.stdout)["domains"][0]["findings"]
    assert {f["state"] for f in findings} == {"unknown"}
    assert all(f["code"] == "dns_not_asked" and "within 2 s" in f["reason"] for f in findings)
    refused = cli("--config", str(config), "dns", "check", domain, "--resolver", "nameserver.example")
    assert refused.returncode == 2 and "resolver: not a valid DNS server" in refused.stderr


def test_a_domain_admin_is_refused_on_another_domains_records(settings: Settings) -> None:
    mine, other = new_domains(settings, 2)
    login = f"dnsadmin-{uuid.uuid4().hex[:6]}"
    with operator(settings) as svc:
        svc.admins.add(login, Role.DOMAIN_ADMIN, PasswordInput(plain="Dns-test-pass-1"), domains=(mine,))
    admin = Actor(login, Role.DOMAIN_ADMIN, frozenset({mine}), origin="test")
    with Services.open(settings, admin) as svc:
        assert svc.dns.records(mine).domain == mine
        for attempt in (lambda: svc.dns.records(other), lambda: svc.dns.check(other)):
            with pytest.raises(NotFound):
                attempt()
        with pytest.raises(PermissionDenied):
            svc.dns.check_all()


def test_settings_that_cannot_make_the_records_are_named(cli: Cli, stack: Settings, tmp_path: Path) -> None:
    path = tmp_path / "mailgothai.toml"
    path.write_text(stack.replace(relay_hostname="vm", mx_hosts=()).to_toml(), encoding="utf-8")
    path.chmod(0o600)
    [domain] = new_domains(stack, 1)
    run = cli("--config", str(path), "dns", "show", domain)
    assert run.returncode == 2
    assert run.stderr == ("mailgothai: error: relay_hostname: domain needs at least two labels (e.g. agency.go.th)\n")
