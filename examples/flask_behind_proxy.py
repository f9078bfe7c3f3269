"""A Flask app behind a reverse proxy, with wsgikit's ProxyFix.

    python examples/flask_behind_proxy.py          # one simulated proxied request
    python examples/flask_behind_proxy.py --serve  # waitress on http://127.0.0.1:8000/
    curl -H "X-Forwarded-For: 203.0.113.7" -H "X-Forwarded-Proto: https" \
         -H "X-Forwarded-Host: shop.example" http://127.0.0.1:8000/

In production only ``ProxyFix`` is used: it believes X-Forwarded-* only from
the proxies listed in ``trusted``. ``FakeForwardedFor`` plays the proxy chain
for the simulated request, so the example shows the effect without a real
nginx in front; ``--serve`` runs the production stack under waitress, which
must be told to leave the forwarded headers to ``ProxyFix`` (by default it
deletes them before the app).
"""

from __future__ import annotations

import json
import sys

import flask
from werkzeug.test import Client

from wsgikit.proxy import FakeForwardedFor, ProxyFix

app = flask.Flask(__name__)


@app.route("/")
def whoami() -> flask.Response:
    request = flask.request
    return flask.jsonify(
        remote_addr=request.remote_addr,
        scheme=request.scheme,
        url=request.url,
        next_page=flask.url_for("whoami", _external=True),
    )


# Our load balancers live in 10.0.0.0/8; the app server sees them as peers.
app.wsgi_app = ProxyFix(app.wsgi_app, x_host=1, x_prefix=1, trusted=["10.0.0.0/8", "127.0.0.1"])


def main(argv: list[str]) -> None:
    # A client at 203.0.113.7 reaching https://shop.example/store through two proxies.
    chain = FakeForwardedFor(
        app,
        real_ip="203.0.113.7",
        proxies=("10.0.0.5", "10.0.0.2"),
        proto="https",
        host="shop.example",
        prefix="/store",
    )
    if "--serve" in argv:
        import waitress

        port = next((int(arg[7:]) for arg in argv if arg.startswith("--port=")), 8000)
        # Without clear_untrusted_proxy_headers=False waitress deletes
        # X-Forwarded-* and Forwarded before ProxyFix could read them.
        waitress.serve(app, host="127.0.0.1", port=port, clear_untrusted_proxy_headers=False)
        return
    response = Client(chain).get("/", environ_base={"REMOTE_ADDR": "10.0.0.1"})
    print(json.dumps(response.get_json(), indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
