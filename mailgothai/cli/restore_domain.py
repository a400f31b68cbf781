"""`mailgothai restore DIR --domain D [--dry-run] [--json]`: one domain's accounts, aliases
and mail put back into the running service (stack/restore_domain.py), as the operator."""

from __future__ import annotations

import argparse
from pathlib import Path

from mailgothai.cli.output import print_json
from mailgothai.services.actor import cli_operator
from mailgothai.services.registry import Services
from mailgothai.settings import Settings
from mailgothai.stack.restore_domain import outcome_lines, restore_domain


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--domain", help=(
        "put one domain's accounts, aliases and mail back into the running service (the data dir of "
        "--data-dir): deleted accounts come back with their passwords, lost messages come back once; "
        "nothing an agency changed since is overwritten"))
    parser.add_argument("--dry-run", action="store_true",
                        help="with --domain: print what would be done; change nothing")
    parser.add_argument("--json", action="store_true", help="with --domain: print JSON")


def cmd_restore_domain(args: argparse.Namespace, settings: Settings) -> int:
    with Services.open(settings, cli_operator()) as services:
        report = restore_domain(services, Path(args.dir), args.domain, dry_run=args.dry_run)
    if args.json:
        print_json({"domain": report.domain, "backup": str(report.backup), "created": report.created,
                    "dry_run": report.dry_run,
                    "accounts": [{"address": a.address, "mailbox_id": a.mailbox_id, "action": a.action,
                                  "messages": a.messages, "note": a.note} for a in report.accounts],
                    "aliases": [{"address": a.address, "action": a.action, "note": a.note} for a in report.aliases],
                    "shared_mailboxes": [{"address": s.address, "mailbox_id": s.mailbox_id, "action": s.action,
                                          "messages": s.messages, "note": s.note} for s in report.shared],
                    "mail_included": report.mail_included})
        return 0
    for line in outcome_lines(report):
        print(line)
    return 0
