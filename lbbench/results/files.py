"""Result sets (format ``lbbench.run/1``): write atomically, read and validate.

A file is written to a temporary name in the same folder and then linked
into place, so a reader never sees half a file and an existing result is
never overwritten. Readers reject anything that is not JSON, not an
object, of another format, or not of the shape the format declares
(``file_schema``: types, and figures a measurement cannot have), with one
line naming the file and the field.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from lbbench.errors import ConfigError, LbbenchError
from lbbench.results.file_schema import check_result_set

FORMAT = "lbbench.run/1"
_PACKAGES = ("lbbench", "pyzmq", "hdrhistogram", "rich")


class ResultError(LbbenchError):
    """A result file that cannot be used."""


def environment() -> dict[str, Any]:
    """Where a result was measured: enough to tell two environments apart."""
    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    try:
        import zmq

        versions["libzmq"] = zmq.zmq_version()
    except ImportError:
        versions["libzmq"] = None
    from lbbench.core.build import build

    return {
        "lbbench_build": build(),  # compiled or pure: the simulator's speed differs
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "packages": versions,
        "git_commit": _git_commit(),
        "argv": sys.argv[1:],
    }


def _git_commit() -> str | None:
    root = Path(__file__).resolve().parents[2]
    try:
        done = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and commit else None


def new_run_id(label: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{label}-{os.urandom(3).hex()}"


def new_result_set(
    label: str, config: dict[str, Any], scenarios: list[dict[str, Any]]
) -> dict[str, Any]:
    """A result set (the one envelope every run, simulation or Locust run writes)."""
    return {
        "format": FORMAT,
        "run_id": new_run_id(label),
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "environment": environment(),
        "config": config,
        "scenarios": scenarios,
    }


def save_result(data: dict[str, Any], out_dir: str | Path) -> Path:
    """Write a result set under ``out_dir`` and read it back: what we wrote must be readable."""
    path = write_result(data, out_dir)
    read_result(path)
    return path


def write_result(data: dict[str, Any], out_dir: str | Path, name: str | None = None) -> Path:
    """Write ``data`` as ``out_dir/name.json`` atomically; never overwrite."""
    folder = Path(out_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ResultError(str(folder), f"cannot create the folder: {error.strerror}") from None
    path = folder / f"{name or data['run_id']}.json"
    if path.exists():
        raise ResultError(str(path), "exists already; results are never overwritten")
    # The temporary name is hidden and does not end in .json: a writer killed
    # mid-write leaves nothing a reader of the folder's ``*.json`` would pick up.
    fd, temporary = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".partial", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1, sort_keys=False)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)  # fails rather than replace an existing file
        except FileExistsError:
            raise ResultError(str(path), "exists already; results are never overwritten") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
    return path


def read_result(path: str | Path) -> dict[str, Any]:
    """Load and validate one result file."""
    where = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise ResultError(where, f"cannot read: {error.strerror}") from None
    except UnicodeDecodeError:
        raise ResultError(where, "not a text file (expected JSON)") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ResultError(
            where, f"not valid JSON (line {error.lineno}, column {error.colno}): truncated?"
        ) from None
    except RecursionError:
        raise ResultError(where, "not a result set (JSON nested too deep)") from None
    validate(data, where)
    return data


def validate(data: Any, where: str) -> None:
    if not isinstance(data, dict):
        raise ResultError(where, "not a result set (expected a JSON object)")
    found = data.get("format")
    if found != FORMAT:
        raise ResultError(where, f"unknown format {found!r} (this lbbench reads {FORMAT})")
    try:
        check_result_set(data)
    except ConfigError as error:
        raise ResultError(where, str(error)) from None
