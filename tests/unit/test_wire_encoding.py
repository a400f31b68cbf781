"""The importer's own BER encoding of add and extended requests (directory/wire.py) must
say exactly what ldap3's pyasn1 encoding says, and its reading of results must find the
result code, the message and an End Transaction's failed message ID."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from ldap3.operation.add import add_operation
from ldap3.operation.extended import extended_operation
from ldap3.protocol.convert import build_controls_list
from ldap3.protocol.rfc4511 import LDAPMessage, MessageID, ProtocolOp
from pyasn1.codec.ber import decoder, encoder

from mailgothai.directory import wire
from mailgothai.directory.batch import ABORT, COMMIT, TXN_END, TXN_SPECIFICATION


def ldap3_message(message_id: int, op_name: str, request: object, controls: list | None = None) -> bytes:
    message = LDAPMessage()
    message["messageID"] = MessageID(message_id)
    message["protocolOp"] = ProtocolOp().setComponentByName(op_name, request)
    built = build_controls_list(controls)
    if built is not None:
        message["controls"] = built
    return encoder.encode(message)


def ldap3_add(message_id: int, dn: str, attributes: dict[str, list[str]], controls: list | None = None) -> bytes:
    request = add_operation(dn, attributes, auto_encode=True, schema=None, validator=None, check_names=False)
    return ldap3_message(message_id, "addRequest", request, controls)


def decoded(data: bytes) -> str:
    message, rest = decoder.decode(data, asn1Spec=LDAPMessage())
    assert rest == b""
    return message.prettyPrint()


ACCOUNT = {
    "objectClass": ["inetOrgPerson", "mgtAccount"],
    "mail": ["somchai.s@moph.go.th"], "domainName": ["moph.go.th"], "mgtQuota": ["2147483648"],
    "cn": ["สมชาย ศรีสุข"], "sn": ["ศรีสุข"], "givenName": ["สมชาย"],
    "mgtAliasAddress": ["s.somchai@moph.go.th", "helpdesk@moph.go.th"],
    "userPassword": ["{ARGON2}$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g"],
}


def test_an_account_add_is_byte_for_byte_ldap3s() -> None:
    dn = "mail=somchai.s@moph.go.th,ou=users,domainName=moph.go.th,ou=domains,o=mailgothai"
    assert wire.add_request(7, dn, ACCOUNT) == ldap3_add(7, dn, ACCOUNT)


def test_long_values_and_large_message_ids_use_long_form_lengths() -> None:
    attributes = {"objectClass": ["inetOrgPerson"], "description": ["ก" * 5000], "cn": ["x" * 200]}
    for message_id in (1, 127, 128, 255, 256, 65_535, 2**31 - 1):
        assert wire.add_request(message_id, "cn=x,o=t", attributes) == ldap3_add(message_id, "cn=x,o=t", attributes)


def test_controls_say_what_ldap3s_say() -> None:
    # pyasn1 writes TRUE as 0x01; RFC 4511 (section 5.1) asks for 0xFF, which is what
    # wire.py writes: the decoded messages are compared.
    controls = [(TXN_SPECIFICATION, True, b""), ("2.16.840.1.113730.3.4.18", True, b"dn:uid=a,ou=admins,o=t"),
                ("1.2.3.4", False, None)]
    ours = wire.add_request(9, "cn=x,o=t", ACCOUNT, controls)
    assert decoded(ours) == decoded(ldap3_add(9, "cn=x,o=t", ACCOUNT, controls))
    assert b"\x01\x01\xff" in ours and b"\x01\x01\x01" not in ours
    assert b"\x04\x00" in ours  # the transaction's empty identifier is present, not left out


def test_extended_requests_equal_ldap3s() -> None:
    for value in (None, COMMIT, ABORT):
        request = extended_operation(TXN_END, value, no_encode=True)
        assert wire.extended_request(3, TXN_END, value) == ldap3_message(3, "extendedReq", request)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=1, max_value=2**31 - 1),
       st.dictionaries(st.from_regex(r"[a-zA-Z][a-zA-Z0-9-]{0,20}", fullmatch=True),
                       st.lists(st.text(min_size=1, max_size=300), min_size=1, max_size=4), min_size=1, max_size=6))
def test_any_add_equals_ldap3s(message_id: int, attributes: dict[str, list[str]]) -> None:
    assert wire.add_request(message_id, "cn=y,o=t", attributes) == ldap3_add(message_id, "cn=y,o=t", attributes)


def _result(message_id: int, tag: int, code: int, diagnostic: bytes, extra: bytes = b"") -> bytes:
    body = wire._tlv(0x0A, bytes((code,))) + wire._tlv(0x04, b"") + wire._tlv(0x04, diagnostic) + extra
    return wire._tlv(0x30, wire._integer(message_id) + wire._tlv(tag, body))


def test_results_are_read() -> None:
    added = wire.result_of(_result(300, wire.ADD_RESPONSE, 68, b"Already exists"))
    assert (added.message_id, added.operation, added.code, added.diagnostic) == (300, wire.ADD_RESPONSE, 68,
                                                                                 "Already exists")
    failed = wire._tlv(0x30, wire._integer(1057))  # RFC 5805: { messageID of the failed update }
    ended = wire.result_of(_result(5, wire.EXTENDED_RESPONSE, 68, b"", wire._tlv(0x8B, failed)))
    assert ended.code == 68 and ended.value == failed and wire.first_integer(failed) == 1057
    assert wire.first_integer(b"") is None and wire.first_integer(b"\x30\x00") is None
    long_text = "ข" * 100
    read = wire.result_of(_result(2**20, wire.ADD_RESPONSE, 0, long_text.encode()))
    assert read.message_id == 2**20 and read.code == 0 and read.diagnostic == long_text


def test_an_equality_search_equals_ldap3s_for_the_escaped_filter() -> None:
    from ldap3.operation.search import search_operation

    from mailgothai.directory import escaping

    values = ["somchai.s@moph.go.th", "*)(uid=*", "back\\slash(1)@x.go.th", "สมชาย@ไทย.go.th", "nul\x00byte"]
    for chosen in (values[:1], values):
        flt = wire.any_filter([wire.equality_filter("mail", v) for v in chosen])
        ours = wire.search_request(11, "ou=domains,o=mailgothai", flt, ["mail", "objectClass"])
        text = escaping.any_of(*(escaping.eq("mail", v) for v in chosen))
        request = search_operation("ou=domains,o=mailgothai", text, "SUBTREE", "NEVER", ["mail", "objectClass"],
                                   0, 0, False, None, None, None, False)
        assert ours == ldap3_message(11, "searchRequest", request)
    assert wire.header_of(ours) == (11, wire.SEARCH_REQUEST)
