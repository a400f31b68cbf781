"""`mailgothai shared ...`: shared role mailboxes (saraban@) and their members."""

from __future__ import annotations

import argparse

from mailgothai.cli.common import add_json
from mailgothai.cli.output import print_json, print_rows
from mailgothai.services.registry import Services


def register(groups: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = groups.add_parser("shared", help="shared role mailboxes (saraban@) read by several staff")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    add = commands.add_parser("add", help="create a shared mailbox")
    add.add_argument("address")
    add.add_argument("--name", default="", help="its name shown to people (Thai allowed)")
    add.add_argument("--quota", default=None, help="e.g. 2G (default: the domain's default quota)")
    add.set_defaults(handler=cmd_add)

    remove = commands.add_parser("remove", help="remove an empty shared mailbox (its members lose it)")
    remove.add_argument("address")
    remove.set_defaults(handler=cmd_remove)

    lst = commands.add_parser("list", help="a domain's shared mailboxes and their members")
    lst.add_argument("domain")
    add_json(lst)
    lst.set_defaults(handler=cmd_list)

    member = commands.add_parser("member", help="members of a shared mailbox")
    members = member.add_subparsers(dest="member_command", metavar="COMMAND", required=True)
    madd = members.add_parser("add", help="make an account of the domain a member (or change its rights)")
    madd.add_argument("address")
    madd.add_argument("member")
    madd.add_argument("--rights", default="read", help="read, write, send-as; ','-separated (default read)")
    madd.set_defaults(handler=cmd_member_add)
    mremove = members.add_parser("remove", help="remove a member")
    mremove.add_argument("address")
    mremove.add_argument("member")
    mremove.set_defaults(handler=cmd_member_remove)


def cmd_add(args: argparse.Namespace, services: Services) -> int:
    shared = services.shared.add(args.address, name=args.name, quota=args.quota)
    print(f"shared mailbox {shared.address} created")
    return 0


def cmd_remove(args: argparse.Namespace, services: Services) -> int:
    services.shared.remove(args.address)
    print(f"shared mailbox {args.address} removed")
    return 0


def cmd_list(args: argparse.Namespace, services: Services) -> int:
    listings = services.shared.for_domain(args.domain)
    if args.json:
        print_json([listing.as_dict() for listing in listings])
        return 0
    rows: list[tuple[str, str, str]] = []
    for listing in listings:
        rows.append((listing.shared.address, listing.shared.name, ""))
        rows.extend(("", m.email, m.rights_text + ("" if m.active else " (suspended)")) for m in listing.members)
    print_rows(rows)
    return 0


def cmd_member_add(args: argparse.Namespace, services: Services) -> int:
    member = services.shared.add_member(args.address, args.member, args.rights)
    print(f"{member.email} is a member of {args.address.lower()} ({member.rights_text})")
    return 0


def cmd_member_remove(args: argparse.Namespace, services: Services) -> int:
    services.shared.remove_member(args.address, args.member)
    print(f"{args.member} removed from {args.address}")
    return 0
