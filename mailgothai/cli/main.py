"""Entry point: `mailgothai [--data-dir DIR | --config FILE] GROUP COMMAND ...`; the two global
options may come after the command as well (given twice, the later one wins).

Exit codes: 0 done; 1 a missing object, a conflict or a failing component;
2 bad input (the message names the field and the reason).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

from mailgothai.cli import (
    accounts,
    admins,
    aliases,
    authpolicy,
    deploy,
    dkim,
    domains,
    imports,
    purge,
    queue,
    relay,
    stack,
    usage,
    web,
)
from mailgothai.errors import InvalidInput, MailGoThaiError
from mailgothai.services.actor import cli_operator
from mailgothai.services.registry import Services
from mailgothai.settings import load_settings
from mailgothai.stack.private import owner_only_umask

GROUPS = (stack, domains, accounts, aliases, admins, dkim, relay, queue, imports, deploy, web, usage, purge,
          authpolicy)


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mailgothai", description="MailGoThai: central e-mail service")
    add_global_options(parser)
    groups = parser.add_subparsers(dest="group", metavar="GROUP", required=True, parser_class=CommandParser)
    for module in GROUPS:
        module.register(groups)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    owner_only_umask()  # everything this command (web, relay, stack) and its daemons write: owner-only
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[..., int] = args.handler
    try:
        settings = load_settings(data_dir=args.data_dir, config=args.config)
        if getattr(args, "needs_services", True):
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
