"""`mailgothai account ...`"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from datetime import datetime

from mailgothai.cli.common import add_json, add_password_options, announce_password, password_input
from mailgothai.cli.output import plain, print_json, print_json_lines_array, print_object, print_rows
from mailgothai.core.last_login import LastLogin
from mailgothai.core.models import Account, RetainedAccount, Status
from mailgothai.core.quota import format_size
from mailgothai.services.registry import Services


def register(groups: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
    lst.add_argument("--inactive-days", type=str, metavar="N", help=(
        "only accounts with no login (IMAP, SMTP AUTH, web) in N days, never-logged-in first "
        "(shown as 'never'), then the oldest login first"))
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

    passwd = commands.add_parser("passwd", help="set an account's password (an admin's reset: its app passwords "
                                 "and recovery address are removed and its open sessions end)")
    passwd.add_argument("email")
    add_password_options(passwd)
    passwd.add_argument("--no-must-change", dest="must_change", action="store_false",
                        help="the user need not change it at the next login (by default an admin's new password "
                             "must be changed before IMAP and SMTP let the user in)")
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

    delete = commands.add_parser("delete", help=(
        "delete an account: login and delivery end now, the address is free, the mailbox is kept for the "
        "domain's retention period (restore or hand it over meanwhile)"))
    delete.add_argument("email")
    delete.set_defaults(handler=cmd_delete)

    deleted = commands.add_parser("deleted", help="deleted accounts kept for their domain's retention period")
    deleted_commands = deleted.add_subparsers(dest="deleted_command", metavar="COMMAND", required=True)
    deleted_list = deleted_commands.add_parser("list", help="a domain's deleted accounts, newest first")
    deleted_list.add_argument("domain")
    add_json(deleted_list)
    deleted_list.set_defaults(handler=cmd_deleted_list)
    deleted_show = deleted_commands.add_parser("show", help="one deleted account")
    deleted_show.add_argument("account", metavar="ADDRESS_OR_ID")
    add_json(deleted_show)
    deleted_show.set_defaults(handler=cmd_deleted_show)

    restore = commands.add_parser("restore", help="bring a deleted account and its mail back")
    restore.add_argument("account", metavar="ADDRESS_OR_ID", help="its address, or its mailbox id if deleted twice")
    restore.add_argument("--as", dest="as_address", metavar="NEW_ADDRESS",
                         help="restore it under another free address of its domain")
    restore.set_defaults(handler=cmd_restore)

    handover = commands.add_parser("handover", help=(
        "copy a deleted account's mail into a folder Archive/<its address> of a successor's mailbox"))
    handover.add_argument("account", metavar="ADDRESS_OR_ID")
    handover.add_argument("--to", required=True, metavar="SUCCESSOR", help="the account that receives the mail")
    handover.set_defaults(handler=cmd_handover)

    rename = commands.add_parser("rename", help="give an account a new address; mailbox and password stay")
    rename.add_argument("old", metavar="OLD")
    rename.add_argument("new", metavar="NEW")
    rename.add_argument("--keep-old-as-alias", action="store_true", help="mail to OLD still reaches the account")
    rename.set_defaults(handler=cmd_rename)

    hold = commands.add_parser("hold", help="put an account (live or deleted) on legal hold: never purged (operators)")
    hold.add_argument("account", metavar="ADDRESS_OR_ID")
    hold.add_argument("--reason", required=True, help="why: a case or order number, who asked")
    hold.set_defaults(handler=cmd_hold)
    release = commands.add_parser("release", help="lift an account's legal hold (operators)")
    release.add_argument("account", metavar="ADDRESS_OR_ID")
    release.set_defaults(handler=cmd_release)


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
    if args.inactive_days is not None:
        return _print_inactive(args, services)
    _print_accounts(services.accounts.iter_domain(args.domain, args.search), args.json)
    return 0


def _print_inactive(args: argparse.Namespace, services: Services) -> int:
    _, found = services.last_login.inactive(args.domain, args.inactive_days)
    if args.json:
        print_json_lines_array({"address": i.address, "mailbox_id": i.mailbox_id, "last_login": last_login_json(i.last)}
                               for i in found)
    else:
        print_rows((i.address, *(_login_cells(i.last))) for i in found)
    return 0


def _login_cells(last: LastLogin | None) -> tuple[str, ...]:
    return ("never", "", "") if last is None else (_day(last.at), last.protocol, last.source)


def last_login_json(last: LastLogin | None) -> dict[str, str] | None:
    """An account's last login as the CLI and the API show it (None: never logged in)."""
    if last is None:
        return None
    return {"at": last.at.isoformat(), "protocol": last.protocol, "source": last.source}


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
    last = services.last_login.of(account)
    if args.json:
        print_json({**plain(account), "last_login": last_login_json(last)})
    else:
        print_object(account)
        print("last_login: " + ("never" if last is None else
                                f"{_day(last.at)} {last.protocol} from {last.source}"))
    return 0


