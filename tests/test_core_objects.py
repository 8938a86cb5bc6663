"""The bucket object cache shared by several kmstui processes: one never evicts what another
running kmstui may still read (its detail view reads records back from the cache)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from kmstui.core.live.objects import ObjectStore

BUCKET, ETAG = "trail-bucket", '"etag"'


def put(store: ObjectStore, key: str, size: int) -> Path:
    download = store.start(BUCKET, key, ETAG, size)
    download.write(b"x" * size)
    return store.finish(download)


def age(path: Path, seconds: float = 100.0) -> None:
    past = time.time() - seconds
    os.utime(path, (past, past))


def another_kmstui(folder: Path, key: str, size: int) -> subprocess.Popen:
    """A second process that uses the cache: it reads one object, then waits (as an explorer
    whose detail view may read it again)."""
    code = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from kmstui.core.live.objects import ObjectStore
        store = ObjectStore(limit=1 << 30, folder=Path({str(folder)!r}))
        assert store.get({BUCKET!r}, {key!r}, {ETAG!r}, {size}) is not None
        print("ready", flush=True)
        sys.stdin.read()
    """)
    process = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    return process


def signed_in(folder: Path) -> list[str]:
    return sorted(path.name for path in (folder / ".runs").iterdir())


def test_an_object_another_running_kmstui_uses_is_not_evicted(tmp_path):
    folder = tmp_path / "s3"
    first = ObjectStore(limit=1000, folder=folder)
    old, shared = put(first, "old", 100), put(first, "shared", 100)
    first.close()
    age(old, 200), age(shared, 100)
    other = another_kmstui(folder, "shared", 100)
    try:
        store = ObjectStore(limit=250, folder=folder)
        download = store.start(BUCKET, "new", ETAG, 200)  # room for it means evicting both
        assert not old.exists()  # nobody's: evicted
        assert shared.exists()  # the other kmstui read it since it started: kept
        assert not download.kept  # so this one is kept for this run only
        store.abandon(download)
        assert len(signed_in(folder)) == 2
        store.close()
    finally:
        other.send_signal(signal.SIGKILL)  # ends without signing out
        other.wait()
    after = ObjectStore(limit=250, folder=folder)
    download = after.start(BUCKET, "new", ETAG, 200)
    assert download.kept and not shared.exists()  # its reader has gone: evicted
    after.abandon(download)
    assert signed_in(folder) == [after._sign_in_name]  # the dead run's sign-in went too
    after.close()
    assert signed_in(folder) == []


def test_a_run_s_own_objects_and_the_sign_ins_are_not_counted_as_cache(tmp_path):
    folder = tmp_path / "s3"
    store = ObjectStore(limit=1000, folder=folder)
    put(store, "one", 100)
    again = ObjectStore(limit=1000, folder=folder)
    assert again.total == 100  # the sign-in files are not objects
    assert (folder / ".runs").stat().st_mode & 0o777 == 0o700
    for name in signed_in(folder):
        assert (folder / ".runs" / name).stat().st_mode & 0o777 == 0o600


def test_a_sign_in_being_made_is_not_taken_for_a_dead_run(tmp_path):
    """Between creating its sign-in file and locking it, a starting kmstui looks dead to a
    flock; an empty file that young is left alone, an old one removed."""
    folder = tmp_path / "s3"
    store = ObjectStore(limit=1000, folder=folder)
    starting, stale = folder / ".runs" / "1-starting", folder / ".runs" / "2-stale"
    for path in (starting, stale):
        path.touch(mode=0o600)
    age(stale, 3600)
    assert store._others_since() <= time.time()  # the starting one counts as running
    assert starting.exists() and not stale.exists()
    store.close()


def test_an_object_touched_right_after_signing_in_counts_as_that_run_s(tmp_path):
    """Objects are stamped by the kernel's coarse clock, which lags time.time() by up to a
    tick: a run's recorded start must not be later than the stamp of what it touches at once
    (the flake CI met: the other run's object evicted)."""
    folder = tmp_path / "s3"
    seed = ObjectStore(limit=1 << 20, folder=folder)
    path = put(seed, "object", 10)
    seed.close()
    for _ in range(50):
        reader = ObjectStore(limit=1 << 20, folder=folder)
        assert reader.get(BUCKET, "object", ETAG, 10) == path
        other = ObjectStore(limit=1 << 20, folder=folder)
        assert path.stat().st_mtime >= other._others_since()
        other.close()
        reader.close()
