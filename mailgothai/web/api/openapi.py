"""The OpenAPI 3.1 document of /api/v1, served as JSON at /api/v1/openapi.json."""

from __future__ import annotations

from typing import Any

from mailgothai.core.limits import MAX_COUNTS
from mailgothai.core.passwords import MAX_LENGTH, MIN_LENGTH
from mailgothai.core.retention import MAX_HOLD_REASON, MAX_RETENTION_DAYS
from mailgothai.core.sieve_filters import MAX_RULES, MAX_TEXT, Action, Field
from mailgothai.core.vacation import MAX_DAYS, MAX_MESSAGE, MAX_SUBJECT, MIN_DAYS
from mailgothai.services.listing import MAX_OFFSET, MAX_PAGE_SIZE
from mailgothai.services.tokens import DEFAULT_DAYS as DEFAULT_TOKEN_DAYS
from mailgothai.services.tokens import MAX_DAYS as MAX_TOKEN_DAYS
from mailgothai.web.api import openapi_quarantine

P = "/api/v1"
STR = {"type": "string"}
INT = {"type": "integer", "minimum": 0}
SIZE = {"oneOf": [{"type": "string", "examples": ["2G", "500M"]}, {"type": "integer", "minimum": 0}]}
STRS = {"type": "array", "items": {"type": "string"}}
BOOL = {"type": "boolean"}
OBJ = {"type": "object"}
NULLABLE_STR = {"type": ["string", "null"]}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _path_param(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": description, "schema": STR}


def _query(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


PAGING = [_query("offset", {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET},
                 "0-based position of the first item"),
          _query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE}, "items per page (default 50)")]
DOMAIN = _path_param("domain", "domain name, e.g. moph.go.th")
EMAIL = _path_param("email", "account address")
ADDRESS = _path_param("address", "alias address")
ALIAS_DOMAIN = _path_param("name", "an alias domain's name")
CATCH_ALL = {"type": ["string", "null"], "description": (
    "the address that receives mail for the domain's unknown addresses: an existing account or alias of a domain "
    "hosted here that the token's administrator administers, never an outside address; null or empty: off "
    "(a domain admin may change this field only)")}
LOGIN = _path_param("login", "administrator login")
SHARED = _path_param("address", "shared mailbox address")
MEMBER = _path_param("email", "the member's account address")
RIGHTS = {"type": "array", "items": {"type": "string", "enum": ["read", "write", "send-as"]}, "minItems": 1,
          "description": "write includes read; send-as lets the member send as the shared address"}
TOKEN_ID = _path_param("token_id", "token id")
MAILBOX_ID = _path_param("mailbox_id", "a deleted account's mailbox id (8-4-4-4-12 hex digits), or its address "
                                       "when it was deleted once")
JOB_ID = {**_path_param("job_id", "import job id"), "schema": {"type": "string", "pattern": "^[0-9]+$"}}
CSV_BODY = {"required": True, "content": {"text/csv": {"schema": {"type": "string", "minLength": 1}}}}


def _body(properties: dict[str, Any], required: tuple[str, ...] = (), more: dict[str, Any] | None = None
          ) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False,
                              **(more or {})}
    if required:
        schema["required"] = list(required)
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/problem+json": {"schema": _ref("Problem")}}}


def _op(summary: str, result: str | None, params: list[dict[str, Any]] | None = None,
        body: dict[str, Any] | None = None, status: str = "200", tag: str = "") -> dict[str, Any]:
    responses: dict[str, Any] = {}
    if result is None:
        responses["204"] = {"description": "done"}
    else:
        responses[status] = {"description": "OK", "content": {"application/json": {"schema": _ref(result)}}}
    for code, text in (("400", "invalid input: the field and the reason"), ("401", "no or bad token"),
                       ("403", "only an operator may do this"),
                       ("404", "not found (or outside the token's domains)"), ("409", "already exists"),
                       ("413", "body too large"), ("415", "not JSON"),
                       ("503", "a backend cannot be reached")):
        responses[code] = _problem(text)
    op: dict[str, Any] = {"summary": summary, "responses": responses, "security": [{"token": []}]}
    if tag:
        op["tags"] = [tag]
    if params:
        op["parameters"] = params
    if body is not None:
        op["requestBody"] = body
    return op


def _csv_op(summary: str, params: list[dict[str, Any]], tag: str) -> dict[str, Any]:
    """An operation that answers a CSV file (UTF-8, import format)."""
    op = _op(summary, None, params, tag=tag)
    del op["responses"]["204"]
    op["responses"]["200"] = {"description": "CSV, UTF-8", "content": {"text/csv": {"schema": STR}}}
    return op


LAST_LOGIN = {"type": ["object", "null"], "required": ["at", "protocol", "source"], "properties": {
    "at": STR, "protocol": {"type": "string", "enum": ["imap", "pop3", "smtp", "web"]}, "source": STR}}
