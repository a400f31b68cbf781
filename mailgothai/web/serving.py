"""How the web is reached, as uvicorn's options: HTTPS served by the process itself
(`web_tls`, with the same certificate and key as the relay and Dovecot), and the reverse
proxies whose X-Forwarded-Proto / X-Forwarded-For are believed (`web_trusted_proxies`;
nobody's by default — uvicorn on its own would believe 127.0.0.1)."""

from __future__ import annotations

from typing import Any

from mailgothai.core.reasons import Why
from mailgothai.errors import InvalidInput
from mailgothai.settings import Settings


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    options: dict[str, Any] = {"proxy_headers": bool(settings.web_trusted_proxies)}
    if settings.web_trusted_proxies:
        options["forwarded_allow_ips"] = list(settings.web_trusted_proxies)
    if settings.web_tls:
        files = (("tls_cert_file", settings.tls_cert_path), ("tls_key_file", settings.tls_key_path))
        for name, path in files:
            if not path.is_file():
                raise InvalidInput(name, Why.NO_SUCH_FILE(path=str(path)))
        options["ssl_certfile"] = str(settings.tls_cert_path)
        options["ssl_keyfile"] = str(settings.tls_key_path)
    return options
