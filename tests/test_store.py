"""aecore.store: the on-disk run cache survives damage, deletion, races and interruptions."""

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from aecore.models import reconstruct
from aecore.store import RunStore, run_key
from aecore.runner import get_run
from tests.helpers import REPO


@pytest.fixture
def basic(tiny):
    """The run these tests store: basic on its 200 points3d vectors, one epoch (training is not what is tested)."""
    return tiny("basic", epochs=1)


@pytest.fixture
def stored(store, basic, trained_runs):
    """The store holding basic's run, trained once for the session and copied in: for the tests whose subject is
    what happens to a stored run, not its first training."""
    trained_runs.copy_to(store.root, basic)
    assert len(store.entries()) == 1
    return store


def entry_dirs(store: RunStore) -> list[Path]:
    """Everything in the store folder, temporary folders included."""
    return sorted(store.root.iterdir()) if store.root.is_dir() else []


def only_entry(store: RunStore) -> Path:
    entries = entry_dirs(store)
    assert len(entries) == 1, entries
    return entries[0]


def test_second_request_loads_the_same_run(store, basic):
    first = get_run(basic, store)
    second = get_run(basic, store)
    assert not first.cached and second.cached
    assert second.metrics == first.metrics and second.history == first.history
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    np.testing.assert_allclose(reconstruct(second.model, x), reconstruct(first.model, x), atol=1e-6)
    assert store.problems == []
    assert store.entries()[0]["input_shape"] == [3]  # the Compare page's bottleneck reads it


