"""The benchmark: a million CloudTrail records, kmstui against chdb, DuckDB and jq, memory, filters, rendering.

    python benchmarks/bench.py              # full: both shapes, 1,000,000 records each, 3 runs each
    python benchmarks/bench.py --records 200000 --runs 1 --no-jq

Two synthetic trails (benchmarks/synth.py, deterministic, generated once into
.bench-cache/): ``repetitive``, the benchmark's first trail, and ``varied``, the
high-cardinality trail of issue 17; each also re-serialised three ways (synth.SERIALISATIONS:
as json.dumps writes by default, with keys sorted, and with each record's keys shuffled).
Load times are measured side by side in one run and reported as ratios of medians,
because the machines are noisy and absolute seconds alone prove nothing. Memory, the
explorer's first events and its whole load are measured on ``kmstui DIR`` itself, run in a
pseudo-terminal and read through a terminal emulator (pyte), from just before its process
starts to what the screen shows. A peer that is not installed is skipped, and the table
says so. Needs the [bench] extra for chdb, DuckDB and pyte.

    python benchmarks/bench.py --explorer --runs 3   # the explorer beside the headless load only
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import gc
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.synth import SERIALISATIONS, SHAPES, generate  # noqa: E402

CACHE = ROOT / ".bench-cache"
TARGETS = {
    "chdb": 1.0,  # kmstui at least as fast as chdb reading the same fields (issue 17)
    "duckdb": 2.5,  # and 2.5x faster than DuckDB
    "jq": 5.0,  # and 5x faster than zcat | jq
    "reserialised": 1.15,  # a re-serialised trail within 15% of the compact one
    "first_events_s": 0.5,  # the explorer shows events within 0.5 s of its start
    "explorer_vs_headless": 1.10,  # and finishes within 10% of the headless time
    "bytes_per_event": 300,
    "with_parameters": 400,  # the index and the record paths' store together
    "field_filter_ms": 50,
    "text_filter_ms": 300,
    "path_filter_ms": 1500,
    "first_paint_ms": 100,
    "repaint_ms": 50,
}


RESERIALISED = SERIALISATIONS[1:]  # each measured beside the compact trail


def _data(records: int, shape: str = "repetitive", serialisation: str = "compact") -> Path:
    """The trail of this shape, generated once (the repetitive compact one keeps its old name)."""
    name = "trail" + ("" if shape == "repetitive" else f"-{shape}")
    name += "" if serialisation == "compact" else f"-{serialisation}"
    target = CACHE / f"{name}-{records}"
    marker = target / ".complete"
    if not marker.exists():
        shutil.rmtree(target, ignore_errors=True)
        print(
            f"generating {records:,} {shape} records, {serialisation}, into {target} (once) ...",
            flush=True,
        )
        generate(target, records, shape=shape, serialisation=serialisation)
        marker.write_text("ok")
    return target


def _timed(command: list[str] | str, shell: bool = False) -> tuple[float, str, int]:
    """Wall seconds, standard output, and peak RSS (KB) of a command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    result = subprocess.run(command, shell=shell, capture_output=True, text=True, cwd=ROOT)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"failed: {command}\n{result.stderr[-2000:]}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return elapsed, result.stdout.strip(), max(peak, before)


_S = "Nullable(String)"
# The fields kmstui keeps, as a fluent ClickHouse user would declare them to read CloudTrail's
# {"Records": [...]} files: the schema names them, so the reader parses exactly these.
CHDB_FIELDS = (
    f"Records Array(Tuple(eventTime {_S}, eventSource {_S}, eventName {_S}, eventID {_S}, awsRegion {_S}, "
    f"sourceIPAddress {_S}, userAgent {_S}, errorCode {_S}, errorMessage {_S}, readOnly Nullable(Bool), "
    f"eventType {_S}, eventCategory {_S}, recipientAccountId {_S}, "
    f"userIdentity Tuple(type {_S}, principalId {_S}, arn {_S}, accountId {_S}, invokedBy {_S}), "
    f"requestParameters Tuple(keyId {_S}, encryptionContext Map(String, String)), "
    f"resources Array(Tuple(ARN {_S}))))"
)
CHDB_FLOOR = f"Records Array(Tuple(eventSource {_S}, eventName {_S}))"  # two fields: the reader's floor


