"""Every reason a value can be refused for has a code, an English template and a Thai one.

The reasons are one table, core/reasons.py's `Why`; an InvalidInput takes nothing else
(mypy holds every raise site to it). So the table is the whole list: each member must
have a Thai translation in the catalogue that keeps the template's parameters and leaves
no English behind, and every field an InvalidInput names must have a Thai label.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

import mailgothai
from mailgothai.core.addresses import parse_address_list
from mailgothai.core.limits import check_account_fits
from mailgothai.core.models import Domain, DomainLimits, Status
from mailgothai.core.quota import parse_size
from mailgothai.core.reasons import Reason, Term, Why
from mailgothai.errors import AlreadyExists, InvalidInput, NotFound
from mailgothai.web.i18n import TRANSLATIONS_DIR, load_translations
from mailgothai.web.messages import FIELD_LABELS, TERMS, describe_error

PACKAGE = Path(mailgothai.__file__).parent
SHOWN_ON_PAGES = (PACKAGE / "core", PACKAGE / "services", PACKAGE / "dkim", PACKAGE / "web")
NOT_SHOWN = PACKAGE / "web" / "api"  # the JSON API answers programs, in English
PLACEHOLDER = re.compile(r"%\((\w+)\)s")
SAMPLE = "\u27e8value\u27e9"  # ⟨value⟩: stands for a parameter in a rendered template
# Latin that may stay in a Thai sentence: names of formats, schemes, units, options.
KEPT = {"ASCII", "IDNA", "UTF", "CSV", "cp874", "TIS", "XML", "YYYY", "MM", "DD", "DDTHH", "KiB",
        "argon2", "argon2d", "argon2i", "argon2id", "base64", "ARGON2", "SSHA", "SSHA512", "CRYPT",
        "U", "K", "M", "G", "T", "B", "agency.go.th", "selector", "Windows", "ldap", "ldaps", "URI",
        "host", "port", "JSON", "generate_password", "true", "superadmin", "domain_admin", "rsa", "ed25519",
        "mailgothai", "stack", "up", "queue", "list", "all", "domain", "force", "resume", "encoding",
        "FILE", "JOB", "Sieve", "utf-8-sig", "cp1252", "UTF-8", "TIS-620", "YYYY-MM-DD", "YYYY-MM-DDTHH", "false",
        "utf-8", "read", "write", "send-as", "send",  # send-as etc.: the rights words of a shared mailbox
        "DNS", "MX", "SPF", "DMARC", "MTA-STS", "TLS"}  # names of protocols (issue 19: a domain's DNS records)
LATIN = re.compile(r"[A-Za-z][A-Za-z0-9._-]*")


@pytest.fixture(scope="module")
def th():  # type: ignore[no-untyped-def]
    return load_translations()["th"]


@pytest.fixture(scope="module")
def catalogue() -> Catalog:
    with open(TRANSLATIONS_DIR / "th" / "LC_MESSAGES" / "messages.po", "rb") as fh:
        return read_po(fh)


def english_left(text: str) -> list[str]:
    """Latin words of a Thai text that are not sample values, quoted text, options or KEPT names."""
    text = re.sub(r"'[^']*'|`[^`]*`|\"[^\"]*\"|\$[^$]*\$|\{[A-Z0-9%()a-z]+\}|--?[a-z-]+", " ",
                  text.replace(SAMPLE, " "))
    return [w.rstrip(".-") for w in LATIN.findall(text) if w.rstrip(".-") not in KEPT]


def sample(why: Why) -> Reason:
    return why(**{name: SAMPLE for name in PLACEHOLDER.findall(why.value)})


def template_problems(catalogue: Catalog, th) -> list[str]:  # type: ignore[no-untyped-def]
    """Why members whose Thai is missing, keeps English, or names parameters the template lacks."""
    problems = []
    for why in Why:
        message = catalogue.get(why.value)
        if message is None or not message.string or message.fuzzy:
            problems.append(f"{why.code}: no Thai for {why.value!r}")
            continue
        if set(PLACEHOLDER.findall(message.string)) - set(PLACEHOLDER.findall(why.value)):
            problems.append(f"{why.code}: the Thai names a parameter {why.value!r} does not have")
        if PLACEHOLDER.sub("", why.value).strip(": ") and not re.search(r"[\u0E00-\u0E7F]", message.string):
            problems.append(f"{why.code}: the Thai has no Thai in it")
        left = english_left(sample(why).render(th.gettext))
        if left:
            problems.append(f"{why.code}: stays partly English in Thai: {left}")
    return problems


def test_every_reason_code_has_an_english_and_a_thai_template(catalogue: Catalog, th) -> None:  # type: ignore[no-untyped-def]
    assert len(Why) > 150
    for why in Why:
        assert re.fullmatch(r"[a-z0-9_]+", why.code)
        assert SAMPLE in str(sample(why)) or not PLACEHOLDER.search(why.value)  # English renders every parameter
    assert template_problems(catalogue, th) == []


def test_a_reason_without_thai_is_caught(catalogue: Catalog, th) -> None:  # type: ignore[no-untyped-def]
    """The test above can fail: take one template's Thai away and it names that code."""
    bare = Catalog(locale="th")
    for message in catalogue:
        if message.id and message.id != Why.NOT_A_SIZE.value:
            bare.add(message.id, message.string)
    assert template_problems(bare, th) == ["not_a_size: no Thai for 'not a size'"]


