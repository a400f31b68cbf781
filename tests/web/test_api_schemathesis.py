"""Property-based tests of the API against its own OpenAPI document: schemathesis 4's
engine, in process through ASGI, with an operator's token, bounded to a few hundred cases
(its examples, coverage and fuzzing phases; a fixed seed, so a failure comes back).

Checked on every answer: no 5xx; a status code the document lists for the operation; the
documented content type; a body valid by the documented schema. Requests the document
refuses are refused (4xx); a method a path lacks is a 405 with `Allow`.

Requests the document allows are accepted (not 400) where the document can say all the
rules: operations without a request body (path names, paging, search text). Request
bodies and the audit and quarantine filters carry domain names, addresses, sizes and times whose rules
(IDNA labels, a quota within the domain's pool, an admin's domains) the document states
in words only; their refusals are 400 problems naming the field and the reason, checked
by test_api.py, test_api_conformance.py and the CLI's error tests.

Values seen in answers are not reused as input (extra data sources off): the operator's
token could otherwise suspend or delete the session's shared test world."""

from __future__ import annotations

import collections
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from schemathesis import engine
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status as CheckStatus
from schemathesis.engine import events
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from mailgothai.core.models import Role, Status
from mailgothai.services.actor import Actor
from mailgothai.services.registry import Services
from mailgothai.store.login_budget import LoginTallies
from mailgothai.web.app import create_app
from tests.web.conftest import World

pytestmark = pytest.mark.sql

CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_schema_conformance", "negative_data_rejection", "positive_data_acceptance",
          "unsupported_method")
NO_LEARNING = {"extra-data-sources": {"responses": False}}
# Where the document cannot say every rule of the input (see the docstring).
RULES_IN_WORDS = [
    {"include-method": ["POST", "PATCH"], "checks": {"positive_data_acceptance": {"enabled": False}}},
    {"include-path": "/api/v1/audit", "checks": {"positive_data_acceptance": {"enabled": False}}},
    # the quarantine's filters: a domain name and an address (issue 18)
    {"include-path": "/api/v1/quarantine", "include-method": "GET",
     "checks": {"positive_data_acceptance": {"enabled": False}}},
    # A CSV upload is bytes: a "wrong type" (the number 1323) sent as text/csv is the valid file "1323".
    {"include-path": ["/api/v1/imports", "/api/v1/domain-imports"], "include-method": "POST",
     "checks": {"negative_data_rejection": {"enabled": False}}},
]


@dataclass
class Outcome:
    cases: collections.Counter[str] = field(default_factory=collections.Counter)
    operations: set[str] = field(default_factory=set)
    failures: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


SEED = 20261203


def config(headers: dict[str, str], max_examples: int, operations: list[dict[str, Any]],
           seed: int = SEED) -> SchemathesisConfig:
    return SchemathesisConfig.from_dict({
        "headers": headers,
        "seed": seed,
        "generation": {"mode": "all", "max-examples": max_examples},
        "phases": {"examples": NO_LEARNING, "coverage": {**NO_LEARNING, "unexpected-methods": ["PUT"],
                                                           "generation": {"mode": "positive"}},
                   "fuzzing": {**NO_LEARNING, "error-feedback": {"enabled": False}},
                   "stateful": {"enabled": False}},
        "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
        "operations": operations,
    })


def run(app: Any, cfg: SchemathesisConfig, path: str = "/api/v1/openapi.json") -> Outcome:
    outcome = Outcome()
    schema = schemathesis.openapi.from_asgi(path, app, config=cfg)
    for event in engine.from_schema(schema).execute():
        if isinstance(event, (events.ScenarioFinished, events.FuzzScenarioFinished)):
            recorder = event.recorder
            outcome.cases[str(getattr(event, "phase", "fuzzing"))] += len(recorder.cases)
            for case_id, checks in recorder.checks.items():
                case = recorder.cases[case_id].value
                outcome.operations.add(case.operation.label)
                for check in checks:
                    if check.status == CheckStatus.FAILURE:
                        interaction = recorder.interactions.get(case_id)
                        response = interaction.response if interaction else None
                        answer = f"{response.status_code} {response.content[:300]!r}" if response else "no answer"
                        title = check.failure_info.failure.title if check.failure_info else ""
                        outcome.failures.append(f"{check.name}: {case.operation.label}: {title}: {case.method} "
                                                f"{case.formatted_path} query={case.query} "
                                                f"body={str(case.body)[:200]} -> {answer}")
        elif isinstance(event, (events.NonFatalError, events.FatalError)):
            outcome.errors.append(str(getattr(event, "value", None) or getattr(event, "exception", event)))
    return outcome


