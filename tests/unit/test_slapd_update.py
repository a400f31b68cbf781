"""The pure part of bringing an older cn=config up to date: reading the wanted values
from LDIF, and the schema changes (add what is new, replace what changed in its place)."""

from __future__ import annotations

import ldap3

from mailgothai.stack.slapd_update import ldif_values, schema_changes

LDIF = """# a comment
dn: cn=other,cn=config
olcAccess: {0}to * by * none

dn: olcDatabase={1}mdb,cn=config
olcAccess: {0}to attrs=userPassword
  by self =wx
# a comment between values
  by * break
olcAccess: {1}to * by * none
"""


def test_ldif_values_unfold_continuations_and_drop_comments() -> None:
    assert ldif_values(LDIF, "olcDatabase={1}mdb,cn=config") == {
        "olcAccess": ["{0}to attrs=userPassword by self =wx by * break", "{1}to * by * none"],
    }


def test_schema_changes_add_new_definitions_and_replace_changed_ones_in_place() -> None:
    current = {
        "olcAttributeTypes": ["{0}( X:1 NAME 'a' )", "{1}( X:2 NAME 'b' )"],
        "olcObjectClasses": ["{0}( Y:1 NAME 'c' MAY ( a ) )", "{1}( Y:2 NAME 'd' )"],
    }
    wanted = {
        "olcAttributeTypes": ["( X:1 NAME 'a' )", "( X:2  NAME 'b' )", "( X:3 NAME 'new' )"],
        "olcObjectClasses": ["( Y:1 NAME 'c' MAY ( a $ new ) )", "( Y:2 NAME 'd' )"],
    }
    assert schema_changes(current, wanted) == [
        (ldap3.MODIFY_ADD, "olcAttributeTypes", "( X:3 NAME 'new' )"),
        (ldap3.MODIFY_DELETE, "olcObjectClasses", "{0}( Y:1 NAME 'c' MAY ( a ) )"),
        (ldap3.MODIFY_ADD, "olcObjectClasses", "{0}( Y:1 NAME 'c' MAY ( a $ new ) )"),
    ]
    assert schema_changes(wanted, wanted) == []
