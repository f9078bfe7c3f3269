"""A Pyramid app keeping a visit counter in a wsgikit signed-cookie session.

SECRET_KEY=$(python -c 'import secrets; print(secrets.token_hex(32))') \
    python examples/pyramid_session_counter.py
curl -c jar -b jar http://127.0.0.1:8000/          # {"visits": 1}, then 2, 3...
curl -c jar -b jar http://127.0.0.1:8000/logout    # deletes the cookie
"""

from __future__ import annotations

import logging
import os
from typing import Any

from pyramid.config import Configurator
from pyramid.request import Request

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


def visit(request: Request) -> dict[str, Any]:
    session = get_session(request.environ)
    session["visits"] = session.get("visits", 0) + 1
    return {"visits": session["visits"], "new": session.new}


def logout(request: Request) -> dict[str, Any]:
    get_session(request.environ).clear()  # the response deletes the cookie
    return {"logged_out": True}


def make_app() -> Any:
    with Configurator() as config:
        config.add_route("visit", "/")
        config.add_route("logout", "/logout")
        config.add_view(visit, route_name="visit", renderer="json")
        config.add_view(logout, route_name="logout", renderer="json")
        pyramid_app = config.make_wsgi_app()
    return SessionMiddleware(
        pyramid_app,
        SECRET_KEY,
        max_age=3600,
        refresh_each_request=True,  # sliding expiry: an hour after the last visit
    )


app = make_app()

if __name__ == "__main__":
    from waitress import serve

    serve(app, host="127.0.0.1", port=8000)
