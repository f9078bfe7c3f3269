"""wsgikit packaging: all metadata lives here (pyproject.toml holds tool settings)."""

from setuptools import find_packages, setup

with open("README.md", encoding="utf-8") as readme:
    long_description = readme.read()

# Runtime dependencies, each for a reason:
# - werkzeug: HTTP header parsing and cookie serialisation (never hand-written)
# - itsdangerous: signing for sessions
RUNTIME = ["werkzeug>=3.0", "itsdangerous>=2.1"]

SERVER = ["waitress>=3.0"]
PASTE = ["PasteDeploy>=3.0"]
BROTLI = ["brotli>=1.1"]
ZSTD = ["zstandard>=0.22"]
# Faster gzip engines for Compress (see wsgikit/_deflate.py).
ZLIB_NG = ["zlib-ng>=0.5"]
ISAL = ["isal>=1.7"]
# bcrypt password hashes for BasicAuth (``{SHA}`` entries need nothing extra).
BCRYPT = ["bcrypt>=4.0"]
# Server-side sessions: SessionMiddleware(store=RedisStore(url)).
REDIS = ["redis>=5.0"]

# HTTPProxy's pooled upstream connections.
PROXY = ["urllib3>=2"]

# The documentation site (docs/): Sphinx with the furo theme and Markdown pages.
DOCS = ["sphinx>=7.2", "furo>=2024.1.29", "myst-parser>=3.0"]

TESTING = [
    *REDIS,
    *SERVER,
    *PROXY,
    *BCRYPT,
    *PASTE,
    *BROTLI,
    *ZSTD,
    *ZLIB_NG,
    *ISAL,
    "pytest>=8",
    "hypothesis>=6.100",
    "WebTest>=3.0",
    "flask>=3.0",
    "gunicorn>=22",
    "pyramid>=2.0",
    "bottle>=0.13",
    "django>=4.2",
    # paste.translogger: AccessLog's combined line is compared with its output;
    # gunicorn: a server that hands chunked request bodies on undecoded.
    "Paste>=3.10",
    "gunicorn>=22",
    "requests>=2.31",
    # drives Debian's chromium in tests/test_browser.py (no browser download)
    "playwright>=1.40",
    "ruff>=0.6",
    "mypy>=1.10",
    # .ci/run builds and checks the wheel and sdist.
    "build>=1.2",
    "twine>=5.0",
    # tests/test_deploy.py runs the uWSGI recipe (built from source: gcc, Python headers).
    "uwsgi>=2.0",
    # tests/test_docs.py builds the documentation site.
    *DOCS,
]
# Libraries the benchmarks compare against.
BENCH = [
    *SERVER,
    *PROXY,
    *BROTLI,
    *ZSTD,
    *ZLIB_NG,
    *ISAL,
    "gunicorn>=22",
    *BCRYPT,
    "flask>=3.0",
    "Paste>=3.10",
    "Beaker>=1.13",
    "secure-cookie>=0.2",
    "wsgi-basic-auth>=1.1",
    "wsgicors>=0.7",
    "flask-cors>=6.0",
]


setup(
    name="wsgikit",
    # The one place the version is written: wsgikit.__version__ and
    # ``wsgikit --version`` read it back through importlib.metadata.
    version="0.1.0.dev0",
    description="Composable, framework-agnostic WSGI middlewares done right",
    long_description=long_description,
    long_description_content_type="text/markdown",
    license="MIT",
    license_files=["LICENSE"],
    # No project_urls yet: the project has no public home, and it is not on the
    # package index (the name ``wsgikit`` there belongs to an unrelated project;
    # see README, "Install").
    packages=find_packages(exclude=["tests", "tests.*", "examples", "examples.*", "bench"]),
    package_data={"wsgikit": ["py.typed"]},
    include_package_data=True,
    zip_safe=False,
    python_requires=">=3.11",
    install_requires=RUNTIME,
    extras_require={
        "server": SERVER,
        "paste": PASTE,
        "brotli": BROTLI,
        "zstd": ZSTD,
        "zlib-ng": ZLIB_NG,
        "isal": ISAL,
        "bcrypt": BCRYPT,
        "redis": REDIS,
        "proxy": PROXY,
        "docs": DOCS,
        "testing": TESTING,
        "bench": BENCH,
    },
    entry_points={
        "console_scripts": ["wsgikit = wsgikit.cli:main"],
        "paste.filter_app_factory": [
            "fake_forwarded_for = wsgikit.paste:fake_forwarded_for",
            "proxy_fix = wsgikit.paste:proxy_fix",
            "rewrite = wsgikit.paste:rewrite",
            "compress = wsgikit.paste:compress",
            "inject_html = wsgikit.paste:inject_html",
            "json_errors = wsgikit.paste:json_errors",
            "session = wsgikit.paste:session",
            "auth = wsgikit.paste:auth",
            "basic_auth = wsgikit.paste:basic_auth",
            "bearer_auth = wsgikit.paste:bearer_auth",
            "cors = wsgikit.paste:cors",
            "trusted_hosts = wsgikit.paste:trusted_hosts",
            "security_headers = wsgikit.paste:security_headers",
            "request_id = wsgikit.paste:request_id",
            "access_log = wsgikit.paste:access_log",
            "max_body_size = wsgikit.paste:max_body_size",
        ],
        "paste.app_factory": ["http_proxy = wsgikit.paste:http_proxy"],
    },
    classifiers=[
        "Development Status :: 3 - Alpha",
        "Intended Audience :: Developers",
        "Programming Language :: Python :: 3",
        "Programming Language :: Python :: 3 :: Only",
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "Programming Language :: Python :: 3.13",
        "Environment :: Web Environment",
        "Operating System :: OS Independent",
        "Topic :: Internet :: WWW/HTTP :: WSGI :: Middleware",
        "Typing :: Typed",
    ],
)
