"""The installable package: the wheel holds aecore alone, and the installed copy runs its CLI.

The wheel is built from a copy of the checkout (so the checkout gets no build/ folder, and no stale file from an
earlier build can slip into the wheel), offline, with the setuptools this Python has; it is installed with
`pip install --target` into a fresh folder and run from a folder outside the checkout with only that folder on
PYTHONPATH, so every command below imports the installed copy, not the checkout's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
# Never copied into the build: git's, the build's own outputs, caches and virtual environments.
NOT_COPIED = shutil.ignore_patterns(".git", "build", "dist", "*.egg-info", "__pycache__", "*.pyc", ".pytest_cache",
                                    ".hypothesis", ".venv", "venv", ".aecore_cache", "artifacts", "node_modules")
OFFLINE = {"PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}


def _can_build_wheels_offline() -> bool:
    """setuptools from 70.1 builds wheels itself; older ones need the wheel package (no build isolation here)."""
    try:
        version = tuple(int(part) for part in metadata.version("setuptools").split(".")[:2])
    except (metadata.PackageNotFoundError, ValueError):
        return False
    if version < (61, 0):  # pyproject.toml's [project] table
        return False
    try:
        metadata.version("wheel")
    except metadata.PackageNotFoundError:
        return version >= (70, 1)
    return True


def _run(command, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=300, **kwargs)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(the wheel, the folder it is installed in, an environment that imports only that folder, a cwd outside)."""
    if not _can_build_wheels_offline():
        pytest.skip("building a wheel without network needs setuptools >= 61 and the wheel package")
    root = tmp_path_factory.mktemp("package")
    source, wheels, fresh, outside = root / "source", root / "wheels", root / "fresh", root / "outside"
    shutil.copytree(REPO, source, ignore=NOT_COPIED)
    outside.mkdir()
    env = {**os.environ, **OFFLINE}
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels),
                  str(source)], cwd=outside, env=env)
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = wheels.glob("aecore-*.whl")
    done = _run([sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(fresh), str(wheel)],
                cwd=outside, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    run_env = {**env, "PYTHONPATH": str(fresh), "TF_CPP_MIN_LOG_LEVEL": "2",
               "AECORE_CACHE_DIR": str(root / "cache")}
    return wheel, fresh, run_env, outside


def test_the_wheel_holds_the_aecore_package_and_all_its_modules_only(installed):
    wheel = installed[0]
    names = zipfile.ZipFile(wheel).namelist()
    dist_info = f"aecore-{wheel.name.split('-')[1]}.dist-info/"
    strays = [name for name in names if not name.startswith(("aecore/", dist_info))]
    assert not strays, f"the wheel holds more than the aecore package: {strays}"
    # Every module of the checkout's aecore, in every subpackage (discovered, not listed by hand).
    modules = {path.relative_to(REPO).as_posix() for path in (REPO / "aecore").rglob("*.py")
               if "__pycache__" not in path.parts}
    assert modules == {name for name in names if name.endswith(".py")}
    # The ready-made runs ship with it: a data team's install opens the same pages.
    shipped = {path.relative_to(REPO).as_posix() for path in (REPO / "aecore" / "showcase_runs").rglob("*")
               if path.is_file()}
    assert shipped and shipped <= set(names), sorted(shipped - set(names))
    entry_points = zipfile.ZipFile(wheel).read(dist_info + "entry_points.txt").decode()
    assert "aecore = aecore.__main__:main" in entry_points


def test_the_installed_copy_is_what_runs_outside_the_checkout(installed):
    _, fresh, env, outside = installed
    where = _run([sys.executable, "-c", "import aecore; print(aecore.__file__)"], cwd=outside, env=env)
    assert where.returncode == 0, where.stderr
    path = Path(where.stdout.strip()).resolve()
    assert path == (fresh / "aecore" / "__init__.py").resolve(), path
    assert REPO not in path.parents


def _script(fresh: Path) -> Path:
    return fresh / ("Scripts/aecore.exe" if os.name == "nt" else "bin/aecore")


def test_python_m_aecore_and_the_console_script_list_the_same(installed):
    _, fresh, env, outside = installed
    module = _run([sys.executable, "-m", "aecore", "list"], cwd=outside, env=env)
    script = _run([str(_script(fresh)), "list"], cwd=outside, env=env)
    assert module.returncode == 0, module.stderr
    assert script.returncode == 0, script.stderr
    assert "architectures:" in module.stdout and "points3d" in module.stdout
    assert script.stdout == module.stdout


def test_the_console_script_passes_on_the_exit_code(installed):
    _, fresh, env, outside = installed
    refused = _run([str(_script(fresh)), "train", "--arch", "nope"], cwd=outside, env=env)
    assert refused.returncode == 2, (refused.stdout, refused.stderr)
    assert refused.stderr.startswith("error: ") and "Traceback" not in refused.stderr


def test_the_console_script_trains_one_epoch(installed, tmp_path):
    _, fresh, env, outside = installed
    cache = tmp_path / "runs"
    trained = _run([str(_script(fresh)), "train", "--arch", "basic", "--dataset", "points3d", "--epochs", "1",
                    "--cache-dir", str(cache)], cwd=outside, env=env)
    assert trained.returncode == 0, trained.stderr
    line = json.loads(trained.stdout.strip().splitlines()[-1])
    assert (line["arch"], line["dataset"], line["epochs"], line["cached"]) == ("basic", "points3d", 1, False)
    assert line["test_mse"] >= 0
    assert any(cache.iterdir()), "the run was not cached in --cache-dir"
