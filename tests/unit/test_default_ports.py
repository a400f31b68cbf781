"""Every default port of Settings is one that Chromium and Firefox will open.

Both browsers refuse certain ports outright (ERR_UNSAFE_PORT, "This address is
restricted"): a user told to open http://127.0.0.1:10080/ gets an error page and no way
past it. The lists below are the browsers' own, copied as data:

- Chromium: `kRestrictedPorts` in net/base/port_util.cc
  (https://chromium.googlesource.com/chromium/src/+/main/net/base/port_util.cc), which
  follows the Fetch standard's "bad port" list (https://fetch.spec.whatwg.org/#port-blocking).
- Firefox: `gBadPortList` in netwerk/base/nsIOService.cpp
  (https://searchfox.org/mozilla-central/source/netwerk/base/nsIOService.cpp).
- 4190 (ManageSieve) and 6679 were added to the Fetch standard's list in 2024
  (whatwg/fetch commit 4c3750d, issue #1663) and are in Firefox's list; Chromium follows
  the standard. Both are included here.

Every field whose name ends in `_port` or `_ports` is checked, so a port setting added
later is checked without touching this test.
"""

from __future__ import annotations

from dataclasses import fields

from mailgothai.settings import Settings

CHROMIUM_RESTRICTED_PORTS = frozenset({
    0, 1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101,
    102, 103, 104, 109, 110, 111, 113, 115, 117, 119, 123, 135, 137, 139, 143, 161, 179, 389, 427,
    465, 512, 513, 514, 515, 526, 530, 531, 532, 540, 548, 554, 556, 563, 587, 601, 636, 989, 990,
    993, 995, 1719, 1720, 1723, 2049, 3659, 4045, 5060, 5061, 6000, 6566, 6665, 6666, 6667, 6668,
    6669, 6697, 10080,
})
FIREFOX_BAD_PORTS = frozenset({
    1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101, 102,
    103, 104, 109, 110, 111, 113, 115, 117, 119, 123, 135, 137, 139, 143, 161, 179, 389, 427, 465,
    512, 513, 514, 515, 526, 530, 531, 532, 540, 548, 554, 556, 563, 587, 601, 636, 989, 990, 993,
    995, 1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060, 5061, 6000, 6566, 6665, 6666, 6667, 6668,
    6669, 6679, 6697, 10080,
})
FETCH_STANDARD_ADDITIONS_2024 = frozenset({4190, 6679})
REFUSED_BY_BROWSERS = CHROMIUM_RESTRICTED_PORTS | FIREFOX_BAD_PORTS | FETCH_STANDARD_ADDITIONS_2024


def default_ports(settings: Settings) -> dict[str, int]:
    """name -> port for every port (or list of ports) the settings hold by default, 0 = off."""
    found: dict[str, int] = {}
    for f in fields(settings):
        value = getattr(settings, f.name)
        if f.name.endswith("_port"):
            found[f.name] = value
        elif f.name.endswith("_ports"):
            for n, port in enumerate(value):
                found[f"{f.name}[{n}]"] = port
    # The ports the stack derives (each replicating provider: ldap_port, ldap_port + 1, ...).
    for providers in (1, 2, 3):
        for n, port in enumerate(settings.replace(ldap_providers=providers).ldap_local_ports):
            found[f"ldap_local_ports[{n}] with {providers} providers"] = port
    return found


def test_lists_hold_the_ports_the_issue_names() -> None:
    for port in (10080, 4190, 143, 993, 587, 465, 25, 6000):
        assert port in REFUSED_BY_BROWSERS


def test_every_default_port_is_one_a_browser_opens() -> None:
    ports = default_ports(Settings())
    # The test would prove nothing if a rename hid the ports from it.
    assert {"web_port", "imap_port", "imaps_port", "smtp_port", "submission_port", "ldap_port",
            "rspamd_port", "rspamd_controller_port", "redis_port"} <= set(ports)
    refused = {name: port for name, port in ports.items() if port and port in REFUSED_BY_BROWSERS}
    assert refused == {}, f"default ports that Chromium or Firefox refuse (ERR_UNSAFE_PORT): {refused}"


def test_default_ports_do_not_clash() -> None:
    ports = {name: port for name, port in default_ports(Settings()).items()
             if port and not name.startswith("ldap_local_ports")}
    assert len(set(ports.values())) == len(ports), ports
