"""What the quarantine shows of a message (core/quarantine.py): the subject decoded however
the sender wrote it, the headers, the text of an HTML body without its markup or scripts,
attachments by name; and the release's queue id."""

from __future__ import annotations

import pytest

from mailgothai.core.quarantine import MESSAGE_ID, html_text, preview, release_queue_id, subject_of


@pytest.mark.parametrize(("head", "subject"), [
    (b"Subject: =?utf-8?b?4Lij4Liy4LiH4Lin4Lix4Lil?= you won", "รางวัล you won"),
    ("Subject: ยืนยันบัญชี".encode(), "ยืนยันบัญชี"),  # SMTPUTF8: raw UTF-8
    ("Subject: ยืนยัน".encode("cp874"), "ยืนยัน"),  # an older Thai system's TIS-620
    (b"Subject: a\r\n  folded\r\n\tsubject", "a folded subject"),
    (b"X-Other: 1", ""),
    (b"Subject: " + b"x" * 400, "x" * 255),
])
def test_the_subject_as_a_person_reads_it(head: bytes, subject: str) -> None:
    assert subject_of(head + b"\r\nFrom: a@b.example\r\n\r\nSubject: not this one\r\n") == subject


def test_an_html_body_is_shown_as_its_text_only() -> None:
    message = (b"From: Bank <a@bank.example>\r\nSubject: verify\r\nMIME-Version: 1.0\r\n"
               b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/html\r\n\r\n"
               b"<html><head><style>p{}</style></head><body><p>Verify&nbsp;now</p><script>steal()</script>"
               b"<a href='http://evil.example/'>here</a></body></html>\r\n--b\r\n"
               b"Content-Type: application/pdf\r\nContent-Disposition: attachment; filename=invoice.pdf\r\n\r\n"
               b"JVBERi0=\r\n--b--\r\n")
    shown = preview(message)
    assert shown.text == "Verify now\nhere"
    assert shown.attachments == ("invoice.pdf",)
    assert ("Subject", "verify") in shown.headers and ("From", "Bank <a@bank.example>") in shown.headers


def test_html_text_skips_scripts_and_styles() -> None:
    assert html_text("<style>x</style><p>a</p><script>b</script>c") == "a\nc"


def test_each_recipients_release_has_its_own_queue_id_unlike_any_the_relay_gives() -> None:
    first, second = release_queue_id("0" * 22, 1), release_queue_id("0" * 22, 2)
    assert first != second and len(first) == 32 and not MESSAGE_ID.fullmatch(first)
    assert all(c in "0123456789abcdef" for c in first)
