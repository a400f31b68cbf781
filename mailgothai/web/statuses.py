"""The ONE table from the project's errors to HTTP statuses, for the pages and the API alike."""

from __future__ import annotations

from mailgothai.errors import (
    AlreadyExists,
    BackendError,
    InvalidInput,
    MailGoThaiError,
    NotFound,
    PermissionDenied,
)

# Most specific first: LimitExceeded is an InvalidInput, DirectoryError a BackendError.
HTTP_STATUS: tuple[tuple[type[MailGoThaiError], int], ...] = (
    (InvalidInput, 400),
    (PermissionDenied, 403),
    (NotFound, 404),
    (AlreadyExists, 409),
    (BackendError, 503),
)


def status_of(exc: MailGoThaiError) -> int | None:
    """The HTTP status an error answers with; None for one no request should meet (a bug: 500)."""
    for kind, status in HTTP_STATUS:
        if isinstance(exc, kind):
            return status
    return None
