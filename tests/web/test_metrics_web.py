"""GET /metrics of the web served for real (uvicorn): requests counted by route template
and status after a page load, read with prometheus-client's text parser; answered to
this host, refused to a client elsewhere (a proxy on this host passing it on with
X-Forwarded-For) unless it sends the metrics token made by `stack up`."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from mailgothai.store.jobs import JobState
from tests.web.conftest import Live

ELSEWHERE = {"X-Forwarded-For": "203.0.113.9"}


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def scrape(live: Live) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    answer = httpx.get(live.url + "/metrics", timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    return samples(answer.text)


def test_a_page_load_is_counted_by_its_route_and_status(live: Live) -> None:
    login = ("mailgothai_web_requests_total", frozenset({("route", "/login"), ("method", "GET"), ("status", "200")}))
    before = scrape(live).get(login, 0.0)
    assert httpx.get(live.url + "/login", timeout=30).status_code == 200
    assert httpx.get(live.url + "/no-such-page", timeout=30).status_code == 404
    after = scrape(live)
    assert after[login] == before + 1
    unmatched = ("mailgothai_web_requests_total", frozenset({("route", "unmatched"), ("method", "GET"),
                                                            ("status", "404")}))
    assert after[unmatched] >= 1
    assert after[("mailgothai_web_request_seconds_count", frozenset({("route", "/login")}))] >= 1
    for state in JobState:
        assert ("mailgothai_web_import_jobs", frozenset({("state", state.value)})) in after


def test_refused_elsewhere_without_the_token_and_served_with_it(live: Live) -> None:
    token = str(live.settings.metrics_token)
    assert token, "stack up makes the metrics token"
    assert httpx.get(live.url + "/metrics", headers=ELSEWHERE, timeout=30).status_code == 403
    wrong = ELSEWHERE | {"Authorization": "Bearer " + token + "x"}
    assert httpx.get(live.url + "/metrics", headers=wrong, timeout=30).status_code == 403
    right = ELSEWHERE | {"Authorization": "Bearer " + token}
    answer = httpx.get(live.url + "/metrics", headers=right, timeout=30)
    assert answer.status_code == 200
    assert any(name == "mailgothai_web_requests_total" for name, _ in samples(answer.text))
