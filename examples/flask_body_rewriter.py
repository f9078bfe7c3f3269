"""A Flask app whose pages are rewritten on the way out, buffered and streaming.

    python examples/flask_body_rewriter.py      # then open http://127.0.0.1:8080/

``BodyRewriter`` with ``rewrite=`` gets the whole body (bytes) and recomputes
``Content-Length``; with ``stream=`` it rewrites chunk by chunk as Flask
streams them, without holding the page in memory.
"""

from __future__ import annotations

from collections.abc import Iterator

from flask import Flask, Response, stream_with_context

from wsgikit.rewrite import BodyRewriter

flask_app = Flask(__name__)


@flask_app.route("/")
def index() -> str:
    return "<html><body><p>Contact: staff@example.com</p><a href='/log'>log</a></body></html>"


@flask_app.route("/log")
def log() -> Response:
    def lines() -> Iterator[str]:
        for number in range(1, 6):
            yield f"line {number}: token=SECRET{number}\n"

    return Response(stream_with_context(lines()), mimetype="text/plain")


def obfuscate_emails(body: bytes) -> bytes:
    """Buffered: the whole HTML page at once (UTF-8 here; the charset is ours to know)."""
    return body.replace(b"@example.com", b" [at] example.com")


def redact(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Streaming: each chunk as Flask produces it (a token never spans chunks here)."""
    for chunk in chunks:
        yield chunk.replace(b"SECRET", b"******")


app = BodyRewriter(
    BodyRewriter(flask_app, obfuscate_emails),
    stream=redact,
    content_types=("text/plain",),
)

if __name__ == "__main__":
    from waitress import serve

    serve(app, host="127.0.0.1", port=8080)
