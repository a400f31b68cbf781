"""Every page in Thai and in English: no untranslated string.

The pages are every GET page route of the app (from its route table), filled with the
test agency's objects, seen as an operator, plus the login pages and a mail user's
page. Text a person reads (text nodes, placeholders, labels, titles) is collected;
what is data rather than a message is marked `translate="no"` (HTML's own attribute)
and left out. In Thai, any remaining run of Latin letters that is not a product name
or a unit is an untranslated message; in English, no Thai may remain.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from mailgothai.web.context import Access
from mailgothai.web.i18n import TRANSLATIONS_DIR, compile_catalogues
from tests.web.conftest import Client, Live, World
from tests.web.test_authorisation_matrix import PARAM, all_routes
from tests.web.test_quarantine_web import keep

pytestmark = pytest.mark.sql

ALLOWED_LATIN = {"MailGoThai", "DKIM", "TOTP", "API", "JSON", "CSV", "Dovecot", "slapd", "FreeOTP", "Google",
                 "Authenticator", "GiB", "MiB", "KiB", "TiB", "PiB", "B", "K", "M", "G", "T", "api", "v1",
                 "health", "moph", "go", "th", "account.create", "e.g", "YYYY", "MM", "DD", "DDTHH", "moph.go.th", "v",
                 "Archive", "rspamd",  # Archive: the name of the IMAP folder a handover fills; rspamd: a product
                 # names of protocols and mail programs (issue 19: a domain's DNS records)
                 "DNS", "MX", "SPF", "DMARC", "MTA", "STS", "TLS", "Thunderbird", "Outlook"}
LATIN = re.compile(r"[A-Za-z][A-Za-z.]*")
THAI = re.compile(r"[\u0E00-\u0E7F]")
ATTRS = ("placeholder", "title", "aria-label", "alt")


class Visible(HTMLParser):
    """Text a person reads, skipping elements marked translate="no" and non-text elements."""

    SKIP = {"script", "style", "svg", "code", "option", "title"}  # <title> repeats the h1 with its data
    VOID = {"br", "img", "input", "meta", "link", "hr", "meter"}

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []
        self.stack: list[bool] = []  # skipping?

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        skipping = (self.stack[-1] if self.stack else False) or tag in self.SKIP or attr.get("translate") == "no"
        if not skipping:
            self.texts.extend(v for k, v in attrs if k in ATTRS and v)
            if tag == "input" and attr.get("type") in ("submit", "button") and attr.get("value"):
                self.texts.append(attr["value"] or "")
        if tag not in self.VOID:
            self.stack.append(skipping)

    def handle_endtag(self, tag: str) -> None:
        if tag not in self.VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if not (self.stack and self.stack[-1]) and data.strip():
            self.texts.append(data.strip())


def untranslated(html: str, lang: str) -> list[str]:
    parser = Visible()
    parser.feed(html)
    bad = []
    for text in parser.texts:
        if lang == "th":
            words = [w.strip(".") for w in LATIN.findall(text)]
            if any(w and w not in ALLOWED_LATIN for w in words):
                bad.append(text)
        elif THAI.search(text):
            bad.append(text)
    return bad


def pages(live: Live, world: World) -> list[str]:
    values = {"domain": world.a, "email": world.user_a, "address": f"nobody@{world.a}", "login": world.admin_a,
              "token_id": "0", "lang": "th", "mailbox_id": world.deleted_a,
              "id": keep(live.settings, world.user_a, "ยืนยันบัญชี")}  # a quarantined message of A (issue 18)
    out = []
    for path, method, access in all_routes(live):
        if path.endswith("/export"):
            continue  # a CSV file, not a page
        if method == "GET" and path.startswith("/shared/"):  # A's saraban@ (tests/web/conftest.py)
            out.append(PARAM.sub(lambda m: f"saraban@{world.a}", path))
        elif method == "GET" and access in (Access.ADMIN, Access.OPERATOR) and not path.startswith(("/aliases/",
                                                                                                     "/shared/")):
            out.append(PARAM.sub(lambda m: values[m.group(1)], path))
    return out + ["/search?q=สม", f"/domains/{world.b}/aliases", "/audit?since=99-99"]


def test_catalogue_is_complete_and_compiles() -> None:
    from babel.messages.pofile import read_po

    with open(TRANSLATIONS_DIR / "th" / "LC_MESSAGES" / "messages.po", "rb") as fh:
        catalog = read_po(fh)
    empty = [m.id for m in catalog if m.id and (not m.string or m.fuzzy)]
    assert empty == []
    compile_catalogues()
    assert (TRANSLATIONS_DIR / "th" / "LC_MESSAGES" / "messages.mo").exists()


@pytest.mark.parametrize("lang", ["th", "en"])
def test_every_page_is_translated(client: Client, live: Live, world: World, lang: str) -> None:
    client.http.cookies.set("mgt_lang", lang)
    found: dict[str, list[str]] = {}
    for path in ("/login", "/mail/login"):
        found[path] = untranslated(client.get(path).text, lang)
    client.login_admin(world.operator)
    visited = 0
    for path in pages(live, world):
        response = client.get(path)
        assert response.status_code in (200, 400), f"{path} → {response.status_code}"
        assert f'<html lang="{lang}">' in response.text
        found[path] = untranslated(response.text, lang)
        visited += 1
    user = Client(live)
    user.http.cookies.set("mgt_lang", lang)
    user.login_user(world.user_b)
    found["/me"] = untranslated(user.get("/me").text, lang)
    user.close()
    assert visited > 15
    assert {p: t for p, t in found.items() if t} == {}


def test_language_follows_accept_language_then_the_remembered_switch(client: Client) -> None:
    assert '<html lang="en">' in client.get("/login", headers={"Accept-Language": "en-GB,en;q=0.9"}).text
    assert '<html lang="th">' in client.get("/login", headers={"Accept-Language": "th-TH,th;q=0.9"}).text
    switched = client.get("/lang/en?next=/login")
    assert switched.status_code == 303 and "mgt_lang=en" in switched.headers["set-cookie"]
    assert '<html lang="en">' in client.get("/login", headers={"Accept-Language": "th"}).text
    assert client.get("/lang/en?next=https://evil.example/").headers["location"] == "/"
