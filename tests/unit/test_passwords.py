from __future__ import annotations

import base64
import hashlib
import re

import pytest
from argon2 import PasswordHasher, Type, extract_parameters

from mailgothai.core.passwords import (
    Argon2Params,
    UnsupportedScheme,
    check_password_policy,
    classify_hash,
    generate_password,
    has_scheme_prefix,
    hash_password,
    is_legacy_hash,
    make_ssha,
    make_ssha512,
    validate_stored_hash,
    verify_password,
)
from mailgothai.errors import InvalidInput

CHEAP = Argon2Params(time_cost=1, memory_kib=8, parallelism=1)


def independent_ssha(plain: str, salt: bytes, algo: str = "sha1") -> str:
    digest = hashlib.new(algo, plain.encode("utf-8") + salt).digest()
    prefix = "{SSHA}" if algo == "sha1" else "{SSHA512}"
    return prefix + base64.b64encode(digest + salt).decode()


# ---- argon2 ------------------------------------------------------------------


def test_default_params_are_owasp() -> None:
    assert Argon2Params() == Argon2Params(time_cost=2, memory_kib=19456, parallelism=1)


def test_params_from_settings_like_object() -> None:
    class S:
        argon2_time_cost = 3
        argon2_memory_kib = 1024
        argon2_parallelism = 2

    assert Argon2Params.from_settings(S()) == Argon2Params(3, 1024, 2)


def test_params_refuse_impossible_values() -> None:
    with pytest.raises(ValueError):
        Argon2Params(time_cost=0)
    with pytest.raises(ValueError):
        Argon2Params(memory_kib=8, parallelism=2)


def test_hash_password_form_slapd_accepts() -> None:
    stored = hash_password("correct horse", CHEAP)
    b64 = "[A-Za-z0-9+/]"
    assert re.fullmatch(r"\{ARGON2\}\$argon2id\$v=19\$m=8,t=1,p=1\$" + b64 + "{22}\\$" + b64 + "{43}", stored)
    params = extract_parameters(stored.removeprefix("{ARGON2}"))
    assert (params.type, params.memory_cost, params.time_cost, params.parallelism) == (Type.ID, 8, 1, 1)
    # argon2-cffi itself verifies the string after the prefix
    assert PasswordHasher().verify(stored.removeprefix("{ARGON2}"), "correct horse")


def test_hash_password_with_default_params() -> None:
    stored = hash_password("correct horse", Argon2Params())
    assert stored.startswith("{ARGON2}$argon2id$v=19$m=19456,t=2,p=1$")
    assert verify_password("correct horse", stored)


def test_hashes_are_salted() -> None:
    assert hash_password("same", CHEAP) != hash_password("same", CHEAP)


def test_verify_argon2() -> None:
    stored = hash_password("รหัสผ่านไทย-1", CHEAP)
    assert verify_password("รหัสผ่านไทย-1", stored)
    assert not verify_password("รหัสผ่านไทย-2", stored)
    assert not verify_password("", stored)
    assert not verify_password("\ud800", stored)  # unencodable input is a mismatch, not a crash
    # lower-case prefix and Dovecot's {ARGON2ID} are the same hash
    assert verify_password("รหัสผ่านไทย-1", "{argon2}" + stored[8:])
    assert verify_password("รหัสผ่านไทย-1", "{ARGON2ID}" + stored[8:])


def test_verify_argon2i_from_another_system() -> None:
    phc = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1, type=Type.I).hash("legacy-pass")
    assert verify_password("legacy-pass", "{ARGON2}" + phc)
    assert not verify_password("legacy-pasS", "{ARGON2}" + phc)


def test_verify_malformed_argon2_is_false() -> None:
    stored = hash_password("pw-pw-pw-pw", CHEAP)
    assert not verify_password("pw-pw-pw-pw", stored[:-5])
    assert not verify_password("pw-pw-pw-pw", "{ARGON2}garbage")


def test_only_argon2id_is_not_legacy() -> None:
    stored = hash_password("pw-pw-pw-pw", CHEAP)
    assert not is_legacy_hash(stored)
    assert not is_legacy_hash(hash_password("pw-pw-pw-pw", Argon2Params()))  # other costs: still argon2id
    assert not is_legacy_hash(stored.replace("{ARGON2}", "{ARGON2ID}", 1))
    assert is_legacy_hash(make_ssha("pw-pw-pw-pw"))
    assert is_legacy_hash(make_ssha512("pw-pw-pw-pw"))
    assert is_legacy_hash("{CRYPT}$6$salt$hash")
    phc_i = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1, type=Type.I).hash("x")
    assert is_legacy_hash("{ARGON2}" + phc_i)  # argon2i becomes argon2id
    assert is_legacy_hash("{ARGON2}garbage")


