"""Errors from the services, said in the page's language: the field's label and the reason.

Every reason is a code with parameters (core/reasons.py, the one table of templates);
the page renders it with its catalogue (`Reason.render(gettext)`). What is left here is
the web's own wording: the label of each field, and how the other errors read.
tests/web/test_reason_catalogue.py holds every reason and every label to a Thai
translation.
"""

from __future__ import annotations

from collections.abc import Callable

from mailgothai.errors import AlreadyExists, InvalidInput, MailGoThaiError, NotFound, PermissionDenied
from mailgothai.web.i18n import N_

FIELD_LABELS = {
    "junk_score": N_("Junk score"), "quarantine_score": N_("Quarantine score"), "reject_score": N_("Reject score"),
    "greylisting": N_("Greylisting"), "quarantine_days": N_("Days in quarantine"),
    "lowest_score": N_("Lowest score a domain may set"), "highest_score": N_("Highest score a domain may set"),
    "longest_quarantine_days": N_("Longest quarantine a domain may set (days)"),
    "may_disable_greylisting": N_("Domains may turn greylisting off"),
    "min_length": N_("Minimum length"), "required_classes": N_("Required kinds of character"),
    "min_classes": N_("Kinds of character at least"), "forbid_personal": N_("No names or addresses"),
    "min_strength": N_("Minimum strength (zxcvbn, 0-4)"),
    "must_change_generated": N_("A generated password is changed at first login"),
    "must_change_on_create": N_("Every new account changes its password at first login"),
    "max_age_days": N_("Longest a password may be kept (days)"),
    "warn_days": N_("Warning before a password expires (days)"), "now": N_("Time"),
    "owner": N_("List of"), "kind": N_("List"), "pattern": N_("Sender address or domain"),
    "email": N_("Address"), "address": N_("Address"), "domain": N_("Domain"), "quota": N_("Quota"),
    "given_name": N_("Given name"), "surname": N_("Surname"), "display_name": N_("Display name"),
    "aliases": N_("Aliases"), "forward": N_("Forward to"), "to": N_("Delivers to"), "password": N_("Password"),
    "new_password": N_("New password"), "new_password_repeat": N_("New password again"),
    "current_password": N_("Current password"), "max_accounts": N_("Maximum accounts"),
    "recovery_address": N_("Recovery address"),  # issue 20: self-service reset
    "quota_pool": N_("Quota pool"), "default_quota": N_("Default quota"),
    "max_message_size": N_("Maximum message size"), "hourly_send_limit": N_("Hourly send limit"),
    "description": N_("Description"), "login": N_("Login"), "role": N_("Role"), "search": N_("Search"),
    "status": N_("Status"), "code": N_("Code"), "name": N_("Name"), "days": N_("Valid for (days)"),
    "recipient": N_("Recipient"),
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
    # mail filters (issue 17): the parts of a rule (rules[N].part)
    "rules": N_("Filter rules"), "field": N_("Look in"), "contains": N_("Contains"), "folder": N_("Folder"),
    "script": N_("Sieve script"),
    "inactive_days": N_("Days without a login"),
    "catch_all": N_("Catch-all address"), "alias_domain": N_("Alias domain"),
    "member": N_("Member"), "rights": N_("Rights"),
    # out-of-office replies (issue 17)
    "subject": N_("Subject"), "message": N_("Message"), "start": N_("First day"), "end": N_("Last day"),
    "reply_days": N_("Reply to each sender once every (days)"),
    # DNS records (issue 19): the settings they follow, and `dns check`'s options
    "mx_hosts": N_("MX hosts"), "relay_hostname": N_("The relay's host name"),
    "mail_hostname": N_("Mail host name"), "web_hostname": N_("Web host name"),
    "spf_mechanisms": N_("SPF mechanisms"), "dmarc_policy": N_("DMARC policy"),
    "dmarc_report_address": N_("DMARC report address"), "tlsrpt_address": N_("TLS report address"),
    "mta_sts_mode": N_("MTA-STS mode"), "dns_check_resolver": N_("DNS resolver for checks"),
    "resolver": N_("DNS resolver"), "parallel": N_("Domains checked at once"),
    # backups (issue 19): "since" is the earlier backup of an incremental one
    "out": N_("Backup directory"), "backup": N_("Backup directory"), "data_dir": N_("Data directory"),
    "sql_url": N_("SQL database"),
}
# Our own words that reasons carry as Terms (core/reasons.py), marked here for the catalogue:
# DKIM key states, import job states, and what holds an address.
TERMS = (
    N_("pending"), N_("active"), N_("retiring"), N_("retired"),
    N_("validating"), N_("validated"), N_("applying"), N_("done"), N_("failed"),
    N_("account"), N_("alias"), N_("shared mailbox"),
    N_("quarantined message"), N_("quarantined recipient"), N_("quarantined message content"),
)


def field_label(field: str, gettext: Callable[[str], str]) -> str:
    label = FIELD_LABELS.get(field)
    return gettext(label) if label else field


def describe_error(exc: MailGoThaiError, gettext: Callable[[str], str]) -> str:
    if isinstance(exc, InvalidInput):
        return f"{field_label(exc.field, gettext)}: {exc.why.render(gettext)}"
    if isinstance(exc, AlreadyExists):
        return gettext("%(key)s already exists or is in use") % {"key": exc.key}
    if isinstance(exc, NotFound):
        return gettext("%(key)s was not found") % {"key": exc.key}
    if isinstance(exc, PermissionDenied):
        return exc.why.render(gettext)
    return str(exc)
