"""Extra checks on outside data: the AWS documentation examples in ../shared/corpus/aws-docs,
where that folder is next to the repository (see records.AWS_DOCS). They are read in place and
never copied in; without them these tests skip, saying so.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from kmstui.core.timeutil import iso, parse_event_time

from records import AWS_DOCS, json_lines, load, load_file, needs_outside_data, run_cli, run_main

KMS = "kms.amazonaws.com"
CLOUDTRAIL = "cloudtrail.amazonaws.com"
TRAIL_EVENTS = {
    "CreateTrail",
    "UpdateTrail",
    "DeleteTrail",
    "StartLogging",
    "StopLogging",
    "PutEventSelectors",
    "PutInsightSelectors",
}

pytestmark = needs_outside_data(AWS_DOCS)


def corpus_files() -> list[Path]:
    return sorted(p for p in AWS_DOCS.rglob("*") if p.is_file() and not p.name.startswith("."))


def corpus_records() -> list[dict]:
    """Every record in the corpus, read independently of kmstui (plain json, gzip by magic)."""
    import gzip

    records = []
    for path in corpus_files():
        data = path.read_bytes()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        try:
            value = json.loads(data)
        except ValueError:
            value = [json.loads(line) for line in data.splitlines() if line.strip()]
        if isinstance(value, dict) and "Records" in value:
            records.extend(value["Records"])
        elif isinstance(value, dict) and "Events" in value:
            records.extend(json.loads(e["CloudTrailEvent"]) for e in value["Events"])
        elif isinstance(value, list):
            records.extend(value)
        else:
            records.append(value)
    return records


def identity(rec: dict) -> tuple:
    return (rec.get("eventID"), rec.get("eventName"), iso(parse_event_time(rec.get("eventTime"))))


def is_kept(rec: dict) -> bool:
    source = rec.get("eventSource")
    return source == KMS or (source == CLOUDTRAIL and rec.get("eventName") in TRAIL_EVENTS)


@pytest.fixture(scope="module")
def records():
    found = corpus_records()
    if not found:
        pytest.skip("the corpus holds no records")
    return found


@pytest.fixture(scope="module")
def index():
    return load(AWS_DOCS)


@pytest.fixture(scope="module")
def by_identity(index):
    """(event id, name, time) -> the indexed event."""
    events = [index.event(row) for row in index.snapshot.order.tolist()]
    table = {(e.event_id, e.name, e.iso_time): e for e in events}
    assert len(table) == len(events), "two live events with the same id, name and time"
    return table


def test_every_file_loads(index):
    for path in corpus_files():
        assert load_file(str(path))[1].error is None, path
    assert index.report.skipped == []
    assert index.report.files_loaded == len(corpus_files())


def test_counts_match_the_kms_and_trail_records_minus_duplicates(index, records):
    kept = [r for r in records if is_kept(r)]
    with_id = Counter(identity(r) for r in kept if r.get("eventID"))
    without_id = sum(1 for r in kept if not r.get("eventID"))
    duplicates = sum(count - 1 for count in with_id.values())
    assert index.report.records == len(records)
    assert index.report.kept == len(kept)
    assert index.report.duplicates == duplicates
    assert len(index.snapshot.order) == len(with_id) + without_id


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
        event = by_identity[identity(rec)]
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
        event = by_identity[identity(rec)]
        assert event.event_type == "AwsServiceEvent"
        assert event.keys, (rec["eventName"], rec["eventID"])
        assert event.principal.short != "(unknown)"
        for resource in rec.get("resources") or []:
            assert resource["ARN"] in event.keys


def test_envelope_fields_match_the_records(by_identity, records):
    for rec in records:
        if not is_kept(rec) or not rec.get("eventID"):
            continue
        event = by_identity[identity(rec)]
        assert event.source == rec["eventSource"]
        assert event.region == rec.get("awsRegion")
        assert event.account == rec.get("recipientAccountId")
        assert event.event_type == rec.get("eventType")
        if rec.get("readOnly") is not None:
            assert event.read_only is rec["readOnly"]
        context = (rec.get("requestParameters") or {}).get("encryptionContext")
        if context and not any(r is not rec and identity(r) == identity(rec) for r in records):
            assert event.context == {k: str(v) for k, v in context.items()}


def test_raw_records_read_back(index, records):
    originals = [json.dumps(r, sort_keys=True) for r in records]
    for row in index.snapshot.order.tolist():
        assert json.dumps(index.record(row), sort_keys=True) in originals


def test_headless_commands_succeed_on_the_corpus(index, capsys):
    result = run_cli("events", AWS_DOCS, "--format", "jsonl")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "skipped" not in result.stderr
    assert len(json_lines(result.stdout)) == len(index.snapshot.order)
    for command, formats in (
        ("events", ("csv", "table", "raw")),
        ("keys", ("jsonl", "csv", "table")),
        ("trails", ("jsonl", "csv", "table")),
    ):
        for fmt in formats:
            code, out, err = run_main(capsys, command, AWS_DOCS, "--format", fmt)
            assert code == 0, (command, fmt, err)
            assert out.strip(), (command, fmt)
    code, out, _err = run_main(capsys, "events", AWS_DOCS, "--count", "--filter", "source:kms")
    assert int(out) == sum(1 for row in index.snapshot.order.tolist() if index.event(row).source == KMS)


def field_count(value) -> int:
    if isinstance(value, dict):
        return sum(1 + field_count(v) for v in value.values())
    if isinstance(value, list):
        return sum(field_count(v) for v in value)
    return 0


def test_folded_duplicates_keep_the_fullest_copy(index, records):
    groups: dict[tuple, list[dict]] = {}
    for rec in records:
        if is_kept(rec) and rec.get("eventID"):
            groups.setdefault(identity(rec), []).append(rec)
    duplicated = {key: copies for key, copies in groups.items() if len(copies) > 1}
    if not duplicated:
        pytest.skip("no duplicated events in the corpus")
    for row in index.snapshot.order.tolist():
        event = index.event(row)
        copies = duplicated.get((event.event_id, event.name, event.iso_time))
        if copies:
            kept = index.record(row)
            assert field_count(kept) == max(field_count(c) for c in copies), event.event_id
