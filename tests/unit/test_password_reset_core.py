"""The pure parts of the self-service reset (core/password_reset.py): tokens and what is
stored of them, the throttle's decision, and the two mails in Thai and English."""

from __future__ import annotations

import email
import email.policy
import hashlib
from datetime import UTC, datetime

from mailgothai.core import password_reset as pr

NOW = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)


def test_a_token_is_32_random_bytes_and_only_its_sha256_is_kept() -> None:
    tokens = {pr.new_token() for _ in range(100)}
    assert len(tokens) == 100
    assert all(pr.plausible_token(t) and len(t) == pr.TOKEN_CHARS for t in tokens)
    token = next(iter(tokens))
    assert pr.token_hash(token) == hashlib.sha256(token.encode()).hexdigest() != token
    assert not pr.plausible_token(token[:-1]) and not pr.plausible_token(token[:-1] + "/")
    assert not pr.plausible_token(token[:-1] + "ก")


def test_the_throttle_refuses_a_client_and_quiets_an_address() -> None:
    rules = pr.ThrottleRules(per_address=3, per_source=20)
    assert pr.admit(rules, 2, 19) == pr.Admission(source_over=False, address_over=False)
    assert pr.admit(rules, 3, 0) == pr.Admission(source_over=False, address_over=True)
    assert pr.admit(rules, 0, 20) == pr.Admission(source_over=True, address_over=False)
    assert pr.admit(pr.ThrottleRules(0, 0), 10**6, 10**6) == pr.Admission(False, False)  # 0: no limit
    assert pr.address_key(" Somchai@MOPH.go.th ") == pr.address_key("somchai@moph.go.th")
    assert pr.source_key("2001:db8::1") == pr.source_key("2001:db8::2")  # one IPv6 /64
    assert pr.source_key("192.0.2.1") != pr.source_key("192.0.2.2")


def test_the_reset_mail_in_thai_and_english() -> None:
    url = pr.link("https://mail.example.go.th/", "/mail/reset", "T" * 43)
    assert url == "https://mail.example.go.th/mail/reset/" + "T" * 43
    raw = pr.reset_mail(account="somchai@moph.go.th", to="somchai.home@gmail.example", url=url, lifetime=1800,
                        now=NOW)
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["From"] == "no-reply@moph.go.th" and msg["To"] == "somchai.home@gmail.example"
    assert msg["Subject"] == "ตั้งรหัสผ่านใหม่ / Reset your password: somchai@moph.go.th"
    assert msg["Auto-Submitted"] == "auto-generated" and msg["Message-ID"].endswith("@moph.go.th>")
    body = msg.get_body()
    assert body is not None
    text = body.get_content()
    assert text.count(url) == 2 and "30 นาที" in text and "30 minutes" in text
    assert max(len(line) for line in raw.split(b"\r\n")) <= 78  # quoted-printable keeps lines short


def test_the_confirmation_mail_names_the_account_and_the_address() -> None:
    url = pr.link("https://mail.example.go.th", "/mail/recovery/confirm", "C" * 43)
    raw = pr.confirm_mail(account="malee@moe.go.th", to="malee@outside.example", url=url, now=NOW)
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    body = msg.get_body()
    assert body is not None
    text = body.get_content()
    assert "malee@moe.go.th" in text and "malee@outside.example" in text and url in text
    assert "ยืนยัน" in msg["Subject"] and "Confirm" in msg["Subject"]
