"""The LDAP directory adapter (ldap3): the source of truth for domains, accounts,
aliases and admins. ldap3's errors are mapped to mailgothai.errors here and nowhere else."""
