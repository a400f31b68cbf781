"""One settings object for every process.

Built, in increasing precedence, from: the defaults below, the file that
`mailgothai stack up` writes under the data directory (`mailgothai.toml`, or the
file named by `--config`/`MAILGOTHAI_CONFIG`), and `MAILGOTHAI_<FIELD>` environment
variables (e.g. `MAILGOTHAI_SQL_URL`, `MAILGOTHAI_LDAP_URIS=ldap://a,ldap://b`).
"""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
import os
import socket
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import tomli_w

from mailgothai.core.passwords import Argon2Params
from mailgothai.core.reasons import Why
from mailgothai.errors import InvalidInput

CONFIG_FILE_NAME = "mailgothai.toml"
DEFAULT_DATA_DIR = Path("var")
ENV_PREFIX = "MAILGOTHAI_"


@functools.lru_cache(maxsize=1)
def machine_name() -> str:
    """This machine's fully qualified name, or its host name; a machine known only as
    localhost gets a name under .invalid (RFC 6761) until the operator sets one."""
    for name in (socket.getfqdn(), socket.gethostname()):
        name = name.strip().rstrip(".").lower()
        if name and name.split(".")[0] != "localhost":
            return name
    return "mailgothai.invalid"


class Secret(str):
    """A string that keeps itself out of logs and reprs."""

    def __repr__(self) -> str:
        return "Secret('**********')"


