"""The requests the importer sends by the thousand, as bytes encoded by wire.py: many
adds in one LDAP transaction (RFC 5805), where slapd writes all of them or none, and
equality lookups of many values in one search.

Why: each add outside a transaction is a transaction of its own in slapd's database, and
its commit writes every index page the entry touched and waits for the disk. Measured on
a 2-core machine with the project's indexes (`bench.bench_ldap_transactions`, figures in
BENCHMARKS.md, issue 4): slapd spent 1.7-3.2 ms of CPU per account added alone, 0.6-0.9 ms
in transactions of 16, 0.3-0.5 ms in transactions of 64 and 0.2-0.4 ms in transactions of
256; two thirds of the single add's cost was the kernel writing pages and syncing.

The protocol, on one connection: Start Transaction (an extended operation) → each add
with the Transaction Specification control (slapd answers each at once: "queued") →
End Transaction with commit=TRUE, whose answer is the outcome of all of them. If one add
is refused at commit, nothing is written and the answer names that add's message ID.
slapd 2.5 gives the empty string as the transaction identifier.

A caveat that decides how callers use this (tests/replication/test_providers.py): with
syncprov and several providers, slapd 2.5.13 sends the peers the adds that ran before
the refused one although it rolled them back locally. A refused transaction is therefore
made unlikely by the caller (it checks the addresses just before) and followed by the
same adds one at a time, which puts exactly those entries on this provider too: the
peers then hold what this provider holds.

The requests are encoded by wire.py (ldap3's pyasn1 encoding cost more CPU than slapd's
whole add), sent together, and the answers read back through ldap3's SyncStrategy.
`search_equal` is the look just before a transaction: which of its addresses are taken.

slapd 2.5.13 crashes if a connection closes while it commits a transaction; txn_keeper.py
keeps the connection open through End Transaction, whatever happens to this process.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence

import ldap3
from ldap3.core import exceptions as lx

from mailgothai.directory import txn_keeper, wire
from mailgothai.directory.results import NO_SUCH_OBJECT, SUCCESS, error_for, wire_detail
from mailgothai.errors import DirectoryError, NoAnswer, TransactionRefused

TXN_START = "1.3.6.1.1.21.1"
TXN_SPECIFICATION = "1.3.6.1.1.21.2"
TXN_END = "1.3.6.1.1.21.3"
# txnEndReq ::= SEQUENCE { commit BOOLEAN DEFAULT TRUE, identifier OCTET STRING } (identifier "")
# slapd 2.5.13 answers each operation of a transaction from the thread that queued it, then
# that thread leaves the operation; an End Transaction arriving in that window runs and frees
# the queued operations under it, and slapd dies (a segfault at do_add+0x6a9, seen in CI
# runs; tests/integration/test_txn_settle.py made it within a few hundred transactions of 40
# adds, under load). Waiting this long after the last answer lets those threads leave first:
# none in 2,000 transactions with 1 ms, so 5 ms, against ~12 ms a transaction of 40 adds.
SETTLE_BEFORE_END = 0.005
COMMIT = b"\x30\x02\x04\x00"
ABORT = b"\x30\x05\x01\x01\x00\x04\x00"

Request = tuple[str, dict[str, list[str]]]  # DN, attribute values as text (objectClass included)


def _error(answer: wire.Result, what: str) -> Exception:
    """The project's exception for a refusing answer (the one map, directory/results.py)."""
    return error_for(answer.code, what, wire_detail(answer.code, answer.diagnostic))


def _send(conn: ldap3.Connection, data: bytes) -> None:
    try:
        conn.socket.sendall(data)
    except (OSError, AttributeError) as exc:  # AttributeError: ldap3 dropped the socket
        raise NoAnswer(f"sending to the directory failed: {exc}") from exc


def _messages(conn: ldap3.Connection) -> Iterator[bytes]:
    """The complete LDAP messages arriving on conn, as they come."""
    while True:
        try:
            messages = conn.strategy.receiving()
        except lx.LDAPException as exc:
            raise NoAnswer(f"no answer from the directory: {exc}") from exc
        if not messages:
            raise NoAnswer("the directory closed the connection")
        yield from messages


def _receive(conn: ldap3.Connection, wanted: set[int]) -> dict[int, wire.Result]:
    """Read answers until every message ID in `wanted` has one."""
    results: dict[int, wire.Result] = {}
    for message in _messages(conn):
        result = wire.result_of(message)
        if result.message_id not in wanted:  # e.g. a notice of disconnection (ID 0)
            raise NoAnswer(f"unexpected answer from the directory: {result}")
        results[result.message_id] = result
        if len(results) == len(wanted):
            break
    return results


