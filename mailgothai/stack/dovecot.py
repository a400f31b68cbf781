"""A private Dovecot: IMAP and LMTP on loopback, users from the directory."""

from __future__ import annotations

import os
import shutil
import stat
import sys
from pathlib import Path

from mailgothai.core.app_passwords import policy_nonce
from mailgothai.core.auth_policy import HEADER
from mailgothai.core.password_lifecycle import change_required_text
from mailgothai.directory.passwords import MUST_CHANGE
from mailgothai.errors import StackError
from mailgothai.mailstore import vacation
from mailgothai.mailstore.paths import DovecotPaths as DovecotPaths
from mailgothai.mailstore.paths import paths_for as paths_for
from mailgothai.settings import Settings
from mailgothai.stack import sieve, tls
from mailgothai.stack.process import (
    ProcessStatus,
    greeting,
    is_running,
    port_open,
    read_pid,
    require_free,
    start_daemon,
    stop_pid,
    wait_until,
)
from mailgothai.stack.templates import render, write_private

LDAP_FILES = ("ldap-passdb", "ldap-userdb", "ldap-deny-domain", "ldap-alias-domain")
# The passdb field that hands a marked account's password to postlogin.sh (see ldap-passdb.conf.in).
UPGRADE_ATTRS = ", =userdb_mgt_upgrade_password=%{if;%{ldap:mgtPasswordUpgrade};eq;TRUE;%w;}"


def mail_root(settings: Settings) -> Path:
    """Where the mailboxes live (MAILBOXES/XX/ENTRYUUID, mailstore/mailboxes.py)."""
    return settings.mailbox_root_path.resolve()


def shared_dict(settings: Settings) -> Path:
    """Dovecot's dictionary of who shares mailboxes with whom (acl_shared_dict), written by
    `doveadm acl` and read by the mail processes: beside the mailboxes, owned by the mail user."""
    return mail_root(settings) / ".acl-shared" / "shared-mailboxes.db"


def global_acl(settings: Settings) -> Path:
    """The operator's ACL rules for every mailbox (vfile's global ACL file), read by the mail processes."""
    return shared_dict(settings).parent / "global-acl"


# Every owner keeps every right on its own folders but 'a' (changing ACLs): users cannot share
# their folders themselves over IMAP (SETACL), so only shared mailboxes, whose ACLs name
# groups of account ids, are shared; a folder shared with an address (user=…) would pass to
# whoever gets that address next.
GLOBAL_ACL = "* owner lrwstipekx\n"


def _searchable_by(st: os.stat_result, uid: int, gid: int) -> bool:
    if st.st_uid == uid:
        return bool(st.st_mode & stat.S_IXUSR)
    if st.st_gid == gid:
        return bool(st.st_mode & stat.S_IXGRP)
    return bool(st.st_mode & stat.S_IXOTH)


def grant_traversal(directory: Path, uid: int, gid: int) -> list[Path]:
    """Let the mail user pass through `directory` and its parents to reach its mailboxes.

    Dovecot's mail processes run as mail_uid, not root: a parent such as /root (0700)
    or a data dir made 0700 would stop them at chdir. Each such parent gets search
    permission (o+x) only; nothing becomes listable or readable. Returns what changed.
    """
    changed: list[Path] = []
    for path in (directory, *directory.parents):
        st = path.stat()
        if not _searchable_by(st, uid, gid):
            os.chmod(path, stat.S_IMODE(st.st_mode) | stat.S_IXOTH)
            changed.append(path)
    return changed


def _binary() -> str:
    found = shutil.which("dovecot") or shutil.which("dovecot", path="/usr/sbin:/usr/bin")
    if not found:
        raise StackError("dovecot not found: install the Debian packages dovecot-imapd dovecot-lmtpd dovecot-ldap")
    return found


