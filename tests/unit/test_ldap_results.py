"""The one map from LDAP result codes to the project's errors (directory/results.py): the
same error whether ldap3 decoded the answer (map_error, its exception) or wire.py did
(error_for, the importer's transactions and lookups)."""

from __future__ import annotations

import pytest
from ldap3.core import exceptions as lx

from mailgothai.directory import results
from mailgothai.errors import AlreadyExists, DirectoryError, DirectoryUnreachable, NotFound, ValueChanged

EXPECTED: list[tuple[int, type[Exception]]] = [
    (68, AlreadyExists),  # entryAlreadyExists
    (32, NotFound),  # noSuchObject
    (16, ValueChanged),  # noSuchAttribute: a compare-and-swap's old value is gone
    (50, DirectoryError),  # insufficientAccessRights
    (51, DirectoryUnreachable),  # busy
    (52, DirectoryUnreachable),  # unavailable
    (19, DirectoryError),  # constraintViolation
    (49, DirectoryError),  # invalidCredentials
    (53, DirectoryError),  # unwillingToPerform
    (80, DirectoryError),  # other
]


@pytest.mark.parametrize(("code", "error"), EXPECTED)
def test_each_result_code_maps_to_its_error_whichever_decoder_read_it(code: int, error: type[Exception]) -> None:
    from_wire = results.error_for(code, "uid=x", results.wire_detail(code, "diagnostic"))
    from_ldap3 = results.map_error(lx.LDAPOperationResult(result=code, description="d", message="m"), "uid=x")
    for mapped in (from_wire, from_ldap3):
        assert type(mapped) is error  # exactly: not merely some DirectoryError


def test_the_words_of_each_error() -> None:
    assert str(results.error_for(68, "uid=x", "")) == "entry already exists: uid=x"
    assert str(results.error_for(32, "uid=x", "")) == "entry not found: uid=x"
    assert str(results.error_for(50, "uid=x", "")) == "uid=x: the directory refused access"
    assert str(results.error_for(53, "uid=x", results.wire_detail(53, "no"))) == "uid=x: result 53 (no)"
    assert str(results.error_for(80, "uid=x", results.wire_detail(80, ""))) == "uid=x: result 80"


@pytest.mark.parametrize("exc", [lx.LDAPSocketOpenError("refused"), lx.LDAPSocketReceiveError("reset"),
                                 lx.LDAPResponseTimeoutError("silent")])
def test_no_answer_at_all_is_unreachable(exc: lx.LDAPException) -> None:
    assert type(results.map_error(exc, "search")) is DirectoryUnreachable


def test_other_ldap3_failures_are_directory_errors() -> None:
    mapped = results.map_error(lx.LDAPInvalidDnError("bad dn"), "uid=x")
    assert type(mapped) is DirectoryError and str(mapped) == "uid=x: bad dn"
