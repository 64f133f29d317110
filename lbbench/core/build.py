"""Which build of the core is running: compiled by mypyc (setup.py) or pure Python."""

from __future__ import annotations


def build() -> str:
    """ "compiled" when the hot modules run as C extensions, else "pure" (same results)."""
    from lbbench.core import router

    return "pure" if router.__file__.endswith(".py") else "compiled"
