"""`mailgothai usage refresh [--domain D]`: read quota usage from Dovecot now.

The admin web keeps usage snapshots fresh by itself (services/usage.py: pages queue
their stale accounts, a slow sweep covers the rest). This command does the same reading
outside the web, through the same service: every account of a domain (or of every
domain), one `doveadm quota get -F` per batch, the snapshots and domain totals stored in
SQL. Useful from a timer when the web is not running, or right after an import.
"""

from __future__ import annotations

import argparse

from mailgothai.cli.common import add_json
from mailgothai.cli.output import print_json
from mailgothai.services.registry import Services
from mailgothai.services.usage import UsageRefresher, UsageService


def register(groups: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = groups.add_parser("usage", help="quota usage of the mailboxes, as Dovecot counts it")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    refresh = commands.add_parser("refresh", help="read usage from Dovecot now and store the snapshots and totals")
    refresh.add_argument("--domain", help="only this domain (default: every domain)")
    add_json(refresh)
    refresh.set_defaults(handler=cmd_refresh)


def cmd_refresh(args: argparse.Namespace, services: Services) -> int:
    b = services.backends
    usage = UsageService(b, services.actor, UsageRefresher(b, b.settings.quota_snapshot_ttl, sweep=False))
    done = usage.refresh(args.domain)
    if args.json:
        print_json(done)
    else:
        print(f"read {done.read} of {done.accounts} account(s) in {done.domains} domain(s) "
              f"with {done.doveadm_calls} doveadm call(s)")
    return 0
