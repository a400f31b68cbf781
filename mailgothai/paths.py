"""Where the project's own files (templates, schema) live."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEPLOY_DIR = PROJECT_ROOT / "deploy"
SCHEMA_DIR = PROJECT_ROOT / "ldap_schema"