def _chdb(data: Path, structure: str) -> list[str]:
    glob = str(data / "**" / "*.json.gz")
    sql = (
        f"SELECT count() FROM file('{glob}', 'JSONEachRow', '{structure}') ARRAY JOIN Records AS r "
        "WHERE r.eventSource = 'kms.amazonaws.com'"
    )
    return [sys.executable, "-c", f"import chdb; print(str(chdb.query({sql!r}, 'CSV')).strip())"]


def _duckdb(data: Path) -> list[str]:
    glob = str(data / "**" / "*.json.gz")
    sql = (
        f"select count(*) from (select unnest(Records) as r from read_json('{glob}')) "
        "where r.eventSource = 'kms.amazonaws.com'"
    )
    return [
        sys.executable,
        "-c",
        f'import duckdb; duckdb.sql("SET enable_progress_bar = false"); print(duckdb.sql({sql!r}).fetchall()[0][0])',
    ]


PEER_LABELS = {
    "kmstui": "load, `kmstui events DIR --count`",
    "dumps": "the same records re-serialised by `json.dumps` (spaces, keys in their order), the same count",
    "sorted": "re-serialised with every object's keys sorted (`sort_keys`, as `jq -S`), the same count",
    "shuffled": "re-serialised with spaces and each record's keys in an order of its own, the same count",
    "explorer": "the explorer, `kmstui DIR`, until the load is done",
    "chdb": "chdb (ClickHouse in-process), the 16 fields kmstui keeps, read and counted",
    "chdb-floor": "chdb, two fields counted (the floor)",
    "duckdb": "DuckDB read_json + unnest + count",
    "jq": r"zcat \| jq select \| wc -l",
}


def measure_load(compact: Path, reserialised: dict[str, Path], runs: int, with_jq: bool) -> dict:
    """Every peer on one shape, interleaved run by run so that noise hits all alike; the compact
    load and the re-serialised ones, whose ratios are a target, also swap places every other
    run (each the same number of runs, medians compared), so that none always follows another."""
    kmstui = [sys.executable, "-m", "kmstui", "events", str(compact), "--count", "-q"]
    jq = (
        f"find {compact} -name '*.json.gz' -print0 | sort -z | xargs -0 zcat "
        "| jq -c '.Records[] | select(.eventSource == \"kms.amazonaws.com\")' | wc -l"
    )
    peers: dict[str, list[str] | str] = {"kmstui": kmstui}
    notes = []
    for serialisation, data in reserialised.items():
        peers[serialisation] = [sys.executable, "-m", "kmstui", "events", str(data), "--count", "-q"]
    peers["explorer"] = "the explorer in a pseudo-terminal (explorer_run)"
    try:
        import chdb  # noqa: F401

        peers["chdb"] = _chdb(compact, CHDB_FIELDS)
        peers["chdb-floor"] = _chdb(compact, CHDB_FLOOR)
    except ImportError:
        notes.append("chdb is not installed (pip install -e '.[bench]'): skipped")
    try:
        import duckdb  # noqa: F401

        peers["duckdb"] = _duckdb(compact)
    except ImportError:
        notes.append("DuckDB is not installed (pip install -e '.[bench]'): skipped")
    if with_jq and shutil.which("jq") and shutil.which("zcat"):
        peers["jq"] = jq
    elif with_jq:
        notes.append("jq or zcat is not installed: skipped")
    times: dict[str, list[float]] = {name: [] for name in peers}
    explorer: list[dict] = []
    answers = {}
    peak = 0
    for run in range(runs):
        order = list(peers)
        if run % 2:  # the compact load and the re-serialised ones take turns at going first
            order = [
                *reserialised,
                "kmstui",
                *(name for name in order if name not in reserialised and name != "kmstui"),
            ]
        for name in order:
            command = peers[name]
            if name == "jq" and run > 0 and times["jq"] and times["jq"][0] > 60:
                continue  # one jq run is enough when it takes minutes
            if name == "explorer":  # after kmstui's run: the count it printed is what the explorer must show
                marks = explorer_run(compact, int(answers["kmstui"]))
                explorer.append(marks)
                times[name].append(marks["loaded"])
                answers[name] = str(marks["events"])
                continue
            elapsed, out, rss = _timed(command, shell=isinstance(command, str))
            times[name].append(elapsed)
            answers[name] = out
            if name == "kmstui":
                peak = max(peak, rss)
    if len(set(answers.values())) != 1:
        notes.append(f"the answers differ: {answers}")
    first = statistics.median(marks["first"] for marks in explorer)
    return {
        "times": times,
        "answers": answers,
        "notes": notes,
        "peak_rss_kb": peak,
        "first_events": first,
    }