# ---- legacy salted SHA --------------------------------------------------------------


def test_ssha_known_vector() -> None:
    salt = b"\x01\x02\x03\x04"
    expected = independent_ssha("secret", salt)
    assert make_ssha("secret", salt) == expected
    # hard-coded too (sha1(b"secret" + salt) + salt, base64), so a change in both helpers is caught
    assert expected == "{SSHA}uJDd0BIdJ9Z7yDCZNWdgYeb33+cBAgME"
    assert verify_password("secret", expected)
    assert not verify_password("Secret", expected)


def test_ssha_round_trip_and_random_salt() -> None:
    a, b = make_ssha("รหัส ผ่าน"), make_ssha("รหัส ผ่าน")
    assert a != b
    assert verify_password("รหัส ผ่าน", a) and verify_password("รหัส ผ่าน", b)
    assert len(base64.b64decode(a[6:])) == 20 + 8


def test_ssha512_round_trip_with_known_salt() -> None:
    salt = b"NaCl-salt"
    stored = make_ssha512("hunter2!", salt)
    assert stored == independent_ssha("hunter2!", salt, "sha512")
    assert verify_password("hunter2!", stored)
    assert not verify_password("hunter2?", stored)
    assert verify_password("hunter2!", "{ssha512}" + stored[9:])


def test_ssha_refuses_empty_salt() -> None:
    with pytest.raises(ValueError):
        make_ssha("x", b"")


def test_verify_malformed_ssha_is_false() -> None:
    assert not verify_password("x", "{SSHA}!!!notbase64")
    assert not verify_password("x", "{SSHA}" + base64.b64encode(b"short").decode())


def test_verify_crypt_and_unknown_raise_unsupported() -> None:
    with pytest.raises(UnsupportedScheme):
        verify_password("x", "{CRYPT}$6$salt$abcdef")
    with pytest.raises(UnsupportedScheme):
        verify_password("x", "{MD5}abc")
    with pytest.raises(UnsupportedScheme):
        verify_password("x", "plain text")
    assert issubclass(UnsupportedScheme, ValueError)


# ---- classify / validate imported values ---------------------------------------------


@pytest.mark.parametrize(
    ("value", "scheme"),
    [
        ("{ARGON2}$argon2id$v=19$m=8,t=1,p=1$abc$def", "ARGON2"),
        ("{argon2}$argon2id$...", "ARGON2"),
        ("{ARGON2ID}$argon2id$...", "ARGON2"),
        ("{SSHA}abcd", "SSHA"),
        ("{ssha}abcd", "SSHA"),
        ("{SSHA512}abcd", "SSHA512"),
        ("{CRYPT}$6$x$y", "CRYPT"),
        ("{crypt}$1$x$y", "CRYPT"),
        ("{MD5}abcd", None),
        ("{SHA}abcd", None),
        ("$argon2id$v=19$...", None),
        ("plain password", None),
        ("", None),
    ],
)
def test_classify_hash(value: str, scheme: str | None) -> None:
    assert classify_hash(value) == scheme


def test_has_scheme_prefix() -> None:
    assert has_scheme_prefix("{MD5}abc")
    assert has_scheme_prefix("{SSHA}abc")
    assert not has_scheme_prefix("Pa55word!")
    assert not has_scheme_prefix("{not closed")


def test_validate_generated_and_cheap_argon2() -> None:
    stored = hash_password("pw-pw-pw-pw", CHEAP)
    assert validate_stored_hash(stored) == stored
    assert validate_stored_hash("{argon2}" + stored[8:]) == stored
    assert validate_stored_hash("{ARGON2ID}" + stored[8:]) == stored
    assert validate_stored_hash("  " + stored + " ") == stored
    phc_i = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1, type=Type.I).hash("x")
    assert validate_stored_hash("{ARGON2}" + phc_i) == "{ARGON2}" + phc_i


def test_validate_generator_hash_form() -> None:
    # what gen_dataset.py --passwords hashed writes
    value = "{ARGON2}" + PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1).hash("Pool-0-pass")
    assert validate_stored_hash(value) == value


def test_validate_legacy_hashes_normalizes_prefix() -> None:
    ssha = make_ssha("pw", b"salt")
    assert validate_stored_hash(ssha) == ssha
    assert validate_stored_hash("{ssha}" + ssha[6:]) == ssha
    ssha512 = make_ssha512("pw", b"s")
    assert validate_stored_hash("{Ssha512}" + ssha512[9:]) == ssha512
    for crypt_value in ["$6$saltsalt$hashhash", "$5$rounds=5000$salt$hash", "$1$salt$hash", "$2y$10$abc",
                        "$y$j9T$salt$hash", "abJnggxhB/yWI"]:
        assert validate_stored_hash("{crypt}" + crypt_value) == "{CRYPT}" + crypt_value


