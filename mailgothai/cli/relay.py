"""`mailgothai relay [run] | health`"""

from __future__ import annotations

import argparse
import json

from mailgothai.relay.health import check
from mailgothai.settings import Settings


def register(groups: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = groups.add_parser("relay", help="the SMTP relay (MX, submission, delivery queue)")
    parser.set_defaults(handler=cmd_run, needs_services=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = commands.add_parser("run", help="run the relay in the foreground (stack up starts it in the background)")
    run.set_defaults(handler=cmd_run, needs_services=False)
    health = commands.add_parser("health", help="is the relay up: listeners, LMTP, spool; exit 0 healthy, 1 not")
    health.add_argument("--json", action="store_true")
    health.set_defaults(handler=cmd_health, needs_services=False)


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from mailgothai.relay.server import run

    return run(settings)


def cmd_health(args: argparse.Namespace, settings: Settings) -> int:
    report = check(settings)
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        for name, ok in report.checks.items():
            print(f"{name:12} {'ok' if ok else 'FAILING'}")
        print(f"{'queue':12} {report.queue['messages']} message(s)"
              + (f", oldest {report.oldest_age:.0f} s" if report.oldest_age is not None else ""))
    return 0 if report.healthy else 1
