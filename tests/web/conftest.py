"""The admin web served for real: uvicorn on a free loopback port (in a thread) in
front of the session's real slapd and Dovecot; httpx as the client."""

from __future__ import annotations

import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
import uvicorn

from mailgothai.core.models import Role
from mailgothai.services.actor import Actor
from mailgothai.services.imports import ImportService
from mailgothai.services.passwords import PasswordInput
from mailgothai.services.registry import Services
from mailgothai.services.tokens import TokenService
from mailgothai.settings import Settings
from mailgothai.web.app import create_app

PASSWORD = "Web-test-pass-1"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Live:
    url: str
    app: object
    settings: Settings

    @property
    def state(self):  # type: ignore[no-untyped-def]
        return self.app.state.web  # type: ignore[attr-defined]


def serve(settings: Settings) -> Iterator[Live]:
    app = create_app(settings, background=False)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the web server did not start")
        time.sleep(0.02)
    try:
        yield Live(f"http://127.0.0.1:{port}", app, settings)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        app.state.web.close()


@pytest.fixture(scope="session")
def web_settings(stack: Settings) -> Settings:
    # mx_hosts: the machine's own name may be one label, no name to publish in DNS (issue 19: DNS pages)
    return stack.replace(web_secret_key="web-tests-secret", mx_hosts=("mx.mailgothai.example",))


@pytest.fixture(scope="session")
def live(web_settings: Settings) -> Iterator[Live]:
    yield from serve(web_settings)


@dataclass
class World:
    """Two agencies A and B, an operator, a domain admin of A, users, tokens."""

    a: str
    b: str
    operator: str
    admin_a: str
    user_a: str
    user_b: str
    alias_b: str
    tokens: dict[str, str] = field(default_factory=dict)
    deleted_a: str = ""  # mailbox id of a deleted account of A, kept for A's retention period
    deleted_b: str = ""  # the same in B


@pytest.fixture(scope="session")
def world(web_settings: Settings) -> World:
    tag = uuid.uuid4().hex[:8]
    w = World(a=f"a{tag}.go.th", b=f"b{tag}.go.th", operator=f"op-{tag}", admin_a=f"da-{tag}",
              user_a=f"somchai@a{tag}.go.th", user_b=f"malee@b{tag}.go.th", alias_b=f"helpdesk@b{tag}.go.th")
    with Services.open(web_settings, Actor("test-setup", Role.SUPERADMIN, origin="test")) as svc:
        for name in (w.a, w.b):
            svc.domains.add(name, description="หน่วยงานทดสอบ", max_accounts="100", quota_pool="100G")
        svc.accounts.add(w.user_a, PasswordInput(plain=PASSWORD), given_name="สมชาย", surname="ใจดี")
        svc.accounts.add(w.user_b, PasswordInput(plain=PASSWORD), given_name="มาลี", surname="ทองดี")
        for i in range(3):
            svc.accounts.add(f"staff{i}@{w.b}", PasswordInput(plain=PASSWORD), given_name=f"พนักงาน{i}")
        svc.aliases.add(w.alias_b, (w.user_b,))
        for name, member in ((w.a, w.user_a), (w.b, w.user_b)):  # a shared mailbox each (issue 17)
            svc.shared.add(f"saraban@{name}", name="สารบรรณ")
            svc.shared.add_member(f"saraban@{name}", member, "read,send-as")
        for name in (w.a, w.b):
            svc.accounts.add(f"former@{name}", PasswordInput(plain=PASSWORD), given_name="อดีตพนักงาน")
        w.deleted_a = svc.accounts.delete(f"former@{w.a}").mailbox_id
        w.deleted_b = svc.accounts.delete(f"former@{w.b}").mailbox_id
        svc.admins.add(w.operator, Role.SUPERADMIN, PasswordInput(plain=PASSWORD))
        svc.admins.add(w.admin_a, Role.DOMAIN_ADMIN, PasswordInput(plain=PASSWORD), domains=(w.a,))
        for login, role, domains in ((w.operator, Role.SUPERADMIN, ()), (w.admin_a, Role.DOMAIN_ADMIN, (w.a,))):
            actor = Actor(login, role, frozenset(domains), origin="test")
            w.tokens[login] = TokenService(svc.backends, actor).create("tests", password=PASSWORD).token
    return w


def finished_import_of_b(settings: Settings, world: World) -> int:
    """A new import job of B's, run to its end by an operator, its result file still there
    (a fresh one each time: the property-based API test may delete results)."""
    upload = settings.data_dir / f"world-{uuid.uuid4().hex[:8]}.csv"
    upload.write_text(f"email,given_name\r\nstaff0@{world.b},พนักงาน0\r\nnobody@{world.b},x,extra\r\n",
                      encoding="utf-8")
    with Services.open(settings, Actor("test-setup", Role.SUPERADMIN, origin="test")) as svc:
        return ImportService(svc.backends, svc.actor).run_file(upload).job.id


class Client:
    """A person with a browser-like cookie jar, talking real HTTP to the live server."""

    def __init__(self, live: Live) -> None:
        self.http = httpx.Client(base_url=live.url, follow_redirects=False, timeout=60,
                                 headers={"Accept-Language": "en"})
        self.csrf = ""

    def close(self) -> None:
        self.http.close()

    def get(self, path: str, **kw) -> httpx.Response:  # type: ignore[no-untyped-def]
        response = self.http.get(path, **kw)
        found = CSRF.search(response.text)
        if found:
            self.csrf = found.group(1)
        return response

    def post(self, path: str, data: dict[str, str] | None = None, csrf: bool = True) -> httpx.Response:
        body = dict(data or {})
        if csrf:
            body.setdefault("csrf_token", self.csrf)
        return self.http.post(path, data=body)

    def login_admin(self, login: str, password: str = PASSWORD) -> httpx.Response:
        self.get("/login")
        return self.post("/login", {"login": login, "password": password})

    def login_user(self, email: str, password: str = PASSWORD) -> httpx.Response:
        self.get("/mail/login")
        return self.post("/mail/login", {"email": email, "password": password})


@pytest.fixture
def client(live: Live) -> Iterator[Client]:
    c = Client(live)
    yield c
    c.close()


@pytest.fixture
def new_client(live: Live) -> Iterator:  # type: ignore[type-arg]
    made: list[Client] = []

    def make() -> Client:
        made.append(Client(live))
        return made[-1]

    yield make
    for c in made:
        c.close()