def explorer_run(data: Path, expected: int, timeout: float = 600.0) -> dict:
    """``kmstui DIR`` as a user starts it, in a pseudo-terminal of 120x36 read through a terminal
    emulator (pyte): seconds from just before the process is started to the first event row
    on the screen (a line of the events pane that starts with an event's time), and to the
    screen showing every event (the status line's ``N of N events``, N what the headless
    count printed) with the progress bar gone. Nothing in kmstui is patched or marked."""
    from benchmarks.terminal import EVENT_ROW, all_shown, watch

    total = f"{expected:,} of {expected:,} event"
    marks: dict[str, float] = {}

    def seen(now: float, lines: list[str]) -> bool:
        if "first" not in marks and any(EVENT_ROW.match(line) for line in lines):
            marks["first"] = now
        if all_shown(lines, total):
            marks["loaded"] = now
        return "loaded" in marks

    display = watch(["-m", "kmstui", str(data)], dict(os.environ), time.monotonic(), seen, timeout)
    if "loaded" not in marks:
        raise SystemExit(f"the explorer did not show {total}s within {timeout:.0f} s:\n" + "\n".join(display))
    return {**marks, "events": expected}


def measure_explorer(shapes: list[str], records: int, runs: int) -> str:
    """The headless count and the explorer, interleaved run by run, on each shape: medians."""
    lines = [
        f"The explorer beside the headless load, median of {runs}, {_machine()}, "
        f"load average {os.getloadavg()[0]:.1f} at the start",
        "",
        "| trail | headless `events --count` | explorer: first event rows | explorer: every event shown | ratio |",
        "|---|---|---|---|---|",
    ]
    for shape in shapes:
        data = _data(records, shape)
        headless, first, loaded = [], [], []
        for _ in range(runs):
            elapsed, out, _ = _timed([sys.executable, "-m", "kmstui", "events", str(data), "--count", "-q"])
            headless.append(elapsed)
            marks = explorer_run(data, int(out))
            first.append(marks["first"])
            loaded.append(marks["loaded"])
        ours = statistics.median(headless)
        lines.append(
            f"| {shape} | {ours:.2f} s | {statistics.median(first):.2f} s | {statistics.median(loaded):.2f} s "
            f"| {statistics.median(loaded) / ours:.2f}x |"
        )
    lines.append(f"\nload average at the end {os.getloadavg()[0]:.1f}")
    return "\n".join(lines)


def _rss() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _deep_size(value, seen: set[int]) -> int:
    """Bytes of ``value`` and of everything it holds that was not counted before (``seen``)."""
    import numpy as np

    total = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if id(item) in seen or item is None or isinstance(item, bool):
            continue
        seen.add(id(item))
        if isinstance(item, np.ndarray):
            total += item.nbytes if item.base is None else 0
            if item.dtype == object:
                stack.extend(item.tolist())
            continue
        total += sys.getsizeof(item)
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            stack.extend(item)
        elif hasattr(item, "__dict__"):
            stack.append(vars(item))
        elif hasattr(item, "__slots__"):
            stack.extend(getattr(item, slot, None) for slot in item.__slots__)
    return total


def memory_breakdown(index) -> list[tuple[str, int]]:
    """Where the index's bytes are: each column (the part filled; pages past it are never
    touched, so not resident), each vocabulary (its values, its code map, its search texts),
    the encryption contexts, and the rest. Python objects are measured with sys.getsizeof,
    each counted once, in the order listed (a string shared by two parts counts in the first)."""
    seen: set[int] = set()
    parts: list[tuple[str, int]] = []
    for name, column in index.columns.items():
        parts.append((f"column {name} ({column.data.dtype.name})", column.size * column.data.itemsize))
        seen.add(id(column.data))
        upper = getattr(column, "upper", None)  # the event ids' case flags
        if upper is not None:
            parts.append((f"column {name}'s case flags ({upper.dtype.name})", column.size * upper.itemsize))
            seen.add(id(upper))
    for name, vocab in index.vocab.items():
        parts.append((f"vocabulary {name} ({len(vocab):,} values)", _deep_size(vocab, seen)))
    contexts = index.contexts
    parts.append((f"contexts ({len(contexts):,} sets)", _deep_size(contexts, seen)))
    parts.append((f"record paths' store ({len(index.parameters):,} events)", _deep_size(index.parameters, seen)))
    rest = {
        name: value
        for name, value in vars(index).items()
        if name not in ("columns", "vocab", "contexts", "parameters", "_lock")
    }
    parts.append(("the rest (origins, aliases, overflow maps, snapshot)", _deep_size(rest, seen)))
    return parts


