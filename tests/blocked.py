"""Run Python code in a fresh interpreter where some packages cannot be imported."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence

BLOCKER = """
import sys

class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ImportError(f"blocked: {{name}}")
        return None

sys.meta_path.insert(0, Block())
"""


def run_blocked(blocked: Sequence[str], body: str, timeout_s: float) -> subprocess.CompletedProcess:
    """``body`` run with every package in ``blocked`` (by top-level name) unimportable."""
    program = BLOCKER.format(blocked=tuple(blocked)) + body
    return subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=timeout_s
    )
