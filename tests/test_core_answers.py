"""Group-by, the timeline and what is new, each checked against a plain-Python reading of the
same events (one :class:`~kmstui.core.model.Event` at a time, dicts and sets), on the demo and
on the real-world corpus next to the repository where it is present."""

from __future__ import annotations

import csv
import io
from collections import defaultdict

import pytest

from kmstui.core import group, novelty, query, timeline
from kmstui.core.index import EventIndex
from kmstui.core.timeutil import NO_TIME, iso

from appkit import DEMO
from records import (
    REAL,
    assumed_role,
    json_lines,
    key_arn,
    key_resource,
    kms,
    load,
    load_records,
    needs_outside_data,
    run_main,
)

SOURCES = [
    pytest.param(DEMO, id="demo"),
    pytest.param(
        REAL,
        id="real",
        marks=needs_outside_data(REAL),
    ),
]
INCIDENT = "since:2026-11-20T02:00Z until:2026-11-20T03:00Z"


@pytest.fixture(scope="module", params=SOURCES)
def loaded(request) -> EventIndex:
    return load(request.param)


@pytest.fixture(scope="module")
def demo() -> EventIndex:
    return load(DEMO)


def _context_keys(event) -> set[str]:
    return {key for _label, pairs in event.contexts for key, _value in pairs}


def _value(event, name: str):
    """A field's value(s) for one event, read from the materialised event."""
    if name == "ctx":
        return _context_keys(event) or {None}
    return {
        "event": event.name,
        "principal": event.principal.short,
        "key": set(event.keys) or {None},  # every key the event names (a ReEncrypt: two)
        "ip": event.source_ip,
        "region": event.region,
        "account": event.account,
        "error": event.error_code,
        "identity": event.principal.identity_type,
        "eventtype": event.event_type,
        "agent": event.user_agent,
        "source": event.source or None,
        "origin": event.origin,
        "readonly": None if event.read_only is None else str(event.read_only).lower(),
    }[name]


def reference_groups(index: EventIndex, rows, names: tuple[str, ...]) -> dict:
    """values -> (events, errors, first, last, distinct keys, distinct principals)."""
    found: dict = defaultdict(lambda: [0, 0, None, None, set(), set()])
    for row in rows:
        event = index.event(int(row))
        choices = [_value(event, name) for name in names]
        choices = [c if isinstance(c, set) else {c} for c in choices]
        combos = [(a,) for a in choices[0]] if len(names) == 1 else [(a, b) for a in choices[0] for b in choices[1]]
        for values in combos:
            entry = found[values]
            entry[0] += 1
            entry[1] += bool(event.error_code)
            if event.time != NO_TIME:
                entry[2] = event.time if entry[2] is None else min(entry[2], event.time)
                entry[3] = event.time if entry[3] is None else max(entry[3], event.time)
            # the keys it used: a group of one key holds that one (or none)
            entry[4].update(event.keys if "key" not in names else {values[names.index("key")]} - {None})
            entry[5].add(event.principal.short)
    return {
        values: (e[0], e[1], NO_TIME if e[2] is None else e[2], NO_TIME if e[3] is None else e[3], len(e[4]), len(e[5]))
        for values, e in found.items()
    }


def computed_groups(grouping: group.Grouping) -> dict:
    return {r.values: (r.events, r.errors, r.first_seen, r.last_seen, r.keys, r.principals) for r in grouping.rows}


GROUPINGS = [
    ("event",),
    ("principal",),
    ("key",),
    ("ip",),
    ("error",),
    ("identity",),
    ("readonly",),
    ("origin",),
    ("ctx",),
    ("event", "ip"),
    ("event", "key"),
    ("key", "principal"),
    ("principal", "ctx"),
    ("region", "account"),
    ("agent", "source"),
]


@pytest.mark.parametrize("names", GROUPINGS, ids=[",".join(n) for n in GROUPINGS])
@pytest.mark.parametrize("expression", ["", "error:*", "-error:* readonly:true"])
def test_group_by_matches_plain_python(loaded, names, expression):
    rows = query.parse(expression).rows(loaded)
    grouping = group.group(loaded, rows, names)
    assert computed_groups(grouping) == reference_groups(loaded, rows, names)
    counts = [r.events for r in grouping.rows]
    assert counts == sorted(counts, reverse=True)  # most events first