def write_config(settings: Settings) -> DovecotPaths:
    """(Re)write Dovecot's configuration from the templates; cheap, done at every start."""
    paths = paths_for(settings)
    for directory in (paths.root, paths.base_dir, paths.state_dir):
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    mail = mail_root(settings)
    mail.mkdir(parents=True, exist_ok=True, mode=0o700)
    shared_dict(settings).parent.mkdir(exist_ok=True, mode=0o700)
    write_private(global_acl(settings), GLOBAL_ACL)
    if os.geteuid() == 0:
        os.chown(mail, settings.mail_uid, settings.mail_gid)
        os.chown(shared_dict(settings).parent, settings.mail_uid, settings.mail_gid)
        os.chown(global_acl(settings), settings.mail_uid, settings.mail_gid)
        grant_traversal(mail.parent, settings.mail_uid, settings.mail_gid)
    common = render(
        "dovecot/ldap-common.conf.in",
        {
            "ldap_uris": " ".join(settings.ldap_uri_list),
            "mail_dn": settings.ldap_mail_dn,
            "mail_password": settings.ldap_mail_password,
            "suffix": settings.ldap_base,
        },
    )
    upgrade = settings.imap_upgrade_hashes
    values = {"upgrade_attrs": UPGRADE_ATTRS if upgrade else "", "mailbox_root": mail,
              "must_change_attrs": must_change_attrs(settings) if settings.imap_password_checks else "",
              "mail_uid": settings.mail_uid, "mail_gid": settings.mail_gid}
    for name in LDAP_FILES:
        write_private(paths.root / f"{name}.conf.ext", common + render(f"dovecot/{name}.conf.in", values))
    script = render("dovecot/postlogin.sh.in", {
        "python": sys.executable, "config": settings.config_file.resolve(), "log": paths.postlogin_log,
        "lock": paths.postlogin_lock,
    })
    write_private(paths.postlogin_script, script)
    paths.postlogin_script.chmod(0o700)
    postlogin = render("dovecot/postlogin.conf.in", {"postlogin_script": paths.postlogin_script}) if upgrade else ""
    managesieve = render("dovecot/managesieve.conf.in", {
        "host": settings.host, "managesieve_port": settings.managesieve_port,
    }) if settings.managesieve_port else ""
    cert, key = tls_files(settings)
    conf = render(
        "dovecot/dovecot.conf.in",
        {
            "base_dir": paths.base_dir,
            "state_dir": paths.state_dir,
            "instance_name": f"mailgothai-{settings.imap_port}",
            "log_path": paths.log,
            "host": settings.host,
            "mail_uid": settings.mail_uid,
            "mail_gid": settings.mail_gid,
            "mailbox_root": mail,
            "auth_cache_ttl": settings.auth_cache_ttl,
            "conf_dir": paths.root,
            "imap_port": settings.imap_port,
            "imaps_port": settings.imaps_port,
            "login_processes": os.cpu_count() or 1,  # login processes kept ready, one a core
            "ssl_cert": cert,
            "ssl_key": key,
            "lmtp_port": settings.lmtp_port,
            "postlogin_service": postlogin,
            "auth_policy": auth_policy_config(settings),
            "managesieve_protocol": " sieve" if settings.managesieve_port else "",
            "managesieve_service": managesieve,
            "sieve_before_dir": paths.sieve_before_dir,
            "sieve_sendmail": sieve.sendmail_command(settings),
            "vacation_location": vacation.LOCATION,
            "shared_dict": shared_dict(settings),
            "global_acl": global_acl(settings),
            "stats_service": render("dovecot/stats.conf.in", {"port": settings.dovecot_metrics_port})
            if settings.dovecot_metrics_port else "",
        },
    )
    write_private(paths.config, conf)
    sieve.write_global(settings)  # compiled with the configuration just written
    sieve.write_sendmail(settings, cert)
    return paths


def must_change_attrs(settings: Settings) -> str:
    """passdb fields refusing an account marked mgtMustChangePassword (issue 20) with the
    text saying where to change the password: the attribute (TRUE, or absent) becomes
    nologin; the reason is given always, and Dovecot sends it only with nologin's refusal
    (checked: a wrong password gets the usual answer). (Inside a %{if} conditional Dovecot
    2.3 cut the text at its first colon.) The text may hold no comma (pass_attrs is a
    comma-separated list) nor ; { }; % is doubled."""
    text = change_required_text(settings.password_change_url_effective)
    if any(c in text for c in ",;{}"):
        raise StackError(f"password_change_url may hold no comma, semicolon or brace: {text!r}")
    text = text.replace("%", "%%")
    return f", {MUST_CHANGE}=nologin, =reason={text}"


def auth_policy_config(settings: Settings) -> str:
    """Dovecot's auth policy settings pointing at the stack's service (empty without its secret)."""
    secret = str(settings.auth_policy_secret)
    if not secret:
        return ""
    return render("dovecot/auth-policy.conf.in", {
        "url": f"http://{settings.host}:{settings.auth_policy_port}/", "header": HEADER, "secret": secret,
        "nonce": policy_nonce(secret),
    })


def tls_files(settings: Settings) -> tuple[Path, Path]:
    """The certificate and key Dovecot serves IMAP's TLS with: the stack's own (made if
    missing) or the files the settings name, which must exist."""
    tls.ensure_self_signed(settings)
    cert, key = settings.tls_cert_path.resolve(), settings.tls_key_path.resolve()
    for name, path in (("tls_cert_file", cert), ("tls_key_file", key)):
        if not path.is_file():
            raise StackError(f"{name}: no such file: {path} (Dovecot serves IMAP over TLS with it)")
    return cert, key


def start(settings: Settings) -> int:
    paths = write_config(settings)
    pid = read_pid(paths.pid_file)
    if is_running(pid, str(paths.config)):
        assert pid is not None
        return pid
    listeners = (settings.imap_port, settings.imaps_port, settings.lmtp_port, settings.managesieve_port)
    require_free(settings.host, *(port for port in listeners if port))
    start_daemon([_binary(), "-c", str(paths.config)], paths.log, "dovecot")
    wait_until(lambda: is_running(read_pid(paths.pid_file), str(paths.config)), 20, "dovecot to start")
    wait_until(lambda: greeting(settings.host, settings.imap_port, b"* OK"), 20, "Dovecot IMAP")
    wait_until(lambda: greeting(settings.host, settings.lmtp_port, b"220"), 20, "Dovecot LMTP")
    if settings.imaps_port:
        wait_until(lambda: port_open(settings.host, settings.imaps_port), 20, "Dovecot IMAPS")
    if settings.managesieve_port:
        wait_until(lambda: greeting(settings.host, settings.managesieve_port, b'"IMPLEMENTATION"'), 20,
                   "Dovecot ManageSieve")
    started = read_pid(paths.pid_file)
    assert started is not None
    return started


def stop(settings: Settings) -> None:
    paths = paths_for(settings)
    stop_pid(read_pid(paths.pid_file), str(paths.config))


def status(settings: Settings) -> ProcessStatus:
    paths = paths_for(settings)
    pid = read_pid(paths.pid_file)
    return ProcessStatus("dovecot", pid, is_running(pid, str(paths.config)))
