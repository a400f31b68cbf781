"""`mailgothai stack up | down | status`"""

from __future__ import annotations

import argparse
import json

from mailgothai.settings import Settings
from mailgothai.stack import demo, dovecot, mailbox_migration, manager

UP_OPTIONS = ("ldap_port", "imap_port", "lmtp_port", "ldap_providers")


def register(groups: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = groups.add_parser("stack", help="run the whole service privately on loopback ports")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    up = commands.add_parser("up", help="configure and start slapd and Dovecot (reuses existing data)")
    for option in UP_OPTIONS:
        up.add_argument("--" + option.replace("_", "-"), type=int,
                        help="number of replicating slapd providers" if option == "ldap_providers" else None)
    up.add_argument("--demo", action="store_true", help="add a small demo data set (once) and print its logins")
    up.set_defaults(handler=cmd_up, needs_services=False)
    down = commands.add_parser("down", help="stop exactly the processes `up` started")
    down.set_defaults(handler=cmd_down, needs_services=False)
    migrate = commands.add_parser("migrate-mailboxes", help=(
        "move mail kept by address (DATA/mail, versions before the mailbox ids) to each account's mailbox id; "
        "`up` does this itself; run it on a production node with slapd up and Dovecot stopped"))
    migrate.set_defaults(handler=cmd_migrate, needs_services=False)
    status = commands.add_parser("status", help="where everything listens and what runs")
    status.add_argument("--json", action="store_true")
    status.set_defaults(handler=cmd_status, needs_services=False)


def _print(state: manager.StackStatus) -> None:
    data = state.as_dict()
    for key in ("data_dir", "ldap_uri", "imap", "imaps", "lmtp", "managesieve", "smtp", "submission", "smtps", "web",
                "auth_policy", "rspamd", "rspamd_controller", "redis", "clamd"):
        if key in data:
            print(f"{key:10} {data[key]}")
    for name, proc in data["processes"].items():
        running = f"running (pid {proc['pid']})" if proc["running"] else "stopped"
        print(f"{name:10} {running}")


def cmd_up(args: argparse.Namespace, settings: Settings) -> int:
    ports = {name: getattr(args, name) for name in UP_OPTIONS if getattr(args, name)}
    state = manager.up(settings.replace(**ports) if ports else settings)
    _print(state)
    if args.demo:
        logins = demo.seed(state.settings)
        if logins:
            print("\ndemo logins (shown once; IMAP as the mail user, admin for the admin web):")
            for login in logins:
                print(f"  {login.kind:6} {login.login:32} {login.password}")
        else:
            print("\ndemo data already present (its passwords were shown when it was created)")
    print(f"\nstop with: mailgothai --data-dir {state.settings.data_dir} stack down")
    return 0


def cmd_down(args: argparse.Namespace, settings: Settings) -> int:
    state = manager.down(settings)
    _print(state)
    return 0 if not any(p.running for p in state.processes) else 1


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    if dovecot.status(settings).running:
        print("mailgothai: error: stop Dovecot first: it would write to the mailboxes while they move")
        return 1
    result = mailbox_migration.migrate(settings)
    for line in result.describe() or ["nothing to move"]:
        print(line)
    return 1 if result.left else 0


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    state = manager.status(settings)
    if args.json:
        print(json.dumps(state.as_dict(), indent=2))
    else:
        _print(state)
    return 0 if state.running else 3
