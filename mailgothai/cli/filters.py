"""`mailgothai filter list | set`: an account's mail filter rules (the web's Sieve script),
through the same service as the web's pages (services/filters.py)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mailgothai.cli.common import add_json
from mailgothai.cli.output import print_json
from mailgothai.core.reasons import Why
from mailgothai.errors import InvalidInput
from mailgothai.services.filters import FilterState
from mailgothai.services.registry import Services


def register(groups: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = groups.add_parser("filter", help="mail filter rules of accounts (Sieve)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    lst = commands.add_parser("list", help="an account's rules and which Sieve script is active")
    lst.add_argument("email")
    add_json(lst)
    lst.set_defaults(handler=cmd_list)

    put = commands.add_parser("set", help="replace an account's rules with those of a JSON file")
    put.add_argument("email")
    put.add_argument("--file", required=True, metavar="FILE",
                     help='a JSON list of rules, e.g. [{"field": "subject", "contains": "ประชุม", '
                          '"action": "move", "folder": "งาน"}] ("-": standard input)')
    put.add_argument("--use-instead-of-own", action="store_true",
                     help="make these rules active even if the user's own Sieve script is (it is kept)")
    add_json(put)
    put.set_defaults(handler=cmd_set)


def _rules(path: str) -> object:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInput("file", Why.NO_SUCH_FILE(path=path)) from None
    try:
        return json.loads(text)
    except ValueError:
        raise InvalidInput("file", Why.NOT_JSON()) from None


def _show(state: FilterState, as_json: bool) -> None:
    if as_json:
        print_json(state.as_data())
        return
    for n, rule in enumerate(state.rules, 1):
        action = " ".join(filter(None, (rule.action.value, rule.folder or rule.address)))
        print(f"{n}\t{rule.field.value} contains {rule.contains!r}\t{action}")
    if state.edited_by_hand:
        print("the script 'mailgothai' was edited by hand in a mail client: the web will not overwrite it")
    elif state.other_active:
        print(f"the user's own script {state.other_active!r} is active: these rules are not in effect")
    elif not state.in_effect:
        print("no rules in effect")


def cmd_list(args: argparse.Namespace, services: Services) -> int:
    _show(services.filters.show(args.email), args.json)
    return 0


def cmd_set(args: argparse.Namespace, services: Services) -> int:
    state = services.filters.save(args.email, _rules(args.file), use_instead_of_own=args.use_instead_of_own)
    _show(state, args.json)
    return 0
