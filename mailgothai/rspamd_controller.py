"""rspamd's controller (issue 18), the one thing the services ask of it: learn a message as
spam or as ham (`/learnspam`, `/learnham`, the `Password` header; rspamd's statistics in
Redis, stack/rspamd). An adapter: httpx's and rspamd's errors become the project's own
(errors.BackendError) here. httpx is imported at the first lesson, not with the services
(a CLI command's start would pay for it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mailgothai.errors import BackendError
from mailgothai.settings import Settings

if TYPE_CHECKING:
    import httpx

ALREADY_LEARNED = 208  # rspamd: the message was learned as that class before (nothing to do)


class SpamLearningError(BackendError):
    """rspamd's controller could not be reached, or refused to learn the message."""


class RspamdController:
    def __init__(self, base_url: str, password: str, timeout: float = 20.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self._base_url = base_url.rstrip("/")
        self._password = password
        self._timeout = timeout
        self._transport = transport

    def __repr__(self) -> str:
        return f"RspamdController({self._base_url!r})"  # never the password

    @classmethod
    def from_settings(cls, settings: Settings) -> RspamdController:
        return cls(f"http://{settings.host}:{settings.rspamd_controller_port}",
                   str(settings.rspamd_password), float(settings.rspamd_timeout))

    def learn(self, spam: bool, message: bytes) -> None:
        """Teach rspamd's classifier `message` as spam (True) or ham (False)."""
        import httpx

        path = "/learnspam" if spam else "/learnham"
        try:
            with httpx.Client(timeout=self._timeout, transport=self._transport) as client:
                response = client.post(self._base_url + path, content=message,
                                       headers={"Password": self._password})
        except httpx.HTTPError as exc:
            raise SpamLearningError(f"rspamd's controller at {self._base_url} did not answer: {exc}") from exc
        if response.status_code == 200 or response.status_code == ALREADY_LEARNED:
            return
        raise SpamLearningError(f"rspamd refused to learn the message ({response.status_code}): {_error(response)}")


def _error(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text[:200]
    return str(data.get("error", data))[:200] if isinstance(data, dict) else str(data)[:200]
