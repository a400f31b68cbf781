"""core/scan_results.py: what the relay reads out of rspamd's scan and writes about it."""

from __future__ import annotations

from mailgothai.core.scan_results import (
    UNSCANNED,
    authentication_results,
    sender_authenticated,
    symbols_text,
    verdict_headers,
    without_spam_headers,
)
from mailgothai.core.spam import Scan

MESSAGE = (b"Received: from a\r\nX-Spam: No\r\nX-SPAM-Score: -5.00\r\nSubject: hi\r\n"
           b"X-Spam-Symbols: A(1),\r\n\tB(2)\r\nTo: <b@example.com>\r\n\r\nX-Spam: stays in the body\r\n")


def test_every_x_spam_field_from_outside_goes_with_its_continuation_lines() -> None:
    out = without_spam_headers(MESSAGE)
    assert out == (b"Received: from a\r\nSubject: hi\r\nTo: <b@example.com>\r\n\r\n"
                   b"X-Spam: stays in the body\r\n")


def test_a_message_without_x_spam_fields_is_the_same_object() -> None:
    message = b"Subject: x-spam in a value is fine\r\n\r\nbody\r\n"
    assert without_spam_headers(message) == message
    plain = b"Subject: hi\r\n\r\nbody\r\n"
    assert without_spam_headers(plain) is plain


def test_spf_dkim_and_dmarc_results_from_rspamds_symbols() -> None:
    scan = Scan("no action", 0.5, symbols={"R_SPF_ALLOW": -0.2, "R_DKIM_ALLOW": -0.2, "R_DKIM_REJECT": 1.0,
                                           "DMARC_POLICY_ALLOW": -0.5},
                options={"R_SPF_ALLOW": ("+ip4:192.0.2.1",), "R_DKIM_ALLOW": ("example.org:s=sel1",),
                         "R_DKIM_REJECT": ("other.example:s2",), "DMARC_POLICY_ALLOW": ("example.org", "reject")})
    field = authentication_results("mx.gov.test", scan, "a@example.org").decode()
    assert field == ("Authentication-Results: mx.gov.test;\r\n\tdkim=pass header.d=example.org header.s=sel1;\r\n"
                     "\tdkim=fail header.d=other.example header.s=s2;\r\n\tspf=pass smtp.mailfrom=a@example.org;\r\n"
                     "\tdmarc=pass header.from=example.org\r\n")


def test_no_symbols_are_none_results_and_the_null_sender() -> None:
    field = authentication_results("mx.gov.test", Scan("no action", 0.0), "").decode()
    assert field == "Authentication-Results: mx.gov.test;\r\n\tdkim=none;\r\n\tspf=none;\r\n\tdmarc=none\r\n"


def test_dmarc_reject_and_spf_fail() -> None:
    scan = Scan("no action", 5.0, symbols={"R_SPF_FAIL": 1.0, "DMARC_POLICY_REJECT": 2.0},
                options={"DMARC_POLICY_REJECT": ("bank.example", "reject")})
    field = authentication_results("mx", scan, "x@bank.example").decode()
    assert "spf=fail smtp.mailfrom=x@bank.example" in field and "dmarc=fail header.from=bank.example" in field


def test_dmarc_dns_failure_names_the_domain_only() -> None:
    scan = Scan("no action", 0.0, symbols={"DMARC_DNSFAIL": 0.0},
                options={"DMARC_DNSFAIL": ("signer.example : query timed out",)})  # as rspamd 3.4 gives it
    assert authentication_results("mx", scan, "").decode().endswith("\tdmarc=temperror header.from=signer.example\r\n")


def test_an_option_cannot_inject_into_the_field() -> None:
    scan = Scan("no action", 0.0, symbols={"R_DKIM_ALLOW": 0.0},
                options={"R_DKIM_ALLOW": ("evil.example;\r\n dkim=pass header.d=gov.test:s=x",)})
    field = authentication_results("mx", scan, "a@b.example")
    assert field.count(b"\r\n") == 4 and b"; dkim=pass header.d=gov.test" not in field


def test_the_sender_is_authenticated_only_for_its_own_domain() -> None:
    other_dkim = Scan("no action", 0.0, symbols={"R_DKIM_ALLOW": 0.0}, options={"R_DKIM_ALLOW": ("bulk.example:s=a",)})
    assert not sender_authenticated(other_dkim, "boss@partner.example")
    assert sender_authenticated(other_dkim, "news@bulk.example")
    spf = Scan("no action", 0.0, symbols={"R_SPF_ALLOW": 0.0})
    assert sender_authenticated(spf, "boss@partner.example")
    assert not sender_authenticated(spf, "")  # <>: nobody to allow
    dmarc = Scan("no action", 0.0, symbols={"DMARC_POLICY_ALLOW": 0.0},
                 options={"DMARC_POLICY_ALLOW": ("partner.example", "none")})
    assert sender_authenticated(dmarc, "boss@partner.example")
    assert not sender_authenticated(dmarc, "boss@elsewhere.example")
    assert not sender_authenticated(Scan("no action", 0.0, symbols={"R_SPF_FAIL": 1.0}), "boss@partner.example")


def test_x_spam_fields_of_spam_carry_the_symbols_bounded() -> None:
    many = {f"SYMBOL_NUMBER_{i:03d}": float(i) for i in range(1, 200)}
    spam = verdict_headers(True, Scan("no action", 12.345, symbols=many)).decode()
    lines = spam.split("\r\n")
    assert lines[0] == "X-Spam: Yes" and lines[1] == "X-Spam-Score: 12.35"
    assert lines[2].startswith("X-Spam-Symbols: SYMBOL_NUMBER_199(199.00),")
    assert len(spam) < 1100 and spam.rstrip().endswith("...")
    assert all(len(line) < 100 for line in lines)
    ham = verdict_headers(False, Scan("no action", -0.5, symbols={"A": 1.0})).decode()
    assert ham == "X-Spam: No\r\nX-Spam-Score: -0.50\r\n"
    assert UNSCANNED == b"X-Spam-Status: unscanned\r\n"


def test_symbols_text_leaves_out_those_that_scored_nothing() -> None:
    assert symbols_text({"ZERO": 0.0, "B": 1.0, "A": 1.0, "NEG": -1.0}) == "A(1.00),\r\n\tB(1.00),\r\n\tNEG(-1.00)"