LIMITS = {"max_accounts": {**INT, "maximum": MAX_COUNTS["max_accounts"]}, "quota_pool": SIZE,
          "default_quota": SIZE, "max_message_size": SIZE,
          "hourly_send_limit": {**INT, "maximum": MAX_COUNTS["hourly_send_limit"]},
          "retention_days": {"type": "integer", "minimum": 0, "maximum": MAX_RETENTION_DAYS,
                             "description": "days a deleted account's mailbox is kept (default 30); a change "
                                            "applies to accounts deleted from then on"}}
REASON = {"reason": {"type": "string", "minLength": 1, "maxLength": MAX_HOLD_REASON,
                     "description": "why: a case or order number, who asked"}}
NO_CONTROL = "[^\\u0000-\\u001f\\u007f-\\u009f]"  # check_text: no control characters
PASSWORD = {"password": {"type": "string", "minLength": MIN_LENGTH, "maxLength": MAX_LENGTH,
                         "pattern": f"^{NO_CONTROL}*$"},
            "generate_password": BOOL}
NOT_BOTH = {"not": {"required": ["password", "generate_password"],
                    "properties": {"generate_password": {"const": True}}}}
NAME = {"type": "string", "minLength": 1}
DAY = {"type": ["string", "null"], "format": "date", "description": "YYYY-MM-DD, a day in Thailand; null: none"}
VACATION_FIELDS = {
    "subject": {"type": "string", "minLength": 1, "maxLength": MAX_SUBJECT, "pattern": f"^{NO_CONTROL}*$",
                "description": "one line, Thai or English"},
    "message": {"type": "string", "minLength": 1, "maxLength": MAX_MESSAGE, "description": "the reply's text"},
    "start": {**DAY, "description": "first day of replies (null: from now)"},
    "end": {**DAY, "description": "last day of replies, not before start nor past (null: until turned off)"},
    "reply_days": {"type": "integer", "minimum": MIN_DAYS, "maximum": MAX_DAYS,
                   "description": "reply to each sender at most once in this many days (default 7)"},
}
# A reset is done only when asked for: a password, or generate_password true; an empty request changes nothing.
PASSWORD_RESET = {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "properties": PASSWORD, "additionalProperties": False,
    "description": "either password (the new one) or generate_password: true (a generated one, answered once)",
    "oneOf": [{"required": ["password"], "properties": {"generate_password": {"const": False}}},
              {"required": ["generate_password"], "properties": {"generate_password": {"const": True}},
               "not": {"required": ["password"]}}]}}}}
# An account's reset (issue 20): the user changes the new password at the next login unless must_change is false.
ACCOUNT_PASSWORD_RESET = {"required": True, "content": {"application/json": {"schema": {
    **PASSWORD_RESET["content"]["application/json"]["schema"],  # type: ignore[index]
    "properties": {**PASSWORD, "must_change": {**BOOL, "description": "the user must change it at the next "
                                               "login before IMAP and SMTP let them in (default true)"}}}}}}
# An administrator's password (issue 21): an operator's reset of another admin's, or the token's own admin's
# change of its own, which needs its current password (and a code with the second factor on).
ADMIN_PASSWORD_RESET = {"required": True, "content": {"application/json": {"schema": {
    **PASSWORD_RESET["content"]["application/json"]["schema"],  # type: ignore[index]
    "description": "either password (the new one) or generate_password: true (a generated one, answered once); "
                   "for the token's own login also current_password, and code if its second factor is on",
    "properties": {**PASSWORD,
                   "current_password": {"type": "string", "description": (
                       "the token's admin's current password: required when login is the token's own (a token "
                       "alone cannot set its admin's password), refused for another's login; a wrong one is "
                       "counted as a failed login")},
                   "code": {"type": "string", "description": "with current_password, a code from the admin's "
                            "authenticator app if its second factor is on"}}}}}}
LIST_Q = {"type": "string", "maxLength": 320, "pattern": f"^{NO_CONTROL}*$",
          "description": "start of a name: no control characters; empty: all"}
SEARCH = {"type": "string", "minLength": 1, "maxLength": 320, "pattern": f"^{NO_CONTROL}*[^\\s\\u0000-\\u001f"
          f"\\u007f-\\u009f]{NO_CONTROL}*$", "description": "start of an address or a name: at least one "
          "character other than a space, no control characters"}


