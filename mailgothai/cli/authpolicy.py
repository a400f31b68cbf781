"""`mailgothai auth-policy run`: the auth policy service Dovecot asks about IMAP logins."""

from __future__ import annotations

import argparse

from mailgothai.settings import Settings


def register(groups: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = groups.add_parser("auth-policy", help="Dovecot's auth policy service (one login budget for all)")
    parser.set_defaults(handler=cmd_run, needs_services=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = commands.add_parser("run", help="run it in the foreground (stack up starts it in the background)")
    run.set_defaults(handler=cmd_run, needs_services=False)


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from functools import partial

    import uvicorn

    from mailgothai.authpolicy.app import create_app
    from mailgothai.directory.app_passwords import apps_of_logins, credentials_at
    from mailgothai.directory.gateway import Gateway
    from mailgothai.directory.layout import Layout
    from mailgothai.directory.login_owners import LoginOwners
    from mailgothai.errors import StackError
    from mailgothai.relay.lookup import RelayDirectory
    from mailgothai.services.app_use import AppUseRecorder
    from mailgothai.services.last_login import LoginRecorder
    from mailgothai.services.login_budget import LoginBudget, rules_from
    from mailgothai.store import Store
    from mailgothai.store.last_login import LastLogins
    from mailgothai.store.second_factor import AppPasswordUses

    if not settings.auth_policy_secret:
        raise StackError("auth_policy_secret is not set: `mailgothai stack up` makes one")
    store = Store.open(settings.sql_url_effective)
    # Successful logins Dovecot reports are IMAP logins: recorded in batches (issue 17),
    # matched to their accounts as the mail server (it reads mail and entryUUID).
    gateway = Gateway(settings.ldap_uri_list, settings.ldap_mail_dn, settings.ldap_mail_password,
                      timeout=settings.ldap_timeout)
    recorder = LoginRecorder(LastLogins(store), LoginOwners(gateway, Layout(settings.ldap_base)).resolve,
                             every=settings.last_login_flush, batch=settings.last_login_batch)
    recorder.start()
    # Which app password each login took (issue 20): its last use, matched the same way.
    app_uses = AppUseRecorder(AppPasswordUses(store), partial(apps_of_logins, gateway, Layout(settings.ldap_base)),
                              every=settings.last_login_flush)
    app_uses.start()
    # local@ALIAS-DOMAIN counts as local@ITS-DOMAIN, read as the relay reads it (cached)
    directory = RelayDirectory(gateway, Layout(settings.ldap_base), settings.relay_lookup_cache_ttl)
    try:
        # an app password's success leaves the main password's failures (an account without a second factor)
        app = create_app(LoginBudget(store, rules_from(settings)), str(settings.auth_policy_secret), recorder,
                         app_uses, canonical=directory.canonical,
                         credentials=lambda login: credentials_at(gateway, directory.account_dn(login)))
        uvicorn.run(app, host=settings.host, port=settings.auth_policy_port, log_level="warning",
                    server_header=False, access_log=False)
    finally:
        app_uses.stop()
        recorder.stop()
        gateway.close()
        store.close()
    return 0
