"""Inbound protection's daemons as `stack up` runs them (settings.protection = 1): rspamd,
Redis and clamd on loopback, listed by `stack status --json`, scanning as the relay will ask
them (POST /checkv2), with DNS from a test server on loopback; the operator's Sieve script
files X-Spam: Yes into Junk; `stack down` stops them all."""

from __future__ import annotations

import base64
import grp
import json
import os
import pwd
import stat
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mailgothai.settings import Settings
from mailgothai.stack import manager, protection
from mailgothai.stack.process import children_of
from tests.conftest import run_main, stack_data_dir, stack_settings
from tests.dnsserver import DnsServer
from tests.integration.conftest import MailClients

pytestmark = pytest.mark.integration

GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
PASSWORD = "Protection-stack-2026"
SENDER_IP = "192.0.2.10"  # TEST-NET-1: what the tests' DNS says of it is all rspamd knows


@pytest.fixture(scope="module")
def dns() -> Iterator[DnsServer]:
    with DnsServer.running() as server:
        yield server


@pytest.fixture(scope="module")
def protected(dns: DnsServer) -> Iterator[Settings]:
    """A stack of its own with inbound protection, its DNS the test server."""
    with stack_data_dir("protection") as data_dir:
        settings = stack_settings(data_dir, protection=1, relay_dns=dns.address, greylist_delay=2)
        state = manager.up(settings)
        try:
            yield state.settings
        finally:
            manager.down(state.settings)


def message(sender: str, subject: str, body: str = "", extra: str = "") -> bytes:
    # a body of its own: greylisting also holds a body it saw a moment ago ("too early"),
    # and then checks nothing else
    body = body or f"The minutes of Tuesday's meeting, number {uuid.uuid4().hex}, are attached."
    return (f"From: <{sender}>\r\nTo: <clerk@recipient.example>\r\nSubject: {subject}\r\n"
            f"Date: Fri, 04 Dec 2026 10:00:00 +0700\r\nMessage-ID: <{uuid.uuid4().hex}@{sender.split('@')[1]}>\r\n"
            f"{extra}\r\n{body}\r\n").encode()


def check(settings: Settings, data: bytes, sender: str, ip: str = SENDER_IP, **headers: str) -> dict[str, Any]:
    """rspamd's answer, asked as the relay asks it."""
    request = urllib.request.Request(
        f"http://{settings.host}:{settings.rspamd_port}/checkv2", data=data, method="POST",
        headers={"From": sender, "Rcpt": "clerk@recipient.example", "IP": ip, "Helo": "mail.sender.example",
                 **headers})
    with urllib.request.urlopen(request, timeout=30) as reply:
        answer: dict[str, Any] = json.load(reply)
    return answer


def test_status_lists_rspamd_redis_and_clamd_running(protected: Settings) -> None:
    done = run_main(["--data-dir", str(protected.data_dir), "stack", "status", "--json"])
    assert done.returncode == 0, done.stderr
    status = json.loads(done.stdout)
    for name in ("rspamd", "redis", "clamd"):
        assert status["processes"][name]["running"], status["processes"]
        pid = status["processes"][name]["pid"]
        assert Path(f"/proc/{pid}").exists()
    assert status["running"]
    assert status["rspamd"] == f"http://127.0.0.1:{protected.rspamd_port}/"
    assert status["rspamd_controller"] == f"http://127.0.0.1:{protected.rspamd_controller_port}/"
    assert status["redis"] == f"127.0.0.1:{protected.redis_port}"
    assert Path(status["clamd"]).is_socket()


@pytest.mark.skipif(os.geteuid() != 0, reason="as another user, rspamd runs as that user")
def test_under_root_rspamd_parses_mail_as_its_own_user(protected: Settings) -> None:
    rspamd = next(p for p in protection.status(protected) if p.name == "rspamd")
    workers = children_of(rspamd.pid or 0)
    assert workers
    for pid in workers:
        uid = int(next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                       if line.startswith("Uid:")).split()[1])
        assert pwd.getpwuid(uid).pw_name == "_rspamd"


def test_gtube_is_rejected(protected: Settings) -> None:
    answer = check(protected, message("someone@sender.example", "test", GTUBE), "someone@sender.example")
    assert answer["action"] == "reject"
    assert "GTUBE" in answer["symbols"]


