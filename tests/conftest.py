"""Shared fixtures. Every test gets a fresh run cache; nothing touches ~/.cache or the network.

Tiny runs that several tests need are trained once for the session (really trained, on the
real datasets) by trained_runs, each into a run-cache folder of its own; a test that wants one
copies it into its own fresh cache (cached_runs), so what a test writes never reaches another.
The Hypothesis settings of every property test are the one profile registered here.
"""

import os
import shutil
import signal
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

from tests.helpers import quick_bench_key, start_quick_bench, tiny_config  # noqa: E402

settings.register_profile(
    "aecore",
    max_examples=60,
    deadline=None,  # a first example pays for imports and warm-up
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],  # tmp_path: never reused
)
settings.load_profile("aecore")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("AECORE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("AECORE_READY_MADE", "0")  # pages open empty, as the tests expect; tests/test_showcase.py turns them on


@pytest.fixture
def store(tmp_path):
    from aecore.store import RunStore

    return RunStore(tmp_path / "store")


@pytest.fixture
def tiny():
    """A tiny, fast config of an architecture: its spec's run of seconds, in batches of 64."""
    return tiny_config


class TrainedRuns:
    """Runs trained once for the session, each config in a run-cache folder of its own (real training, through
    aecore.runner.get_run and the real store). Read them through copies: copy_to puts entries into a folder.
    Under pytest-xdist the workers share one root, each config trained by whichever asks first (a file lock)."""

    def __init__(self, root: Path, train):
        self.root = root
        self._train = train  # the real aecore.train.train, whatever a test has put in its place

    def folder(self, config) -> Path:
        """The folder holding config's one entry, trained on the first request."""
        import aecore.train
        from aecore.runner import get_run
        from aecore.store import RunStore
        from filelock import FileLock

        config = config.validated()
        folder = self.root / config.digest()
        with FileLock(self.root / f".{config.digest()}.lock"):
            if not folder.is_dir():
                partial = self.root / f".{config.digest()}.partial"
                shutil.rmtree(partial, ignore_errors=True)
                with pytest.MonkeyPatch.context() as patch:
                    patch.setattr(aecore.train, "train", self._train)
                    get_run(config, RunStore(partial))
                partial.rename(folder)
        return folder

    def copy_to(self, root, *configs) -> Path:
        """Copy the entries of configs (trained first where needed) into the run-cache folder root."""
        root = Path(root)
        for config in configs:
            shutil.copytree(self.folder(config), root, dirs_exist_ok=True)
        return root


@pytest.fixture(scope="session")
def trained_runs(tmp_path_factory) -> TrainedRuns:
    import aecore.train

    if os.environ.get("PYTEST_XDIST_WORKER"):  # the workers' basetemps share a parent, made for this session
        root = tmp_path_factory.getbasetemp().parent / "trained-runs"
        root.mkdir(exist_ok=True)
    else:
        root = tmp_path_factory.mktemp("trained-runs")
    return TrainedRuns(root, aecore.train.train)


@pytest.fixture
def cached_runs(trained_runs):
    """cached_runs(*configs): the session's runs of these configs, copied into this test's fresh run cache
    (AECORE_CACHE_DIR), where the pages and RunStore() find them; returns that folder."""

    def copy(*configs) -> Path:
        return trained_runs.copy_to(os.environ["AECORE_CACHE_DIR"], *configs)

    return copy


# The benchmark smoke (tests/test_bench.py) is minutes of its own processes that never touch the suite's files. In one
# process it starts in the background when the suite starts, niced so the other tests keep the cores, and its tests
# run last. Under pytest-xdist (README's command: two workers, --dist loadgroup) its tests come first, as one group,
# so one worker starts and waits for it while the other runs the rest; the browser tests are one group too, as they
# share one server.
BENCH_FILE = "test_bench.py"
IN_WORKER = bool(os.environ.get("PYTEST_XDIST_WORKER"))


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups
def pytest_collection_modifyitems(config, items):
    bench = [i for i in items if i.path.name == BENCH_FILE]
    rest = [i for i in items if i.path.name != BENCH_FILE]
    items[:] = bench + rest if IN_WORKER else rest + bench
    for item in bench:
        item.add_marker(pytest.mark.xdist_group("bench"))
    for item in rest:
        if "e2e" in item.path.parts:
            item.add_marker(pytest.mark.xdist_group("browser"))
        elif _shares_a_module_fixture(item):  # one worker computes it once, not each worker its own copy
            item.add_marker(pytest.mark.xdist_group(item.path.stem))


def _shares_a_module_fixture(item) -> bool:
    """Whether the test uses a fixture of module or class scope (trainings its module's tests share)."""
    info = getattr(item, "_fixtureinfo", None)
    return info is not None and any(
        definitions[-1].scope in ("module", "class") for definitions in info.name2fixturedefs.values())


def pytest_collection_finish(session):
    if not IN_WORKER and any(item.path.name == BENCH_FILE for item in session.items):
        session.config.stash[quick_bench_key] = start_quick_bench()


def pytest_sessionfinish(session):
    started = session.config.stash.get(quick_bench_key, None)
    if started is None:
        return
    if started["process"].poll() is None:  # the suite stopped before the benchmark's tests read it
        os.killpg(started["process"].pid, signal.SIGKILL)
        started["process"].wait()
    shutil.rmtree(started["folder"], ignore_errors=True)
