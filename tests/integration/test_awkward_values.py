"""Values that break naive LDAP filters, DNs, CSV cells or shells round-trip exactly
through the CLI and the directory, and searching for filter metacharacters finds only
what holds them (every filter and DN goes through directory/escaping.py)."""

from __future__ import annotations

import json
import subprocess
import uuid
from dataclasses import dataclass

import pytest

from mailgothai.settings import Settings
from tests.conftest import Cli
from tests.integration.conftest import MailClients

pytestmark = pytest.mark.integration

PASSWORD = "Awkward-pw-123"


@dataclass(frozen=True)
class Person:
    local: str
    given: str = ""
    surname: str = ""
    display: str = ""

    def names(self, domain: str) -> tuple[str, ...]:
        """What the search looks at: the address, each name, and the common name."""
        cn = self.display or " ".join(p for p in (self.given, self.surname) if p)
        return (f"{self.local}@{domain}", self.given, self.surname, self.display, cn)


PEOPLE = (
    Person("plain", "Somchai", "Srisuk"),
    Person("inject", "*)(uid=*", "Smith, John"),
    Person("paren", ")(cn=*)", "(|(objectClass=*))"),
    Person("a*b", "Star*Middle", "No-Paren"),
    Person("thai", "สมชาย", "ศรีสุข", "นายสมชาย ศรีสุข (กรมอนามัย)"),
    Person("formula", "back\\slash\\", "O'Brien \"Jr\"", '=HYPERLINK("x")'),
    Person("#lead+x=y", "#hash", " spaced both ends ", "+plus;semi<angle>,=eq"),
    Person("o'brien", "-minus", "@at", "\\\\server\\share"),
    Person("{brace}|pipe~", "ǅ Ünïcödé", "‘curly’ “quotes”", "tab-free\u00a0nbsp"),
)


def _ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, (result.args, result.stderr)
    assert "Traceback" not in result.stderr
    return result


def _add_all(cli: Cli, domain: str) -> None:
    for p in PEOPLE:
        # --option=value: how a shell user passes a value that starts with '-'.
        _ok(cli("account", "add", f"{p.local}@{domain}", f"--given-name={p.given}", f"--surname={p.surname}",
                f"--display-name={p.display}", "--password-stdin", stdin=PASSWORD + "\n"))


def _listed(cli: Cli, domain: str, *search: str) -> set[str]:
    args = tuple(f"--search={s}" for s in search)
    return {a["email"] for a in json.loads(_ok(cli("account", "list", domain, *args, "--json")).stdout)}


def _expected(domain: str, text: str) -> set[str]:
    """Prefix search, case-insensitive (the CLI's documented 'address or name prefix')."""
    return {f"{p.local}@{domain}" for p in PEOPLE
            if any(n.casefold().startswith(text.casefold()) for n in p.names(domain) if n)}


@pytest.fixture(scope="module")
def awkward_domain(stack: Settings) -> str:
    """One domain holding PEOPLE, for the whole module (the tests only read it)."""
    cli = Cli(stack)
    domain = f"awk{uuid.uuid4().hex[:8]}.go.th"
    _ok(cli("domain", "add", domain, "--description", '=HYPERLINK("x") *)(uid=* a\\b "q" กรมอนามัย '))
    _add_all(cli, domain)
    return domain


def test_names_round_trip_exactly_through_add_show_and_list(cli: Cli, awkward_domain: str) -> None:
    domain = awkward_domain
    shown_domain = json.loads(_ok(cli("domain", "show", domain, "--json")).stdout)
    assert shown_domain["description"] == '=HYPERLINK("x") *)(uid=* a\\b "q" กรมอนามัย '

    listed = {a["email"]: a for a in json.loads(_ok(cli("account", "list", domain, "--json")).stdout)}
    assert set(listed) == {f"{p.local}@{domain}" for p in PEOPLE}
    for p in PEOPLE:
        email = f"{p.local}@{domain}"
        shown = json.loads(_ok(cli("account", "show", email, "--json")).stdout)
        for record in (shown, listed[email]):
            assert (record["email"], record["given_name"], record["surname"], record["display_name"]) == (
                email, p.given, p.surname, p.display)


def test_changed_names_round_trip_too(cli: Cli, domain: str) -> None:
    email = f"changed@{domain}"
    _ok(cli("account", "add", email, "--given-name=x", "--password-stdin", stdin=PASSWORD + "\n"))
    _ok(cli("account", "set", email, "--given-name=*", "--surname=)(", "--display-name=\\*)(\\00"))
    shown = json.loads(_ok(cli("account", "show", email, "--json")).stdout)
    assert (shown["given_name"], shown["surname"], shown["display_name"]) == ("*", ")(", "\\*)(\\00")


