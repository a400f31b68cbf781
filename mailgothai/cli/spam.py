"""`mailgothai spam ...`: inbound protection settings (issue 18) — a domain's spam policy,
the operator's default policy and bounds for domain admins, the allow and block lists of
a domain or a user, and the last 24 hours' counts."""

from __future__ import annotations

import argparse

from mailgothai.cli.common import add_json
from mailgothai.cli.output import print_json, print_rows
from mailgothai.core.spam import PolicyBounds, SpamPolicy
from mailgothai.services.registry import Services
from mailgothai.services.spam_policy import DomainPolicy

POLICY_OPTIONS = (("junk_score", "--junk-score"), ("quarantine_score", "--quarantine-score"),
                  ("reject_score", "--reject-score"), ("quarantine_days", "--quarantine-days"),
                  ("greylisting", "--greylisting"))
BOUNDS_OPTIONS = (("lowest_score", "--lowest-score"), ("highest_score", "--highest-score"),
                  ("longest_quarantine_days", "--longest-quarantine-days"),
                  ("may_disable_greylisting", "--domains-may-disable-greylisting"))


def _policy_options(parser: argparse.ArgumentParser) -> None:
    for (name, option), what in zip(POLICY_OPTIONS[:3], ("filed into Junk", "quarantined", "rejected"), strict=True):
        parser.add_argument(option, dest=name, metavar="N|off",
                            help=f"rspamd score from which mail is {what} ('off': never)")
    parser.add_argument("--quarantine-days", dest="quarantine_days", metavar="N",
                        help="days a quarantined message is kept")
    parser.add_argument("--greylisting", dest="greylisting", action=argparse.BooleanOptionalAction, default=None,
                        help="greylist unknown senders")


def _changes(args: argparse.Namespace, options: tuple[tuple[str, str], ...]) -> dict[str, object]:
    return {name: getattr(args, name) for name, _ in options if getattr(args, name) is not None}


