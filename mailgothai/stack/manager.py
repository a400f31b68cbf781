"""`mailgothai stack up | down | status`: the whole service on loopback, state in one directory."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Any

from mailgothai.settings import Secret, Settings, load_settings, save_settings
from mailgothai.stack import dovecot, mailbox_migration, private, protection, slapd, slapd_update, tls
from mailgothai.stack.daemon import PythonService
from mailgothai.stack.process import ProcessStatus, greeting, port_open, require_free
from mailgothai.store import Store

log = logging.getLogger(__name__)


RELAY = PythonService("relay", ("relay", "run"))
WEB = PythonService("web", ("serve",))
# Answers Dovecot's auth policy requests (one login budget for IMAP, SMTP AUTH and the web):
# started before Dovecot and stopped after it, so it is up whenever Dovecot is.
AUTH_POLICY = PythonService("auth-policy", ("auth-policy", "run"))


def ensure_secrets(settings: Settings) -> Settings:
    """Give the service DNs passwords the first time; later runs reuse the stored ones."""
    changes: dict[str, Secret] = {}
    for name in ("ldap_manager_password", "ldap_app_password", "ldap_mail_password", "ldap_replicator_password",
                 "web_secret_key", "auth_policy_secret", "sieve_submit_secret", "rspamd_password",
                 "redis_password", "metrics_token"):
        if not getattr(settings, name):
            changes[name] = Secret(secrets.token_urlsafe(24))
    return settings.replace(**changes) if changes else settings


@dataclass(frozen=True)
class StackStatus:
    settings: Settings
    processes: tuple[ProcessStatus, ...]

    @property
    def running(self) -> bool:
        return all(p.running for p in self.processes)

    def as_dict(self) -> dict[str, Any]:
        s = self.settings
        return {
            "data_dir": str(s.data_dir.resolve()),
            "mailboxes": str(s.mailbox_root_path.resolve()),
            "ldap_uri": s.ldap_uri_list[0],
            "ldap_uris": list(s.ldap_uri_list),
            "ldap_base": s.ldap_base,
            "imap": f"{s.host}:{s.imap_port}",
            **({"imaps": f"{s.host}:{s.imaps_port}"} if s.imaps_port else {}),
            "lmtp": f"{s.host}:{s.lmtp_port}",
            **({"managesieve": f"{s.host}:{s.managesieve_port}"} if s.managesieve_port else {}),
            "smtp": f"{s.host}:{s.smtp_port}",
            "submission": f"{s.host}:{s.submission_port}",
            **({"smtps": f"{s.host}:{s.smtps_port}"} if s.smtps_port else {}),
            "web": f"{'https' if s.web_tls else 'http'}://{s.host}:{s.web_port}/",
            # Dovecot's (its secret stays in the settings file)
            "auth_policy": f"http://{s.host}:{s.auth_policy_port}/",
            # inbound protection's (stack/protection.py): rspamd's scanner and controller, Redis, clamd's socket
            **(protection.endpoints(s) if s.protection else {}),
            "metrics": metrics_urls(s),  # Prometheus text endpoints (relay/metrics.py, web/metrics.py)
            "sql_url": s.sql_url_effective if not s.sql_url else "(set by MAILGOTHAI_SQL_URL)",
            "running": self.running,
            "processes": {p.name: {"pid": p.pid, "running": p.running} for p in self.processes},
        }


def metrics_urls(settings: Settings) -> dict[str, str]:
    """Where Prometheus scrapes each process of the stack (loopback; the web's also with a token)."""
    s = settings
    urls = {"web": f"{'https' if s.web_tls else 'http'}://{s.host}:{s.web_port}/metrics"}
    if s.relay_metrics_port:
        urls["relay"] = f"http://127.0.0.1:{s.relay_metrics_port}/metrics"
    if s.dovecot_metrics_port:
        urls["dovecot"] = f"http://127.0.0.1:{s.dovecot_metrics_port}/metrics"
    return urls


def prepare(settings: Settings) -> Settings:
    """Write everything a start needs; idempotent. Returns the settings in force."""
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    repair_modes(settings)
    settings = ensure_secrets(settings)
    save_settings(settings)
    for node in slapd.nodes(settings):
        slapd.initialise(settings, node)
    dovecot.write_config(settings)
    tls.ensure_self_signed(settings)
    store = Store.open(settings.sql_url_effective)
    try:
        store.migrate()
    finally:
        store.close()
    return settings


def repair_modes(settings: Settings) -> None:
    """Owner-only files in a data directory an older version made readable by others
    (stack/private.py): only the way to the mail root keeps others' search permission."""
    mail = dovecot.mail_root(settings)
    paths = dovecot.paths_for(settings)
    # the operator's Sieve scripts (stack/sieve.py) are shared with the mail group
    # and so is the relay's pickup for Sieve mail (stack/sieve.py ensure_pickup)
    # and rspamd's workers pass through to their state and to clamd's socket (stack/protection.py)
    changed = private.repair(settings.data_dir, traversed=(*mail.parents, paths.root, settings.spool_dir,
                                                           *protection.traversed(settings)),
                             closed=(mail,), left_alone=(paths.base_dir, paths.sieve_dir,
                                                         settings.sieve_pickup_dir))
    if changed:
        log.warning("made owner-only in the data directory: %d files and directories", len(changed))


def up(settings: Settings) -> StackStatus:
    settings = prepare(settings)
    from mailgothai.stack import offline_load  # here: it uses this module

    settled = offline_load.recover(settings)  # a `mailgothai load` killed half-way, before slapd opens its db
    if settled:
        log.warning("%s", settled)
    started: list[int] = []
    try:
        schema_gained: set[str] = set()
        for node in slapd.nodes(settings):
            slapd.start(settings, node)
            started.append(node)
            update = slapd_update.update_config(settings, node)
            schema_gained.update(update.schema)
            for change in update.describe():
                log.warning("slapd%s configuration brought up to this version: %s", node, change)
        if slapd_update.MARK_OID in schema_gained:  # every node knows the mark now
            marked = slapd_update.mark_legacy_hashes(settings)
            log.warning("%d accounts with a hash from an older system marked for upgrade at login", marked)
        migrate_mailboxes(settings)
        start_auth_policy(settings)
        dovecot.start(settings)
        if settings.protection:  # the relay asks rspamd about every message from outside
            protection.start(settings)
        else:
            protection.stop(settings)  # turned off since the last start
        start_relay(settings)
        start_web(settings)
    except Exception:
        RELAY.stop(settings)
        protection.stop(settings)
        dovecot.stop(settings)
        AUTH_POLICY.stop(settings)
        for node in started:
            slapd.stop(settings, node)
        raise
    return status(settings)


def migrate_mailboxes(settings: Settings) -> None:
    """Mail of a data directory made before the mailbox ids moves to its id-based home
    (stack/mailbox_migration.py); a Dovecot still running the old layout is stopped first."""
    if not mailbox_migration.needed(settings):
        mailbox_migration.migrate(settings)  # only makes sure of ou=retained
        return
    dovecot.stop(settings)
    result = mailbox_migration.migrate(settings)
    for line in result.describe():
        log.warning("mail store brought up to this version: %s", line)


def relay_ports(settings: Settings) -> tuple[int, ...]:
    return tuple(p for p in (settings.smtp_port, settings.submission_port, settings.smtps_port) if p)


def relay_answers(settings: Settings) -> bool:
    return all(greeting(settings.host, port, b"220") for port in (settings.smtp_port, settings.submission_port))


def start_relay(settings: Settings) -> int:
    """Start `mailgothai relay` (unless it runs) and wait until its listeners greet."""
    if not RELAY.status(settings).running:
        require_free(settings.host, *relay_ports(settings))
    return RELAY.start(settings, lambda: relay_answers(settings))


def start_auth_policy(settings: Settings) -> int:
    """Start `mailgothai auth-policy run` (unless it runs) and wait until it listens."""
    if not AUTH_POLICY.status(settings).running:
        require_free(settings.host, settings.auth_policy_port)
    return AUTH_POLICY.start(settings, lambda: port_open(settings.host, settings.auth_policy_port))


def start_web(settings: Settings) -> int:
    """Start `mailgothai serve` (unless it runs) and wait until it answers HTTP."""
    if not WEB.status(settings).running:
        require_free(settings.host, settings.web_port)
    return WEB.start(settings, lambda: port_open(settings.host, settings.web_port))


def down(settings: Settings) -> StackStatus:
    # The relay first (it delivers into Dovecot), then Dovecot: it holds connections to the directory.
    WEB.stop(settings)
    RELAY.stop(settings)
    protection.stop(settings)
    dovecot.stop(settings)
    AUTH_POLICY.stop(settings)
    for node in slapd.nodes(settings):
        slapd.stop(settings, node)
    return status(settings)


def status(settings: Settings) -> StackStatus:
    providers = tuple(slapd.status(settings, node) for node in slapd.nodes(settings))
    scanning = protection.status(settings) if settings.protection else ()
    return StackStatus(settings, (*providers, AUTH_POLICY.status(settings), dovecot.status(settings),
                                    *scanning, RELAY.status(settings), WEB.status(settings)))


def settings_for(data_dir: str | None, config: str | None) -> Settings:
    return load_settings(data_dir=data_dir, config=config)