def test_an_eicar_attachment_is_a_virus(protected: Settings) -> None:
    body = ("--b\r\nContent-Type: text/plain\r\n\r\nSee the attachment.\r\n--b\r\n"
            "Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"test.bin\"\r\n"
            f"Content-Transfer-Encoding: base64\r\n\r\n{base64.b64encode(EICAR).decode()}\r\n--b--")
    data = message("someone@sender.example", "report", body,
                   'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n')
    answer = check(protected, data, "someone@sender.example")
    assert answer["action"] == "reject"
    assert answer["symbols"]["CLAM_VIRUS"]["options"] == ["MailGoThai.Test.EICAR.UNOFFICIAL"]
    # and when the relay asks about authenticated mail for viruses only (a Settings header)
    only = check(protected, data, "someone@sender.example", User="someone@sender.example",
                 Settings=json.dumps({"symbols_enabled": ["CLAM_VIRUS"], "actions": {"greylist": None}}))
    assert (only["action"], set(only["symbols"])) == ("reject", {"CLAM_VIRUS"})


def test_a_virus_in_a_part_with_no_file_name_is_found(protected: Settings) -> None:
    body = ("--b\r\nContent-Type: text/plain\r\n\r\nHello.\r\n--b\r\nContent-Type: application/octet-stream\r\n"
            f"Content-Transfer-Encoding: base64\r\n\r\n{base64.b64encode(EICAR).decode()}\r\n--b--")
    data = message("someone@sender.example", "no name", body,
                   'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n')
    answer = check(protected, data, "someone@sender.example")
    assert answer["action"] == "reject"
    assert answer["symbols"]["CLAM_VIRUS"]["options"] == ["MailGoThai.Test.EICAR.UNOFFICIAL"]


def test_no_score_alone_rejects_or_marks(protected: Settings) -> None:
    """Only forced actions: the relay applies each domain's thresholds to the score."""
    spammy = message("winner@sender.example", "YOU HAVE WON!!! CLAIM YOUR PRIZE NOW $$$",
                     "Dear friend, click http://192.0.2.99/claim to receive USD 1,000,000 " * 20)
    answer = check(protected, spammy, "winner@sender.example", User="winner@sender.example")
    assert answer["score"] > 0
    assert answer["action"] in ("no action", "greylist")


def test_dmarc_reject_policy_of_a_failing_sender(protected: Settings, dns: DnsServer) -> None:
    dns.set("strict-agency.org", "TXT", "v=spf1 ip4:198.51.100.7 -all")
    dns.set("_dmarc.strict-agency.org", "TXT", "v=DMARC1; p=reject")
    answer = check(protected, message("ceo@strict-agency.org", "wire transfer"), "ceo@strict-agency.org")
    assert "R_SPF_FAIL" in answer["symbols"]
    assert "DMARC_POLICY_REJECT" in answer["symbols"]
    assert ("_dmarc.strict-agency.org.", "TXT") in dns.asked()  # asked the test's server


def test_spf_of_a_sender_from_its_own_address_passes(protected: Settings, dns: DnsServer) -> None:
    dns.set("open-agency.org", "TXT", f"v=spf1 ip4:{SENDER_IP} -all")
    dns.set("_dmarc.open-agency.org", "TXT", "v=DMARC1; p=reject")
    answer = check(protected, message("clerk@open-agency.org", "minutes"), "clerk@open-agency.org")
    assert "R_SPF_ALLOW" in answer["symbols"]
    assert "DMARC_POLICY_ALLOW" in answer["symbols"]
    assert "DMARC_POLICY_REJECT" not in answer["symbols"]


def test_an_unknown_sender_is_greylisted_then_accepted(protected: Settings) -> None:
    sender = f"new-{uuid.uuid4().hex[:8]}@sender.example"
    data = message(sender, "first contact")
    # a loopback client too (the relay's tests send from 127.0.0.1): check_local is on
    first = check(protected, data, sender, ip="127.0.0.1")
    assert first["action"] == "soft reject"
    assert "greylisted" in first["symbols"]["GREYLIST"]["options"]
    time.sleep(protected.greylist_delay + 1)
    again = check(protected, data, sender, ip="127.0.0.1")
    assert again["action"] == "no action"
    assert again["symbols"]["GREYLIST"]["options"][0] == "pass"


def test_the_controller_wants_its_password(protected: Settings) -> None:
    url = f"http://{protected.host}:{protected.rspamd_controller_port}/stat"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(url, timeout=10)
    refused.value.close()
    assert refused.value.code == 401
    asked = urllib.request.Request(url, headers={"Password": str(protected.rspamd_password)})
    with urllib.request.urlopen(asked, timeout=10) as reply:
        assert "scanned" in json.load(reply)


