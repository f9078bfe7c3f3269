"""A Pyramid app with a live-reload script injected into every HTML page.

    python examples/pyramid_inject_html.py      # then open http://127.0.0.1:8080/

The views know nothing about the snippet: ``InjectHTML`` inserts it before
``</body>`` of HTML responses (JSON and other types pass through untouched)
and sets the right ``Content-Length``.
"""

from __future__ import annotations

from pyramid.config import Configurator
from pyramid.request import Request
from pyramid.response import Response

from wsgikit.rewrite import InjectHTML

SNIPPET = '<script src="https://cdn.example/livereload.js" async></script>'


def home(request: Request) -> Response:
    return Response(
        "<!doctype html><html><head><title>Pyramid</title></head>"
        "<body><h1>Héllo from Pyramid</h1><a href='/api'>API</a></body></html>",
        content_type="text/html",
        charset="utf-8",
    )


def api(request: Request) -> Response:
    return Response(json_body={"injected": False})


def make_app() -> InjectHTML:
    with Configurator() as config:
        config.add_route("home", "/")
        config.add_view(home, route_name="home")
        config.add_route("api", "/api")
        config.add_view(api, route_name="api")
        pyramid_app = config.make_wsgi_app()
    return InjectHTML(pyramid_app, SNIPPET)


app = make_app()

if __name__ == "__main__":
    from waitress import serve

    serve(app, host="127.0.0.1", port=8080)
