#!/usr/bin/env bash
# Set up everything (see install.sh) and run the whole test suite against real
# slapd and Dovecot instances that the tests start on free loopback ports.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec .venv/bin/python -m pytest "$@"
