"""The project's own data set generator: agencies' domains and staff accounts as CSV files.

Writes, in one folder, the same files as the reference generator the design names:

  domains.csv          domain,description,max_accounts,quota,default_quota
  accounts.csv         email,given_name,surname,display_name,password,quota,status,aliases,forward
  expected_errors.csv  row,email,reason   (row = 1-based data row, header not counted)
  manifest.json        counts and the sha256 of each file

Full size is 434 domains and 207,074 accounts with a heavy-tailed size distribution;
smaller sets keep the shape. Deliberately bad rows (``bad_rows``) are listed in
expected_errors.csv so an importer's report can be checked exactly; awkward rows are
valid rows an importer must store exactly. Deterministic for a given seed.
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
import string
from dataclasses import dataclass, field
from pathlib import Path

from mailgothai.datagen import badrows
from mailgothai.datagen.words import (
    AWKWARD_LOCALS,
    AWKWARD_NAMES,
    DEPARTMENTS,
    GIVEN_NAMES,
    MINISTRIES,
    PROVINCES,
    SURNAMES,
)

FULL_DOMAINS = 434
FULL_ACCOUNTS = 207_074
DEFAULT_SEED = 4_2017
SIZES = {"tiny": (5, 60), "small": (40, 5_000), "medium": (434, 20_000), "full": (FULL_DOMAINS, FULL_ACCOUNTS)}
PASSWORD_MODES = ("plain", "hashed", "blank", "mixed")
ENCODINGS = ("utf-8", "utf-8-sig", "cp874")
HEADER = ("email", "given_name", "surname", "display_name", "password", "quota", "status", "aliases", "forward")
DOMAIN_HEADER = ("domain", "description", "max_accounts", "quota", "default_quota")
DEFAULT_QUOTA = "2G"
QUOTA_CHOICES = ("", "", "1G", "2G", "5G", "500M")
HASH_POOL = 64
# A sha512-crypt of CRYPT_PASSWORD (slapd verifies {CRYPT} through the system's crypt()).
CRYPT_PASSWORD = "Crypt-pass-1"
CRYPT_HASH = "{CRYPT}$6$mgtsalt$cXDUf0rgDSwHOLS3Co9eaCD1vnzAvp96gnOssG2ER3HLDpWNgMFvqDC5qE8qVuczGTZzfcYYZ0hSTkwkF/MgH1"


def pool_password(i: int) -> str:
    """The plain text behind the i-th pre-hashed value of the pool."""
    return f"Hash-pool-{i:02d}!"


@dataclass(frozen=True)
class Spec:
    out: Path
    domains: int = FULL_DOMAINS
    accounts: int = FULL_ACCOUNTS
    passwords: str = "plain"
    bad_rows: int = 0
    awkward_rows: int = 0
    encoding: str = "utf-8"
    seed: int = DEFAULT_SEED
    tag: str = ""  # inserted before ".go.th" so several sets can share one directory
    # argon2id cost of the pre-hashed pool: (time_cost, memory_kib); OWASP's by default
    hash_cost: tuple[int, int] = (2, 19456)

    def __post_init__(self) -> None:
        if self.passwords not in PASSWORD_MODES:
            raise ValueError(f"passwords must be one of {PASSWORD_MODES}")
        if self.encoding.lower() not in ENCODINGS:
            raise ValueError(f"encoding must be one of {ENCODINGS}")
        if self.domains < 1 or self.accounts < self.domains:
            raise ValueError("need at least one domain and one account per domain")
        if self.tag and not all(c in string.ascii_lowercase + string.digits + "-" for c in self.tag):
            raise ValueError("tag: lower-case letters, digits and '-' only")


@dataclass
class Row:
    cells: list[str]
    bad: str | None = None  # the kind of a deliberately bad row

    @property
    def email(self) -> str:
        return self.cells[0]


@dataclass
class Manifest:
    domains: int
    rows: int
    accounts_valid: int
    bad_rows: int
    awkward_rows: int
    encoding: str
    passwords: str
    seed: int
    files: dict[str, str] = field(default_factory=dict)  # name -> sha256

    def as_dict(self) -> dict[str, object]:
        return {"files": list(self.files), "domains": self.domains, "accounts_valid": self.accounts_valid,
                "rows": self.rows, "bad_rows": self.bad_rows, "awkward_rows": self.awkward_rows,
                "encoding": self.encoding, "passwords": self.passwords, "seed": self.seed, "sha256": self.files}


def domain_list(n: int, rng: random.Random, tag: str = "") -> list[tuple[str, str]]:
    """n distinct (domain, Thai description): ministries, provinces, departments, then local councils."""
    suffix = f".{tag}.go.th" if tag else ".go.th"
    out = [(f"{code}{suffix}", name) for code, name in MINISTRIES]
    out += [(f"{p}{suffix}", f"ศาลากลางจังหวัด {p}") for p in PROVINCES]
    for dept in DEPARTMENTS:
        code, name = rng.choice(MINISTRIES)
        out.append((f"{dept}.{code}{suffix}", f"กรม {dept} สังกัด{name}"))
    k = 0
    while len(out) < n:
        province = PROVINCES[k % len(PROVINCES)]
        out.append((f"tambon{k // len(PROVINCES) + 1:03d}.{province}{suffix}",
                    f"องค์การบริหารส่วนตำบล ที่ {k + 1} จังหวัด {province}"))
        k += 1
    return out[:n]


def domain_sizes(n_domains: int, n_accounts: int, rng: random.Random) -> list[int]:
    """Heavy-tailed sizes (rank^-1.1), each at least 1, summing exactly to n_accounts."""
    weights = [rank ** -1.1 for rank in range(1, n_domains + 1)]
    total = sum(weights)
    spare = n_accounts - n_domains
    sizes = [1 + int(spare * w / total) for w in weights]
    for k in range(n_accounts - sum(sizes)):
        sizes[k % n_domains] += 1
    head = min(len(MINISTRIES), n_domains)
    tail = sizes[head:]
    rng.shuffle(tail)  # the ministries stay the largest; the rest mixed
    return sizes[:head] + tail


class _Passwords:
    def __init__(self, mode: str, rng: random.Random, cost: tuple[int, int]) -> None:
        self.mode = mode
        self.rng = rng
        self.pool: list[str] = []
        if mode in ("hashed", "mixed"):
            from argon2 import PasswordHasher, Type

            hasher = PasswordHasher(time_cost=cost[0], memory_cost=cost[1], parallelism=1, type=Type.ID)
            self.pool = ["{ARGON2}" + hasher.hash(pool_password(i)) for i in range(HASH_POOL)]

    def plain(self) -> str:
        """A password that meets any domain's password policy the tests set up (issue 20):
        lower and upper case, digits and others; random letters in pairs between dashes,
        so no name or local part of three letters or more can turn up in it by chance."""
        alphabet = string.ascii_letters + string.digits
        drawn = "".join(self.rng.choice(alphabet) for _ in range(11))
        return "-".join(drawn[i:i + 2] for i in range(0, 11, 2)) + self.rng.choice("!#%*?_") + "7qZ"

    def next(self) -> str:
        mode = self.mode
        if mode == "mixed":
            mode = self.rng.choice(("plain", "plain", "hashed", "blank", "ssha", "ssha512", "crypt"))
        if mode == "plain":
            return self.plain()
        if mode == "hashed":
            return self.rng.choice(self.pool)
        if mode in ("ssha", "ssha512"):
            from mailgothai.core.passwords import make_ssha, make_ssha512

            salt = bytes(self.rng.randrange(256) for _ in range(8))
            return (make_ssha if mode == "ssha" else make_ssha512)(self.plain(), salt)
        if mode == "crypt":
            return CRYPT_HASH
        return ""


def _people(doms: list[tuple[str, str]], sizes: list[int], rng: random.Random,
            passwords: _Passwords) -> list[Row]:
    rows: list[Row] = []
    for (domain, _), size in zip(doms, sizes, strict=True):
        taken: set[str] = set()
        for _ in range(size):
            (given, given_th), (sur, sur_th) = rng.choice(GIVEN_NAMES), rng.choice(SURNAMES)
            local, k = f"{given}.{sur[0]}", 1
            while local in taken:
                k += 1
                local = f"{given}.{sur[:k]}" if k <= len(sur) else f"{given}.{sur}{k - len(sur)}"
            taken.add(local)
            aliases = ""
            if rng.random() < 0.05 and f"{sur}-{given}" not in taken:
                taken.add(f"{sur}-{given}")
                aliases = f"{sur}-{given}@{domain}"
            status = "disabled" if rng.random() < 0.02 else "active"
            rows.append(Row([f"{local}@{domain}", given_th, sur_th, f"{given_th} {sur_th}", passwords.next(),
                             rng.choice(QUOTA_CHOICES), status, aliases, ""]))
    rng.shuffle(rows)  # an agency's export is not sorted by domain
    return rows


def _awkward(n: int, domains: list[str], rng: random.Random, passwords: _Passwords) -> list[Row]:
    out = []
    for i in range(n):
        domain = rng.choice(domains)
        local = AWKWARD_LOCALS[i % len(AWKWARD_LOCALS)] + f".awk{i}" if i % 3 == 2 else f"awkward{i}"
        name = AWKWARD_NAMES[i % len(AWKWARD_NAMES)]
        out.append(Row([f"{local}@{domain}", "ทดสอบ", "ชื่อแปลก", name, passwords.next(), "", "active", "", ""]))
    return out


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _size_mib(text: str) -> int:
    return int(text[:-1]) * (1024 if text.endswith("G") else 1)


def generate(spec: Spec) -> Manifest:
    rng = random.Random(spec.seed)
    spec.out.mkdir(parents=True, exist_ok=True)
    doms = domain_list(spec.domains, rng, spec.tag)
    names = [d for d, _ in doms]
    passwords = _Passwords(spec.passwords, rng, spec.hash_cost)
    rows = _people(doms, domain_sizes(spec.domains, spec.accounts, rng), rng, passwords)
    for row in _awkward(spec.awkward_rows, names, rng, passwords):
        rows.insert(rng.randrange(len(rows) + 1), row)
    for i in range(spec.bad_rows):
        position = rng.randrange(1, len(rows) + 1)  # never first: a duplicate needs an earlier twin
        earlier = [r for r in rows[max(0, position - 60):position] if r.bad is None] or [rows[0]]
        kind = badrows.KINDS[i % len(badrows.KINDS)]
        rows.insert(position, Row(badrows.make(kind, rng, names, earlier), kind))

    # Row numbers exist only now that every insertion is done.
    expected: list[tuple[int, str, str]] = []
    seen: set[str] = set()
    for n, row in enumerate(rows, start=1):
        if row.bad is not None:
            expected.append((n, row.email, "duplicate" if row.email in seen else row.bad))
        seen.add(row.email)

    # Limits leave room over what the valid rows take, so no valid row hits a limit.
    valid_count = {d: 0 for d in names}
    allocated_mib = {d: 0 for d in names}
    for row in rows:
        domain = row.email.rpartition("@")[2]
        if row.bad is None and domain in valid_count:
            valid_count[domain] += 1
            allocated_mib[domain] += _size_mib(row.cells[5] or DEFAULT_QUOTA)

    encoding = spec.encoding.lower()
    with open(spec.out / "domains.csv", "w", newline="", encoding=encoding) as fh:
        writer = csv.writer(fh)
        writer.writerow(DOMAIN_HEADER)
        for name, description in doms:
            count, mib = valid_count[name], allocated_mib[name]
            pool_gib = -(-(mib + max(10 * 1024, mib // 4)) // 1024)
            writer.writerow([name, description, count + max(10, count // 5), f"{pool_gib}G", DEFAULT_QUOTA])
    with open(spec.out / "accounts.csv", "w", newline="", encoding=encoding) as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        writer.writerows(r.cells for r in rows)
    with open(spec.out / "expected_errors.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(("row", "email", "reason"))
        writer.writerows(expected)

    files = ("domains.csv", "accounts.csv", "expected_errors.csv")
    manifest = Manifest(domains=len(doms), rows=len(rows), accounts_valid=len(rows) - len(expected),
                        bad_rows=len(expected), awkward_rows=spec.awkward_rows, encoding=encoding,
                        passwords=spec.passwords, seed=spec.seed,
                        files={name: _sha256(spec.out / name) for name in files})
    (spec.out / "manifest.json").write_text(json.dumps(manifest.as_dict(), indent=2, ensure_ascii=False) + "\n",
                                            encoding="utf-8")
    return manifest
