"""A domain admin reaches only its own domains, in the service layer and in slapd
itself; password hashes are read by nobody; the mail servers' DN only reads."""

from __future__ import annotations

import json
import subprocess
import uuid
from dataclasses import dataclass

import ldap3
import pytest

from mailgothai.core.models import Role, Status
from mailgothai.directory.layout import Layout
from mailgothai.errors import NotFound, PermissionDenied
from mailgothai.services.actor import Actor
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.registry import Services
from mailgothai.settings import Settings
from tests.conftest import Cli
from tests.integration.conftest import AuditProbe, MailClients

pytestmark = [pytest.mark.integration, pytest.mark.sql]

ADMIN_PASSWORD = "Admin-of-A-pw1"
USER_PASSWORD = "User-in-dom-pw2"
INSUFFICIENT = 50


@dataclass(frozen=True)
class World:
    a: str
    b: str
    admin: str
    admin_dn: str
    user_a: str
    user_b: str
    alias_b: str


def _ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, (result.args, result.stderr)
    return result


@pytest.fixture(scope="module")
def world(stack: Settings) -> World:
    cli = Cli(stack)
    tag = uuid.uuid4().hex[:8]
    a, b = f"a{tag}.go.th", f"b{tag}.go.th"
    for name in (a, b):
        _ok(cli("domain", "add", name, "--max-accounts", "10", "--quota-pool", "10G", "--default-quota", "1G"))
    user_a, user_b = f"somchai@{a}", f"malee@{b}"
    for email in (user_a, user_b):
        _ok(cli("account", "add", email, "--given-name", "ชื่อเดิม", "--password-stdin", stdin=USER_PASSWORD + "\n"))
    alias_b = f"helpdesk@{b}"
    _ok(cli("alias", "add", alias_b, "--to", user_b))
    admin = f"adm-{tag}"
    _ok(cli("admin", "add", admin, "--role", "domain_admin", "--domain", a, "--password-stdin",
            stdin=ADMIN_PASSWORD + "\n"))
    return World(a, b, admin, Layout(stack.ldap_base).admin(admin), user_a, user_b, alias_b)


def _conn(stack: Settings, dn: str | None = None, password: str | None = None) -> ldap3.Connection:
    server = ldap3.Server(stack.host, port=stack.ldap_port, get_info=ldap3.NONE)
    conn = ldap3.Connection(server, user=dn, password=password, raise_exceptions=False)
    assert conn.bind(), conn.result
    return conn


def _read(conn: ldap3.Connection, dn: str, attrs: list[str]) -> dict[str, list[str]] | None:
    conn.search(dn, "(objectClass=*)", ldap3.BASE, attributes=attrs)
    if not conn.response or conn.response[0].get("type") != "searchResEntry":
        return None
    raw = conn.response[0]["raw_attributes"]
    return {k: [v.decode() for v in vals] for k, vals in raw.items() if vals}


# ---- slapd's own rules, bound as each identity ---------------------------------

def test_domain_admin_reads_and_changes_accounts_of_its_domain_only(stack: Settings, world: World,
                                                                    layout: Layout, cli: Cli) -> None:
    conn = _conn(stack, world.admin_dn, ADMIN_PASSWORD)
    dn_a, dn_b = layout.account(world.user_a), layout.account(world.user_b)

    assert _read(conn, dn_a, ["mail", "givenName"]) == {"mail": [world.user_a], "givenName": ["ชื่อเดิม"]}
    conn.modify(dn_a, {"givenName": [(ldap3.MODIFY_REPLACE, ["แก้โดยผู้ดูแล"])]})
    assert conn.result["result"] == 0, conn.result
    assert json.loads(_ok(cli("account", "show", world.user_a, "--json")).stdout)["given_name"] == "แก้โดยผู้ดูแล"

    assert _read(conn, dn_b, ["mail", "givenName"]) is None
    conn.search(layout.users(world.b), "(objectClass=*)", attributes=["mail"])
    assert [e for e in conn.response if e.get("type") == "searchResEntry"] == []
    conn.modify(dn_b, {"givenName": [(ldap3.MODIFY_REPLACE, ["hijacked"])]})
    assert conn.result["result"] != 0
    conn.add(f"mail=intruder@{world.b},{layout.users(world.b)}", ["inetOrgPerson", "mgtAccount"],
             {"mail": f"intruder@{world.b}", "sn": "x", "cn": "x", "domainName": world.b, "mgtStatus": "active",
              "mgtQuota": "1"})
    assert conn.result["result"] != 0
    conn.delete(dn_b)
    assert conn.result["result"] != 0
    conn.unbind()
    shown_b = json.loads(_ok(cli("account", "show", world.user_b, "--json")).stdout)
    assert shown_b["given_name"] == "ชื่อเดิม"
    assert cli("account", "show", f"intruder@{world.b}").returncode == 1


