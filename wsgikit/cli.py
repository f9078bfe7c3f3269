"""``wsgikit serve`` and ``wsgikit check``: serve a WSGI app, an INI pipeline or
the demo through waitress; print a stack and check the order of its layers.

.. code-block:: text

    wsgikit serve                          # the built-in demo, full stack, 127.0.0.1:8000
    wsgikit serve myproject.wsgi:app       # module:attr (attr may be a factory call: make_app())
    wsgikit serve production.ini           # a PasteDeploy file (its "main" app, or file.ini#name)
    wsgikit serve myapp:app --with proxy_fix:x_for=1,x_proto=1 --with json_errors
    wsgikit check production.ini           # the stack, its options, stack-order warnings
    wsgikit proxy http://127.0.0.1:3000 --fake-for 203.0.113.7 --with json_errors

Errors a user can fix (an unimportable target, a broken INI file, a bad filter
option, a busy port, a missing server package) are printed as one line on
stderr naming the file, section and option where known, with exit status 2
(usage or configuration) or 1.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import re
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any
from wsgiref.types import WSGIApplication

from ._cli_load import CLIError as CLIError
from ._cli_load import describe_option_error
from ._cli_load import load_target as load_target
from ._converters import asint
from ._options import check_int

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``wsgikit`` console script."""
    parser = _parser()
    args = parser.parse_args(argv)
    command = COMMANDS.get(args.command or "")
    if command is None:
        parser.print_help()
        return 2
    try:
        return command(args)
    except CLIError as error:
        print(f"wsgikit {args.command}: error: {error}", file=sys.stderr)
        return error.status
    except KeyboardInterrupt:
        return 0


def _run_serve(args: argparse.Namespace) -> int:
    return serve(
        args.target, host=args.host, port=args.port, layers=args.layers, threads=args.threads
    )


def _run_check(args: argparse.Namespace) -> int:
    return check(args.target, layers=args.layers, strict=args.strict)


#: Subcommand name -> handler(parsed arguments) -> exit status.
COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "serve": _run_serve,
    "check": _run_check,
    "proxy": lambda args: _serve_proxy(args),  # defined below, with its parser
}


def _parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(prog="wsgikit", description="wsgikit command line")
    parser.add_argument("--version", action="version", version=f"wsgikit {__version__}")
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
    _add_with(serve_parser)
    check_parser = commands.add_parser(
        "check",
        help="print a stack and check the order of its wsgikit layers",
        description="Load TARGET (module:attr, module:factory() or a PasteDeploy .ini "
        "file) and print its stack, outermost first, each layer with its effective "
        "options, then every stack-order warning. Exit status: 0 when clean or with "
        "warnings only, 1 with warnings and --strict, 2 when TARGET cannot be loaded.",
    )
    check_parser.add_argument("target", help="module:attr or an .ini file")
    check_parser.add_argument(
        "--strict", action="store_true", help="treat stack-order warnings as errors"
    )
    _add_with(check_parser)
    _add_proxy_parser(commands)
    return parser


def _add_with(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--with",
        dest="layers",
        action="append",
        default=[],
        metavar="FILTER[:OPT=VAL,...]",
        help="wrap the target in a wsgikit filter, options converted as in an INI file "
        "(e.g. proxy_fix:x_for=1,x_proto=1); repeat for more, outermost first; "
        "filters: " + ", ".join(_filter_names()),
    )


def _filter_names() -> list[str]:
    from .paste import FACTORIES

    return list(FACTORIES)


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

    app, problems = load_stack(target, layers)
    for problem in problems:
        print(f"wsgikit serve: warning: {problem}", file=sys.stderr, flush=True)

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


def load_stack(target: str | None, layers: Sequence[str] = ()) -> tuple[WSGIApplication, list[str]]:
    """Load ``target`` (``None``: the demo), wrap it in ``layers``, and return it
    with every stack-order problem of that stack: those of the finished chain,
    and those warned about while it was built (by a ``factory()``, the INI
    file's factories or ``layers``).

    Warnings raised while the target's *module* is imported are not counted:
    they may be about other stacks the module defines (``mod:good`` beside a
    wrong ``mod:bad``), and the target's own problems are found in its chain."""
    from ._compose import StackOrderWarning, order_problems, stack_of

    caught: list[warnings.WarningMessage] = []

    @contextlib.contextmanager
    def building() -> Iterator[None]:
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always", StackOrderWarning)
            try:
                yield
            finally:
                caught.extend(seen)

    if target is None:
        from .demo import demo_stack

        with building():
            app = demo_stack()
    else:
        app = load_target(target, building=building)
    with building():
        app = wrap(app, layers)
    problems: list[str] = []
    for warning in caught:
        if issubclass(warning.category, StackOrderWarning):
            problems.append(str(warning.message))
        else:  # not ours to swallow
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )
    for problem in order_problems(stack_of(app)):
        if problem not in problems:
            problems.append(problem)
    return app, problems


