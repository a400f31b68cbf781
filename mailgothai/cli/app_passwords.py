"""`mailgothai app-password ...` and `mailgothai second-factor reset` (issue 20): what an
operator (or, through the API's and the web's same service, a domain's admin) may do about
a mail user's app passwords and second factor. Users make app passwords and turn TOTP on
themselves, in the web self-service (/me/security): never here.

    mailgothai app-password list EMAIL [--json]
    mailgothai app-password revoke EMAIL ID
    mailgothai second-factor reset EMAIL      (a lost phone: the password opens everything again)
"""

from __future__ import annotations

import argparse

from mailgothai.cli.common import add_json
from mailgothai.cli.output import print_json
from mailgothai.services.registry import Services
from mailgothai.services.second_factor import AppPasswordAdmin, AppPasswordView, has_second_factor


def register(groups: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = groups.add_parser("app-password", help="a mail user's app passwords (list, revoke)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    listing = commands.add_parser("list", help="the account's app passwords, with their last use")
    listing.add_argument("email")
    add_json(listing)
    listing.set_defaults(handler=cmd_list)
    revoke = commands.add_parser("revoke", help="revoke one: IMAP and SMTP refuse it at once")
    revoke.add_argument("email")
    revoke.add_argument("id", help="its id (app-password list)")
    revoke.set_defaults(handler=cmd_revoke)
    second = groups.add_parser("second-factor", help="a mail user's second factor for the web")
    steps = second.add_subparsers(dest="command", metavar="COMMAND", required=True)
    reset = steps.add_parser("reset", help="turn it off (a lost phone): the password opens web, IMAP and SMTP again")
    reset.add_argument("email")
    reset.set_defaults(handler=cmd_reset)


def _service(services: Services) -> AppPasswordAdmin:
    return AppPasswordAdmin(services.backends, services.actor)


def _as_dict(view: AppPasswordView) -> dict[str, object]:
    return {"id": view.app.id, "name": view.app.name, "created": view.app.created,
            "last_used": view.last_used, "last_protocol": view.last_protocol or None,
            "last_remote": view.last_remote or None}


def cmd_list(args: argparse.Namespace, services: Services) -> int:
    service = _service(services)
    views = service.list(args.email)
    if args.json:
        print_json({"email": args.email.lower(), "second_factor": has_second_factor(service.b, args.email.lower()),
                    "app_passwords": [_as_dict(v) for v in views]})
        return 0
    for view in views:
        last = (f"{view.last_used:%Y-%m-%d %H:%M} UTC {view.last_protocol} from {view.last_remote}"
                if view.last_used else "never used")
        print(f"{view.app.id}  {view.app.created:%Y-%m-%d %H:%M} UTC  {last}  {view.app.name}")
    if not views:
        print("no app passwords")
    return 0


def cmd_revoke(args: argparse.Namespace, services: Services) -> int:
    app = _service(services).revoke(args.email, args.id)
    print(f"revoked {app.id} ({app.name}) of {args.email.lower()}")
    return 0


def cmd_reset(args: argparse.Namespace, services: Services) -> int:
    if _service(services).reset_second_factor(args.email):
        print(f"the second factor of {args.email.lower()} is off")
    else:
        print(f"{args.email.lower()} has no second factor")
    return 0