def test_domain_admin_cannot_raise_its_own_domain_limits(stack: Settings, world: World,
                                                         layout: Layout) -> None:
    conn = _conn(stack, world.admin_dn, ADMIN_PASSWORD)
    domain_dn = layout.domain(world.a)
    assert _read(conn, domain_dn, ["mgtQuotaPool"]) == {"mgtQuotaPool": [str(10 * 1024**3)]}
    for attr, value in (("mgtQuotaPool", str(100 * 1024**4)), ("mgtMaxAccounts", "0"), ("mgtStatus", "disabled")):
        conn.modify(domain_dn, {attr: [(ldap3.MODIFY_REPLACE, [value])]})
        assert conn.result["result"] == INSUFFICIENT, (attr, conn.result)
    # Nor make itself an operator or take another domain.
    conn.modify(world.admin_dn, {"mgtAdminDomain": [(ldap3.MODIFY_ADD, [world.b])]})
    assert conn.result["result"] == INSUFFICIENT, conn.result
    conn.modify(world.admin_dn, {"mgtRole": [(ldap3.MODIFY_REPLACE, ["superadmin"])]})
    assert conn.result["result"] == INSUFFICIENT, conn.result
    conn.unbind()


def test_domain_admin_cannot_make_an_entry_of_its_domain_an_operator(stack: Settings, world: World,
                                                                   layout: Layout) -> None:
    """The roles count only on admin entries (ou=admins): an entry a domain admin may write
    in its own domain never carries a role, an authorization or another domain's name."""
    conn = _conn(stack, world.admin_dn, ADMIN_PASSWORD)
    tag = uuid.uuid4().hex[:6]
    forged = f"mail=op-{tag}@{world.a},{layout.users(world.a)}"
    conn.add(forged, ["mgtAdmin", "mgtAccount"],
             {"uid": f"op-{tag}", "mgtRole": "superadmin", "mgtStatus": "active", "mail": f"op-{tag}@{world.a}",
              "domainName": world.a, "mgtQuota": "1", "userPassword": "Forged-op-pw1"})
    assert conn.result["result"] == INSUFFICIENT, conn.result
    dn_a = layout.account(world.user_a)
    for attrs in ({"objectClass": [(ldap3.MODIFY_ADD, ["extensibleObject"])],
                   "mgtRole": [(ldap3.MODIFY_ADD, ["superadmin"])]},
                  {"objectClass": [(ldap3.MODIFY_ADD, ["extensibleObject"])],
                   "mgtAdminDomain": [(ldap3.MODIFY_ADD, [world.b])]},
                  # authzTo would let the account act as anyone (olcAuthzPolicy: to)
                  {"authzTo": [(ldap3.MODIFY_ADD, ["dn.regex:.*"])]},
                  # another domain's label: Dovecot finds an account by its address and domain
                  {"domainName": [(ldap3.MODIFY_REPLACE, [world.b])]}):
        conn.modify(dn_a, attrs)
        assert conn.result["result"] == INSUFFICIENT, (attrs, conn.result)
    conn.unbind()


def test_another_agencys_address_in_an_entry_is_no_login_there(stack: Settings, world: World, layout: Layout,
                                                                mail: MailClients) -> None:
    """A domain admin may write addresses into its own accounts; one of another domain's
    never logs in (or receives) as that domain's account: Dovecot looks an address up in
    its own domain only."""
    conn = _conn(stack, world.admin_dn, ADMIN_PASSWORD)
    taken, unused = world.user_b, f"nobody-{uuid.uuid4().hex[:6]}@{world.b}"
    conn.modify(layout.account(world.user_a), {"mail": [(ldap3.MODIFY_ADD, [taken, unused])]})
    added = conn.result["result"] == 0
    conn.unbind()
    try:
        assert mail.can_login(world.user_b, USER_PASSWORD), "the real holder logs in as before"
        assert not mail.can_login(taken, USER_PASSWORD + "x")
        assert not mail.can_login(unused, USER_PASSWORD), "A's account logged in as an address of B"
    finally:
        if added:
            root = _conn(stack, stack.ldap_manager_dn, str(stack.ldap_manager_password))
            root.modify(layout.account(world.user_a), {"mail": [(ldap3.MODIFY_DELETE, [taken, unused])]})
            root.unbind()