@pytest.fixture
def sorted_not_counted(monkeypatch):
    """Every code space sorted rather than counted in place, and sort keys never packed: the
    paths that large or sparse spaces take, on data small enough to check by hand."""
    monkeypatch.setattr(group, "DENSE_RATIO", 0)
    monkeypatch.setattr(group, "DENSE_SLACK", -1)
    monkeypatch.setattr(group, "PACK_LIMIT", 0)


@pytest.mark.parametrize("names", GROUPINGS, ids=[",".join(n) for n in GROUPINGS])
def test_group_by_sorting_its_codes_matches_plain_python(loaded, names, sorted_not_counted):
    rows = query.parse("").rows(loaded)
    grouping = group.group(loaded, rows, names)
    assert computed_groups(grouping) == reference_groups(loaded, rows, names)
    for column in group.SORTS:
        assert grouping.sorted(column).rows == group.sort_rows(grouping.rows, column), column


def _many_context_keys(tmp_path) -> EventIndex:
    """More distinct encryption-context keys (80) than a key set's bit mask holds, over three
    keys and five principals: some events with one key, some with several, some with none."""
    records = []
    for at in range(240):
        context = {f"k{(at * step) % 80:02d}": f"v{at}" for step in range(1 + at % 4)} if at % 7 else None
        records.append(
            kms(
                "Decrypt",
                key_arn(["1" * 8, "2" * 8, "3" * 8][at % 3] + "-1234-1234-1234-123456789012"),
                request={"encryptionContext": context} if context else None,
                identity=assumed_role(f"r{at % 5}"),
                time=f"2026-11-20T{at // 60:02d}:{at % 60:02d}:00Z",
                error="AccessDenied" if at % 11 == 0 else None,
            )
        )
    return load_records(tmp_path, records)


@pytest.mark.parametrize("names", [("ctx",), ("principal", "ctx"), ("ctx", "key")])
def test_group_by_more_context_keys_than_a_mask_holds(tmp_path, names):
    index = _many_context_keys(tmp_path)
    assert len(index.contexts.keys) > group.MASK_BITS
    rows = query.parse("").rows(index)
    assert computed_groups(group.group(index, rows, names)) == reference_groups(index, rows, names)


def reference_new_counts(index: EventIndex, rows, names: tuple[str, ...], since: int) -> dict:
    """values -> how many of the group's events are new in any way since ``since``."""
    new = set().union(*(reference_new(index, kind, since) for kind in novelty.KINDS))
    found: dict = defaultdict(int)
    for row in rows:
        event = index.event(int(row))
        choices = [c if isinstance(c, set) else {c} for c in (_value(event, name) for name in names)]
        combos = [(a,) for a in choices[0]] if len(names) == 1 else [(a, b) for a in choices[0] for b in choices[1]]
        for values in combos:
            found[values] += int(row) in new
    return dict(found)


@pytest.mark.parametrize("names", [("principal",), ("event", "key"), ("principal", "ctx"), ("ip", "agent")])
def test_group_by_counts_what_is_new_in_the_window(loaded, names):
    """With a since: the rows count their events the events list marks ✦ (new in any way)."""
    window = _window_of_source(loaded)
    rows = query.parse(window).rows(loaded)
    since = novelty.window_of(query.parse(window).terms, loaded.snapshot).since
    assert since is not None
    novel = novelty.new_any(loaded, loaded.snapshot, since)
    grouping = group.group(loaded, rows, names, novel)
    got = {r.values: r.new for r in grouping.rows}
    expected = reference_new_counts(loaded, rows, names, since)
    assert got == expected and any(expected.values())
    assert group.group(loaded, rows, names).new is None  # no window, no column
    newest = grouping.sorted("new").rows
    assert [r.new for r in newest] == sorted((r.new for r in newest), reverse=True)


def test_group_rows_sort_by_any_column(demo):
    grouping = group.group(demo, query.parse("").rows(demo), "principal")
    for column in group.SORTS:
        for descending in (True, False):
            rows = group.sort_rows(grouping.rows, column, descending)
            assert len(rows) == len(grouping.rows)
            if column != "values":
                keys = [getattr(r, column) for r in rows]
                assert keys == sorted(keys, reverse=descending)
    with pytest.raises(group.GroupError):
        group.sort_rows(grouping.rows, "colour")


