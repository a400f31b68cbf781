"""Bodies from anyone cannot grow the web process: the credentials are checked before a
body is read, and every body is capped while it streams (413 as soon as the cap is
passed, or at once for a Content-Length over it).

The web runs as `mailgothai serve`, a process of its own (as systemd runs it), and its
resident memory is read from /proc/PID/status before and after each attack. The
attacker is a raw socket sending a chunked body and stopping as soon as an answer comes."""

from __future__ import annotations

import json
import select
import shutil
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from mailgothai.settings import Settings
from tests.web.conftest import World
from tests.web.test_serve_command import clean_env, served

pytestmark = pytest.mark.sql

MiB = 1024 * 1024
CHUNK = b"%x\r\n" % (256 * 1024) + b"{" * (256 * 1024) + b"\r\n"  # one chunk of a chunked body
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
UPLOAD_CAP = 2 * MiB  # the import upload cap of this web (setting web_max_upload)


@dataclass
class Web:
    pid: int
    port: int
    data_dir: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def rss(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS")


@pytest.fixture(scope="module")
def web(stack: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    config = tmp_path_factory.mktemp("body-limits") / "mailgothai.toml"
    shutil.copy(stack.config_file, config)
    env = {**clean_env(), "MAILGOTHAI_WEB_MAX_UPLOAD": str(UPLOAD_CAP)}
    with served(config, config.parent, env) as (proc, port):
        yield Web(proc.pid, port, stack.data_dir)

def chunked_attack(web: Web, path: str, total: int, headers: dict[str, str] | None = None) -> tuple[int, int]:
    """POST a chunked body of up to `total` bytes, stopping as soon as the server answers;
    (status, bytes sent)."""
    fields = {"Content-Type": "application/json", **(headers or {})}
    head = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{web.port}", "Transfer-Encoding: chunked"] + \
        [f"{k}: {v}" for k, v in fields.items()]
    sent = 0
    with socket.create_connection(("127.0.0.1", web.port), timeout=120) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        answer = b""
        while sent < total:
            readable, writable, _ = select.select([sock], [sock], [], 120)
            if readable:
                break
            if writable:
                sock.sendall(CHUNK)
                sent += 256 * 1024
        else:
            sock.sendall(b"0\r\n\r\n")
        while b"\r\n" not in answer:
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    status_line = answer.split(b"\r\n", 1)[0].decode()
    assert status_line.startswith("HTTP/1.1 "), answer[:200]
    return int(status_line.split()[1]), sent


def read_answer(sock: socket.socket) -> tuple[bytes, bytes]:
    """The head and the body (by its Content-Length) of one answer."""
    data = b""
    while b"\r\n\r\n" not in data:
        more = sock.recv(65536)
        assert more, data
        data += more
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    while len(body) < length:
        more = sock.recv(65536)
        assert more, body
        body += more
    return head, body


def warm_up(web: Web) -> int:
    """Every route's code loaded and used once, then the resident size."""
    for _ in range(3):
        httpx.post(web.url + "/api/v1/domains", json={"name": "x.go.th"}, timeout=60)
        httpx.post(web.url + "/autodiscover/autodiscover.xml", content=b"<x/>", timeout=60)
        httpx.get(web.url + "/login", timeout=60)
    return web.rss()


def test_an_anonymous_200_mb_body_to_the_api_is_refused_without_growing_the_web(web: Web) -> None:
    before = warm_up(web)
    status, sent = chunked_attack(web, "/api/v1/domains", 200 * MiB)
    assert web.rss() - before <= 20 * MiB, (before, web.rss())
    assert status in (401, 413)
    assert sent < 200 * MiB  # answered before the body ended


def test_a_700_mb_autodiscover_body_is_refused_without_growing_the_web(web: Web) -> None:
    before = warm_up(web)
    status, sent = chunked_attack(web, "/autodiscover/autodiscover.xml", 700 * MiB)
    assert web.rss() - before <= 20 * MiB, (before, web.rss())
    assert status == 413 and sent < 700 * MiB


def test_an_anonymous_200_mb_form_is_refused_without_growing_the_web(web: Web) -> None:
    before = warm_up(web)
    forms = ("/login", "/domains/new", "/imports")
    answers = {path: chunked_attack(web, path, 200 * MiB, FORM) for path in forms}
    assert web.rss() - before <= 20 * MiB, (before, web.rss())
    # the login form is anyone's: capped; the others are refused before the body is read
    assert {path: status for path, (status, _) in answers.items()} == \
        {"/login": 413, "/domains/new": 303, "/imports": 303}
    assert all(sent < 200 * MiB for _, sent in answers.values())


def test_a_declared_length_over_the_cap_is_refused_at_once(web: Web, world: World) -> None:
    token = {"Authorization": f"Bearer {world.tokens[world.operator]}"}
    with socket.create_connection(("127.0.0.1", web.port), timeout=60) as sock:
        sock.sendall(f"POST /api/v1/domains HTTP/1.1\r\nHost: x\r\nAuthorization: {token['Authorization']}"
                     f"\r\nContent-Type: application/json\r\nContent-Length: {200 * MiB}\r\n\r\n".encode())
        head, body = read_answer(sock)  # nothing of the body was sent
    assert head.startswith(b"HTTP/1.1 413 "), head
    assert json.loads(body)["status"] == 413


def test_an_admins_body_over_the_cap_is_refused_while_it_streams(web: Web, world: World) -> None:
    token = {"Authorization": f"Bearer {world.tokens[world.operator]}"}
    status, sent = chunked_attack(web, "/api/v1/domains", 200 * MiB, token)
    assert status == 413 and sent < 200 * MiB


def test_an_import_upload_over_its_cap_is_refused_and_leaves_no_file(web: Web, world: World) -> None:
    token = {"Authorization": f"Bearer {world.tokens[world.operator]}", "Content-Type": "text/csv"}
    folder = web.data_dir / "imports"
    before = set(folder.glob("upload-*")) if folder.exists() else set()
    status, sent = chunked_attack(web, "/api/v1/imports", 200 * MiB, token)
    assert status == 413 and sent < 200 * MiB
    assert (set(folder.glob("upload-*")) if folder.exists() else set()) == before
    csv = f"email\r\nnew1@{world.a}\r\n".encode()
    small = httpx.post(web.url + "/api/v1/imports", content=csv, headers=token, timeout=60)
    assert small.status_code == 202, small.text


@pytest.mark.parametrize("path, media, refused", [
    ("/api/v1/domains", "application/json", 401), ("/api/v1/imports", "text/csv", 401),
    ("/domains/new", "application/x-www-form-urlencoded", 303),
    ("/imports", "application/x-www-form-urlencoded", 303),
])
def test_credentials_are_checked_before_the_body_is_read(web: Web, path: str, media: str,
                                                         refused: int) -> None:
    """The body never ends (no last chunk): only a server that answers without reading it
    answers at all."""
    with socket.create_connection(("127.0.0.1", web.port), timeout=60) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                     f"Content-Type: {media}\r\n\r\n".encode() + CHUNK)
        answer = sock.recv(65536)
    assert answer.startswith(f"HTTP/1.1 {refused} ".encode()), answer[:200]
