"""Peak memory of a 100 MB streamed response through Compress vs paste.gzipper,
and whether the first compressed bytes leave before the app yields its last chunk.

    python bench/stream_memory.py            # 100 MB, every variant
    python bench/stream_memory.py --mb 20    # a smaller body

Each variant runs in a fresh child process. The app yields the body in 64 KiB
chunks of HTML-like text (about 4x compressible) with no Content-Length; the
"server" iterates the response and throws the bytes away. Reported per variant:

- ``peak MiB``: tracemalloc's peak over the request minus what was allocated
  before it (Python-level allocations: buffers, chunks, lists);
- ``RSS +MiB``: growth of the child's maximum resident set during the request
  (includes the codecs' native windows and state, which tracemalloc cannot see);
- ``first out``: how many app chunks had been produced when the first non-empty
  output chunk reached the server (``last`` means only after the final one);
- the output size and the wall time (with tracemalloc on, so slower than real).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

CHUNK = 64 * 1024
VARIANTS = ("bare app", "Compress gzip", "Compress br", "Compress zstd", "paste.gzipper")


def _pool(count: int = 16) -> list[bytes]:
    """Distinct 64 KiB chunks of HTML-like text, made before measuring."""
    rng = random.Random(7)
    words = [
        "wsgi",
        "middleware",
        "stream",
        "chunk",
        "gzip",
        "vary",
        "etag",
        "header",
        "body",
        "cache",
        "proxy",
    ]
    pool = []
    for _ in range(count):
        text = " ".join(
            f"<td>{rng.choice(words)} {rng.randint(0, 99999)}</td>" for _ in range(CHUNK // 10)
        )
        pool.append(text.encode()[:CHUNK])
    return pool


def _tables(count: int) -> list[bytes]:
    """Per-chunk permutations of the letters and digits, so that no chunk
    repeats an earlier one (brotli's and zstd's windows would find repeats)."""
    rng = random.Random(11)
    alnum = list(b"abcdefghijklmnopqrstuvwxyz0123456789")
    tables = []
    for _ in range(count):
        shuffled = alnum[:]
        rng.shuffle(shuffled)
        table = bytearray(range(256))
        for source, target in zip(alnum, shuffled, strict=True):
            table[source] = target
        tables.append(bytes(table))
    return tables


class App:
    """Yields ``total`` bytes of text in 64 KiB chunks; records how many it produced.

    It calls ``start_response`` before returning its iterable: paste.gzipper
    breaks on apps that call it lazily (it closes its buffer, then reads it).
    """

    def __init__(self, total: int) -> None:
        self.pool = _pool()
        self.chunks = total // CHUNK
        self.tables = _tables(self.chunks)
        self.produced = 0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
        return self._body()

    def _body(self) -> Iterator[bytes]:
        pool, tables = self.pool, self.tables
        for index in range(self.chunks):
            self.produced = index + 1
            yield pool[index % len(pool)].translate(tables[index])


def _wrap(variant: str, app: App) -> Any:
    if variant == "bare app":
        return app
    if variant == "paste.gzipper":
        from paste.gzipper import middleware

        return middleware(app, compress_level=6)
    from wsgikit.compress import Compress

    return Compress(app, encodings=(variant.split()[1],))


def child(variant: str, megabytes: int) -> dict[str, Any]:
    import io

    app = App(megabytes * 1024 * 1024)
    wrapped = _wrap(variant, app)
    coding = {"Compress gzip": "gzip", "Compress br": "br", "Compress zstd": "zstd"}.get(
        variant, "gzip"
    )
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_ACCEPT_ENCODING": coding,
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": io.StringIO(),
        "wsgi.url_scheme": "http",
        "wsgi.version": (1, 0),
    }
    headers: list[Any] = []
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    baseline = tracemalloc.get_traced_memory()[0]
    start = time.perf_counter()
    result = wrapped(environ, lambda status, h, exc_info=None: headers.append(h))
    size = 0
    first_out: int | None = None
    try:
        for chunk in result:
            if chunk and first_out is None:
                first_out = app.produced
            size += len(chunk)
    finally:
        getattr(result, "close", lambda: None)()
    elapsed = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] - baseline
    tracemalloc.stop()
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "variant": variant,
        "peak_mib": peak / 2**20,
        "rss_mib": (rss_after - rss_before) / 1024,
        "first_out": first_out,
        "app_chunks": app.chunks,
        "out_mib": size / 2**20,
        "seconds": elapsed,
        "encoding": next(
            (value for name, value in headers[-1] if name.lower() == "content-encoding"), "-"
        )
        if headers
        else "-",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=int, default=100, help="body size in MiB (default 100)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.mb)))
        return 0
    print(f"{args.mb} MiB streamed in {CHUNK // 1024} KiB chunks, no Content-Length\n")
    print(
        f"{'variant':16} {'coding':6} {'peak MiB':>9} {'RSS +MiB':>9} {'first out':>14} "
        f"{'out MiB':>8} {'seconds':>8}"
    )
    for variant in VARIANTS:
        done = subprocess.run(
            [sys.executable, __file__, "--child", variant, "--mb", str(args.mb)],
            capture_output=True,
            text=True,
            check=True,
        )
        row = json.loads(done.stdout)
        first = row["first_out"]
        first_text = (
            "-"
            if first is None
            else "last"
            if first >= row["app_chunks"]
            else f"{first} of {row['app_chunks']}"
        )
        print(
            f"{row['variant']:16} {row['encoding']:6} {row['peak_mib']:9.2f} "
            f"{row['rss_mib']:9.1f} {first_text:>14} {row['out_mib']:8.1f} "
            f"{row['seconds']:8.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
