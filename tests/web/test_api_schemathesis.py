"""Property-based tests of the API against its own OpenAPI document (schemathesis,
in process through ASGI, with an operator's token): no input gives a 5xx.

Every operation of the document is driven with Hypothesis directly (schemathesis'
pytest plugin does not load under pytest 9)."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from mailgothai.web.app import create_app
from tests.web.conftest import World


def test_no_server_errors(web_settings, world: World) -> None:  # type: ignore[no-untyped-def]
    app = create_app(web_settings, background=False)
    try:
        schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
        headers = {"Authorization": f"Bearer {world.tokens[world.operator]}"}
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 30
        for operation in operations:
            @given(case=operation.as_strategy())
            @settings(max_examples=15, deadline=None, database=None, suppress_health_check=list(HealthCheck))
            def check(case) -> None:  # type: ignore[no-untyped-def]
                case.call_and_validate(headers=headers, checks=[not_a_server_error])

            check()
    finally:
        app.state.web.close()
