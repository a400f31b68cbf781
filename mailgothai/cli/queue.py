"""`mailgothai queue list | show | retry | delete`: the relay's spool."""

from __future__ import annotations

import argparse
import datetime

from mailgothai.cli.common import add_json
from mailgothai.cli.output import print_json, print_json_lines_array, print_rows
from mailgothai.core.reasons import Why
from mailgothai.errors import NotFound
from mailgothai.relay.spool import Spool
from mailgothai.running_relay import notify_relay
from mailgothai.settings import Settings


def register(groups: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = groups.add_parser("queue", help="messages waiting in the relay's spool")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    lst = commands.add_parser("list", help="every queued message")
    add_json(lst)
    lst.set_defaults(handler=cmd_list, needs_services=False)
    show = commands.add_parser("show", help="one message: envelope, delivery state, headers")
    show.add_argument("queue_id")
    add_json(show)
    show.set_defaults(handler=cmd_show, needs_services=False)
    retry = commands.add_parser("retry", help="try again now (one message, or --all)")
    retry.add_argument("queue_id", nargs="?")
    retry.add_argument("--all", action="store_true")
    retry.set_defaults(handler=cmd_retry, needs_services=False)
    delete = commands.add_parser("delete", help="drop a message from the queue (no bounce is sent)")
    delete.add_argument("queue_id")
    delete.set_defaults(handler=cmd_delete, needs_services=False)


def _spool(settings: Settings) -> Spool:
    return Spool(settings.spool_dir.resolve())


def _when(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).isoformat(timespec="seconds") if ts else "now"


def _summary(spool: Spool, queue_id: str) -> dict[str, object]:
    try:
        envelope = spool.load_envelope(queue_id)
    except FileNotFoundError:
        raise NotFound("queued message", queue_id) from None
    state = spool.state(queue_id)
    pending = [t.address for t in envelope.targets if t.address not in state.done and t.address not in state.failed]
    return {"queue_id": queue_id, "sender": envelope.sender or "<>", "received_at": _when(envelope.received_at),
            "attempts": state.attempts, "next_try": _when(state.next_try), "pending": pending,
            "delivered": state.done, "failed": state.failed, "last_error": state.last_error,
            "is_bounce": envelope.is_bounce}


def _checked_id(queue_id: str) -> str:
    if not queue_id or not all(c in "0123456789abcdef" for c in queue_id):
        from mailgothai.errors import InvalidInput

        raise InvalidInput("queue_id", Why.NOT_A_QUEUE_ID())
    return queue_id


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    spool = _spool(settings)
    rows = (_summary(spool, qid) for qid in spool.iter_ids())
    if args.json:
        print_json_lines_array(rows)
    else:
        print_rows((r["queue_id"], r["sender"], r["received_at"], f"attempts={r['attempts']}",
                    f"next={r['next_try']}", ",".join(r["pending"])) for r in rows)  # type: ignore[arg-type]
    return 0


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    spool = _spool(settings)
    summary = _summary(spool, _checked_id(args.queue_id))
    _, message = spool.load(args.queue_id)
    summary["headers"] = message.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    summary["size"] = len(message)
    if args.json:
        print_json(summary)
    else:
        for key, value in summary.items():
            print(f"{key}: {value}")
    return 0


def cmd_retry(args: argparse.Namespace, settings: Settings) -> int:
    spool = _spool(settings)
    if args.all == bool(args.queue_id):
        from mailgothai.errors import InvalidInput

        raise InvalidInput("queue_id", Why.QUEUE_ID_OR_ALL())
    if args.all:  # a message the relay finishes while this runs is simply no longer there
        scheduled = sum(1 for qid in list(spool.iter_ids()) if spool.retry_now(qid))
    else:
        qid = _checked_id(args.queue_id)
        if not spool.retry_now(qid):
            raise NotFound("queued message", qid)
        scheduled = 1
    told = notify_relay(settings)
    print(f"{scheduled} message(s) scheduled for delivery now: "
          + ("the relay was told" if told else "no relay runs for this data directory; it takes them at its start"))
    return 0


def cmd_delete(args: argparse.Namespace, settings: Settings) -> int:
    spool = _spool(settings)
    qid = _checked_id(args.queue_id)
    if not spool.msg_path(qid).exists():
        raise NotFound("queued message", qid)
    spool.remove(qid)
    notify_relay(settings)
    print(f"message {qid} deleted from the queue")
    return 0
