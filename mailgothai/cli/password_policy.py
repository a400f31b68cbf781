"""`mailgothai password-policy ...` (issue 20): the operator's floor for every domain's
passwords, and a domain's own policy, which may only be stricter.

    mailgothai password-policy show [--domain D]
    mailgothai password-policy set [--domain D] [--min-length N] [--require lower,upper,digit,other]
                                   [--min-classes N] [--[no-]forbid-personal] [--min-strength 0-4]
    mailgothai password-policy reset --domain D

Without --domain: the floor (set by the operator only)."""

from __future__ import annotations

import argparse

from mailgothai.cli.common import add_json
from mailgothai.cli.output import print_json
from mailgothai.core.password_policy import CLASS_ORDER, PasswordPolicy
from mailgothai.services.password_policy import DomainPasswordPolicy, Floor, PasswordPolicyService
from mailgothai.services.registry import Services

OPTIONS = (("min_length", "--min-length"), ("required_classes", "--require"), ("min_classes", "--min-classes"),
           ("forbid_personal", "--forbid-personal"), ("min_strength", "--min-strength"))


def register(groups: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = groups.add_parser("password-policy", help="what a mail user's new password must be")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    show = commands.add_parser("show", help="a domain's policy, or the operator's floor")
    show.add_argument("--domain", help="the domain (without: the floor under every domain)")
    add_json(show)
    show.set_defaults(handler=cmd_show)
    put = commands.add_parser("set", help="change the fields given (the others stay)")
    put.add_argument("--domain", help="the domain (without: the floor; the operator only)")
    put.add_argument("--min-length", dest="min_length", metavar="N", help="at least N characters")
    put.add_argument("--require", dest="required_classes", metavar="CLASSES",
                     help="classes that must appear, comma-separated: " + ",".join(CLASS_ORDER) + " ('' for none)")
    put.add_argument("--min-classes", dest="min_classes", metavar="N", help="at least N of the four classes")
    put.add_argument("--forbid-personal", dest="forbid_personal", action=argparse.BooleanOptionalAction,
                     default=None, help="refuse passwords containing the address, local part or names")
    put.add_argument("--min-strength", dest="min_strength", metavar="0-4",
                     help="lowest zxcvbn score (0: no estimate)")
    add_json(put)
    put.set_defaults(handler=cmd_set)
    reset = commands.add_parser("reset", help="the domain follows the floor again")
    reset.add_argument("--domain", required=True)
    add_json(reset)
    reset.set_defaults(handler=cmd_reset)


def _service(services: Services) -> PasswordPolicyService:
    return PasswordPolicyService(services.backends, services.actor)


def _print_policy(policy: PasswordPolicy) -> None:
    required = ", ".join(c.value for c in CLASS_ORDER if c in policy.required) or "none"
    print(f"  minimum length        {policy.min_length}")
    print(f"  required classes      {required}")
    print(f"  classes at least      {policy.classes_needed} of 4")
    print(f"  no names or address   {'yes' if policy.forbid_personal else 'no'}")
    print(f"  zxcvbn score at least {policy.min_strength} of 4")


def _show_domain(shown: DomainPasswordPolicy, as_json: bool) -> int:
    if as_json:
        print_json(shown.as_dict())
        return 0
    if shown.own and shown.changed:
        print(f"{shown.domain}: its own policy (changed {shown.changed.at:%Y-%m-%d %H:%M} UTC by {shown.changed.by}),"
              " at least as strict as the floor")
    else:
        print(f"{shown.domain}: the operator's floor")
    _print_policy(shown.policy)
    return 0


def _show_floor(floor: Floor, as_json: bool) -> int:
    if as_json:
        print_json(floor.as_dict())
        return 0
    changed = f" (changed {floor.changed.at:%Y-%m-%d %H:%M} UTC by {floor.changed.by})" if floor.changed else \
        " (built in)"
    print(f"the operator's floor, under every domain's policy{changed}")
    _print_policy(floor.policy)
    return 0


def _changes(args: argparse.Namespace) -> dict[str, object]:
    return {name: getattr(args, name) for name, _ in OPTIONS if getattr(args, name) is not None}


def cmd_show(args: argparse.Namespace, services: Services) -> int:
    if args.domain:
        return _show_domain(_service(services).show(args.domain), args.json)
    return _show_floor(_service(services).floor(), args.json)


def cmd_set(args: argparse.Namespace, services: Services) -> int:
    changes = _changes(args)
    if not changes:  # nothing asked: nothing changed, nothing audited
        return cmd_show(args, services)
    if args.domain:
        return _show_domain(_service(services).set(args.domain, changes), args.json)
    return _show_floor(_service(services).set_floor(changes), args.json)


def cmd_reset(args: argparse.Namespace, services: Services) -> int:
    return _show_domain(_service(services).reset(args.domain), args.json)
