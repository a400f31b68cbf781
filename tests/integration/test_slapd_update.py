"""A directory made by an older version of the project is brought up to this one when it
starts: its schema gains mgtPasswordUpgrade and its access rules become this version's,
the hashes from older systems it already holds are marked, and from then on legacy
hashes are marked and upgraded as in a new directory; a current directory is left alone."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailgothai.core.models import Account, Domain
from mailgothai.core.passwords import hash_password, make_ssha
from mailgothai.directory.accounts import OBJECT_CLASSES, AccountDirectory, account_attributes
from mailgothai.directory.domains import DomainDirectory
from mailgothai.directory.entries import new_entry
from mailgothai.directory.gateway import Gateway
from mailgothai.directory.layout import Layout
from mailgothai.directory.passwords import upgrade_legacy_hash
from mailgothai.errors import DirectoryError
from mailgothai.paths import DEPLOY_DIR, SCHEMA_DIR
from mailgothai.settings import Settings
from mailgothai.stack import manager, slapd, slapd_update
from mailgothai.stack.schema import schema_to_ldif
from tests.conftest import stack_settings
from tests.integration.conftest import argon2id_of, stored
from tests.integration.old_directory import slapd_on_older_directory

pytestmark = pytest.mark.integration

PASSWORD = "Old-system-pass-1"


def previous_version(root: Path) -> tuple[Path, Path]:
    """(schema dir, deploy dir) as they were before mgtPasswordUpgrade: today's with it
    taken out of the schema and out of the access rules."""
    schema = (SCHEMA_DIR / "mailgothai.schema").read_text(encoding="utf-8")
    schema = re.sub(r"attributetype \( MgtAttr:16 .*?SINGLE-VALUE \)\n", "", schema, flags=re.S)
    schema = schema.replace(" $ mgtPasswordUpgrade", "")
    assert "mgtPasswordUpgrade" not in re.sub(r"#.*", "", schema)
    schema_dir = root / "ldap_schema"
    schema_dir.mkdir()
    (schema_dir / "mailgothai.ldif").write_text(schema_to_ldif(schema, "mailgothai"), encoding="utf-8")

    deploy_dir = root / "deploy"
    shutil.copytree(DEPLOY_DIR, deploy_dir)
    template = deploy_dir / "slapd" / "config.ldif.in"
    text = template.read_text(encoding="utf-8")
    text = re.sub(r"olcAccess: \{1\}to attrs=userPassword,mgtPasswordUpgrade .*?by \* break\n", "", text,
                  flags=re.S)
    text = re.sub(r"olcAccess: \{\d+\}", "olcAccess: ", text).replace(",mgtPasswordUpgrade", "")
    assert "mgtPasswordUpgrade" not in re.sub(r"#.*", "", text)
    template.write_text(text, encoding="utf-8")
    return schema_dir, deploy_dir


@pytest.fixture
def old_directory(fresh_data_dir: Path, tmp_path: Path,
                  monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """slapd running on a directory created by the previous version."""
    with slapd_on_older_directory(fresh_data_dir, previous_version(tmp_path), monkeypatch) as settings:
        yield settings


def test_an_old_directory_is_updated_once_and_then_upgrades_legacy_hashes(old_directory: Settings) -> None:
    settings = old_directory
    layout = Layout(settings.ldap_base)
    gateway = Gateway(settings.ldap_uri_list, settings.ldap_app_dn, settings.ldap_app_password,
                      timeout=settings.ldap_timeout)
    accounts = AccountDirectory(gateway, layout)
    try:
        DomainDirectory(gateway, layout).create(Domain("old.go.th"))
        email, modern, later = "staff@old.go.th", "modern@old.go.th", "later@old.go.th"
        legacy = make_ssha(PASSWORD)
        with pytest.raises(DirectoryError):  # the old schema has no place for the mark
            accounts.create(Account(later, "old.go.th", 1 << 30), legacy)
        # What the previous version wrote: the hashes alone.
        for address, password_hash in ((email, legacy), (modern, hash_password(PASSWORD, settings.argon2))):
            values = account_attributes(Account(address, "old.go.th", 1 << 30), password_hash)
            values.pop("mgtPasswordUpgrade")
            gateway.add(new_entry(layout.account(address), OBJECT_CLASSES, values))

        update = slapd_update.update_config(settings)
        assert slapd_update.MARK_OID in update.schema and update.access
        assert slapd_update.update_config(settings) == slapd_update.ConfigUpdate()
        assert slapd_update.mark_legacy_hashes(settings) == 1
        assert stored(settings, layout.account(email)) == (legacy, "TRUE")
        assert stored(settings, layout.account(modern))[1] is None
        assert slapd_update.mark_legacy_hashes(settings) == 0

        accounts.create(Account(later, "old.go.th", 1 << 30), legacy)
        assert stored(settings, layout.account(later)) == (legacy, "TRUE")
        assert upgrade_legacy_hash(gateway, layout.account(email), PASSWORD,
                                   lambda plain: hash_password(plain, settings.argon2))
        password_hash, mark = stored(settings, layout.account(email))
        assert mark is None and password_hash.startswith(argon2id_of(settings))
        assert accounts.check_password(email, PASSWORD)
    finally:
        gateway.close()


def test_a_current_directory_is_left_alone(fresh_data_dir: Path) -> None:
    settings = manager.ensure_secrets(stack_settings(fresh_data_dir))
    settings.data_dir.mkdir(parents=True, mode=0o700)
    assert slapd.initialise(settings)
    slapd.start(settings)
    try:
        assert slapd_update.update_config(settings) == slapd_update.ConfigUpdate()
    finally:
        slapd.stop(settings)
