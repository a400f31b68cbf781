#!/usr/bin/env bash
# The lint and type gate (scripts/test.sh runs it before the tests, and so does CI):
# ruff with the rules in pyproject.toml on all the Python in the repository, and mypy in
# strict mode on the package and on the fakes that stand in for its ports (tests/fakes/).
# Run after scripts/install.sh (it installs both, pinned).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "==> ruff"
.venv/bin/ruff check mailgothai tests bench scripts
echo "==> mypy --strict (mailgothai)"
.venv/bin/mypy
echo "==> mypy --strict (the unit tests' fakes, against the ports in services/ports.py)"
.venv/bin/mypy -p tests.fakes
