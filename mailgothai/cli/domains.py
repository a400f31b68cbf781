"""`mailgothai domain ...`"""

from __future__ import annotations

import argparse

from mailgothai.cli.common import add_json
from mailgothai.cli.output import print_json, print_json_lines_array, print_object, print_rows
from mailgothai.core.models import Status
from mailgothai.core.quota import format_size
from mailgothai.services.registry import Services

LIMIT_OPTIONS = ("max_accounts", "quota_pool", "default_quota", "max_message_size", "hourly_send_limit",
                 "retention_days")


def register(groups: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = groups.add_parser("domain", help="hosted domains")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def limit_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--max-accounts", help="most accounts (0 = no limit)")
        p.add_argument("--quota-pool", help="total of all account quotas, e.g. 500G (0 = no limit)")
        p.add_argument("--default-quota", help="quota of a new account, e.g. 2G")
        p.add_argument("--max-message-size", help="largest message, e.g. 25M")
        p.add_argument("--hourly-send-limit", help="recipients per account per hour")
        p.add_argument("--retention-days", help="days a deleted account's mailbox is kept, 0-3650 (default 30)")
        p.add_argument("--description")

    add = commands.add_parser("add", help="create a domain")
    add.add_argument("domain")
    limit_options(add)
    add.set_defaults(handler=cmd_add)

    lst = commands.add_parser("list", help="list domains")
    lst.add_argument("--search", default="", help="domain name prefix")
    add_json(lst)
    lst.set_defaults(handler=cmd_list)

    show = commands.add_parser("show", help="show one domain")
    show.add_argument("domain")
    add_json(show)
    show.set_defaults(handler=cmd_show)

    set_ = commands.add_parser("set", help="change a domain's limits, description or catch-all")
    set_.add_argument("domain")
    limit_options(set_)
    catch_all = set_.add_mutually_exclusive_group()
    catch_all.add_argument("--catch-all", metavar="ADDRESS", help=(
        "deliver mail for the domain's unknown addresses to ADDRESS (an existing account or alias of a "
        "domain hosted here)"))
    catch_all.add_argument("--no-catch-all", action="store_true", help="unknown addresses are refused again")
    set_.set_defaults(handler=cmd_set)

    alias = commands.add_parser("alias", help="alias domains: another name of a hosted domain")
    alias_commands = alias.add_subparsers(dest="alias_command", metavar="COMMAND", required=True)
    alias_add = alias_commands.add_parser("add", help="make every address of EXISTING valid at NEW")
    alias_add.add_argument("new", metavar="NEW")
    alias_add.add_argument("--to", required=True, metavar="EXISTING", help="the hosted domain NEW stands for")
    alias_add.set_defaults(handler=cmd_alias_add)
    alias_list = alias_commands.add_parser("list", help="list alias domains (of one domain)")
    alias_list.add_argument("existing", metavar="EXISTING", nargs="?")
    add_json(alias_list)
    alias_list.set_defaults(handler=cmd_alias_list)
    alias_remove = alias_commands.add_parser("remove", help="remove an alias domain")
    alias_remove.add_argument("new", metavar="NEW")
    alias_remove.set_defaults(handler=cmd_alias_remove)

    for name, status in (("suspend", Status.DISABLED), ("activate", Status.ACTIVE)):
        can = "cannot" if name == "suspend" else "can"
        p = commands.add_parser(name, help=f"{name} a domain (its users {can} log in)")
        p.add_argument("domain")
        p.set_defaults(handler=cmd_status, status=status)

    recount = commands.add_parser("recount", help="recompute a domain's account count and allocated quota")
    recount.add_argument("domain")
    recount.set_defaults(handler=cmd_recount)

    delete = commands.add_parser("delete", help="delete a domain")
    delete.add_argument("domain")
    delete.add_argument("--force", action="store_true", help=(
        "also delete its accounts (each kept for the domain's retention period) and its aliases"))
    delete.set_defaults(handler=cmd_delete)

    hold = commands.add_parser("hold", help="put a whole domain on legal hold: none of its mail is purged")
    hold.add_argument("domain")
    hold.add_argument("--reason", required=True, help="why: a case or order number, who asked")
    hold.set_defaults(handler=cmd_hold)
    release = commands.add_parser("release", help="lift a domain's legal hold")
    release.add_argument("domain")
    release.set_defaults(handler=cmd_release)


def _limits(args: argparse.Namespace) -> dict[str, str | None]:
    return {name: getattr(args, name) for name in LIMIT_OPTIONS}


def cmd_add(args: argparse.Namespace, services: Services) -> int:
    domain = services.domains.add(args.domain, description=args.description or "", **_limits(args))
    print(f"domain {domain.name} created")
    kept = services.lifecycle.deleted(domain.name)
    if kept:
        print(f"note: {len(kept)} deleted accounts of an earlier {domain.name} are still kept and now listed "
              f"under it (mailgothai account deleted list {domain.name}); its admins may restore them")
    return 0


def cmd_list(args: argparse.Namespace, services: Services) -> int:
    domains = services.domains.list(args.search)
    if args.json:
        print_json_lines_array(domains)
    else:
        print_rows((d.name, d.status.value, d.account_count, format_size(d.quota_allocated), d.description)
                   for d in domains)
    return 0


def cmd_show(args: argparse.Namespace, services: Services) -> int:
    domain = services.domains.get(args.domain)
    print_json(domain) if args.json else print_object(domain)
    return 0


def cmd_set(args: argparse.Namespace, services: Services) -> int:
    limits = _limits(args)
    catch_all = "" if args.no_catch_all else args.catch_all
    if catch_all:  # checked first: a refused catch-all leaves the limits unchanged too
        services.domain_routing.check_catch_all(args.domain, catch_all)
    if catch_all is None or args.description is not None or any(v is not None for v in limits.values()):
        services.domains.set(args.domain, description=args.description, **limits)
    if catch_all is not None:
        services.domain_routing.set_catch_all(args.domain, catch_all)
    domain = services.domains.get(args.domain)
    print(f"domain {domain.name} updated" + (f" (catch-all {domain.catch_all or 'off'})"
                                             if catch_all is not None else ""))
    return 0


def cmd_alias_add(args: argparse.Namespace, services: Services) -> int:
    alias = services.domain_routing.add_alias_domain(args.new, args.to)
    print(f"alias domain {alias.name} added: its addresses deliver to those of {alias.target}")
    return 0


def cmd_alias_list(args: argparse.Namespace, services: Services) -> int:
    aliases = services.domain_routing.alias_domains(args.existing)
    if args.json:
        print_json_lines_array(iter(aliases))
    else:
        print_rows((a.name, a.target) for a in aliases)
    return 0


def cmd_alias_remove(args: argparse.Namespace, services: Services) -> int:
    alias = services.domain_routing.remove_alias_domain(args.new)
    print(f"alias domain {alias.name} (of {alias.target}) removed")
    return 0


def cmd_status(args: argparse.Namespace, services: Services) -> int:
    domain = services.domains.set_status(args.domain, args.status)
    print(f"domain {domain.name} is {domain.status.value}")
    return 0


def cmd_recount(args: argparse.Namespace, services: Services) -> int:
    domain = services.domains.recount(args.domain)
    print(f"domain {domain.name}: {domain.account_count} accounts, {format_size(domain.quota_allocated)} allocated")
    return 0


def cmd_delete(args: argparse.Namespace, services: Services) -> int:
    services.domains.delete(args.domain, force=args.force)
    print(f"domain {args.domain} deleted")
    return 0


def cmd_hold(args: argparse.Namespace, services: Services) -> int:
    state = services.holds.hold_domain(args.domain, args.reason)
    print(f"domain {state.name} is on legal hold: {state.reason}")
    return 0


def cmd_release(args: argparse.Namespace, services: Services) -> int:
    state = services.holds.release_domain(args.domain)
    print(f"domain {state.name} is no longer on legal hold")
    return 0
