"""The relay's Prometheus endpoint (relay/metrics.py), scraped over HTTP from the running
relay after real SMTP traffic and read with prometheus-client's own text parser: each
counter moves by what the traffic did, labelled by the reply's kind."""

from __future__ import annotations

import base64
import socket

import httpx
import pytest
from imapclient import IMAPClient
from imapclient.exceptions import LoginError
from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics_families
from prometheus_client.parser import text_string_to_metric_families

from mailgothai.settings import Settings
from mailgothai.stack.manager import metrics_urls
from relay.conftest import MailDomain
from relay.helpers import PASSWORD, message, mx, reload_relay, submission, wait_for, wait_for_messages

pytestmark = [pytest.mark.integration, pytest.mark.sql]


def scrape(settings: Settings) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """(sample name, labels) -> value, as Prometheus would read them."""
    answer = httpx.get(metrics_urls(settings)["relay"], timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(answer.text) for s in family.samples}


def value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_counters_move_with_the_traffic(relay: Settings, mail_domain: MailDomain) -> None:
    mail_domain.services.dkim.generate(mail_domain.name, "ed25519")
    reload_relay(relay)
    sender, reader = mail_domain.account("somchai"), mail_domain.account("malee")
    before = scrape(relay)

    with submission(relay, sender) as client:
        assert client.sendmail(sender, [reader], message(sender, reader, "counted")) == {}
    wait_for_messages(relay, reader)
    with mx(relay) as client:
        client.mail("someone@remote.test")
        code, _ = client.rcpt(f"nobody@{mail_domain.name}")
        assert code == 550
    with submission(relay) as client:  # one AUTH (smtplib's login() tries PLAIN, then LOGIN)
        wrong = base64.b64encode(f"\0{sender}\0{PASSWORD}-wrong".encode()).decode()
        assert client.docmd("AUTH", "PLAIN " + wrong)[0] == 535

    def delivery_counted() -> dict[tuple[str, frozenset[tuple[str, str]]], float] | None:
        now, name = scrape(relay), "mailgothai_relay_delivered_total"
        return now if value(now, name) > value(before, name) else None

    after = wait_for(delivery_counted, "the delivery counted")

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("mailgothai_relay_accepted_total", listener="submission") == 1
    assert grew("mailgothai_relay_refused_total", listener="mx", stage="rcpt", reason="unknown_user") == 1
    assert grew("mailgothai_relay_auth_failures_total", reason="auth_failed") == 1
    assert grew("mailgothai_relay_dkim_signatures_total") == 1
    assert grew("mailgothai_relay_delivered_total") >= 1
    assert grew("mailgothai_relay_quota_questions_total") >= 1  # the new mailbox's room, asked of Dovecot
    assert ("mailgothai_relay_queue_messages", frozenset()) in after
    assert ("mailgothai_relay_queue_oldest_seconds", frozenset()) in after
    assert ("mailgothai_relay_ldap_failovers_total", frozenset()) in after


def test_only_the_metrics_path_is_served(relay: Settings) -> None:
    base = metrics_urls(relay)["relay"].removesuffix("/metrics")
    assert base.startswith("http://127.0.0.1:")
    assert httpx.get(base + "/", timeout=30).status_code == 404
    assert httpx.get(base + "/metrics?x=1", timeout=30).status_code == 200
    port = int(base.rpartition(":")[2])
    for garbage in (b"\r\n\r\n", b"POST /metrics HTTP/1.1\r\n\r\n"):
        with socket.create_connection(("127.0.0.1", port), timeout=30) as raw:
            raw.sendall(garbage)
            assert raw.recv(100).startswith(b"HTTP/1.1 404 ")
    assert httpx.head(base + "/metrics", timeout=30).status_code == 200


def test_dovecot_serves_its_own_metrics(relay: Settings, mail_domain: MailDomain) -> None:
    """deploy/dovecot/stats.conf.in: Dovecot's stats service on loopback, OpenMetrics text."""
    sender, reader = mail_domain.account("somsak"), mail_domain.account("wipa")
    with submission(relay, sender) as client:
        assert client.sendmail(sender, [reader], message(sender, reader, "seen by dovecot")) == {}
    wait_for_messages(relay, reader)  # delivered over LMTP, then an IMAP login that succeeds
    with IMAPClient(relay.host, port=relay.imap_port, ssl=False, timeout=30) as imap, pytest.raises(LoginError):
        imap.login(reader, PASSWORD + "-wrong")

    def counted() -> dict[str, float] | None:
        answer = httpx.get(metrics_urls(relay)["dovecot"], timeout=30)
        assert answer.status_code == 200, answer.text
        totals: dict[str, float] = {}
        for family in openmetrics_families(answer.text):
            for sample in family.samples:  # labelled samples (imap_command's reply states) summed
                totals[sample.name] = totals.get(sample.name, 0) + sample.value
        wanted = ("dovecot_auth_success_total", "dovecot_auth_failure_total", "dovecot_mail_delivery_total")
        return totals if all(totals.get(name, 0) >= 1 for name in wanted) else None

    totals = wait_for(counted, "Dovecot's counts of the login, the failed login and the delivery")
    assert totals.get("dovecot_imap_command_total", 0) >= 1, totals
