"""`mailgothai password-lifecycle ...` and `mailgothai password-expiry run` (issue 20):
a domain's "change at next login" and expiry settings, and the expiry job.

    mailgothai password-lifecycle show --domain D
    mailgothai password-lifecycle set --domain D [--must-change-generated yes|no]
                                      [--must-change-on-create yes|no] [--max-age-days N|off] [--warn-days N]
    mailgothai password-expiry run [--now ISO-TIME] [--json]

The job (deploy/systemd/mailgothai-password-expiry.timer, hourly) marks expired passwords
(IMAP and SMTP AUTH then refuse them, saying where to change them) and sends each warning
once through the relay's submission, as Sieve mail is sent (stack/sieve_sendmail.py: the
stack's secret on behalf of the user, envelope sender <>)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from mailgothai.cli.common import add_json
from mailgothai.cli.output import print_json
from mailgothai.core.reasons import Why
from mailgothai.errors import InvalidInput
from mailgothai.relay_submission import RelaySubmission
from mailgothai.services.password_lifecycle import DomainLifecycle, PasswordExpiry, PasswordLifecycleService, Send
from mailgothai.services.registry import Services
from mailgothai.settings import Settings

OPTIONS = (("must_change_generated", "--must-change-generated"), ("must_change_on_create", "--must-change-on-create"),
           ("max_age_days", "--max-age-days"), ("warn_days", "--warn-days"))


def register(groups: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = groups.add_parser("password-lifecycle", help="change at next login and expiry of a domain's passwords")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    show = commands.add_parser("show", help="a domain's settings")
    show.add_argument("--domain", required=True)
    add_json(show)
    show.set_defaults(handler=cmd_show)
    put = commands.add_parser("set", help="change the settings given (the others stay)")
    put.add_argument("--domain", required=True)
    put.add_argument("--must-change-generated", dest="must_change_generated", metavar="yes|no",
                     help="a new account with a generated password changes it at first login (default yes)")
    put.add_argument("--must-change-on-create", dest="must_change_on_create", metavar="yes|no",
                     help="every new account changes its password at first login (default no)")
    put.add_argument("--max-age-days", dest="max_age_days", metavar="N|off",
                     help="a password older than this must be changed (default off)")
    put.add_argument("--warn-days", dest="warn_days", metavar="N", help="warning mail this many days before (14)")
    add_json(put)
    put.set_defaults(handler=cmd_set)

    expiry = groups.add_parser("password-expiry", help="mark expired passwords and send the warnings")
    runs = expiry.add_subparsers(dest="command", metavar="COMMAND", required=True)
    run = runs.add_parser("run", help="one run (the systemd timer's)")
    run.add_argument("--now", help="the time to judge by, ISO 8601 (default: now)")
    add_json(run)
    run.set_defaults(handler=cmd_run)


def _print(item: DomainLifecycle) -> None:
    lc = item.lifecycle
    print(f"{item.domain}")
    print(f"  change at first login, generated password  {'yes' if lc.must_change_generated else 'no'}")
    print(f"  change at first login, every new account   {'yes' if lc.must_change_on_create else 'no'}")
    print(f"  maximum age                                {lc.max_age_days or 'off'}"
          f"{' days' if lc.max_age_days else ''}")
    print(f"  warning before expiry                      {lc.warn_days} days")


def cmd_show(args: argparse.Namespace, services: Services) -> int:
    item = PasswordLifecycleService(services.backends, services.actor).show(args.domain)
    print_json(item.as_dict()) if args.json else _print(item)
    return 0


def cmd_set(args: argparse.Namespace, services: Services) -> int:
    changes = {name: getattr(args, name) for name, _ in OPTIONS if getattr(args, name) is not None}
    item = PasswordLifecycleService(services.backends, services.actor).set(args.domain, changes, datetime.now(UTC))
    print_json(item.as_dict()) if args.json else _print(item)
    return 0


def relay_sender(settings: Settings) -> Send:
    """Sends a warning to an account through the relay's submission, as the web's system
    mail goes (relay_submission.py: the Sieve system login, the relay's certificate pinned)."""
    submission = RelaySubmission(settings)

    def send(email: str, message: bytes) -> None:
        submission.send(email, [email], message)

    return send


def cmd_run(args: argparse.Namespace, services: Services) -> int:
    try:
        now = datetime.fromisoformat(args.now) if args.now else datetime.now(UTC)
    except ValueError:
        raise InvalidInput("now", Why.NOT_A_CHOICE(choices="an ISO 8601 time", value=args.now)) from None
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    report = PasswordExpiry(services.backends, relay_sender(services.backends.settings)).run(now)
    if args.json:
        print_json(report.as_dict())
        return 0
    for email in report.marked:
        print(f"expired, must change: {email}")
    for email in report.warned:
        print(f"warned: {email}")
    for email in report.failed:
        print(f"warning not sent (next run tries again): {email}")
    print(f"{len(report.marked)} expired; {len(report.warned)} warned; {len(report.failed)} not sent; "
          f"{report.stamped} clocks started")
    return 1 if report.failed else 0
