"""The operator's Sieve scripts: run by Dovecot's LMTP before every user's own.

They live in DATA/dovecot/sieve/before.d (Pigeonhole's `sieve_before` points at the
directory: every `NAME.sieve` there runs, in file-name order). Dovecot's delivery runs as
the mail user, which may read them but not change them: the directory and files belong to
the stack's user with the mail group (0750 / 0640), and each script is compiled here with
`sievec`, since the mail user cannot write the compiled binary next to it.

A script that files a message away (`fileinto "Junk"`) cancels the implicit keep, and then
nothing after it runs: neither the user's filters nor the out-of-office reply.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from mailgothai.core.sieve_mail import SIEVE_LOGIN
from mailgothai.errors import StackError
from mailgothai.mailstore.paths import paths_for
from mailgothai.paths import DEPLOY_DIR
from mailgothai.settings import Settings
from mailgothai.stack import sieve_sendmail
from mailgothai.stack.process import run_tool
from mailgothai.stack.templates import render, write_private

# What the stack puts first in before.d: nothing to do yet, but a place for the operator.
BASE_NAME = "00-mailgothai"
BASE_SCRIPT = """\
# MailGoThai: run at delivery before every user's own Sieve script.
# Written by `mailgothai stack up`; other scripts of this directory run after it, in
# file-name order. A script that files a message away ends the sequence.
"""
# With inbound protection (settings.protection): a message the relay marked as spam
# (X-Spam: Yes, over its domain's junk score) goes to the recipient's Junk folder, made if
# missing; the user's own filters and out-of-office reply then do not run for it.
JUNK_NAME = "10-mailgothai-junk"
JUNK_SCRIPT = """\
# MailGoThai: mail the relay marked as spam goes to Junk (written by `mailgothai stack up`
# while settings.protection is 1).
require ["fileinto", "mailbox"];
if header :is "X-Spam" "Yes" {
  fileinto :create "Junk";
}
"""
_NAME = re.compile(r"[0-9A-Za-z][0-9A-Za-z._-]{0,63}")


def _share_with_mail_group(path: Path, mode: int, settings: Settings) -> None:
    if os.geteuid() == 0:
        os.chown(path, os.geteuid(), settings.mail_gid)
    os.chmod(path, mode)


def ensure_dirs(settings: Settings) -> Path:
    paths = paths_for(settings)
    for directory in (paths.sieve_dir, paths.sieve_before_dir):
        directory.mkdir(parents=True, exist_ok=True)
        _share_with_mail_group(directory, 0o750, settings)
    # the mail user passes through DATA/dovecot (0711 at most: nothing listable) to reach them
    root_mode = paths.root.stat().st_mode & 0o777
    os.chmod(paths.root, root_mode | 0o011)
    return paths.sieve_before_dir


def install_before(settings: Settings, name: str, text: str) -> Path:
    """Write before.d/NAME.sieve and compile it (sievec, with the stack's Dovecot
    configuration); a script that does not compile leaves the old one in place and
    raises StackError with sievec's message. Dovecot picks it up at the next delivery."""
    if not _NAME.fullmatch(name) or name.endswith(".sieve"):
        raise StackError(f"not a Sieve script name: {name!r}")
    directory = ensure_dirs(settings)
    config = paths_for(settings).config
    script, binary = directory / f"{name}.sieve", directory / f"{name}.svbin"
    tmp_script = directory / f".{name}.sieve.tmp"
    tmp_binary = directory / f".{name}.svbin.tmp"
    tmp_script.write_text(text, encoding="utf-8")
    try:
        # compiled once aside, so a script that does not compile replaces nothing
        run_tool(["sievec", "-c", str(config), str(tmp_script), str(tmp_binary)], what=f"sievec {name}.sieve")
        _share_with_mail_group(tmp_script, 0o640, settings)
        os.replace(tmp_script, script)
        # and again in place: the binary names its script, and Pigeonhole recompiles one
        # that names another (which the mail user may not write here)
        run_tool(["sievec", "-c", str(config), str(script)], what=f"sievec {name}.sieve")
        _share_with_mail_group(binary, 0o640, settings)
    finally:
        for path in (tmp_script, tmp_binary):
            path.unlink(missing_ok=True)
    return script


def write_global(settings: Settings) -> None:
    """At every start: the directory, the stack's own first script and, with inbound
    protection, the Junk one (compiled)."""
    directory = ensure_dirs(settings)
    wanted = {BASE_NAME: BASE_SCRIPT, **({JUNK_NAME: JUNK_SCRIPT} if settings.protection else {})}
    for name, text in wanted.items():
        script = directory / f"{name}.sieve"
        binary = directory / f"{name}.svbin"
        current = script.read_text(encoding="utf-8") if script.is_file() else None
        if current != text or not binary.is_file() or binary.stat().st_mtime < script.stat().st_mtime:
            install_before(settings, name, text)
    if not settings.protection:
        remove_before(settings, JUNK_NAME)
    for path in directory.iterdir():  # a data dir copied or restored by root: modes again
        if path.suffix in (".sieve", ".svbin"):
            _share_with_mail_group(path, 0o640, settings)



