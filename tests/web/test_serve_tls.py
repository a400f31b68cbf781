"""`mailgothai serve` serving HTTPS itself (web_tls = 1, the stack's certificate), and
X-Forwarded-Proto believed only from the proxies `web_trusted_proxies` names: the real
command as a process of its own, real HTTP(S) clients, one of them connecting from
another loopback address (127.0.0.2) to play the proxy."""

from __future__ import annotations

import shutil
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from mailgothai.settings import Settings
from tests.web.test_serve_command import clean_env, served

PROXY = "127.0.0.2"


@contextmanager
def serving(stack: Settings, tmp_path: Path, **env: str) -> Iterator[int]:
    config = tmp_path / "mailgothai.toml"
    shutil.copy(stack.config_file, config)
    environ = clean_env() | {f"MAILGOTHAI_{k.upper()}": v for k, v in env.items()}
    with served(config, tmp_path, environ) as (_, port):
        yield port

def login_page(url: str, *, verify: ssl.SSLContext | bool = True, source: str | None = None,
               headers: dict[str, str] | None = None) -> httpx.Response:
    transport = httpx.HTTPTransport(verify=verify, local_address=source) if source else None
    with httpx.Client(verify=verify, transport=transport, timeout=60) as http:
        response = http.get(url + "/login", headers=headers)
    assert response.status_code == 200, response.text
    return response


def says_https(response: httpx.Response) -> bool:
    """What a browser sees of https: HSTS, and a cookie it will send over https only."""
    cookie = response.headers.get("set-cookie", "")
    assert cookie, "the login page sets its pre-login cookie"
    hsts = "strict-transport-security" in response.headers
    secure = "; secure" in cookie.lower()
    assert hsts == secure, response.headers
    return hsts and secure


def test_serve_speaks_https_with_the_stack_certificate(stack: Settings, tmp_path: Path) -> None:
    with serving(stack, tmp_path, web_tls="1") as port:
        trusting = ssl.create_default_context(cafile=str(stack.tls_cert_path))
        response = login_page(f"https://127.0.0.1:{port}", verify=trusting)
        assert response.headers["strict-transport-security"].startswith("max-age=")
        assert "Secure" in response.headers["set-cookie"]
        assert says_https(response)
        with pytest.raises(httpx.HTTPError):  # no plain HTTP on that port
            httpx.get(f"http://127.0.0.1:{port}/login", timeout=30)


def test_forwarded_proto_believed_only_from_a_named_proxy(stack: Settings, tmp_path: Path) -> None:
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    with serving(stack, tmp_path, web_trusted_proxies=PROXY) as port:
        url = f"http://127.0.0.1:{port}"
        assert not says_https(login_page(url))
        assert not says_https(login_page(url, headers=forwarded)), "an untrusted client's header was believed"
        assert says_https(login_page(url, source=PROXY, headers=forwarded)), "the named proxy was not believed"
        assert not says_https(login_page(url, source=PROXY)), "no header from the proxy: plain http"


def test_forwarded_proto_ignored_when_no_proxy_is_named(stack: Settings, tmp_path: Path) -> None:
    forwarded = {"X-Forwarded-Proto": "https"}
    with serving(stack, tmp_path) as port:
        url = f"http://127.0.0.1:{port}"
        assert not says_https(login_page(url, headers=forwarded))  # uvicorn's own default trusts 127.0.0.1
        assert not says_https(login_page(url, source=PROXY, headers=forwarded))
