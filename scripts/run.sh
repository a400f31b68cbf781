#!/usr/bin/env bash
# Set up everything (see install.sh) and run the service with a small demo data set.
# Safe to run again: existing data in ./var is reused, the demo is added only once.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
.venv/bin/mailgothai --data-dir "${MAILGOTHAI_DATA_DIR:-var}" stack up --demo
