"""The compiled rules as Pigeonhole itself runs them (`sieve-test`, Debian dovecot-sieve):
each rule does exactly what it says, and a value built to break out of its string
(quotes, backslashes, Sieve syntax, `${...}`) is only ever text the header is compared with."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from mailgothai.core.sieve_filters import check_rules, compile_rules
from mailgothai.settings import Settings

HOSTILE = '"; discard; stop; if true { redirect "x@evil.example"; } #\\'


@pytest.fixture()
def run_sieve():  # type: ignore[no-untyped-def]
    """Runs a script on a message with Pigeonhole's sieve-test; gives its performed actions."""
    tool = shutil.which("sieve-test", path="/usr/bin:/usr/sbin")
    assert tool, "dovecot-sieve is installed with the stack (scripts/install.sh)"
    # sieve-test drops to mail_uid and keeps a compiled binary beside the script: a directory
    # that user can reach and write (pytest's own tmp_path is the runner's only)
    with tempfile.TemporaryDirectory(prefix="mgt-sieve-") as where:
        tmp_path = Path(where)
        tmp_path.chmod(0o1777)
        yield _runner(tool, tmp_path)


def _runner(tool: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    settings = Settings()
    conf = tmp_path / "dovecot.conf"
    conf.write_text(f"mail_location = maildir:{tmp_path}/Maildir\nmail_uid = {settings.mail_uid}\n"
                    f"mail_gid = {settings.mail_gid}\nfirst_valid_uid = {settings.mail_uid}\n"
                    f"base_dir = {tmp_path}/run\n")
    count = iter(range(1000))

    def run(script: str, message: str) -> str:
        n = next(count)
        (tmp_path / f"s{n}.sieve").write_text(script, encoding="utf-8")
        (tmp_path / f"m{n}.eml").write_text(message.replace("\n", "\r\n"), encoding="utf-8")
        for f in (conf, tmp_path / f"s{n}.sieve", tmp_path / f"m{n}.eml"):
            f.chmod(0o644)
        done = subprocess.run([tool, "-c", str(conf), str(tmp_path / f"s{n}.sieve"), str(tmp_path / f"m{n}.eml")],
                              capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr + done.stdout
        return done.stdout.split("Performed actions:", 1)[1]

    return run


def message(sender: str, subject: str) -> str:
    return f"From: {sender}\nTo: somchai@moph.go.th\nSubject: {subject}\n\nhello\n"


def test_each_action_does_what_the_rule_says(run_sieve) -> None:  # type: ignore[no-untyped-def]
    script = compile_rules(check_rules([
        {"field": "subject", "contains": "ประชุม", "action": "move", "folder": "งาน/ประชุม"},
        {"field": "sender", "contains": "boss@agency.go.th", "action": "forward", "address": "malee@moph.go.th"},
        {"field": "sender", "contains": "Spam King", "action": "discard"},
    ]))
    moved = run_sieve(script, message("a@x.org", "=?UTF-8?B?4Lib4Lij4Liw4LiK4Li44Lih?= 3"))  # ประชุม, MIME-encoded
    assert "store message in folder: งาน/ประชุม" in moved and "create mailbox" in moved
    assert "INBOX" not in moved  # the first matching rule decides: not kept in the inbox as well
    forwarded = run_sieve(script, message("The Boss <BOSS@agency.go.th>", "hi"))
    assert "redirect message to: <malee@moph.go.th>" in forwarded and "store message in folder: INBOX" in forwarded
    discarded = run_sieve(script, message('"Spam King" <k@x.org>', "hi"))
    assert "discard" in discarded and "INBOX" not in discarded
    untouched = run_sieve(script, message("someone@x.org", "hello"))
    assert "store message in folder: INBOX" in untouched and "งาน" not in untouched and "redirect" not in untouched


def test_a_hostile_value_is_compared_as_text_and_does_nothing_else(run_sieve) -> None:  # type: ignore[no-untyped-def]
    script = compile_rules(check_rules([
        {"field": "subject", "contains": HOSTILE, "action": "move", "folder": 'Odd "name" \\ ${hex:41}'},
        {"field": "sender", "contains": "${hex:41}", "action": "discard"},
    ]))
    plain = run_sieve(script, message("someone@x.org", "a normal subject"))
    assert "discard" not in plain and "redirect" not in plain and "store message in folder: INBOX" in plain
    hit = run_sieve(script, message("someone@x.org", f"Re: {HOSTILE} tail"))
    assert 'store message in folder: Odd "name" \\ ${hex:41}' in hit
    assert "discard" not in hit and "redirect" not in hit
    # `${hex:41}` is not "A": no variables or encoded-character extension is required
    assert "discard" not in run_sieve(script, message("AAA <aaa@x.org>", "x"))
    assert "discard" in run_sieve(script, message("${hex:41} <q@x.org>", "x"))
