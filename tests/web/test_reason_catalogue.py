"""Every reason an InvalidInput can carry reaches a Thai page translated.

The reasons are read from the source code (tests/web/reasons_in_code.py): every
`InvalidInput(field, reason)` in the core, the services, the DKIM keys and the web's
pages. Each must be an instance of an entry of web/messages.py's REASONS whose Thai
translation leaves no English behind. A new reason without an entry fails here, naming
its file and line. (The JSON API answers programs in English and is left out.)
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

import mailgothai
from mailgothai.core.addresses import parse_address_list
from mailgothai.core.limits import check_account_fits
from mailgothai.core.models import Domain, DomainLimits, Status
from mailgothai.core.quota import parse_size
from mailgothai.errors import InvalidInput
from mailgothai.web.i18n import TRANSLATIONS_DIR, load_translations
from mailgothai.web.messages import FIELD_LABELS, REASONS, describe_error, reason_msgid, translate_reason
from tests.web.reasons_in_code import VALUE, Site, reason_sites

PACKAGE = Path(mailgothai.__file__).parent
SOURCES = (PACKAGE / "core", PACKAGE / "services", PACKAGE / "dkim", PACKAGE / "web")
NOT_SHOWN = (PACKAGE / "web" / "api",)
PLACEHOLDER = re.compile(r"%\((\w+)\)s")
# Latin that may stay in a Thai sentence: names of formats, schemes and units.
KEPT = {"ASCII", "IDNA", "UTF", "CSV", "cp874", "TIS", "XML", "YYYY", "MM", "DD", "DDTHH", "KiB",
        "argon2", "argon2d", "argon2i", "argon2id", "base64", "ARGON2", "SSHA", "SSHA512", "CRYPT",
        "U", "K", "M", "G", "T", "B", "agency.go.th", "selector"}
LATIN = re.compile(r"[A-Za-z][A-Za-z0-9.]*")


@pytest.fixture(scope="module")
def sites() -> list[Site]:
    found = reason_sites(*SOURCES, exclude=NOT_SHOWN)
    assert len(found) > 100  # the walk found the raise sites at all
    return found


@pytest.fixture(scope="module")
def th():  # type: ignore[no-untyped-def]
    return load_translations()["th"]


@pytest.fixture(scope="module")
def catalogue() -> Catalog:
    with open(TRANSLATIONS_DIR / "th" / "LC_MESSAGES" / "messages.po", "rb") as fh:
        return read_po(fh)


def english_left(text: str) -> list[str]:
    """Latin words of a Thai text that are not quoted values, markers or KEPT names."""
    text = re.sub(r"'[^']*'|\$[^$]*\$|\{[A-Z0-9]+\}", " ", text.replace(VALUE, " "))
    return [w.rstrip(".") for w in LATIN.findall(text) if w.rstrip(".") not in KEPT]


def test_every_reason_in_the_code_is_translated(sites: list[Site], th) -> None:  # type: ignore[no-untyped-def]
    problems = []
    for site in sites:
        for reason in site.reasons:
            if reason == VALUE:
                if not site.passed_on:
                    problems.append(f"{site}: a reason the test cannot read; write it as a string or f-string")
                continue
            if reason_msgid(reason) is None:
                problems.append(f"{site}: no entry in web/messages.py REASONS matches {reason!r}")
                continue
            left = english_left(translate_reason(reason, th.gettext))
            if left:
                problems.append(f"{site}: {reason!r} stays partly English in Thai: {left}")
    assert not problems, "\n".join(problems)


def test_every_field_named_in_the_code_has_a_thai_label(sites: list[Site], th) -> None:  # type: ignore[no-untyped-def]
    fields = {f for site in sites for f in site.fields if f is not None}
    assert {"quota", "email", "file", "selector"} <= fields
    missing = sorted(f for f in fields if f not in FIELD_LABELS)
    assert not missing, f"fields without a label in web/messages.py FIELD_LABELS: {missing}"
    untranslated = sorted(f for f in fields if english_left(th.gettext(FIELD_LABELS[f])))
    assert not untranslated, f"labels without Thai: {untranslated}"


def test_each_catalogue_entry_has_thai_with_the_same_placeholders(catalogue: Catalog) -> None:
    problems = []
    for msgid in REASONS:
        message = catalogue.get(msgid)
        if message is None or not message.string or message.fuzzy:
            problems.append(f"no Thai for {msgid!r}")
            continue
        if set(PLACEHOLDER.findall(message.string)) - set(PLACEHOLDER.findall(msgid)):
            problems.append(f"the Thai of {msgid!r} names a part the reason does not have")
        if not re.search(r"[\u0E00-\u0E7F]", message.string) and PLACEHOLDER.sub("", msgid).strip(": "):
            problems.append(f"the Thai of {msgid!r} has no Thai in it")
    assert not problems, "\n".join(problems)


def test_a_new_reason_without_an_entry_is_caught(tmp_path: Path) -> None:
    """The test above can fail: a reason nobody catalogued is found and not matched."""
    module = tmp_path / "novel.py"
    module.write_text(textwrap.dedent('''
        from mailgothai.errors import InvalidInput
        def _check(value, what):
            raise InvalidInput("quota", f"{what} {value!r} is not a colour we know")
        def paint(value):
            _check(value, "paint")
        def known(text):
            raise InvalidInput("quota", "must not be negative")
    '''))
    found = reason_sites(tmp_path)
    assert [s.reasons for s in found] == [(f"paint '{VALUE}' is not a colour we know",), ("must not be negative",)]
    assert reason_msgid(found[0].reasons[0]) is None
    assert reason_msgid(found[1].reasons[0]) == ("must not be negative", {})


def errors_of(call) -> InvalidInput:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput) as caught:
        call()
    return caught.value


def test_reasons_raised_by_the_core_read_in_thai(th) -> None:  # type: ignore[no-untyped-def]
    size = errors_of(lambda: parse_size("12 parsecs"))
    assert describe_error(size, th.gettext) == (
        "โควตา: ไม่ใช่ขนาด: '12 parsecs' (ใช้จำนวนไบต์ หรือตัวเลขตามด้วย K, M, G หรือ T เช่น 500M หรือ 2G)")
    nested = errors_of(lambda: parse_address_list("somchai@moph.go.th; malee.moph.go.th", "aliases"))
    assert describe_error(nested, th.gettext) == "ที่อยู่แฝง: 'malee.moph.go.th': ไม่มี '@'"
    full = Domain("moph.go.th", "", Status.ACTIVE, DomainLimits(max_accounts=2), account_count=2)
    limit = errors_of(lambda: check_account_fits(full, 0))
    assert describe_error(limit, th.gettext) == \
        "จำนวนบัญชีสูงสุด: โดเมน moph.go.th มีบัญชีได้ไม่เกิน 2 บัญชี และมีอยู่แล้ว 2 บัญชี"
