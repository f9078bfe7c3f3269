"""Targets for ``wsgikit serve``/``check`` in the CLI tests, and the INI options each
PasteDeploy factory needs (``MINIMAL``), shared by test_cli and test_paste."""

from __future__ import annotations

from collections.abc import Iterable
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment


def hello(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    body = f"hello from {environ['PATH_INFO']}".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def make_hello() -> WSGIApplication:
    return hello


def paste_app_factory(global_conf: dict[str, str], **local_conf: str) -> WSGIApplication:
    """A ``paste.app_factory`` for INI tests: answers ``greeting``."""
    greeting = local_conf.get("greeting", "hi").encode()

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start_response(
            "200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(greeting)))]
        )
        return [greeting]

    return app


not_an_app = 42


def failing_factory() -> WSGIApplication:
    raise KeyError("missing setting")


def failing_paste_factory(global_conf: dict[str, str], **local_conf: str) -> WSGIApplication:
    """A ``paste.app_factory`` that fails, as a misconfigured app does."""
    raise RuntimeError("database URL is not set")


def whoami(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """The client address and scheme the app believes in, as an HTML page."""
    body = (
        f"<html><body>{environ['REMOTE_ADDR']} {environ['wsgi.url_scheme']}</body></html>"
    ).encode()
    start_response("200 OK", [("Content-Type", "text/html"), ("Content-Length", str(len(body)))])
    return [body]


def wrong_stack() -> WSGIApplication:
    """InjectHTML outside Compress, built with compose(): a known-wrong order."""
    from functools import partial

    from wsgikit import Compress, InjectHTML, compose

    return compose(whoami, partial(InjectHTML, snippet="<!-- injected -->"), Compress)


# Options a factory cannot be built without (its constructor has no default, or
# needs one of several); every other factory is built with none.
MINIMAL: dict[str, dict[str, str]] = {
    "rewrite": {"rewrite": "builtins:bytes"},
    "inject_html": {"snippet": "<hr>"},
    "session": {"secret_key": "k" * 32},
    "basic_auth": {"verify": "e2e_auth_apps:verify_password"},
    "bearer_auth": {"verify": "e2e_auth_apps:verify_token"},
    "trusted_hosts": {"hosts": "localhost"},
    "max_body_size": {"limit": "1_048_576"},
}
