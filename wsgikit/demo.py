"""The built-in demo served by ``wsgikit serve`` with no target.

A bare WSGI app (no framework) with a few routes that show what each
middleware of the stack does, wrapped in the full wsgikit stack.

The session cookie is signed with the key in the ``WSGIKIT_SECRET_KEY``
environment variable. Without it, the demo uses :data:`DEV_ONLY_SECRET_KEY`, a
fixed key that is public in this source and fit for development only (sessions
survive a restart, and every process reads the others' cookies): a WARNING says
so once at startup. Never serve the demo's key in production.
"""

from __future__ import annotations

import html
import json
import logging
import os
from collections.abc import Iterable
from functools import partial
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from ._compose import compose
from .auth import AuthParser, BasicAuth
from .compress import Compress
from .errors import JSONErrors
from .inject_html import InjectHTML
from .proxy import ProxyFix
from .sessions import SessionMiddleware, get_session

logger = logging.getLogger("wsgikit.demo")

#: The environment variable holding the demo's session key.
SECRET_KEY_ENV = "WSGIKIT_SECRET_KEY"
#: The demo's session key when :data:`SECRET_KEY_ENV` is unset: public, development only.
DEV_ONLY_SECRET_KEY = "INSECURE-wsgikit-demo-development-only-key-0123456789"

#: Lines printed by ``wsgikit serve`` for the demo; ``{url}`` is the server's URL.
CURL_EXAMPLES = (
    "curl -i {url}/",
    "curl -i {url}/whoami -H 'X-Forwarded-For: 203.0.113.7' -H 'X-Forwarded-Proto: https'",
    "curl -i {url}/missing",
    "curl -i {url}/boom -H 'X-Request-ID: demo-1'",
    "curl -i --compressed {url}/big",
    "curl -i -c /tmp/wsgikit-demo.jar -b /tmp/wsgikit-demo.jar {url}/visits",
    "curl -i -u demo:demo {url}/private",
)

_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>wsgikit demo</title></head>
<body>
<h1>wsgikit demo</h1>
<p>You are {remote} over {scheme}, asking for host {host}.</p>
<ul>
<li><a href="/whoami">/whoami</a>: what the app sees of you, as JSON</li>
<li><a href="/missing">/missing</a>: a 404</li>
<li><a href="/boom">/boom</a>: an unhandled exception</li>
<li><a href="/big">/big</a>: a large text body</li>
<li><a href="/visits">/visits</a>: a counter kept in a signed-cookie session</li>
<li><a href="/private">/private</a>: behind HTTP Basic auth (demo / demo)</li>
</ul>
</body></html>
"""


def demo_app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """The demo application itself, without middleware."""
    path = environ.get("PATH_INFO") or "/"
    if path == "/":
        body = _PAGE.format(
            remote=html.escape(environ.get("REMOTE_ADDR", "?")),
            scheme=html.escape(environ.get("wsgi.url_scheme", "?")),
            host=html.escape(environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "?")),
        ).encode()
        return _respond(start_response, "200 OK", "text/html; charset=utf-8", body)
    if path == "/whoami":
        seen = {
            "remote_addr": environ.get("REMOTE_ADDR"),
            "scheme": environ.get("wsgi.url_scheme"),
            "host": environ.get("HTTP_HOST"),
            "script_name": environ.get("SCRIPT_NAME"),
            "proxy_originals": environ.get("wsgikit.proxy.orig"),
            "auth_scheme": getattr(environ.get("wsgikit.auth"), "scheme", None),
        }
        body = json.dumps(seen, indent=2).encode() + b"\n"
        return _respond(start_response, "200 OK", "application/json", body)
    if path == "/visits":
        session = get_session(environ)
        session["visits"] = session.get("visits", 0) + 1
        body = f"You have been here {session['visits']} time(s) in this session.\n".encode()
        return _respond(start_response, "200 OK", "text/plain; charset=utf-8", body)
    if path == "/private" or path.startswith("/private/"):
        return _PRIVATE(environ, start_response)
    if path == "/boom":
        raise RuntimeError("the demo failed on purpose")
    if path == "/big":
        line = b"wsgikit compresses this line, and the next, and the next.\n"
        return _respond(start_response, "200 OK", "text/plain; charset=utf-8", line * 2000)
    body = b"<html><body><h1>Not Found</h1></body></html>"
    return _respond(start_response, "404 Not Found", "text/html; charset=utf-8", body)


def _private_page(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    body = f"Hello, {environ.get('wsgikit.principal')}: you are logged in.\n".encode()
    return _respond(start_response, "200 OK", "text/plain; charset=utf-8", body)


# The demo's only user: "demo" / "demo" ({SHA}, so no bcrypt is needed).
_PRIVATE = BasicAuth(
    _private_page, users={"demo": "{SHA}ieSV55Qc+eQOaYDRSha/AjzNTJE="}, realm="wsgikit demo"
)


def demo_paste_app(global_conf: dict[str, str], **local_conf: str) -> WSGIApplication:
    """``paste.app_factory`` of the bare demo app (``use = call:wsgikit.demo:demo_paste_app``)."""
    return demo_app


def _respond(
    start_response: StartResponse, status: str, content_type: str, body: bytes
) -> list[bytes]:
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]


#: Injected into the demo's HTML pages by InjectHTML.
FOOTER = (
    "<footer><small>Served through wsgikit: this line was added by InjectHTML.</small></footer>"
)


def demo_stack() -> WSGIApplication:
    """The demo app behind the full wsgikit stack, in the order a request meets it.

    - ``ProxyFix`` believes ``X-Forwarded-*`` only from the loopback peer the
      demo listens on, and cleans what it does not believe;
    - ``JSONErrors`` turns every error, and the ``/boom`` exception, into
      problem JSON (the 401 of ``/private`` keeps its ``WWW-Authenticate``);
    - ``SessionMiddleware`` keeps the ``/visits`` counter in a signed cookie,
      signed with ``$WSGIKIT_SECRET_KEY``, else with the public
      :data:`DEV_ONLY_SECRET_KEY` (a WARNING is logged);
    - ``AuthParser`` shows the parsed ``Authorization`` on ``/whoami``;
    - ``Compress`` negotiates gzip/br/zstd (``/big``);
    - ``InjectHTML`` adds a footer to HTML pages, below compression so it sees
      the identity body.
    """
    secret_key = os.environ.get(SECRET_KEY_ENV)
    if not secret_key:
        logger.warning(
            "%s is not set: the demo signs sessions with its public development-only "
            "key (anyone can forge them); set %s to a long random value outside development",
            SECRET_KEY_ENV,
            SECRET_KEY_ENV,
        )
        secret_key = DEV_ONLY_SECRET_KEY
    return compose(
        demo_app,
        partial(
            ProxyFix,
            x_for=1,
            x_proto=1,
            x_host=1,
            trusted=["127.0.0.1", "::1"],
            clear_untrusted=True,
        ),
        JSONErrors,
        partial(SessionMiddleware, secret_key=secret_key),
        AuthParser,
        Compress,
        # Successful pages only: an error page is JSONErrors' to describe.
        partial(InjectHTML, snippet=FOOTER, statuses=[200]),
    )