def _truncate_model(entry: Path):
    model = entry / "model.keras"
    model.write_bytes(model.read_bytes()[: model.stat().st_size // 2])


def _garbage_json(entry: Path):
    (entry / "run.json").write_bytes(b"\x00{not json at all")


def _json_of_another_kind(entry: Path):
    (entry / "run.json").write_text(json.dumps([1, 2, 3]))


def _json_of_another_entry(entry: Path):
    meta = json.loads((entry / "run.json").read_text())
    meta["config"]["seed"] += 1
    (entry / "run.json").write_text(json.dumps(meta))


def _no_model(entry: Path):
    (entry / "model.keras").unlink()


def _no_run_json(entry: Path):
    (entry / "run.json").unlink()


def _no_arrays(entry: Path):
    (entry / "arrays.npz").unlink()


def _empty_folder(entry: Path):
    shutil.rmtree(entry)
    entry.mkdir()


DAMAGE = {
    "truncated model": (_truncate_model, "model.keras"),
    "garbage run.json": (_garbage_json, "run.json"),
    "run.json not an object": (_json_of_another_kind, "run.json"),
    "run.json of another run": (_json_of_another_entry, "run.json"),
    "model missing": (_no_model, "model.keras"),
    "run.json missing": (_no_run_json, "run.json"),
    "arrays missing": (_no_arrays, "arrays.npz"),
    "empty entry folder": (_empty_folder, "run.json"),
}


@pytest.mark.parametrize("damage, part", DAMAGE.values(), ids=DAMAGE.keys())
def test_damaged_entry_is_discarded_and_retrained(stored, basic, damage, part):
    store = stored
    damage(only_entry(store))
    run = get_run(basic, store)
    assert not run.cached  # retrained, not a crash
    assert len(store.problems) == 1 and part in store.problems[0] and "discarded" in store.problems[0]
    assert store.take_problems() and store.problems == []
    assert get_run(basic, store).cached  # and the new entry is whole
    assert len(store.entries()) == 1


def test_cache_folder_deleted_while_in_use(store, basic):
    get_run(basic, store)  # in use: this store has written there
    shutil.rmtree(store.root)
    run = get_run(basic, store)
    assert not run.cached
    assert len(store.problems) == 1 and "deleted while in use" in store.problems[0]
    assert get_run(basic, store).cached


def test_cache_folder_deleted_during_training(store, basic):
    store.check_writable()

    def delete_the_folder(progress):
        shutil.rmtree(store.root, ignore_errors=True)

    run = get_run(basic, store, progress=delete_the_folder)
    assert not run.cached and store.contains(basic, run.data_fingerprint)  # saved into a recreated folder
    assert len(store.problems) == 1 and "deleted" in store.problems[0]


@pytest.mark.parametrize("interruption", [RuntimeError("the user changed a widget"), KeyboardInterrupt()], ids=repr)
def test_training_stopped_half_way_leaves_no_entry(store, basic, interruption):
    def stop(progress):
        raise interruption

    with pytest.raises(type(interruption)):
        get_run(basic, store, progress=stop)
    assert entry_dirs(store) == []
    run = get_run(basic, store)  # the next request trains cleanly
    assert not run.cached and store.problems == []
    assert get_run(basic, store).cached


def test_interrupted_save_leaves_no_partial_entry(store, basic, monkeypatch):
    import aecore.store

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(aecore.store.np, "savez", interrupted)  # after model.keras is written
    with pytest.raises(KeyboardInterrupt):
        get_run(basic, store)
    assert entry_dirs(store) == []


def _copies(run, n):
    """n distinct runs sharing one trained model (distinct seeds give distinct keys)."""
    return [dataclasses.replace(run, config=dataclasses.replace(run.config, seed=100 + i)) for i in range(n)]


def test_size_bound_holds_least_recently_used_go_first(store, basic):
    run = get_run(basic, store)  # trained here: its copies below are as large as its entry
    entry_size = store.size_bytes()
    bounded = RunStore(store.root, max_bytes=int(entry_size * 3.5))
    a, b, c, d, e = _copies(run, 5)
    for copy in (a, b, c):
        bounded.save(copy)
        assert bounded.size_bytes() <= bounded.max_bytes
        time.sleep(0.01)  # distinct modification times on coarse file systems
    assert bounded.load(a.config, a.data_fingerprint) is not None  # a is now more recent than b and c
    time.sleep(0.01)
    bounded.save(d)
    bounded.save(e)
    assert bounded.size_bytes() <= bounded.max_bytes
    kept = {meta["config"]["seed"] for meta in bounded.entries()}
    assert kept == {a.config.seed, d.config.seed, e.config.seed}


def test_run_larger_than_the_bound_is_not_kept(store, basic, trained_runs):
    elsewhere = trained_runs.copy_to(store.root.parent / "elsewhere", basic)  # not inside the bounded folder
    run = get_run(basic, RunStore(elsewhere))
    tiny_store = RunStore(store.root, max_bytes=1000)
    assert tiny_store.save(run) is None
    assert tiny_store.size_bytes() <= 1000
    assert "larger than the cache's size bound" in tiny_store.problems[0]


def test_evict_keeps_the_stored_uploads_and_other_folders(store):
    from aecore.datasets import library, npz, uploads

    library.accept(uploads.inspect("v.csv", b"a,b\n1,2\n3,4\n5,6\n7,8\n"), "mine", store.root)
    (store.root / "datasets").mkdir()  # a folder not named as a run key is never an entry
    (store.root / "datasets" / "notes.txt").write_text("kept")
    RunStore(store.root, max_bytes=1).evict()
    assert library.stored_datasets(store.root) == ["mine"]
    assert len(npz.load_npz(str(library.entry("mine", store.root).path)).x_train) == 3
    assert (store.root / "datasets" / "notes.txt").is_file()


def test_a_run_on_an_upload_loads_without_the_uploads_index(store, tiny):
    from aecore.datasets import library, uploads
    from aecore.paths import cache_root

    with cache_root(store.root):
        library.accept(uploads.inspect("v.csv", b"a,b,c\n" + b"".join(b"%d,%d,1\n" % (i, -i) for i in range(20))),
                       "mine")
        run = get_run(tiny("basic", dataset="mine"), store)
    (store.root / library.DATASETS_FOLDER / library.INDEX_FILE).unlink()  # damaged, or read under another root
    assert store.load(run.config, run.data_fingerprint) is not None and not store.problems


def test_entries_evict_and_size_survive_entries_vanishing(stored, basic, monkeypatch):
    import aecore.store

    store = stored
    run = get_run(basic, store)
    for copy in _copies(run, 3):
        store.save(copy)
    (store.root / "junk").mkdir()  # a folder that is no entry
    (store.root / "junk" / "run.json").write_text("{")
    real_scandir = os.scandir

    def scandir_then_another_process_deletes(path="."):
        if isinstance(path, int) or Path(path) != store.root:  # shutil uses scandir too
            return real_scandir(path)
        listing = list(real_scandir(path))  # the store folder is listed first...
        victim = next(child for child in listing if not child.name.startswith((".", "junk")))
        shutil.move(victim.path, store.root.parent / victim.name)  # ...then one entry vanishes before it is read
        return iter(listing)

    monkeypatch.setattr(aecore.store.os, "scandir", scandir_then_another_process_deletes)
    assert len(store.entries()) == 3  # of 4, one vanished while listed
    store.max_bytes = 1
    store.evict()
    monkeypatch.undo()
    assert store.entries() == []
    shutil.rmtree(store.root)
    assert store.entries() == [] and store.size_bytes() == 0
    store.evict()  # no folder at all: nothing to do, no error


def test_stale_temporary_folders_are_cleared(stored):
    store = stored
    stale = store.root / ".tmp-crashed-writer"
    stale.mkdir()
    old = time.time() - 2 * 3600
    os.utime(stale, (old, old))
    fresh = store.root / ".tmp-writing-now"
    fresh.mkdir()
    store.evict()
    assert not stale.exists() and fresh.exists()


RACE = textwrap.dedent(
    """
    import json, sys
    from aecore.config import RunConfig
    from aecore.datasets import load_dataset
    from aecore.store import RunStore
    from aecore.runner import get_run

    root = sys.argv[1]
    config = RunConfig.for_arch("basic", epochs=1)
    data = load_dataset(config.dataset)
    store = RunStore(root)
    assert store.load(config, data.fingerprint) is None
    print("ready", flush=True)
    assert sys.stdin.readline().strip() == "go"  # the test says go once both are ready: they train together
    run = get_run(config, store, data=data)
    print(json.dumps({"cached": run.cached, "problems": store.problems}))
    """
)


@pytest.mark.slow
def test_two_processes_training_the_same_config_leave_one_valid_entry(tmp_path):
    from aecore.config import RunConfig
    from aecore.datasets import load_dataset

    root = tmp_path / "shared"
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2"}
    logs = [tmp_path / f"racer-{i}.log" for i in (1, 2)]  # stderr to files: a full pipe cannot block a racer
    racers = []
    for log in logs:
        with log.open("w") as stderr:
            racers.append(subprocess.Popen(
                [sys.executable, "-c", RACE, str(root)],
                cwd=REPO, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, text=True,
            ))
    try:
        for racer, log in zip(racers, logs):
            assert racer.stdout.readline() == "ready\n", log.read_text()[-2000:]
        for racer in racers:  # both have found no entry: now they train at once
            racer.stdin.write("go\n")
            racer.stdin.flush()
        outputs = [racer.communicate(timeout=300)[0] for racer in racers]
    finally:
        for racer in racers:
            if racer.poll() is None:
                racer.kill()
                racer.wait()
    for racer, out, log in zip(racers, outputs, logs):
        assert racer.returncode == 0, log.read_text()[-2000:]
        assert json.loads(out.strip().splitlines()[-1]) == {"cached": False, "problems": []}
    store = RunStore(root)
    config, fingerprint = RunConfig.for_arch("basic", epochs=1), load_dataset("points3d").fingerprint
    assert only_entry(store).name == run_key(config, fingerprint)  # one entry, no temporary leftovers
    assert store.load(config, fingerprint).cached
