"""Issue 18: what the relay's directory lookup of a new recipient costs, through ldap3's
own search (a filter string parsed and encoded by pyasn1, the answer decoded by ldap3's
general decoder) against the same search encoded and decoded by directory/wire.py
(`Gateway.search_any`, what `RelayDirectory._read_address` uses now).

    .venv/bin/python -m bench.bench_relay_lookup --work bench/out/relay-lookup [--accounts 2000] [--rounds 5]

A fresh stack (slapd only takes part: the web and the relay are stopped), one domain with
--accounts accounts. Each round looks every address up once each way, the order of the
two ways alternating between rounds, bound as the relay is (cn=mailserver) with the
relay's attributes. Reported: CPU per lookup of this process (the relay's side) and of
slapd, medians over the rounds, and the ratio of the two ways in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import time
from pathlib import Path

from bench.bench_import import PORTS, free_port, slapd_cpu
from mailgothai.core.models import Role
from mailgothai.directory import escaping as f
from mailgothai.directory.gateway import Gateway
from mailgothai.directory.layout import Layout
from mailgothai.relay.lookup import ENTRY_ATTRS, AddressEntry, RelayDirectory, _entry
from mailgothai.services.actor import Actor
from mailgothai.services.passwords import PasswordInput
from mailgothai.settings import Settings, load_settings
from mailgothai.stack import manager

DOMAIN = "lookup.bench.go.th"
PASSWORD = "Bench-lookup-pass-1"


def ldap3_way(gateway: Gateway, layout: Layout, address: str) -> AddressEntry | None:
    """The lookup as the relay made it before (ldap3's search with a filter string)."""
    flt = f.any_of(f.eq("mail", address), f.eq("mgtAliasAddress", address))
    entries = gateway.search(layout.domain(DOMAIN), flt, ENTRY_ATTRS, limit=2)
    return _entry(entries[0]) if entries else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=Path("bench/out/relay-lookup"))
    ap.add_argument("--accounts", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    data_dir = args.work.resolve() / "stack"
    shutil.rmtree(data_dir, ignore_errors=True)
    base = load_settings(data_dir=data_dir, environ={})
    settings: Settings = manager.up(base.replace(protection=0, argon2_time_cost=1, argon2_memory_kib=8,
                                                 argon2_parallelism=1,
                                                 **{p: free_port() for p in PORTS if hasattr(base, p)})).settings
    for service in (manager.WEB, manager.RELAY):
        service.stop(settings)
    from mailgothai.services.registry import Services

    result: dict[str, object] = {"load_average_at_start": os.getloadavg(), "accounts": args.accounts}
    try:
        with Services.open(settings, Actor("bench", Role.SUPERADMIN, origin="bench")) as services:
            services.domains.add(DOMAIN, max_accounts=str(args.accounts + 10))
            addresses = [f"user{n}@{DOMAIN}" for n in range(args.accounts)]
            for address in addresses:
                services.accounts.add(address, PasswordInput(plain=PASSWORD))
        layout = Layout(settings.ldap_base)
        gateway = Gateway(settings.ldap_uri_list, settings.ldap_mail_dn, settings.ldap_mail_password,
                          timeout=settings.ldap_timeout, pool_size=1)
        directory = RelayDirectory(gateway, layout, ttl=0)
        ways = {"ldap3": lambda a: ldap3_way(gateway, layout, a), "wire": directory._read_address}
        for name, way in ways.items():  # both give the same answers
            assert way(addresses[0]) == ways["ldap3"](addresses[0]), name
            assert way(addresses[0]) is not None and way(addresses[0]).mailbox_id  # type: ignore[union-attr]
        per: dict[str, dict[str, list[float]]] = {n: {"client_us": [], "slapd_us": []} for n in ways}
        for round_no in range(args.rounds):
            order = list(ways) if round_no % 2 == 0 else list(reversed(ways))
            for name in order:
                way = ways[name]
                cpu0, slapd0 = time.process_time(), slapd_cpu(settings)
                for address in addresses:
                    way(address)
                cpu1, slapd1 = time.process_time(), slapd_cpu(settings)
                per[name]["client_us"].append((cpu1 - cpu0) / len(addresses) * 1e6)
                per[name]["slapd_us"].append((slapd1 - slapd0) / len(addresses) * 1e6)
        gateway.close()
        medians = {n: {k: round(statistics.median(v), 1) for k, v in d.items()} for n, d in per.items()}
        result.update({"rounds": per, "medians": medians,
                       "client_ratio_ldap3_to_wire": round(medians["ldap3"]["client_us"] / medians["wire"]["client_us"],
                                                           2)})
    finally:
        manager.down(settings)
    result["load_average_at_end"] = os.getloadavg()
    (args.work / "relay-lookup-results.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
