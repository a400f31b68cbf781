"""core/spam.py: what rspamd's verdict means under a domain's policy and its lists."""

from __future__ import annotations

import pytest

from mailgothai.core.spam import (
    ListKind,
    PolicyBounds,
    PolicyKey,
    Scan,
    SenderRule,
    SpamPolicy,
    Verdict,
    check_policy,
    decide,
    listed,
)
from mailgothai.errors import InvalidInput

DEFAULT = PolicyKey(SpamPolicy(), allowed=False)
CLEAN = Scan("no action", 1.0)


def verdict(scan: Scan, key: PolicyKey = DEFAULT, authenticated: bool = False) -> Verdict:
    return decide(scan, key, sender_authenticated=authenticated).verdict


@pytest.mark.parametrize(("score", "expected"), [
    (-2.0, Verdict.DELIVER), (5.9, Verdict.DELIVER), (6.0, Verdict.JUNK), (9.9, Verdict.JUNK),
    (10.0, Verdict.QUARANTINE), (14.9, Verdict.QUARANTINE), (15.0, Verdict.REJECT), (99.0, Verdict.REJECT),
])
def test_score_thresholds_of_the_default_policy(score: float, expected: Verdict) -> None:
    assert verdict(Scan("no action", score)) is expected


def test_a_domain_without_reject_quarantines_what_would_be_rejected() -> None:
    key = PolicyKey(SpamPolicy(reject=None), allowed=False)
    assert verdict(Scan("no action", 40.0), key) is Verdict.QUARANTINE
    assert verdict(Scan("reject", 0.0), key) is Verdict.QUARANTINE  # GTUBE: rspamd's own reject, no score


def test_rspamd_reject_is_the_strongest_outcome_the_domain_allows() -> None:
    assert verdict(Scan("reject", 0.0)) is Verdict.REJECT
    key = PolicyKey(SpamPolicy(reject=None, quarantine=None), allowed=False)
    assert verdict(Scan("reject", 0.0), key) is Verdict.JUNK
    nothing = PolicyKey(SpamPolicy(reject=None, quarantine=None, junk=None), allowed=False)
    assert verdict(Scan("reject", 0.0), nothing) is Verdict.DELIVER


def test_per_domain_scores_change_the_outcome() -> None:
    strict = PolicyKey(SpamPolicy(junk=2.0, quarantine=4.0, reject=5.0), allowed=False)
    assert verdict(Scan("add header", 5.5)) is Verdict.DELIVER
    assert verdict(Scan("add header", 5.5), strict) is Verdict.REJECT


def test_a_virus_is_refused_even_for_an_allowed_authenticated_sender() -> None:
    scan = Scan("reject", 0.0, {"CLAM_VIRUS": 0.0}, {"CLAM_VIRUS": ("Eicar-Signature",)})
    decision = decide(scan, PolicyKey(SpamPolicy(), allowed=True), sender_authenticated=True)
    assert decision.verdict is Verdict.VIRUS and decision.detail == "Eicar-Signature"


def test_dmarc_reject_is_refused_even_for_an_allowed_sender() -> None:
    scan = Scan("add header", 3.5, {"DMARC_POLICY_REJECT": 3.5})
    assert verdict(scan, PolicyKey(SpamPolicy(), allowed=True), authenticated=True) is Verdict.DMARC_REJECT


def test_an_allow_entry_counts_only_for_an_authenticated_sender() -> None:
    spam = Scan("reject", 30.0)
    allowed = PolicyKey(SpamPolicy(), allowed=True)
    assert verdict(spam, allowed, authenticated=True) is Verdict.DELIVER
    assert verdict(spam, allowed, authenticated=False) is Verdict.REJECT  # forged allowed sender


def test_greylisting_follows_the_domains_switch() -> None:
    grey = Scan("soft reject", 0.0, {"GREYLIST": 0.0}, {"GREYLIST": ("greylisted", "Fri, 04 Dec")})
    assert verdict(grey) is Verdict.GREYLIST
    off = PolicyKey(SpamPolicy(greylisting=False), allowed=False)
    assert verdict(grey, off) is Verdict.DELIVER
    assert verdict(Scan("soft reject", 0.0, {"RATELIMIT": 0.0})) is Verdict.TEMPFAIL
    passed = Scan("no action", 0.0, {"GREYLIST": 0.0}, {"GREYLIST": ("pass",)})
    assert verdict(passed) is Verdict.DELIVER


def test_block_wins_over_allow_at_any_level() -> None:
    rules = [SenderRule("a.go.th", ListKind.ALLOW, "partner.example"),
             SenderRule("u@a.go.th", ListKind.BLOCK, "bad@partner.example")]
    assert listed(["bad@partner.example"], rules) is ListKind.BLOCK
    assert listed(["good@partner.example"], rules) is ListKind.ALLOW
    assert listed(["x@mail.partner.example"], rules) is ListKind.ALLOW  # subdomains too
    assert listed(["x@notpartner.example"], rules) is None
    assert listed(["", "x@other.example"], rules) is None


def test_a_policy_must_be_ordered_and_inside_the_operators_bounds() -> None:
    with pytest.raises(InvalidInput) as err:
        check_policy(SpamPolicy(junk=8.0, quarantine=7.0))
    assert err.value.field == "quarantine_score"
    bounds = PolicyBounds(lowest_score=3.0, highest_score=50.0, longest_quarantine_days=30)
    with pytest.raises(InvalidInput) as err:
        check_policy(SpamPolicy(junk=1.0), bounds)
    assert err.value.field == "junk_score"
    with pytest.raises(InvalidInput) as err:
        check_policy(SpamPolicy(quarantine_days=60), bounds)
    assert err.value.field == "quarantine_days"
    with pytest.raises(InvalidInput) as err:
        check_policy(SpamPolicy(reject=float("nan")))
    assert err.value.field == "reject_score"
    assert check_policy(SpamPolicy(quarantine_days=60)).quarantine_days == 60  # the operator is not bound
    with pytest.raises(InvalidInput):
        check_policy(SpamPolicy(greylisting=False), PolicyBounds(may_disable_greylisting=False))