@pytest.mark.parametrize("text", ["*", ")(", "*)(uid=*", "(|", "\\", "#", "+", "=", "สม", "นาย", "smith, j", "‘curly"])
def test_search_matches_only_what_holds_the_text(cli: Cli, awkward_domain: str, text: str) -> None:
    everyone = _listed(cli, awkward_domain)
    found = _listed(cli, awkward_domain, text)
    assert found == _expected(awkward_domain, text)
    assert found, "each probe names at least one person"
    assert found != everyone
    by_email = {f"{p.local}@{awkward_domain}": p for p in PEOPLE}
    for email in found:
        assert any(text.casefold() in n.casefold() for n in by_email[email].names(awkward_domain))


def test_search_across_domains_is_escaped_too(cli: Cli, awkward_domain: str) -> None:
    for text, expected in (("*)(uid=*", {"inject"}), (")(", {"paren"}), ("*", {"inject"})):
        found = json.loads(_ok(cli("account", "search", text, "--limit", "1000", "--json")).stdout)
        mine = {a["email"] for a in found if a["domain"] == awkward_domain}
        assert mine == {f"{local}@{awkward_domain}" for local in expected}
        assert all(any(text.casefold() in (a[k] or "").casefold()
                       for k in ("email", "given_name", "surname", "display_name")) for a in found)


def test_alias_targets_with_special_local_parts_round_trip(cli: Cli, awkward_domain: str) -> None:
    domain = awkward_domain
    targets = [f"#lead+x=y@{domain}", f"o'brien@{domain}", f"a*b@{domain}", f"{{brace}}|pipe~@{domain}",
               "=eq*@example.org"]
    alias = f"#help=desk+1@{domain}"
    _ok(cli("alias", "add", alias, "--to", ",".join(targets)))
    listed = json.loads(_ok(cli("alias", "list", domain, "--json")).stdout)
    assert [(a["address"], a["members"]) for a in listed] == [(alias, targets)]
    _ok(cli("alias", "delete", alias))
    assert json.loads(_ok(cli("alias", "list", domain, "--json")).stdout) == []


def test_account_with_special_local_part_logs_in_and_receives(cli: Cli, awkward_domain: str,
                                                              mail: MailClients) -> None:
    for local in ("#lead+x=y", "o'brien", "a*b", "{brace}|pipe~"):
        email = f"{local}@{awkward_domain}"
        assert mail.can_login(email, PASSWORD), email
        mail.deliver(email, f"Subject: to {local}\r\n\r\nhello\r\n".encode())
        with mail.imap(email, PASSWORD) as imap:
            assert imap.select_folder("INBOX", readonly=True)[b"EXISTS"] == 1
    # Dovecot's auth cache is flushed for such names too: a suspension applies at once.
    email = f"#lead+x=y@{awkward_domain}"
    _ok(cli("account", "suspend", email))
    assert not mail.can_login(email, PASSWORD)
    _ok(cli("account", "activate", email))
    assert mail.can_login(email, PASSWORD)


def test_filter_metacharacters_in_a_login_match_nobody(awkward_domain: str, mail: MailClients) -> None:
    # Every account here has the same password: a login name that Dovecot put into its
    # LDAP filter unescaped would match one of them and log in.
    for login in (f"*@{awkward_domain}", f"a*@{awkward_domain}", "*"):
        assert not mail.can_login(login, PASSWORD), login


def test_thai_domain_names_work_in_either_form(cli: Cli, mail: MailClients) -> None:
    thai = f"สาธิต{uuid.uuid4().hex[:6]}.ไทย"
    out = _ok(cli("domain", "add", thai, "--description", "โดเมนภาษาไทย")).stdout
    ascii_name = json.loads(_ok(cli("domain", "show", thai, "--json")).stdout)["name"]
    assert ascii_name.startswith("xn--") and ascii_name.endswith(".xn--o3cw4h") and ascii_name in out
    _ok(cli("account", "add", f"somchai@{thai}", "--given-name", "สมชาย", "--password-stdin", stdin=PASSWORD + "\n"))
    _ok(cli("alias", "add", f"info@{thai}", "--to", f"somchai@{thai}"))
    for name in (thai, ascii_name, ascii_name.upper()):
        assert _listed(cli, name) == {f"somchai@{ascii_name}"}, name
        aliases = json.loads(_ok(cli("alias", "list", name, "--json")).stdout)
        assert [(a["address"], a["members"]) for a in aliases] == [(f"info@{ascii_name}", [f"somchai@{ascii_name}"])]
    assert mail.can_login(f"somchai@{ascii_name}", PASSWORD)
