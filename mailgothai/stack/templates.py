"""Rendering the project's configuration templates (deploy/**/*.in)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from string import Template

from mailgothai.errors import StackError
from mailgothai.paths import DEPLOY_DIR


def render(relative: str, values: Mapping[str, object]) -> str:
    path = DEPLOY_DIR / relative
    try:
        return Template(path.read_text(encoding="utf-8")).substitute({k: str(v) for k, v in values.items()})
    except FileNotFoundError as exc:
        raise StackError(f"template missing: {path}") from exc
    except KeyError as exc:
        raise StackError(f"template {relative} needs a value for {exc}") from exc
    except ValueError as exc:
        raise StackError(f"template {relative}: {exc}") from exc


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (it may hold passwords), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)
