"""One table from the project's errors to HTTP statuses (web/statuses.py), and the pages
and the API answer by it alike."""

from __future__ import annotations

import pytest

from mailgothai.core.reasons import Why
from mailgothai.errors import (
    AlreadyExists,
    DirectoryUnreachable,
    InvalidInput,
    LimitExceeded,
    MailGoThaiError,
    NotFound,
    PermissionDenied,
    StackError,
    StoreError,
)
from mailgothai.web.api.common import problem_for
from mailgothai.web.statuses import status_of


@pytest.mark.parametrize(("error", "status"), [
    (InvalidInput("quota", Why.NEGATIVE()), 400),
    (LimitExceeded("quota", Why.UNLIMITED_WITH_POOL()), 400),
    (PermissionDenied(), 403),
    (NotFound("account", "a@b.go.th"), 404),
    (AlreadyExists("alias", "a@b.go.th"), 409),
    (DirectoryUnreachable("slapd is down"), 503),
    (StoreError("the database is locked"), 503),
])
def test_each_error_has_its_status_and_the_api_answers_with_it(error: MailGoThaiError, status: int) -> None:
    assert status_of(error) == status
    assert problem_for(error).status == status


def test_an_error_no_request_should_meet_is_not_dressed_up_as_an_answer() -> None:
    assert status_of(StackError("slapd did not start")) is None
    with pytest.raises(StackError):
        problem_for(StackError("slapd did not start"))


def test_the_api_names_the_reason_and_its_code() -> None:
    problem = problem_for(InvalidInput("offset", Why.OUT_OF_RANGE(low=0, high=10)))
    assert problem.errors == [{"field": "offset", "reason": "must be between 0 and 10", "code": "out_of_range"}]
