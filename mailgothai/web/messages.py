"""Errors from the services, said in the page's language: the field's label and the
reason. Reasons the core words often are translated by pattern (their variable parts
kept); any other reason is shown as the core worded it, after the translated label."""

from __future__ import annotations

import re
from typing import Callable

from mailgothai.errors import AlreadyExists, InvalidInput, MailGoThaiError, NotFound
from mailgothai.web.i18n import N_

FIELD_LABELS = {
    "email": N_("Address"), "address": N_("Address"), "domain": N_("Domain"), "quota": N_("Quota"),
    "given_name": N_("Given name"), "surname": N_("Surname"), "display_name": N_("Display name"),
    "aliases": N_("Aliases"), "forward": N_("Forward to"), "to": N_("Delivers to"), "password": N_("Password"),
    "new_password": N_("New password"), "new_password_repeat": N_("New password again"),
    "current_password": N_("Current password"), "max_accounts": N_("Maximum accounts"),
    "quota_pool": N_("Quota pool"), "default_quota": N_("Default quota"),
    "max_message_size": N_("Maximum message size"), "hourly_send_limit": N_("Hourly send limit"),
    "description": N_("Description"), "login": N_("Login"), "role": N_("Role"), "search": N_("Search"),
    "status": N_("Status"), "code": N_("Code"), "name": N_("Name"), "days": N_("Valid for (days)"),
    "offset": N_("Offset"), "limit": N_("Page size"), "sort": N_("Sort"), "since": N_("From"),
    "until": N_("Until"), "actor": N_("Actor"), "action": N_("Action"), "totp": N_("Second factor"),
    "local_part": N_("Address"), "body": N_("Request body"),
}

# (pattern on the core's English reason, msgid with the same named groups)
REASONS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^must not be negative$"), N_("must not be negative")),
    (re.compile(r"^is empty$"), N_("is empty")),
    (re.compile(r"^must be a whole number, not (?P<value>.*)$"), N_("must be a whole number, not %(value)s")),
    (re.compile(r"^not a size: (?P<value>.*?) \(.*\)$"),
     N_("not a size: %(value)s (use bytes or a number with K, M, G or T, e.g. 500M or 2G)")),
    (re.compile(r"^quota (?P<quota>\S+) would exceed the domain's pool: (?P<used>\S+) of (?P<pool>\S+) allocated"),
     N_("quota %(quota)s would exceed the domain's pool: %(used)s of %(pool)s allocated")),
    (re.compile(r"^domain (?P<domain>\S+) allows at most (?P<max>\d+) accounts"),
     N_("domain %(domain)s allows at most %(max)s accounts")),
    (re.compile(r"^longer than (?P<max>\d+) characters"), N_("longer than %(max)s characters")),
    (re.compile(r"^contains a control character"), N_("contains a control character")),
    (re.compile(r"^(?P<what>\w+) contains a space$"), N_("contains a space")),
    (re.compile(r"^give exactly one of"), N_("give a password, or choose to generate one")),
    (re.compile(r"^must be between (?P<low>\d+) and (?P<high>\d+)$"), N_("must be between %(low)s and %(high)s")),
    (re.compile(r"^the two new passwords differ$"), N_("the two new passwords differ")),
    (re.compile(r"^is not your current password$"), N_("is not your current password")),
    (re.compile(r"^is the same as the current one$"), N_("is the same as the current one")),
    (re.compile(r"^enter the 6 digits"), N_("enter the 6 digits your authenticator app shows")),
    (re.compile(r"^the code is not right"), N_("the code is not right (or was already used); try the next one")),
    (re.compile(r"^give at least one character$"), N_("give at least one character")),
    (re.compile(r"^give the token a name"), N_("give the token a name (what uses it)")),
    (re.compile(r"^an alias needs at least one target address$"), N_("an alias needs at least one target address")),
    (re.compile(r"^a domain admin needs at least one domain$"), N_("a domain admin needs at least one domain")),
    (re.compile(r"^(?P<address>\S+) is already in use by an? (?P<holder>.+)$"),
     N_("%(address)s is already in use")),
    (re.compile(r"^(?P<address>\S+): domain (?P<domain>\S+) is not hosted here$"),
     N_("%(address)s: domain %(domain)s is not hosted here")),
    (re.compile(r"^not a date or time .*?: (?P<value>.*)$"),
     N_("not a date or time (YYYY-MM-DD or YYYY-MM-DDTHH:MM): %(value)s")),
    (re.compile(r"^must be a record number$"), N_("must be a record number")),
    (re.compile(r"^give the part before the @ only$"), N_("give the part before the @ only")),
    (re.compile(r"^type the domain's name exactly$"), N_("type the domain's name exactly")),
    (re.compile(r"^an operator already administers every domain$"),
     N_("an operator already administers every domain")),
    (re.compile(r"^shorter than (?P<n>\d+) characters$"), N_("shorter than %(n)s characters")),
]


def translate_reason(reason: str, gettext: Callable[[str], str]) -> str:
    for pattern, msgid in REASONS:
        match = pattern.search(reason)
        if match:
            return gettext(msgid) % match.groupdict()
    return reason


def field_label(field: str, gettext: Callable[[str], str]) -> str:
    label = FIELD_LABELS.get(field)
    return gettext(label) if label else field


def describe_error(exc: MailGoThaiError, gettext: Callable[[str], str]) -> str:
    if isinstance(exc, InvalidInput):
        return f"{field_label(exc.field, gettext)}: {translate_reason(exc.reason, gettext)}"
    if isinstance(exc, AlreadyExists):
        return gettext("%(key)s already exists or is in use") % {"key": exc.key}
    if isinstance(exc, NotFound):
        return gettext("%(key)s was not found") % {"key": exc.key}
    return str(exc)
