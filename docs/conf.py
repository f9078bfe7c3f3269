"""Sphinx configuration for the wsgikit documentation site."""

from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent / "_ext"))

project = "wsgikit"
author = "wsgikit contributors"
copyright = "wsgikit contributors"
try:
    release = metadata.version("wsgikit")
except metadata.PackageNotFoundError:  # building from a checkout that is not installed
    release = "dev"

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "paste_reference",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3
exclude_patterns = ["_build"]

html_theme = "furo"
html_title = "wsgikit"

# The reference is the docstrings; signatures show names, the docstrings the types.
autodoc_typehints = "none"
autodoc_member_order = "bysource"
autodoc_default_options = {"members": False}
# Names in docstrings that live outside this site (no intersphinx: no network).
nitpick_ignore_regex = [
    ("py:.*", r"(wsgiref|typing|collections|werkzeug|itsdangerous|redis|urllib3)\..*"),
    ("py:.*", r"(str|bytes|int|float|bool|dict|list|tuple|None|object|Exception)"),
]
