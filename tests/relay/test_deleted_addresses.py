"""A deleted account's address is refused at RCPT like an unknown user (550 5.1.1), on the
MX and on the submission port, at once: also when the relay had the address in its cache
(the delete tells the relay of this node to forget its cached answers). A renamed account's
old address goes the same way unless it was kept as an alias."""

from __future__ import annotations

import pytest

from mailgothai.services.registry import Services
from mailgothai.settings import Settings
from relay.conftest import MailDomain, relay_with
from relay.helpers import mx, submission

pytestmark = pytest.mark.integration


def _rcpt(client, address: str, sender: str = "someone@example.org") -> tuple[int, bytes]:  # type: ignore[no-untyped-def]
    client.rset()
    assert client.mail(sender)[0] == 250
    return client.rcpt(address)


def test_a_deleted_address_gets_550_5_1_1_at_rcpt_on_both_ports(relay: Settings, mail_domain: MailDomain,
                                                                 services: Services) -> None:
    gone = mail_domain.account("gone")
    sender = mail_domain.account("sender")
    with relay_with(relay, relay_lookup_cache_ttl=300) as cached:  # answers would be reused for 5 minutes
        with mx(cached) as outside, submission(cached, sender) as inside:
            assert _rcpt(outside, gone)[0] == 250  # now in the relay's cache
            assert _rcpt(inside, gone, sender)[0] == 250
            services.accounts.delete(gone)
            for client, mail_from in ((outside, "someone@example.org"), (inside, sender)):
                code, text = _rcpt(client, gone, mail_from)
                assert (code, text[:5]) == (550, b"5.1.1"), text


def test_a_renamed_account_old_address_is_refused_unless_kept(relay: Settings, mail_domain: MailDomain,
                                                              services: Services) -> None:
    old = mail_domain.account("before")
    with relay_with(relay, relay_lookup_cache_ttl=300) as cached, mx(cached) as client:
        assert _rcpt(client, old)[0] == 250
        services.lifecycle.rename(old, f"after@{mail_domain.name}")
        assert _rcpt(client, old)[:1] == (550,)
        assert _rcpt(client, f"after@{mail_domain.name}")[0] == 250
        services.lifecycle.rename(f"after@{mail_domain.name}", f"later@{mail_domain.name}", keep_old_as_alias=True)
        assert _rcpt(client, f"after@{mail_domain.name}")[0] == 250


def test_an_address_made_of_filter_characters_is_only_itself(relay: Settings, mail_domain: MailDomain) -> None:
    """The recipient lookup sends the address as a value, never as filter text: '*' (valid
    in a local part) matches no account (an escape sequence is refused earlier, as syntax)."""
    mail_domain.account("somchai")
    with mx(relay) as outside:
        for address in (f"*@{mail_domain.name}", f"s*@{mail_domain.name}"):
            code, text = _rcpt(outside, address)
            assert (code, text[:5]) == (550, b"5.1.1"), (address, text)
        assert _rcpt(outside, f"\\2a@{mail_domain.name}")[0] == 553
        assert _rcpt(outside, f"somchai@{mail_domain.name}")[0] == 250
