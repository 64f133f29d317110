"""The compiled build does not surprise a developer: an edited source that Python does not
run (its compiled copy is older) is named in one line by the CLI and the pytest header."""

from __future__ import annotations

import os
from importlib.machinery import EXTENSION_SUFFIXES

import pytest

from lbbench.core.build import stale_modules, stale_warning

SUFFIX = EXTENSION_SUFFIXES[0]

CASES = [
    # seconds the source was written after its compiled copy (None: no source), stale?
    (-60.0, False),  # installed after the last edit
    (0.5, False),  # an install writes both moments apart, in either order
    (60.0, True),  # edited after the install: Python runs the old compiled copy
    (None, False),  # a compiled module without a source beside it
]


@pytest.mark.parametrize(("edited_after_s", "stale"), CASES)
def test_a_source_newer_than_its_compiled_copy_is_stale(tmp_path, edited_after_s, stale):
    package = tmp_path / "lbbench" / "core"
    package.mkdir(parents=True)
    compiled = package / f"router{SUFFIX}"
    compiled.write_bytes(b"")
    os.utime(compiled, (1_000_000, 1_000_000))
    if edited_after_s is not None:
        source = package / "router.py"
        source.write_text("")
        os.utime(source, (1_000_000 + edited_after_s,) * 2)
    (package / "pools.py").write_text("")  # pure: never stale
    assert bool(stale_modules(tmp_path)) is stale
    warning = stale_warning(tmp_path)
    assert (warning is not None) is stale
    if stale:
        assert "router.py" in warning and "pip install -e ." in warning
        assert "\n" not in warning
