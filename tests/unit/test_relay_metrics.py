"""relay/metrics.py's reading of an SMTP answer: each reply of core/policy.py's table,
its placeholders filled, is counted under its own kind."""

from __future__ import annotations

import string

from mailgothai.core import policy as p
from mailgothai.relay.metrics import RelayMetrics, kind_of


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
