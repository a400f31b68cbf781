"""Thai and English through gettext catalogues (Babel).

English is the source language (the msgids). The Thai catalogue is
`admin_ui/translations/th/LC_MESSAGES/messages.po`; its compiled `.mo` is built by
`scripts/install.sh` (`pybabel compile`) and, if missing or older than the `.po`,
by the app at start. Messages are extracted from templates and Python with
`pybabel extract -F admin_ui/babel.cfg -k N_ -o admin_ui/translations/messages.pot .`.

The language: the `mgt_lang` cookie (the switch in the page header sets it, so it is
remembered), else the best match of Accept-Language, else Thai.
"""

from __future__ import annotations

import gettext
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from mailgothai.paths import PROJECT_ROOT

TRANSLATIONS_DIR = PROJECT_ROOT / "admin_ui" / "translations"
LANGUAGES = ("th", "en")
DEFAULT_LANGUAGE = "th"
LANG_COOKIE = "mgt_lang"


def N_(message: str) -> str:  # noqa: N802 - the gettext convention
    """Marks a message for extraction; translated later, where it is shown."""
    return message


def compile_catalogues(directory: Path = TRANSLATIONS_DIR) -> list[Path]:
    """Compile every .po whose .mo is missing or older; returns what was written."""
    written: list[Path] = []
    for po in directory.glob("*/LC_MESSAGES/*.po"):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with open(po, "rb") as fh:
            catalog = read_po(fh)
        tmp = mo.with_suffix(".mo.tmp")
        with open(tmp, "wb") as fh:
            write_mo(fh, catalog)
        tmp.replace(mo)
        written.append(mo)
    return written


def load_translations(directory: Path = TRANSLATIONS_DIR) -> dict[str, gettext.NullTranslations]:
    compile_catalogues(directory)
    out: dict[str, gettext.NullTranslations] = {"en": gettext.NullTranslations()}
    for lang in LANGUAGES:
        if lang != "en":
            out[lang] = Translations.load(str(directory), [lang], domain="messages")
    return out


def negotiate(cookie: str | None, accept_language: str | None) -> str:
    if cookie in LANGUAGES:
        return cookie
    best: tuple[float, str] | None = None
    for part in (accept_language or "").split(","):
        piece = part.strip()
        if not piece:
            continue
        tag, _, params = piece.partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        lang = tag.strip().lower().split("-")[0]
        if lang in LANGUAGES and quality > 0 and (best is None or quality > best[0]):
            best = (quality, lang)
    return best[1] if best else DEFAULT_LANGUAGE
