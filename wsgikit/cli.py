"""``wsgikit serve``: serve a WSGI app, an INI pipeline or the demo through waitress.

.. code-block:: text

    wsgikit serve                          # the built-in demo, full stack, 127.0.0.1:8000
    wsgikit serve myproject.wsgi:app       # module:attr (attr may be a factory call: make_app())
    wsgikit serve production.ini           # a PasteDeploy file (its "main" app, or file.ini#name)
    wsgikit serve myapp:app --with proxy_fix --with json_errors
    wsgikit proxy http://127.0.0.1:3000 --fake-for 203.0.113.7 --with json_errors

Errors a user can fix (an unimportable target, a busy port, a missing server
package) are printed as one line on stderr, with exit status 2 (usage) or 1.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any, cast
from wsgiref.types import WSGIApplication

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
#: Filters ``--with`` accepts: the PasteDeploy factory names of wsgikit.paste.
FILTERS = ("fake_forwarded_for", "proxy_fix", "json_errors", "compress", "inject_html", "auth")


class CLIError(Exception):
    """A problem the user can fix; printed as one line."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``wsgikit`` console script."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "proxy":
        return _proxy_command(args)
    if args.command != "serve":
        parser.print_help()
        return 2
    try:
        return serve(
            args.target, host=args.host, port=args.port, layers=args.layers, threads=args.threads
        )
    except CLIError as error:
        print(f"wsgikit serve: error: {error}", file=sys.stderr)
        return error.status
    except KeyboardInterrupt:
        return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wsgikit", description="wsgikit command line")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve_parser = commands.add_parser(
        "serve",
        help="serve a WSGI app through waitress",
        description="Serve TARGET (module:attr or a PasteDeploy .ini file; none: the "
        "built-in demo behind the full wsgikit stack) through waitress.",
    )
    serve_parser.add_argument("target", nargs="?", help="module:attr or an .ini file")
    serve_parser.add_argument("--host", default=DEFAULT_HOST, help="default: 127.0.0.1")
    serve_parser.add_argument(
        "--port", type=_port, default=DEFAULT_PORT, help="0-65535 (0: any free port); default 8000"
    )
    serve_parser.add_argument("--threads", type=_threads, default=4, help="waitress threads (4)")
    serve_parser.add_argument(
        "--with",
        dest="layers",
        action="append",
        default=[],
        metavar="FILTER",
        help="wrap the target in a wsgikit filter with its default options "
        "(e.g. proxy_fix, json_errors, compress); repeat for more, outermost first",
    )
    _add_proxy_parser(commands)
    return parser


def serve(
    target: str | None,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    layers: Sequence[str] = (),
    threads: int = 4,
) -> int:
    """Load ``target``, wrap it in ``layers`` and serve it until interrupted."""
    try:
        import waitress
    except ImportError:
        raise CLIError("waitress is not installed: pip install 'wsgikit[server]'") from None

    if target is None:
        from .demo import demo_stack

        app = demo_stack()
    else:
        app = load_target(target)
    app = wrap(app, layers)

    try:
        # Forwarded headers are ProxyFix's business (trusted proxies, hop
        # counts): waitress would otherwise delete them before any middleware.
        server = waitress.create_server(
            app, host=host, port=port, threads=threads, clear_untrusted_proxy_headers=False
        )
    except OSError as error:
        raise CLIError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    url = f"http://{_url_host(host)}:{server.effective_port}"
    print(_banner(url, target), flush=True)
    try:
        server.run()
    finally:
        server.close()
    return 0


def load_target(target: str) -> WSGIApplication:
    """Import ``module:attr`` (``attr()`` calls a factory) or load an INI file."""
    path, _, name = target.partition("#")
    if path.endswith((".ini", ".cfg")) or os.path.isfile(path):
        return _load_ini(path, name or "main")
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise CLIError(f"target {target!r} is neither module:attr nor an .ini file", 2)
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise CLIError(f"cannot import {module_name!r}: {error}", 2) from None
    except Exception as error:  # the module itself failed while being imported
        raise CLIError(
            f"importing {module_name!r} failed: {type(error).__name__}: {error}", 2
        ) from None
    call = attr.endswith("()")
    obj: object = module
    for part in attr.removesuffix("()").split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise CLIError(f"module {module_name!r} has no attribute {attr!r}", 2) from None
    if call:
        if not callable(obj):
            raise CLIError(f"{target!r}: {attr.removesuffix('()')} is not callable", 2)
        try:
            obj = obj()
        except Exception as error:
            raise CLIError(f"{target!r} failed: {type(error).__name__}: {error}", 2) from None
    if not callable(obj):
        raise CLIError(f"{target!r} is not a WSGI application (not callable)", 2)
    return cast(WSGIApplication, obj)


def _load_ini(path: str, name: str) -> WSGIApplication:
    if not os.path.isfile(path):
        raise CLIError(f"no such file: {path}", 2)
    # Let the INI name apps that live beside it (use = call:module:factory).
    here = os.path.dirname(os.path.abspath(path))
    if here not in sys.path:
        sys.path.insert(0, here)
    try:
        from paste.deploy import loadapp
    except ImportError:
        raise CLIError("PasteDeploy is not installed: pip install 'wsgikit[paste]'") from None
    try:
        app: WSGIApplication = loadapp(f"config:{os.path.abspath(path)}", name=name)
    except (LookupError, ImportError, ValueError) as error:
        raise CLIError(f"cannot load {path}#{name}: {error}", 2) from None
    return app


