"""Entry point: `mailgothai [--data-dir DIR | --config FILE] GROUP COMMAND ...`.

Exit codes: 0 done; 1 a missing object, a conflict or a failing component;
2 bad input (the message names the field and the reason).
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable, Sequence

from mailgothai.cli import (
    accounts, admins, aliases, deploy, dkim, domains, imports, purge, queue, relay, stack, usage, web,
)
from mailgothai.errors import InvalidInput, MailGoThaiError
from mailgothai.services.actor import cli_operator
from mailgothai.services.registry import Services
from mailgothai.settings import load_settings

GROUPS = (stack, domains, accounts, aliases, admins, dkim, relay, queue, imports, deploy, web, usage, purge)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mailgothai", description="MailGoThai: central e-mail service")
    parser.add_argument("--data-dir", help="state directory (default ./var, or MAILGOTHAI_DATA_DIR)")
    parser.add_argument("--config", help="settings file (default DATA_DIR/mailgothai.toml)")
    groups = parser.add_subparsers(dest="group", metavar="GROUP", required=True)
    for module in GROUPS:
        module.register(groups)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
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
