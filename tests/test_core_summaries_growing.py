"""The key and trail summaries over an index that grows batch by batch, as the explorer looks
at a load: what is kept from one look to the next (trails.LogFiles, the log files read once)
must give what a summary of the whole index read at once gives, and the vectorised count of
CloudTrail's own key use what a row-by-row reading gives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks import synth
from kmstui.cli import demo_path
from kmstui.core import loader, trails
from kmstui.core.decode import load_many
from kmstui.core.index import EventIndex
from kmstui.core.sources import discover, newest_first
from kmstui.core.summary import summarise_keys
from kmstui.core.trails import summarise_trails


@pytest.fixture(scope="module")
def varied_trail(tmp_path_factory) -> Path:
    """Four files of the benchmark's high-cardinality shape, with CloudTrail's own
    GenerateDataKey for its log files among them."""
    folder = tmp_path_factory.mktemp("varied")
    for number in range(4):
        synth._write_file((str(folder), number, 7, 0.6, "varied", False))
    return folder


def _whole(folder: Path) -> EventIndex:
    files, _ = discover([str(folder)])
    index = EventIndex()
    loader.load(index, newest_first(files), workers=1, refresh_every=None)
    return index


def _looked_at_while_growing(folder: Path) -> EventIndex:
    """Loaded a file at a time, the summaries asked for after each (as the explorer's looks)."""
    files, _ = discover([str(folder)])
    index = EventIndex()
    for source in newest_first(files):
        index.add(load_many([source]))
        index.refresh()
        with index.reading():
            summarise_trails(index)
            summarise_keys(index, index.snapshot.order)
    return index


def _row_by_row(index: EventIndex, rows: np.ndarray) -> tuple[dict[int, int], dict[int, tuple[int, str]]]:
    """The reading the vectorised one replaced: each of CloudTrail's own calls in row order."""
    calls: dict[int, int] = {}
    latest: dict[int, tuple[int, str]] = {}
    names = index.vocab["name"].values
    keys = index.vocab["key"].values
    for row in rows.tolist():
        code = int(index.columns["trail"].data[row])
        if names[index.columns["name"].data[row]] == "GenerateDataKey":
            calls[code] = calls.get(code, 0) + 1
        key = keys[index.columns["key0"].data[row]]
        time = int(index.columns["time"].data[row])
        if key and (code not in latest or time >= latest[code][0]):
            latest[code] = (time, key)
    return calls, latest


@pytest.mark.parametrize("which", ["demo", "varied"])
def test_summaries_of_a_growing_index_are_those_of_the_whole(which, varied_trail):
    folder = demo_path() if which == "demo" else varied_trail
    grown, whole = _looked_at_while_growing(folder), _whole(folder)
    assert grown.snapshot.n == whole.snapshot.n > 0
    with grown.reading(), whole.reading():
        grown_trails, whole_trails = summarise_trails(grown), summarise_trails(whole)
        assert grown_trails == whole_trails
        assert summarise_keys(grown, grown.snapshot.order) == summarise_keys(whole, whole.snapshot.order)
    assert any(row.log_key_calls for row in whole_trails) or which == "demo"
    assert len(whole.log_files) > 10 or which == "demo"


@pytest.mark.parametrize("which", ["demo", "varied"])
def test_cloudtrails_own_key_use_is_counted_as_row_by_row(which, varied_trail):
    index = _whole(demo_path() if which == "demo" else varied_trail)
    snapshot = index.snapshot
    n = snapshot.n
    kms = index.vocab["evsource"].find(trails.KMS)
    rows = np.flatnonzero(
        (index.columns["trail"].data[:n] != 0) & snapshot.alive & (index.columns["evsource"].data[:n] == kms)
    )
    assert len(rows)
    calls, latest = trails._log_key_calls(index, rows)
    assert (calls, latest) == _row_by_row(index, rows)
    assert latest and calls


def test_a_new_list_of_log_files_is_read_from_its_start():
    """The log files kept beside an index follow the index's list, not a list it replaced."""
    index = _whole(demo_path())
    before = summarise_trails(index)
    index.log_files = list(index.log_files[:1])
    after = summarise_trails(index)
    assert trails._LOG_FILES[index].read == 1
    assert before != after or len(before) == 0


def test_a_summary_reads_copies_of_the_log_files():
    """What one summary reads of the log files is its own: another summarising beside it (a
    cancelled filtering thread runs on) adds to the kept ones without changing it mid-read."""
    index = _whole(demo_path())
    read = trails._log_files(index)
    kept = trails._LOG_FILES[index]
    assert read.times and read.file_to_trail
    read.times.clear()
    read.file_to_trail.clear()
    read.trail_locations.clear()
    assert kept.times and kept.file_to_trail
    assert trails._log_files(index).times == kept.times