@pytest.mark.parametrize("names", [("principal",), ("event", "ip"), ("key", "principal")])
def test_groupings_sort_as_their_rows_do(loaded, names):
    """The arrays sorted with numpy give the rows a plain sort of GroupRows gives, ties and all."""
    grouping = group.group(loaded, query.parse("").rows(loaded), names)
    for column in group.SORTS:
        for descending in (True, False):
            expected = group.sort_rows(grouping.rows, column, descending)
            assert grouping.sorted(column, descending).rows == expected, (column, descending)
    row = grouping.row(len(grouping) // 2)
    assert grouping.find(row.codes) == len(grouping) // 2


@pytest.mark.parametrize("text", ["", "since", "event,ip,key", "event,event", "colour"])
def test_group_by_says_what_is_wrong(text):
    with pytest.raises(group.GroupError):
        group.parse_fields(text)


def test_drill_down_terms_narrow_to_the_row(demo):
    """A row's drill-down terms added to the filter give exactly the row's events."""
    base = "since:2026-11-20T02:00Z"
    rows = query.parse(base).rows(demo)
    for names in (("event", "key"), ("principal", "ip"), ("error",), ("identity", "readonly")):
        grouping = group.group(demo, rows, names)
        for row in grouping.rows[:6]:
            terms = group.drill_terms(names, row)
            if len(terms) < len(names):
                continue  # a "none" value the language cannot name
            drilled = query.parse(" ".join([base, *terms])).rows(demo)
            assert len(drilled) == row.events, (names, row.values, terms)


# ---------------------------------------------------------------------------
# What is new


def _pairs(event, kind: str) -> set:
    """The event's (key, value) pairs: every key it names with its value."""
    if kind == "ctx":
        return {(key, k) for key in event.keys for k in _context_keys(event)}
    value = {
        "principal": event.principal.short,
        "ip": event.source_ip,
        "agent": event.user_agent,
        "region": event.region,
    }[kind]
    return {(key, value) for key in event.keys} if value else set()


def reference_new(index: EventIndex, kind: str, since: int | None) -> set[int]:
    """Rows whose (key, value) pair was never seen before ``since`` (None: before the event)."""
    events = [index.event(int(r)) for r in index.snapshot.order]
    events = sorted((e for e in events if e.time != NO_TIME), key=lambda e: (e.time, e.row))
    seen: set = set()
    out = set()
    if since is None:
        for event in events:
            pairs = _pairs(event, kind)
            if pairs - seen:
                out.add(event.row)
            seen |= pairs
        return out
    before = set().union(*(_pairs(e, kind) for e in events if e.time < since))
    return {e.row for e in events if _pairs(e, kind) - before}


@pytest.mark.parametrize("kind", novelty.KINDS)
@pytest.mark.parametrize("window", ["", "since:2026-11-20T02:00Z", "since:3h"])
def test_new_matches_plain_python(loaded, kind, window):
    snapshot = loaded.snapshot
    compiled = query.parse(f"new:{kind} {window}")
    since = novelty.window_of(compiled.terms, snapshot).since
    expected = reference_new(loaded, kind, since)
    if since is not None:  # the filter's since: keeps the window's own events
        expected = {r for r in expected if loaded.event(r).time >= since}
    assert set(compiled.rows(loaded).tolist()) == expected


@pytest.mark.parametrize("kind", novelty.KINDS)
def test_new_sorting_its_pairs_matches_plain_python(loaded, kind, sorted_not_counted):
    novelty._CACHE.pop(loaded, None)
    try:
        assert set(query.parse(f"new:{kind}").rows(loaded).tolist()) == reference_new(loaded, kind, None)
    finally:
        novelty._CACHE.pop(loaded, None)  # the other tests' answers come from the usual path


@pytest.mark.parametrize("window", ["", "since:2026-11-20T02:00Z"])
def test_new_context_keys_beyond_a_mask(tmp_path, window):
    index = _many_context_keys(tmp_path)
    compiled = query.parse(f"new:ctx {window}")
    since = novelty.window_of(compiled.terms, index.snapshot).since
    expected = {r for r in reference_new(index, "ctx", since) if since is None or index.event(r).time >= since}
    assert expected and set(compiled.rows(index).tolist()) == expected


def test_new_pairs_a_value_with_every_key_the_event_names(tmp_path):
    """A ReEncrypt names its source and destination keys: a caller who had used the source
    before is still new to the destination, as group-by key counts the event under both."""
    source, destination = (
        key_arn("1" * 8 + "-1234-1234-1234-123456789012"),
        key_arn("2" * 8 + "-1234-1234-1234-123456789012"),
    )
    reencrypt = {"sourceKeyId": source, "destinationKeyId": destination}
    index = load_records(
        tmp_path,
        [
            kms("Decrypt", source, identity=assumed_role("Ops"), time="2026-11-20T01:00:00Z"),
            kms(
                "ReEncrypt",
                request=reencrypt,
                resources=[key_resource(source), key_resource(destination)],
                identity=assumed_role("Ops"),
                time="2026-11-20T02:30:00Z",
            ),
            kms("Decrypt", destination, identity=assumed_role("Ops"), time="2026-11-20T02:40:00Z"),
        ],
    )

    def named(expression: str) -> list[tuple[str, str]]:
        return sorted((e.name, iso(e.time)) for e in map(index.event, query.parse(expression).rows(index).tolist()))

    # in the window, Ops is new to the destination key: the ReEncrypt first, the Decrypt after it
    assert named("new:principal since:2026-11-20T02:00Z") == [
        ("Decrypt", "2026-11-20T02:40:00Z"),
        ("ReEncrypt", "2026-11-20T02:30:00Z"),
    ]
    # first uses: the first Decrypt (the source key) and the ReEncrypt (the destination key)
    assert named("new:principal") == [("Decrypt", "2026-11-20T01:00:00Z"), ("ReEncrypt", "2026-11-20T02:30:00Z")]
    rows = query.parse("since:2026-11-20T02:00Z").rows(index)
    novel = novelty.new_any(
        index, index.snapshot, novelty.window_of(query.parse("since:2026-11-20T02:00Z").terms, index.snapshot).since
    )
    by_key = {r.values[0]: (r.events, r.new) for r in group.group(index, rows, "key", novel).rows}
    assert by_key == {source: (1, 1), destination: (2, 2)}  # the ReEncrypt counted under both its keys


def test_principals_new_to_a_key_in_the_incident_hour(demo):
    """The question of a key compromise: who touched alias/secrets-prod who never had before."""
    rows = query.parse(f"new:principal alias:secrets-prod {INCIDENT}").rows(demo)
    grouping = group.group(demo, rows, "principal")
    assert [r.values[0] for r in grouping.rows] == ["role/vendor-sync (botocore-session-1763605931)"]
    # the admin session read that key's secrets in that hour too, but had used the key the evening before
    assert query.parse(f"principal:AdminSSO alias:secrets-prod {INCIDENT}").rows(demo).size == 3


def test_new_combines_and_says_what_it_takes(demo):
    assert query.parse("new:any").describe() == "new:any"
    either = set(query.parse("new:ip,region since:2h").rows(demo).tolist())
    ip = set(query.parse("new:ip since:2h").rows(demo).tolist())
    region = set(query.parse("new:region since:2h").rows(demo).tolist())
    assert either == ip | region
    assert set(query.parse("-new:ip since:2h").rows(demo).tolist()).isdisjoint(ip)
    with pytest.raises(query.FilterError, match="new: takes principal, ip, agent, region, ctx or any"):
        query.parse("new:colour")


# ---------------------------------------------------------------------------
# Timeline


@pytest.mark.parametrize("width", [20, 76, 116])
@pytest.mark.parametrize("expression", ["", "error:AccessDenied", INCIDENT, "since:20m"])
def test_timeline_counts_match_plain_python(loaded, width, expression):
    compiled = query.parse(expression)
    rows = compiled.rows(loaded)
    window = novelty.window_of(compiled.terms, loaded.snapshot)
    line = timeline.build(loaded, rows, width, window.since, window.until)
    assert line.step in timeline.STEPS and line.start % line.step == 0  # round UTC boundaries
    assert line.buckets <= width + 1
    ok: dict[int, int] = defaultdict(int)
    errors: dict[int, int] = defaultdict(int)
    for row in rows:
        event = loaded.event(int(row))
        if event.time == NO_TIME:
            continue
        bucket = (event.time - line.start) // line.step
        (errors if event.error_code else ok)[bucket] += 1
    assert {b: c for b, c in enumerate(line.ok.tolist()) if c} == dict(ok)
    assert {b: c for b, c in enumerate(line.errors.tolist()) if c} == dict(errors)


@pytest.mark.parametrize(
    ("span", "buckets", "step"),
    [(30, 60, 1), (3600, 60, 60), (3601, 60, 120), (12 * 3600, 76, 600), (40 * 86400, 60, 86400), (10, 1, 10)],
)
def test_bucket_size_is_the_smallest_round_one_that_fits(span, buckets, step):
    assert timeline.bucket_size(span, buckets) == step
    assert timeline.step_text(600) == "10m" and timeline.step_text(86400) == "1d" and timeline.step_text(5) == "5s"


def test_the_access_denied_burst_is_the_spike(demo):
    rows = query.parse("").rows(demo)
    line = timeline.build(demo, rows, 76)
    spike = int(line.errors.argmax())
    assert spike == int(line.total.argmax())
    assert line.describe(spike) == "2026-11-20 02:10–02:20 · 63 events · 45 errors"


def test_not_logged_span_of_acme_main(demo):
    """PutEventSelectors at 02:44:30 excluded KMS from acme-main; never undone in the demo. (On
    Alibaba Cloud, ActionTrail's acme-cn-audit was stopped at 03:14:02 and started at 05:09:48.)"""
    spans = timeline.not_logged(demo)
    assert [(s.trail, iso(s.start), iso(s.end) if s.end else None, s.state) for s in spans] == [
        ("acme-main", "2026-11-20T02:44:30Z", None, "excluded"),
        ("acme-cn-audit", "2026-11-20T03:14:02Z", "2026-11-20T05:09:48Z", "stopped"),
    ]
    line = timeline.build(demo, query.parse("").rows(demo), 76)
    marked = line.unlogged.nonzero()[0]
    assert line.bucket_start(int(marked[0])) <= spans[0].start < line.bucket_start(int(marked[0])) + line.step
    assert marked[-1] == line.buckets - 1 and len(marked) == line.buckets - marked[0]
    assert "not logged: acme-main (excluded)" in line.describe(int(marked[0]))


def test_stopped_then_started_is_a_closed_span(tmp_path):
    from records import load_records, trail_config

    records = [
        trail_config("StopLogging", "main", time="2026-11-20T01:00:00Z"),
        trail_config("StartLogging", "main", time="2026-11-20T01:30:00Z"),
    ]
    index = load_records(tmp_path, records)
    spans = timeline.not_logged(index)
    assert [(s.trail, iso(s.start), iso(s.end) if s.end else None, s.state) for s in spans] == [
        ("main", "2026-11-20T01:00:00Z", "2026-11-20T01:30:00Z", "stopped")
    ]


# ---------------------------------------------------------------------------
# Headless


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "table"])
def test_headless_group_by_matches_plain_python(capsys, fmt):
    code, out, _err = run_main(
        capsys,
        "events",
        "--demo",
        "-q",
        "--filter",
        "since:2026-11-20T02:00Z",
        "--group-by",
        "event,ip",
        "--format",
        fmt,
    )
    assert code == 0
    index = load(DEMO)
    rows = query.parse("since:2026-11-20T02:00Z").rows(index)
    expected = reference_groups(index, rows, ("event", "ip"))
    if fmt == "jsonl":
        records = json_lines(out)
    elif fmt == "csv":
        records = list(csv.DictReader(io.StringIO(out)))
        for record in records:
            for name in ("event", "ip"):
                record[name] = record[name] or None
    else:
        lines = out.splitlines()
        header = ["EVENT", "IP", "EVENTS", "ERRORS", "FIRST", "SEEN", "LAST", "SEEN", "KEYS", "WHO", "NEW"]
        assert lines[0].split() == header  # NEW: the filter has a since:
        assert len(lines) == 1 + len(expected)
        return
    got = {
        (r["event"], r["ip"]): (
            *(int(r["events"]), int(r["errors"]), r["first_seen"], r["last_seen"]),
            *(int(r["keys"]), int(r["principals"])),
        )
        for r in records
    }
    assert got == {k: (v[0], v[1], iso(v[2]), iso(v[3]), v[4], v[5]) for k, v in expected.items()}
    assert [int(r["events"]) for r in records] == sorted((int(r["events"]) for r in records), reverse=True)


