"""The one map from LDAP result codes (RFC 4511, appendix A) to the project's errors,
for the answers ldap3 decodes (its exceptions carry the code, `map_error`) and for those
wire.py decodes (`error_for`, the importer's transactions and lookups): an answer means
the same whichever decoder read it.
"""

from __future__ import annotations

from ldap3.core import exceptions as lx

from mailgothai.errors import AlreadyExists, DirectoryError, DirectoryUnreachable, NotFound, ValueChanged

SUCCESS = 0
NO_SUCH_ATTRIBUTE = 16  # a modify deleted a value that is not there: a compare-and-swap lost
NO_SUCH_OBJECT = 32
INSUFFICIENT_ACCESS_RIGHTS = 50
BUSY = 51
UNAVAILABLE = 52  # e.g. slapd shutting down
ALREADY_EXISTS = 68

# A provider that is down, hung past the receive timeout, or shutting down (ldap3's
# exceptions: no answer at all, or one of the result codes UNREACHABLE_CODES).
COMMUNICATION_ERRORS = (lx.LDAPCommunicationError, lx.LDAPResponseTimeoutError, lx.LDAPUnavailableResult,
                        lx.LDAPBusyResult)
UNREACHABLE_CODES = frozenset({BUSY, UNAVAILABLE})

Mapped = AlreadyExists | NotFound | DirectoryError


def error_for(code: int, what: str, detail: str) -> Mapped:
    """The project's exception for result `code` of an operation on `what`; `detail`
    (the server's diagnostic, as the decoder words it) goes into a DirectoryError."""
    if code == ALREADY_EXISTS:
        return AlreadyExists("entry", what)
    if code == NO_SUCH_OBJECT:
        return NotFound("entry", what)
    if code == NO_SUCH_ATTRIBUTE:
        return ValueChanged(f"{what}: a value changed underneath the operation")
    if code == INSUFFICIENT_ACCESS_RIGHTS:
        return DirectoryError(f"{what}: the directory refused access")
    if code in UNREACHABLE_CODES:
        return DirectoryUnreachable(f"the directory is unreachable ({what}): {detail}")
    return DirectoryError(f"{what}: {detail}")


def map_error(exc: lx.LDAPException, what: str) -> Mapped:
    """An ldap3 exception as the project's: a result by its code, no answer as unreachable."""
    code = getattr(exc, "result", None) if isinstance(exc, lx.LDAPOperationResult) else None
    if isinstance(code, int):
        return error_for(code, what, str(exc))
    if isinstance(exc, COMMUNICATION_ERRORS):
        return DirectoryUnreachable(f"the directory is unreachable ({what}): {exc}")
    return DirectoryError(f"{what}: {exc}")


def wire_detail(code: int, diagnostic: str) -> str:
    """How an answer decoded by wire.py is worded in an error."""
    return f"result {code}" + (f" ({diagnostic})" if diagnostic else "")
