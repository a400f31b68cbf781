"""`mailgothai quarantine list | show | release | delete | learn`: messages the relay kept
instead of delivering (issue 18), through the same service as the web and the API."""

from __future__ import annotations

import argparse
from datetime import datetime

from mailgothai.cli.common import add_json
from mailgothai.cli.output import print_json, print_rows
from mailgothai.core.quarantine import Held
from mailgothai.services.registry import Services


def register(groups: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = groups.add_parser("quarantine", help="messages kept instead of delivered (spam over the domain's score)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    lst = commands.add_parser("list", help="quarantined messages, newest first")
    which = lst.add_mutually_exclusive_group()
    which.add_argument("domain", nargs="?", help="one domain's (default: every domain)")
    which.add_argument("--recipient", metavar="ADDRESS", help="one recipient's")
    lst.add_argument("--limit", type=int, default=100, help="at most this many (default 100, at most 500)")
    add_json(lst)
    lst.set_defaults(handler=cmd_list)

    show = commands.add_parser("show", help="one message: its recipients, headers and text (no HTML run)")
    show.add_argument("id")
    add_json(show)
    show.set_defaults(handler=cmd_show)

    release = commands.add_parser("release", help="deliver it (once) to its recipients, or one of them")
    release.add_argument("id")
    release.add_argument("--recipient", metavar="ADDRESS", help="only this recipient")
    release.set_defaults(handler=cmd_release)

    delete = commands.add_parser("delete", help="never deliver it (to its recipients, or one of them)")
    delete.add_argument("id")
    delete.add_argument("--recipient", metavar="ADDRESS", help="only this recipient")
    delete.set_defaults(handler=cmd_delete)

    learn = commands.add_parser("learn", help="teach rspamd this message as spam or as ham")
    learn.add_argument("id")
    kind = learn.add_mutually_exclusive_group(required=True)
    kind.add_argument("--spam", action="store_true")
    kind.add_argument("--ham", action="store_true")
    learn.set_defaults(handler=cmd_learn)


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _states(held: Held) -> str:
    return ", ".join(f"{r.address} {r.state.value}" for r in held.recipients)


def cmd_list(args: argparse.Namespace, services: Services) -> int:
    found = services.quarantine.listing(args.domain, recipient=args.recipient, limit=args.limit)
    if args.json:
        print_json([h.as_dict() for h in found])
        return 0
    print_rows([(h.id, _when(h.received_at), f"{h.score:.1f}", h.sender or "<>", h.subject, _states(h))
                for h in found])
    return 0


def cmd_show(args: argparse.Namespace, services: Services) -> int:
    shown = services.quarantine.show(args.id)
    held = shown.held
    if args.json:
        print_json({**held.as_dict(), "preview": None if shown.preview is None else {
            "headers": [list(h) for h in shown.preview.headers], "text": shown.preview.text,
            "attachments": list(shown.preview.attachments)}})
        return 0
    print(f"id:        {held.id} (kept by {held.node})")
    print(f"from:      {held.sender or '<>'}")
    print(f"subject:   {held.subject}")
    print(f"score:     {held.score:.2f}")
    print(f"symbols:   {', '.join(f'{k} ({v:g})' for k, v in sorted(held.symbols.items()))}")
    print(f"received:  {_when(held.received_at)}; expires {_when(held.expires_at)}")
    print(f"to:        {_states(held)}")
    if shown.preview is None:
        print("(the message itself is not on this machine, or no recipient holds it any more)")
        return 0
    print()
    for name, value in shown.preview.headers:
        print(f"{name}: {value}")
    if shown.preview.attachments:
        print(f"attachments: {', '.join(shown.preview.attachments)}")
    print()
    print(shown.preview.text)
    return 0


def cmd_release(args: argparse.Namespace, services: Services) -> int:
    released = services.quarantine.release(args.id, args.recipient)
    print(f"released to {', '.join(released)}" if released else "nothing released: already released or deleted")
    return 0


def cmd_delete(args: argparse.Namespace, services: Services) -> int:
    deleted = services.quarantine.delete(args.id, args.recipient)
    print(f"deleted for {', '.join(deleted)}" if deleted else "nothing deleted: already released or deleted")
    return 0


def cmd_learn(args: argparse.Namespace, services: Services) -> int:
    services.quarantine.learn(args.id, spam=args.spam)
    print(f"rspamd learned {args.id} as {'spam' if args.spam else 'ham'}")
    return 0