def measure_index(data: Path, runs: int) -> tuple[dict, object]:
    """Load in this process: memory per event, then filter latencies on the index."""
    from kmstui.core import loader, query
    from kmstui.core.index import EventIndex
    from kmstui.core.sources import discover

    gc.collect()
    idle = _rss()
    files, _ = discover([str(data)])
    index = EventIndex()
    started = time.perf_counter()
    loader.load(index, files, refresh_every=None)
    index.prepare_search()  # as the explorer does when a load ends: counted in memory too
    loaded = time.perf_counter() - started
    loader.shutdown()
    gc.collect()
    events = len(index.snapshot.order)
    bytes_per_event = (_rss() - idle) / max(events, 1)

    some_key = index.vocab["key"].values[int(index.columns["key0"].data[0])].rsplit("/", 1)[-1]
    principal = index.vocab["principal"].values[int(index.columns["principal"].data[0])][0].split(" ")[0]
    filters = {
        "event:Decrypt": "field",
        f"key:{some_key[:8]}": "field",
        f"principal:{principal}": "field",
        "error:*": "field",
        "readonly:false": "field",
        "AccessDenied": "text",
        "payments": "text",
        "ctx:aws:s3:arn=org-data-07": "text",
        "ctx:SecretARN": "text",
        "-error:* event:GenerateDataKey since:1h": "field",
        "event:=Decrypt": "field",
        "event:=DisableKey OR event:=ScheduleKeyDeletion": "field",
        "(event:Decrypt OR error:*) -(readonly:true identity:AWSService) region:us": "field",
        "identity:AssumedRole": "field",
        "eventtype:AwsServiceEvent": "field",
        "category:Management": "field",
        "event:=CreateGrant grantee:role/": "path",
        "window<=7": "path",
        "req.bypassPolicyLockoutSafetyCheck:true OR has:req.kmsKeyId": "path",
    }
    latencies = {}
    for expression, kind in filters.items():
        compiled = query.parse(expression)
        samples = []
        for _ in range(max(runs, 3)):
            start = time.perf_counter()
            rows = compiled.rows(index)
            samples.append((time.perf_counter() - start) * 1000)
        latencies[expression] = (kind, statistics.median(samples), max(samples), len(rows))
    stored = index.parameter_items(index.size)
    return {
        "events": events,
        "bytes_per_event": bytes_per_event,
        # the record paths' store: its events, and its bytes (JSON, bytes objects, dict entries) an event
        "parameters": (len(stored), (sum(len(raw) + 33 for _, raw in stored) + 104 * len(stored)) / max(events, 1)),
        "load_in_process_s": loaded,
        "filters": latencies,
        "breakdown": [(what, size / max(events, 1)) for what, size in memory_breakdown(index)],
    }, index


def _first_byte_search(arena, needle: str):
    """The first arena search (commit badd41f), for comparison: numpy from the needle's first
    byte over a lowercase copy of every text."""
    import numpy as np

    count = len(arena)
    table = np.zeros(count, dtype=bool)
    want = needle.encode()
    data = arena.blob.copy()
    positions = np.flatnonzero(data[: len(data) - len(want) + 1] == want[0])
    for offset in range(1, len(want)):
        positions = positions[data[positions + offset] == want[offset]]
    ends = arena._offsets(0, count + 1)
    owner = np.searchsorted(ends, positions, side="right") - 1
    table[owner[positions + len(want) <= ends[owner + 1]]] = True
    return table


def _list_search(texts: list[str], needle: str):
    """The list search the arenas replaced (Vocabulary.matching): ``in`` over lowercase strings."""
    import numpy as np

    table = np.zeros(len(texts), dtype=bool)
    hits = [i for i, text in enumerate(texts) if needle in text]
    if hits:
        table[hits] = True
    return table


