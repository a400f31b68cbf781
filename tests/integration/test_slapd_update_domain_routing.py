"""A directory made before issue 17's catch-all and alias domains gets them when it starts
(stack/slapd_update.py): the schema gains mgtCatchAll (on the domain entry),
mgtAliasDomainTarget and the mgtAliasDomain class, and the access rules let the mail
server read them; before the update the directory has no place for either."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailgothai.core.models import AliasDomain, Domain
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


def before_issue_17(root: Path) -> tuple[Path, Path]:
    """(schema dir, deploy dir) without the catch-all and alias domains."""
    schema = (SCHEMA_DIR / "mailgothai.schema").read_text(encoding="utf-8")
    for oid in ("MgtAttr:30", "MgtAttr:31"):
        schema = re.sub(rf"attributetype \( {oid} .*?SINGLE-VALUE \)\n", "", schema, flags=re.S)
    schema = re.sub(r"objectclass \( MgtClass:5 .*?\) \)\n", "", schema, flags=re.S)
    schema = schema.replace(" $ mgtCatchAll", "")
    assert not re.search(r"mgtCatchAll|mgtAliasDomain", re.sub(r"#.*", "", schema))
    schema_dir = root / "ldap_schema"
    schema_dir.mkdir()
    (schema_dir / "mailgothai.ldif").write_text(schema_to_ldif(schema, "mailgothai"), encoding="utf-8")
    deploy_dir = root / "deploy"
    shutil.copytree(DEPLOY_DIR, deploy_dir)
    template = deploy_dir / "slapd" / "config.ldif.in"
    text = template.read_text(encoding="utf-8").replace(",mgtCatchAll", "").replace(",mgtAliasDomainTarget", "")
    assert not re.search(r"mgtCatchAll|mgtAliasDomain", re.sub(r"#.*", "", text))
    template.write_text(text, encoding="utf-8")
    return schema_dir, deploy_dir


@pytest.fixture
def old_directory(fresh_data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    with slapd_on_older_directory(fresh_data_dir, before_issue_17(tmp_path), monkeypatch) as settings:
        yield settings


def test_an_older_directory_gains_the_catch_all_and_alias_domains_at_start(old_directory: Settings) -> None:
    settings = old_directory
    layout = Layout(settings.ldap_base)
    app = Gateway(settings.ldap_uri_list, settings.ldap_app_dn, settings.ldap_app_password,
                  timeout=settings.ldap_timeout)
    mail = Gateway(settings.ldap_uri_list, settings.ldap_mail_dn, settings.ldap_mail_password,
                   timeout=settings.ldap_timeout)
    domains = DomainDirectory(app, layout)
    try:
        domains.create(Domain("old.go.th"))
        with pytest.raises(DirectoryError):  # no place for it yet
            domains.update("old.go.th", catch_all="info@old.go.th")
        with pytest.raises(DirectoryError):
            domains.create_alias(AliasDomain("new.go.th", "old.go.th"))

        update = slapd_update.update_config(settings)
        assert {"MgtAttr:30", "MgtAttr:31", "MgtClass:5"} <= set(update.schema) and update.access
        assert slapd_update.update_config(settings) == slapd_update.ConfigUpdate()

        domains.update("old.go.th", catch_all="info@old.go.th")
        domains.create_alias(AliasDomain("new.go.th", "old.go.th"))
        assert domains.get("old.go.th").catch_all == "info@old.go.th"
        relay = RelayDirectory(mail, layout, ttl=0)  # the mail server's own reading of them
        found = relay.domain("new.go.th")
        assert found is not None and (found.alias_of, found.catch_all) == ("old.go.th", "info@old.go.th")
        assert relay.canonical("somchai@new.go.th") == "somchai@old.go.th"
        assert relay.alias_domains("old.go.th") == ("new.go.th",)
    finally:
        app.close()
        mail.close()
