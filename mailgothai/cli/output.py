"""Printing results: JSON for scripts, plain lines and tables for people."""

from __future__ import annotations

import dataclasses
import enum
import json
import sys
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from mailgothai.core.quota import format_size

SIZE_FIELDS = {"quota", "quota_pool", "default_quota", "max_message_size", "quota_allocated"}


def plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: plain(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):  # e.g. an account's password_changed_at (issue 20)
        return value.isoformat()
    return value


def print_json(value: Any) -> None:
    json.dump(plain(value), sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


def print_json_lines_array(items: Iterable[Any]) -> None:
    """A JSON array written item by item, so a long listing never sits in memory."""
    sys.stdout.write("[")
    for n, item in enumerate(items):
        sys.stdout.write(",\n " if n else "\n ")
        sys.stdout.write(json.dumps(plain(item), ensure_ascii=False))
    sys.stdout.write("\n]\n")


def _flatten(data: dict[str, Any], prefix: str = "") -> Iterable[tuple[str, Any]]:
    for key, value in data.items():
        if isinstance(value, dict):
            yield from _flatten(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def print_object(value: Any) -> None:
    for key, item in _flatten(plain(value)):
        if key.rpartition(".")[2] in SIZE_FIELDS and isinstance(item, int):
            item = f"{format_size(item)} ({item} bytes)"
        elif isinstance(item, list):
            item = ", ".join(str(i) for i in item)
        print(f"{key}: {item}")


def print_rows(rows: Iterable[Iterable[Any]]) -> None:
    for row in rows:
        print("\t".join(str(cell) for cell in row))
