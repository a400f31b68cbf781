"""stack/protection.py under root hands rspamd's state to its workers' user while rspamd
may be running (a second `stack up`): a file rspamd renames between the listing and the
chown (its hyperscan cache's `.hs.new`) must not fail the start, as it did in a CI run."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailgothai.stack import protection


def test_a_file_gone_between_listing_and_chown_is_passed_over(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    if os.geteuid() != 0:
        pytest.skip("only root hands files to rspamd's workers")
    paths = protection.Paths(tmp_path)
    for directory in (paths.rspamd_dir / "db", paths.rspamd_pid.parent, paths.clamav_dir):
        directory.mkdir(parents=True)
    kept = paths.rspamd_dir / "db" / "kept.hs"
    kept.write_bytes(b"x")
    ghost = paths.rspamd_dir / "db" / "cache.123.hs.new"  # listed, then renamed by rspamd
    real_rglob = Path.rglob

    def rglob(self: Path, pattern: str) -> Iterator[Path]:
        yield from real_rglob(self, pattern)
        if self == paths.rspamd_dir / "db":
            yield ghost

    monkeypatch.setattr(Path, "rglob", rglob)
    protection._hand_to_workers(paths)
    worker = protection._worker()
    assert kept.stat().st_uid == worker.pw_uid and (paths.rspamd_dir / "db").stat().st_uid == worker.pw_uid