def remove_before(settings: Settings, name: str) -> bool:
    """Take before.d/NAME.sieve (and its binary) away; True if it was there."""
    if not _NAME.fullmatch(name) or name == BASE_NAME:
        raise StackError(f"not a removable Sieve script name: {name!r}")
    directory = paths_for(settings).sieve_before_dir
    found = (directory / f"{name}.sieve").is_file()
    for suffix in (".sieve", ".svbin"):
        (directory / f"{name}{suffix}").unlink(missing_ok=True)
    return found


PICKUP_MODES = {"tmp": 0o1730, "new": 0o1770, "bad": 0o700}


def ensure_pickup(settings: Settings) -> Path:
    """The relay's pickup directory for Sieve mail (relay/sieve_pickup.py), which Dovecot's
    mail user alone may write to (the relay drains it):

        SPOOL/                 the relay's; search (x) for others, nothing listable
        SPOOL/sieve-pickup/    the relay's (SPOOL's owner), 0711
            tmp/               the relay's with the mail group, 1730: the mail user
                               makes files there, cannot list them
            new/               the same, 1770: the mail user reads the directory to fsync
                               it after a rename (its files are all the mail user's own)
            bad/               the relay's, 0700: files the relay set aside

    Without root (no chgrp), tmp/ and new/ are 0700: the mail user is then the stack user."""
    pickup = settings.sieve_pickup_dir
    spool = pickup.parent
    spool.mkdir(parents=True, exist_ok=True, mode=0o700)
    if os.geteuid() == 0:
        from mailgothai.stack.dovecot import grant_traversal  # (dovecot.py imports this module)

        grant_traversal(spool, settings.mail_uid, settings.mail_gid)
    pickup.mkdir(exist_ok=True, mode=0o700)
    relay_uid = spool.stat().st_uid
    if os.geteuid() == 0:
        os.chown(pickup, relay_uid, -1)
    os.chmod(pickup, 0o711)
    for name in ("tmp", "new", "bad"):
        directory = pickup / name
        directory.mkdir(exist_ok=True, mode=0o700)
        if os.geteuid() == 0:  # the relay's, whoever runs this (the relay takes the files)
            os.chown(directory, relay_uid, settings.mail_gid if name != "bad" else -1)
        os.chmod(directory, PICKUP_MODES[name] if os.geteuid() == 0 else 0o700)
    return pickup


def sendmail_config(settings: Settings) -> Path:
    """What stack/sieve_sendmail.py reads: the relay's address, its certificate's SHA-256
    and the secret; the mail user's alone (0400)."""
    return paths_for(settings).sieve_dir / "submit.json"


def sendmail_command(settings: Settings) -> Path:
    return paths_for(settings).sieve_dir / "sendmail"


def write_sendmail(settings: Settings, certificate: Path) -> Path:
    """Dovecot's sendmail_path for Sieve mail (stack/sieve_sendmail.py): a small script,
    root's with the mail group, and its settings, readable by the mail user only."""
    ensure_dirs(settings)
    pem = certificate.read_bytes()
    der = x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)
    host, port = settings.host, str(settings.submission_port)
    if settings.sieve_submission:
        host, _, port = settings.sieve_submission.rpartition(":")
        if not host or not port.isdigit():
            raise StackError(f"sieve_submission: not host:port: {settings.sieve_submission!r}")
    values = {"host": host.strip("[]"), "port": port, "login": SIEVE_LOGIN,
              "certificate_sha256": hashlib.sha256(der).hexdigest(), "secret": str(settings.sieve_submit_secret)}
    # the relay shares this data dir: its pickup, no SMTP (the script holds the directory)
    pickup = "" if settings.sieve_submission else str(ensure_pickup(settings))
    conf = sendmail_config(settings)
    write_private(conf, json.dumps(values))
    if os.geteuid() == 0:
        os.chown(conf, settings.mail_uid, settings.mail_gid)
    os.chmod(conf, 0o400)
    # The client is copied beside its settings and run by a Python the mail user can run:
    # the project's own may live where only root may go (a virtualenv under /root).
    client = paths_for(settings).sieve_dir / "sieve_sendmail.py"
    write_private(client, Path(sieve_sendmail.__file__).read_text(encoding="utf-8"))
    _share_with_mail_group(client, 0o640, settings)
    command = sendmail_command(settings)
    write_private(command, render("dovecot/sieve-sendmail.sh.in", {
        "python": _python_for_mail_user(), "client": client, "config": conf, "pickup": _pickup_part(pickup),
    }))
    _share_with_mail_group(command, 0o750, settings)
    return command


def _pickup_part(pickup: str) -> str:
    """The shell that drops Sieve mail into the relay's pickup (deploy/dovecot/sieve-pickup.sh):
    a few small programs rather than a Python start, on every out-of-office reply."""
    if not pickup:
        return ""
    if "'" in pickup:
        raise StackError(f"the relay's spool directory may not hold a quote: {pickup!r}")
    return f"pickup='{pickup}'\n" + (DEPLOY_DIR / "dovecot" / "sieve-pickup.sh").read_text(encoding="utf-8")


def _python_for_mail_user() -> str:
    """The system's Python 3 (Debian's; the client needs only the standard library),
    else the one running this."""
    for candidate in ("/usr/bin/python3", "/usr/local/bin/python3"):
        if os.access(candidate, os.X_OK) and all(os.stat(d).st_mode & 0o001 for d in Path(candidate).parents):
            return candidate
    return sys.executable
