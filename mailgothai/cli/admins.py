"""`mailgothai admin ...`"""

from __future__ import annotations

import argparse

from mailgothai.cli.common import add_json, add_password_options, announce_password, password_input
from mailgothai.cli.output import print_json_lines_array, print_rows
from mailgothai.core.models import Status
from mailgothai.services.registry import Services


def register(groups: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = groups.add_parser("admin", help="administrators of the admin web")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    add = commands.add_parser("add", help="create an administrator")
    add.add_argument("login")
    add.add_argument("--role", required=True, choices=("superadmin", "domain_admin"))
    add.add_argument("--domain", action="append", default=[], help="a domain it administers (repeatable)")
    add.add_argument("--display-name", default="")
    add_password_options(add, allow_hash=False)
    add.set_defaults(handler=cmd_add)

    lst = commands.add_parser("list", help="list administrators")
    add_json(lst)
    lst.set_defaults(handler=cmd_list)

    set_ = commands.add_parser("set", help="change the domains or name of an administrator")
    set_.add_argument("login")
    set_.add_argument("--domain", action="append", help="the domains it administers (repeatable; replaces them)")
    set_.add_argument("--display-name")
    set_.set_defaults(handler=cmd_set)

    for name, status in (("suspend", Status.DISABLED), ("activate", Status.ACTIVE)):
        p = commands.add_parser(name, help=f"{name} an administrator")
        p.add_argument("login")
        p.set_defaults(handler=cmd_status, status=status)

    delete = commands.add_parser("delete", help="delete an administrator")
    delete.add_argument("login")
    delete.set_defaults(handler=cmd_delete)


def cmd_add(args: argparse.Namespace, services: Services) -> int:
    admin, generated = services.admins.add(args.login, args.role, password_input(args),
                                           domains=tuple(args.domain), display_name=args.display_name)
    print(f"admin {admin.login} ({admin.role.value}) created")
    announce_password(generated, admin.login)
    return 0


def cmd_list(args: argparse.Namespace, services: Services) -> int:
    admins = services.admins.list()
    if args.json:
        print_json_lines_array(admins)
    else:
        print_rows((a.login, a.role.value, ",".join(a.domains) or "*", a.status.value) for a in admins)
    return 0


def cmd_set(args: argparse.Namespace, services: Services) -> int:
    admin = services.admins.update(args.login, domains=tuple(args.domain) if args.domain else None,
                                   display_name=args.display_name)
    print(f"admin {admin.login} updated")
    return 0


def cmd_status(args: argparse.Namespace, services: Services) -> int:
    admin = services.admins.update(args.login, status=args.status)
    print(f"admin {admin.login} is {admin.status.value}")
    return 0


def cmd_delete(args: argparse.Namespace, services: Services) -> int:
    services.admins.delete(args.login)
    print(f"admin {args.login} deleted")
    return 0
