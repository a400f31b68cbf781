"""`mailgothai purge [--dry-run]`: deleted accounts past their retention go for good."""

from __future__ import annotations

import argparse

from mailgothai.cli.common import add_json
from mailgothai.cli.output import print_json
from mailgothai.core.quota import format_size
from mailgothai.services.registry import Services


def register(groups: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = groups.add_parser("purge", help=(
        "remove the deleted accounts whose retention has passed, and their mailboxes, unless on legal hold "
        "(run on the machine that holds the mailboxes; deploy/systemd/mailgothai-purge.timer runs it daily)"))
    parser.add_argument("--dry-run", action="store_true", help="print what would be removed; remove nothing")
    add_json(parser)
    parser.set_defaults(handler=cmd_purge)


def cmd_purge(args: argparse.Namespace, services: Services) -> int:
    report = services.purge.run(dry_run=args.dry_run)
    if args.json:
        print_json({"at": report.at.isoformat(), "dry_run": report.dry_run,
                    "purged": [{"address": r.email, "mailbox_id": r.mailbox_id, "domain": r.domain,
                                "deleted_at": r.deleted_at.isoformat(), "purge_after": r.purge_after.isoformat(),
                                "size": r.size} for r in report.purged],
                    "kept": [{"address": k.retained.email, "mailbox_id": k.retained.mailbox_id,
                              "reason": k.reason} for k in report.kept]})
        return 0
    verb = "would purge" if report.dry_run else "purged"
    for r in report.purged:
        size = format_size(r.size) if r.size is not None else "size unknown"
        print(f"{verb} {r.email} (mailbox {r.mailbox_id}, deleted {r.deleted_at:%Y-%m-%d}, {size})")
    held = sum(1 for k in report.kept if "hold" in k.reason)
    print(f"{len(report.purged)} {verb}; {len(report.kept)} kept ({held} on legal hold)")
    return 0
