"""In-memory fakes of the ports (mailgothai/services/ports.py), for unit tests of the
service rules that run in process: no slapd, no SQL, no Dovecot. What lives in the
servers themselves (slapd's ACLs, schema, transactions; Dovecot) is tested against the
real servers elsewhere (tests/integration, tests/web).

`fake_backends()` gives a `Backends` whose every port is a fake; `gateway` and `store`,
which are not ports, refuse to be used, so a service that reaches past its ports fails
its test."""

from tests.fakes.backends import OPERATOR, PASSWORD, FakeWorld, admin_of, fake_backends

__all__ = ["OPERATOR", "PASSWORD", "FakeWorld", "admin_of", "fake_backends"]
