"""Registries by name: how a strategy or a failover mode becomes available.

A registry is a dict from name to class, filled by ``register(Cls)``
after the class (it returns the class, so it works as a decorator too; the
built-ins, compiled by mypyc, are registered by the call), so a new
strategy or mode is one module and nothing else changes. Each registered
class names itself (``name``) and says in one line what it does
(``summary``), for ``lbbench list``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from lbbench.errors import ConfigError

C = TypeVar("C", bound=type)


class Registry(dict[str, Any]):
    """Classes by their ``name``; ``order`` (if given) keeps them sorted by a key."""

    def __init__(self, what: str, order: Callable[[Any], Any] | None = None) -> None:
        super().__init__()
        self.what = what
        self.order = order

    def register(self, cls: C) -> C:
        """Make ``cls`` available by its ``name`` (returns it: usable as a decorator)."""
        name = getattr(cls, "name", "")
        if not name or name in self:
            raise ValueError(f"{self.what} name {name!r} is empty or taken")
        # (Docstrings are checked from the source by the tests: compiled
        # classes do not keep theirs at run time.)
        if not getattr(cls, "summary", ""):
            raise ValueError(f"{self.what} {name!r} needs a summary")
        self[name] = cls
        if self.order is not None:
            ordered = sorted(self.values(), key=self.order)
            self.clear()
            self.update((c.name, c) for c in ordered)
        return cls

    def unregister(self, name: str) -> None:
        """Remove one (for tests that register one of their own)."""
        self.pop(name, None)

    def get_class(self, name: str, where: str) -> Any:
        """The class registered as ``name``; a ConfigError at ``where`` names the known ones."""
        try:
            return self[name]
        except KeyError:
            known = ", ".join(self if self.order else sorted(self))
            raise ConfigError(where, f"unknown {self.what} {name!r} (known: {known})") from None
