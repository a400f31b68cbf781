"""`python -m mailgothai.datagen --out DIR [...]`: write a data set (see generate.py)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from mailgothai.datagen.generate import DEFAULT_SEED, ENCODINGS, PASSWORD_MODES, SIZES, Spec, generate


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mailgothai.datagen", description=__doc__.split("\n")[0] + (
        "\n\nFiles: domains.csv, accounts.csv, expected_errors.csv (row,email,reason; row = 1-based data "
        "row), manifest.json."), formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--size", choices=sorted(SIZES), default="full",
                    help="preset (domains, accounts): " + ", ".join(f"{k} {v}" for k, v in SIZES.items()))
    ap.add_argument("--domains", type=int, help="override the preset's number of domains")
    ap.add_argument("--accounts", type=int, help="override the preset's number of accounts")
    ap.add_argument("--passwords", choices=[*PASSWORD_MODES, "none"], default="plain",
                    help="plain text; pre-hashed {ARGON2} from a pool of 64; blank (= none: generate on import); "
                         "mixed: plain, blank, {ARGON2}, {SSHA}, {SSHA512} and {CRYPT}")
    ap.add_argument("--bad-rows", type=int, default=0, help="deliberately invalid rows (every kind in turn)")
    ap.add_argument("--awkward-rows", type=int, default=0, help="valid rows with awkward names and addresses")
    ap.add_argument("--encoding", choices=ENCODINGS, default="utf-8", help="utf-8-sig is Excel's; cp874 Thai Windows")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--tag", default="", help="domains become NAME.TAG.go.th (several sets in one directory)")
    ap.add_argument("--cheap-hashes", action="store_true", help="pre-hash the pool with a cheap argon2id cost")
    args = ap.parse_args(argv)
    domains, accounts = SIZES[args.size]
    spec = Spec(out=args.out, domains=args.domains or domains, accounts=args.accounts or accounts,
                passwords="blank" if args.passwords == "none" else args.passwords, bad_rows=args.bad_rows,
                awkward_rows=args.awkward_rows, encoding=args.encoding, seed=args.seed, tag=args.tag,
                hash_cost=(1, 1024) if args.cheap_hashes else (2, 19456))
    print(json.dumps(generate(spec).as_dict(), ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
