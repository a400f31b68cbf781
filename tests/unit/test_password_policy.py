"""core/password_policy.py: each rule of a policy, names (Thai too), what a domain may set
against the floor, what admins type, and generated passwords."""

from __future__ import annotations

import pytest

from mailgothai.core.password_policy import (
    MAX_MIN_LENGTH,
    ZXCVBN_MAX,
    CharClass,
    PasswordPolicy,
    Person,
    check_tightens,
    class_of,
    generate_for,
    personal_fragments,
    policy_data,
    policy_from_data,
    policy_with,
    problems,
    require,
    strength,
    strictest,
)
from mailgothai.core.reasons import Why
from mailgothai.errors import InvalidInput

FLOOR = PasswordPolicy()
SOMCHAI = Person("somchai.j@agency.go.th", given_name="Somchai", surname="Jaidee", display_name="Somchai Jaidee")
THAI = Person("s.jaidee@agency.go.th", given_name="สมชาย", surname="ใจดี", display_name="นายสมชาย ใจดี")


def codes(password: str, policy: PasswordPolicy = FLOOR, person: Person | None = SOMCHAI) -> list[str]:
    return [r.code for r in problems(password, policy, person)]


def test_the_built_in_floor_is_the_2017_rule_with_zxcvbn_score_2() -> None:
    assert (FLOOR.min_length, FLOOR.required, FLOOR.forbid_personal, FLOOR.min_strength) == (
        8, {CharClass.LOWER, CharClass.UPPER, CharClass.DIGIT}, True, 2)
    assert codes("Tr4vel-lamp-Oboe") == []


def test_each_rule_refuses_with_its_own_reason() -> None:
    assert codes("Ab1-xyz") == ["too_short"]
    assert codes("ABCD-1234-WXYZ") == ["password_no_lower"]
    assert codes("abcd-1234-wxyz") == ["password_no_upper"]
    assert codes("abcd-EFGH-wxyz") == ["password_no_digit"]
    assert codes("ab1") == ["too_short", "password_no_upper"]  # every reason the cheap rules find
    assert codes("abcdEFGH12", PasswordPolicy(required=frozenset({CharClass.OTHER}))) == ["password_no_other"]
    assert codes("abcdefgh12", PasswordPolicy(required=frozenset(), min_classes=3)) == ["password_few_classes"]


def test_a_common_password_meeting_the_classes_is_refused_as_guessable() -> None:
    assert codes("Password1") == ["password_too_guessable"]
    why = problems("Password1", FLOOR, SOMCHAI)[0]
    assert why.params["min"] == 2 and int(why.params["score"]) < 2
    assert codes("Password1", PasswordPolicy(min_strength=0)) == []  # the estimate can be turned off


def test_the_address_the_local_part_and_the_names_are_refused_in_any_case() -> None:
    assert codes("xSOMCHAI.J@agency.go.th9") == ["password_personal"]
    assert codes("Somchai-1999-x") == ["password_personal"]
    assert codes("Qz7-jaidee-Wk") == ["password_personal"]
    reason = problems("Qz7-JAIDEE-Wk", FLOOR, SOMCHAI)[0]
    assert reason.params["part"] == "'jaidee'"
    assert codes("Somchai-1999-x", PasswordPolicy(forbid_personal=False)) == []


def test_thai_names_are_refused_too() -> None:
    assert personal_fragments(THAI) == ["s.jaidee@agency.go.th", "s.jaidee", "jaidee", "สมชาย", "ใจดี", "นายสมชาย"]
    assert codes("Kx9-สมชาย-Wq", person=THAI) == ["password_personal"]
    assert codes("Kx9-ใจดี-Wq7z", person=THAI) == ["password_personal"]
    assert codes("Kx9-ฟ้าใส-Wq7z", person=THAI) == []


def test_short_name_parts_are_not_looked_for() -> None:
    person = Person("ab@agency.go.th", given_name="Bo", surname="Li")
    assert personal_fragments(person) == ["ab@agency.go.th"]
    assert codes("Tr4vel-lamp-ab-bo-li", person=person) == []


def test_thai_letters_and_digits_count_as_classes() -> None:
    assert class_of("ก") is CharClass.OTHER and class_of("๙") is CharClass.DIGIT and class_of("!") is CharClass.OTHER
    assert codes("รหัสผ่านยาวAa1") == []