def search_equal(conn: ldap3.Connection, base: str, attribute: str, values: Sequence[str],
                 attributes: Sequence[str], controls: Sequence[wire.Control] = ()) -> list[wire.Decoded]:
    """The entries below `base` whose `attribute` equals one of `values`, in one search
    (an OR of equality filters, which ldap3 compiles and encodes at ~0.1 ms a term)."""
    return search_any(conn, base, [(attribute, value) for value in values], attributes, controls)


def search_any(conn: ldap3.Connection, base: str, terms: Sequence[tuple[str, str]], attributes: Sequence[str],
               controls: Sequence[wire.Control] = ()) -> list[wire.Decoded]:
    """The entries below `base` for which one of `terms` (attribute, value) holds: an OR of
    equality filters, encoded straight to BER (a value is never parsed as filter text)."""
    if not terms:
        return []
    message_id = conn.server.next_message_id()
    search_filter = wire.any_filter([wire.equality_filter(attribute, value) for attribute, value in terms])
    _send(conn, wire.search_request(message_id, base, search_filter, list(attributes), controls))
    entries: list[wire.Decoded] = []
    for message in _messages(conn):
        answers, operation = wire.header_of(message)
        if answers != message_id:
            raise NoAnswer(f"unexpected answer from the directory: message {answers}")
        if operation == wire.SEARCH_RESULT_ENTRY:
            entry = wire.entry_of(message)
            assert entry is not None
            entries.append(entry)
        elif operation == wire.SEARCH_RESULT_DONE:
            done = wire.result_of(message)
            if done.code not in (SUCCESS, NO_SUCH_OBJECT):
                raise _error(done, f"search below {base}")
            break
        # a SearchResultReference: nothing below base is elsewhere in this directory
    return entries


def _end(conn: ldap3.Connection, end: int, request: bytes) -> wire.Result:
    """Send End Transaction and wait for its answer, for END_WAIT, never the connection's
    short receive timeout (txn_keeper.py says why the connection must stay open)."""
    short = conn.socket.gettimeout()
    conn.socket.settimeout(txn_keeper.END_WAIT)
    _send(conn, wire.extended_request(end, TXN_END, request))
    ended = _receive(conn, {end})[end]
    conn.socket.settimeout(short)
    return ended


def add_all(conn: ldap3.Connection, entries: Sequence[Request],
            controls: Sequence[wire.Control] = ()) -> None:
    """Add every entry in one transaction on `conn` (a bound SyncStrategy connection that
    is not in the middle of anything else). Raises TransactionRefused (nothing written)
    or NoAnswer (unknown: the caller must look)."""
    if not entries:
        return
    if type(conn.strategy).__name__ != "SyncStrategy":
        raise DirectoryError("transactions need ldap3's synchronous strategy")
    next_id = conn.server.next_message_id
    start = next_id()
    _send(conn, wire.extended_request(start, TXN_START))
    started = _receive(conn, {start})[start]
    if started.code != SUCCESS:
        raise DirectoryError(f"the directory did not start a transaction: result {started.code} "
                             f"({started.diagnostic})")
    # From here until slapd's last answer, the connection must not close under it, even if
    # this process dies: the keeper holds a copy of the socket (txn_keeper.py).
    keeper = txn_keeper.Keeper.get()
    token = keeper.hold(conn.socket) if keeper is not None else None
    answered = False
    try:
        specification = [(TXN_SPECIFICATION, True, b""), *controls]
        ids: list[int] = []
        requests = []
        for dn, attributes in entries:
            ids.append(next_id())
            requests.append(wire.add_request(ids[-1], dn, attributes, specification))
        _send(conn, b"".join(requests))
        queued = _receive(conn, set(ids))
        refused = next((k for k, i in enumerate(ids) if queued[i].code != SUCCESS), None)
        time.sleep(SETTLE_BEFORE_END)
        if keeper is not None:
            keeper.ending(token)
        ended = _end(conn, next_id(), ABORT if refused is not None else COMMIT)
        answered = True
    finally:
        if keeper is not None:
            keeper.release(token, answered=answered)
    if refused is not None:  # refused when queued (e.g. a malformed request): none was written
        raise TransactionRefused(refused, _error(queued[ids[refused]], entries[refused][0]))
    if ended.code != SUCCESS:
        failed = wire.first_integer(ended.value) if ended.value else None
        position = ids.index(failed) if failed in ids else None
        what = entries[position][0] if position is not None else "transaction"
        raise TransactionRefused(position, _error(ended, what))