def document() -> dict[str, Any]:
    paths: dict[str, Any] = {
        f"{P}/me": {"get": _op("the token's administrator", "Admin", tag="me")},
        f"{P}/domains": {
            "get": _op("domains the token may see, by name", "DomainPage", [_query("q", LIST_Q), *PAGING],
                       tag="domains"),
            "post": _op("create a domain (operator)", "Domain", body=_body(
                {"name": NAME, "description": STR, **LIMITS}, ("name",)), status="201", tag="domains"),
        },
        f"{P}/domains/{{domain}}": {
            "get": _op("a domain", "Domain", [DOMAIN], tag="domains"),
            "patch": _op("change limits or description (operator), or the catch-all (operator or the domain's "
                         "admins)", "Domain", [DOMAIN], _body({"description": STR, **LIMITS, "catch_all": CATCH_ALL}),
                         tag="domains"),
            "delete": _op("delete a domain (operator)", None, [DOMAIN, _query("force", {"type": "string", "enum": [
                "true", "false"]}, "also delete its accounts and aliases")], tag="domains"),
        },
        f"{P}/domains/{{domain}}/suspend": {"post": _op("suspend a domain (operator)", "Domain", [DOMAIN],
                                                         tag="domains")},
        f"{P}/domains/{{domain}}/activate": {"post": _op("activate a domain (operator)", "Domain", [DOMAIN],
                                                          tag="domains")},
        f"{P}/domains/{{domain}}/alias-domains": {
            "get": _op("the domain's alias domains: other names at which each of its addresses is valid",
                       "AliasDomainList", [DOMAIN], tag="domains"),
            "post": _op("add an alias domain of this domain (operator): a name hosted here neither as a domain nor "
                        "as an alias domain", "AliasDomain", [DOMAIN], _body({"name": NAME}, ("name",)),
                        status="201", tag="domains"),
        },
        f"{P}/alias-domains/{{name}}": {"delete": _op("remove an alias domain (operator)", None, [ALIAS_DOMAIN],
                                                      tag="domains")},
        f"{P}/domains/{{domain}}/usage": {"get": _op("storage used, from Dovecot readings", "DomainUsage", [DOMAIN],
                                                     tag="domains")},
        f"{P}/domains/{{domain}}/hold": {"post": _op("put the whole domain on legal hold: none of its mail is "
                                                     "purged (operator)", "Hold", [DOMAIN],
                                                     _body(REASON, ("reason",)), tag="holds")},
        f"{P}/domains/{{domain}}/release": {"post": _op("lift the domain's legal hold (operator)", "Hold", [DOMAIN],
                                                        tag="holds")},
        f"{P}/domains/{{domain}}/deleted": {"get": _op("the domain's deleted accounts still kept, newest first",
                                                       "DeletedAccountPage", [DOMAIN, *PAGING], tag="deleted")},
        f"{P}/domains/{{domain}}/accounts": {
            "get": _op("a page of the domain's accounts, sorted by slapd (by last login: from the SQL store, "
                       "never-logged-in first, the search matching the address's start only)", "AccountPage", [
                DOMAIN, _query("q", LIST_Q, "start of an address or a name"),
                _query("sort", {"type": "string", "enum": ["address", "name", "quota", "last_login"]}),
                _query("desc", {"type": "string", "enum": ["true", "false"]}), *PAGING], tag="accounts"),
            "post": _op("create an account", "NewAccount", [DOMAIN], _body({
                "local_part": STR, "given_name": STR, "surname": STR, "display_name": STR, "quota": SIZE,
                "status": {"type": "string", "enum": ["active", "disabled"]}, "aliases": STRS, "forwards": STRS,
                **PASSWORD}, ("local_part",), NOT_BOTH), status="201", tag="accounts"),
        },
        f"{P}/domains/{{domain}}/inactive": {"get": _op(
            "the domain's accounts with no login (IMAP, SMTP AUTH, web) in `days` days: never-logged-in first "
            "(last_login null), then the oldest login first", "InactiveAccountList",
            [DOMAIN, _query("days", {"type": "integer", "minimum": 1, "maximum": 36500}, "days without a login "
                            "(default 90)")], tag="accounts")},
        f"{P}/domains/{{domain}}/aliases": {
            "get": _op("a page of the domain's aliases", "AliasPage", [DOMAIN, _query("q", LIST_Q), *PAGING],
                       tag="aliases"),
            "post": _op("create an alias", "Alias", [DOMAIN], _body({"local_part": STR, "members": STRS},
                                                                     ("local_part", "members")),
                        status="201", tag="aliases"),
        },
        f"{P}/accounts/{{email}}": {
            "get": _op("an account with its last usage reading", "Account", [EMAIL], tag="accounts"),
            "patch": _op("change an account", "Account", [EMAIL], _body({
                "given_name": STR, "surname": STR, "display_name": STR, "quota": SIZE, "aliases": STRS,
                "forwards": STRS}), tag="accounts"),
            "delete": _op("delete an account: login and delivery end now, the address is free, the mailbox is "
                          "kept for the domain's retention period (restore or hand it over meanwhile)",
                          "DeletedAccount", [EMAIL], tag="accounts"),
        },
        f"{P}/accounts/{{email}}/rename": {"post": _op(
            "give an account a new address; mailbox, password, quota, aliases and forwards stay", "Account",
            [EMAIL], _body({"new_address": STR, "keep_old_as_alias": BOOL}, ("new_address",)), tag="accounts")},
        f"{P}/accounts/{{email}}/hold": {"post": _op("put an account on legal hold: its mail is never purged "
                                                     "(operator)", "Hold", [EMAIL], _body(REASON, ("reason",)),
                                                     tag="holds")},
        f"{P}/accounts/{{email}}/release": {"post": _op("lift an account's legal hold (operator)", "Hold", [EMAIL],
                                                        tag="holds")},
        f"{P}/accounts/{{email}}/filters": {
            "get": _op("an account's mail filter rules, and which Sieve script is active", "Filters", [EMAIL],
                       tag="filters"),
            "post": _op("replace an account's mail filter rules (the web's own Sieve script, `mailgothai`); a "
                        "script the web did not write is never overwritten or deactivated: if the user's own "
                        "script is active the rules are saved inactive unless use_instead_of_own is true, and a "
                        "`mailgothai` script edited by hand is refused (400, filters_edited_by_hand)", "Filters",
                        [EMAIL], _body({"rules": {"type": "array", "maxItems": MAX_RULES, "items": _ref("FilterRule")},
                                        "use_instead_of_own": BOOL}, ("rules",)), tag="filters")},
        f"{P}/accounts/{{email}}/vacation": {
            "get": _op("an account's out-of-office reply (enabled false: none)", "Vacation", [EMAIL], tag="vacation"),
            "put": _op("set (replace) an account's out-of-office reply: each sender gets it once per reply_days, "
                       "never mailing lists, bulk, auto-submitted or no-reply senders; it leaves through the relay, "
                       "DKIM-signed and counted in the account's hourly limit. The account's own Sieve scripts are "
                       "never touched", "Vacation", [EMAIL], _body(VACATION_FIELDS, ("subject", "message")),
                       tag="vacation"),
            "delete": _op("turn an account's out-of-office reply off", None, [EMAIL], tag="vacation")},
        f"{P}/deleted/{{mailbox_id}}": {"get": _op("a deleted account", "DeletedAccount", [MAILBOX_ID],
                                                   tag="deleted")},
        f"{P}/deleted/{{mailbox_id}}/restore": {"post": _op(
            "bring a deleted account back with its mailbox, at its own address or another free one of its domain",
            "Restored", [MAILBOX_ID], {**_body({"as": {**STR, "description": "another address of the same domain; "
                                                                              "absent: its own address"}}),
                                       "required": False}, tag="deleted")},
        f"{P}/deleted/{{mailbox_id}}/handover": {"post": _op(
            "copy a deleted account's mail into a folder Archive/<its address> of a successor's mailbox",
            "Handover", [MAILBOX_ID], _body({"to": {**STR, "description": "the successor's address"}}, ("to",)),
            tag="deleted")},
        f"{P}/deleted/{{mailbox_id}}/hold": {"post": _op("put a deleted account on legal hold: never purged "
                                                         "(operator)", "Hold", [MAILBOX_ID],
                                                         _body(REASON, ("reason",)), tag="holds")},
        f"{P}/deleted/{{mailbox_id}}/release": {"post": _op("lift a deleted account's legal hold (operator)", "Hold",
                                                            [MAILBOX_ID], tag="holds")},
        f"{P}/purge": {"post": _op(
            "remove for good the deleted accounts whose retention has passed, unless on legal hold (operator); "
            "a dry run unless dry_run is false", "PurgeReport", body={**_body({"dry_run": BOOL}), "required": False},
            tag="holds")},
        f"{P}/accounts/{{email}}/suspend": {"post": _op("suspend an account", "Account", [EMAIL], tag="accounts")},
        f"{P}/accounts/{{email}}/activate": {"post": _op("activate an account", "Account", [EMAIL], tag="accounts")},
        f"{P}/accounts/{{email}}/password": {"post": {**_op(
            "set or generate a new password", "GeneratedPassword", [EMAIL], ACCOUNT_PASSWORD_RESET, tag="accounts"),
            "description": "An administrator's reset of a mail user's password. Beyond the password, a reset "
                           "revokes the account's app passwords, removes its recovery address, and ends its open "
                           "sessions (web, IMAP, ManageSieve and SMTP): the user logs in again with the new "
                           "password."}},
        f"{P}/search": {"get": _op("accounts in every domain the token may see, by address or name prefix",
                                   "AccountList", [{**_query("q", SEARCH), "required": True}, PAGING[1]],
                                   tag="accounts")},
        f"{P}/aliases/{{address}}": {
            "get": _op("an alias", "Alias", [ADDRESS], tag="aliases"),
            "patch": _op("replace an alias's members", "Alias", [ADDRESS], _body({"members": STRS}, ("members",)),
                         tag="aliases"),
            "delete": _op("delete an alias", None, [ADDRESS], tag="aliases"),
        },
        f"{P}/aliases/{{address}}/suspend": {"post": _op("suspend an alias", "Alias", [ADDRESS], tag="aliases")},
        f"{P}/aliases/{{address}}/activate": {"post": _op("activate an alias", "Alias", [ADDRESS], tag="aliases")},
        # shared role mailboxes (issue 17, saraban@): members reach them with their own accounts
        f"{P}/domains/{{domain}}/shared": {
            "get": _op("the domain's shared mailboxes and their members", "SharedList", [DOMAIN], tag="shared"),
            "post": _op("create a shared mailbox (its quota counts against the domain's pool)", "SharedMailbox",
                        [DOMAIN], _body({"local_part": STR, "name": STR, "quota": SIZE}, ("local_part",)),
                        status="201", tag="shared")},
        f"{P}/shared/{{address}}": {
            "get": _op("a shared mailbox and its members", "SharedMailbox", [SHARED], tag="shared"),
            "delete": _op("remove an empty shared mailbox (one holding mail: 400); its members lose it", None,
                          [SHARED], tag="shared")},
        f"{P}/shared/{{address}}/members/{{email}}": {
            "put": _op("make an account of the shared mailbox's domain a member with exactly these rights",
                       "SharedMember", [SHARED, MEMBER], _body({"rights": RIGHTS}, ("rights",)), tag="shared"),
            "delete": _op("remove a member", None, [SHARED, MEMBER], tag="shared")},
        f"{P}/admins": {
            "get": _op("administrators (operator)", "AdminList", tag="admins"),
            "post": _op("create an administrator (operator)", "NewAdmin", body=_body({
                "login": NAME, "role": {"type": "string", "enum": ["superadmin", "domain_admin"]}, "domains": STRS,
                "display_name": STR, **PASSWORD}, ("login", "role"), NOT_BOTH), status="201", tag="admins"),
        },
        f"{P}/admins/{{login}}": {
            "get": _op("an administrator (operator)", "Admin", [LOGIN], tag="admins"),
            "patch": _op("change domains, name or status (operator)", "Admin", [LOGIN], _body({
                "domains": STRS, "display_name": STR, "status": {"type": "string", "enum": ["active", "disabled"]}}),
                tag="admins"),
            "delete": _op("delete an administrator (operator)", None, [LOGIN], tag="admins"),
        },
        f"{P}/admins/{{login}}/password": {"post": {**_op(
            "reset an administrator's password (operator), or change the token's own admin's (with "
            "current_password)", "GeneratedPassword", [LOGIN], ADMIN_PASSWORD_RESET, tag="admins"),
            "description": "Another admin's login (operators only): a reset; that admin's API tokens and web "
                           "sessions end. The token's own login (any admin): a change of its own password, only "
                           "with current_password (and code if its second factor is on; without it, 400 naming "
                           "current_password); its other API tokens and web sessions end, the token in use "
                           "keeps working."}},
        f"{P}/audit": {"get": _op("audit records, newest first, as far as the token may see", "AuditPage", [
            _query("domain", STR), _query("actor", STR), _query("action", STR),
            _query("since", STR, "ISO date or time"), _query("until", STR, "ISO date or time"),
            _query("before", {"type": "string", "pattern": "^[0-9]+$"}, "next_before of the previous page"),
            PAGING[1]], tag="audit")},
        f"{P}/tokens": {
            "get": _op("API tokens (own; an operator: all)", "TokenList", tag="tokens"),
            "post": _op("create a token for the calling admin (shown once), with that admin's password (and "
                        "its TOTP code if it has the second factor on); it expires after `days` (default 90)",
                        "NewToken", body=_body({
                            "name": NAME, "days": {"type": "integer", "minimum": 1, "maximum": MAX_TOKEN_DAYS,
                                                   "description": f"default {DEFAULT_TOKEN_DAYS}"},
                            "password": {"type": "string", "minLength": 1,
                                         "description": "the calling admin's own password"},
                            "code": {"type": "string", "description": "a code from the admin's authenticator app "
                                     "(only if it has the second factor on)"}},
                            ("name", "password")),
                        status="201", tag="tokens"),
        },
        f"{P}/tokens/{{token_id}}": {"delete": _op("revoke a token", None, [TOKEN_ID], tag="tokens")},
        f"{P}/imports": {
            "get": _op("import jobs (own; an operator: all), newest first", "ImportJobList",
                       [_query("limit", {"type": "integer", "minimum": 0, "maximum": 500})], tag="imports"),
            "post": _op("upload an accounts CSV file (the body, text/csv): a job, validated in the background "
                        "without writing anything; poll it, read the bad rows, then apply", "ImportJob",
                        [_query("file_name", STR, "the file's name, for the job list"),
                         _query("encoding", STR, "the file's encoding (utf-8, cp874/tis-620, cp1252, latin-1, "
                                                 "iso-8859-15); default: UTF-8 or Thai cp874 detected, anything "
                                                 "else refused"),
                         _query("must_change", {"type": "string", "enum": ["true", "false"]},
                                "true: every account the import creates must change its password at first "
                                "login (issue 20); default false")], CSV_BODY, status="202",
                        tag="imports"),
        },
        f"{P}/imports/{{job_id}}": {"get": _op("an import job: state and counts", "ImportJob", [JOB_ID],
                                               tag="imports")},
        f"{P}/imports/{{job_id}}/rows": {"get": _op("the job's bad rows (1-based data row, column, reason)",
                                                    "ImportRowPage", [
            JOB_ID, _query("after", {"type": "integer", "minimum": 0}, "next_after of the previous page"),
            _query("limit", {"type": "integer", "minimum": 1, "maximum": 1000})], tag="imports")},
        f"{P}/imports/{{job_id}}/report": {"get": _csv_op("the job's bad rows as CSV", [JOB_ID], "imports")},
        f"{P}/imports/{{job_id}}/apply": {"post": _op("write the job's valid rows (also resumes an interrupted "
                                                      "job); poll the job for progress", "ImportJob", [JOB_ID],
                                                      status="202", tag="imports")},
        f"{P}/imports/{{job_id}}/result": {
            "get": _csv_op("the result file: each row's outcome and generated passwords", [JOB_ID], "imports"),
            "delete": _op("delete the result file once it has been handed out", None, [JOB_ID], tag="imports"),
        },
        f"{P}/domain-imports": {"post": _op("import a domains CSV file (operator): "
                                            "domain,description,max_accounts,quota,default_quota",
                                            "DomainImport", body=CSV_BODY, tag="imports")},
        f"{P}/domains/{{domain}}/export": {"get": _csv_op("the domain's accounts in the import format, streamed "
                                                          "(never a password)", [DOMAIN], "imports")},
        f"{P}/export": {"get": _csv_op("the accounts of every domain the token may manage, streamed", [],
                                       "imports")},
    }
    paths.update(openapi_quarantine.paths(_op, _body))  # issue 18: the quarantine
    from mailgothai.web.api import spam_doc  # issue 18 (it imports this module's pieces)

    paths.update(spam_doc.paths())
    from mailgothai.web.api import dkim_doc  # issue 19 (it imports this module's pieces too)

    paths.update(dkim_doc.paths())
    from mailgothai.web.api import password_policy_doc  # issue 20 (it imports this module's pieces too)

    paths.update(password_policy_doc.paths())
    from mailgothai.web.api import dns_doc  # issue 19: a domain's DNS records and their check

    paths.update(dns_doc.paths())
    from mailgothai.web.api import app_passwords_doc  # issue 20: a user's app passwords, second factor

    paths.update(app_passwords_doc.paths())
    for item in paths.values():  # bodies of POST actions without fields
        for method, op in item.items():
            if method == "post" and "requestBody" not in op:
                op["requestBody"] = {"required": False, "content": {"application/json": {"schema": {
                    "type": "object", "additionalProperties": False}}}}

    def page(item: str) -> dict[str, Any]:
        return {"type": "object", "required": ["items", "offset", "limit", "total"], "properties": {
            "items": {"type": "array", "items": _ref(item)}, "offset": INT, "limit": INT, "total": INT}}

    def listing(item: str) -> dict[str, Any]:
        return {"type": "object", "required": ["items"],
                "properties": {"items": {"type": "array", "items": _ref(item)}}}
    schemas = {
        "Problem": {"type": "object", "required": ["type", "title", "status"], "properties": {
            "type": STR, "title": STR, "status": {"type": "integer"}, "detail": STR,
            "errors": {"type": "array", "items": {"type": "object", "required": ["field", "reason"],
                                                  "properties": {"field": STR, "reason": STR, "code": STR}}}}},
        "Domain": {"type": "object", "required": ["name", "status", "limits"], "properties": {
            "name": STR, "description": STR, "status": STR, "account_count": INT, "quota_allocated": INT,
            "limits": {"type": "object", "properties": {k: INT for k in LIMITS}},
            "hold_reason": {**STR, "description": "a legal hold on the whole domain; empty: none"},
            "catch_all": {**NULLABLE_STR, "description": "where mail for unknown addresses goes; null: off"}}},
        "DomainPage": page("Domain"),
        "AliasDomain": {"type": "object", "required": ["name", "target"], "properties": {
            "name": STR, "target": {**STR, "description": "the hosted domain it stands for"}}},
        "AliasDomainList": listing("AliasDomain"),
        "DomainUsage": {"type": "object", "required": ["domain", "used_bytes"], "properties": {
            "domain": STR, "used_bytes": INT, "accounts_read": INT,
            "oldest_read_at": {"type": ["string", "null"]}, "newest_read_at": {"type": ["string", "null"]}}},
        "FilterRule": {
            "type": "object", "required": ["field", "contains", "action"], "additionalProperties": False,
            "description": "when the From header (name and address) or the Subject contains the text: move the "
                           "message to folder (created if missing; '/' separates levels), forward it to address "
                           "(a copy stays in the inbox), or discard it; the first matching rule decides",
            "properties": {"field": {"enum": [f.value for f in Field]},
                           "contains": {"type": "string", "minLength": 1, "maxLength": MAX_TEXT},
                           "action": {"enum": [a.value for a in Action]},
                           "folder": {"type": "string", "minLength": 1, "maxLength": MAX_TEXT,
                                      "description": "for move"},
                           "address": {"type": "string", "minLength": 1, "description": "for forward"}}},
        "Vacation": {"type": "object", "required": ["email", "enabled", "replying_today"], "properties": {
            "email": STR, "enabled": BOOL,
            "replying_today": {"type": "boolean", "description": "today (in Thailand) is within its days"},
            **VACATION_FIELDS, "addresses": {**STRS, "description": "the account's addresses it answers for"}}},
        "Filters": {"type": "object", "required": ["email", "rules", "stored", "edited_by_hand", "in_effect",
                                                   "active_script", "scripts"], "properties": {
            "email": STR, "rules": {"type": "array", "items": _ref("FilterRule")},
            "stored": {"type": "boolean", "description": "the web's script `mailgothai` exists"},
            "edited_by_hand": {"type": "boolean",
                               "description": "it was changed in a ManageSieve client: the web will not overwrite it"},
            "in_effect": {"type": "boolean", "description": "the web's rules are the active script"},
            "active_script": NULLABLE_STR, "scripts": STRS}},
        "Account": {"type": "object", "required": ["email", "domain", "quota", "status"], "properties": {
            "email": STR, "domain": STR, "quota": INT, "status": STR, "given_name": STR, "surname": STR,
            "display_name": STR, "aliases": STRS, "forwards": STRS,
            "mailbox_id": {**NULLABLE_STR, "description": "the mailbox's identity; null in the search"},
            "hold_reason": {**NULLABLE_STR, "description": "a legal hold; empty: none; null in the search"},
            "usage": {"type": ["object", "null"], "properties": {"used_bytes": INT, "read_at": STR}},
            "last_login": {**LAST_LOGIN, "description": "the last IMAP, SMTP AUTH or web login; null: never; "
                           "given by the account's page and the listing only"}}},
        "InactiveAccountList": listing("InactiveAccount"),
        "InactiveAccount": {"type": "object", "required": ["address", "mailbox_id", "last_login"], "properties": {
            "address": STR, "mailbox_id": STR, "last_login": LAST_LOGIN}},
        "NewAccount": {"allOf": [_ref("Account"), {"type": "object", "properties": {
            "generated_password": {"type": ["string", "null"]}}}]},
        "AccountPage": page("Account"),
        "AccountList": listing("Account"),
        "DeletedAccount": {"type": "object", "required": ["address", "mailbox_id", "domain", "deleted_at",
                                                          "purge_after"], "properties": {
            "address": STR, "mailbox_id": STR, "domain": STR, "deleted_at": STR, "deleted_by": STR,
            "size": {"type": ["integer", "null"], "minimum": 0, "description": "bytes of mail when deleted"},
            "purge_after": STR, "hold_reason": STR, "purging": BOOL, "quota": INT, "display_name": STR,
            "aliases": STRS}},
        "DeletedAccountPage": page("DeletedAccount"),
        "Restored": {"type": "object", "required": ["account", "dropped_aliases"], "properties": {
            "account": _ref("Account"),
            "dropped_aliases": {**STRS, "description": "aliases others took meanwhile, not restored"}}},
        "Handover": {"type": "object", "required": ["deleted", "successor", "folder", "messages"], "properties": {
            "deleted": _ref("DeletedAccount"), "successor": STR, "folder": STR, "messages": INT}},
        "Hold": {"type": "object", "required": ["kind", "name", "domain", "hold_reason"], "properties": {
            "kind": {"type": "string", "enum": ["account", "deleted account", "domain"]}, "name": STR,
            "mailbox_id": NULLABLE_STR, "domain": STR, "hold_reason": {**STR, "description": "empty: released"}}},
        "PurgeReport": {"type": "object", "required": ["at", "dry_run", "purged", "kept"], "properties": {
            "at": STR, "dry_run": BOOL, "purged": {"type": "array", "items": _ref("DeletedAccount")},
            "kept": {"type": "array", "items": {"allOf": [_ref("DeletedAccount"), {
                "type": "object", "properties": {"reason": STR}}]}}}},
        "GeneratedPassword": {"type": "object", "properties": {"generated_password": {"type": ["string", "null"]}}},
        "Alias": {"type": "object", "required": ["address", "domain", "members", "status"], "properties": {
            "address": STR, "domain": STR, "members": STRS, "status": STR}},
        "AliasPage": page("Alias"),
        "SharedMember": {"type": "object", "required": ["email", "rights", "active"], "properties": {
            "email": STR, "rights": RIGHTS, "active": BOOL}},
        "SharedMailbox": {"type": "object", "required": ["address", "domain", "name", "quota", "status", "mailbox_id",
                                                         "members"], "properties": {
            "address": STR, "domain": STR, "name": STR, "quota": INT, "status": STR, "mailbox_id": STR,
            "members": {"type": "array", "items": _ref("SharedMember")}}},
        "SharedList": listing("SharedMailbox"),
        "Admin": {"type": "object", "required": ["login", "role", "domains", "status"], "properties": {
            "login": STR, "role": STR, "domains": STRS, "display_name": STR, "status": STR}},
        "NewAdmin": {"allOf": [_ref("Admin"), {"type": "object", "properties": {
            "generated_password": {"type": ["string", "null"]}}}]},
        "AdminList": listing("Admin"),
        "AuditPage": {"type": "object", "required": ["items"], "properties": {
            "items": {"type": "array", "items": OBJ}, "next_before": {"type": ["integer", "null"]}}},
        "Token": {"type": "object", "required": ["id", "admin", "name"], "properties": {
            "id": STR, "admin": STR, "name": STR, "created_at": {"type": ["string", "null"]},
            "last_used_at": {"type": ["string", "null"]}, "expires_at": {"type": ["string", "null"]},
            "revoked_at": {"type": ["string", "null"]}}},
        "NewToken": {"allOf": [_ref("Token"), {"type": "object", "required": ["token"], "properties": {"token": STR}}]},
        "TokenList": listing("Token"),
        "ImportJob": {"type": "object", "required": ["id", "state", "running", "rows"], "properties": {
            "id": INT, "state": {"type": "string", "enum": ["validating", "validated", "applying", "done", "failed"]},
            "running": BOOL, "file_name": STR, "encoding": {"type": ["string", "null"]},
            "delimiter": {"type": ["string", "null"]}, "unknown_columns": STRS, "error": {"type": ["string", "null"]},
            "created_at": STR, "finished_at": {"type": ["string", "null"]}, "rows": INT, "to_create": INT,
            "to_update": INT, "unchanged": INT, "rejected": INT, "blank": INT, "created": INT, "updated": INT,
            "failed": INT, "pending": INT, "result_available": BOOL}},
        "ImportJobList": listing("ImportJob"),
        "ImportRowPage": {"type": "object", "required": ["items"], "properties": {
            "items": {"type": "array", "items": {"type": "object", "required": ["row", "reason"], "properties": {
                "row": INT, "email": STR, "column": {"type": ["string", "null"]}, "reason": STR, "state": STR}}},
            "next_after": {"type": ["integer", "null"]}}},
        "DomainImport": {"type": "object", "required": ["rows", "created", "updated", "unchanged", "rejected"],
                         "properties": {
            "rows": INT, "created": INT, "updated": INT, "unchanged": INT, "unknown_columns": STRS,
            "rejected": {"type": "array", "items": {"type": "object", "required": ["row", "reason"], "properties": {
                "row": INT, "domain": {"type": ["string", "null"]}, "column": {"type": ["string", "null"]},
                "reason": STR}}}}},
    }
    schemas.update(openapi_quarantine.SCHEMAS)
    schemas.update(spam_doc.schemas())
    schemas.update(dkim_doc.schemas())
    schemas.update(password_policy_doc.schemas())
    schemas.update(dns_doc.schemas())
    from mailgothai.web.api import app_passwords_doc

    schemas.update(app_passwords_doc.schemas())
    return {
        "openapi": "3.1.0",
        "info": {"title": "MailGoThai admin API", "version": "1",
                 "description": "Domains, accounts, aliases, deleted accounts (restore, handover), legal holds, "
                                "the purge, administrators, CSV import and export, DKIM keys, DNS records, audit log "
                                "and API tokens. Every call "
                                "carries an API token (Authorization: Bearer mgt_…) and acts with the rights of the "
                                "administrator who made it: a domain administrator's token gets 404 outside its "
                                "domains. Errors are RFC 9457 problem details naming the field and the reason."},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": {"token": {"type": "http", "scheme": "bearer"}}},
    }
