"""`mailgothai dkim list | generate | rotate | activate | retire | record`"""

from __future__ import annotations

import argparse
from datetime import datetime

from mailgothai.cli.common import add_json
from mailgothai.cli.output import plain, print_json, print_rows
from mailgothai.services.dkim import record_of
from mailgothai.services.registry import Services
from mailgothai.store.relay_state import DkimKey


def register(groups: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = groups.add_parser("dkim", help="a domain's DKIM keys: generate, rotate with overlap, retire")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    lst = commands.add_parser("list", help="a domain's keys and their states")
    lst.add_argument("domain")
    add_json(lst)
    lst.set_defaults(handler=cmd_list)
    gen = commands.add_parser("generate", help="the domain's first key (signs at once); prints the DNS record")
    gen.add_argument("domain")
    gen.add_argument("--algorithm", default="rsa", help="rsa (2048 bits, default) or ed25519 (an extra signature)")
    gen.add_argument("--selector")
    add_json(gen)
    gen.set_defaults(handler=cmd_generate)
    rot = commands.add_parser("rotate", help="a new key to publish; the current one signs until the switch")
    rot.add_argument("domain")
    rot.add_argument("--algorithm", default="rsa")
    rot.add_argument("--selector")
    rot.add_argument("--switch-after", type=int, help="seconds until it signs by itself (default: settings)")
    add_json(rot)
    rot.set_defaults(handler=cmd_rotate)
    act = commands.add_parser("activate", help="confirm the new record is published: switch to it now")
    act.add_argument("domain")
    act.add_argument("selector")
    act.set_defaults(handler=cmd_activate)
    ret = commands.add_parser("retire", help="retire a replaced (or abandoned pending) key; deletes its private key")
    ret.add_argument("domain")
    ret.add_argument("selector")
    ret.set_defaults(handler=cmd_retire)
    rec = commands.add_parser("record", help="the DNS TXT record of a key, ready to paste")
    rec.add_argument("domain")
    rec.add_argument("selector")
    add_json(rec)
    rec.set_defaults(handler=cmd_record)


def _key_json(key: DkimKey) -> dict[str, object]:
    data = plain(key)
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in data.items()}


def _show_new(key: DkimKey, as_json: bool) -> None:
    record = record_of(key)
    if as_json:
        print_json({"key": _key_json(key), "dns_name": record.name, "dns_txt": record.text,
                    "zone_line": record.zone_line})
        return
    print(f"{key.algorithm} key {key.selector} for {key.domain}: {key.state.value}"
          + (f" (signs by itself after {key.switch_after:%Y-%m-%d %H:%M} UTC)" if key.switch_after else ""))
    print("publish this DNS record:")
    print(record.zone_line)


def cmd_list(args: argparse.Namespace, services: Services) -> int:
    keys = services.dkim.list(args.domain)
    if args.json:
        print_json([_key_json(k) for k in keys])
    else:
        print_rows((k.selector, k.algorithm, k.state.value, f"{k.created_at:%Y-%m-%d %H:%M}",
                    f"switch_after={k.switch_after:%Y-%m-%d %H:%M}" if k.switch_after else "") for k in keys)
    return 0


def cmd_generate(args: argparse.Namespace, services: Services) -> int:
    _show_new(services.dkim.generate(args.domain, args.algorithm, args.selector), args.json)
    return 0


def cmd_rotate(args: argparse.Namespace, services: Services) -> int:
    _show_new(services.dkim.rotate(args.domain, args.algorithm, args.selector, args.switch_after), args.json)
    return 0


def cmd_activate(args: argparse.Namespace, services: Services) -> int:
    key = services.dkim.activate(args.domain, args.selector)
    print(f"{key.selector} now signs for {key.domain}; the key it replaced is retiring")
    return 0


def cmd_retire(args: argparse.Namespace, services: Services) -> int:
    key = services.dkim.retire(args.domain, args.selector)
    print(f"{key.selector} of {key.domain} retired; its DNS record may be removed")
    return 0


def cmd_record(args: argparse.Namespace, services: Services) -> int:
    record = services.dkim.record(args.domain, args.selector)
    if args.json:
        print_json({"dns_name": record.name, "dns_txt": record.text, "zone_line": record.zone_line})
    else:
        print(record.zone_line)
    return 0
