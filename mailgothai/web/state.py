"""Everything the web process holds for its lifetime, built once from the settings."""

from __future__ import annotations

import gettext
from dataclasses import dataclass

from jinja2 import Environment

from mailgothai.directory.vlv import SortedLister
from mailgothai.services.auth import Authenticator
from mailgothai.services.backends import Backends
from mailgothai.services.dashboard import DashboardCache
from mailgothai.services.last_login import LoginRecorder, recorder_for
from mailgothai.services.listing_warmer import ListingWarmer
from mailgothai.services.login_budget import shared_budget
from mailgothai.services.sessions import SessionStore
from mailgothai.services.totp import TotpService
from mailgothai.services.usage import UsageRefresher
from mailgothai.settings import Settings


@dataclass
class WebState:
    settings: Settings
    backends: Backends
    lister: SortedLister
    warmer: ListingWarmer
    refresher: UsageRefresher
    sessions: SessionStore
    auth: Authenticator
    totp: TotpService
    dashboard: DashboardCache
    recorder: LoginRecorder
    templates: Environment
    translations: dict[str, gettext.NullTranslations]

    @classmethod
    def build(cls, settings: Settings, templates: Environment,
              translations: dict[str, gettext.NullTranslations]) -> WebState:
        backends = Backends.open(settings)
        # The web uses SQL on every request (sessions): a store it cannot open or reach
        # stops `serve` at start, as it did before the store was opened on first use.
        backends.store.ping()
        lister = SortedLister()
        recorder = recorder_for(backends, settings.last_login_flush, settings.last_login_batch)
        return cls(
            settings=settings, backends=backends, lister=lister, warmer=ListingWarmer(backends, lister),
            refresher=UsageRefresher(backends, settings.quota_snapshot_ttl),
            sessions=SessionStore(backends.store, settings.web_session_idle, settings.web_session_max),
            # the one budget of the process: the passwords asked again of a logged-in user share it
            auth=Authenticator(backends, shared_budget(backends.store, settings), recorder=recorder),
            totp=TotpService(backends.store, str(settings.web_secret_key)),
            dashboard=DashboardCache(), recorder=recorder, templates=templates, translations=translations,
        )

    def start_background(self) -> None:
        """The threads that work ahead of requests: quota usage, warm listings."""
        self.refresher.start()
        self.warmer.start()
        self.recorder.start()

    def close(self) -> None:
        self.recorder.stop()  # writes the last logins still waiting
        self.refresher.stop()
        self.warmer.stop()
        self.lister.close()
        self.backends.close()
