"""Directory figures of issue 2, with a full data set loaded (see load_dataset.py).

    python bench/bench_directory.py --data-dir bench/out/stack [--rounds 200]

Measures, through the service layer the CLI and web use:
  - adding one account to the largest domain vs. to a near-empty one (p95 each, ratio),
    interleaved so drift hits both alike; once with a stored hash (directory cost
    alone) and once with a plain password (argon2id at the configured cost included);
  - the first page of 50 accounts of the largest domain and of a small one;
  - search by address prefix across all domains.
The accounts it adds are deleted again at the end.
"""

from __future__ import annotations

import argparse
import json
import random
import uuid
from pathlib import Path

from bench.stats import summary_ms, timed
from mailgothai.core.models import Role
from mailgothai.core.passwords import hash_password
from mailgothai.services.actor import Actor
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.registry import Services
from mailgothai.settings import load_settings
from mailgothai.stack import manager

PREFIXES = ("somchai", "malee.", "wan", "supachai.w", "kittisak", "anan.k", "thanawat", "sunee.s", "pr", "jintana.k")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", required=True, type=Path)
    ap.add_argument("--rounds", type=int, default=200)
    args = ap.parse_args()
    settings = load_settings(data_dir=args.data_dir)
    # The directory alone is measured: the admin web's first quota-usage sweep of 207,074
    # accounts (through Dovecot's userdb lookups) and the relay would load slapd meanwhile.
    for service in (manager.WEB, manager.RELAY):
        service.stop(settings)
    actor = Actor("bench", Role.SUPERADMIN, origin="bench")
    rng = random.Random(7)
    results: dict[str, object] = {}
    with Services.open(settings, actor) as svc:
        domains = sorted(svc.domains.list(), key=lambda d: d.account_count)
        small, large = domains[0], domains[-1]
        results["accounts_total"] = sum(d.account_count for d in domains)
        results["domains"] = len(domains)
        results["largest_domain"] = {"name": large.name, "accounts": large.account_count}
        results["small_domain"] = {"name": small.name, "accounts": small.account_count}
        # Room for the accounts the benchmark adds; the limits are put back at the end.
        for domain in (small, large):
            svc.domains.set(domain.name, max_accounts=0, quota_pool=0)
        stored = hash_password("Bench-password-1", svc.backends.argon2)
        added: list[str] = []

        def add_one(domain: str, password: PasswordInput) -> float:
            email = f"bench-{uuid.uuid4().hex[:12]}@{domain}"
            added.append(email)
            return timed(lambda: svc.accounts.add(email, password, given_name="ทดสอบ", quota="100M"))

        for label, password, rounds in (("stored_hash", PasswordInput(stored_hash=stored), args.rounds),
                                        ("plain_password", PasswordInput(plain="Bench-password-1"), args.rounds // 4)):
            large_t, small_t = [], []
            for _ in range(rounds):
                large_t.append(add_one(large.name, password))
                small_t.append(add_one(small.name, password))
            large_s, small_s = summary_ms(large_t), summary_ms(small_t)
            results[f"add_{label}"] = {"largest": large_s, "small": small_s,
                                       "p95_ratio": round(large_s["p95_ms"] / small_s["p95_ms"], 3)}

        for label, domain in (("largest", large.name), ("small", small.name)):
            samples = [timed(lambda domain=domain: svc.accounts.first_page(domain, 50)) for _ in range(args.rounds)]
            results[f"first_page_50_{label}"] = summary_ms(samples)

        samples = []
        for _ in range(args.rounds):
            prefix = rng.choice(PREFIXES)
            samples.append(timed(lambda prefix=prefix: svc.accounts.search(prefix, limit=50)))
        results["search_prefix_all_domains"] = summary_ms(samples)

        for email in added:
            svc.accounts.delete(email)
        for domain in (small, large):
            svc.domains.set(domain.name, max_accounts=domain.limits.max_accounts, quota_pool=domain.limits.quota_pool)
    print(json.dumps(results, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
