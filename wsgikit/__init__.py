"""wsgikit: composable, framework-agnostic WSGI (PEP 3333) middlewares.

Each middleware wraps any WSGI application and adds one concern; every class is
also importable from its own module (``wsgikit.proxy``, ``wsgikit.rewrite``,
``wsgikit.compress``, ``wsgikit.errors``, ``wsgikit.sessions``, ``wsgikit.auth``,
``wsgikit.cors``, ``wsgikit.hosts``, ``wsgikit.security``, ``wsgikit.request_id``,
``wsgikit.access_log``, ``wsgikit.body_size``).

``wsgikit.http_proxy``).
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version

from ._compose import StackOrderWarning as StackOrderWarning
from ._compose import compose as compose
from .access_log import AccessLog as AccessLog
from .auth import Authorization as Authorization
from .auth import AuthParser as AuthParser
from .auth import BasicAuth as BasicAuth
from .auth import BearerAuth as BearerAuth
from .auth import parse_authorization as parse_authorization
from .body_size import BodyTooLarge as BodyTooLarge
from .body_size import MaxBodySize as MaxBodySize
from .compress import Compress as Compress
from .cors import CORS as CORS
from .errors import JSONErrors as JSONErrors
from .hosts import TrustedHosts as TrustedHosts
from .http_proxy import HTTPProxy as HTTPProxy
from .inject_html import InjectHTML as InjectHTML
from .proxy import FakeForwardedFor as FakeForwardedFor
from .proxy import ProxyFix as ProxyFix
from .request_id import RequestID as RequestID
from .rewrite import BodyRewriter as BodyRewriter
from .security import SecurityHeaders as SecurityHeaders
from .sessions import Session as Session
from .sessions import SessionMiddleware as SessionMiddleware
from .sessions import SessionTooLarge as SessionTooLarge
from .sessions import get_session as get_session
from .stores import MemoryStore as MemoryStore
from .stores import RedisStore as RedisStore
from .stores import SessionStoreError as SessionStoreError

try:
    # setup.py holds the version; this reads the installed metadata back.
    __version__ = _version("wsgikit")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "AccessLog",
    "AuthParser",
    "Authorization",
    "BasicAuth",
    "BearerAuth",
    "BodyRewriter",
    "BodyTooLarge",
    "CORS",
    "Compress",
    "FakeForwardedFor",
    "HTTPProxy",
    "InjectHTML",
    "JSONErrors",
    "MaxBodySize",
    "MemoryStore",
    "ProxyFix",
    "RedisStore",
    "RequestID",
    "SecurityHeaders",
    "Session",
    "SessionMiddleware",
    "SessionStoreError",
    "SessionTooLarge",
    "StackOrderWarning",
    "TrustedHosts",
    "compose",
    "get_session",
    "parse_authorization",
]
