"""The import validation's one pass for other domains' aliases in the preloaded domains
(directory/holders.preload_foreign_aliases: the accounts that have any mgtAliasAddress, read
as the application; mgtAliasAddress has an equality index only), against the raw component in
the same run: one paged search of every account's `mail` (what the dry run's preload of all
domains reads at least).

    .venv/bin/python -m bench.bench_foreign_aliases --data-dir DATA [--rounds 3]

DATA is a stopped data dir holding the generated directory (e.g. one `bench.load_dataset`
filled with the full 207,074 accounts); only its slapd is started, and stopped after.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from mailgothai.directory import escaping as f
from mailgothai.directory.gateway import Gateway
from mailgothai.directory.holders import preload_foreign_aliases
from mailgothai.directory.layout import Layout
from mailgothai.settings import load_settings
from mailgothai.stack import slapd


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    settings = load_settings(args.data_dir)
    slapd.start(settings)
    try:
        gateway = Gateway(settings.ldap_uri_list, settings.ldap_app_dn, settings.ldap_app_password, timeout=120)
        layout = Layout(settings.ldap_base)
        every = f.eq("objectClass", "mgtAccount")
        passes, raws, found, accounts = [], [], 0, 0
        for _ in range(args.rounds):
            started = time.perf_counter()
            found = preload_foreign_aliases(gateway, layout, {"any.go.th"}, {})
            passes.append(time.perf_counter() - started)
            started = time.perf_counter()
            accounts = sum(1 for _ in gateway.iter_paged(layout.domains, every, ("mail",)))
            raws.append(time.perf_counter() - started)
        gateway.close()
    finally:
        slapd.stop(settings)
    print(json.dumps({"accounts": accounts, "foreign_found": found,
                      "foreign_pass_s": round(statistics.median(passes), 3),
                      "all_mail_search_s": round(statistics.median(raws), 3),
                      "ratio": round(statistics.median(passes) / statistics.median(raws), 2)}))


if __name__ == "__main__":
    main()
