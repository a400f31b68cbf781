"""`mailgothai vacation set | show | off`: an account's out-of-office reply."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mailgothai.cli.common import add_json
from mailgothai.core.reasons import Why
from mailgothai.core.vacation import DEFAULT_DAYS
from mailgothai.errors import InvalidInput
from mailgothai.services.registry import Services
from mailgothai.services.vacation import VacationState


def register(groups: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = groups.add_parser("vacation", help="out-of-office replies of accounts")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    put = commands.add_parser("set", help="set (or replace) an account's out-of-office reply")
    put.add_argument("email")
    put.add_argument("--subject", required=True, help="the reply's subject (Thai or English)")
    put.add_argument("--message-file", required=True, metavar="FILE",
                     help="the reply's text, UTF-8 ('-': standard input)")
    put.add_argument("--start", help="first day of replies, YYYY-MM-DD (Thailand's time; default: now)")
    put.add_argument("--end", help="last day of replies, YYYY-MM-DD (default: until turned off)")
    put.add_argument("--days", help=f"reply to each sender at most once in this many days (default {DEFAULT_DAYS})")
    add_json(put)
    put.set_defaults(handler=cmd_set)

    show = commands.add_parser("show", help="show an account's out-of-office reply")
    show.add_argument("email")
    add_json(show)
    show.set_defaults(handler=cmd_show)

    off = commands.add_parser("off", help="turn an account's out-of-office reply off")
    off.add_argument("email")
    off.set_defaults(handler=cmd_off)


def _message(path: str) -> str:
    try:
        raw = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput("message", Why.MESSAGE_FILE_UNREADABLE(detail=str(exc))) from exc
    except OSError as exc:
        raise InvalidInput("message", Why.MESSAGE_FILE_UNREADABLE(detail=exc.strerror or str(exc))) from exc


def _print(state: VacationState, as_json: bool) -> None:
    if as_json:
        print(json.dumps(state.as_data(), ensure_ascii=False, indent=2))
        return
    v = state.vacation
    if v is None:
        print(f"{state.email}: no out-of-office reply")
        return
    when = f"{v.start.isoformat() if v.start else 'now'} .. {v.end.isoformat() if v.end else 'until turned off'}"
    print(f"{state.email}: out-of-office reply {'replying today' if state.replying else 'not replying today'}")
    print(f"  days      {when}")
    print(f"  once per  {v.days} day(s) per sender")
    print(f"  addresses {', '.join(v.addresses)}")
    print(f"  subject   {v.subject}")
    print("  message")
    for line in v.message.split("\n"):
        print(f"    {line}")


def cmd_set(args: argparse.Namespace, services: Services) -> int:
    state = services.vacation.set(args.email, subject=args.subject, message=_message(args.message_file),
                                  start=args.start, end=args.end, days=args.days)
    _print(state, args.json)
    return 0


def cmd_show(args: argparse.Namespace, services: Services) -> int:
    _print(services.vacation.show(args.email), args.json)
    return 0


def cmd_off(args: argparse.Namespace, services: Services) -> int:
    if services.vacation.off(args.email):
        print(f"{args.email}: out-of-office reply turned off")
    else:
        print(f"{args.email}: had no out-of-office reply")
    return 0