def test_a_role_outside_the_admins_branch_gives_no_rights(stack: Settings, world: World, layout: Layout) -> None:
    """Even an entry that does carry mgtRole superadmin (written by the rootdn here) is
    nobody's operator unless it is an admin entry."""
    tag = uuid.uuid4().hex[:6]
    forged = f"mail=op-{tag}@{world.a},{layout.users(world.a)}"
    root = _conn(stack, stack.ldap_manager_dn, str(stack.ldap_manager_password))
    root.add(forged, ["inetOrgPerson", "mgtAccount", "extensibleObject"],
             {"mail": f"op-{tag}@{world.a}", "sn": "x", "cn": "x", "domainName": world.a, "mgtStatus": "active",
              "mgtQuota": "1", "mgtRole": "superadmin", "mgtAdminDomain": world.b, "userPassword": "Forged-op-pw1"})
    assert root.result["result"] == 0, root.result
    root.unbind()
    conn = _conn(stack, forged, "Forged-op-pw1")
    assert _read(conn, layout.account(world.user_b), ["mail"]) is None
    conn.modify(layout.domain(world.b), {"mgtQuotaPool": [(ldap3.MODIFY_REPLACE, [str(100 * 1024**4)])]})
    assert conn.result["result"] == INSUFFICIENT, conn.result
    conn.modify(layout.account(world.user_b), {"givenName": [(ldap3.MODIFY_REPLACE, ["hijacked"])]})
    assert conn.result["result"] != 0, conn.result
    conn.add(layout.admin(f"op2-{tag}"), ["mgtAdmin"], {"uid": f"op2-{tag}", "mgtRole": "superadmin",
                                                       "mgtStatus": "active"})
    assert conn.result["result"] == INSUFFICIENT, conn.result
    conn.unbind()


@pytest.mark.parametrize("who", ["app", "mailserver", "domain admin", "the account itself", "anonymous"])
def test_nobody_reads_password_hashes(stack: Settings, world: World, layout: Layout, who: str) -> None:
    dn = layout.account(world.user_a)
    identity = {
        "app": (stack.ldap_app_dn, str(stack.ldap_app_password)),
        "mailserver": (stack.ldap_mail_dn, str(stack.ldap_mail_password)),
        "domain admin": (world.admin_dn, ADMIN_PASSWORD),
        "the account itself": (dn, USER_PASSWORD),
        "anonymous": (None, None),
    }[who]
    conn = _conn(stack, *identity)
    for target in (dn, world.admin_dn):
        entry = _read(conn, target, ["userPassword", "mail", "uid"]) or {}
        assert "userPassword" not in entry, (who, target)
        conn.search(layout.domains, "(userPassword=*)", attributes=["mail"])
        assert [e for e in conn.response if e.get("type") == "searchResEntry"] == [], who
        # A compare would be an oracle for guessing: refused as well.
        conn.compare(target, "userPassword", USER_PASSWORD)
        assert conn.result["description"] != "compareTrue", (who, target)
    conn.unbind()


def test_mailserver_reads_routing_data_and_writes_nothing(stack: Settings, world: World,
                                                          layout: Layout) -> None:
    conn = _conn(stack, stack.ldap_mail_dn, str(stack.ldap_mail_password))
    dn = layout.account(world.user_a)
    entry = _read(conn, dn, ["mail", "mgtQuota", "mgtStatus", "givenName"])
    assert entry is not None and entry["mail"] == [world.user_a] and entry["mgtStatus"] == ["active"]
    assert "givenName" not in entry, "names are not the mail server's business"
    conn.modify(dn, {"mgtQuota": [(ldap3.MODIFY_REPLACE, ["1"])]})
    assert conn.result["result"] == INSUFFICIENT, conn.result
    conn.modify(dn, {"mgtStatus": [(ldap3.MODIFY_REPLACE, ["disabled"])]})
    assert conn.result["result"] == INSUFFICIENT, conn.result
    conn.modify(layout.domain(world.a), {"mgtMaxMessageSize": [(ldap3.MODIFY_REPLACE, ["1"])]})
    assert conn.result["result"] == INSUFFICIENT, conn.result
    conn.add(f"mail=new@{world.a},{layout.users(world.a)}", ["inetOrgPerson", "mgtAccount"],
             {"mail": f"new@{world.a}", "sn": "x", "cn": "x", "domainName": world.a, "mgtStatus": "active",
              "mgtQuota": "1"})
    assert conn.result["result"] == INSUFFICIENT, conn.result
    conn.delete(layout.alias(world.alias_b))
    assert conn.result["result"] == INSUFFICIENT, conn.result
    conn.unbind()


