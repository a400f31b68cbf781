"""Passwords: the argon2id hash the project writes verifies in slapd (a simple bind as
the account) and in Dovecot (IMAP); hashes imported from older systems log in as given."""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import subprocess

import ldap3
import pytest

from mailgothai.core.passwords import Argon2Params, hash_password, make_ssha, make_ssha512
from mailgothai.directory.layout import Layout
from mailgothai.settings import Settings
from tests.conftest import Cli
from tests.integration.conftest import MailClients

pytestmark = pytest.mark.integration

PASSWORD = "Legacy-pass-ไทย-1"


def _ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, (result.args, result.stderr)
    return result


def _bind_ok(settings: Settings, dn: str, password: str) -> bool:
    conn = ldap3.Connection(ldap3.Server(settings.host, port=settings.ldap_port, get_info=ldap3.NONE),
                            user=dn, password=password, raise_exceptions=False)
    try:
        return bool(conn.bind())
    finally:
        conn.unbind()


def _stored_hash(settings: Settings, dn: str) -> str:
    """userPassword as slapd holds it, read as the rootdn (nobody else may read it)."""
    conn = ldap3.Connection(ldap3.Server(settings.host, port=settings.ldap_port, get_info=ldap3.NONE),
                            user=settings.ldap_manager_dn, password=str(settings.ldap_manager_password),
                            auto_bind=True)
    try:
        conn.search(dn, "(objectClass=*)", ldap3.BASE, attributes=["userPassword"])
        return conn.response[0]["raw_attributes"]["userPassword"][0].decode()
    finally:
        conn.unbind()


def system_crypt(password: str, prefix: str) -> str:
    """A crypt(3) hash made by the system's libcrypt, as an old Unix or LDAP server stored it."""
    lib = ctypes.CDLL(ctypes.util.find_library("crypt") or "libcrypt.so.1")
    lib.crypt_gensalt.restype = ctypes.c_char_p
    lib.crypt_gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_int]
    lib.crypt.restype = ctypes.c_char_p
    lib.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    salt = lib.crypt_gensalt(prefix.encode(), 0, None, 0)
    assert salt, f"libcrypt cannot make {prefix} salts"
    hashed = lib.crypt(password.encode(), salt)
    assert hashed and hashed.startswith(prefix.encode()), hashed
    return "{CRYPT}" + hashed.decode()


def test_argon2id_written_by_the_project_verifies_in_slapd_and_dovecot(cli: Cli, domain: str, stack: Settings,
                                                                       layout: Layout,
                                                                       mail: MailClients) -> None:
    email = f"argon@{domain}"
    _ok(cli("account", "add", email, "--password-stdin", stdin=PASSWORD + "\n"))
    dn = layout.account(email)
    stored = _stored_hash(stack, dn)
    params = f"m={stack.argon2_memory_kib},t={stack.argon2_time_cost},p={stack.argon2_parallelism}"
    assert stored.startswith("{ARGON2}$argon2id$v=19$" + params + "$"), stored

    assert _bind_ok(stack, dn, PASSWORD)
    assert not _bind_ok(stack, dn, PASSWORD + "!")
    assert mail.can_login(email, PASSWORD)
    assert not mail.can_login(email, PASSWORD[:-1])


def test_generated_password_is_printed_once_and_logs_in(cli: Cli, domain: str, mail: MailClients) -> None:
    email = f"generated@{domain}"
    # By default a generated password must be changed at first login (issue 20,
    # tests/integration/test_password_lifecycle.py): this domain lets it log in as it is.
    _ok(cli("password-lifecycle", "set", "--domain", domain, "--must-change-generated", "no"))
    out = _ok(cli("account", "add", email, "--generate-password")).stdout
    line = next(line for line in out.splitlines() if "shown once" in line)
    password = line.rsplit(": ", 1)[1]
    assert len(password) >= 12
    assert mail.can_login(email, password)
    assert password not in _ok(cli("account", "show", email, "--json")).stdout


def _legacy_hashes() -> dict[str, str]:
    return {
        "ssha": make_ssha(PASSWORD),
        "ssha512": make_ssha512(PASSWORD),
        # OWASP cost, as an older system (or this one with default settings) wrote it.
        "argon2": hash_password(PASSWORD, Argon2Params()),
        "argon2id-prefix": hash_password(PASSWORD, Argon2Params()).replace("{ARGON2}", "{ARGON2ID}", 1),
        "crypt-sha512": system_crypt(PASSWORD, "$6$"),
        "crypt-sha256": system_crypt(PASSWORD, "$5$"),
        "crypt-md5": system_crypt(PASSWORD, "$1$"),
        "crypt-yescrypt": system_crypt(PASSWORD, "$y$"),
        "crypt-bcrypt": system_crypt(PASSWORD, "$2b$"),
    }


@pytest.mark.parametrize("kind", list(_legacy_hashes()))
def test_imported_hash_logs_in_over_imap(cli: Cli, domain: str, stack: Settings, layout: Layout,
                                         mail: MailClients, kind: str) -> None:
    stored = _legacy_hashes()[kind]
    email = f"{kind}@{domain}"
    _ok(cli("account", "add", email, "--password-hash-stdin", stdin=stored + "\n"))
    kept = _stored_hash(stack, layout.account(email))
    assert kept == stored.replace("{ARGON2ID}", "{ARGON2}", 1), "imported hashes are kept as given"
    assert mail.can_login(email, PASSWORD)
    assert _bind_ok(stack, layout.account(email), PASSWORD)
    assert not mail.can_login(email, "not-" + PASSWORD)


def test_a_malformed_hash_is_refused_and_nothing_is_written(cli: Cli, domain: str) -> None:
    for bad in ("{SSHA}not-base64!", "{MD5}X03MO1qnZdYdgyfeuILPmQ==", "plaintext-looking",
                "{ARGON2}$argon2d$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA"):
        result = cli("account", "add", f"bad@{domain}", "--password-hash-stdin", stdin=bad + "\n")
        assert result.returncode == 2 and "error: password: " in result.stderr, (bad, result.stderr)
    assert json.loads(_ok(cli("account", "list", domain, "--json")).stdout) == []
