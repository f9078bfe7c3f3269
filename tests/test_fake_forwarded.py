"""wsgikit.fake_forwarded.FakeForwardedFor (also wsgikit.proxy.FakeForwardedFor):
the headers it sends, what it keeps; and the refused options of both proxy-header
middlewares, FakeForwardedFor's and ProxyFix's, in one table."""

from __future__ import annotations

from typing import Any

import pytest
from helpers import (
    Capture,
    run_wsgi,
    seen,
    through,
)

from wsgikit.proxy import FakeForwardedFor, ProxyFix

# --- FakeForwardedFor ---------------------------------------------------------


def test_fake_adds_x_forwarded_for_with_defaults() -> None:
    environ = through(FakeForwardedFor)()
    assert environ["HTTP_X_FORWARDED_FOR"] == "10.1.1.1, 10.3.4.5, 127.0.0.1"
    assert not {"HTTP_X_FORWARDED_PROTO", "HTTP_FORWARDED"} & set(environ)
    assert environ["REMOTE_ADDR"] == "127.0.0.1"


@pytest.mark.parametrize(
    ("override", "expected"),
    [pytest.param(False, "6.6.6.6", id="kept"), pytest.param(True, "10.1.1.1", id="overridden")],
)
def test_fake_keeps_client_header_unless_override(override: bool, expected: str) -> None:
    environ = through(FakeForwardedFor, proxies=(), override=override, proto="https")(
        HTTP_X_FORWARDED_FOR="6.6.6.6"
    )
    assert environ["HTTP_X_FORWARDED_FOR"] == expected
    assert environ["HTTP_X_FORWARDED_PROTO"] == "https"


def test_fake_sends_every_header_one_value_per_hop() -> None:
    environ = through(
        FakeForwardedFor,
        real_ip="2001:db8::7",
        proxies="10.0.0.5 fd00::1",
        proto="https",
        host="shop.example:8443",
        port=8443,
        prefix="/store",
        forwarded=True,
    )()
    assert environ["HTTP_X_FORWARDED_FOR"] == "2001:db8::7, 10.0.0.5, fd00::1"
    assert environ["HTTP_X_FORWARDED_PROTO"] == "https, https, https"
    assert environ["HTTP_X_FORWARDED_PORT"] == "8443, 8443, 8443"
    assert environ["HTTP_X_FORWARDED_PREFIX"] == "/store, /store, /store"
    extra = ';proto=https;host="shop.example:8443"'
    assert environ["HTTP_FORWARDED"] == (
        f'for="[2001:db8::7]"{extra}, for=10.0.0.5{extra}, for="[fd00::1]"{extra}'
    )


@pytest.mark.parametrize(
    "proxy_fix",
    [
        pytest.param({"x_for": 3, "x_proto": 3, "x_host": 3}, id="hop counts"),
        pytest.param({"x_for": 3, "x_proto": 1, "x_host": 1}, id="hop count 1 for the rest"),
        pytest.param({"x_host": 1, "trusted": ["10.0.0.0/8", "127.0.0.1"]}, id="trusted"),
        pytest.param({"forwarded": 3}, id="forwarded hops"),
        pytest.param({"forwarded": 1, "trusted": ["10.0.0.0/8", "127.0.0.1"]}, id="fwd trusted"),
    ],
)
def test_fake_chain_is_understood_by_proxy_fix(proxy_fix: dict[str, Any]) -> None:
    capture = Capture()
    app = FakeForwardedFor(
        ProxyFix(capture, **proxy_fix),
        real_ip="203.0.113.7",
        proxies=["10.0.0.5", "10.0.0.4"],
        proto="https",
        host="shop.example",
        forwarded=True,
    )
    run_wsgi(app)
    assert seen(capture.environ)["REMOTE_ADDR"] == "203.0.113.7"
    assert (capture.environ["wsgi.url_scheme"], capture.environ["HTTP_HOST"]) == (
        "https",
        "shop.example",
    )


# --- options: the whole words of some refusals (all refusals: test_options.py) -


@pytest.mark.parametrize(
    ("middleware", "options", "words"),
    [
        (FakeForwardedFor, {"port": 0},
         "ValueError: port: must be a whole number between 1 and 65535 or None, not 0"),
        (FakeForwardedFor, {"proto": "ftp"},
         "ValueError: proto: must be 'http' or 'https' or None, not 'ftp'"),
        (FakeForwardedFor, {"host": 1},
         "TypeError: host: must be a host name or IP literal with an optional port or None,"
         " not 1"),
        (FakeForwardedFor, {"real_ip": "x"},
         "ValueError: real_ip: must be a plain IPv4 or IPv6 address, not 'x'"),
        (FakeForwardedFor, {"override": 1}, "TypeError: override: must be True or False, not 1"),
        (ProxyFix, {"x_for": "1"},
         "TypeError: x_for: must be a whole number of hops >= 0, not '1'"),
        (ProxyFix, {"x_host": -1},
         "ValueError: x_host: must be a whole number of hops >= 0, not -1"),
        (ProxyFix, {"clear_untrusted": "yes"},
         "TypeError: clear_untrusted: must be True or False, not 'yes'"),
        (ProxyFix, {"trusted": [10]},
         "TypeError: trusted: must be addresses or networks (a list of str, "
         "or one str of items separated by commas or spaces, or ipaddress objects), "
         "not a list holding 10"),
    ],
)  # fmt: skip
def test_option_errors_use_the_shared_wording(
    middleware: Any, options: dict[str, Any], words: str
) -> None:
    """The "<option>: must be ..., not ..." wording of wsgikit._options (#9)."""
    with pytest.raises((TypeError, ValueError)) as caught:
        middleware(Capture(), **options)
    assert f"{type(caught.value).__name__}: {caught.value}" == words