@pytest.mark.parametrize(
    ("value", "reason_part"),
    [
        ("{MD5}CY9rzUYh03PK3k6DJie09g==", "unsupported hash scheme {MD5}"),
        ("{sha}abc", "unsupported hash scheme {SHA}"),
        ("$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g", "needs a {ARGON2}"),
        ("secret", "needs a {ARGON2}"),
        ("{ARGON2}", "not a well-formed"),
        ("{ARGON2}$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ", "not a well-formed"),
        ("{ARGON2}$argon2id$v=19$m=8,t=1$c2FsdHNhbHQ$aGFzaGhhc2g", "not a well-formed"),
        ("{ARGON2}$argon2d$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g", "argon2d"),
        ("{ARGON2}$argon2id$v=20$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g", "version 20"),
        ("{ARGON2}$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaGhhc2g", "salt shorter than 8 bytes"),
        ("{ARGON2}$argon2id$v=19$m=8,t=0,p=1$c2FsdHNhbHQ$aGFzaGhhc2g", "time cost 0"),
        ("{ARGON2}$argon2id$v=19$m=4,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g", "memory 4 KiB"),
        ("{ARGON2}$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g", "memory 4194304 KiB"),
        ("{ARGON2}$argon2id$v=19$m=8,t=1,p=1$c$aGFzaGhhc2g", "not valid base64"),
        ("{SSHA}", "not valid base64"),
        ("{SSHA}not base64!", "not valid base64"),
        ("{SSHA}" + base64.b64encode(b"x" * 20).decode(), "too short"),
        ("{SSHA512}" + base64.b64encode(b"x" * 64).decode(), "too short"),
        ("{CRYPT}", "{CRYPT} value is empty"),
        ("{CRYPT}$6$salt with space$hash", "printable ASCII"),
        ("{CRYPT}$6$saltไทย$hash", "printable ASCII"),
    ],
)
def test_validate_stored_hash_rejects(value: str, reason_part: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        validate_stored_hash(value)
    assert exc.value.field == "password"
    assert reason_part in exc.value.reason


def test_validate_ssha_minimum_lengths_accepted() -> None:
    one_byte_salt = "{SSHA}" + base64.b64encode(b"x" * 21).decode()
    assert validate_stored_hash(one_byte_salt) == one_byte_salt
    one_byte_salt512 = "{SSHA512}" + base64.b64encode(b"x" * 65).decode()
    assert validate_stored_hash(one_byte_salt512) == one_byte_salt512


def test_validate_uses_given_field() -> None:
    with pytest.raises(InvalidInput) as exc:
        validate_stored_hash("{MD5}x", field="password_hash")
    assert exc.value.field == "password_hash"


# ---- policy and generator ------------------------------------------------------------


@pytest.mark.parametrize("plain", ["12345678", "x" * 256, "รหัสผ่านยาวพอ", "with space inside", "Abcdefg!9"])
def test_policy_accepts(plain: str) -> None:
    check_password_policy(plain)


@pytest.mark.parametrize(
    ("plain", "reason_part"),
    [
        ("", "shorter than 8"),
        ("1234567", "shorter than 8"),
        ("x" * 257, "longer than 256"),
        ("abc\x00defgh", "control character"),
        ("abcdefgh\n", "control character"),
        ("abc\tdefgh", "control character"),
        ("abcdefgh\x7f", "control character"),
        ("abcdefgh\ud800", "surrogate"),
    ],
)
def test_policy_rejects(plain: str, reason_part: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        check_password_policy(plain, field="new_password")
    assert exc.value.field == "new_password"
    assert reason_part in exc.value.reason


def test_generated_passwords() -> None:
    seen = set()
    for length in [8, 12, 16, 16, 16, 40, 256]:
        pw = generate_password(length)
        assert len(pw) == length
        check_password_policy(pw)
        assert any(c.islower() for c in pw) and any(c.isupper() for c in pw)
        assert any(c.isdigit() for c in pw) and any(not c.isalnum() for c in pw)
        assert not set(pw) & set("0Oo1lI|'\"`;, \\")
        assert pw[0].isalpha()  # never starts with a CSV formula character
        seen.add(pw)
    assert len(seen) == 7
    assert len(generate_password()) == 16


def test_generate_password_refuses_bad_lengths() -> None:
    with pytest.raises(ValueError):
        generate_password(7)
    with pytest.raises(ValueError):
        generate_password(257)
