"""SMTP AUTH at the relay upgrades an imported hash from an older system to argon2id
(DESIGN: "upgraded to argon2id at the next successful login"); a failed AUTH leaves it."""

from __future__ import annotations

import pytest

from mailgothai.core.passwords import make_ssha
from mailgothai.directory.layout import Layout
from mailgothai.services.passwords import PasswordInput
from mailgothai.settings import Settings
from relay.conftest import MailDomain
from relay.helpers import PASSWORD, auth_code
from relay.test_auth_cache import sends
from tests.integration.conftest import argon2id_of, stored

pytestmark = pytest.mark.integration


def test_smtp_auth_upgrades_a_legacy_hash(relay: Settings, mail_domain: MailDomain) -> None:
    user = f"smtp-legacy@{mail_domain.name}"
    legacy = make_ssha(PASSWORD)
    mail_domain.services.accounts.add(user, PasswordInput(stored_hash=legacy))
    dn = Layout(relay.ldap_base).account(user)
    assert stored(relay, dn) == (legacy, "TRUE")

    assert auth_code(relay, user, PASSWORD + "x") == 535
    assert stored(relay, dn) == (legacy, "TRUE")
    assert auth_code(relay, user, PASSWORD) == 235
    password_hash, mark = stored(relay, dn)
    assert mark is None and password_hash.startswith(argon2id_of(relay)), password_hash
    assert sends(relay, user, PASSWORD)
    assert auth_code(relay, user, PASSWORD + "x") == 535
