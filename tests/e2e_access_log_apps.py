"""Targets for the end-to-end AccessLog tests (``wsgikit serve e2e_access_log_apps:app``)."""

from __future__ import annotations

import logging
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from wsgiref.types import StartResponse, WSGIEnvironment

from wsgikit import AccessLog, RequestID

# The access lines go to stdout, which the test reads when the server stops.
_handler = logging.StreamHandler(sys.stdout)
_handler.setFormatter(logging.Formatter("ACCESS %(message)s"))
logging.getLogger("wsgikit.access").addHandler(_handler)
logging.getLogger("wsgikit.access").setLevel(logging.INFO)

_PATH = Path(tempfile.mkdtemp(prefix="wsgikit-e2e-")) / "file.txt"
_PATH.write_bytes(b"0123456789" * 1000)


def files_and_lists(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """``/file``: 10000 bytes through ``wsgi.file_wrapper``; anything else: a list."""
    if environ["PATH_INFO"] == "/file":
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "10000")])
        # Closed by the server, through the file wrapper's close().
        file = open(_PATH, "rb")  # noqa: SIM115
        return environ["wsgi.file_wrapper"](file)  # type: ignore[no-any-return]
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    return [b"hello"]


app = RequestID(AccessLog(files_and_lists, format="json"))
