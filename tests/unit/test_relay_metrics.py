"""relay/metrics.py's reading of an SMTP answer: each reply of core/policy.py's table,
its placeholders filled, is counted under its own kind."""

from __future__ import annotations

import string

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily
from prometheus_client.parser import text_string_to_metric_families

from mailgothai.core import policy as p
from mailgothai.relay.metrics import RelayMetrics, kind_of, protection_text


def test_every_reply_is_read_back_as_its_own_kind() -> None:
    for kind, template in p.REPLIES.items():
        names = [name for _, name, _, _ in string.Formatter().parse(template.text) if name]
        answer = str(p.reply(kind, **{name: "From: x@y.go.th" for name in names}))
        assert kind_of(answer) == kind.value, answer


def test_an_answer_not_in_the_table_is_other() -> None:
    assert kind_of("503 5.5.1 Error: nested MAIL command") == "other"


def test_refusals_and_acceptances_are_counted_apart() -> None:
    metrics = RelayMetrics()
    metrics.answered("mx", "rcpt", str(p.reply(p.R.UNKNOWN_USER, address="a@b.go.th")))
    metrics.answered("mx", "rcpt", str(p.reply(p.R.OK_RECIPIENT)))
    metrics.answered("mx", "data", str(p.reply(p.R.QUEUED, queue_id="x")))
    text = metrics.text().decode()
    assert 'mailgothai_relay_refused_total{listener="mx",reason="unknown_user",stage="rcpt"} 1.0' in text
    assert 'mailgothai_relay_accepted_total{listener="mx"} 1.0' in text
    assert "ok_recipient" not in text


def test_protection_text_reads_as_prometheus_client_would_write_it() -> None:
    totals = {("a.go.th", "junk"): 3, ("b.go.th", "reject"): 12345678901, ('odd"\\\n.go.th', "virus"): 1}
    family = CounterMetricFamily("mailgothai_relay_protection", "Inbound protection outcomes per domain",
                                 labels=["domain", "outcome"])
    for (domain, outcome), count in totals.items():
        family.add_metric([domain, outcome], count)
    class One:
        def collect(self) -> list[CounterMetricFamily]:
            return [family]

    registry = CollectorRegistry()
    registry.register(One())  # type: ignore[arg-type]

    def read(text: bytes) -> list[tuple[str, list[tuple[str, str]], float]]:
        return sorted((s.name, sorted(s.labels.items()), s.value)
                      for f in text_string_to_metric_families(text.decode()) for s in f.samples)

    assert read(protection_text(totals)) == read(generate_latest(registry))
    assert read(protection_text({})) == []