def check(target: str, *, layers: Sequence[str] = (), strict: bool = False) -> int:
    """Print the stack of ``target`` outermost first, with each layer's effective
    options, then every stack-order problem; the exit status of ``wsgikit check``."""
    from ._compose import stack_of

    app, problems = load_stack(target, layers)
    chain = stack_of(app)
    print(f"{target}: {len(chain) - 1} layer(s), outermost first")
    for position, layer in enumerate(chain[:-1], 1):
        print(f"  {position}. {describe_layer(layer)}")
    print(f"  app: {_qualified(chain[-1])}")
    for problem in problems:
        print(f"{'error' if strict else 'warning'}: {problem}")
    if not problems:
        print("stack order: no known problem")
    return 1 if strict and problems else 0


# Options never printed as they are: secrets and password hashes.
_HIDDEN = frozenset({"secret_key", "fallback_keys", "users"})


def describe_layer(layer: object) -> str:
    """``Name(option=value, ...)`` with the layer's effective options (the public
    attributes named like its constructor's parameters; secrets hidden)."""
    try:
        parameters = list(inspect.signature(type(layer)).parameters)[1:]
    except (TypeError, ValueError):
        parameters = []
    shown = []
    for name in parameters:
        if not hasattr(layer, name):
            continue
        value = getattr(layer, name)
        if name in _HIDDEN:
            many = isinstance(value, list | tuple | dict)
            text = f"<{len(value)} hidden>" if many else "<hidden>"
        elif callable(value) and not isinstance(value, type):
            text = _qualified(value)
        else:
            text = repr(value)
        shown.append(f"{name}={text if len(text) <= 80 else text[:77] + '...'}")
    return f"{type(layer).__name__}({', '.join(shown)})"


def _qualified(obj: object) -> str:
    target = obj if inspect.isfunction(obj) or inspect.isclass(obj) else type(obj)
    return f"{target.__module__}.{target.__qualname__}"


def parse_with(spec: str) -> tuple[str, dict[str, str]]:
    """``FILTER[:option=value,option=value]`` -> the filter name and its INI strings.

    A comma starts a new option only when ``name=`` follows it, so a list keeps
    its commas: ``proxy_fix:trusted=10.0.0.0/8,192.168.0.0/16,x_for=2``.
    """
    name, _, rest = spec.partition(":")
    name = name.strip()
    options: dict[str, str] = {}
    items = re.split(r",(?=\s*[A-Za-z_]\w*\s*=)", rest) if rest.strip() else []
    for item in items:
        option, equals, value = item.partition("=")
        if not equals or not option.strip():
            raise CLIError(f"--with {name}: {item!r} is not option=value", 2)
        options[option.strip()] = value.strip()
    return name, options


def wrap(app: WSGIApplication, layers: Sequence[str]) -> WSGIApplication:
    """Wrap ``app`` in wsgikit filters, outermost first. Each is ``FILTER`` or
    ``FILTER:option=value,...``, its options converted exactly as in an INI file."""
    from .paste import FACTORIES, OptionError

    for spec in reversed(layers):
        name, options = parse_with(spec)
        if name not in FACTORIES:
            raise CLIError(f"unknown filter {name!r} (choose from {', '.join(FACTORIES)})", 2)
        try:
            app = FACTORIES[name](app, {}, **options)
        except OptionError as error:
            raise CLIError(f"--with {name}: {describe_option_error(error)}", 2) from None
    return app


def _whole_number(option: str, minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    """An argparse type: the text read as the INI files read a whole number,
    then range-checked, in the words of :func:`wsgikit._options.check_int`."""

    def whole_number(text: str) -> int:
        try:
            return check_int(option, asint(text), minimum=minimum, maximum=maximum)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return whole_number


_port = _whole_number("port", 0, 65535)
_threads = _whole_number("threads", 1)


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
    _add_with(proxy)


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