def test_the_controller_learns_spam_and_ham(protected: Settings) -> None:
    """What the quarantine's teaching does; learned into Redis (Bayes statistics)."""
    def post(path: str, data: bytes) -> tuple[int, bytes]:
        request = urllib.request.Request(f"http://{protected.host}:{protected.rspamd_controller_port}/{path}",
                                         data=data, headers={"Password": str(protected.rspamd_password)})
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, reply.read()

    words = " ".join(f"tender{n} procurement ministry budget" for n in range(20))
    assert post("learnspam", message("a@sender.example", "tender", words)) == (200, b'{"success":true}')
    assert post("learnham", message("b@sender.example", "budget", words + " approved")) == (200, b'{"success":true}')
    # too short to learn (under 11 words): skipped, 204 and no body
    assert post("learnspam", b"Subject: hi\r\n\r\nhello\r\n")[0] == 204
    stat = urllib.request.Request(f"http://{protected.host}:{protected.rspamd_controller_port}/stat",
                                  headers={"Password": str(protected.rspamd_password)})
    with urllib.request.urlopen(stat, timeout=10) as reply:
        assert json.load(reply)["learned"] == 2


def test_spam_marked_by_the_relay_goes_to_junk(protected: Settings) -> None:
    domain = f"junk-{uuid.uuid4().hex[:8]}.example"
    email = f"reader@{domain}"
    for args in (("domain", "add", domain), ("account", "add", email, "--password-stdin")):
        done = run_main(["--data-dir", str(protected.data_dir), *args], stdin=PASSWORD + "\n")
        assert done.returncode == 0, done.stderr
    mail = MailClients(protected)
    mail.deliver(email, message("a@sender.example", "offer", extra="X-Spam: Yes\r\n"))
    mail.deliver(email, message("b@sender.example", "minutes", extra="X-Spam: No\r\n"))
    mail.deliver(email, message("c@sender.example", "agenda"))
    with mail.imap(email, PASSWORD) as imap:
        found = {name: imap.folder_status(name, ["MESSAGES"])[b"MESSAGES"] for _, _, name in imap.list_folders()}
        subscribed = [name for _, _, name in imap.list_sub_folders()]
        junk_flags = next(flags for flags, _, name in imap.list_folders() if name == "Junk")
    assert found == {"INBOX": 2, "Junk": 1}
    # and mail clients show it as the junk folder, even those that list subscribed folders only
    assert "Junk" in subscribed
    assert b"\\Junk" in junk_flags


def test_their_files_are_owner_only(protected: Settings) -> None:
    data = protected.data_dir.resolve()
    paths = [data / "log" / f"{name}.log" for name in ("rspamd", "redis", "clamd")]
    for top in ("rspamd", "redis", "clamav"):
        paths.extend(p for p in (data / top).rglob("*") if not p.is_socket())
        paths.append(data / top)
    assert {"rspamd.conf", "redis.conf", "clamd.conf", "mailgothai-eicar.ndb"} <= {p.name for p in paths}
    # under root, rspamd's workers (_rspamd) pass through these two (x only) to their state and clamd's socket
    passed = {data / "rspamd", data / "clamav"} if os.geteuid() == 0 else set()
    assert all(stat.S_IMODE(p.stat().st_mode) == (0o711 if p in passed else 0o700) for p in paths if p.is_dir())
    # rspamd writes the caches it makes while running 0644 whatever the umask: in its
    # 0700 directory, like everything here
    made_later = {p for p in paths if p.parent == data / "rspamd" / "db" and (".hs" in p.name or p.suffix == ".rrd")}
    loose = {str(p): oct(stat.S_IMODE(p.stat().st_mode)) for p in paths
             if p.stat().st_mode & 0o077 and p not in made_later | passed}
    assert loose == {}
    # clamd's socket: its owner's, and under root also rspamd's workers' group
    sock = (data / "clamav" / "clamd.sock").stat()
    assert stat.S_IMODE(sock.st_mode) == (0o660 if passed else 0o600)
    if passed:
        assert grp.getgrgid(sock.st_gid).gr_name == "_rspamd"


def test_up_again_keeps_them(protected: Settings) -> None:
    before = {p.name: p.pid for p in protection.status(protected)}
    state = manager.up(protected)
    assert {p.name: p.pid for p in state.processes if p.name in before} == before
    assert all(p.running for p in state.processes)


def test_down_stops_them(protected: Settings) -> None:
    pids: dict[str, int | None] = {p.name: p.pid for p in protection.status(protected)}
    assert all(pids.values())
    workers = children_of(pids["rspamd"] or 0)  # its normal worker, controller, hs_helper
    assert len(workers) >= 2
    pids.update({f"rspamd worker {pid}": pid for pid in workers})
    state = manager.down(protected)
    assert not any(p.running for p in state.processes)
    for name, pid in pids.items():
        assert not Path(f"/proc/{pid}").exists() or _zombie(pid), name


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] == "Z"
    except OSError:
        return True