# ---- the service layer, acting for the domain admin ---------------------------

def test_service_layer_gives_a_domain_admin_not_found_outside_its_domains(stack: Settings, world: World,
                                                                          audit: AuditProbe) -> None:
    actor = Actor(world.admin, Role.DOMAIN_ADMIN, frozenset({world.a}), origin="test")
    with Services.open(stack, Actor("observer", Role.SUPERADMIN, origin="test")) as operator:
        before = (operator.domains.get(world.b), operator.accounts.get(world.user_b),
                  operator.aliases.get(world.alias_b), list(operator.accounts.iter_domain(world.b)))
    audit_before = audit.count()

    with Services.open(stack, actor) as svc:
        attempts = {
            "domain get": lambda: svc.domains.get(world.b),
            "domain set_status": lambda: svc.domains.set_status(world.b, Status.DISABLED),
            "account list": lambda: list(svc.accounts.iter_domain(world.b)),
            "account get": lambda: svc.accounts.get(world.user_b),
            "account add": lambda: svc.accounts.add(f"new@{world.b}", PasswordInput(plain=USER_PASSWORD)),
            "account update": lambda: svc.accounts.update(world.user_b, given_name="x", quota="2G"),
            "account suspend": lambda: svc.accounts.set_status(world.user_b, Status.DISABLED),
            "account password": lambda: svc.accounts.set_password(world.user_b, PasswordInput(plain="Taken-over-1")),
            "account delete": lambda: svc.accounts.delete(world.user_b),
            "alias get": lambda: svc.aliases.get(world.alias_b),
            "alias add": lambda: svc.aliases.add(f"sales@{world.b}", world.user_b),
            "alias members": lambda: svc.aliases.set_members(world.alias_b, world.user_a),
            "alias delete": lambda: svc.aliases.delete(world.alias_b),
            "alias to own from other": lambda: svc.accounts.add(f"x@{world.a}", PasswordInput(plain=USER_PASSWORD),
                                                               aliases=f"x@{world.b}"),
        }
        outcomes = {}
        for name, attempt in attempts.items():
            try:
                attempt()
                outcomes[name] = "done"
            except NotFound:
                outcomes[name] = "not found"
            except PermissionDenied:
                outcomes[name] = "denied"
            except Exception as exc:  # noqa: BLE001 - reported below
                outcomes[name] = f"{type(exc).__name__}: {exc}"
        special = ("domain set_status", "alias to own from other")
        assert {k: v for k, v in outcomes.items() if k not in special} == {
            k: "not found" for k in attempts if k not in special}
        assert outcomes["domain set_status"] in ("not found", "denied")
        assert outcomes["alias to own from other"].startswith("InvalidInput"), outcomes
        assert [d.name for d in svc.domains.list()] == [world.a]
        assert {a.email for a in svc.accounts.search("malee", 100)} == set()

    with Services.open(stack, Actor("observer", Role.SUPERADMIN, origin="test")) as operator:
        after = (operator.domains.get(world.b), operator.accounts.get(world.user_b),
                 operator.aliases.get(world.alias_b), list(operator.accounts.iter_domain(world.b)))
        assert operator.backends.accounts.find(f"x@{world.a}") is None
    assert after == before
    assert audit.count() == audit_before


def test_service_layer_lets_the_domain_admin_manage_its_own_domain(stack: Settings, world: World,
                                                                   mail: MailClients) -> None:
    actor = Actor(world.admin, Role.DOMAIN_ADMIN, frozenset({world.a}), origin="test")
    email = f"staff-{uuid.uuid4().hex[:6]}@{world.a}"
    with Services.open(stack, actor) as svc:
        svc.accounts.add(email, PasswordInput(plain=USER_PASSWORD), given_name="พนักงาน", quota="500M")
        assert mail.can_login(email, USER_PASSWORD)
        svc.accounts.update(email, quota="700M")
        svc.aliases.add(f"team-{email}", email)
        svc.accounts.set_status(email, Status.DISABLED)
        assert not mail.can_login(email, USER_PASSWORD)
        svc.accounts.delete(email)
        with pytest.raises(PermissionDenied):
            svc.domains.add(f"new-{world.a}")
