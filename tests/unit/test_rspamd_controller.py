"""rspamd's controller adapter (rspamd_controller.py): what it sends (the path, the
Password header, the message's bytes as they are) and how rspamd's answers and failures
become the project's errors. Against real rspamd: tests/relay/test_quarantine_learn.py."""

from __future__ import annotations

import httpx
import pytest

from mailgothai.rspamd_controller import RspamdController, SpamLearningError
from mailgothai.settings import Secret, Settings

MESSAGE = b"From: a@example.com\r\nSubject: x\r\n\r\nbody \r\n"


def controller(answer: httpx.Response | Exception, seen: list[httpx.Request]) -> RspamdController:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return RspamdController("http://127.0.0.1:10331", "s3cret", transport=httpx.MockTransport(handle))


@pytest.mark.parametrize(("spam", "path"), [(True, "/learnspam"), (False, "/learnham")])
def test_learning_posts_the_bytes_with_the_password(spam: bool, path: str) -> None:
    seen: list[httpx.Request] = []
    controller(httpx.Response(200, json={"success": True}), seen).learn(spam, MESSAGE)
    [request] = seen
    assert request.method == "POST" and request.url.path == path
    assert request.headers["Password"] == "s3cret" and request.content == MESSAGE


def test_already_learned_is_no_error() -> None:
    controller(httpx.Response(208, json={"error": "already learned"}), []).learn(True, MESSAGE)


@pytest.mark.parametrize("answer", [
    httpx.Response(403, json={"error": "Unauthorized"}),
    httpx.Response(400, json={"error": "message has too few tokens"}),
    httpx.Response(500, text="oops"),
    httpx.ConnectError("refused"),
    httpx.ReadTimeout("silent"),
])
def test_failures_are_the_projects_errors(answer: httpx.Response | Exception) -> None:
    with pytest.raises(SpamLearningError) as failed:
        controller(answer, []).learn(False, MESSAGE)
    assert "s3cret" not in str(failed.value)


def test_made_from_the_settings_without_showing_the_password() -> None:
    made = RspamdController.from_settings(Settings(rspamd_password=Secret("hidden"), rspamd_controller_port=12345))
    assert repr(made) == "RspamdController('http://127.0.0.1:12345')"