def measure_searches(index, runs: int) -> list[str]:
    """The three searches over the principals' and context values' texts, side by side in one
    process, each checked to find the same texts: the list, the first arena, the folded arena."""
    from kmstui.core.arena import TextArena

    def timed(search):
        samples = []
        for _ in range(max(runs, 5)):
            start = time.perf_counter()
            found = search()
            samples.append((time.perf_counter() - start) * 1000)
        return statistics.median(samples), found

    principals = index.vocab["principal"]
    values = index.contexts.search_values()
    lines = ["| texts, needle | list | first-byte arena | folded arena |", "|---|---|---|---|"]
    for label, texts, folded in (
        ("principals", principals.search_texts(), principals.matching),
        ("context values", values, values.containing),
    ):
        listed = list(texts)
        lowered = TextArena(listed)
        for needle in ("role/payments-cron", "payments", "accessdenied", "r", "parquet", "0a1b", "zz-none"):
            a, plain = timed(lambda listed=listed, needle=needle: _list_search(listed, needle))
            b, first = timed(lambda lowered=lowered, needle=needle: _first_byte_search(lowered, needle))
            c, now = timed(lambda folded=folded, needle=needle: folded(needle))
            now[0] = plain[0]  # code 0, "none", never matches a field
            assert (plain == first).all() and (plain == now).all(), needle
            lines.append(
                f"| {label} ({len(listed):,}), `{needle}` ({int(plain.sum()):,} hits) | {a:.0f} ms | {b:.0f} ms "
                f"| {c:.0f} ms |"
            )
    return lines


def measure_render(index, runs: int) -> dict:
    """Through the real app: from the index being ready to the events pane showing its first
    screen (the query, the pane, every visible line drawn), then page down, end and home:
    the binding's action and every visible line of the pane drawn again. Textual's pilot
    waits for the process to go idle between keys (about 90 ms whatever the app does), so
    the work is timed inside the app rather than around pilot.press."""
    from kmstui.ui.app import KmsApp
    from kmstui.ui.explorer import ExplorerScreen
    from kmstui.ui.panes import EventsPane

    # When the explorer first asks for the events of the ready index, and when it first shows them.
    marks: dict[str, float] = {}

    def marked(name: str, method):
        def wrapped(self, *args, **kwargs):
            marks.setdefault(name, time.perf_counter())
            return method(self, *args, **kwargs)

        return wrapped

    ExplorerScreen.request_query = marked("index_ready", ExplorerScreen.request_query)  # type: ignore[method-assign]
    EventsPane.show = marked("events_shown", EventsPane.show)  # type: ignore[method-assign]

    def draw(pane) -> None:
        for y in range(pane.size.height):
            pane.render_line(y)

    async def run() -> dict:
        app = KmsApp(index=index)
        results: dict[str, list[float]] = {"first paint": [], "page down": [], "end": [], "home": []}
        async with app.run_test(size=(120, 36)) as pilot:
            screen = app.explorer
            await screen.wait_for(lambda: screen._shown > 0)
            pane = screen.query_one(EventsPane)
            assert pane.row_count == len(index.snapshot.order)
            start = time.perf_counter()
            draw(pane)
            drawn = time.perf_counter()
            results["first paint"].append((marks["events_shown"] - marks["index_ready"] + drawn - start) * 1000)
            await app.settled()
            for _ in range(max(runs, 3) * 3):
                for action, argument, name in (
                    (pane.action_page, 1, "page down"),
                    (pane.action_edge, 1, "end"),
                    (pane.action_edge, 0, "home"),
                ):
                    start = time.perf_counter()
                    action(argument)
                    draw(pane)
                    results[name].append((time.perf_counter() - start) * 1000)
                await pilot.pause()
        return {name: (statistics.median(v), max(v)) for name, v in results.items()}

    return asyncio.run(run())


def _machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({cpu}), {memory:.0f} GB, Python {platform.python_version()}, {platform.system()}"


ANSWER_TARGETS = {"timeline": 30, "group1": 100, "group2": 250, "new": 300, "marker": 300}


def _samples(runs: int, action, *args) -> tuple[float, float]:
    """(median, worst) milliseconds of ``action(*args)`` over at least three runs."""
    samples = []
    for _ in range(max(runs, 3)):
        start = time.perf_counter()
        action(*args)
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples), max(samples)