HEADLESS_GROUPINGS = [("event", "ip"), ("event", "key"), ("key", "principal"), ("principal", "ctx"), ("ctx",)]


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("names", HEADLESS_GROUPINGS, ids=[",".join(n) for n in HEADLESS_GROUPINGS])
def test_headless_group_by_on_each_source_matches_plain_python(capsys, source, names):
    """`kmstui events SOURCE --group-by a,b --format jsonl`, every row, against the reference."""
    code, out, _err = run_main(capsys, "events", source, "-q", "--group-by", ",".join(names), "--format", "jsonl")
    assert code == 0
    index = load(source)
    expected = reference_groups(index, query.parse("").rows(index), names)
    got = {
        tuple(r[name] for name in names): (
            *(r["events"], r["errors"], r["first_seen"], r["last_seen"], r["keys"], r["principals"]),
        )
        for r in json_lines(out)
    }
    assert got == {
        k: (v[0], v[1], iso(v[2]) if v[2] != NO_TIME else None, iso(v[3]) if v[3] != NO_TIME else None, v[4], v[5])
        for k, v in expected.items()
    }


def _window_of_source(index: EventIndex) -> str:
    """A since: that leaves the newest three quarters of the source's events in the window."""
    times = sorted(t for t in (index.event(int(r)).time for r in index.snapshot.order) if t != NO_TIME)
    return f"since:{iso(times[len(times) // 4])}"


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("kind", novelty.KINDS)
@pytest.mark.parametrize("windowed", [False, True], ids=["first-use", "in-window"])
def test_headless_new_on_each_source_matches_plain_python(capsys, source, kind, windowed):
    """`kmstui events SOURCE --filter 'new:KIND [since:...]' --format jsonl` against the reference."""
    index = load(source)
    window = _window_of_source(index) if windowed else ""
    since = novelty.window_of(query.parse(window).terms, index.snapshot).since
    expected_rows = reference_new(index, kind, since)
    if since is not None:
        expected_rows = {r for r in expected_rows if index.event(r).time >= since}
    assert expected_rows  # a window with something new in it, or the check proves nothing
    code, out, _err = run_main(capsys, "events", source, "-q", "--filter", f"new:{kind} {window}", "--format", "jsonl")
    assert code == 0
    got = sorted((r["event_id"], r["event"], r["time"], r["principal"]) for r in json_lines(out))
    events = [index.event(r) for r in expected_rows]
    assert got == sorted((e.event_id, e.name, e.iso_time, e.principal.short) for e in events)


