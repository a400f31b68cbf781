"""`mailgothai deploy slapd-config`: the cn=config of one directory node of a
multi-machine deployment (see deploy/README.md), written from the same template the
private stack uses, with this deployment's service passwords from the settings file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mailgothai.core.passwords import hash_password
from mailgothai.core.reasons import Why
from mailgothai.errors import InvalidInput
from mailgothai.settings import Settings
from mailgothai.stack import slapd


def register(groups: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = groups.add_parser("deploy", help="configuration for a deployment on several machines")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    config = commands.add_parser(
        "slapd-config", help="print the cn=config LDIF of one directory node (load it with slapadd -n0)")
    config.add_argument("--server-id", type=int, required=True,
                        help="this provider's serverID: a distinct integer 1-4095 on every provider")
    config.add_argument("--provider", action="append", default=[], metavar="URI",
                        help="a provider this node replicates from (repeat; providers list every other one)")
    config.add_argument("--consumer", action="store_true",
                        help="a read-only consumer: pulls from --provider, refers writes to the first")
    config.add_argument("--root", default="/var/lib/mailgothai/slapd",
                        help="this node's slapd directory (database, PID file); default %(default)s")
    config.set_defaults(handler=cmd_slapd_config, needs_services=False)


def cmd_slapd_config(args: argparse.Namespace, settings: Settings) -> int:
    if not 1 <= args.server_id <= 4095:
        raise InvalidInput("server-id", Why.NOT_A_SERVER_ID())
    if not args.provider:
        raise InvalidInput("provider", Why.NO_OTHER_PROVIDER())
    for uri in args.provider:
        if not uri.startswith(("ldap://", "ldaps://")):
            raise InvalidInput("provider", Why.NOT_AN_LDAP_URI(uri=repr(uri)))
    if not settings.ldap_replicator_password or not settings.ldap_manager_password:
        # Every node of one deployment must share these: generate them once, in the
        # settings file that is then copied to every machine.
        raise InvalidInput("config", Why.NO_SERVICE_PASSWORDS())
    replication = slapd.Replication(server_id=args.server_id, peers=tuple(args.provider), consumer=args.consumer)
    paths = slapd.SlapdPaths(Path(args.root))
    manager_hash = hash_password(settings.ldap_manager_password, settings.argon2)
    sys.stdout.write(slapd.config_ldif(settings, paths, manager_hash, replication))
    return 0
