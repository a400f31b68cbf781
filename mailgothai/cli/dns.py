"""`mailgothai dns show DOMAIN [--zone]` and `mailgothai dns check DOMAIN | --all`: the DNS
records a domain publishes, and what DNS says of them (services/dns_check.py).

`dns check` exits 0 when every record is as it should be, 1 when one is missing or wrong
or DNS could not be asked (and 2 for bad input, as every command)."""

from __future__ import annotations

import argparse

from mailgothai.cli.common import add_json
from mailgothai.cli.output import print_json
from mailgothai.core.dns_records import State
from mailgothai.core.reasons import Why
from mailgothai.errors import InvalidInput
from mailgothai.services.dns_check import BOUND, DomainCheck
from mailgothai.services.registry import Services

MARKS = {State.OK: "ok", State.MISSING: "MISSING", State.WRONG: "WRONG", State.UNKNOWN: "COULD NOT ASK"}


def register(groups: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = groups.add_parser("dns", help="the DNS records a domain publishes, and a check of what DNS says")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    show = commands.add_parser("show", help="the records to publish (MX, SPF, DKIM, DMARC, MTA-STS, TLS-RPT, "
                                            "autoconfig, autodiscover, SRV)")
    show.add_argument("domain")
    show.add_argument("--zone", action="store_true", help="as a zone file (RFC 1035), ready to paste or load")
    add_json(show)
    show.set_defaults(handler=cmd_show)
    check = commands.add_parser("check", help="ask DNS and say what is missing or wrong (exit 1 if anything is)")
    which = check.add_mutually_exclusive_group(required=True)
    which.add_argument("domain", nargs="?")
    which.add_argument("--all", action="store_true", help="every hosted domain and alias domain")
    check.add_argument("--resolver", help="whom to ask: system, IP or IP:PORT, comma-separated "
                                          "(default: the dns_check_resolver setting)")
    check.add_argument("--parallel", type=int, default=BOUND, help=f"domains checked at once (default {BOUND})")
    add_json(check)
    check.set_defaults(handler=cmd_check)


def cmd_show(args: argparse.Namespace, services: Services) -> int:
    found = services.dns.records(args.domain)
    if args.json:
        print_json(found.as_data())
    elif args.zone:
        print(found.zone, end="")
    else:
        width = max(len(r.name) for r in found.records)
        for r in found.records:
            note = "   (in the zone of the report address's domain)" if r.elsewhere else ""
            print(f"{r.name:<{width}}  {r.type:<5}  {r.value}{note}")
        print(f"\nThe MTA-STS policy served at https://mta-sts.{found.domain}/.well-known/mta-sts.txt:")
        print(found.mta_sts_policy.replace("\r\n", "\n"), end="")
    return 0


def _print_check(result: DomainCheck, verbose: bool) -> None:
    problems = [f for f in result.findings if f.state is not State.OK]
    print(f"{result.domain}: " + ("all records ok" if not problems else
                                  ", ".join(f"{result.count(s)} {MARKS[s].lower()}" for s in
                                            (State.MISSING, State.WRONG, State.UNKNOWN) if result.count(s))))
    for f in result.findings if verbose else problems:
        what = f"{f.purpose.value}{' ' + f.selector if f.selector else ''}"
        line = f"  {MARKS[f.state]:<13} {what:<22} {f.name} {f.type}"
        print(line + (f": {f.reason}" if f.reason else ""))
        if f.state is not State.OK and f.found:
            print("                found: " + " | ".join(f.found))
        if f.state in (State.MISSING, State.WRONG):
            print("                publish: " + " | ".join(f.expected))


def cmd_check(args: argparse.Namespace, services: Services) -> int:
    if args.all:
        results = services.dns.check_all(args.resolver, args.parallel)
    elif args.domain:
        results = [services.dns.check(args.domain, args.resolver)]
    else:
        raise InvalidInput("domain", Why.REQUIRED())
    if args.json:
        print_json({"ok": all(r.ok for r in results), "domains": [r.as_data() for r in results]})
    else:
        for result in results:
            _print_check(result, verbose=not args.all)
        if args.all:
            bad = sum(1 for r in results if not r.ok)
            print(f"{len(results)} domains: {len(results) - bad} all ok, {bad} with records missing or wrong")
    return 0 if all(r.ok for r in results) else 1
