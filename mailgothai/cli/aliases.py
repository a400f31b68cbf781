"""`mailgothai alias ...`"""

from __future__ import annotations

import argparse

from mailgothai.cli.common import add_json
from mailgothai.cli.output import print_json_lines_array, print_rows
from mailgothai.services.registry import Services


def register(groups: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = groups.add_parser("alias", help="aliases (an address delivering to others)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    add = commands.add_parser("add", help="create an alias")
    add.add_argument("address")
    add.add_argument("--to", required=True, help="target addresses, ',' or ';'-separated")
    add.set_defaults(handler=cmd_add)

    lst = commands.add_parser("list", help="list a domain's aliases")
    lst.add_argument("domain")
    add_json(lst)
    lst.set_defaults(handler=cmd_list)

    delete = commands.add_parser("delete", help="delete an alias")
    delete.add_argument("address")
    delete.set_defaults(handler=cmd_delete)


def cmd_add(args: argparse.Namespace, services: Services) -> int:
    alias = services.aliases.add(args.address, args.to)
    print(f"alias {alias.address} -> {', '.join(alias.members)} created")
    return 0


def cmd_list(args: argparse.Namespace, services: Services) -> int:
    aliases = services.aliases.iter_domain(args.domain)
    if args.json:
        print_json_lines_array(aliases)
    else:
        print_rows((a.address, ", ".join(a.members)) for a in aliases)
    return 0


def cmd_delete(args: argparse.Namespace, services: Services) -> int:
    services.aliases.delete(args.address)
    print(f"alias {args.address} deleted")
    return 0
