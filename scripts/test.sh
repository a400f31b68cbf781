#!/usr/bin/env bash
# Set up everything (see install.sh), pass the lint and type gate (check.sh), and run
# the whole test suite against real slapd and Dovecot instances that the tests start on
# free loopback ports with the SQL store on SQLite; then run the tests marked `sql` again
# with the store on PostgreSQL (a private cluster the tests start on loopback).
# Arguments go to pytest, e.g. `bash scripts/test.sh tests/unit -x`.
#
# Which tests are marked `sql` (pytestmark in the module): those whose outcome passes
# through the SQL store, i.e. they read or check state kept there (audit entries, import
# jobs and their rows, web sessions, API tokens, TOTP secrets, login-failure tallies, usage
# snapshots, the listing cache, relay send counters and DKIM key records), or they drive
# a path whose answer is decided by such state (a web or API login, failed SMTP AUTH or
# IMAP logins counted by the budget, an import, a DKIM-signed message). Not marked: a test
# that touches SQL only by a write it never reads back (an audit entry, a message counted
# against its sender's limits), or by the budget check of a login with no failures
# behind it; those paths are run on PostgreSQL by the marked tests, and so are the
# migrations (every stack a marked test starts migrates its new database).
# Tests that open their own SQLite file are not marked (PostgreSQL would change nothing).
# When in doubt, a test is marked.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh || exit 1
echo "==> the lint and type gate"
bash scripts/check.sh || exit 1
failed=0
echo "==> the test suite, SQL store on SQLite"
.venv/bin/python -m pytest "$@" || failed=1
echo "==> the tests marked sql, SQL store on PostgreSQL"
# exit status 5: the arguments selected no test marked sql (e.g. tests/unit), not a failure
MAILGOTHAI_TEST_SQL=postgresql .venv/bin/python -m pytest -m sql "$@"
status=$?
[ "$status" -eq 0 ] || [ "$status" -eq 5 ] || failed=1
exit $failed
