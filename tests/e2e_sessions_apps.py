"""Targets for the end-to-end session tests (``wsgikit serve e2e_sessions_apps:app``).

``app``: a bare WSGI counter (``/`` counts visits, ``/logout`` clears the
session, ``/peek`` only reads); ``stored``: the same with ``store=RedisStore``.
``shared``: a Flask app (its own session) and a Bottle app
(``SessionMiddleware(flask_compatible=True)``) sharing one cookie, mounted at
``/flask`` and ``/bottle``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from typing import Any
from wsgiref.types import StartResponse, WSGIEnvironment

import bottle
import flask
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from wsgikit import RedisStore
from wsgikit.sessions import SessionMiddleware, get_session

SECRET = "e2e-sessions-secret-key-0123456789abcdef"


def counter(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    session = get_session(environ)
    path = environ.get("PATH_INFO", "/")
    if path == "/logout":
        session.clear()
    elif path == "/":
        session["visits"] = session.get("visits", 0) + 1
    body = json.dumps(dict(session)).encode()
    start_response(
        "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]


app = SessionMiddleware(counter, SECRET)
# The same counter with its data in the Redis at $E2E_REDIS_URL.
stored = SessionMiddleware(
    counter, SECRET, store=RedisStore(os.environ.get("E2E_REDIS_URL", "redis://127.0.0.1:1/0"))
)

flask_app = flask.Flask("wsgikit_e2e_sessions")
flask_app.secret_key = SECRET


@flask_app.route("/add/<item>")
def flask_add(item: str) -> Any:
    flask.session["cart"] = [*flask.session.get("cart", []), item]
    flask.session["seen_by"] = ("flask",)
    return flask.jsonify(cart=flask.session["cart"])


@flask_app.route("/cart")
def flask_cart() -> Any:
    return flask.jsonify(cart=flask.session.get("cart", []), seen_by=flask.session.get("seen_by"))


bottle_app = bottle.Bottle()


@bottle_app.route("/add/<item>")
def bottle_add(item: str) -> dict[str, Any]:
    session = get_session(bottle.request.environ)
    session["cart"] = [*session.get("cart", []), item]
    session["seen_by"] = (*session.get("seen_by", ()), "bottle")
    return {"cart": session["cart"]}


@bottle_app.route("/cart")
def bottle_cart() -> dict[str, Any]:
    session = get_session(bottle.request.environ)
    return {"cart": session.get("cart", []), "seen_by": list(session.get("seen_by", ()))}


shared = DispatcherMiddleware(
    flask_app,
    {"/bottle": SessionMiddleware(bottle_app, SECRET, flask_compatible=True)},
)
