"""A Pyramid app keeping a visit counter in a wsgikit signed-cookie session.

SECRET_KEY=change-me python examples/pyramid_session_counter.py
curl -c jar -b jar http://127.0.0.1:8000/          # {"visits": 1}, then 2, 3...
curl -c jar -b jar http://127.0.0.1:8000/logout    # deletes the cookie
"""

from __future__ import annotations

import os
import secrets
from typing import Any

from pyramid.config import Configurator
from pyramid.request import Request

from wsgikit.sessions import SessionMiddleware, get_session


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
        os.environ.get("SECRET_KEY") or secrets.token_hex(32),
        max_age=3600,
        refresh_each_request=True,  # sliding expiry: an hour after the last visit
    )


app = make_app()

if __name__ == "__main__":
    from waitress import serve

    serve(app, host="127.0.0.1", port=8000)
