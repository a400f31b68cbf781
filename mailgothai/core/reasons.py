"""Why a value is refused: the ONE table of reasons, each a code and an English template.

Every :class:`~mailgothai.errors.InvalidInput` (and :class:`~mailgothai.errors.LimitExceeded`)
carries a :class:`Reason`: a member of :class:`Why` (its name, lower-cased, is the code a
program sees) and the template's parameters. The CLI and the JSON API show the English
text (``str(reason)``); the web shows the template translated by its catalogue
(``reason.render(gettext)``). The templates are gettext msgids, written ``%(name)s``,
extracted by Babel (admin_ui/babel.cfg) — the same pattern as core/policy.py's table of
SMTP replies: a reason is never worded twice, and a test holds every member to a Thai
translation.

A parameter is shown as it is, except: a nested :class:`Reason` is rendered in turn
(``Why.ITEM_REFUSED`` says which item of a list, then why), and a :class:`Term` — a
word of ours, such as a key's state — is translated too. Values a person typed are
passed already quoted (``repr``), exactly as the English text shows them.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field


def N_(message: str) -> str:  # noqa: N802 - the gettext convention
    """Marks a template for extraction; it is translated where it is shown."""
    return message


class Term(str):
    """A parameter that is one of our own words (a state, a kind), translated with the template."""



class Why(enum.Enum):
    """Every reason a value can be refused for. The value is the English template."""

    # addresses and domains (core/addresses.py)
    ADDRESS_NOT_TEXT = N_("address must be text")
    ADDRESS_EMPTY = N_("address is empty")
    ADDRESS_CONTROL_CHARACTER = N_("address contains a control character")
    ADDRESS_SPACE = N_("address contains a space")
    ADDRESS_TOO_LONG = N_("address longer than %(max)s characters")
    DOMAIN_NOT_TEXT = N_("domain must be text")
    DOMAIN_EMPTY = N_("domain is empty")
    DOMAIN_CONTROL_CHARACTER = N_("domain contains a control character")
    DOMAIN_SPACE = N_("domain contains a space")
    DOMAIN_TOO_LONG = N_("domain longer than %(max)s characters")
    DOMAIN_LABEL_NOT_IDN = N_("domain label %(label)s is not a valid internationalized label (%(detail)s)")
    DOMAIN_LABEL_TOO_LONG = N_("domain label longer than %(max)s characters")
    DOMAIN_INVALID_CHARACTER = N_(
        "domain contains an invalid character %(char)s (only letters, digits and '-' are allowed)")
    DOMAIN_LABEL_HYPHEN = N_("domain label %(label)s starts or ends with a hyphen")
    DOMAIN_LABEL_NOT_A_LABEL = N_("domain label %(label)s is not a valid IDNA A-label (%(detail)s)")
    DOMAIN_ENDS_WITH_DOT = N_("domain ends with a dot")
    DOMAIN_STARTS_WITH_DOT = N_("domain starts with a dot")
    DOMAIN_DOT_AT_EDGE = N_("domain starts or ends with a dot")
    DOMAIN_NOT_IDN = N_("domain is not a valid internationalized name (%(detail)s)")
    DOMAIN_EMPTY_LABEL = N_("domain has an empty label (two dots in a row)")
    DOMAIN_ONE_LABEL = N_("domain needs at least two labels (e.g. agency.go.th)")
    DOMAIN_NUMERIC_TOP = N_("domain's last label is all digits (an IP address is not a domain)")
    LOCAL_NON_ASCII = N_("non-ASCII characters in the local part are not supported")
    LOCAL_TOO_LONG = N_("local part longer than %(max)s characters")
    LOCAL_STARTS_WITH_DOT = N_("local part starts with a dot")
    LOCAL_ENDS_WITH_DOT = N_("local part ends with a dot")
    LOCAL_TWO_DOTS = N_("local part has two dots in a row")
    LOCAL_INVALID_CHARACTER = N_("local part contains an invalid character %(char)s")
    LOCAL_QUOTED = N_("quoted local parts are not accepted")
    AT_MISSING = N_("missing '@'")
    AT_TWICE = N_("more than one '@'")
    AT_NOTHING_BEFORE = N_("nothing before the '@'")
    AT_NOTHING_AFTER = N_("nothing after the '@'")
    NOT_AN_ADDRESS = N_("not an address: %(value)s")
    ITEM_REFUSED = N_("%(item)s: %(reason)s")
    # sizes, numbers, text (core/quota.py, core/limits.py, core/text.py, core/models.py)
    NOT_A_SIZE = N_("not a size")
    EMPTY = N_("is empty")
    NEGATIVE = N_("must not be negative")
    ABOVE_MAXIMUM = N_("larger than the maximum %(max)s")
    UNIT_WITHOUT_NUMBER = N_("%(value)s has a unit but no number")
    SIZE_UNREADABLE = N_("not a size: %(value)s (use bytes or a number with K, M, G or T, e.g. 500M or 2G)")
    FRACTION_OF_BYTE = N_("a fraction of a byte: %(value)s (a decimal number needs a unit)")
    NOT_WHOLE_NUMBER = N_("must be a whole number, not %(value)s")
    NOT_ABOVE_ZERO = N_("must be greater than 0")
    UNLIMITED_WITH_POOL = N_("cannot be unlimited (0) when the domain has a quota pool")
    DEFAULT_ABOVE_POOL = N_("default quota %(quota)s is larger than the domain's pool %(pool)s")
    POOLED_QUOTA_UNLIMITED = N_("domain %(domain)s has a quota pool, so an account's quota cannot be unlimited (0)")
    ACCOUNTS_FULL = N_("domain %(domain)s allows at most %(max)s accounts and already has %(count)s")
    ACCOUNTS_WOULD_OVERFLOW = N_(
        "domain %(domain)s allows at most %(max)s accounts and has %(count)s; %(extra)s more would make %(total)s")
    POOL_WOULD_OVERFLOW = N_("quota %(quota)s would exceed the domain's pool: %(used)s of %(pool)s allocated")
    POOL_WOULD_OVERFLOW_CHANGE = N_(
        "quota %(quota)s would exceed the domain's pool: %(used)s of %(pool)s allocated, "
        "%(old)s of it to this account")
    MAX_BELOW_COUNT = N_("domain %(domain)s already has %(count)s accounts; the maximum cannot be lowered to %(max)s")
    POOL_BELOW_ALLOCATED = N_(
        "domain %(domain)s already has %(allocated)s allocated to its accounts; "
        "the pool cannot be lowered to %(pool)s")
    TEXT_TOO_LONG = N_("longer than %(max)s characters (%(length)s)")
    TEXT_CONTROL_CHARACTER = N_("contains a control character (U+%(code)s)")
    NOT_A_STATUS = N_("must be 'active' or 'disabled', not %(value)s")
    # passwords and stored hashes (core/passwords.py, services/passwords.py)
    NOT_TEXT = N_("must be text")
    TOO_SHORT = N_("shorter than %(n)s characters")
    TOO_LONG = N_("longer than %(max)s characters")
    CONTROL_CHARACTER = N_("contains a control character")
    LONE_SURROGATE = N_("contains an invalid character (a lone surrogate)")
    EXACTLY_ONE_OF = N_("give exactly one of: %(choices)s")
    HASH_NO_PREFIX = N_("not a password hash: it needs a {ARGON2}, {SSHA}, {SSHA512} or {CRYPT} prefix")
    HASH_SCHEME_UNSUPPORTED = N_("unsupported hash scheme {%(scheme)s}")
    ARGON2_MALFORMED = N_("{ARGON2} value is not a well-formed $argon2id$ or $argon2i$ string")
    ARGON2D_REFUSED = N_("argon2d hashes are not accepted (use argon2id or argon2i)")
    ARGON2_VERSION = N_("argon2 version %(version)s is not supported")
    ARGON2_PARALLELISM = N_("argon2 parallelism %(value)s is out of range 1..%(high)s")
    ARGON2_TIME_COST = N_("argon2 time cost %(value)s is out of range 1..%(high)s")
    ARGON2_MEMORY = N_("argon2 memory %(value)s KiB is out of range %(low)s..%(high)s")
    ARGON2_BASE64 = N_("{ARGON2} salt or hash is not valid base64")
    ARGON2_SHORT_SALT = N_("argon2 salt shorter than 8 bytes")
    ARGON2_SHORT_HASH = N_("argon2 hash shorter than 4 bytes")
    HASH_BASE64 = N_("{%(scheme)s} value is not valid base64")
    HASH_TOO_SHORT = N_("{%(scheme)s} value is too short (a %(n)s-byte digest followed by a salt)")
    CRYPT_EMPTY = N_("{CRYPT} value is empty")
    CRYPT_UNPRINTABLE = N_("{CRYPT} value must be printable ASCII without spaces")
    # accounts, aliases, admins, domains, tokens, second factor, self-service
    OWN_ADDRESS = N_("%(address)s is the account's own address")
    DOMAIN_NOT_HOSTED = N_("%(address)s: domain %(domain)s is not hosted here")
    ADDRESS_TAKEN = N_("%(address)s is already in use by an %(holder)s")
    SEARCH_EMPTY = N_("give at least one character")
    ALIAS_TO_ITSELF = N_("an alias may not deliver to itself")
    ALIAS_NO_TARGET = N_("an alias needs at least one target address")
    LOGIN_SHAPE = N_("1-64 characters: letters, digits, '.', '_', '-', '@'; starting with a letter or digit")
    NOT_A_ROLE = N_("must be 'superadmin' or 'domain_admin', not %(value)s")
    ADMIN_WITHOUT_DOMAIN = N_("a domain admin needs at least one domain")
    SUPERADMIN_WITH_DOMAIN = N_("a superadmin administers every domain; give no --domain")
    DOMAIN_NOT_EMPTY = N_("%(domain)s still has accounts or aliases; use --force to delete them too")
    TOKEN_UNNAMED = N_("give the token a name (what uses it)")
    NOT_WHOLE_DAYS = N_("must be a whole number of days, not %(value)s")
    OUT_OF_RANGE = N_("must be between %(low)s and %(high)s")
    NOT_A_CHOICE = N_("must be one of %(choices)s, not %(value)s")
    TOTP_SHAPE = N_("enter the 6 digits your authenticator app shows")
    TOTP_ALREADY_ON = N_("a second factor is already set up; turn it off first")
    TOTP_NOT_STARTED = N_("no second factor is being set up; start again")
    TOTP_WRONG = N_("the code is not right (or was already used); try the next one")
    APP_PASSWORD_NAME = N_("a name of 1 to %(max)s characters: the device or program that uses it")
    TOO_MANY_APP_PASSWORDS = N_("at most %(max)s app passwords; revoke one first")
    PASSWORDS_DIFFER = N_("the two new passwords differ")
    NOT_CURRENT_PASSWORD = N_("is not your current password")
    CURRENT_PASSWORD_REFUSED = N_("too many wrong passwords: try again in %(minutes)s minutes")
    CODES_REFUSED = N_("too many wrong codes: try again in %(minutes)s minutes")
    RECOVERY_ADDRESS_HOSTED = N_(
        "%(domain)s is hosted here: a recovery address must be outside this service, where you can read mail "
        "when you cannot log in here")
    SAME_PASSWORD = N_("is the same as the current one")
    # an administrator's own password and second factor (services/admins.py, services/totp.py)
    OWN_PASSWORD_ON_MY_SECURITY = N_(
        "this is your own login: change your own password on My security, with your current password")
    OWN_PASSWORD_NEEDS_CURRENT = N_(
        "this is your own login: give current_password (and code if your second factor is on) to change "
        "your own password")
    ONLY_OWN_LOGIN = N_("only for a change of your own password: the login is not yours")
    OWN_SECOND_FACTOR = N_(
        "this is your own login: turn your own second factor off on My security, with a code from your "
        "authenticator app")
    NOT_A_TIME = N_("not a date or time (YYYY-MM-DD or YYYY-MM-DDTHH:MM): %(value)s")
    NOT_A_RECORD = N_("must be a record number")
    # mail filters (core/sieve_filters.py, services/filters.py, mailstore/sieve.py)
    NOT_A_RULE_LIST = N_("must be a list of rules")
    TOO_MANY_RULES = N_("at most %(max)s rules")
    FOLDER_NAME_SHAPE = N_("a folder name: parts separated by '/', none empty, '.' or '..', without '*' or '%%'")
    SIEVE_DOES_NOT_COMPILE = N_("the Sieve script does not compile: %(detail)s")
    FILTERS_EDITED_BY_HAND = N_(
        "the script %(name)s was changed in a mail client since the web wrote it; the web will not overwrite it "
        "(delete or rename it in the client to use the web's rules again)")
    # out-of-office replies (core/vacation.py, services/vacation.py)
    NOT_A_DATE = N_("not a date (YYYY-MM-DD): %(value)s")
    MESSAGE_FILE_UNREADABLE = N_("the message file cannot be read as UTF-8 text: %(detail)s")
    VACATION_END_BEFORE_START = N_("the end (%(end)s) is before the start (%(start)s)")
    VACATION_END_PASSED = N_("the end (%(end)s) has already passed")
    # catch-all and alias domains (services/domain_routing.py)
    CATCH_ALL_OUTSIDE = N_(
        "must be an address of a domain hosted here that you administer, not %(value)s: mail to unknown "
        "addresses is never sent outside")
    CATCH_ALL_UNKNOWN = N_("no account or alias %(value)s: a catch-all must name an existing one")
    AT_ALIAS_DOMAIN = N_("%(value)s is at the alias domain %(alias)s: name the address at %(domain)s")
    ALIAS_DOMAIN_HOSTED = N_("%(domain)s is already hosted here as a domain")
    ALIAS_DOMAIN_TAKEN = N_("%(domain)s is already an alias domain of %(target)s")
    ALIAS_DOMAIN_ITSELF = N_("a domain cannot be an alias domain of itself")
    ALIAS_DOMAIN_NO_TARGET = N_("no domain %(domain)s is hosted here")
    ALIAS_DOMAIN_CHAIN = N_("%(domain)s is itself an alias domain of %(target)s: name %(target)s")
    # shared role mailboxes (core/shared.py, services/shared.py)
    NOT_A_SHARED_RIGHT = N_("must be read, write or send-as, not %(value)s")
    NO_SHARED_RIGHT = N_("name at least one right: read, write, send-as")
    SHARED_MEMBER_OTHER_DOMAIN = N_(
        "%(value)s is not an account of %(domain)s: members of a shared mailbox are accounts of its own domain")
    SHARED_MEMBER_UNKNOWN = N_("no account %(value)s in %(domain)s")
    SHARED_NOT_A_MEMBER = N_("%(value)s is not a member of %(shared)s")
    DOMAIN_HAS_SHARED = N_("%(domain)s still has shared mailboxes (%(count)s): remove them first")
    SHARED_NOT_EMPTY = N_(
        "%(value)s still holds %(count)s messages: a member with the write right moves or deletes them first")
    # DKIM keys (dkim/keys.py, services/dkim.py)
    NOT_A_KEY_TYPE = N_("must be 'rsa' or 'ed25519', not %(value)s")
    SELECTOR_SHAPE = N_("1-63 letters, digits or '-', not starting or ending with '-'")
    NO_KEY_TO_ROTATE = N_("%(domain)s has no active %(algorithm)s key to rotate; generate one")
    KEY_NOT_PENDING = N_("%(selector)s is %(state)s, not pending")
    KEY_NOT_RETIRABLE = N_("%(selector)s is %(state)s: only a replaced or pending key can be retired")
    # DNS records of a domain and what DNS answered (core/dns_records.py, services/dns_check.py)
    DNS_HOST_IS_AN_ADDRESS = N_("must be a host name, not an IP address: %(value)s")
    DNS_NO_SUCH_NAME = N_("%(name)s does not exist in DNS")
    DNS_NOT_PUBLISHED = N_("no %(type)s record at %(name)s")
    DNS_NOT_ASKED = N_("could not ask DNS: %(detail)s")
    DNS_MANY_RECORDS = N_("%(count)s %(kind)s records where there must be one: receivers take none of them")
    DNS_NULL_MX = N_("a null MX record: it says the domain receives no mail")
    DNS_MX_ELSEWHERE = N_("mail for the domain goes to %(host)s, which is not one of this service's hosts "
                          "(%(expected)s)")
    DNS_MX_MISSING = N_("no MX record points at %(host)s")
    DNS_SPF_ALLOWS_ALL = N_("%(term)s at the end lets any server send mail as the domain")
    DNS_SPF_NO_ALL = N_("no 'all' at the end: mail from other servers is not refused")
    DNS_SPF_NOT_AUTHORISING = N_("%(mechanism)s is missing: the mail this service sends is not authorised")
    DNS_DKIM_NO_KEY = N_("the record holds no key ('p=')")
    DNS_DKIM_REVOKED = N_("the record revokes the key (an empty 'p=')")
    DNS_DKIM_OTHER_KEY = N_("the published key is not the key of selector %(selector)s")
    DNS_DMARC_NO_POLICY = N_("no policy ('p=')")
    DNS_DMARC_BAD_POLICY = N_("the policy %(value)s is none of 'none', 'quarantine', 'reject'")
    DNS_DMARC_MONITOR_ONLY = N_("the policy 'none' only watches: forged mail is still delivered "
                                "(expected %(expected)s)")
    DNS_REPORTS_ELSEWHERE = N_("reports do not go to %(address)s")
    DNS_MTA_STS_OLD_ID = N_("the policy id is %(found)s, not %(expected)s: senders keep an older policy")
    DNS_POINTS_ELSEWHERE = N_("points at %(found)s, not at %(expected)s")
    DNS_ADDRESSES_ELSEWHERE = N_("its addresses (%(found)s) are not those of %(expected)s")
    DNS_SRV_ELSEWHERE = N_("says %(found)s, not port %(port)s at %(host)s")
    # deleted accounts, restore, handover, rename, legal holds
    NOT_A_MAILBOX_ID = N_("not a mailbox id: %(value)s (expected 8-4-4-4-12 hex digits)")
    DAYS_OUT_OF_RANGE = N_("must be between 0 and %(max)s days, not %(value)s")
    HOLD_UNEXPLAINED = N_("give the reason for the hold (a case or order number, who asked)")
    DELETED_SEVERAL_TIMES = N_(
        "%(address)s was deleted %(times)s times; give the mailbox id of the one you mean: %(ids)s")
    NOT_IN_ACCOUNT_DOMAIN = N_("must be an address of the account's domain %(domain)s")
    DOMAIN_GONE = N_("its domain %(domain)s no longer exists; an operator must add the domain again first")
    SAME_ADDRESS = N_("is the account's address already")
    PURGE_BEGUN_RESTORE = N_("the purge of %(address)s has begun; it cannot be restored")
    PURGE_BEGUN_HOLD = N_("the purge of %(address)s has begun; it cannot be held")
    DOMAIN_ON_HOLD = N_("%(domain)s is on legal hold (%(hold)s); release it first")
    # CSV import (core/csvimport, services/imports.py, services/import_files.py)
    FILE_EMPTY = N_("the file is empty")
    FILE_NOT_CSV = N_("the file is %(kind)s; save it as CSV UTF-8 (or Thai Windows cp874)")
    FILE_NOT_THAI_OR_UTF8 = N_("the file is neither UTF-8 nor Thai Windows (cp874/TIS-620) text")
    HEADER_EMPTY = N_("the first line (the header) is empty")
    HEADER_UNREADABLE = N_("the header cannot be read: %(detail)s")
    ROW_UNREADABLE = N_("data row %(row)s (line %(line)s) cannot be read: %(detail)s; a quote is probably not closed")
    COLUMN_TWICE = N_("column %(column)s appears twice in the header")
    COLUMN_MISSING = N_("the header has no %(missing)s column (columns: %(columns)s)")
    NO_SUCH_FILE = N_("no such file: %(path)s")
    FILE_GONE = N_("%(path)s no longer exists; the job needs the same file to go on")
    FILE_CHANGED = N_("%(path)s changed since the job began; start a new import instead")
    JOB_BUSY = N_("import job %(job)s is being worked on by another process")
    JOB_RUNNING = N_("job %(job)s is already running")
    JOB_NOT_VALIDATABLE = N_("job %(job)s is %(state)s; it cannot be validated again")
    BYTE_NOT_IN_ENCODING = N_(
        "the file is neither UTF-8 nor Thai Windows (cp874/TIS-620) text (line %(line)s: byte %(byte)s is not "
        "'%(encoding)s' text; as 'Windows-1252' the line reads '%(western)s'); save it as CSV UTF-8, or give the "
        "encoding it is in (e.g. '--encoding cp1252')")
    NOT_GIVEN_ENCODING = N_(
        "the file is not '%(encoding)s' text as given (line %(line)s: byte %(byte)s does not decode as "
        "'%(codec)s'); save it as CSV UTF-8, or give the encoding it is in (e.g. '--encoding cp1252')")
    CELL_NOT_THAI = N_(
        "data row %(row)s, column %(column)s (line %(line)s): the bytes %(bytes)s read as Thai Windows (cp874) "
        "give '%(thai)s': %(why)s, which Thai text does not have; as 'Windows-1252' they read '%(western)s'. "
        "The file is probably not Thai: save it as CSV UTF-8, or give the encoding it is in "
        "(e.g. '--encoding cp1252')")
    HEADER_NOT_THAI = N_(
        "the header (line %(line)s): the bytes %(bytes)s read as Thai Windows (cp874) give '%(thai)s': %(why)s, "
        "which Thai text does not have; as 'Windows-1252' they read '%(western)s'. The file is probably not "
        "Thai: save it as CSV UTF-8, or give the encoding it is in (e.g. '--encoding cp1252')")
    LINE_NOT_THAI = N_(
        "line %(line)s: the file's high bytes do not read as Thai Windows (cp874) text; save it as CSV UTF-8, "
        "or give the encoding it is in (e.g. '--encoding cp1252')")
    BYTE_NOT_IN_ENCODING_AT = N_(
        "the file is neither UTF-8 nor Thai Windows (cp874/TIS-620) text (%(where)s: byte %(byte)s is not "
        "'%(encoding)s' text); save it as CSV UTF-8, or give the encoding it is in (e.g. '--encoding cp1252')")
    NOT_GIVEN_ENCODING_AT = N_(
        "the file is not '%(encoding)s' text as given (%(where)s: byte %(byte)s does not decode); save it as "
        "CSV UTF-8, or give the encoding it is in (e.g. '--encoding cp1252')")
    AT_LINE_BYTE = N_("line %(line)s, byte %(offset)s of the line")
    AT_HEADER_BYTE = N_("the header, line %(line)s, byte %(offset)s of the line")
    AT_CELL_BYTE = N_("data row %(row)s, column %(column)s, line %(line)s, byte %(offset)s of the line")
    NOT_SHOWN_SECRET = N_("(not shown: the column may hold a password)")
    CELL_NOT_THAI_HIDDEN = N_(
        "data row %(row)s, column %(column)s (line %(line)s): the cell read as Thai Windows (cp874) has %(why)s, "
        "which Thai text does not have (the cell is not shown: the column may hold a password). The file is "
        "probably not Thai: save it as CSV UTF-8, or give the encoding it is in (e.g. '--encoding cp1252')")
    ROW_TOO_LONG = N_(
        "data row %(row)s (from line %(line)s) is longer than %(max)s characters: a quote is probably not "
        "closed, or the file is not a CSV of this import")
    ROW_TOO_WIDE = N_(
        "data row %(row)s (line %(line)s) has %(cells)s cells, more than %(max)s: the file is not a CSV of this "
        "import (a delimiter in a cell without quotes?)")
    HEADER_TOO_LONG = N_("the header is longer than %(max)s characters: the file is not a CSV of this import")
    HEADER_TOO_WIDE = N_("the header has %(cells)s cells, more than %(max)s: the file is not a CSV of this import")
    MIXED_ENCODINGS = N_(
        "the file mixes encodings: line %(utf8_line)s is UTF-8 text, but line %(line)s is not UTF-8 (%(what)s; "
        "lines that are not UTF-8: %(bad)s). No one encoding reads the whole file: open it in Excel and save it "
        "again as CSV UTF-8, after checking those lines' Thai")
    BYTE_NOT_IN_THAI_FILE = N_(
        "the file reads as Thai Windows (cp874/TIS-620) text, but not at %(where)s: byte %(byte)s is no "
        "character of it (a stray byte, or pasted from another program); correct it, or save the file as "
        "CSV UTF-8")
    LINE_READS_AS_THAI = N_("it reads as Thai Windows text, cp874/TIS-620")
    LINE_OTHER_ENCODING = N_("it may be Thai Windows text, cp874/TIS-620, or another encoding")
    THAI_MARK_ALONE = N_("a Thai sign or tone mark that follows no Thai consonant")
    THAI_IN_LATIN_WORD = N_("a Thai character inside a Latin word")
    THAI_VERSE_SIGN = N_("a sign of Thai verse or scripture that names never use")
    UNKNOWN_ENCODING = N_(
        "unknown encoding '%(name)s'; use one of %(names)s ('tis-620' and 'windows-874' are read as cp874, "
        "'windows-1252' as 'cp1252')")
    ROW_WIDTH = N_(
        "the row has %(cells)s cells but the header has %(width)s (a line break or delimiter outside quotes?)")
    FORWARD_TO_ITSELF = N_("an account may not forward to itself")
    FORWARD_NEEDS_PASSWORD = N_("forwarding to a new address needs your current password")
    DOMAIN_UNHOSTED = N_("domain %(domain)s is not hosted here")
    ALIAS_IS_ROW_ADDRESS = N_("%(address)s is the address of row %(row)s")
    ALIAS_IN_OTHER_ROW = N_("%(address)s is already an alias in row %(row)s")
    CREATED_MEANWHILE = N_("%(address)s was created by someone else meanwhile")
    NO_LONGER_EXISTS = N_("%(address)s no longer exists")
    ROW_DUPLICATE = N_("duplicate: row %(row)s has the same address")
    ROW_ALIAS_CLAIMED = N_("%(address)s is an alias of the account in row %(row)s")
    ROW_ADDRESS_TAKEN = N_("%(address)s is already in use by an %(holder)s (%(owner)s)")
    # the web's pages and the API
    LOCAL_PART_ONLY = N_("give the part before the @ only")
    CONFIRM_DOMAIN = N_("type the domain's name exactly")
    OPERATOR_HAS_ALL = N_("an operator already administers every domain")
    BODY_TOO_LARGE = N_("too large")
    XML_DOCTYPE = N_("document type declarations are not accepted")
    NOT_XML = N_("not XML: %(detail)s")
    MISSING = N_("missing")
    REQUIRED = N_("is required")
    NOT_A_STRING = N_("must be a string")
    NOT_A_SIZE_VALUE = N_('must be a size: a string such as "2G" or a whole number of bytes')
    NOT_A_WHOLE_NUMBER = N_("must be a whole number")
    NOT_A_BOOLEAN = N_("must be true or false")
    NOT_A_STRING_LIST = N_("must be a list of strings")
    PASSWORD_AND_GENERATED = N_("give a password or generate_password, not both")
    PASSWORD_NEITHER = N_("give a password, or generate_password: true for a generated one")
    NOT_A_JOB_ID = N_("must be a whole number (an import job's id)")
    NOT_IN_RANGE_FROM_ZERO = N_("must be a whole number from 0 to %(high)s")
    NOT_A_FILE_NAME = N_("must be a plain file name of at most 200 characters")
    # the other errors' words (errors.py: NotFound, AlreadyExists, PermissionDenied)
    NOT_FOUND = N_("%(kind)s not found: %(key)s")
    EXISTS = N_("%(kind)s already exists: %(key)s")
    EXISTS_DETAIL = N_("%(kind)s already exists: %(key)s (%(detail)s)")
    OPERATOR_ONLY = N_("only an operator (superadmin) may do this")
    DOMAIN_ROW_WIDTH = N_("the row has %(cells)s cells but the header has %(width)s")
    BODY_REQUIRED = N_("is required (a JSON object)")
    NOT_JSON = N_("not JSON")
    NOT_A_JSON_OBJECT = N_("must be a JSON object")
    UNKNOWN_FIELD = N_("unknown field")
    BODY_EMPTY_CSV = N_("the body is empty; send the CSV file")
    # settings and the CLI
    UNKNOWN_SETTING = N_("unknown setting")
    BELOW_ZERO = N_("must be 0 or more, not %(value)s")
    NOT_A_VALID_KIND = N_("not a valid %(kind)s: %(value)s")
    CONFIG_UNREADABLE = N_("%(path)s: %(detail)s")
    NOTHING_ON_STDIN = N_("nothing on standard input")
    NOT_A_QUEUE_ID = N_("a queue id is lower-case hexadecimal (see `queue list`)")
    QUEUE_ID_OR_ALL = N_("give one queue id or --all")
    NOT_A_SERVER_ID = N_("must be a whole number from 1 to 4095")
    NO_OTHER_PROVIDER = N_("name at least one other provider (ldap://host:port)")
    NOT_AN_LDAP_URI = N_("%(uri)s is not an ldap:// or ldaps:// URI")
    NO_SERVICE_PASSWORDS = N_(
        "the settings file holds no service passwords yet: run `mailgothai stack up` once, or set them in the "
        "file, and copy it to every node")
    FILE_OR_RESUME = N_("give a FILE to import, or --resume JOB")
    RESUME_KEEPS_ENCODING = N_("a resumed job keeps the encoding it was read in; give --encoding with a FILE")
    CANNOT_WRITE_IN_ENCODING = N_("a value cannot be written in %(encoding)s (%(value)s); use utf-8-sig")
    # inbound protection (core/spam.py)
    SCORE_NOT_ABOVE = N_("must be above %(other)s (%(limit)s), not %(value)s")
    NOT_ALLOWED_BY_OPERATOR = N_("the operator does not allow domains to change this")
    NOT_A_SCORE = N_("must be a number or 'off', not %(value)s")
    # password policies (core/password_policy.py, issue 20)
    PASSWORD_NO_LOWER = N_("needs a lower-case letter")
    PASSWORD_NO_UPPER = N_("needs an upper-case letter")
    PASSWORD_NO_DIGIT = N_("needs a digit")
    PASSWORD_NO_OTHER = N_("needs a character that is not a Latin letter or a digit (e.g. ! or a Thai letter)")
    PASSWORD_FEW_CLASSES = N_(
        "needs at least %(n)s kinds of character (lower case, upper case, digits, others); it has %(found)s")
    PASSWORD_PERSONAL = N_("must not contain the account's address or name (%(part)s)")
    PASSWORD_TOO_GUESSABLE = N_(
        "too easy to guess (strength %(score)s of 4, at least %(min)s needed): make it longer, "
        "or add words that do not belong together")
    POLICY_BELOW_FLOOR = N_("cannot be below the operator's minimum, %(floor)s")
    POLICY_CLASSES_BELOW_FLOOR = N_("must include the classes the operator requires: %(classes)s")
    POLICY_FLOOR_FORBIDS_PERSONAL = N_("the operator's minimum forbids names and addresses in passwords")
    # backups and restores (stack/backup.py, stack/restore.py, issue 19)
    BACKUP_OUT_EXISTS = N_("%(path)s already exists: a backup is written into a new directory")
    BACKUP_PARTIAL_EXISTS = N_(
        "%(path)s is left from a backup that stopped (or is one still running): remove it first")
    BACKUP_UNUSABLE = N_("%(path)s is not a complete, intact backup: %(problems)s")
    RESTORE_TARGET_NOT_EMPTY = N_(
        "%(path)s exists and is not empty: a backup is restored into a new data directory")
    RESTORE_SQL_KIND = N_("the backup holds a %(kind)s store, but the settings name %(target)s")
    RESTORE_SQL_NOT_EMPTY = N_("the database %(database)s already has tables: a backup is restored into an empty one")
    RESTORE_NEEDS_DATA_DIR = N_("name the new data directory to restore into with --data-dir")

    def __call__(self, **params: str | int | Term | Reason) -> Reason:
        return Reason(self, params)

    @property
    def code(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Reason:
    """One refusal: which reason, with which values."""

    why: Why
    params: Mapping[str, str | int | Term | Reason] = field(default_factory=dict)

    @property
    def code(self) -> str:
        return self.why.code

    def render(self, gettext: Callable[[str], str] = N_) -> str:
        """The reason in words: English, or translated by `gettext` (a catalogue's)."""
        shown = {name: value.render(gettext) if isinstance(value, Reason)
                 else gettext(value) if isinstance(value, Term) else str(value)
                 for name, value in self.params.items()}
        return gettext(self.why.value) % shown

    def as_data(self) -> dict[str, object]:
        """The reason as JSON-ready data: code and parameters (nested reasons alike)."""
        return {"code": self.code,
                "params": {name: value.as_data() if isinstance(value, Reason) else
                           {"term": str(value)} if isinstance(value, Term) else value
                           for name, value in self.params.items()}}

    @classmethod
    def from_data(cls, data: Mapping[str, object]) -> Reason:
        """The inverse of `as_data`; ValueError for data no reason of this table makes."""
        code, params = data.get("code"), data.get("params")
        if not isinstance(code, str) or not isinstance(params, Mapping):
            raise ValueError("a reason needs a code and parameters")
        try:
            why = Why[code.upper()]
        except KeyError:
            raise ValueError(f"unknown reason code {code!r}") from None
        values: dict[str, str | int | Term | Reason] = {}
        for name, value in params.items():
            if isinstance(value, Mapping) and "term" in value:
                values[name] = Term(str(value["term"]))
            elif isinstance(value, Mapping):
                values[name] = cls.from_data(value)
            elif isinstance(value, str | int):
                values[name] = value
            else:
                raise ValueError(f"parameter {name!r} of {code} is not text, a number or a reason")
        return cls(why, values)

    def __str__(self) -> str:
        return self.render()
