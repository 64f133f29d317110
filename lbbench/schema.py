"""One declarative way to read TOML (or JSON, or a flag's value) into lbbench's config types.

The types declare themselves: a frozen dataclass's annotated fields (or a
constructor's annotated keyword parameters) say what a table may hold and
of what type; ranges are checked where the type is built (``__post_init__``
with ``lbbench.checks``). This module does the rest in one place:
unknown keys are refused with the known ones listed, values are checked
and converted against their annotations (an int is a float, a bool is not a
number, a TOML array is a tuple, a table is a nested dataclass), and every
error names where it happened as ``file: table.key``.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, Union

from lbbench.errors import ConfigError

T = TypeVar("T")


def join(where: str, key: str) -> str:
    if not where:
        return key
    return f"{where}{key}" if where.endswith(": ") else f"{where}.{key}"


def _describe(annotation: Any) -> str:
    return getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")


def convert(annotation: Any, value: Any, where: str) -> Any:
    """``value`` checked against ``annotation`` and converted (a ConfigError names ``where``)."""
    origin = typing.get_origin(annotation)
    if annotation is Any:
        return value
    if origin in (Union, types.UnionType):
        options = typing.get_args(annotation)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return convert(option, value, where)
            except ConfigError as error:
                errors.append(error)
        raise errors[-1] if errors else ConfigError(where, f"unexpected {value!r}")
    if annotation is bool:
        if not isinstance(value, bool):
            raise ConfigError(where, f"must be true or false, got {value!r}")
        return value
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(where, f"must be an integer, got {value!r}")
        return value
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(where, f"must be a number, got {value!r}")
        return float(value)
    if annotation is str:
        if not isinstance(value, str):
            raise ConfigError(where, f"must be a string, got {value!r}")
        return value
    if origin is tuple:
        args = typing.get_args(annotation)
        if not isinstance(value, list | tuple):
            raise ConfigError(where, f"must be an array, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(convert(args[0], v, f"{where}[{i}]") for i, v in enumerate(value))
        if len(args) != len(value):
            raise ConfigError(where, f"must have {len(args)} items, got {len(value)}")
        return tuple(
            convert(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value, strict=True))
        )
    if origin in (Mapping, dict) or annotation in (Mapping, dict):
        if not isinstance(value, Mapping):
            raise ConfigError(where, f"must be a table, got {value!r}")
        return dict(value)
    if isinstance(annotation, type) and isinstance(value, annotation):
        return value
    from_table = getattr(annotation, "from_table", None)
    if from_table is not None:  # a type with a table shape of its own (a latency model)
        return from_table(value, where)
    if dataclasses.is_dataclass(annotation) and isinstance(annotation, type):
        return load(annotation, value, where)
    raise TypeError(f"{where}: no conversion for {_describe(annotation)}")  # a bug, not input


def check_keys(data: Any, known: Any, where: str) -> Mapping[str, Any]:
    """``data`` as a table, refusing keys outside ``known`` (listed in the error)."""
    if not isinstance(data, Mapping):
        raise ConfigError(where, f"must be a table, got {data!r}")
    for key in data:
        if key not in known:
            raise ConfigError(join(where, key), f"unknown key (known: {', '.join(known)})")
    return data


def fields_of(cls: type) -> dict[str, Any]:
    """A dataclass's settable fields and their annotations (ClassVars and private ones out)."""
    hints = typing.get_type_hints(cls)
    return {
        f.name: hints[f.name]
        for f in dataclasses.fields(cls)
        if f.init and not f.name.startswith("_")
    }


def load(cls: type[T], data: Any, where: str, **extra: Any) -> T:
    """Build dataclass ``cls`` from a table; ``extra`` are fields given by the caller.

    Unknown keys are refused, every value is checked against its field's
    annotation, and the type's own range checks run; any error names
    ``where`` and the key. A type with a ``PATH`` (``failover.retry``) names
    its fields by that path from the root of the settings; read from a
    table at ``where``, the root is ``where`` without that path.
    """
    if not isinstance(data, Mapping):
        raise ConfigError(where, f"must be a table, got {data!r}")
    known = fields_of(cls)
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in known:
            names = ", ".join(k for k in known if k not in extra)
            raise ConfigError(join(where, key), f"unknown key (known: {names})")
        kwargs[key] = convert(known[key], value, join(where, key))
    kwargs.update(extra)
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if f.init and required and f.name not in kwargs:
            raise ConfigError(join(where, f.name), "missing")
    path = getattr(cls, "PATH", "")
    root = where
    if path and (where == path or where.endswith((f".{path}", f": {path}"))):
        root = where[: -len(path)].rstrip(".")
    return located(root, lambda: cls(**kwargs))


def located(root: str, build: Callable[[], T]) -> T:
    """Run ``build``; an error it raises about a path below ``root`` gets ``root`` in front.

    Types check their ranges by paths of their own (``deadline_s``,
    ``failover.retry.budget_ratio``); read from a table in a file, the
    error should name the file and the table too.
    """
    try:
        return build()
    except ConfigError as error:
        if root and not error.where.startswith(root):
            raise ConfigError(join(root, error.where), error.message) from None
        raise


def keyword_parameters(function: Callable[..., Any]) -> dict[str, tuple[Any, Any]]:
    """A function's keyword-only parameters: name -> (annotation, default).

    For types whose settings are constructor keywords (strategies), so they
    are checked by ``convert`` like every dataclass field.
    """
    import inspect

    owner = getattr(function, "__objclass__", None)
    if owner is not None:  # a compiled class's __init__: no signature at run time
        return dict(_source_keyword_parameters(owner))  # (a copy: that one is cached)
    hints = typing.get_type_hints(function)
    return {
        p.name: (hints.get(p.name, Any), p.default)
        for p in inspect.signature(function).parameters.values()
        if p.kind is p.KEYWORD_ONLY
    }


@functools.cache  # the source is parsed once per class
def _source_keyword_parameters(cls: type) -> dict[str, tuple[Any, Any]]:
    """``cls.__init__``'s keyword-only parameters, read from the source beside its module.

    mypyc compiles a class's methods into C and keeps no signature; the
    source it was compiled from ships beside the extension, and is what the
    compiled code does, so the parameters are read from there: names,
    annotations and defaults (evaluated in the module's namespace), from the
    first class in the method resolution order that defines ``__init__``.
    """
    import ast
    import inspect
    import sys
    from pathlib import Path

    for klass in cls.__mro__[:-1]:  # all but object, whose __init__ takes nothing
        module = sys.modules[klass.__module__]
        path = Path(module.__file__ or "").with_name(klass.__module__.rsplit(".", 1)[-1] + ".py")
        if not path.is_file():
            raise TypeError(f"no source for {klass.__qualname__} at {path}")  # a broken install
        classes = [
            node
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.ClassDef) and node.name == klass.__name__
        ]
        if not classes:
            raise TypeError(f"class {klass.__qualname__} not found in {path}")  # a bug
        for item in classes[0].body:
            if isinstance(item, ast.FunctionDef) and item.name == "__init__":
                scope = vars(module)

                def evaluate(node: ast.expr, scope: dict[str, Any] = scope) -> Any:
                    return eval(ast.unparse(node), scope)  # our own source

                arguments = item.args
                return {
                    arg.arg: (
                        Any if arg.annotation is None else evaluate(arg.annotation),
                        inspect.Parameter.empty if default is None else evaluate(default),
                    )
                    for arg, default in zip(
                        arguments.kwonlyargs, arguments.kw_defaults, strict=True
                    )
                }
    return {}
