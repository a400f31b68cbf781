"""A private Postfix 3.7 as the MX an operator would otherwise run (the set-up Mailu and
mailcow ship): smtpd on loopback, recipients checked in the same directory through
`proxy:ldap:`, every message through rspamd's proxy worker as a milter, delivered over
LMTP into the same Dovecot. Bench only: started and stopped by bench/bench_inbound.py.

STACK-NOTES "Postfix anchors": `postfix -c DIR`; `maillog_file` needs
`maillog_file_prefixes`. Needs root (Postfix drops to its own user, `postfix`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from mailgothai.settings import Settings

MASTER_CF = """\
smtp      inet  n       -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


@dataclass(frozen=True)
class PostfixMx:
    config_dir: Path
    port: int

    def postfix(self, *args: str) -> None:
        subprocess.run(["postfix", "-c", str(self.config_dir), *args], check=True, capture_output=True)

    def start(self) -> None:
        self.postfix("start")

    def stop(self) -> None:
        subprocess.run(["postfix", "-c", str(self.config_dir), "stop"], check=False, capture_output=True)

    def log(self) -> str:
        path = self.config_dir / "maillog"
        return path.read_text(errors="replace") if path.exists() else ""


def write(root: Path, settings: Settings, *, port: int, domains: list[str], milter_port: int | None) -> PostfixMx:
    """A Postfix configuration under `root` (made here; the queue is Postfix's)."""
    root.mkdir(parents=True, exist_ok=True)
    queue, data = root / "queue", root / "data"
    for path in (queue, data):
        path.mkdir(exist_ok=True)
    shutil.chown(data, "postfix", "postfix")
    ldap = root / "ldap-recipients.cf"
    ldap.write_text(
        f"server_host = ldap://{settings.host}:{settings.ldap_port}\n"
        f"search_base = {settings.ldap_base}\n"
        "query_filter = (&(|(objectClass=mgtAccount)(objectClass=mgtAlias))(mail=%s))\n"
        "result_attribute = mail\n"
        "bind = yes\n"
        f"bind_dn = {settings.ldap_mail_dn}\n"
        f"bind_pw = {settings.ldap_mail_password}\n"
        "version = 3\n")
    os.chmod(ldap, 0o640)
    shutil.chown(ldap, "root", "postfix")
    milter = (f"smtpd_milters = inet:{settings.host}:{milter_port}\n"
              "milter_default_action = tempfail\nmilter_protocol = 6\n"
              "milter_mail_macros = i {mail_addr} {client_addr} {client_name} {auth_authen}\n"
              if milter_port else "")
    (root / "main.cf").write_text(
        "compatibility_level = 3.6\n"
        f"queue_directory = {queue}\n"
        f"data_directory = {data}\n"
        "command_directory = /usr/sbin\ndaemon_directory = /usr/lib/postfix/sbin\n"
        "meta_directory = /etc/postfix\nshlib_directory = /usr/lib/postfix\n"
        "mail_owner = postfix\nsetgid_group = postdrop\n"
        f"maillog_file = {root}/maillog\nmaillog_file_prefixes = {root}\n"
        "inet_interfaces = 127.0.0.1\ninet_protocols = ipv4\n"
        "myhostname = postfix-bench.invalid\nmydestination =\nmynetworks = 127.0.0.2/32\n"
        "alias_maps =\nalias_database =\nlocal_recipient_maps =\nbiff = no\n"
        "smtpd_relay_restrictions = reject_unauth_destination\n"
        "smtpd_recipient_restrictions = reject_unlisted_recipient\n"
        f"virtual_mailbox_domains = {' '.join(domains)}\n"
        f"virtual_mailbox_maps = proxy:ldap:{ldap}\n"
        f"proxy_read_maps = proxy:ldap:{ldap}\n"
        f"virtual_transport = lmtp:inet:{settings.host}:{settings.lmtp_port}\n"
        "lmtp_destination_concurrency_limit = 4\n"
        "default_process_limit = 100\n"
        "smtpd_client_connection_rate_limit = 0\n"
        f"{milter}")
    (root / "master.cf").write_text(MASTER_CF.replace("smtp      inet", f"{settings.host}:{port} inet", 1))
    mx = PostfixMx(root, port)
    mx.postfix("set-permissions")
    subprocess.run(["postfix", "-c", str(root), "check"], check=True, capture_output=True)
    return mx
