"""ProxyFix against werkzeug's ProxyFix on the same requests, and trusted= mode."""

from __future__ import annotations

import logging
from typing import Any

from harness import Case, bare_app, request
from werkzeug.middleware.proxy_fix import ProxyFix as WerkzeugProxyFix

from wsgikit.proxy import FakeForwardedFor, ProxyFix

FORWARDED = {
    "REMOTE_ADDR": "10.0.0.1",
    "HTTP_X_FORWARDED_FOR": "203.0.113.7",
    "HTTP_X_FORWARDED_PROTO": "https",
    "HTTP_X_FORWARDED_HOST": "shop.example",
}
CHAIN = {
    "REMOTE_ADDR": "10.0.0.1",
    # The client, then four of our proxies; the peer (REMOTE_ADDR) is the fifth.
    "HTTP_X_FORWARDED_FOR": "203.0.113.7, 10.0.0.5, 10.0.0.4, 192.168.1.3, 10.0.0.2",
    "HTTP_X_FORWARDED_PROTO": "https",
    "HTTP_X_FORWARDED_HOST": "shop.example",
}

# Any client can send these to a hop-count ProxyFix.
HOSTILE = {"HTTP_X_FORWARDED_FOR": '"' + "1.2.3.4, " * 900 + '"' + ", 203.0.113.7"}
HUGE = {"HTTP_FORWARDED": "for=1.2.3.4;proto=http, " * 9000}


def cases() -> list[Case]:
    # The no-header cases would trigger ProxyFix's one-off "no forwarded
    # headers seen" WARNING (QUIET_REQUESTS) in the middle of the table.
    logging.getLogger("wsgikit.proxy").setLevel(logging.ERROR)
    app = bare_app()

    def function_layer(environ: dict[str, Any], start_response: Any) -> Any:
        return app(environ, start_response)

    class ClassLayer:
        """A middleware class whose ``__call__`` only calls the app."""

        def __init__(self, app: Any) -> None:
            self.app = app

        def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
            app = self.app
            return app(environ, start_response)

    ours = ProxyFix(app, x_for=1, x_proto=1, x_host=1)
    theirs = WerkzeugProxyFix(app, x_for=1, x_proto=1, x_host=1)
    trusted = ProxyFix(app, x_host=1, trusted=["10.0.0.0/8", "192.168.0.0/16", "fd00::/8"])
    fake = FakeForwardedFor(app, real_ip="203.0.113.7", proto="https", host="shop.example")

    cases = []
    group = "proxy: X-Forwarded-For/-Proto/-Host, 1 hop"
    cases += [
        Case(group, "bare app", "floor", request(app, **FORWARDED)),
        Case(
            group,
            "werkzeug ProxyFix(x_for=x_proto=x_host=1)",
            "anchor",
            request(theirs, **FORWARDED),
        ),
        Case(group, "ProxyFix(x_for=x_proto=x_host=1)", "wsgikit", request(ours, **FORWARDED)),
    ]
    group = "proxy: no forwarded headers"
    cases += [
        Case(group, "bare app", "floor", request(app)),
        Case(group, "werkzeug ProxyFix(x_for=x_proto=x_host=1)", "anchor", request(theirs)),
        Case(
            group,
            "plain function layer",
            "wsgikit",
            request(function_layer),
            note="the least a middleware can cost",
        ),
        Case(
            group,
            "do-nothing class layer",
            "wsgikit",
            request(ClassLayer(app)),
            note="the least a middleware class can cost (its __call__)",
        ),
        Case(group, "ProxyFix(x_for=x_proto=x_host=1)", "wsgikit", request(ours)),
        Case(group, "ProxyFix(trusted=3 networks)", "wsgikit", request(trusted)),
    ]
    group = "proxy: trusted= mode, 5-address chain"
    cases += [
        Case(group, "bare app", "floor", request(app, **CHAIN)),
        Case(
            group,
            "werkzeug ProxyFix(x_for=5, x_proto=1, x_host=1)",
            "anchor",
            request(WerkzeugProxyFix(app, x_for=5, x_proto=1, x_host=1), **CHAIN),
            note="counts hops, validates nothing",
        ),
        Case(group, "ProxyFix(x_host=1, trusted=3 networks)", "wsgikit", request(trusted, **CHAIN)),
    ]
    group = "proxy: hostile 8 KB quoted X-Forwarded-For (at the limit)"
    cases += [
        Case(group, "bare app", "floor", request(app, **HOSTILE)),
        Case(group, "werkzeug ProxyFix()", "anchor", request(WerkzeugProxyFix(app), **HOSTILE)),
        Case(group, "ProxyFix()", "wsgikit", request(ProxyFix(app), **HOSTILE)),
    ]
    group = "proxy: hostile 200 KB Forwarded, forwarded=1"
    cases += [
        Case(group, "bare app", "floor", request(app, **HUGE)),
        Case(
            group,
            "werkzeug ProxyFix() (ignores Forwarded)",
            "anchor",
            request(WerkzeugProxyFix(app), **HUGE),
        ),
        Case(
            group,
            "ProxyFix(forwarded=1)",
            "wsgikit",
            request(ProxyFix(app, forwarded=1), **HUGE),
            note="refused unparsed (over 8 KiB)",
        ),
    ]
    group = "proxy: FakeForwardedFor"
    cases += [
        Case(group, "bare app", "floor", request(app)),
        Case(group, "plain function layer", "anchor", request(function_layer)),
        Case(group, "FakeForwardedFor(proto, host)", "wsgikit", request(fake)),
    ]
    return cases
