"""Pure units: reading From:/Sender: fields, alignment of DKIM signers with claimed
domains, and removing Authentication-Results fields that claim this relay's id."""

from __future__ import annotations

import pytest

from mailgothai.core import policy as p
from mailgothai.core.auth_results import authserv_id, without_own_results
from mailgothai.core.dkim import parse
from mailgothai.core.sender_headers import read_sender_fields

H = "demo-moph.go.th"
# Unicode format characters a mail program shows as nothing
INVISIBLE = ["\u200e", "\u200c", "\u200d", "\u202c", "\u2060", "\ufeff", "\U000e0001", "\U000e0041", "\U000e007f"]


def fields_of(head: str):  # type: ignore[no-untyped-def]
    return read_sender_fields(parse((head + "\r\nSubject: x\r\n\r\nbody\r\n").encode("utf-8")).headers)


@pytest.mark.parametrize("head", [
    f"From: Somchai <somchai.s@{H}>",
    f"From: somchai.s@{H} (Somchai)",
    f"From: a@x.example, somchai.s@{H}",
    f"From: Team: a@x.example, somchai.s@{H};",
    f"From: =?utf-8?q?somchai.s=40{H}?= <a@x.example>",
    f"From: a@x.example (=?utf-8?q?somchai.s=40{H}?=)",
    f'From: "somchai.s@{H}" <a@x.example>',
    f"From: Somchai\r\n <somchai.s@{H}>",
    f"From: SOMCHAI.S@{H.upper()}",
    f"From: somchai.s @ {H.replace('.', ' . ')}",
    f"From: <@relay.x.example:somchai.s@{H}>",
    f"From: a@x.example\r\nSender: <somchai.s@{H}>",
    f"From: =?utf-8?b?4Liq4Lih4LiK4Liy4Lii?= <somchai.s@{H}>",
    # invisible format characters (Unicode Cf) inside or after the domain of a display name
    *[f'From: "somchai.s@{H}{mark}" <a@x.example>' for mark in INVISIBLE],
    *[f'From: "somchai.s@{H.replace(".go", mark + ".go")}" <a@x.example>' for mark in INVISIBLE],
    f"From: =?utf-8?q?somchai.s=40{H}=E2=80=8E?= <a@x.example>",
    f"From: =?utf-8?q?somchai.s=40{H.replace('.go', '=E2=80=8C.go')}?= <a@x.example>",
    # one undecodable encoded word does not keep a good one from being decoded
    f"From: =?utf-8?q?somchai.s=40{H}?= =?utf-8?q?=FF?= <a@x.example>",
    f"From: =?utf-8?q?somchai.s=40{H}?= =?x-unknown?q?_?= <a@x.example>",
    f"From: =?utf-8?b?!!!?= =?utf-8?q?somchai.s=40{H}?= <a@x.example>",
    f"From: =?utf-8?q?somchai.s=40{H}?= =?x-bogus?q?a?= <a@x.example>",  # the next word's text glued on
    f"From: =?utf-8?q?somchai.s=40{H}?= =?unknown-8bit?q?a?= <a@x.example>",
    # look-alike at signs, and other code points shown as nothing (unassigned, default-ignorable)
    f'From: "somchai.s\uff20{H}" <a@x.example>',
    f'From: "somchai.s\ufe6b{H}" <a@x.example>',
    f'From: "somchai.s@{H}\u0e00" <a@x.example>',
    f'From: "somchai.s@{H}\u034f" <a@x.example>',
    f'From: "somchai.s@{H}\ufe0f" <a@x.example>',
    f'From: "somchai.s@{H}\U000e0100" <a@x.example>',
    # adjacent encoded words are one text (RFC 2047 6.2): the address split between them
    f"From: =?utf-8?q?somchai.s=40{H[:5]}?= =?utf-8?q?{H[5:]}?= <a@x.example>",
])
def test_every_form_shows_the_hosted_domain(head: str) -> None:
    fields = fields_of(head)
    assert all(f.problem == "" for f in fields), fields
    assert H in p.claimed_domains(fields)
    refused = p.decide_unauthenticated_claims(None, fields, frozenset({H}), frozenset())
    assert refused is not None and (refused.code, refused.status) == (550, "5.7.1")
    assert H in refused.text and ("From:" in refused.text or "Sender:" in refused.text)


@pytest.mark.parametrize("head", [
    f"From: a@x.example <somchai.s@{H}>",
    f"From: <somchai.s@{H}",
    f"From: =?utf-8?q?somchai.s=40{H}?=",
    "From: a@",
    f"From: somchai.s@{H}.",
    "From: <<<>>>",
])
def test_an_unreadable_field_is_refused_naming_it(head: str) -> None:
    fields = fields_of(head)
    assert fields and fields[0].problem
    refused = p.decide_unauthenticated_claims(None, fields, frozenset(), frozenset())
    assert refused is not None and refused.code == 550
    assert refused.text.startswith("From: header cannot be read")


def test_outside_senders_are_read_and_left_alone() -> None:
    fields = fields_of("From: =?utf-8?q?J=C3=B6rg?= <Joerg@Mail.Example>\r\nSender: list@lists.example")
    assert [f.addresses for f in fields] == [("joerg@mail.example",), ("list@lists.example",)]
    assert p.decide_unauthenticated_claims(None, fields, frozenset(), frozenset()) is None
    assert fields_of("From: undisclosed-recipients:;")[0].addresses == ()
    # local parts this service never gives out are still read, with their domain
    fields = fields_of('From: Jörg <jörg@Example.DE>\r\nSender: "john smith"@lists.example')
    assert [f.problem for f in fields] == ["", ""]
    assert p.claimed_domains(fields) == {"example.de", "lists.example"}
    fields = fields_of(f"From: สมชาย@{H}")
    assert p.decide_unauthenticated_claims(None, fields, frozenset({H}), frozenset()) is not None
    assert p.decide_sender_fields(fields, frozenset({f"somchai@{H}"})) is not None


