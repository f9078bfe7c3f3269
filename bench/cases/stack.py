"""The load benchmark's five-layer stack in a loop: what all layers cost together.

The stack is ``bench/load_apps.py``'s: ProxyFix -> JSONErrors -> Compress ->
SessionMiddleware -> AuthParser around an app answering a 45-byte JSON 200.
In the pass-through group nothing gives a layer work (no forwarded headers,
no session cookie, no ``Authorization``, no ``Accept-Encoding``); the
second group sends what a browser behind one proxy sends, and the app
never touches its session.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from harness import Case, request

from wsgikit import AuthParser, Compress, JSONErrors, ProxyFix, SessionMiddleware, compose

SECRET = "stack-bench-secret-key-0123456789abcdef"
BODY = json.dumps({"ok": True, "visits": 0, "user": "bench-user"}).encode()
BROWSER = {
    "REMOTE_ADDR": "10.0.0.1",
    "HTTP_X_FORWARDED_FOR": "203.0.113.7",
    "HTTP_X_FORWARDED_PROTO": "https",
    "HTTP_ACCEPT_ENCODING": "gzip, deflate, br",
    "HTTP_ACCEPT": "application/json",
}


def _json_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response(
        "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))]
    )
    return [BODY]


def _stack() -> Any:
    return compose(
        _json_app,
        lambda a: ProxyFix(a, x_for=1, x_proto=1),
        JSONErrors,
        lambda a: Compress(a, level=6),
        lambda a: SessionMiddleware(a, SECRET),
        AuthParser,
    )


def _werkzeug_stack() -> Any:
    # Only werkzeug's ProxyFix: the anchor stack of the load bench adds
    # paste.gzipper and a Beaker session, which do work on every request.
    from werkzeug.middleware.proxy_fix import ProxyFix as WerkzeugProxyFix

    return WerkzeugProxyFix(_json_app, x_for=1, x_proto=1)


def cases() -> list[Case]:
    # No forwarded headers would log ProxyFix's one-off WARNING mid-table.
    logging.getLogger("wsgikit.proxy").setLevel(logging.ERROR)
    stack = _stack()
    cases = []
    group = "stack: five layers, 45-byte JSON 200, nothing to do"
    cases += [
        Case(group, "bare app", "floor", request(_json_app)),
        Case(group, "werkzeug ProxyFix alone", "anchor", request(_werkzeug_stack())),
        Case(
            group,
            "ProxyFix > JSONErrors > Compress > SessionMiddleware > AuthParser",
            "wsgikit",
            request(stack),
        ),
    ]
    group = "stack: five layers, 45-byte JSON 200, browser headers behind one proxy"
    cases += [
        Case(group, "bare app", "floor", request(_json_app, **BROWSER)),
        Case(group, "werkzeug ProxyFix alone", "anchor", request(_werkzeug_stack(), **BROWSER)),
        Case(
            group,
            "ProxyFix > JSONErrors > Compress > SessionMiddleware > AuthParser",
            "wsgikit",
            request(stack, **BROWSER),
        ),
    ]
    return cases