def wrap(app: WSGIApplication, layers: Sequence[str]) -> WSGIApplication:
    """Wrap ``app`` in the named wsgikit filters (default options), outermost first."""
    from . import paste

    for name in reversed(layers):
        if name not in FILTERS:
            raise CLIError(f"unknown filter {name!r} (choose from {', '.join(FILTERS)})", 2)
        factory = getattr(paste, name)
        try:
            app = factory(app, {})
        except (TypeError, ValueError) as error:
            raise CLIError(f"filter {name!r} needs options: {error}", 2) from None
    return app


def _port(value: str) -> int:
    """argparse type: a TCP port number."""
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {value!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port {port} is not in 0-65535")
    return port


def _threads(value: str) -> int:
    """argparse type: a thread count of at least 1."""
    try:
        threads = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if threads < 1:
        raise argparse.ArgumentTypeError("at least 1 thread is needed")
    return threads


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def _banner(url: str, target: str | None) -> str:
    what = target or "the wsgikit demo (full middleware stack)"
    lines = [f"wsgikit: serving {what} on {url}  (Ctrl+C to stop)", "Try:"]
    if target is None:
        from .demo import CURL_EXAMPLES

        lines += [f"  {example.format(url=url)}" for example in CURL_EXAMPLES]
    else:
        lines.append(f"  curl -i {url}/")
    return "\n".join(lines)


# --- wsgikit proxy ---------------------------------------------------------------


#: Pending response bytes per connection before waitress pauses the proxy.
PROXY_OUTBUF = 1024 * 1024


def _add_proxy_parser(commands: Any) -> None:
    proxy = commands.add_parser(
        "proxy",
        help="a forwarding proxy that fakes a proxy chain in front of a running server",
        description="Serve FakeForwardedFor -> the --with filters -> HTTPProxy(UPSTREAM) "
        "through waitress: the upstream sees requests as if they passed a proxy chain.",
    )
    proxy.add_argument("upstream", help="the server to forward to: http[s]://host:port[/prefix]")
    proxy.add_argument("--host", default=DEFAULT_HOST, help="default: 127.0.0.1")
    proxy.add_argument(
        "--port", type=_port, default=DEFAULT_PORT, help="0-65535 (0: any free port); default 8000"
    )
    proxy.add_argument("--threads", type=_threads, default=4, help="waitress threads (4)")
    proxy.add_argument(
        "--fake-for", default="10.1.1.1", metavar="IP", help="the client address (10.1.1.1)"
    )
    proxy.add_argument(
        "--fake-proxies",
        default="10.3.4.5 127.0.0.1",
        metavar="IPS",
        help="the proxies after the client, outermost first (default: '10.3.4.5 127.0.0.1', "
        "so X-Forwarded-For has 3 hops); '' for none",
    )
    proxy.add_argument("--fake-proto", choices=("http", "https"), help="X-Forwarded-Proto")
    proxy.add_argument("--fake-host", metavar="HOST", help="X-Forwarded-Host")
    proxy.add_argument("--fake-prefix", metavar="/PREFIX", help="X-Forwarded-Prefix")
    proxy.add_argument("--timeout", type=float, default=30.0, help="upstream timeout, seconds (30)")
    proxy.add_argument("--preserve-host", action="store_true", help="send the client's Host")
    proxy.add_argument(
        "--with",
        dest="layers",
        action="append",
        default=[],
        metavar="FILTER",
        help="a wsgikit filter between FakeForwardedFor and the proxy; repeat, outermost first",
    )


def _proxy_command(args: argparse.Namespace) -> int:
    """``wsgikit proxy``: FakeForwardedFor -> filters -> HTTPProxy, served like ``serve``."""
    try:
        return _serve_proxy(args)
    except CLIError as error:
        print(f"wsgikit proxy: error: {error}", file=sys.stderr)
        return error.status
    except KeyboardInterrupt:
        return 0


def _serve_proxy(args: argparse.Namespace) -> int:
    from .http_proxy import HTTPProxy
    from .proxy import FakeForwardedFor

    try:
        import waitress
    except ImportError:
        raise CLIError("waitress is not installed: pip install 'wsgikit[server]'") from None
    try:
        app: WSGIApplication = HTTPProxy(
            args.upstream, timeout=args.timeout, preserve_host=args.preserve_host
        )
        app = FakeForwardedFor(
            wrap(app, args.layers),
            real_ip=args.fake_for,
            proxies=args.fake_proxies,
            proto=args.fake_proto,
            host=args.fake_host,
            prefix=args.fake_prefix,
        )
    except (TypeError, ValueError, ImportError) as error:
        raise CLIError(str(error), 2) from None
    # The server part of serve(): keep the two in step.
    try:
        server = waitress.create_server(
            app,
            host=args.host,
            port=args.port,
            threads=args.threads,
            clear_untrusted_proxy_headers=False,
            # Backpressure after 1 MiB instead of waitress's 16 MiB, so a
            # large download through the proxy keeps memory bounded.
            outbuf_high_watermark=PROXY_OUTBUF,
        )
    except OSError as error:
        where = f"{args.host}:{args.port}"
        raise CLIError(f"cannot listen on {where}: {error.strerror or error}") from None
    url = f"http://{_url_host(args.host)}:{server.effective_port}"
    print(_banner(url, f"a proxy to {args.upstream}"), flush=True)
    try:
        server.run()
    finally:
        server.close()
    return 0