def measure_answers(index, runs: int) -> list[tuple[str, str, float, float]]:
    """The explorer's answers on a loaded index: (what, target name, median ms, worst ms).

    The timeline is timed as the query worker builds it after a filter change (the filter
    itself is timed above); group-by over every event (the worst case); what is new cold (the
    first use of each pair computed, once per refresh of the index) and warm (a filter after)."""
    from kmstui.core import group, novelty, query
    from kmstui.core import timeline as timelines

    out = []
    for expression in ("", "event:Decrypt", "error:*", "since:1h"):
        compiled = query.parse(expression)
        rows = compiled.rows(index)
        window = novelty.window_of(compiled.terms, index.snapshot)
        median, worst = _samples(runs, timelines.build, index, rows, 118, window.since, window.until)
        out.append((f"timeline of `{expression or 'everything'}` ({len(rows):,} events)", "timeline", median, worst))
    everything = query.parse("").rows(index)
    for fields in ("event", "principal", "key", "ip", "ctx", "event,ip", "key,principal", "principal,ctx"):
        target = "group2" if "," in fields else "group1"
        median, worst = _samples(runs, group.group, index, everything, fields)
        out.append((f"group-by `{fields}` ({len(everything):,} events)", target, median, worst))
    snapshot = index.snapshot
    for kind in novelty.KINDS:
        median, worst = _samples(runs, _cold, index, query.parse(f"new:{kind} since:1h"))
        out.append((f"`new:{kind} since:1h`, first after a load", "new", median, worst))
    median, worst = _samples(runs, _cold_marker, index, snapshot)
    out.append(("the events list's ✦ marker (all five kinds), first after a load", "marker", median, worst))
    median, worst = _samples(runs, query.parse("new:any since:1h").rows, index)
    out.append(("`new:any since:1h`, every filter after", "new", median, worst))
    return out


def _cold(index, compiled) -> None:
    """A new: filter as the first after a load: the first uses not computed yet."""
    from kmstui.core import novelty

    novelty.forget(index)
    compiled.rows(index)


def _cold_marker(index, snapshot) -> None:
    """The events list's marker as the first after a load computes it."""
    from kmstui.core import novelty

    novelty.forget(index)
    novelty.new_any(index, snapshot, snapshot.newest - 3600)


def _answer_lines(figures: list[tuple[str, str, float, float]]) -> str:
    lines = []
    for what, target, median, worst in figures:
        limit = ANSWER_TARGETS[target]
        lines.append(
            f"| {what} | {median:.0f} ms median, {worst:.0f} ms worst | <= {limit} ms "
            f"({'met' if worst <= limit else 'NOT met'}) |"
        )
    return "\n".join(lines)


def _index_lines(figures: dict) -> str:
    """The table rows of memory and filters."""
    total = figures["bytes_per_event"]
    stored, store_bytes = figures["parameters"]
    bpe = total - store_bytes
    lines = [
        f"| memory per indexed event, resident (RSS above idle), without the record paths' store | {bpe:,.0f} bytes "
        f"| <= {TARGETS['bytes_per_event']} ({'met' if bpe <= TARGETS['bytes_per_event'] else 'NOT met'}) |",
        f"| the record paths' store ({stored:,} events keep their parameters) | {store_bytes:,.0f} bytes | |",
        f"| the two together | {total:,.0f} bytes | < {TARGETS['with_parameters']} "
        f"({'met' if total < TARGETS['with_parameters'] else 'NOT met'}) |",
    ]
    for expression, (kind, median, worst, count) in figures["filters"].items():
        limit = TARGETS[f"{kind}_filter_ms"]
        shown = expression.replace("|", r"\|")
        lines.append(
            f"| filter `{shown}` ({count:,} events) | {median:.0f} ms median, {worst:.0f} ms worst | "
            f"<= {limit} ms ({'met' if worst <= limit else 'NOT met'}) |"
        )
    return "\n".join(lines)


def _shape_lines(shape: str, records: int, files: int, load: dict, index: dict) -> list[str]:
    times = load["times"]
    ours = statistics.median(times["kmstui"])
    lines = [
        "",
        f"**{shape}**: {records:,} CloudTrail records in {files} gzipped files; {index['events']:,} KMS events kept",
        "",
        "| measure | result | target |",
        "|---|---|---|",
        f"| {PEER_LABELS['kmstui']} | {ours:.2f} s median of {len(times['kmstui'])} "
        f"({records / ours:,.0f} records/s) | |",
    ]
    for serialisation in RESERIALISED:
        if serialisation in times:
            theirs = statistics.median(times[serialisation])
            ratio, limit = theirs / ours, TARGETS["reserialised"]
            lines.append(
                f"| {PEER_LABELS[serialisation]} | {theirs:.2f} s: {ratio:.2f}x the compact load "
                f"| <= {limit}x ({'met' if ratio <= limit else 'NOT met'}) |"
            )
    first = load["first_events"]
    lines.append(
        f"| the explorer's first event rows on the terminal, from the process's start | {first:.2f} s "
        f"| <= {TARGETS['first_events_s']} s ({'met' if first <= TARGETS['first_events_s'] else 'NOT met'}) |"
    )
    ratio = statistics.median(times["explorer"]) / ours
    lines.append(
        f"| {PEER_LABELS['explorer']} | {statistics.median(times['explorer']):.2f} s: {ratio:.2f}x the headless load "
        f"| <= {TARGETS['explorer_vs_headless']}x "
        f"({'met' if ratio <= TARGETS['explorer_vs_headless'] else 'NOT met'}) |"
    )
    for peer in ("chdb", "chdb-floor", "duckdb", "jq"):
        if peer in times:
            theirs = statistics.median(times[peer])
            ratio = theirs / ours
            faster = f"kmstui is {ratio:.2f}x faster" if ratio >= 1 else f"kmstui is {1 / ratio:.2f}x slower"
            target = TARGETS.get(peer)
            verdict = f">= {target}x ({'met' if ratio >= target else 'NOT met'})" if target else ""
            lines.append(f"| {PEER_LABELS[peer]} | {theirs:.2f} s: {faster} | {verdict} |")
    lines.append(f"| peak RSS of the headless load | {load['peak_rss_kb'] / 1024:,.0f} MB | |")
    lines.append(_index_lines(index))
    lines.append("")
    lines.append(f"Where the {shape} trail's index bytes go, per event (sys.getsizeof, each object counted once):")
    lines.append("")
    lines.append("| part | bytes per event |\n|---|---|")
    for what, size in index["breakdown"]:
        if size >= 0.5:
            lines.append(f"| {what} | {size:.1f} |")
    return lines


