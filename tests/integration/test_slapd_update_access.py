"""A directory made before slapd's rules tied roles to admin entries and checked adds
attribute by attribute gets both when it starts (stack/slapd_update.py): before, a domain
admin bound to slapd could add an entry of its domain that carried an operator's role."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import ldap3
import pytest

from mailgothai.core.models import Admin, Domain, Role
from mailgothai.core.passwords import hash_password
from mailgothai.directory.admins import AdminDirectory
from mailgothai.directory.domains import DomainDirectory
from mailgothai.directory.gateway import Gateway
from mailgothai.directory.layout import Layout
from mailgothai.paths import DEPLOY_DIR, SCHEMA_DIR
from mailgothai.settings import Settings
from mailgothai.stack import slapd_update
from tests.integration.old_directory import slapd_on_older_directory

pytestmark = pytest.mark.integration
ADMIN_PASSWORD = "Admin-of-old-pw1"
INSUFFICIENT = 50


def before_admin_entries_only(root: Path) -> tuple[Path, Path]:
    """(schema dir, deploy dir) as before: every entry's role counted, adds unchecked."""
    schema_dir = root / "ldap_schema"
    shutil.copytree(SCHEMA_DIR, schema_dir)
    deploy_dir = root / "deploy"
    shutil.copytree(DEPLOY_DIR, deploy_dir)
    template = deploy_dir / "slapd" / "config.ldif.in"
    text = template.read_text(encoding="utf-8")
    older = text.replace('by dn.children="ou=admins,${suffix}" set', "by set").replace("olcAddContentAcl: TRUE\n", "")
    assert older != text and "olcAddContentAcl: TRUE" not in older
    template.write_text(older, encoding="utf-8")
    return schema_dir, deploy_dir


@pytest.fixture
def old_directory(fresh_data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    with slapd_on_older_directory(fresh_data_dir, before_admin_entries_only(tmp_path), monkeypatch) as settings:
        yield settings


def _forge_operator(settings: Settings, layout: Layout, admin_dn: str) -> int:
    """The domain admin, bound to slapd itself, adds an entry of its domain with an
    operator's role; returns slapd's result code."""
    conn = ldap3.Connection(ldap3.Server(settings.host, port=settings.ldap_port, get_info=ldap3.NONE),
                            user=admin_dn, password=ADMIN_PASSWORD, raise_exceptions=False)
    assert conn.bind(), conn.result
    tag = uuid.uuid4().hex[:6]
    conn.add(f"mail=op-{tag}@old.go.th,{layout.users('old.go.th')}", ["mgtAdmin", "mgtAccount"],
             {"uid": f"op-{tag}", "mgtRole": "superadmin", "mgtStatus": "active", "mail": f"op-{tag}@old.go.th",
              "domainName": "old.go.th", "mgtQuota": "1", "userPassword": "Forged-op-pw1"})
    result = int(conn.result["result"])
    conn.unbind()
    return result


def test_an_older_directory_gets_the_admin_entry_rules_at_start(old_directory: Settings) -> None:
    settings = old_directory
    layout = Layout(settings.ldap_base)
    app = Gateway(settings.ldap_uri_list, settings.ldap_app_dn, settings.ldap_app_password,
                  timeout=settings.ldap_timeout)
    try:
        DomainDirectory(app, layout).create(Domain("old.go.th"))
        AdminDirectory(app, layout).create(Admin("adm-old", Role.DOMAIN_ADMIN, ("old.go.th",)),
                                           hash_password(ADMIN_PASSWORD, settings.argon2))
        admin_dn = layout.admin("adm-old")
        assert _forge_operator(settings, layout, admin_dn) == 0  # the hole this version closes

        update = slapd_update.update_config(settings)
        assert update.access
        assert slapd_update.update_config(settings) == slapd_update.ConfigUpdate()
        assert _forge_operator(settings, layout, admin_dn) == INSUFFICIENT
    finally:
        app.close()