@dataclass(frozen=True)
class Settings:
    data_dir: Path = DEFAULT_DATA_DIR
    host: str = "127.0.0.1"

    # directory
    ldap_port: int = 10389
    ldap_uris: tuple[str, ...] = ()  # empty: the stack's own providers (ldap://host:port each)
    ldap_providers: int = 1  # replicating slapd providers `stack up` runs (multi-provider syncrepl)
    ldap_provider_ports: tuple[int, ...] = ()  # their ports; empty: ldap_port, ldap_port + 1, ...
    ldap_base: str = "o=mailgothai"
    ldap_manager_password: Secret = Secret("")  # rootdn, used only by the stack to bootstrap
    ldap_app_password: Secret = Secret("")  # the admin application's DN (writes)
    ldap_mail_password: Secret = Secret("")  # Dovecot and the relay (read what they need)
    ldap_replicator_password: Secret = Secret("")  # providers reading each other (syncrepl)
    # seconds; ldap3 wants an int. Also how long a hung provider is waited for before
    # the clients move to the next one.
    ldap_timeout: int = 5

    # mail store
    mailbox_root: str = ""  # mailboxes, ROOT/XX/ENTRYUUID; empty: DATA/mailboxes
    imap_port: int = 10143  # IMAP with STARTTLS; a LOGIN before TLS is refused (except from this host itself)
    imaps_port: int = 10993  # IMAP over implicit TLS; 0 = not listening
    lmtp_port: int = 10024
    # ManageSieve with STARTTLS (users' Sieve filters); not 4190, which browsers refuse
    # (tests/unit/test_default_ports.py); 0 = not listening
    managesieve_port: int = 10190
    mail_uid: int = 5000
    mail_gid: int = 5000
    auth_cache_ttl: int = 300  # seconds; provisioning flushes a user's entry on change
    # 1: an IMAP login upgrades an imported hash (Dovecot's post-login script, a few ms on
    # every IMAP login); 0 once no account carries mgtPasswordUpgrade any more.
    imap_upgrade_hashes: int = 1
    # 1: Dovecot refuses an account that must change its password (issue 20; 0 only to measure)
    imap_password_checks: int = 1

    # relay (`mailgothai relay`); production: smtp 25, submission 587, smtps 465
    smtp_port: int = 10025  # MX listener: unauthenticated mail for hosted recipients only
    submission_port: int = 10587  # STARTTLS, AUTH
    smtps_port: int = 10465  # implicit TLS, AUTH; 0 = not listening
    # greeting, Received headers, DSN reporting MTA, the authserv-id of its
    # Authentication-Results; default: this machine's name (never "localhost")
    relay_hostname: str = field(default_factory=lambda: machine_name())
    # where postmaster@ of a domain without its own postmaster@ account or alias, and the
    # bare <postmaster>, are delivered (RFC 5321 4.5.1); empty: accepted, and kept in the queue
    # until it is set (bounced after relay_queue_lifetime)
    relay_postmaster: str = ""
    # 1: AUTH without TLS allowed from loopback clients (a local proxy makes every client
    # loopback: development only); 0 (default): AUTH only over TLS, from everywhere
    relay_dev_mode: int = 0
    tls_cert_file: str = ""  # empty: DATA/tls/relay.crt, self-signed, made by `stack up`
    tls_key_file: str = ""
    relay_smarthost: str = ""  # "host:port" taking all remote mail; empty: the recipient domain's MX
    # "system" (resolv.conf), "off" (every lookup fails at once), or resolvers "IP" or
    # "IP:PORT" ("[IPv6]:PORT"), comma-separated (relay_dns_servers); rspamd uses the same
    relay_dns: str = "off"
    relay_dns_timeout: int = 3  # seconds for one DNS lookup
    relay_spool_dir: str = ""  # empty: DATA/spool
    relay_workers: int = 8  # concurrent delivery attempts
    relay_lmtp_connections: int = 4  # kept open to Dovecot and reused
    relay_retry_base: int = 60  # seconds before the first retry; doubled each time
    relay_retry_max: int = 14400  # longest wait between two attempts
    relay_queue_lifetime: int = 432000  # seconds before a message that keeps failing is bounced
    relay_max_message_size: int = 52428800  # announced in EHLO SIZE; domains may set less
    relay_lookup_cache_ttl: int = 10  # seconds a directory answer is reused
    relay_auth_cache_ttl: int = 300  # seconds a verified login is reused (keyed hash, no password)
    # Room in a mailbox confirmed ahead (core/room.py): Dovecot is asked for the message
    # plus this many bytes, and later messages spend that margin without asking, for at
    # most relay_quota_grant_seconds and while the account is unchanged; 0 = ask every time.
    relay_quota_grant_bytes: int = 10485760
    relay_quota_grant_seconds: int = 30
    relay_max_connections_per_ip: int = 50
    # Commands (and new connections) per client address (IPv6: per /64), a token bucket:
    # whole agencies sit behind one NAT address, so the rate allows some 20 messages a
    # second from one address, sustained, and the burst ten seconds of that; 0 = no limit.
    relay_command_rate_per_ip: int = 200  # tokens a second
    relay_command_burst_per_ip: int = 2000
    relay_max_errors_per_connection: int = 20  # refused commands before 421 and close; 0 = no cap
    # The relay's Prometheus text endpoint (relay/metrics.py), http://127.0.0.1:PORT/metrics,
    # loopback only; 0 = off
    relay_metrics_port: int = 10332
    # Dovecot's own metrics (logins, IMAP commands, deliveries; deploy/dovecot/stats.conf.in)
    # from its stats service, http://127.0.0.1:PORT/metrics (OpenMetrics); 0 = off
    dovecot_metrics_port: int = 10333
    # Inbound protection (issue 18): `stack up` runs rspamd (normal worker and controller),
    # Redis (its greylisting and learning) and clamd (rspamd's antivirus), all on loopback,
    # configured under DATA/rspamd, DATA/redis and DATA/clamav; the relay asks rspamd at the
    # end of DATA of every unauthenticated message. 0: none of them run and nothing is asked.
    protection: int = 1
    rspamd_port: int = 10330  # rspamd's normal worker (/checkv2), loopback
    rspamd_controller_port: int = 10331  # rspamd's controller (learning spam and ham), loopback
    rspamd_password: Secret = Secret("")  # the controller's, made by `stack up`
    rspamd_timeout: int = 20  # seconds the relay waits for rspamd before it answers 451 4.7.1
    # "tempfail" (default): while rspamd cannot answer, 451 4.7.1 (the sender tries again);
    # "accept": the message is accepted and delivered marked X-Spam-Status: unscanned
    rspamd_unavailable: str = "tempfail"
    # 1 (default): authenticated mail (submission, Sieve) is scanned for viruses only
    scan_submission: int = 1
    redis_port: int = 10379
    redis_password: Secret = Secret("")  # made by `stack up`; rspamd's modules use it
    # clamd's signatures; empty: DATA/clamav/db, seeded with the EICAR test signature only
    # (no download reaches these machines); production: /var/lib/clamav, kept by freshclam
    clamav_database_dir: str = ""
    greylist_delay: int = 300  # seconds an unknown (client, sender, recipient) waits before it is accepted
    quarantine_dir: str = ""  # empty: DATA/quarantine, beside the spool (owner-only)
    dkim_switch_delay: int = 172800  # a rotated key starts signing after this, unless confirmed sooner
    dkim_retire_delay: int = 604800  # the replaced key is retired (record may go) after this

    # SQL store
    sql_url: str = ""  # empty: sqlite file under data_dir

    # password hashing (argon2id); defaults are OWASP's, see STACK-NOTES
    argon2_time_cost: int = 2
    argon2_memory_kib: int = 19456
    argon2_parallelism: int = 1

    # admin web (`mailgothai serve`)
    # 10081, not 10080: browsers refuse 10080 (ERR_UNSAFE_PORT; tests/unit/test_default_ports.py)
    web_port: int = 10081
    web_secret_key: Secret = Secret("")  # signs anonymous CSRF tokens, encrypts TOTP secrets
    web_https: int = 0  # 1: served over https (proxy): Secure cookies and HSTS on every response
    web_tls: int = 0  # 1: `mailgothai serve` speaks HTTPS itself with tls_cert_file/tls_key_file (or the stack's)
    # Addresses of reverse proxies whose X-Forwarded-Proto / X-Forwarded-For are believed;
    # empty: nobody's (the headers are ignored). E.g. "127.0.0.1" for a proxy on this host.
    web_trusted_proxies: tuple[str, ...] = ()
    web_session_idle: int = 1800  # seconds without a request before a session ends
    web_session_max: int = 43200  # seconds after login a session ends whatever happens
    web_require_totp: int = 0  # 1: every admin must use a TOTP second factor (enrols at next login)
    # The web's address as its users reach it (e.g. https://mail.example.go.th), for links in
    # mail (password reset); empty: no reset or confirmation mail can be sent
    web_public_url: str = ""
    # Self-service password reset (issue 20): a link works once, for this many seconds; an
    # address may ask for this many reset mails an hour, a client (IP, IPv6 /64) make this many requests
    password_reset_lifetime: int = 1800
    password_reset_per_address: int = 3
    password_reset_per_ip: int = 20
    # Request bodies, capped while they stream (web/bodylimit.py; 413 past the cap):
    web_max_body: int = 262144  # bytes of a form or a JSON body (autodiscover: 16 KiB)
    web_max_upload: int = 268435456  # bytes of a CSV import upload (207,074 rows with hashes: ~40 MB)
    # The web's /metrics (web/metrics.py) answers loopback clients, and anyone else who sends
    # "Authorization: Bearer" with this token; made by `stack up`
    metrics_token: Secret = Secret("")
    web_login_lockout: int = 900  # no longer used (issue 15: login_refusal_*); kept so older files load
    # One failure budget per account for web, SMTP AUTH and IMAP (core/login_budget.py):
    # after login_free_failures failures of one account from one source (IPv4 address,
    # IPv6 /64) that source is refused for login_refusal_base seconds, doubled with each
    # further failure up to login_refusal_max; other sources only ever wait a few seconds.
    login_free_failures: int = 5
    login_refusal_base: int = 30
    login_refusal_max: int = 900
    # The auth policy service Dovecot asks before and after each IMAP login (loopback).
    auth_policy_port: int = 10090
    auth_policy_secret: Secret = Secret("")  # made by `stack up`; Dovecot sends it with each request
    # Made by `stack up`: Dovecot's Sieve mail (out-of-office replies, redirects) logs in to
    # the relay's submission with it for the user it acts for (stack/sieve_sendmail.py).
    sieve_submit_secret: Secret = Secret("")
    # "host:port" of the relay submission that Sieve mail goes to, for a Dovecot node with no
    # relay of its own (it must serve the same certificate, tls_cert_file, which the client
    # pins); empty (the default): the relay shares this data directory and takes Sieve mail
    # from its pickup directory, SPOOL/sieve-pickup, without SMTP (relay/sieve_pickup.py).
    sieve_submission: str = ""
    mail_hostname: str = ""  # the name mail clients connect to (autoconfig); empty: host
    # The DNS records each domain publishes (core/dns_records.py; `mailgothai dns show|check`, the
    # domain's DNS page). MX hosts by preference (10, 20, ...); empty: relay_hostname.
    mx_hosts: tuple[str, ...] = ()
    # the admin web's public name: mta-sts., autoconfig. and autodiscover.DOMAIN are CNAMEs to it;
    # empty: mail_hostname (when a name), else the first MX host
    web_hostname: str = ""
    spf_mechanisms: tuple[str, ...] = ("mx",)  # SPF before -all: "mx" (the MX hosts send too), "ip4:...", "include:..."
    dmarc_policy: str = "quarantine"  # p= of the DMARC record: none, quarantine, reject
    dmarc_report_address: str = ""  # DMARC aggregate reports (rua=mailto:); empty: none asked for
    tlsrpt_address: str = ""  # TLS-RPT reports; empty: dmarc_report_address; both empty: no TLS-RPT record
    # MTA-STS policy mode: "testing" (senders report, still deliver) until the MX hosts' certificate is
    # one senders trust (not the stack's self-signed one); then "enforce"
    mta_sts_mode: str = "testing"
    mta_sts_max_age: int = 604800  # seconds senders keep the policy
    # whom `dns check` asks: "system" (resolv.conf) or resolvers "IP", "IP:PORT", comma-separated
    dns_check_resolver: str = "system"
    dns_check_timeout: int = 5  # seconds for one question
    # Where a user changes the password (issue 20): IMAP, SMTP AUTH and the expiry warnings
    # name it; empty: /me under web_public_url, else on web_hostname (else mail_hostname, else
    # host) and web_port
    password_change_url: str = ""
    quota_snapshot_ttl: int = 900  # seconds a Dovecot usage reading is shown before it is refreshed
    # Last logins (issue 17) are written in batches: every last_login_flush seconds, or
    # sooner once last_login_batch logins wait; a crash loses at most the last interval's.
    last_login_flush: int = 5
    last_login_batch: int = 500

    # ---- derived values -------------------------------------------------
    @property
    def ldap_local_ports(self) -> tuple[int, ...]:
        """The ports of the providers the stack runs on this machine, node 1 first."""
        if self.ldap_provider_ports:
            return self.ldap_provider_ports
        return tuple(self.ldap_port + n for n in range(max(1, self.ldap_providers)))

    @property
    def ldap_uri_list(self) -> tuple[str, ...]:
        return self.ldap_uris or tuple(f"ldap://{self.host}:{port}" for port in self.ldap_local_ports)

    @property
    def argon2(self) -> Argon2Params:
        """The cost of every hash the project writes."""
        return Argon2Params(self.argon2_time_cost, self.argon2_memory_kib, self.argon2_parallelism)

    @property
    def password_change_url_effective(self) -> str:
        if self.password_change_url:
            return self.password_change_url
        if self.web_public_url:
            return self.web_public_url.rstrip("/") + "/me"
        scheme = "https" if self.web_tls or self.web_https else "http"
        return f"{scheme}://{self.web_hostname or self.mail_hostname or self.host}:{self.web_port}/me"

    @property
    def ldap_replicator_dn(self) -> str:
        return f"cn=replicator,ou=services,{self.ldap_base}"

    @property
    def ldap_manager_dn(self) -> str:
        return f"cn=manager,{self.ldap_base}"

    @property
    def ldap_app_dn(self) -> str:
        return f"cn=app,ou=services,{self.ldap_base}"

    @property
    def ldap_mail_dn(self) -> str:
        return f"cn=mailserver,ou=services,{self.ldap_base}"

    @property
    def sql_url_effective(self) -> str:
        return self.sql_url or f"sqlite:///{(self.data_dir / 'mailgothai.sqlite3').resolve()}"

    @property
    def mailbox_root_path(self) -> Path:
        """Where each mailbox lives, by its identity (mailstore/mailboxes.py)."""
        return Path(self.mailbox_root) if self.mailbox_root else self.data_dir / "mailboxes"

    @property
    def legacy_mail_root(self) -> Path:
        """Where versions before the mailbox ids kept mail, by address (DATA/mail/DOMAIN/LOCAL):
        moved away by stack/mailbox_migration.py."""
        return self.data_dir / "mail"

    @property
    def dovecot_config(self) -> Path:
        return self.data_dir / "dovecot" / "dovecot.conf"

    @property
    def spool_dir(self) -> Path:
        return Path(self.relay_spool_dir) if self.relay_spool_dir else self.data_dir / "spool"

    @property
    def sieve_pickup_dir(self) -> Path:
        """Where Dovecot's Sieve mail waits for the relay on this node (stack/sieve.py,
        relay/sieve_pickup.py): used unless `sieve_submission` names a relay elsewhere."""
        return self.spool_dir.resolve() / "sieve-pickup"

    @property
    def quarantine_path(self) -> Path:
        """Where the relay keeps quarantined messages (owner-only)."""
        return Path(self.quarantine_dir) if self.quarantine_dir else self.data_dir / "quarantine"

    @property
    def relay_dns_servers(self) -> tuple[tuple[str, int], ...]:
        """relay_dns's resolvers as (IP, port); empty for "system" and "off"."""
        return dns_servers(self.relay_dns)

    @property
    def clamav_database_path(self) -> Path:
        return Path(self.clamav_database_dir) if self.clamav_database_dir else self.data_dir / "clamav" / "db"

    @property
    def tls_cert_path(self) -> Path:
        return Path(self.tls_cert_file) if self.tls_cert_file else self.data_dir / "tls" / "relay.crt"

    @property
    def tls_key_path(self) -> Path:
        return Path(self.tls_key_file) if self.tls_key_file else self.data_dir / "tls" / "relay.key"

    @property
    def dkim_key_dir(self) -> Path:
        return self.data_dir / "dkim"

    @property
    def config_file(self) -> Path:
        return self.data_dir / CONFIG_FILE_NAME

    # ---- building -------------------------------------------------------
    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **_coerce_all(changes))

    def to_toml(self) -> str:
        data: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Path):
                value = str(value)
            elif isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, Secret):
                value = str(value)
            data[f.name] = value
        return tomli_w.dumps(data)