def measure_actiontrail(data: Path, runs: int) -> str:
    """Loading ActionTrail per record beside CloudTrail's general path (the scanner off), in
    this process, one file at a time, interleaved: the same number of records of each, in
    gzipped files of 2,000 (ActionTrail's as JSON arrays, as delivered to OSS)."""
    import gzip
    import json
    import tempfile

    from benchmarks import actiontrail_synth
    from kmstui.core import decode
    from kmstui.core.sources import SourceFile

    cloudtrail = sorted(data.rglob("*.json.gz"))
    records = 2000 * len(cloudtrail)
    folder = Path(tempfile.mkdtemp(prefix="kmstui-actiontrail-"))
    events = actiontrail_synth.many(records)
    alibaba = []
    for number in range(0, records, 2000):
        path = folder / f"actiontrail-{number // 2000:05d}.json.gz"
        path.write_bytes(gzip.compress(json.dumps(events[number : number + 2000]).encode(), 6, mtime=0))
        alibaba.append(path)
    del events
    scanner, decode._scan = decode._scan, None  # CloudTrail's general path, as without a compiler

    def load(paths: list[Path]) -> tuple[float, float, int, int]:
        wall, cpu = time.perf_counter(), time.process_time()
        read = kept = 0
        for path in paths:
            batch = decode.load_many([SourceFile(str(path), str(path))])
            read += batch.records
            kept += batch.n
        return time.perf_counter() - wall, time.process_time() - cpu, read, kept

    try:
        # per record, wall and CPU time: on a shared machine the wall clock also counts the time
        # spent waiting for a core, which the CPU time of this one-threaded load does not
        times: dict[str, dict[str, list[float]]] = {
            name: {"wall": [], "cpu": []} for name in ("cloudtrail", "actiontrail")
        }
        counts = {}
        for _ in range(runs):
            for name, paths in (("cloudtrail", cloudtrail), ("actiontrail", alibaba)):
                wall, cpu, read, kept = load(paths)
                times[name]["wall"].append(wall / read * 1e6)
                times[name]["cpu"].append(cpu / read * 1e6)
                counts[name] = (read, kept)
    finally:
        decode._scan = scanner
        shutil.rmtree(folder, ignore_errors=True)
    median = {
        (name, clock): statistics.median(values) for name, clocks in times.items() for clock, values in clocks.items()
    }
    lines = [
        f"ActionTrail beside CloudTrail's general path, one core, median of {runs}, {date.today().isoformat()}, "
        f"{_machine()}, load average {os.getloadavg()[0]:.1f}",
        "",
        "| measure | CPU time | wall time | target |",
        "|---|---|---|---|",
    ]
    for name, label in (
        ("cloudtrail", "CloudTrail, general path (scanner off)"),
        ("actiontrail", "ActionTrail (OSS JSON arrays)"),
    ):
        read, kept = counts[name]
        lines.append(
            f"| {label}: {read:,} records, {kept:,} kept | {median[name, 'cpu']:.2f} µs a record "
            f"| {median[name, 'wall']:.2f} µs a record | |"
        )
    ratios = {clock: median["actiontrail", clock] / median["cloudtrail", clock] for clock in ("cpu", "wall")}
    verdict = "met" if ratios["cpu"] <= 1 else "NOT met"
    lines.append(
        f"| ActionTrail / CloudTrail per record | {ratios['cpu']:.2f} | {ratios['wall']:.2f} | <= 1.00 ({verdict}) |"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--shape", choices=SHAPES, action="append", help="one shape only (default: both)")
    parser.add_argument("--no-jq", action="store_true", help="skip jq (it takes over a minute a run)")
    parser.add_argument("--no-answers", action="store_true", help="skip the timeline, group-by and what-is-new")
    parser.add_argument("--index-only", action="store_true", help="memory and filters only: no peers, no drawing")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # --index-only for the full run
    parser.add_argument(
        "--explorer",
        action="store_true",
        help="the explorer's first events and whole load beside the headless load only",
    )
    parser.add_argument(
        "--answers", action="store_true", help="the timeline, group-by and what-is-new only (after an in-process load)"
    )
    parser.add_argument(
        "--actiontrail", action="store_true", help="ActionTrail's load per record beside CloudTrail's general path"
    )
    parser.add_argument(
        "--searches",
        action="store_true",
        help="the substring searches over principals and context values: the list, the first and the folded arena",
    )
    args = parser.parse_args()
    # kmstui's modules compiled once, as an install compiles them: with PYTHONDONTWRITEBYTECODE
    # set, every run would otherwise compile them again (a quarter of a second at each start)
    compileall.compile_dir(str(ROOT / "kmstui"), quiet=1)

    if args.explorer:
        print(measure_explorer(args.shape or list(SHAPES), args.records, args.runs))
        return
    if args.actiontrail:
        print(measure_actiontrail(_data(args.records), args.runs))
        return
    shapes = args.shape or list(SHAPES)
    if args.searches:
        _, index = measure_index(_data(args.records, shapes[0]), 1)
        print(f"{index.size:,} events ({shapes[0]}), {_machine()}, load average {os.getloadavg()[0]:.1f}")
        print("\n".join(measure_searches(index, args.runs)))
        return
    if args.index_only:
        figures = measure_index(_data(args.records, shapes[0]), args.runs)[0]
        print(json.dumps(figures) if args.json else _index_lines(figures))
        return
    data = _data(args.records)
    if args.answers:
        figures, index = measure_index(data, 1)
        print(f"{figures['events']:,} KMS events indexed from {args.records:,} records, {_machine()}")
        before = os.getloadavg()[0]
        lines = _answer_lines(measure_answers(index, args.runs))
        print(f"load average {before:.1f} before, {os.getloadavg()[0]:.1f} after (other work on the machine)")
        print("| measure | result | target |\n|---|---|---|")
        print(lines)
        return
    started = time.monotonic()
    lines = [f"kmstui benchmark, {date.today().isoformat()}, {_machine()}, load average {os.getloadavg()[0]:.1f}"]
    notes = []
    for shape in shapes:
        compact = _data(args.records, shape)
        reserialised = {how: _data(args.records, shape, how) for how in RESERIALISED}
        load = measure_load(compact, reserialised, args.runs, not args.no_jq and shape == "repetitive")
        own = [sys.executable, str(Path(__file__).resolve()), "--index-only", "--json", "--shape", shape]
        own += ["--records", str(args.records), "--runs", str(args.runs)]
        index_figures = json.loads(_timed(own)[1])  # a fresh process: memory above its own idle
        files = len(list(compact.rglob("*.json.gz")))
        lines += _shape_lines(shape, args.records, files, load, index_figures)
        notes += [f"{shape}: {note}" for note in load["notes"]]
    if "repetitive" in shapes:
        _, index = measure_index(data, args.runs)
        lines += ["", "**repetitive**, in process:", "", "| measure | result | target |", "|---|---|---|"]
        if not args.no_answers:
            lines.append(_answer_lines(measure_answers(index, args.runs)))
        for name, (median, worst) in measure_render(index, args.runs).items():
            limit = TARGETS["first_paint_ms" if name == "first paint" else "repaint_ms"]
            lines.append(
                f"| render: {name} | {median:.0f} ms median, {worst:.0f} ms worst | <= {limit} ms "
                f"({'met' if worst <= limit else 'NOT met'}) |"
            )
    for note in notes:
        lines.append(f"\nNote: {note}")
    lines.append(
        f"\nThe run took {(time.monotonic() - started) / 60:.0f} minutes; "
        f"load average at the end {os.getloadavg()[0]:.1f}."
    )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
