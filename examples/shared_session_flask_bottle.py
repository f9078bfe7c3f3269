"""A Flask app and a Bottle app sharing one session cookie.

Flask keeps using its own ``flask.session``; the Bottle app, mounted at
``/bottle``, reads and writes the very same cookie through
``SessionMiddleware(flask_compatible=True)`` with the same secret key. Tuples
(and bytes, datetimes, UUIDs, Markup) survive the trip both ways.

    SECRET_KEY=$(python -c 'import secrets; print(secrets.token_hex(32))') \
        python examples/shared_session_flask_bottle.py
    curl -c jar -b jar http://127.0.0.1:8000/add/apple         # Flask
    curl -c jar -b jar http://127.0.0.1:8000/bottle/add/pear   # Bottle
    curl -b jar http://127.0.0.1:8000/cart                     # both items
"""

from __future__ import annotations

import logging
import os
from typing import Any

import bottle
import flask
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from wsgikit.sessions import SessionMiddleware, get_session

# Every process (gunicorn -w 4 starts four) must sign with the same key, so a
# random key per process is no fallback: read it from the environment, or use
# this fixed key that is public in the source and fit for development only.
DEV_ONLY_SECRET_KEY = "INSECURE-development-only-key-change-me-0123456789"
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    logging.getLogger(__name__).warning(
        "SECRET_KEY is not set: using the public development key (never in production)"
    )
    SECRET_KEY = DEV_ONLY_SECRET_KEY

flask_app = flask.Flask(__name__)
flask_app.secret_key = SECRET_KEY


@flask_app.route("/add/<item>")
def flask_add(item: str) -> Any:
    flask.session["cart"] = [*flask.session.get("cart", []), item]
    flask.session["last"] = ("flask", item)  # a tuple: Flask's tagged JSON keeps it
    return flask.jsonify(cart=flask.session["cart"])


@flask_app.route("/cart")
def flask_cart() -> Any:
    return flask.jsonify(cart=flask.session.get("cart", []), last=flask.session.get("last"))


bottle_app = bottle.Bottle()


@bottle_app.route("/add/<item>")
def bottle_add(item: str) -> dict[str, Any]:
    session = get_session(bottle.request.environ)
    session["cart"] = [*session.get("cart", []), item]
    session["last"] = ("bottle", item)
    return {"cart": session["cart"]}


@bottle_app.route("/cart")
def bottle_cart() -> dict[str, Any]:
    session = get_session(bottle.request.environ)
    last = session.get("last")
    return {"cart": session.get("cart", []), "last_is_tuple": isinstance(last, tuple)}


app = DispatcherMiddleware(
    flask_app,
    {
        "/bottle": SessionMiddleware(
            bottle_app,
            SECRET_KEY,
            flask_compatible=True,
            # Flask writes a browser-session cookie unless session.permanent is set;
            # max_age here bounds how old a cookie this side accepts.
            max_age=31 * 24 * 3600,
        )
    },
)


if __name__ == "__main__":
    from waitress import serve

    serve(app, host="127.0.0.1", port=8000)
