"""`mailgothai account ...`"""

from __future__ import annotations

import argparse
import sys
from typing import Iterable

from mailgothai.cli.common import add_json, add_password_options, announce_password, password_input
from mailgothai.cli.output import print_json, print_json_lines_array, print_object, print_rows
from mailgothai.core.models import Account, Status
from mailgothai.core.quota import format_size
from mailgothai.services.registry import Services


def register(groups: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = groups.add_parser("account", help="mail accounts")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def person_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--given-name")
        p.add_argument("--surname")
        p.add_argument("--display-name")
        p.add_argument("--quota", help="e.g. 500M, 2G or bytes (default: the domain's)")
        p.add_argument("--aliases", help="further addresses, ';'-separated")
        p.add_argument("--forward", help="forward copies to these addresses, ';'-separated")

    add = commands.add_parser("add", help="create an account")
    add.add_argument("email")
    person_options(add)
    add.add_argument("--status", default="active", help="active (default) or disabled")
    add_password_options(add)
    add.set_defaults(handler=cmd_add)

    lst = commands.add_parser("list", help="list a domain's accounts")
    lst.add_argument("domain")
    lst.add_argument("--search", help="address or name prefix (Thai too)")
    add_json(lst)
    lst.set_defaults(handler=cmd_list)

    search = commands.add_parser("search", help="find accounts in every domain by address or name prefix")
    search.add_argument("text")
    search.add_argument("--limit", type=int, default=50)
    add_json(search)
    search.set_defaults(handler=cmd_search)

    show = commands.add_parser("show", help="show one account")
    show.add_argument("email")
    add_json(show)
    show.set_defaults(handler=cmd_show)

    set_ = commands.add_parser("set", help="change an account")
    set_.add_argument("email")
    person_options(set_)
    set_.set_defaults(handler=cmd_set)

    passwd = commands.add_parser("passwd", help="set an account's password")
    passwd.add_argument("email")
    add_password_options(passwd)
    passwd.set_defaults(handler=cmd_passwd)

    for name, status in (("suspend", Status.DISABLED), ("activate", Status.ACTIVE)):
        p = commands.add_parser(name, help=f"{name} an account")
        p.add_argument("email")
        p.set_defaults(handler=cmd_status, status=status)

    upgrade = commands.add_parser("upgrade-hash", help=(
        "after a login elsewhere: replace the account's hash from an older system with argon2id "
        "(the password on standard input; Dovecot's post-login script runs this)"))
    upgrade.add_argument("email")
    upgrade.set_defaults(handler=cmd_upgrade_hash)

    delete = commands.add_parser("delete", help="delete an account")
    delete.add_argument("email")
    delete.set_defaults(handler=cmd_delete)


def cmd_add(args: argparse.Namespace, services: Services) -> int:
    created = services.accounts.add(
        args.email, password_input(args), given_name=args.given_name or "", surname=args.surname or "",
        display_name=args.display_name or "", quota=args.quota, status=args.status,
        aliases=args.aliases or "", forwards=args.forward or "",
    )
    print(f"account {created.account.email} created, quota {format_size(created.account.quota)}")
    announce_password(created.generated_password, created.account.email)
    return 0


def cmd_list(args: argparse.Namespace, services: Services) -> int:
    _print_accounts(services.accounts.iter_domain(args.domain, args.search), args.json)
    return 0


def _print_accounts(accounts: Iterable[Account], as_json: bool) -> None:
    if as_json:
        print_json_lines_array(accounts)
    else:
        print_rows((a.email, a.status.value, format_size(a.quota), a.display_name) for a in accounts)


def cmd_search(args: argparse.Namespace, services: Services) -> int:
    _print_accounts(services.accounts.search(args.text, args.limit), args.json)
    return 0


def cmd_show(args: argparse.Namespace, services: Services) -> int:
    account = services.accounts.get(args.email)
    print_json(account) if args.json else print_object(account)
    return 0


def cmd_set(args: argparse.Namespace, services: Services) -> int:
    account = services.accounts.update(
        args.email, given_name=args.given_name, surname=args.surname, display_name=args.display_name,
        quota=args.quota, aliases=args.aliases, forwards=args.forward,
    )
    print(f"account {account.email} updated")
    return 0


def cmd_passwd(args: argparse.Namespace, services: Services) -> int:
    generated = services.accounts.set_password(args.email, password_input(args))
    print(f"password of {args.email} changed")
    announce_password(generated, args.email)
    return 0


def cmd_upgrade_hash(args: argparse.Namespace, services: Services) -> int:
    password = sys.stdin.read().removesuffix("\n")
    if services.accounts.upgrade_legacy_hash(args.email, password):
        print(f"password hash of {args.email} upgraded to argon2id")
    else:
        print(f"password hash of {args.email} left as it is (not from an older system, or not this password)")
    return 0


def cmd_status(args: argparse.Namespace, services: Services) -> int:
    account = services.accounts.set_status(args.email, args.status)
    print(f"account {account.email} is {account.status.value}")
    return 0


def cmd_delete(args: argparse.Namespace, services: Services) -> int:
    services.accounts.delete(args.email)
    print(f"account {args.email} deleted")
    return 0