@pytest.mark.parametrize("source", SOURCES)
def test_headless_group_by_has_a_new_column_only_with_a_window(capsys, source):
    index = load(source)
    window = _window_of_source(index)
    code, out, _err = run_main(capsys, "events", source, "-q", "--filter", window, "--group-by", "principal,key")
    assert code == 0 and out.splitlines()[0].split()[-1] == "NEW"
    code, out, _err = run_main(
        capsys, "events", source, "-q", "--filter", window, "--group-by", "principal,key", "--format", "jsonl"
    )
    since = novelty.window_of(query.parse(window).terms, index.snapshot).since
    assert since is not None
    expected = reference_new_counts(index, query.parse(window).rows(index), ("principal", "key"), since)
    assert {(r["principal"], r["key"]): r["new"] for r in json_lines(out)} == expected
    code, out, _err = run_main(capsys, "events", source, "-q", "--group-by", "principal,key", "--format", "csv")
    assert code == 0 and out.splitlines()[0].split(",")[-1] == "principals"


def test_headless_group_by_refuses_what_it_cannot_do(capsys):
    code, _out, err = run_main(capsys, "events", "--demo", "-q", "--group-by", "since")
    assert code == 2 and "cannot group by 'since'" in err
    code, _out, err = run_main(capsys, "events", "--demo", "-q", "--group-by", "event", "--format", "raw")
    assert code == 2 and "not raw" in err
    code, out, _err = run_main(capsys, "events", "--demo", "-q", "--group-by", "key", "--sort", "errors")
    errors = [int(line.split()[2]) for line in out.splitlines()[1:]]
    assert code == 0 and errors == sorted(errors, reverse=True)


# ---------------------------------------------------------------------------
# The events list by a column


@pytest.mark.parametrize("column", ["event", "principal", "key", "error", "ip", "region"])
@pytest.mark.parametrize("descending", [False, True])
def test_events_sorted_by_a_column_match_plain_python(demo, column, descending):
    from kmstui.core.ordering import sort_events

    rows = query.parse("since:2026-11-20T02:00Z").rows(demo)
    events = [demo.event(int(r)) for r in rows]

    def value(event) -> str | None:
        return {
            "event": event.name,
            "principal": event.principal.short,
            "key": event.keys[0] if event.keys else None,
            "error": event.error_code,
            "ip": event.source_ip,
            "region": event.region,
        }[column]

    # Python's sort is stable too: equal values keep the newest-first order
    ordered = sorted(events, key=lambda e: (value(e) is None, (value(e) or "").lower()), reverse=False)
    if descending:
        ordered = sorted(events, key=lambda e: (value(e) is None, (value(e) or "").lower()), reverse=True)
    got = [value(demo.event(int(r))) for r in sort_events(demo, rows, column, descending)]
    assert got == [value(e) for e in ordered]
    assert list(sort_events(demo, rows, "time", False)) == list(rows[::-1])
