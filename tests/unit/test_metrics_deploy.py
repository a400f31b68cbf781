"""deploy/prometheus/alerts.yml and deploy/grafana/mailgothai.json name only metrics that
the relay, the web and Dovecot (deploy/dovecot/stats.conf.in) export: a renamed metric
would otherwise leave an alert that never fires and a panel that stays empty."""

from __future__ import annotations

import re
from types import SimpleNamespace

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from mailgothai.core.policy import R
from mailgothai.paths import PROJECT_ROOT
from mailgothai.relay.metrics import RelayMetrics
from mailgothai.web.metrics import WebMetrics

DEPLOY = PROJECT_ROOT / "deploy"
NAME = re.compile(r"\b(?:mailgothai|dovecot)_[a-z_]+")


def exported() -> set[str]:
    relay = RelayMetrics()
    tally = SimpleNamespace(totals=lambda: {("a.go.th", "junk"): 1})
    queue = SimpleNamespace(delivered=0, deferred=0, bounced=0, pending=0, oldest_id=lambda: None)
    relay.watch(SimpleNamespace(queue=queue, quota=SimpleNamespace(asked=0),  # type: ignore[arg-type]
                                gateway=SimpleNamespace(failovers=0), protection=SimpleNamespace(tally=tally)))
    relay.answered("mx", "rcpt", "550 5.1.1 No such user here: x@a.go.th")
    relay.answered("mx", "data", "250 2.0.0 Queued as x")
    relay.auth_refused(R.AUTH_FAILED)
    relay.dkim_signatures.inc()
    web = WebMetrics("", dict)
    web.requests.labels("/login", "GET", "200").inc()
    web.latency.labels("/login").observe(0.01)
    web.import_jobs.labels("done").set(0)
    names = {sample.name for text in (relay.text(), generate_latest(web.registry))
             for family in text_string_to_metric_families(text.decode()) for sample in family.samples}
    stats = (DEPLOY / "dovecot" / "stats.conf.in").read_text()
    for metric in re.findall(r"^metric (\w+) \{", stats, re.MULTILINE):
        names |= {f"dovecot_{metric}_total", f"dovecot_{metric}_duration_seconds_total"}
    return names


def test_alerts_and_dashboard_name_exported_metrics_only() -> None:
    names = exported()
    for path in (DEPLOY / "prometheus" / "alerts.yml", DEPLOY / "grafana" / "mailgothai.json"):
        used = set(NAME.findall(path.read_text()))
        assert used, path
        assert used <= names, (path.name, used - names)
