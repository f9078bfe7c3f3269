"""A Pyramid back office behind HTTP Basic auth, users from an htpasswd file.

    python examples/pyramid_basic_auth.py      # serves on http://127.0.0.1:8080
    curl -si http://127.0.0.1:8080/                              # 401 + challenge
    curl -si -u admin:'correct horse' http://127.0.0.1:8080/     # 200, bcrypt user
    curl -si -u viewer:'battery staple' http://127.0.0.1:8080/   # 200, {SHA} user
    curl -si http://127.0.0.1:8080/health                        # exempt: no login

The users live in ``examples/htpasswd`` (``htpasswd -B`` writes bcrypt entries,
``htpasswd -s`` ``{SHA}`` ones); edit the file while the server runs and the
change is picked up within a second. Pyramid sees the login as
``request.remote_user``. Serve it over HTTPS in real life: Basic credentials
are only base64-encoded.
"""

from __future__ import annotations

from pathlib import Path

from pyramid.config import Configurator
from pyramid.request import Request
from pyramid.response import Response

from wsgikit.auth import BasicAuth

HTPASSWD = Path(__file__).with_name("htpasswd")


def home(request: Request) -> Response:
    return Response(f"Welcome to the back office, {request.remote_user}.\n")


def health(request: Request) -> Response:
    return Response(json_body={"status": "ok"})


def make_app() -> BasicAuth:
    with Configurator() as config:
        config.add_route("home", "/")
        config.add_view(home, route_name="home")
        config.add_route("health", "/health")
        config.add_view(health, route_name="health")
        pyramid_app = config.make_wsgi_app()
    return BasicAuth(pyramid_app, htpasswd=HTPASSWD, realm="Back office", exempt=["/health"])


app = make_app()

if __name__ == "__main__":
    from waitress import serve

    serve(app, host="127.0.0.1", port=8080)
