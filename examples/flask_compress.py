"""A Flask app behind wsgikit's Compress: gzip (and brotli / zstandard when
installed), Vary, variant ETags that still get their 304, streamed responses.

    python examples/flask_compress.py           # serves on http://127.0.0.1:8000
    curl -si --compressed http://127.0.0.1:8000/ | head -20
    curl -si -H 'Accept-Encoding: gzip' -H 'If-None-Match: "page-v1-gzip"' \\
        http://127.0.0.1:8000/                    # 304 Not Modified
    curl -sN --compressed http://127.0.0.1:8000/events   # one event per second
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from flask import Flask, Response, make_response, request
from flask.typing import ResponseReturnValue

from wsgikit.compress import Compress

app = Flask(__name__)

PAGE = "<!doctype html><title>wsgikit</title><ul>{}</ul>".format(
    "".join(f"<li>Item number {n}, compressed on the way out.</li>" for n in range(500))
)


@app.route("/")
def index() -> ResponseReturnValue:
    # Flask answers If-None-Match itself; Compress maps "page-v1-gzip" back.
    response = make_response(PAGE)
    response.set_etag("page-v1")
    return response.make_conditional(request)


@app.route("/events")
def events() -> Response:
    def stream() -> Iterator[str]:
        for n in range(5):
            yield f"data: tick {n}\n\n"
            time.sleep(1)

    # text/event-stream: compressed, and flushed after every event.
    return Response(stream(), mimetype="text/event-stream")


@app.route("/logo.png")
def logo() -> Response:
    # Not a compressible type: passes through untouched.
    return Response(b"\x89PNG\r\n\x1a\n" + bytes(2048), mimetype="image/png")


app.wsgi_app = Compress(app.wsgi_app, min_size=512)  # type: ignore[method-assign]


if __name__ == "__main__":
    from waitress import serve

    serve(app, host="127.0.0.1", port=8000)
