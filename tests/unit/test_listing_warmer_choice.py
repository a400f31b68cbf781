"""Which listings stay sorted in slapd: never more than the lister keeps (slapd answers
"busy" to every sorted search past its olcSssVlvMax contexts), the largest domains first."""

from __future__ import annotations

from pathlib import Path

from mailgothai.directory.vlv import SortedLister
from mailgothai.services.listing_warmer import ListingWarmer
from tests.fakes import fake_backends


def test_the_warmer_keeps_the_largest_domains_as_many_as_the_lister_keeps(tmp_path: Path) -> None:
    world = fake_backends(tmp_path)
    for name, accounts in (("small.go.th", 3), ("mid.go.th", 5), ("big.go.th", 9), ("bigger.go.th", 12)):
        world.add_domain(name)
        for n in range(accounts):
            world.account(f"user{n}@{name}")
    lister = SortedLister(max_kept=2)
    warmer = ListingWarmer(world.backends, lister, min_accounts=4, rescan=0)
    assert warmer._large_domains() == ["bigger.go.th", "big.go.th"]
    assert ListingWarmer(world.backends, SortedLister(max_kept=5), min_accounts=4,
                         rescan=0)._large_domains() == ["bigger.go.th", "big.go.th", "mid.go.th"]
    assert ListingWarmer(world.backends, lister, rescan=0,
                         domains=("small.go.th",))._large_domains() == ["small.go.th"]


def test_the_lister_keeps_at_most_max_kept_contexts_the_oldest_used_going_first() -> None:
    lister = SortedLister(max_kept=2)
    for base in ("ou=a", "ou=b", "ou=c"):
        lister._take(((), base, "(x=1)", (), ()), stamp=1, keep=True, max_age=None)
    assert lister.kept() == 2
    assert [k[1] for k in lister._contexts] == ["ou=b", "ou=c"]
    lister._take(((), "ou=b", "(x=1)", (), ()), stamp=1, keep=True, max_age=None)  # used again: now the newest
    lister._take(((), "ou=d", "(x=1)", (), ()), stamp=1, keep=True, max_age=None)
    assert [k[1] for k in lister._contexts] == ["ou=b", "ou=d"]