def test_our_words_inside_reasons_read_in_thai(th) -> None:  # type: ignore[no-untyped-def]
    """A Term parameter (a key's or a job's state, what holds an address) is translated too."""
    from mailgothai.store.jobs import JobState
    from mailgothai.store.relay_state import KeyState

    words = {*(s.value for s in KeyState), *(s.value for s in JobState), "account", "alias"}
    assert set(TERMS) >= words
    assert [w for w in sorted(words) if english_left(th.gettext(w))] == []
    shown = Why.KEY_NOT_PENDING(selector="s2026", state=Term("retired")).render(th.gettext)
    assert "เลิกใช้แล้ว" in shown and "retired" not in shown


def test_no_two_codes_share_a_template() -> None:
    # Enum members with equal values would be aliases: one code silently answering for another.
    assert len(Why.__members__) == len(Why)


def fields_named(*roots: Path, exclude: Path) -> dict[str, list[str]]:
    """Every field written as a literal in an InvalidInput(...) or LimitExceeded(...) call: where."""
    found: dict[str, list[str]] = {}
    for root in roots:
        for path in root.rglob("*.py"):
            if exclude in path.parents:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                        and node.func.id in {"InvalidInput", "LimitExceeded"} and node.args
                        and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                    found.setdefault(node.args[0].value, []).append(f"{path.name}:{node.lineno}")
    return found


def test_every_field_named_on_a_page_has_a_thai_label(th) -> None:  # type: ignore[no-untyped-def]
    fields = fields_named(*SHOWN_ON_PAGES, exclude=NOT_SHOWN)
    assert {"quota", "email", "file", "selector"} <= set(fields)
    missing = sorted(f"{f} ({', '.join(where)})" for f, where in fields.items() if f not in FIELD_LABELS)
    assert not missing, f"fields without a label in web/messages.py FIELD_LABELS: {missing}"
    untranslated = sorted(f for f in fields if english_left(th.gettext(FIELD_LABELS[f])))
    assert not untranslated, f"labels without Thai: {untranslated}"


def errors_of(call) -> InvalidInput:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput) as caught:
        call()
    return caught.value


def test_reasons_raised_by_the_core_read_in_thai_and_stay_as_they_were_in_english(th) -> None:  # type: ignore[no-untyped-def]
    size = errors_of(lambda: parse_size("12 parsecs"))
    assert size.code == "size_unreadable"
    assert size.reason == "not a size: '12 parsecs' (use bytes or a number with K, M, G or T, e.g. 500M or 2G)"
    assert describe_error(size, th.gettext) == (
        "โควตา: ไม่ใช่ขนาด: '12 parsecs' (ใช้จำนวนไบต์ หรือตัวเลขตามด้วย K, M, G หรือ T เช่น 500M หรือ 2G)")
    nested = errors_of(lambda: parse_address_list("somchai@moph.go.th; malee.moph.go.th", "aliases"))
    assert nested.reason == "'malee.moph.go.th': missing '@'"
    assert describe_error(nested, th.gettext) == "ที่อยู่แฝง: 'malee.moph.go.th': ไม่มี '@'"
    full = Domain("moph.go.th", "", Status.ACTIVE, DomainLimits(max_accounts=2), account_count=2)
    limit = errors_of(lambda: check_account_fits(full, 0))
    assert limit.code == "accounts_full"
    assert describe_error(limit, th.gettext) == \
        "จำนวนบัญชีสูงสุด: โดเมน moph.go.th มีบัญชีได้ไม่เกิน 2 บัญชี และมีอยู่แล้ว 2 บัญชี"


def test_a_reason_survives_storage_as_data() -> None:
    """Import rows keep their reasons as data (store/jobs.py): nested reasons and our words included."""
    why = Why.ITEM_REFUSED(item="'x@'", reason=Why.ROW_ADDRESS_TAKEN(address="a@b.go.th", holder=Term("alias"),
                                                                     owner="c@b.go.th"))
    again = Reason.from_data(why.as_data())
    assert again == why and isinstance(again.params["reason"], Reason)
    assert isinstance(again.params["reason"].params["holder"], Term)
    assert str(again) == "'x@': a@b.go.th is already in use by an alias (c@b.go.th)"
    with pytest.raises(ValueError, match="unknown reason code"):
        Reason.from_data({"code": "no_such_code", "params": {}})


def test_the_other_errors_carry_codes() -> None:
    assert NotFound("account", "a@b.go.th").code == "not_found"
    assert AlreadyExists("alias", "a@b.go.th").code == "already_exists"
    assert str(AlreadyExists("alias", "a@b.go.th").why) == "alias already exists: a@b.go.th"
