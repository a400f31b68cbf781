"""A directory made before issue 20's change at next login and expiry gets them when it
starts (stack/slapd_update.py): the schema gains mgtPasswordChangedAt and
mgtMustChangePassword on mgtAccount and the access rules let the mail server (Dovecot, the
relay) read the mark; before, an account carrying them cannot be written."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailgothai.core.models import Account, Domain
from mailgothai.directory.accounts import AccountDirectory
from mailgothai.directory.domains import DomainDirectory
from mailgothai.directory.gateway import Gateway
from mailgothai.directory.layout import Layout
from mailgothai.errors import DirectoryError
from mailgothai.paths import DEPLOY_DIR, SCHEMA_DIR
from mailgothai.relay.lookup import RelayDirectory
from mailgothai.settings import Settings
from mailgothai.stack import slapd_update
from mailgothai.stack.schema import schema_to_ldif
from tests.integration.old_directory import slapd_on_older_directory

pytestmark = pytest.mark.integration
WORDS = r"mgtPasswordChangedAt|mgtMustChangePassword"


def before_issue_20(root: Path) -> tuple[Path, Path]:
    schema = (SCHEMA_DIR / "mailgothai.schema").read_text(encoding="utf-8")
    schema = re.sub(r"attributetype \( MgtAttr:3[78] .*?SINGLE-VALUE \)\n", "", schema, flags=re.S)
    schema = schema.replace(" $\n\t      mgtPasswordChangedAt $ mgtMustChangePassword", "")
    assert not re.search(WORDS, re.sub(r"#.*", "", schema))
    schema_dir = root / "ldap_schema"
    schema_dir.mkdir()
    (schema_dir / "mailgothai.ldif").write_text(schema_to_ldif(schema, "mailgothai"), encoding="utf-8")
    deploy_dir = root / "deploy"
    shutil.copytree(DEPLOY_DIR, deploy_dir)
    template = deploy_dir / "slapd" / "config.ldif.in"
    text = template.read_text(encoding="utf-8")
    for attribute in (",mgtMustChangePassword", ",mgtPasswordChangedAt"):
        text = text.replace(attribute, "")
    assert not re.search(WORDS, re.sub(r"#.*", "", text))
    template.write_text(text, encoding="utf-8")
    return schema_dir, deploy_dir


@pytest.fixture
def old_directory(fresh_data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    with slapd_on_older_directory(fresh_data_dir, before_issue_20(tmp_path), monkeypatch) as settings:
        yield settings


def test_an_older_directory_gains_the_password_lifecycle_at_start(old_directory: Settings) -> None:
    settings = old_directory
    layout = Layout(settings.ldap_base)
    app = Gateway(settings.ldap_uri_list, settings.ldap_app_dn, settings.ldap_app_password,
                  timeout=settings.ldap_timeout)
    mail = Gateway(settings.ldap_uri_list, settings.ldap_mail_dn, settings.ldap_mail_password,
                   timeout=settings.ldap_timeout)
    accounts = AccountDirectory(app, layout)
    try:
        DomainDirectory(app, layout).create(Domain("old.go.th"))
        with pytest.raises(DirectoryError):  # no place for the time of the password yet
            accounts.create(Account("somchai@old.go.th", "old.go.th", quota=1), "{ARGON2}x")

        update = slapd_update.update_config(settings)
        assert {"MgtAttr:37", "MgtAttr:38"} <= set(update.schema) and update.access
        assert slapd_update.update_config(settings) == slapd_update.ConfigUpdate()

        accounts.create(Account("somchai@old.go.th", "old.go.th", quota=1, must_change_password=True), "{ARGON2}x")
        made = accounts.get("somchai@old.go.th")
        assert made.must_change_password and made.password_changed_at is not None
        relay = RelayDirectory(mail, layout, ttl=0)  # the mail server's own reading of the mark
        entry = relay.address("somchai@old.go.th")
        assert entry is not None and entry.must_change
    finally:
        app.close()
        mail.close()
