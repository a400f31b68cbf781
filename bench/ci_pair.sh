#!/usr/bin/env bash
# The CI run (.ci/run: install, lint and type gate, the suite on SQLite, the tests marked sql
# on PostgreSQL) of two commits, back to back on this machine, each from a fresh clone in a
# sibling folder, timed with bash's `time` (wall, and the CPU of every process it waited for).
#
#     bash bench/ci_pair.sh OLD_COMMIT NEW_COMMIT     # e.g. f08a01a dd6e5bd; ~1 h on 2 cores
#
# Results are appended to ../ci-pair.txt; each run's output is in ../ci-pair-old.log and
# ../ci-pair-new.log. The clones (../ci-pair-old, ../ci-pair-new) are left for inspection.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
out=$(dirname "$here")
TIMEFORMAT='real %R user %U sys %S'
for pair in "old $1" "new $2"; do
  set -- $pair
  rm -rf "$out/ci-pair-$1"
  git clone -q "$here" "$out/ci-pair-$1" && git -C "$out/ci-pair-$1" checkout -q "$2"
  { time (cd "$out/ci-pair-$1" && bash .ci/run < /dev/null > "$out/ci-pair-$1.log" 2>&1
          echo "$1 $2 exit $?" >> "$out/ci-pair.txt"); } 2>> "$out/ci-pair.txt"
done
