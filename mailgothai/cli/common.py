"""Options and helpers shared by the CLI groups."""

from __future__ import annotations

import argparse
import sys

from mailgothai.core.reasons import Why
from mailgothai.errors import InvalidInput
from mailgothai.services.passwords import PasswordInput


def add_password_options(parser: argparse.ArgumentParser, allow_hash: bool = True) -> None:
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    group.add_argument("--generate-password", action="store_true", help="generate one and print it once")
    if allow_hash:
        group.add_argument("--password-hash-stdin", action="store_true",
                           help="read a hash from an older system ({ARGON2}, {SSHA}, {SSHA512}, {CRYPT})")


def read_stdin_line(field: str) -> str:
    line = sys.stdin.readline()
    if not line:
        raise InvalidInput(field, Why.NOTHING_ON_STDIN())
    return line.rstrip("\r\n")


def password_input(args: argparse.Namespace) -> PasswordInput:
    if args.generate_password:
        return PasswordInput(generate=True)
    if getattr(args, "password_hash_stdin", False):
        return PasswordInput(stored_hash=read_stdin_line("password"))
    return PasswordInput(plain=read_stdin_line("password"))


def announce_password(generated: str | None, who: str) -> None:
    if generated:
        print(f"generated password for {who} (shown once): {generated}")


def add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON")