def test_a_long_password_is_estimated_on_its_first_characters_only() -> None:
    long = "Ab1-" + "x7Qp-" * 40
    assert len(long) > ZXCVBN_MAX
    assert strength(long) == 4
    assert codes(long) == []
    assert codes("Ab1" + "x" * 300) == ["too_long"]  # core/passwords.py's MAX_LENGTH first


def test_control_characters_are_refused_first() -> None:
    assert codes("Abcdefg1\x00") == ["control_character"]


def test_require_raises_the_first_reason_with_the_field() -> None:
    with pytest.raises(InvalidInput) as caught:
        require("short", FLOOR, SOMCHAI, "new_password")
    assert caught.value.field == "new_password" and caught.value.why.code == "too_short"
    require("Tr4vel-lamp-Oboe", FLOOR, SOMCHAI)


def test_a_domain_may_only_tighten_the_floor() -> None:
    strict = PasswordPolicy(min_length=12, required=frozenset(CharClass), min_classes=4, min_strength=3)
    assert check_tightens(strict, FLOOR) is strict
    for looser, field in ((PasswordPolicy(min_length=8), "min_length"),
                          (PasswordPolicy(min_length=12, required=frozenset({CharClass.LOWER})), "required_classes"),
                          (PasswordPolicy(min_length=12, forbid_personal=False), "forbid_personal"),
                          (PasswordPolicy(min_length=12, min_strength=1), "min_strength")):
        with pytest.raises(InvalidInput) as caught:
            check_tightens(looser, PasswordPolicy(min_length=10))
        assert caught.value.field == field
    with pytest.raises(InvalidInput) as caught:
        check_tightens(PasswordPolicy(min_length=10), strict)
    assert caught.value.field == "min_length" and str(caught.value.why) == "cannot be below the operator's minimum, 12"


def test_the_floor_raised_later_still_applies_to_a_domain_that_set_its_own() -> None:
    own = PasswordPolicy(min_length=10, min_strength=3)
    floor = PasswordPolicy(min_length=14, required=frozenset(CharClass), min_strength=2)
    both = strictest(own, floor)
    assert (both.min_length, both.required, both.min_strength) == (14, frozenset(CharClass), 3)
    assert strictest(None, floor) is floor


def test_what_an_admin_types_is_read_and_checked_field_by_field() -> None:
    policy = policy_with(FLOOR, {"min_length": "12", "required_classes": "lower, upper,digit other",
                                 "min_classes": 4, "forbid_personal": "on", "min_strength": "3"})
    assert policy == PasswordPolicy(12, frozenset(CharClass), 4, True, 3)
    assert policy_from_data(policy_data(policy)) == policy
    assert policy_with(FLOOR, {"required_classes": ["upper"]}).required == {CharClass.UPPER}
    for changes, field, code in (({"min_length": "7"}, "min_length", "out_of_range"),
                                 ({"min_length": MAX_MIN_LENGTH + 1}, "min_length", "out_of_range"),
                                 ({"min_length": "ten"}, "min_length", "not_whole_number"),
                                 ({"min_strength": 5}, "min_strength", "out_of_range"),
                                 ({"min_classes": 5}, "min_classes", "out_of_range"),
                                 ({"required_classes": "lower,emoji"}, "required_classes", "not_a_choice"),
                                 ({"required_classes": 3}, "required_classes", "not_a_string_list"),
                                 ({"forbid_personal": "maybe"}, "forbid_personal", "not_a_boolean"),
                                 ({"max_age": 3}, "max_age", "unknown_field")):
        with pytest.raises(InvalidInput) as caught:
            policy_with(FLOOR, changes)
        assert (caught.value.field, caught.value.why.code) == (field, code)


@pytest.mark.parametrize("policy", [
    FLOOR, PasswordPolicy(min_length=MAX_MIN_LENGTH, required=frozenset(CharClass), min_classes=4, min_strength=4),
    PasswordPolicy(min_length=20, min_strength=4)])
def test_generated_passwords_meet_the_strictest_policies(policy: PasswordPolicy) -> None:
    for person in (SOMCHAI, THAI, Person("abc@agency.go.th", given_name="Xyz")):
        for _ in range(50):
            password = generate_for(policy, person)
            assert len(password) >= max(16, policy.min_length)
            assert problems(password, policy, person) == []


def test_every_new_reason_renders_in_english() -> None:
    assert str(Why.PASSWORD_FEW_CLASSES(n=3, found=2)).startswith("needs at least 3 kinds")
    assert str(Why.PASSWORD_PERSONAL(part="'somchai'")) == "must not contain the account's address or name ('somchai')"
