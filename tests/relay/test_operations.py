"""Operations: stack status shows the relay's listeners, `relay health` answers, and
every message leaves one structured log line when accepted and one per attempt."""

from __future__ import annotations

import json

import pytest
from conftest import Cli

from mailgothai.settings import Settings
from mailgothai.stack import manager
from relay.conftest import MailDomain
from relay.helpers import message, submission, wait_for, wait_for_messages

pytestmark = pytest.mark.integration


def test_stack_status_lists_the_relay_and_its_ports(relay: Settings) -> None:
    out = Cli(relay)("stack", "status", "--json")
    data = json.loads(out.stdout)
    assert data["smtp"] == f"127.0.0.1:{relay.smtp_port}"
    assert data["submission"] == f"127.0.0.1:{relay.submission_port}"
    assert data["smtps"] == f"127.0.0.1:{relay.smtps_port}"
    assert data["processes"]["relay"]["running"] is True


def test_relay_health(relay: Settings) -> None:
    out = Cli(relay)("relay", "health", "--json")
    assert out.returncode == 0, out.stdout + out.stderr
    report = json.loads(out.stdout)
    assert report["healthy"] is True
    assert set(report["checks"]) == {"process", "smtp", "submission", "smtps", "lmtp"}
    assert "messages" in report["queue"]


def test_one_structured_log_line_per_message_event(relay: Settings, mail_domain: MailDomain) -> None:
    sender, reader = mail_domain.account("logged"), mail_domain.account("reader")
    with submission(relay, sender) as client:
        client.sendmail(sender, [reader], message(sender, reader, "logged"))
    wait_for_messages(relay, reader)
    log_file = manager.RELAY.log_file(relay)

    def events() -> list[dict[str, object]] | None:
        found = []
        for line in log_file.read_text(errors="replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("sender") == sender:
                found.append(record)
        return found if {"accepted", "attempt"} <= {str(r.get("event")) for r in found} else None

    records = wait_for(events, "the accepted and attempt log lines")
    accepted = next(r for r in records if r["event"] == "accepted")
    attempt = next(r for r in records if r["event"] == "attempt")
    assert accepted["queue_id"] == attempt["queue_id"] and accepted["recipients"] == [reader]
    assert attempt["result"] == "delivered" and str(attempt["recipients"][reader]).startswith("250")  # type: ignore[index]
    assert isinstance(attempt["ms"], float) and isinstance(accepted["at"], float)
