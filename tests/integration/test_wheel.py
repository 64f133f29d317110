"""A wheel works: built from the source tree, installed into a fresh virtualenv, run elsewhere.

The wheel must carry the fleet profiles, the suites and the locustfiles
(the top-level targets/, suites/ and locustfiles/ folders, mapped into the
package),
so that a plain install can run ``lbbench list``, a live run and Locust
from any folder. The fresh virtualenv takes lbbench from the wheel alone;
its dependencies come from the test's own environment (a path entry, not
an install), so nothing is downloaded. The wheel is compiled (setup.py,
mypyc); one built where the C compiler fails installs as pure Python
and runs the same.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest

from lbbench.results.files import read_result

ROOT = Path(__file__).resolve().parents[2]
SOURCES = (
    "pyproject.toml", "setup.py", "README.md", "lbbench", "targets", "locustfiles", "suites",
)  # fmt: skip


def run(
    *command: str | Path, cwd: Path, timeout: float = 180, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [str(c) for c in command],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=None if env is None else {**os.environ, **env},
    )
    assert done.returncode == 0, f"{command}: {done.stderr[-2000:]}"
    return done


def _build(work: Path, env: dict[str, str] | None = None) -> Path:
    """The bin folder of a fresh virtualenv in ``work`` with lbbench from its own wheel."""
    source = work / "source"
    for name in SOURCES:  # a copy: building leaves build/ and egg-info behind
        if (ROOT / name).is_dir():
            shutil.copytree(
                ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.so")
            )
        else:
            source.mkdir(exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
        ".", "-w", work / "dist", cwd=source, env=env)  # fmt: skip
    (wheel,) = (work / "dist").glob("lbbench-*.whl")
    venv = work / "venv"
    run(sys.executable, "-m", "venv", venv, cwd=work)
    python = venv / "bin" / "python"
    packages = run(python, "-c", "import site; print(site.getsitepackages()[0])", cwd=work)
    # the dependencies, as a plain path entry (no .pth of this environment runs there)
    Path(packages.stdout.strip(), "dependencies.pth").write_text(
        "\n".join(site.getsitepackages()) + "\n"
    )
    run(python, "-m", "pip", "install", "--no-deps", "--no-index", "-q", wheel, cwd=work)
    where = run(python, "-c", "import lbbench; print(lbbench.__file__)", cwd=work)
    assert str(venv) in where.stdout, "lbbench must come from the wheel, not the checkout"
    return venv / "bin"


def _build_of(bin_folder: Path, cwd: Path) -> str:
    code = "from lbbench.core.build import build; print(build())"
    return run(bin_folder / "python", "-c", code, cwd=cwd).stdout.strip()


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The bin folder of a fresh virtualenv with lbbench installed from its wheel."""
    work = tmp_path_factory.mktemp("wheel")
    bin_folder = _build(work)
    assert _build_of(bin_folder, work) == "compiled"
    return bin_folder


def test_without_a_c_compiler_the_wheel_is_pure_python_and_works(tmp_path):
    bin_folder = _build(tmp_path, env={"CC": "/bin/false"})  # every compile fails
    assert _build_of(bin_folder, tmp_path) == "pure"
    assert "pure Python" in run(bin_folder / "lbbench", "list", cwd=tmp_path).stdout
    run(
        bin_folder / "lbbench", "sim", "--targets", "one-slow", "--duration", "0.5",
        "--out", tmp_path / "out", cwd=tmp_path,
    )  # fmt: skip
    assert len(list((tmp_path / "out").glob("*.json"))) == 1


def test_the_wheel_carries_its_profiles_suites_and_locustfiles(installed, tmp_path):
    done = run(installed / "lbbench", "list", cwd=tmp_path)
    for name in ("heterogeneous", "crash-recover", "smoke", "uniform", "default", "scale"):
        assert name in done.stdout
    suite = run(installed / "lbbench", "list", "--show", "smoke", cwd=tmp_path).stdout
    assert 'fleet = "smoke"' in suite


def test_a_live_run_from_the_wheel_in_another_folder(installed, tmp_path):
    run(
        installed / "lbbench", "run", "--targets", "heterogeneous", "--rate", "200",
        "--duration", "1", "--out", tmp_path / "out", cwd=tmp_path,
    )  # fmt: skip
    (path,) = (tmp_path / "out").glob("*.json")
    (scenario,) = read_result(path)["scenarios"]
    requests = scenario["summary"]["requests"]
    assert requests["sent"] > 100 and requests["lost"] == 0
    assert scenario["profile"] == "heterogeneous"


def test_locust_from_the_wheel_in_another_folder(installed, tmp_path):
    done = run(
        installed / "lbbench", "locust", "--targets", "uniform", "--out", tmp_path / "out",
        "--headless", "-u", "4", "-r", "4", "-t", "2s", "--json", cwd=tmp_path,
    )  # fmt: skip
    stats = json.loads(done.stdout)
    assert sum(entry["num_requests"] for entry in stats) > 0
    assert len(list((tmp_path / "out").glob("*.json"))) == 1
