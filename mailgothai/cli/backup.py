"""`mailgothai backup --out DIR [--since EARLIER] [--no-mail]`, `mailgothai backup verify DIR`,
`mailgothai restore DIR --data-dir NEW` (stack/backup.py, stack/restore.py)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

from mailgothai.cli import restore_domain
from mailgothai.core.reasons import Why
from mailgothai.errors import InvalidInput
from mailgothai.settings import Settings
from mailgothai.stack import backup, backup_manifest, restore


def register(groups: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = groups.add_parser("backup", help="back up the running service (directory, SQL store, keys, mail)",
                               description="Writes DIR.partial and renames it to DIR once complete.")
    parser.add_argument("--out", help="the new backup directory (must not exist)")
    parser.add_argument("--since", help=(
        "an earlier backup on the same file system: mail unchanged since is hard-linked from it, "
        "so the new backup costs only the new mail (each backup stays complete on its own)"))
    parser.add_argument("--no-mail", action="store_true", help="leave the mailboxes out")
    parser.add_argument("--quiet", action="store_true", help="print only the result")
    parser.set_defaults(handler=cmd_backup, needs_services=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    verify = commands.add_parser("verify", help="check a backup: manifest, checksums, LDIF, SQL")
    verify.add_argument("dir", metavar="DIR")
    verify.set_defaults(handler=cmd_verify, needs_services=False)

    restore_parser = groups.add_parser(
        "restore", help="restore a backup: a whole new service (--data-dir NEW), or one domain into the "
                        "running service (--domain D)",
        description="With --data-dir NEW (new or empty): the whole service, ready for "
                    "`mailgothai --data-dir NEW stack up`; MAILGOTHAI_* variables (e.g. other ports) "
                    "override the backup's settings and are written into NEW's.")
    restore_parser.add_argument("dir", metavar="DIR", help="the backup")
    restore_parser.add_argument("--quiet", action="store_true", help="print only the result")
    restore_domain.add_options(restore_parser)
    restore_parser.set_defaults(handler=cmd_restore, needs_services=False)


def _progress(args: argparse.Namespace) -> Callable[[str], None]:
    quiet = getattr(args, "quiet", False)

    def say(step: str) -> None:
        if not quiet:
            print(f"... {step}", file=sys.stderr, flush=True)

    return say


def cmd_backup(args: argparse.Namespace, settings: Settings) -> int:
    if not args.out:
        raise InvalidInput("out", Why.EMPTY())
    result = backup.take_backup(settings, Path(args.out), Path(args.since) if args.since else None,
                                mail=not args.no_mail, progress=_progress(args))
    counts = result.manifest.counts
    print(f"backup written: {result.path}")
    print(f"  accounts {counts.get('accounts', 0)}, domains {counts.get('domains', 0)}, "
          f"entries {counts.get('entries', 0)}, audit records {counts.get('audit_records', '-')}")
    if result.manifest.mail_included:
        print(f"  mail files {result.linked + result.copied} ({result.linked} linked from the earlier backup, "
              f"{result.copied} copied; {len(result.manifest.gone)} gone while copying)")
    print(f"  manifest sha256 {result.digest} (keep it apart from the backup)")
    return 0


def cmd_verify(args: argparse.Namespace, settings: Settings) -> int:
    checked = backup_manifest.verify(Path(args.dir), pg_restore=restore._pg_restore_or_default())
    if checked.ok:
        assert checked.manifest is not None
        print(f"{args.dir}: intact ({len(checked.manifest.files)} files, created {checked.manifest.created}, "
              f"manifest sha256 {backup_manifest.manifest_digest(Path(args.dir))})")
        return 0
    for problem in checked.problems:
        print(f"mailgothai: error: {args.dir}: {problem}", file=sys.stderr)
    print(f"mailgothai: error: {args.dir} is not a usable backup ({len(checked.problems)} problems)", file=sys.stderr)
    return 1


def cmd_restore(args: argparse.Namespace, settings: Settings) -> int:
    if args.domain:  # one domain back into the running service (cli/restore_domain.py)
        return restore_domain.cmd_restore_domain(args, settings)
    if args.data_dir is None and "MAILGOTHAI_DATA_DIR" not in os.environ:
        raise InvalidInput("data_dir", Why.RESTORE_NEEDS_DATA_DIR())
    result = restore.restore_full(Path(args.dir), settings, progress=_progress(args))
    print(f"restored {args.dir} into {result.settings.data_dir} "
          f"({result.manifest.counts.get('accounts', 0)} accounts, {result.manifest.counts.get('domains', 0)} domains)")
    if result.reset:
        print(f"  settings now under the new data directory: {', '.join(result.reset)}")
    print(f"start it with: mailgothai --data-dir {result.settings.data_dir} stack up")
    return 0