def cmd_set(args: argparse.Namespace, services: Services) -> int:
    account = services.accounts.update(
        args.email, given_name=args.given_name, surname=args.surname, display_name=args.display_name,
        quota=args.quota, aliases=args.aliases, forwards=args.forward,
    )
    print(f"account {account.email} updated")
    return 0


def cmd_passwd(args: argparse.Namespace, services: Services) -> int:
    generated = services.accounts.set_password(args.email, password_input(args), must_change=args.must_change)
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
    kept = services.accounts.delete(args.email)
    print(f"account {kept.email} deleted; its mailbox {kept.mailbox_id} is kept until {_day(kept.purge_after)}")
    print(f"restore with: mailgothai account restore {kept.mailbox_id}")
    return 0


def _day(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _retained_row(r: RetainedAccount) -> tuple[str, ...]:
    return (r.email, r.mailbox_id, _day(r.deleted_at), r.deleted_by,
            format_size(r.size) if r.size is not None else "-", _day(r.purge_after),
            f"hold: {r.hold_reason}" if r.hold_reason else ("purging" if r.purging else ""))


def cmd_deleted_list(args: argparse.Namespace, services: Services) -> int:
    kept = services.lifecycle.deleted(args.domain)
    if args.json:
        print_json_lines_array(retained_json(r) for r in kept)
    else:
        print_rows(_retained_row(r) for r in kept)
    return 0


def cmd_deleted_show(args: argparse.Namespace, services: Services) -> int:
    kept = services.lifecycle.get_deleted(args.account)
    print_json(retained_json(kept)) if args.json else print_object(retained_json(kept))
    return 0


def retained_json(r: RetainedAccount) -> dict[str, object]:
    return {"address": r.email, "mailbox_id": r.mailbox_id, "domain": r.domain,
            "deleted_at": r.deleted_at.isoformat(), "deleted_by": r.deleted_by, "size": r.size,
            "purge_after": r.purge_after.isoformat(), "hold_reason": r.hold_reason, "purging": r.purging,
            "quota": r.account.quota, "display_name": r.account.display_name, "aliases": list(r.account.aliases)}


def cmd_restore(args: argparse.Namespace, services: Services) -> int:
    done = services.lifecycle.restore(args.account, args.as_address)
    print(f"account {done.account.email} restored with its mailbox {done.account.mailbox_id}")
    if done.dropped_aliases:
        print(f"aliases taken by others meanwhile, not restored: {', '.join(done.dropped_aliases)}")
    return 0


def cmd_handover(args: argparse.Namespace, services: Services) -> int:
    done = services.lifecycle.handover(args.account, args.to)
    print(f"{done.messages} messages of {done.retained.email} copied to {done.successor}, folder {done.folder}")
    return 0


def cmd_rename(args: argparse.Namespace, services: Services) -> int:
    account = services.lifecycle.rename(args.old, args.new, keep_old_as_alias=args.keep_old_as_alias)
    kept = " (the old address stays as an alias)" if args.keep_old_as_alias else ""
    print(f"account {args.old} is now {account.email}{kept}")
    return 0


def cmd_hold(args: argparse.Namespace, services: Services) -> int:
    state = services.holds.hold_account(args.account, args.reason)
    print(f"{state.kind} {state.name} ({state.mailbox_id}) is on legal hold: {state.reason}")
    return 0


def cmd_release(args: argparse.Namespace, services: Services) -> int:
    state = services.holds.release_account(args.account)
    print(f"{state.kind} {state.name} ({state.mailbox_id}) is no longer on legal hold")
    return 0