_FIELD_TYPES = {f.name: f.type for f in fields(Settings)}


def dns_servers(value: str) -> tuple[tuple[str, int], ...]:
    """"IP", "IP:PORT", "[IPv6]:PORT" or a bare IPv6 address, comma-separated, as (IP, port);
    "system", "off" and "" hold none."""
    value = value.strip()
    if value in ("", "off", "system"):
        return ()
    found: list[tuple[str, int]] = []
    for entry in (e.strip() for e in value.split(",") if e.strip()):
        host, port = entry, "53"
        if entry.startswith("["):
            host, _, rest = entry[1:].partition("]")
            port = rest[1:] if rest.startswith(":") else ("" if rest else "53")
        elif entry.count(":") == 1:
            host, port = entry.split(":")
        try:
            address = ipaddress.ip_address(host)
            number = int(port) if port.isdigit() else -1
        except ValueError:
            number = -1
        if number < 1 or number > 65535:
            raise InvalidInput("relay_dns", Why.NOT_A_VALID_KIND(kind="DNS server (IP or IP:PORT)", value=entry))
        found.append((str(address), number))
    return tuple(found)


def _coerce(name: str, value: Any) -> Any:
    kind = _FIELD_TYPES.get(name)
    if kind is None:
        raise InvalidInput(name, Why.UNKNOWN_SETTING())
    try:
        if kind == "Path":
            return Path(value)
        if kind == "int":  # every number setting is a port, a count, a size or a time
            number = int(value)
            if number < 0:
                raise InvalidInput(name, Why.BELOW_ZERO(value=number))
            return number
        if kind == "Secret":
            return Secret(str(value))
        if kind in ("tuple[str, ...]", "tuple[int, ...]"):
            item = int if kind == "tuple[int, ...]" else str
            if isinstance(value, str):
                return tuple(item(v.strip()) for v in value.split(",") if v.strip())
            return tuple(item(v) for v in value)
        return str(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(name, Why.NOT_A_VALID_KIND(kind=str(kind), value=repr(value))) from exc


def _coerce_all(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _coerce(k, v) for k, v in values.items()}


def load_settings(
    data_dir: Path | str | None = None,
    config: Path | str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Defaults < config file < environment. An explicit data_dir wins over all."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    env_values = {
        key[len(ENV_PREFIX):].lower(): value
        for key, value in env.items()
        if key.startswith(ENV_PREFIX) and key[len(ENV_PREFIX):].lower() in _FIELD_TYPES
    }
    base_dir = Path(data_dir) if data_dir is not None else Path(env_values.get("data_dir", DEFAULT_DATA_DIR))
    config_path = Path(config) if config else Path(env.get(ENV_PREFIX + "CONFIG", base_dir / CONFIG_FILE_NAME))
    if config_path.is_file():
        try:
            values.update(tomllib.loads(config_path.read_text(encoding="utf-8")))
        except tomllib.TOMLDecodeError as exc:
            raise InvalidInput("config", Why.CONFIG_UNREADABLE(path=str(config_path), detail=str(exc))) from exc
    elif config:
        raise InvalidInput("config", Why.NO_SUCH_FILE(path=str(config_path)))
    values.update(env_values)
    values["data_dir"] = base_dir if data_dir is not None or "data_dir" not in values else values["data_dir"]
    return Settings(**_coerce_all(values))


def save_settings(settings: Settings) -> Path:
    """Write the settings file (owner-only: it holds the service passwords)."""
    path = settings.config_file
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(settings.to_toml())
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return path
