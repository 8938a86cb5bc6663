"""The shared corpus of AWS documentation examples, where it is present next to the repository.

It is read in place and never copied into the repository.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from kmstui.core.timeutil import iso, parse_event_time

from records import (
    AWS_DOCS,
    CLOUDTRAIL,
    KMS,
    REAL,
    copies_of_one_event,
    is_kept,
    json_lines,
    load,
    load_file,
    outside_data_reason,
    run_cli,
    run_main,
)


@pytest.fixture(scope="module", params=[AWS_DOCS, REAL], ids=["aws-docs", "real"])
def corpus(request) -> Path:
    if not request.param.is_dir():
        pytest.skip(outside_data_reason(request.param))
    return request.param


def corpus_files(corpus: Path) -> list[Path]:
    return sorted(p for p in corpus.rglob("*") if p.is_file() and not p.name.startswith("."))


def read_plainly(path: Path) -> list[dict] | None:
    """A file's records, read independently of kmstui (plain json, gzip by magic); None when
    plain json cannot read it (not JSON, broken JSON); [] for a CloudTrail digest file."""
    import gzip

    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    try:
        value = json.loads(data)
    except ValueError:
        try:
            value = [json.loads(line) for line in data.splitlines() if line.strip()]
        except ValueError:
            return None
    if isinstance(value, dict) and "digestPublicKeyFingerprint" in value:
        return []
    values = value if isinstance(value, list) else [value]
    records = []
    for item in values:
        if isinstance(item, dict) and "Records" in item:
            records.extend(item["Records"])
        elif isinstance(item, dict) and "Events" in item:
            records.extend(json.loads(e["CloudTrailEvent"]) if "CloudTrailEvent" in e else e for e in item["Events"])
        else:
            records.append(item)
    return records


def corpus_records(corpus: Path) -> list[dict]:
    records = []
    for path in corpus_files(corpus):
        records.extend(read_plainly(path) or [])
    return records


def identity(rec: dict) -> tuple:
    return (rec.get("eventID"), rec.get("eventName"), iso(parse_event_time(rec.get("eventTime"))))


def distinct_events(records: list[dict]) -> list[list[dict]]:
    """Kept records with an id, grouped into events: copies of one event fold, records that
    share an id but differ stay apart."""
    events: list[list[dict]] = []
    by_identity: dict[tuple, list[list[dict]]] = {}
    for rec in records:
        if not is_kept(rec) or not rec.get("eventID"):
            continue
        groups = by_identity.setdefault(identity(rec), [])
        for group in groups:
            if all(copies_of_one_event(rec, other) for other in group):
                group.append(rec)
                break
        else:
            groups.append([rec])
            events.append(groups[-1])
    return events


@pytest.fixture(scope="module")
def records(corpus):
    found = corpus_records(corpus)
    if not found:
        pytest.skip("the corpus holds no records")
    return found


@pytest.fixture(scope="module")
def index(corpus):
    return load(corpus)


@pytest.fixture(scope="module")
def by_identity(index):
    """(event id, name, time) -> [(indexed event, its record)] (more than one when they share an id)."""
    table: dict[tuple, list] = {}
    for row in index.snapshot.order.tolist():
        event = index.event(row)
        table.setdefault((event.event_id, event.name, event.iso_time), []).append((event, index.record(row)))
    return table


def event_of(by_identity: dict, rec: dict):
    """The indexed event a record is a copy of."""
    found = [event for event, kept in by_identity[identity(rec)] if copies_of_one_event(rec, kept)]
    assert found, identity(rec)
    return found[0]


def test_every_file_loads(corpus, index):
    """Every file plain json reads loads; the others are skipped with a reason."""
    unreadable = {str(p) for p in corpus_files(corpus) if read_plainly(p) is None}
    digests = {str(p) for p in corpus_files(corpus) if read_plainly(p) == [] and "digest" in p.name}
    for path in corpus_files(corpus):
        if str(path) not in unreadable:
            assert load_file(str(path))[1].error is None, path
    assert {skipped.label for skipped in index.report.skipped} == unreadable
    assert index.report.digests == len(digests)
    assert index.report.files_loaded == len(corpus_files(corpus)) - len(unreadable) - len(digests)


def test_counts_match_the_kms_and_trail_records_minus_duplicates(index, records):
    kept = [r for r in records if is_kept(r)]
    events = distinct_events(records)
    without_id = sum(1 for r in kept if not r.get("eventID"))
    duplicates = sum(len(copies) - 1 for copies in events)
    shared = Counter(identity(copies[0]) for copies in events)
    assert index.report.records == len(records)
    assert index.report.kept == len(kept)
    assert index.report.duplicates == duplicates
    assert index.report.shared_ids == sum(count for count in shared.values() if count > 1)
    assert len(index.snapshot.order) == len(events) + without_id


def test_other_services_are_counted_by_source(index, records):
    ignored = Counter(r.get("eventSource") or "(no event source)" for r in records if not is_kept(r))
    assert dict(index.report.ignored) == dict(ignored)


def test_every_kms_record_is_indexed(by_identity, records):
    missing = [identity(r) for r in records if is_kept(r) and r.get("eventID") and identity(r) not in by_identity]
    assert missing == []


def test_every_resource_key_is_on_its_event(by_identity, records):
    for rec in records:
        if rec.get("eventSource") != KMS or not rec.get("eventID"):
            continue
        event = event_of(by_identity, rec)
        for resource in rec.get("resources") or []:
            arn = resource.get("ARN") or ""
            if ":key/" in arn:
                assert arn in event.keys, (rec["eventName"], rec["eventID"], arn, event.keys)
            elif ":alias/" in arn:
                assert arn in event.aliases, (rec["eventName"], rec["eventID"], arn, event.aliases)


def test_service_events_have_their_key(by_identity, records):
    service_events = [r for r in records if r.get("eventSource") == KMS and r.get("eventType") == "AwsServiceEvent"]
    names = {r["eventName"] for r in service_events}
    assert {"RotateKey", "DeleteKey"} & names, names
    for rec in service_events:
        event = event_of(by_identity, rec)
        assert event.event_type == "AwsServiceEvent"
        assert event.keys, (rec["eventName"], rec["eventID"])
        assert event.principal.short != "(unknown)"
        for resource in rec.get("resources") or []:
            assert resource["ARN"] in event.keys


def test_envelope_fields_match_the_records(by_identity, records):
    carrying = Counter(identity(r) for r in records)  # records with each identity (one: no other copy)
    for rec in records:
        if not is_kept(rec) or not rec.get("eventID"):
            continue
        event = event_of(by_identity, rec)
        assert event.source == rec["eventSource"]
        assert event.region == rec.get("awsRegion")
        assert event.account == rec.get("recipientAccountId")
        assert event.event_type == rec.get("eventType")
        if rec.get("readOnly") is not None:
            assert event.read_only is rec["readOnly"]
        context = (rec.get("requestParameters") or {}).get("encryptionContext")
        if context and rec["eventSource"] == KMS and carrying[identity(rec)] == 1:
            assert event.context == {k: str(v) for k, v in context.items()}


def test_raw_records_read_back(index, records):
    originals = [json.dumps(r, sort_keys=True) for r in records]
    for row in index.snapshot.order.tolist():
        assert json.dumps(index.record(row), sort_keys=True) in originals


def test_headless_commands_succeed_on_the_corpus(corpus, index, capsys):
    result = run_cli("events", corpus, "--format", "jsonl")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.count("skipped") == len(index.report.skipped)
    assert len(json_lines(result.stdout)) == len(index.snapshot.order)
    for command, formats in (
        ("events", ("csv", "table", "raw")),
        ("keys", ("jsonl", "csv", "table")),
        ("trails", ("jsonl", "csv", "table")),
    ):
        for fmt in formats:
            code, out, err = run_main(capsys, command, corpus, "--format", fmt)
            assert code == 0, (command, fmt, err)
            assert out.strip(), (command, fmt)
    code, out, _err = run_main(capsys, "events", corpus, "--count", "--filter", "source:kms")
    assert int(out) == sum(1 for row in index.snapshot.order.tolist() if index.event(row).source == KMS)


def field_count(value) -> int:
    if isinstance(value, dict):
        return sum(1 + field_count(v) for v in value.values())
    if isinstance(value, list):
        return sum(field_count(v) for v in value)
    return 0


def test_folded_duplicates_keep_the_fullest_copy(index, records):
    duplicated = [copies for copies in distinct_events(records) if len(copies) > 1]
    if not duplicated:
        pytest.skip("no duplicated events in the corpus")
    for row in index.snapshot.order.tolist():
        kept = index.record(row)
        for copies in duplicated:
            if any(c is kept or c == kept for c in copies):
                assert field_count(kept) == max(field_count(c) for c in copies), identity(kept)


def test_records_that_share_an_id_but_differ_are_all_kept_and_marked(index, records):
    shared = Counter(identity(copies[0]) for copies in distinct_events(records))
    marked = Counter(
        (e.event_id, e.name, e.iso_time) for e in map(index.event, index.snapshot.order.tolist()) if e.shares_id
    )
    assert marked == +Counter({key: count for key, count in shared.items() if count > 1})


def test_every_successful_stop_or_delete_is_a_warning(index, records):
    """Read plainly: each StopLogging or DeleteTrail that did not fail is a warning on a trail,
    at its time (none may hide behind a failed copy under the same id)."""
    from kmstui.core.trails import summarise_trails

    warnings = [w for trail in summarise_trails(index) for w in trail.warnings]
    said = {"StopLogging": ("Logging stopped by", "Logging was stopped by"), "DeleteTrail": ("Trail deleted by",)}
    checked = 0
    for rec in records:
        name = rec.get("eventName")
        if rec.get("eventSource") != CLOUDTRAIL or name not in said or rec.get("errorCode"):
            continue
        if not isinstance(rec.get("requestParameters"), dict) or not rec["requestParameters"].get("name"):
            continue
        when = iso(parse_event_time(rec["eventTime"])).replace("T", " ").replace("Z", " UTC")
        assert any(w.startswith(said[name]) and when in w for w in warnings), (name, when)
        checked += 1
    if not checked:
        pytest.skip("no successful StopLogging or DeleteTrail in this corpus")