def test_alignment_is_relaxed_within_what_is_hosted_only() -> None:
    hosted = frozenset({"moph.go.th", "hr.moph.go.th"})
    assert p.aligned("moph.go.th", frozenset({"moph.go.th"}), hosted)
    assert p.aligned("hr.moph.go.th", frozenset({"moph.go.th"}), hosted)  # a hosted parent
    assert p.aligned("moph.go.th", frozenset({"it.moph.go.th"}), hosted)  # a subdomain of a hosted domain
    assert not p.aligned("moph.go.th", frozenset({"go.th"}), hosted)  # never a suffix not hosted here
    assert not p.aligned("hr.moph.go.th", frozenset({"other.go.th"}), hosted)
    assert not p.aligned("x.go.th", frozenset({"go.th"}), frozenset({"x.go.th"}))
    fields = fields_of("From: a@hr.moph.go.th")
    assert p.decide_unauthenticated_claims(None, fields, hosted, frozenset({"moph.go.th"})) is None
    assert p.decide_unauthenticated_claims(None, fields, hosted, frozenset({"evil.example"})) is not None


def test_submission_holds_sender_to_the_same_rule_as_from() -> None:
    owned = frozenset({"a@h.go.th", "office@h.go.th"})
    assert p.decide_sender_fields(fields_of("From: office@h.go.th\r\nSender: A <a@h.go.th>"), owned) is None
    refused = p.decide_sender_fields(fields_of("From: a@h.go.th\r\nSender: b@h.go.th"), owned)
    assert refused is not None and refused.text == "Sender: header address is not yours: b@h.go.th"
    refused = p.decide_sender_fields(fields_of("Sender: a@h.go.th"), owned)
    assert refused is not None and "From:" in refused.text  # a From: is still needed


def _submission(head: str, owned: frozenset[str], hosted_here: frozenset[str]) -> p.Reply | None:
    """The relay's submission check: the directory asked only about shown_to_check."""
    fields = fields_of(head)
    return p.decide_sender_fields(fields, owned, p.shown_to_check(fields, owned) & hosted_here)


@pytest.mark.parametrize("head", [
    'From: "minister@b.go.th" <a@h.go.th>',
    "From: Minister (minister@b.go.th) <a@h.go.th>",
    "From: =?utf-8?q?minister=40b.go.th?= <a@h.go.th>",
    'From: "minister@b.go.th\u200e" <a@h.go.th>',
    'From: a@h.go.th\r\nSender: "minister@b.go.th" <office@h.go.th>',
])
def test_submission_may_not_show_a_hosted_domain_the_user_does_not_own(head: str) -> None:
    owned = frozenset({"a@h.go.th", "office@h.go.th"})
    refused = _submission(head, owned, frozenset({"h.go.th", "b.go.th"}))
    assert refused is not None and (refused.code, refused.status) == (550, "5.7.1")
    assert "b.go.th" in refused.text
    # the same field with a domain not hosted here, or the user's own, is the user's business
    assert _submission(head.replace("b.go.th", "outside.example"), owned, frozenset({"h.go.th", "b.go.th"})) is None
    assert _submission(head.replace("b.go.th", "h.go.th"), owned, frozenset({"h.go.th", "b.go.th"})) is None
    assert p.shown_to_check(fields_of("From: A <a@h.go.th>"), owned) == frozenset()  # no directory question


@pytest.mark.parametrize("field,expected", [
    (b"Authentication-Results: mx.go.th; dkim=pass", "mx.go.th"),
    (b"Authentication-Results: MX.GO.TH 1; spf=pass", "mx.go.th"),
    (b"Authentication-Results: (c (nested) \\) x) mx.go.th (c); none", "mx.go.th"),
    (b'Authentication-Results: "mx.go.th"; none', "mx.go.th"),
    (b"Authentication-Results:\r\n\tmx.go.th;\r\n\tdkim=pass", "mx.go.th"),
    (b"Authentication-Results: mx.go.th;none", "mx.go.th"),
    (b"Authentication-Results: ", None),
])
def test_authserv_id(field: bytes, expected: str | None) -> None:
    assert authserv_id(field) == expected


def test_only_the_fields_of_our_own_id_are_removed() -> None:
    message = (b"From: a@x.example\r\nAuthentication-Results: MX.go.th;\r\n\tdkim=pass\r\n"
               b"Authentication-Results: other.example; spf=pass\r\n"
               b"X-Authentication-Results: mx.go.th; kept\r\nSubject: s\r\n\r\n"
               b"Authentication-Results: mx.go.th; in the body\r\n")
    assert without_own_results(message, "mx.go.th") == (
        b"From: a@x.example\r\nAuthentication-Results: other.example; spf=pass\r\n"
        b"X-Authentication-Results: mx.go.th; kept\r\nSubject: s\r\n\r\n"
        b"Authentication-Results: mx.go.th; in the body\r\n")
    plain = b"From: a@x.example\r\n\r\nbody\r\n"
    assert without_own_results(plain, "mx.go.th") is plain
