"""Loading the target of ``wsgikit serve``/``check``: a ``module:attr`` (or
``module:factory()``) import, or a PasteDeploy INI file built section by section
so that every failure names its file, section and option (:class:`CLIError`,
one line). Private: :mod:`wsgikit.cli` re-exports what it needs."""

from __future__ import annotations

import ast
import configparser
import contextlib
import importlib
import os
import sys
import warnings
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, cast
from wsgiref.types import WSGIApplication

if TYPE_CHECKING:
    from .paste import OptionError


class CLIError(Exception):
    """A problem the user can fix; printed as one line."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def load_target(
    target: str,
    *,
    building: Callable[[], contextlib.AbstractContextManager[object]] = contextlib.nullcontext,
) -> WSGIApplication:
    """Import ``module:attr`` (``attr()`` calls a factory) or load an INI file.

    The INI file is read and a factory called inside ``building()``; the
    module is imported outside it, with its stack-order warnings silenced
    (they concern whatever stacks the module builds, not necessarily this one).
    """
    from ._compose import StackOrderWarning

    path, _, name = target.partition("#")
    if path.endswith((".ini", ".cfg")) or os.path.isfile(path):
        with building():
            return _load_ini(path, name or "main")
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise CLIError(f"target {target!r} is neither module:attr nor an .ini file", 2)
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", StackOrderWarning)
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
            with building():
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
        from paste.deploy import loadwsgi
    except ImportError:
        raise CLIError("PasteDeploy is not installed: pip install 'wsgikit[paste]'") from None
    try:
        loader = loadwsgi.ConfigLoader(os.path.abspath(path))
    except configparser.Error as error:
        raise CLIError(f"{path} {_describe_config_error(error)}", 2) from None
    return _IniBuilder(loader, path).build(loadwsgi.APP, name)


class _IniBuilder:
    """Builds an app from a PasteDeploy file as ``loadapp`` does, section by
    section, so that any failure is reported with its file and section.

    PasteDeploy never tells a factory which section it is building (nor names
    it in its own errors), hence this walk: pipelines are taken apart here,
    every other kind of section is left to PasteDeploy whole.
    """

    def __init__(self, loader: Any, path: str) -> None:
        from paste.deploy import loadwsgi

        self.loader = loader
        self.path = path
        self.types = loadwsgi

    def build(self, object_type: Any, name: str, parent: str | None = None) -> WSGIApplication:
        section = self._section(object_type, name, parent)
        if section.startswith("pipeline:"):
            names = self._guard(section, lambda: self.loader.parser.get(section, "pipeline"))
            *filter_names, app_name = str(names).split() or [""]
            app = self.build(self.types.APP, app_name, section)
            for filter_name in reversed(filter_names):
                where = self._section(self.types.FILTER, filter_name, section)
                context = self._guard(
                    where, partial(self.loader.get_context, self.types.FILTER, filter_name)
                )
                make = self._guard(where, context.create)
                app = self._guard(where, partial(make, app))
            return app
        context = self._guard(section, lambda: self.loader.get_context(object_type, name))
        return cast(WSGIApplication, self._guard(section, context.create))

    def _section(self, object_type: Any, name: str, parent: str | None) -> str:
        if self.loader.absolute_name(name):
            return name  # egg:, config:, call:... : not a section of this file
        try:
            return str(self.loader.find_config_section(object_type, name=name))
        except LookupError:
            where = f"[{parent}]: " if parent else ""
            raise CLIError(
                f"{self.path} {where}no section {name!r} for a {object_type.name}", 2
            ) from None

    def _guard(self, section: str, step: Callable[[], Any]) -> Any:
        from .paste import OptionError

        try:
            return step()
        except CLIError:
            raise
        except configparser.Error as error:
            raise CLIError(f"{self.path} {_describe_config_error(error)}", 2) from None
        except OptionError as error:
            message = describe_option_error(error)
            raise CLIError(f"{self.path} [{section}] {message}", 2) from None
        except Exception as error:  # a factory or a middleware failed: say where
            raise CLIError(f"{self.path} [{section}]: {_one_line(error)}", 2) from None


def describe_option_error(error: OptionError) -> str:
    return f"option {error.option}: {error.message}" if error.option else error.message


def _describe_config_error(error: configparser.Error) -> str:
    """One line for what :mod:`configparser` found wrong, position first."""
    if isinstance(error, configparser.DuplicateSectionError):
        return f"line {error.lineno}: section [{error.section}] appears twice"
    if isinstance(error, configparser.DuplicateOptionError):
        return f"[{error.section}] option {error.option}: given twice (line {error.lineno})"
    if isinstance(error, configparser.MissingSectionHeaderError):
        return f"line {error.lineno}: {error.line.strip()!r} comes before any [section]"
    if isinstance(error, configparser.ParsingError):
        lineno, line = error.errors[0]  # the line as repr() gives it
        with contextlib.suppress(ValueError, SyntaxError):
            line = ast.literal_eval(line)
        return f"line {lineno}: cannot parse {str(line).strip()!r}"
    if isinstance(error, configparser.InterpolationError):
        # PasteDeploy prefixes "Error in file ...:"; the file is named already.
        reason = " ".join(str(error.args[0] if error.args else error).split())
        reason = reason.split(": ", 1)[-1] if reason.startswith("Error in file") else reason
        return f"[{error.section}] option {error.option}: bad interpolation: {reason}"
    return _one_line(error)


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
