"""Errors from the services, said in the page's language: the field's label and the reason.

The core and the services word their reasons in English (the CLI and the API show them
as they are). The web translates them with one catalogue of templates: each entry of
REASONS is a reason as the code words it, its variable parts written `%(name)s`; it is
a gettext msgid, and also, compiled, the pattern that recognises the reason. A variable
part keeps its text (a value that is itself a msgid, such as a state, is translated
too); a part named `reason` is a nested reason and is translated in turn.

tests/web/test_reason_catalogue.py reads every InvalidInput the core, the services and
the web's pages can raise from the source code and fails for a reason that has no entry
here or no Thai translation: a new reason needs a line below and its msgstr in
admin_ui/translations/th/LC_MESSAGES/messages.po.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

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
    "local_part": N_("Address"), "body": N_("Request body"), "file": N_("File"), "job": N_("Import job number"),
    "before": N_("Older than record"), "confirm": N_("Domain name again"), "algorithm": N_("Key type"),
    "selector": N_("Selector"), "switch_after": N_("Switch after (seconds)"), "EMailAddress": N_("Address"),
    "account": N_("Account"), "as": N_("Restore under the address"), "new_address": N_("New address"),
    "reason": N_("Reason for the hold"), "retention_days": N_("Keep deleted accounts (days)"),
    "mailbox_id": N_("Mailbox id"), "encoding": N_("Encoding"),
    "login_free_failures": N_("Failed logins before a pause"),
    "login_refusal_base": N_("First pause after failed logins (seconds)"),
}

REASONS: tuple[str, ...] = (
    # addresses and domains (core/addresses.py)
    N_("address must be text"), N_("address is empty"), N_("address contains a control character"),
    N_("address contains a space"), N_("address longer than %(max)s characters"),
    N_("domain must be text"), N_("domain is empty"), N_("domain contains a control character"),
    N_("domain contains a space"), N_("domain longer than %(max)s characters"),
    N_("domain label %(label)s is not a valid internationalized label (%(detail)s)"),
    N_("domain label longer than %(max)s characters"),
    N_("domain contains an invalid character %(char)s (only letters, digits and '-' are allowed)"),
    N_("domain label %(label)s starts or ends with a hyphen"),
    N_("domain label %(label)s is not a valid IDNA A-label (%(detail)s)"),
    N_("domain ends with a dot"), N_("domain starts with a dot"), N_("domain starts or ends with a dot"),
    N_("domain is not a valid internationalized name (%(detail)s)"),
    N_("domain has an empty label (two dots in a row)"), N_("domain needs at least two labels (e.g. agency.go.th)"),
    N_("domain's last label is all digits (an IP address is not a domain)"),
    N_("non-ASCII characters in the local part are not supported"),
    N_("local part longer than %(max)s characters"), N_("local part starts with a dot"),
    N_("local part ends with a dot"), N_("local part has two dots in a row"),
    N_("local part contains an invalid character %(char)s"), N_("quoted local parts are not accepted"),
    N_("missing '@'"), N_("more than one '@'"), N_("nothing before the '@'"), N_("nothing after the '@'"),
    N_("not an address: %(value)s"), N_("%(item)s: %(reason)s"),
    # sizes, numbers, text (core/quota.py, core/limits.py, core/text.py, core/models.py)
    N_("not a size"), N_("is empty"), N_("must not be negative"), N_("larger than the maximum %(max)s"),
    N_("%(value)s has a unit but no number"),
    N_("not a size: %(value)s (use bytes or a number with K, M, G or T, e.g. 500M or 2G)"),
    N_("a fraction of a byte: %(value)s (a decimal number needs a unit)"),
    N_("must be a whole number, not %(value)s"), N_("must be greater than 0"),
    N_("cannot be unlimited (0) when the domain has a quota pool"),
    N_("default quota %(quota)s is larger than the domain's pool %(pool)s"),
    N_("domain %(domain)s has a quota pool, so an account's quota cannot be unlimited (0)"),
    N_("domain %(domain)s allows at most %(max)s accounts and already has %(count)s"),
    N_("domain %(domain)s allows at most %(max)s accounts and has %(count)s; %(extra)s more would make %(total)s"),
    N_("quota %(quota)s would exceed the domain's pool: %(used)s of %(pool)s allocated"),
    N_("quota %(quota)s would exceed the domain's pool: %(used)s of %(pool)s allocated, "
       "%(old)s of it to this account"),
    N_("domain %(domain)s already has %(count)s accounts; the maximum cannot be lowered to %(max)s"),
    N_("domain %(domain)s already has %(allocated)s allocated to its accounts; "
       "the pool cannot be lowered to %(pool)s"),
    N_("longer than %(max)s characters (%(length)s)"), N_("contains a control character (U+%(code)s)"),
    N_("must be 'active' or 'disabled', not %(value)s"),
    # passwords and stored hashes (core/passwords.py, services/passwords.py)
    N_("must be text"), N_("shorter than %(n)s characters"), N_("longer than %(max)s characters"),
    N_("contains a control character"), N_("contains an invalid character (a lone surrogate)"),
    N_("give exactly one of: %(choices)s"),
    N_("not a password hash: it needs a {ARGON2}, {SSHA}, {SSHA512} or {CRYPT} prefix"),
    N_("unsupported hash scheme {%(scheme)s}"),
    N_("{ARGON2} value is not a well-formed $argon2id$ or $argon2i$ string"),
    N_("argon2d hashes are not accepted (use argon2id or argon2i)"), N_("argon2 version %(version)s is not supported"),
    N_("argon2 parallelism %(value)s is out of range 1..%(high)s"),
    N_("argon2 time cost %(value)s is out of range 1..%(high)s"),
    N_("argon2 memory %(value)s KiB is out of range %(low)s..%(high)s"),
    N_("{ARGON2} salt or hash is not valid base64"), N_("argon2 salt shorter than 8 bytes"),
    N_("argon2 hash shorter than 4 bytes"), N_("{%(scheme)s} value is not valid base64"),
    N_("{%(scheme)s} value is too short (a %(n)s-byte digest followed by a salt)"),
    N_("{CRYPT} value is empty"), N_("{CRYPT} value must be printable ASCII without spaces"),
    # accounts, aliases, admins, domains, tokens, second factor, self-service
    N_("%(address)s is the account's own address"), N_("%(address)s: domain %(domain)s is not hosted here"),
    N_("%(address)s is already in use by an %(holder)s"), N_("give at least one character"),
    N_("an alias may not deliver to itself"), N_("an alias needs at least one target address"),
    N_("1-64 characters: letters, digits, '.', '_', '-', '@'; starting with a letter or digit"),
    N_("must be 'superadmin' or 'domain_admin', not %(value)s"), N_("a domain admin needs at least one domain"),
    N_("a superadmin administers every domain; give no --domain"),
    N_("%(domain)s still has accounts or aliases; use --force to delete them too"),
    N_("give the token a name (what uses it)"), N_("must be a whole number of days, not %(value)s"),
    N_("must be between %(low)s and %(high)s"), N_("must be one of %(choices)s, not %(value)s"),
    N_("enter the 6 digits your authenticator app shows"),
    N_("a second factor is already set up; turn it off first"),
    N_("no second factor is being set up; start again"),
    N_("the code is not right (or was already used); try the next one"),
    N_("the two new passwords differ"), N_("is not your current password"), N_("is the same as the current one"),
    N_("not a date or time (YYYY-MM-DD or YYYY-MM-DDTHH:MM): %(value)s"),
    # DKIM keys (services/dkim.py)
    N_("must be 'rsa' or 'ed25519', not %(value)s"),
    N_("1-63 letters, digits or '-', not starting or ending with '-'"),
    N_("%(domain)s has no active %(algorithm)s key to rotate; generate one"),
    N_("%(selector)s is %(state)s, not pending"),
    N_("%(selector)s is %(state)s: only a replaced or pending key can be retired"),
    # deleted accounts, restore, handover, rename, legal holds (core/retention.py, services/lifecycle.py,
    # services/holds.py, services/domains.py)
    N_("not a mailbox id: %(value)s (expected 8-4-4-4-12 hex digits)"),
    N_("must be between 0 and %(max)s days, not %(value)s"),
    N_("give the reason for the hold (a case or order number, who asked)"),
    N_("%(address)s was deleted %(times)s times; give the mailbox id of the one you mean: %(ids)s"),
    N_("must be an address of the account's domain %(domain)s"),
    N_("its domain %(domain)s no longer exists; an operator must add the domain again first"),
    N_("is the account's address already"),
    N_("the purge of %(address)s has begun; it cannot be restored"),
    N_("the purge of %(address)s has begun; it cannot be held"),
    N_("%(domain)s is on legal hold (%(hold)s); release it first"),
    # CSV import (core/csvimport, services/imports.py, services/import_files.py)
    N_("the file is empty"), N_("the file is %(kind)s; save it as CSV UTF-8 (or Thai Windows cp874)"),
    N_("the file is neither UTF-8 nor Thai Windows (cp874/TIS-620) text"),
    N_("the first line (the header) is empty"), N_("the header cannot be read: %(detail)s"),
    N_("data row %(row)s (line %(line)s) cannot be read: %(detail)s; a quote is probably not closed"),
    N_("column %(column)s appears twice in the header"),
    N_("the header has no %(missing)s column (columns: %(columns)s)"),
    N_("no such file: %(path)s"), N_("%(path)s no longer exists; the job needs the same file to go on"),
    N_("%(path)s changed since the job began; start a new import instead"),
    N_("import job %(job)s is being worked on by another process"), N_("job %(job)s is already running"),
    N_("job %(job)s is %(state)s; it cannot be validated again"),
    # ... a file that is not Thai, and a named encoding (core/csvimport/reading.py, charsets.py)
    N_("the file is neither UTF-8 nor Thai Windows (cp874/TIS-620) text (line %(line)s: byte %(byte)s is not "
       "'%(encoding)s' text; as 'Windows-1252' the line reads '%(western)s'); save it as CSV UTF-8, or give the "
       "encoding it is in (e.g. '--encoding cp1252')"),
    N_("the file is not '%(encoding)s' text as given (line %(line)s: byte %(byte)s does not decode as '%(codec)s'); "
       "save it as CSV UTF-8, or give the encoding it is in (e.g. '--encoding cp1252')"),
    N_("data row %(row)s, column %(column)s (line %(line)s): the bytes %(bytes)s read as Thai Windows (cp874) give "
       "'%(thai)s': %(why)s, which Thai text does not have; as 'Windows-1252' they read '%(western)s'. The file is "
       "probably not Thai: save it as CSV UTF-8, or give the encoding it is in (e.g. '--encoding cp1252')"),
    N_("the header (line %(line)s): the bytes %(bytes)s read as Thai Windows (cp874) give '%(thai)s': %(why)s, "
       "which Thai text does not have; as 'Windows-1252' they read '%(western)s'. The file is probably not Thai: "
       "save it as CSV UTF-8, or give the encoding it is in (e.g. '--encoding cp1252')"),
    N_("line %(line)s: the file's high bytes do not read as Thai Windows (cp874) text; save it as CSV UTF-8, or "
       "give the encoding it is in (e.g. '--encoding cp1252')"),
    N_("a Thai sign or tone mark that follows no Thai consonant"), N_("a Thai character inside a Latin word"),
    N_("a sign of Thai verse or scripture that names never use"),
    N_("unknown encoding %(name)s; use one of %(names)s ('tis-620' and 'windows-874' are read as cp874, "
       "'windows-1252' as 'cp1252')"),
    # the web's own pages
    N_("give the part before the @ only"), N_("type the domain's name exactly"),
    N_("an operator already administers every domain"), N_("must be a record number"),
    N_("too large"), N_("document type declarations are not accepted"), N_("not XML: %(detail)s"), N_("missing"),
)

_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


@functools.lru_cache(maxsize=1)
def _patterns() -> tuple[tuple[re.Pattern[str], str], ...]:
    """REASONS as patterns, the most specific (most literal text) first."""
    compiled = []
    for msgid in REASONS:
        pieces, last = [], 0
        for m in _PLACEHOLDER.finditer(msgid):
            pieces += [re.escape(msgid[last:m.start()]), f"(?P<{m.group(1)}>.+?)"]
            last = m.end()
        pieces.append(re.escape(msgid[last:]))
        compiled.append((re.compile("".join(pieces), re.DOTALL), msgid))
    return tuple(sorted(compiled, key=lambda p: -len(_PLACEHOLDER.sub("", p[1]))))


def reason_msgid(reason: str) -> tuple[str, dict[str, str]] | None:
    """The catalogue entry a reason is an instance of, and its variable parts."""
    for pattern, msgid in _patterns():
        match = pattern.fullmatch(reason)
        if match:
            return msgid, match.groupdict()
    return None


def translate_reason(reason: str, gettext: Callable[[str], str]) -> str:
    found = reason_msgid(reason)
    if found is None:
        return reason
    msgid, values = found
    shown = {name: translate_reason(value, gettext) if name == "reason" else gettext(value) if value else value
             for name, value in values.items()}
    return gettext(msgid) % shown


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
