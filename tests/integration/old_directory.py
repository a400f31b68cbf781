"""slapd started on a directory made by an older version of the project (its schema and
deploy templates given), for the tests of stack/slapd_update.py."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailgothai.settings import Settings
from mailgothai.stack import manager, slapd
from tests.conftest import stack_settings


@contextlib.contextmanager
def slapd_on_older_directory(data_dir: Path, older: tuple[Path, Path],
                             monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """`older`: (schema dir, deploy dir) of that version. The directory is created from
    them, then slapd starts with this version's code (which updates it); stopped after."""
    settings = manager.ensure_secrets(stack_settings(data_dir))
    settings.data_dir.mkdir(parents=True, mode=0o700)
    schema_dir, deploy_dir = older
    with monkeypatch.context() as m:
        m.setattr(slapd, "SCHEMA_DIR", schema_dir)
        m.setattr("mailgothai.stack.templates.DEPLOY_DIR", deploy_dir)
        assert slapd.initialise(settings)
    slapd.start(settings)
    try:
        yield settings
    finally:
        slapd.stop(settings)
