"""A backup of a directory with two replicating providers is node 1's; restored, node 1
holds the entries and node 2, starting empty, receives them by replication."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import ldap3
import pytest
from integration.test_backup_restore import mailgothai, new_ports, restore_env
from relay.helpers import PASSWORD, wait_for

from mailgothai.core.models import Role
from mailgothai.services.actor import Actor
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.registry import Services
from mailgothai.settings import Settings, load_settings
from mailgothai.stack import manager, slapd
from tests.conftest import free_port, stack_data_dir, stack_settings

pytestmark = [pytest.mark.integration, pytest.mark.sql]
OPERATOR = Actor("test-operator", Role.SUPERADMIN, origin="test")


def addresses_on(settings: Settings, node: int) -> list[str]:
    server = ldap3.Server(f"ldap://{settings.host}:{slapd.port_of(settings, node)}", connect_timeout=2)
    conn = ldap3.Connection(server, settings.ldap_manager_dn, settings.ldap_manager_password, auto_bind=True,
                            receive_timeout=5)
    try:
        conn.search(f"ou=domains,{settings.ldap_base}", "(objectClass=mgtAccount)", attributes=["mail"])
        return sorted(str(e["attributes"]["mail"][0]) for e in conn.response)
    finally:
        conn.unbind()


@pytest.fixture
def two_providers() -> Iterator[Settings]:
    with stack_data_dir("backup-pair") as data_dir:
        settings = stack_settings(data_dir, ldap_providers=2, ldap_provider_ports=(free_port(), free_port()))
        state = manager.up(settings)
        try:
            yield state.settings
        finally:
            manager.down(state.settings)


def test_a_backup_of_two_providers_restores_both(two_providers: Settings, tmp_path: Path) -> None:
    src = two_providers
    domain = f"p{uuid.uuid4().hex[:10]}.go.th"
    with Services.open(src, OPERATOR) as svc:
        svc.domains.add(domain, description="two providers")
        svc.accounts.add(f"ann@{domain}", PasswordInput(plain=PASSWORD))
    wait_for(lambda: addresses_on(src, 2) == [f"ann@{domain}"], "node 2 to have the account")
    out = tmp_path / "pair-backup"
    done = mailgothai("--data-dir", str(src.data_dir), "backup", "--out", str(out), "--no-mail")
    assert done.returncode == 0, done.stderr

    with stack_data_dir("pair-restored") as new:
        ports = new_ports(new, ldap_provider_ports=(free_port(), free_port()))
        done = mailgothai("restore", str(out), "--data-dir", str(new), env=restore_env() | ports)
        assert done.returncode == 0, done.stderr
        settings = load_settings(data_dir=new, environ={})
        assert settings.ldap_providers == 2
        try:
            up = mailgothai("--data-dir", str(new), "stack", "up")
            assert up.returncode == 0, up.stderr
            assert addresses_on(settings, 1) == [f"ann@{domain}"]
            wait_for(lambda: addresses_on(settings, 2) == [f"ann@{domain}"], "node 2 to receive the restored entries")
            with Services.open(settings, OPERATOR) as svc:  # and the two replicate from then on
                svc.accounts.add(f"ben@{domain}", PasswordInput(plain=PASSWORD))
            wait_for(lambda: addresses_on(settings, 2) == [f"ann@{domain}", f"ben@{domain}"], "node 2 to follow")
        finally:
            manager.down(settings)
