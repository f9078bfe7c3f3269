"""Targets for the end-to-end proxy tests (``wsgikit serve MODULE:ATTR``)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from wsgikit.proxy import ProxyFix


def _whoami(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    seen = {
        key: environ.get(key)
        for key in ("REMOTE_ADDR", "wsgi.url_scheme", "HTTP_HOST", "SERVER_PORT", "SCRIPT_NAME")
    }
    seen["orig"] = environ.get("wsgikit.proxy.orig")
    seen["x_forwarded_for"] = environ.get("HTTP_X_FORWARDED_FOR")
    # Every forwarded header that reached the app (what the server left).
    seen["forwarded_headers"] = sorted(
        key for key in environ if key.startswith(("HTTP_X_FORWARDED_", "HTTP_FORWARDED"))
    )
    body = json.dumps(seen).encode()
    start_response(
        "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]


#: The test server's peer is 127.0.0.1: trust it, and 10.0.0.0/8 behind it.
trusted_app = ProxyFix(
    _whoami, x_host=1, x_prefix=1, trusted=["127.0.0.1", "10.0.0.0/8"], clear_untrusted=True
)
#: Trusts nobody who can reach a loopback test server.
untrusted_app = ProxyFix(_whoami, x_host=1, trusted=["192.0.2.1"], clear_untrusted=True)


def make_whoami(global_conf: dict[str, str]) -> WSGIApplication:
    """PasteDeploy app factory (``use = call:e2e_proxy_apps:make_whoami``)."""
    return _whoami


#: werkzeug-style hop counts, one proxy in front (the tests' client plays it).
hop_app = ProxyFix(_whoami, x_for=1, x_proto=1, x_host=1)
#: Trusts the loopback peer (the tests' client plays the proxy).
loopback_app = ProxyFix(_whoami, x_host=1, trusted=["127.0.0.1"], clear_untrusted=True)
#: The loopback peer is *not* one of our proxies: an attacker reaching the
#: server directly. Nothing it forwards may be believed, by any layer.
elsewhere_app = ProxyFix(_whoami, x_host=1, trusted=["192.0.2.1"], clear_untrusted=True)


def connection_scheme(app: WSGIApplication) -> WSGIApplication:
    """The docs' uWSGI recipe: uWSGI sets ``wsgi.url_scheme`` from any client's
    X-Forwarded-Proto/-Ssl; put back the scheme of uWSGI's own connection (its
    ``UWSGI_SCHEME``/``HTTPS`` variables, which no client header can set), so
    that ProxyFix alone decides."""

    def wrapper(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        https = environ.get("HTTPS", "").lower() in ("on", "1")
        environ["wsgi.url_scheme"] = environ.get("UWSGI_SCHEME") or ("https" if https else "http")
        return app(environ, start_response)

    return wrapper


#: uWSGI with the documented wrapper, outside ProxyFix.
uwsgi_loopback_app = connection_scheme(loopback_app)
uwsgi_elsewhere_app = connection_scheme(elsewhere_app)
