"""ldap_schema/: the schema loads into a throwaway cn=config and passes slaptest, its
cn=config LDIF is exactly what the generator makes from the .schema file, and the
running slapd serves it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import ldap3
import pytest
from ldap3.protocol.oid import CLASS_AUXILIARY, CLASS_STRUCTURAL

from mailgothai.paths import PROJECT_ROOT, SCHEMA_DIR
from mailgothai.settings import Settings
from mailgothai.stack.schema import schema_to_ldif

pytestmark = pytest.mark.integration

SYSTEM_SCHEMAS = Path("/etc/ldap/schema")


def throwaway_config(directory: Path, schema_ldif: str) -> str:
    """A minimal cn=config: the base schemas, ours, and one mdb database using it."""
    system = "\n".join((SYSTEM_SCHEMAS / f"{n}.ldif").read_text().strip() + "\n"
                       for n in ("core", "cosine", "inetorgperson"))
    (directory / "db").mkdir()
    return f"""dn: cn=config
objectClass: olcGlobal
cn: config

dn: cn=module{{0}},cn=config
objectClass: olcModuleList
cn: module{{0}}
olcModulePath: /usr/lib/ldap
olcModuleLoad: back_mdb

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

{system}
{schema_ldif.strip()}

dn: olcDatabase={{1}}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {{1}}mdb
olcSuffix: o=mailgothai
olcDbDirectory: {directory / "db"}
olcDbIndex: objectClass eq
olcDbIndex: domainName eq,sub
olcDbIndex: mail eq,sub
olcDbIndex: mgtStatus eq
olcDbIndex: mgtAliasAddress eq,sub
olcDbIndex: mgtMember eq
olcDbIndex: mgtAdminDomain eq
"""


def slaptest(tmp_path: Path, schema_ldif: str) -> subprocess.CompletedProcess[str]:
    config_dir = tmp_path / "slapd.d"
    config_dir.mkdir()
    ldif = tmp_path / "config.ldif"
    ldif.write_text(throwaway_config(tmp_path, schema_ldif))
    loaded = subprocess.run(["slapadd", "-n0", "-F", str(config_dir), "-l", str(ldif)],
                            capture_output=True, text=True, check=False)
    if loaded.returncode != 0:
        return loaded
    return subprocess.run(["slaptest", "-F", str(config_dir), "-u"], capture_output=True, text=True, check=False)


def test_schema_passes_slaptest(tmp_path: Path) -> None:
    result = slaptest(tmp_path, (SCHEMA_DIR / "mailgothai.ldif").read_text())
    assert result.returncode == 0, result.stderr
    assert "config file testing succeeded" in result.stderr


def test_slaptest_catches_a_broken_schema(tmp_path: Path) -> None:
    """The check above can fail: an object class naming an undefined attribute is refused."""
    broken = (SCHEMA_DIR / "mailgothai.schema").read_text().replace("MAY ( mgtAliasAddress $",
                                                                     "MAY ( mgtNoSuchAttribute $")
    result = slaptest(tmp_path, schema_to_ldif(broken, "mailgothai"))
    assert result.returncode != 0


def test_ldif_is_what_the_generator_makes_from_the_schema_file() -> None:
    generated = subprocess.run([sys.executable, "-m", "mailgothai.stack.schema", "ldap_schema/mailgothai.schema"],
                               cwd=PROJECT_ROOT, capture_output=True, text=True, check=True).stdout
    assert generated == (SCHEMA_DIR / "mailgothai.ldif").read_text()


def test_running_slapd_serves_the_schema(stack: Settings) -> None:
    server = ldap3.Server(stack.host, port=stack.ldap_port, get_info=ldap3.SCHEMA)
    conn = ldap3.Connection(server, auto_bind=True)
    try:
        schema = server.schema
        classes = {name: schema.object_classes[name] for name in ("mgtDomain", "mgtAccount", "mgtAlias", "mgtAdmin")}
        assert classes["mgtAccount"].kind == CLASS_AUXILIARY
        assert classes["mgtDomain"].kind == CLASS_STRUCTURAL
        for name in ("domainName", "mgtStatus", "mgtQuota", "mgtMaxAccounts", "mgtQuotaPool", "mgtDefaultQuota",
                     "mgtMaxMessageSize", "mgtHourlySendLimit", "mgtAliasAddress", "mgtForwardAddress",
                     "mgtMember", "mgtAdminDomain", "mgtRole"):
            assert schema.attribute_types[name].equality, name
        for name in ("domainName", "mgtQuota"):  # sorted listings need an ordering rule
            assert schema.attribute_types[name].ordering, name
    finally:
        conn.unbind()
