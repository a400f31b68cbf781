#!/usr/bin/env bash
# Set up everything (see install.sh), pass the lint and type gate (check.sh), and run
# the whole test suite against real slapd and Dovecot instances that the tests start on
# free loopback ports: once with the SQL store on SQLite, once on PostgreSQL (a private
# cluster the tests start on loopback). Arguments go to pytest, e.g. `bash scripts/test.sh tests/unit -x`.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh || exit 1
echo "==> the lint and type gate"
bash scripts/check.sh || exit 1
failed=0
echo "==> the test suite, SQL store on SQLite"
.venv/bin/python -m pytest "$@" || failed=1
echo "==> the test suite, SQL store on PostgreSQL"
MAILGOTHAI_TEST_SQL=postgresql .venv/bin/python -m pytest "$@" || failed=1
exit $failed
