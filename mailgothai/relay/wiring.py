"""The relay built from the settings: its directory view (bound as cn=mailserver), SQL
store, DKIM key table, spool, LMTP and remote delivery, router, quota-status, login budget
and TLS context, put together in one RelayContext (context.py)."""

from __future__ import annotations

import asyncio
import ssl
from functools import partial
from typing import Any

from sqlalchemy import event

from mailgothai.core.addresses import normalize_address
from mailgothai.core.app_passwords import policy_nonce
from mailgothai.core.passwords import hash_password, verify_for_nobody
from mailgothai.directory.app_passwords import apps_of_logins
from mailgothai.directory.gateway import Gateway
from mailgothai.directory.layout import Layout
from mailgothai.directory.login_owners import LoginOwners
from mailgothai.dkim.keys import KeyFiles
from mailgothai.dkim.table import KeyTable
from mailgothai.errors import InvalidInput, StackError
from mailgothai.mailstore.paths import paths_for as dovecot_paths
from mailgothai.relay.auth import Authenticator
from mailgothai.relay.context import RelayContext
from mailgothai.relay.delivery import DeliveryQueue, QueuePolicy
from mailgothai.relay.inbound import InboundChecker
from mailgothai.relay.lmtp import LmtpPool
from mailgothai.relay.lookup import RelayDirectory
from mailgothai.relay.protection import Protection
from mailgothai.relay.quarantine import Quarantine
from mailgothai.relay.quota import QuotaStatus
from mailgothai.relay.remote import RemoteSender, Resolver
from mailgothai.relay.routing import Router
from mailgothai.relay.rspamd import RspamdClient
from mailgothai.relay.spool import Spool, Target
from mailgothai.services.app_use import AppUseRecorder
from mailgothai.services.last_login import LoginRecorder
from mailgothai.services.login_budget import LoginBudget, rules_from
from mailgothai.settings import Settings
from mailgothai.store import Store
from mailgothai.store.last_login import LastLogins
from mailgothai.store.quarantine import QuarantineIndex
from mailgothai.store.quarantine_files import QuarantineFiles
from mailgothai.store.relay_state import DkimKeyRecords, SendCounters
from mailgothai.store.second_factor import AppPasswordUses
from mailgothai.store.spam_policy import SpamPolicies


def tls_context(settings: Settings) -> ssl.SSLContext:
    cert, key = settings.tls_cert_path, settings.tls_key_path
    if not cert.is_file() or not key.is_file():
        raise StackError(f"TLS certificate {cert} or key {key} missing (stack up makes a self-signed pair; "
                         "set tls_cert_file and tls_key_file in production)")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(cert), str(key))
    return context


def postmaster_address(settings: Settings) -> str:
    """`relay_postmaster`, normalized; a bad one stops the relay with the field named."""
    if not settings.relay_postmaster.strip():
        return ""
    try:
        return normalize_address(settings.relay_postmaster, "relay_postmaster")
    except InvalidInput as exc:
        raise StackError(str(exc)) from exc


def build(settings: Settings) -> RelayContext:
    gateway = Gateway(settings.ldap_uri_list, settings.ldap_mail_dn, settings.ldap_mail_password,
                      timeout=settings.ldap_timeout, pool_size=16)
    directory = RelayDirectory(gateway, Layout(settings.ldap_base), settings.relay_lookup_cache_ttl)
    store = Store.open(settings.sql_url_effective)
    counter_store = store
    if store.engine.dialect.name == "sqlite":
        # The relay writes hourly counters per recipient: their commits need not wait for
        # the disk (WAL, synchronous=NORMAL), on an engine of their own. A power cut may
        # forget the last increments — harmless for a rate limit. Everything else keeps
        # the store's synchronous=FULL: the quarantine's index rows are committed before
        # the 250, and a row lost to a power cut would have its file swept as an orphan.
        counter_store = Store.open(settings.sql_url_effective)
        event.listen(counter_store.engine, "connect", _counter_pragmas)
        event.listen(store.engine, "engine_disposed", lambda _engine: counter_store.close())  # ctx.close()
    keys = KeyTable(DkimKeyRecords(store), KeyFiles(settings.dkim_key_dir), settings.dkim_retire_delay)
    spool = Spool(settings.spool_dir.resolve())
    spool.prepare()
    quarantine_files = QuarantineFiles(settings.quarantine_path.resolve())
    quarantine_files.prepare()
    lmtp = LmtpPool(settings.host, settings.lmtp_port, settings.relay_lmtp_connections, settings.relay_hostname)
    resolver = Resolver(settings.relay_dns, settings.relay_dns_timeout)
    remote = RemoteSender(settings.relay_smarthost, resolver, settings.relay_hostname)
    router = Router(directory, postmaster_address(settings))
    policy = QueuePolicy(settings.relay_retry_base, settings.relay_retry_max, settings.relay_queue_lifetime,
                         settings.relay_workers, settings.relay_hostname)
    ctx_holder: dict[str, RelayContext] = {}
    # Accepted AUTHs are the accounts' last SMTP logins, written in batches (issue 17).
    recorder = LoginRecorder(LastLogins(store), LoginOwners(gateway, Layout(settings.ldap_base)).resolve,
                             every=settings.last_login_flush, batch=settings.last_login_batch)
    # and which app password each took: its last use (issue 20), matched the same way
    app_uses = AppUseRecorder(AppPasswordUses(store), partial(apps_of_logins, gateway, Layout(settings.ldap_base)),
                              every=settings.last_login_flush)

    async def route_sender(sender: str) -> tuple[Target, ...]:
        return await ctx_holder["ctx"].route_sender(sender)

    quota = QuotaStatus(dovecot_paths(settings).base_dir / "quota-status",
                        grant_bytes=settings.relay_quota_grant_bytes, grant_seconds=settings.relay_quota_grant_seconds)
    async def mailbox_address(mailbox_id: str) -> str | None:
        return await asyncio.to_thread(directory.mailbox_address, mailbox_id)

    queue = DeliveryQueue(spool, lmtp, remote, policy, route_sender, smarthost=bool(settings.relay_smarthost),
                          local_attempt_over=quota.settle, mailbox_address=mailbox_address)
    quarantine = Quarantine(quarantine_files, QuarantineIndex(store), settings.relay_hostname,
                            mailbox_of=directory.mailbox_id_of)
    protection = None
    if settings.protection:  # rspamd on loopback, run by `stack up` (issue 18)
        protection = Protection(settings, RspamdClient(settings.host, settings.rspamd_port, settings.rspamd_timeout),
                                SpamPolicies(store), quarantine)
    ctx = RelayContext(
        settings=settings, directory=directory, router=router, quota=quota,
        counters=SendCounters(counter_store), keys=keys,
        inbound=InboundChecker(keys, settings.relay_dns, settings.relay_dns_timeout),
        auth=Authenticator(directory, gateway, settings.relay_auth_cache_ttl, LoginBudget(store, rules_from(settings)),
                           hasher=lambda plain: hash_password(plain, settings.argon2), recorder=recorder,
                           app_uses=app_uses, nonce=policy_nonce(str(settings.auth_policy_secret)),
                           for_nobody=lambda plain: verify_for_nobody(plain, settings.argon2)),
        spool=spool, queue=queue, store=store, gateway=gateway,
        quarantine=quarantine, protection=protection,
    )
    ctx_holder["ctx"] = ctx
    return ctx


def _counter_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