def register(groups: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = groups.add_parser("spam", help="inbound protection: spam policies, allow and block lists")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    policy = commands.add_parser("policy", help="a domain's spam policy")
    policies = policy.add_subparsers(dest="policy_command", metavar="COMMAND", required=True)
    show = policies.add_parser("show", help="the domain's policy (its own, or the operator's default)")
    show.add_argument("domain")
    add_json(show)
    show.set_defaults(handler=cmd_policy_show)
    put = policies.add_parser("set", help="change the fields given (the others stay)")
    put.add_argument("domain")
    _policy_options(put)
    add_json(put)
    put.set_defaults(handler=cmd_policy_set)
    reset = policies.add_parser("reset", help="the domain follows the operator's default again")
    reset.add_argument("domain")
    add_json(reset)
    reset.set_defaults(handler=cmd_policy_reset)

    defaults = commands.add_parser("defaults", help="the default policy and the bounds for domain admins")
    defaults_commands = defaults.add_subparsers(dest="defaults_command", metavar="COMMAND", required=True)
    dshow = defaults_commands.add_parser("show", help="the default policy and the bounds")
    add_json(dshow)
    dshow.set_defaults(handler=cmd_defaults_show)
    dset = defaults_commands.add_parser("set", help="change the fields given (the others stay)")
    _policy_options(dset)
    dset.add_argument("--lowest-score", dest="lowest_score", metavar="N", help="lowest score a domain admin may set")
    dset.add_argument("--highest-score", dest="highest_score", metavar="N",
                      help="highest score a domain admin may set")
    dset.add_argument("--longest-quarantine-days", dest="longest_quarantine_days", metavar="N",
                      help="longest quarantine a domain admin may set")
    dset.add_argument("--domains-may-disable-greylisting", dest="may_disable_greylisting",
                      action=argparse.BooleanOptionalAction, default=None,
                      help="whether domain admins may turn greylisting off")
    add_json(dset)
    dset.set_defaults(handler=cmd_defaults_set)

    for kind in ("allow", "block"):
        group = commands.add_parser(kind, help=f"the {kind} list of a domain or a user")
        actions = group.add_subparsers(dest="list_command", metavar="COMMAND", required=True)
        for action, text in (("add", "add a sender"), ("remove", "remove a sender")):
            command = actions.add_parser(action, help=f"{text} (an address, or a domain with its subdomains)")
            command.add_argument("owner", help="a domain (its list) or an account's address (its own list)")
            command.add_argument("pattern", help="somebody@example.com or example.com")
            command.set_defaults(handler=cmd_rule_add if action == "add" else cmd_rule_remove, kind=kind)

    lst = commands.add_parser("list", help="the allow and block lists of a domain or a user")
    lst.add_argument("owner")
    add_json(lst)
    lst.set_defaults(handler=cmd_list)

    counts = commands.add_parser("counts", help="each domain's protection counts of the last 24 hours")
    add_json(counts)
    counts.set_defaults(handler=cmd_counts)


def _score(value: float | None) -> str:
    return "off" if value is None else f"{value:g}"


def _print_policy(policy: SpamPolicy) -> None:
    print(f"  junk score        {_score(policy.junk)}")
    print(f"  quarantine score  {_score(policy.quarantine)}")
    print(f"  reject score      {_score(policy.reject)}")
    print(f"  greylisting       {'on' if policy.greylisting else 'off'}")
    print(f"  quarantine days   {policy.quarantine_days}")


def _print_bounds(bounds: PolicyBounds) -> None:
    print(f"  domain admins may set scores from {bounds.lowest_score:g} to {bounds.highest_score:g}, "
          f"quarantine up to {bounds.longest_quarantine_days} days, "
          f"greylisting off: {'yes' if bounds.may_disable_greylisting else 'no'}")


def _show(shown: DomainPolicy, as_json: bool) -> int:
    if as_json:
        print_json(shown.as_dict())
        return 0
    if shown.own and shown.changed:
        print(f"{shown.domain}: its own policy (changed {shown.changed.at:%Y-%m-%d %H:%M} UTC by {shown.changed.by})")
    else:
        print(f"{shown.domain}: the operator's default policy")
    _print_policy(shown.policy)
    return 0


def cmd_policy_show(args: argparse.Namespace, services: Services) -> int:
    return _show(services.spam.show(args.domain), args.json)


def cmd_policy_set(args: argparse.Namespace, services: Services) -> int:
    return _show(services.spam.set(args.domain, _changes(args, POLICY_OPTIONS)), args.json)


def cmd_policy_reset(args: argparse.Namespace, services: Services) -> int:
    return _show(services.spam.reset(args.domain), args.json)


def _defaults(args: argparse.Namespace, services: Services, changes: dict[str, object] | None) -> int:
    defaults = services.spam.set_defaults(changes) if changes is not None else services.spam.defaults()
    if args.json:
        print_json(defaults.as_dict())
        return 0
    print("the default policy (domains without their own)")
    _print_policy(defaults.policy)
    _print_bounds(defaults.bounds)
    return 0


def cmd_defaults_show(args: argparse.Namespace, services: Services) -> int:
    return _defaults(args, services, None)


def cmd_defaults_set(args: argparse.Namespace, services: Services) -> int:
    return _defaults(args, services, _changes(args, POLICY_OPTIONS + BOUNDS_OPTIONS))


def cmd_rule_add(args: argparse.Namespace, services: Services) -> int:
    listed = services.spam.add_rule(args.owner, args.kind, args.pattern)
    print(f"{listed.rule.pattern} added to the {listed.rule.kind.value} list of {listed.rule.owner}")
    return 0


def cmd_rule_remove(args: argparse.Namespace, services: Services) -> int:
    services.spam.remove_rule(args.owner, args.kind, args.pattern)
    print(f"{args.pattern} removed from the {args.kind} list of {args.owner}")
    return 0


def cmd_list(args: argparse.Namespace, services: Services) -> int:
    rules = services.spam.rules(args.owner)
    if args.json:
        print_json([r.as_dict() for r in rules])
        return 0
    print_rows([(r.rule.kind.value, r.rule.pattern, f"{r.created_at:%Y-%m-%d %H:%M}", r.created_by) for r in rules])
    return 0


def cmd_counts(args: argparse.Namespace, services: Services) -> int:
    counts = services.spam.counts()
    if args.json:
        print_json([c.as_dict() for c in counts])
        return 0
    print_rows([("domain", "rejected", "quarantined", "junk", "greylisted", "viruses")]
               + [(c.domain, str(c.rejected), str(c.quarantined), str(c.junk), str(c.greylisted), str(c.viruses))
                  for c in counts])
    return 0
