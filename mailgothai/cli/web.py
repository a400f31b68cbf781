"""`mailgothai serve`: the admin web and JSON API under uvicorn, on loopback by default."""

from __future__ import annotations

import argparse

from mailgothai.settings import Settings


def register(groups: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = groups.add_parser("serve", help="run the admin web and the JSON API (uvicorn)")
    parser.add_argument("--port", type=int, help="port (default: the web_port setting, 10081)")
    parser.add_argument("--host", help="address to listen on (default: the host setting, 127.0.0.1)")
    parser.set_defaults(handler=cmd_serve, needs_services=False)


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from mailgothai.web.app import create_app
    from mailgothai.web.serving import uvicorn_options

    options = uvicorn_options(settings)  # HTTPS (web_tls) and trusted proxies (web_trusted_proxies)
    app = create_app(settings)
    uvicorn.run(app, host=args.host or settings.host, port=args.port or settings.web_port, log_level="warning",
                server_header=False, access_log=False, **options)
    return 0
