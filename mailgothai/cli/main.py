"""Entry point: `mailgothai [--data-dir DIR | --config FILE] GROUP COMMAND ...`; the two global
options may come after the command as well (given twice, the later one wins).

Exit codes: 0 done; 1 a missing object, a conflict or a failing component;
2 bad input (the message names the field and the reason).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from typing import Any

from mailgothai.errors import InvalidInput, MailGoThaiError
from mailgothai.settings import load_settings
from mailgothai.stack.private import owner_only_umask

# Each command group's module, by the group words it registers. A command loads only its
# own group's module (and what that imports); help without a group loads them all.
GROUPS: dict[str, tuple[str, ...]] = {
    "stack": ("stack",), "domains": ("domain",), "accounts": ("account",), "aliases": ("alias",),
    "admins": ("admin",), "dkim": ("dkim",), "relay": ("relay",), "queue": ("queue",),
    "imports": ("import", "import-domains", "export"), "deploy": ("deploy",), "web": ("serve",),
    "usage": ("usage",), "purge": ("purge",), "authpolicy": ("auth-policy",), "shared": ("shared",),
    "vacation": ("vacation",), "filters": ("filter",), "quarantine": ("quarantine",), "spam": ("spam",),
    "password_policy": ("password-policy",),
    "password_lifecycle": ("password-lifecycle", "password-expiry"),
    "backup": ("backup", "restore"),
    "dns": ("dns",),
    "load": ("load",),
    "app_passwords": ("app-password", "second-factor"),  # issue 20
}
GLOBAL_OPTIONS = ("--data-dir", "--config")


def add_global_options(parser: argparse.ArgumentParser, default: object = None) -> None:
    parser.add_argument("--data-dir", default=default,
                        help="state directory (default ./var, or MAILGOTHAI_DATA_DIR)")
    parser.add_argument("--config", default=default, help="settings file (default DATA_DIR/mailgothai.toml)")


class CommandParser(argparse.ArgumentParser):
    """The parser of a group or command: it takes the global options too, so they may come
    after the command. Absent there, they leave the value given before the command alone
    (SUPPRESS); given in both places, the later one wins. Nested groups get this class too
    (argparse gives a subparsers action its parent's class)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        add_global_options(self, default=argparse.SUPPRESS)


def group_word(argv: Sequence[str]) -> str | None:
    """The command group named in `argv` (its first word that is not a global option or
    its value), or None."""
    words = iter(argv)
    for word in words:
        if word in GLOBAL_OPTIONS:
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser; given `argv` naming a known group, with that group only."""
    parser = argparse.ArgumentParser(prog="mailgothai", description="MailGoThai: central e-mail service")
    add_global_options(parser)
    groups = parser.add_subparsers(dest="group", metavar="GROUP", required=True, parser_class=CommandParser)
    word = group_word(argv) if argv is not None else None
    wanted = [name for name, words in GROUPS.items() if word in words] or list(GROUPS)
    for name in wanted:
        importlib.import_module(f"mailgothai.cli.{name}").register(groups)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    owner_only_umask()  # everything this command (web, relay, stack) and its daemons write: owner-only
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    handler: Callable[..., int] = args.handler
    try:
        settings = load_settings(data_dir=args.data_dir, config=args.config)
        if getattr(args, "needs_services", True):
            from mailgothai.services.actor import cli_operator
            from mailgothai.services.registry import Services

            with Services.open(settings, cli_operator()) as services:
                return handler(args, services)
        return handler(args, settings)
    except InvalidInput as exc:
        print(f"mailgothai: error: {exc.field}: {exc.reason}", file=sys.stderr)
        return 2
    except MailGoThaiError as exc:
        print(f"mailgothai: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("mailgothai: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