@pytest.fixture(autouse=True)
def password_policies_put_back(web_settings, world: World) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """The run sets the operator's password floor and the world's domains' policies at
    random (issue 20): put back what was there, or every later test that sets a password
    could meet a floor of 64 characters. The same for the domains' password lifecycles,
    or a later test's new account could start marked "change at next login", or expired.
    And the login tallies: the run's random passwords at the operator's own password checks
    (a new token, its own password) count as failed logins, which would refuse a later
    test's right one for up to a quarter of an hour."""
    with Services.open(web_settings, Actor("test-setup", Role.SUPERADMIN, origin="test")) as svc:
        store = svc.backends.password_policies
        lifecycles = svc.backends.password_lifecycle
        assert store is not None and lifecycles is not None
        floor = store.floor()[0]
        own = {name: store.own_policy(name) for name in (world.a, world.b)}
        cycles = {name: lifecycles.get(name) for name in (world.a, world.b)}
    yield
    with Services.open(web_settings, Actor("test-setup", Role.SUPERADMIN, origin="test")) as svc:
        store = svc.backends.password_policies
        lifecycles = svc.backends.password_lifecycle
        assert store is not None and lifecycles is not None
        store.set_floor(floor, "test-setup")
        for name, policy in own.items():
            if policy is None:
                store.drop_policy(name)
            else:
                store.set_policy(name, policy[0], "test-setup")
        for name, (lifecycle, changed) in cycles.items():
            if changed is None:
                lifecycles.drop_domain(name)
            else:
                lifecycles.set(name, lifecycle, changed.at, changed.by)
        LoginTallies(svc.backends.store).forget_before(time.time() + 3600)


def test_the_api_answers_as_its_document_says(web_settings, world: World) -> None:  # type: ignore[no-untyped-def]
    app = create_app(web_settings, background=False)
    try:
        headers = {"Authorization": f"Bearer {world.tokens[world.operator]}"}
        outcome = run(app, config(headers, 4, RULES_IN_WORDS))
        assert outcome.errors == []
        assert len(outcome.operations) >= 50, sorted(outcome.operations)
        assert 200 <= sum(outcome.cases.values()) <= 1200, outcome.cases  # bounded: about a thousand (issue 20: 1003)
        assert outcome.failures == [], "\n".join(sorted(set(outcome.failures)))
    finally:
        app.state.web.close()
    with Services.open(web_settings, Actor("test-check", Role.SUPERADMIN, origin="test")) as svc:
        assert {svc.domains.get(name).status for name in (world.a, world.b)} == {Status.ACTIVE}
        assert {svc.admins.get(login).status for login in (world.operator, world.admin_a)} == {Status.ACTIVE}


def test_the_harness_does_find_an_api_that_breaks_its_document() -> None:
    """The same run against a tiny API whose three operations break their document each in
    one way (an undocumented status, another content type, a body against the schema):
    each is reported."""
    ok = {"200": {"description": "a thing", "content": {"application/json": {"schema": {
        "type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}}}}}
    doc = {"openapi": "3.1.0", "info": {"title": "broken", "version": "1"},
           "paths": {f"/{name}": {"get": {"responses": ok}} for name in ("teapot", "text", "number")}}

    async def spec(request: Request) -> JSONResponse:
        return JSONResponse(doc)

    async def teapot(request: Request) -> JSONResponse:
        return JSONResponse({"name": "tea"}, status_code=418)

    async def text(request: Request) -> JSONResponse:
        return JSONResponse({"name": "text"}, media_type="text/plain")

    async def number(request: Request) -> JSONResponse:
        return JSONResponse({"name": 7})

    broken = Starlette(routes=[Route("/openapi.json", spec), Route("/teapot", teapot), Route("/text", text),
                               Route("/number", number)])
    outcome = run(broken, config({}, 5, []), "/openapi.json")
    found = {tuple(f.split(": ")[:2]) for f in outcome.failures}
    assert {("status_code_conformance", "GET /teapot"), ("content_type_conformance", "GET /text"),
            ("response_schema_conformance", "GET /number")} <= found, outcome.failures
