"""core/shared.py: the rights words of a shared mailbox and the one value on a member's
entry that lists its ACL groups (Dovecot's acl_groups)."""

from __future__ import annotations

import pytest

from mailgothai.core.shared import Right, access_value, group, parse_access, parse_rights, with_rights
from mailgothai.errors import InvalidInput

A = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
B = "11111111-2222-3333-4444-555555555555"


def test_rights_words_in_any_order_and_separator() -> None:
    assert parse_rights("send-as, READ write") == {Right.READ, Right.WRITE, Right.SEND_AS}
    assert parse_rights(["read"]) == {Right.READ}


@pytest.mark.parametrize(("text", "words"), [("read,admin", "'admin'"), ("", "at least one"), (" , ", "at least one")])
def test_a_bad_rights_word_names_the_field(text: str, words: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_rights(text)
    assert refused.value.field == "rights" and words in str(refused.value.reason)


def test_memberships_are_one_value_changed_per_shared_mailbox() -> None:
    value = with_rights("", A, frozenset({Right.READ, Right.SEND_AS}))
    assert value == f"{group(A, Right.READ)},{group(A, Right.SEND_AS)}"
    value = with_rights(value, B, frozenset({Right.WRITE}))
    assert parse_access(value) == {A: {Right.READ, Right.SEND_AS}, B: {Right.WRITE}}
    value = with_rights(value, A, frozenset())  # removed from A: B's is kept
    assert parse_access(value) == {B: {Right.WRITE}}
    assert with_rights(value, B, frozenset()) == ""


def test_the_value_is_a_comma_separated_list_of_groups_and_ignores_strangers() -> None:
    value = access_value({A: frozenset({Right.WRITE})})
    assert "," not in value and value == f"shared-{A}-write"
    assert parse_access(f"{value},somebody-elses-group,shared-not-a-uuid-read") == {A: {Right.WRITE}}
