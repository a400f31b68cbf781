"""A directory made before issue 17's shared role mailboxes gets them when it starts
(stack/slapd_update.py): the schema gains mgtSharedAccess and the mgtSharedMailbox and
mgtSharedMember classes, the access rules let the mail server read memberships, and the
equality and substring index of mgtSharedAccess is added; before, there is no place for
them."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailgothai.core.models import Account, Domain
from mailgothai.core.shared import Right, SharedMailbox
from mailgothai.directory.accounts import AccountDirectory
from mailgothai.directory.domains import DomainDirectory
from mailgothai.directory.gateway import Gateway
from mailgothai.directory.layout import Layout
from mailgothai.directory.shared import SharedDirectory
from mailgothai.errors import DirectoryError
from mailgothai.paths import DEPLOY_DIR, SCHEMA_DIR
from mailgothai.relay.lookup import RelayDirectory
from mailgothai.settings import Settings
from mailgothai.stack import slapd_update
from mailgothai.stack.schema import schema_to_ldif
from tests.integration.old_directory import slapd_on_older_directory

pytestmark = pytest.mark.integration
SHARED_WORDS = r"mgtSharedAccess|mgtSharedMailbox|mgtSharedMember|\|shared\)"


def before_shared_mailboxes(root: Path) -> tuple[Path, Path]:
    """(schema dir, deploy dir) without shared mailboxes."""
    schema = (SCHEMA_DIR / "mailgothai.schema").read_text(encoding="utf-8")
    schema = re.sub(r"attributetype \( MgtAttr:36 .*?SINGLE-VALUE \)\n", "", schema, flags=re.S)
    for oid in ("MgtClass:7", "MgtClass:8"):
        schema = re.sub(rf"objectclass \( {oid} .*?\) \)\n", "", schema, flags=re.S)
    assert not re.search(SHARED_WORDS, re.sub(r"#.*", "", schema))
    schema_dir = root / "ldap_schema"
    schema_dir.mkdir()
    (schema_dir / "mailgothai.ldif").write_text(schema_to_ldif(schema, "mailgothai"), encoding="utf-8")
    deploy_dir = root / "deploy"
    shutil.copytree(DEPLOY_DIR, deploy_dir)
    template = deploy_dir / "slapd" / "config.ldif.in"
    text = (template.read_text(encoding="utf-8").replace(",mgtSharedAccess", "")
            .replace("olcDbIndex: mgtSharedAccess eq,sub\n", "").replace("(users|aliases|shared)", "(users|aliases)"))
    assert not re.search(SHARED_WORDS, re.sub(r"#.*", "", text))
    template.write_text(text, encoding="utf-8")
    return schema_dir, deploy_dir


@pytest.fixture
def old_directory(fresh_data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    with slapd_on_older_directory(fresh_data_dir, before_shared_mailboxes(tmp_path), monkeypatch) as settings:
        yield settings


def test_an_older_directory_gains_shared_mailboxes_at_start(old_directory: Settings) -> None:
    settings = old_directory
    layout = Layout(settings.ldap_base)
    app = Gateway(settings.ldap_uri_list, settings.ldap_app_dn, settings.ldap_app_password,
                  timeout=settings.ldap_timeout)
    mail = Gateway(settings.ldap_uri_list, settings.ldap_mail_dn, settings.ldap_mail_password,
                   timeout=settings.ldap_timeout)
    shared = SharedDirectory(app, layout)
    try:
        DomainDirectory(app, layout).create(Domain("old.go.th"))
        AccountDirectory(app, layout).create(Account("somchai@old.go.th", "old.go.th", quota=1), "{ARGON2}x")
        with pytest.raises(DirectoryError):  # no place for it yet
            shared.create(SharedMailbox("saraban@old.go.th", "old.go.th", quota=1))

        update = slapd_update.update_config(settings)
        assert {"MgtAttr:36", "MgtClass:7", "MgtClass:8"} <= set(update.schema) and update.access
        assert update.indexes == ("mgtSharedAccess eq,sub",)
        assert slapd_update.update_config(settings) == slapd_update.ConfigUpdate()

        made = shared.create(SharedMailbox("saraban@old.go.th", "old.go.th", quota=1))
        shared.set_rights("somchai@old.go.th", made, frozenset({Right.READ, Right.SEND_AS}))
        assert [m.email for m in shared.members(made)] == ["somchai@old.go.th"]
        relay = RelayDirectory(mail, layout, ttl=0)  # the mail server's own reading of it
        assert "saraban@old.go.th" in relay.owned_addresses("somchai@old.go.th")
    finally:
        app.close()
        mail.close()
