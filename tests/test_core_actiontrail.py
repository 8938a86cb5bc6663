"""Alibaba Cloud ActionTrail (issue 16): the three shapes load beside CloudTrail, and every
count and field equals a plain-Python reading of the generated events."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections import Counter

import pytest

from records import (
    REPO,
    cloudtrail_file,
    delivery_path,
    fullest_copies,
    gz,
    is_kept,
    json_lines,
    key_arn,
    kms,
    load,
    rows,
    run_main,
    write,
)

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks import actiontrail_synth as synth
from kmstui.core import actiontrail
from kmstui.core.summary import summarise_keys
from kmstui.core.trails import summarise_trails

WEEK = synth.week()
CLOUDTRAIL = [
    kms("Decrypt", key_arn(), time="2026-11-15T10:00:00Z"),
    kms("Encrypt", key_arn(), time="2026-11-15T11:00:00Z"),
]


def kept(record: dict) -> bool:
    """The plain reading of what kmstui keeps of ActionTrail: KMS events, and ActionTrail's own trail changes."""
    if record.get("serviceName") == "Kms":
        return True
    return record["eventSource"].startswith("actiontrail.") and record["eventName"] in actiontrail.TRAIL_EVENTS


KEPT = [r for r in WEEK if kept(r)]


def short(identity: dict) -> str:
    """The plain reading of a principal's short form."""
    kind = identity["type"]
    if kind == "root-account":
        return "root"
    if kind == "assumed-role":
        role, session = identity["userName"].split(":")
        return f"assumed-role/{role} ({session})"
    return f"{kind}/{identity['userName']}"


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    """The week in each delivered or exported shape, and a CloudTrail log file beside it."""
    top = tmp_path_factory.mktemp("actiontrail")
    synth.write_oss(WEEK, top / "oss")
    synth.write_sls_jsonl(WEEK, top / "sls-jsonl" / "export.jsonl")
    synth.write_sls_csv(WEEK, top / "sls-csv" / "export.csv")
    write(delivery_path(top / "aws"), gz(cloudtrail_file(CLOUDTRAIL)))
    return top


@pytest.mark.parametrize("shape", ["oss", "sls-jsonl", "sls-csv"])
def test_each_shape_loads_beside_cloudtrail_with_the_plain_counts(shapes, shape):
    index = load(shapes / shape, shapes / "aws")
    assert len(rows(index)) == len(KEPT) + len(CLOUDTRAIL)
    assert len(rows(index, "cloud:alibaba")) == len(KEPT)
    assert len(rows(index, "cloud:aws")) == len(CLOUDTRAIL)
    assert {index.origins[int(index.columns["origin"].data[r])].format for r in rows(index, "cloud:alibaba")} == {
        {"oss": "actiontrail", "sls-jsonl": "actiontrail-sls", "sls-csv": "actiontrail-csv"}[shape]
    }
    names = Counter(e.name for e in (index.event(r) for r in rows(index, "cloud:alibaba")))
    assert names == Counter(r["eventName"] for r in KEPT)
    ignored = Counter(r["eventSource"] for r in WEEK if not kept(r))
    assert {k: v for k, v in index.report.ignored.items() if "aliyuncs" in k} == ignored


def test_the_three_shapes_together_are_one_set_of_events(shapes):
    index = load(shapes / "oss", shapes / "sls-jsonl", shapes / "sls-csv")
    assert len(rows(index)) == len(KEPT)
    assert index.report.duplicates == 2 * len(KEPT)


def test_fields_equal_a_plain_reading(shapes):
    index = load(shapes / "oss")
    by_id = {}
    for row in rows(index):
        event = index.event(row)
        by_id[event.event_id] = event
    assert len(by_id) == len(KEPT)
    for record in KEPT:
        event = by_id[record["eventId"]]
        assert event.cloud == "alibaba"
        assert event.iso_time == record["eventTime"]
        assert event.source == record["eventSource"]
        assert event.region == record["acsRegion"]
        assert event.account == record["recipientAccountId"]
        assert event.principal.short == short(record["userIdentity"])
        assert event.principal.identity_type == record["userIdentity"]["type"]
        assert event.source_ip == record["sourceIpAddress"]
        assert event.user_agent == record["userAgent"]
        assert event.error_code == record.get("errorCode")
        assert event.read_only is (record["eventRW"] == "Read")
        request = record["requestParameters"]
        key = request.get("KeyId")
        if record["serviceName"] == "Kms" and key and not key.startswith("alias/"):
            assert event.keys[0] == f"acs:kms:{record['acsRegion']}:{record['recipientAccountId']}:key/{key}"
        context = request.get("EncryptionContext")
        if isinstance(context, str):
            context = json.loads(context)
        assert event.context == context


def test_aliases_key_state_and_the_keys_cloud(shapes):
    index = load(shapes / "oss", shapes / "aws")
    lifecycle = next(r for r in KEPT if r["eventName"] == "DisableKey" and not r.get("errorCode"))
    old = f"acs:kms:cn-hangzhou:{synth.ACCOUNTS[0]}:key/{lifecycle['requestParameters']['KeyId']}"
    created = next(r for r in KEPT if r["eventName"] == "CreateKey")["responseElements"]["KeyMetadata"]["Arn"]
    # Encrypt through alias/payments after UpdateAlias: the new key
    through = {
        r["eventId"]
        for r in KEPT
        if r["eventName"] == "Encrypt" and r["requestParameters"].get("KeyId") == "alias/payments"
    }
    events = [index.event(r) for r in rows(index, "cloud:alibaba")]
    assert len(through) == 6 and all(e.keys == (created,) for e in events if e.event_id in through)
    summaries = {s.arn: s for s in summarise_keys(index, index.snapshot.order)}
    assert summaries[old].cloud == "alibaba" and summaries[old].state_text == "enabled"  # EnableKey came last
    assert summaries[created].aliases == ["alias/payments"]
    assert "alias/payments" in summaries[old].former_aliases
    assert {s.cloud for s in summaries.values()} == {"aws", "alibaba"}


def test_actiontrail_stop_logging_feeds_the_trails_pane(shapes):
    index = load(shapes / "oss")
    trails = [t for t in summarise_trails(index) if t.arn and t.arn.startswith("acs:actiontrail:")]
    assert [t.arn for t in trails] == [f"acs:actiontrail:cn-hangzhou:{synth.ACCOUNTS[0]}:trail/{synth.TRAIL}"]
    assert any("stopped" in w and "assumed-role/Admin (ops-laptop)" in w for w in trails[0].warnings)


def test_the_guides_first_scenario_key_lifecycle_in_a_time_range(shapes, capsys):
    lifecycle = ("CreateKey", "DisableKey", "EnableKey", "ScheduleKeyDeletion", "CancelKeyDeletion")
    since, until = "2026-11-16T00:00:00Z", "2026-11-16T23:59:59Z"
    expr = "cloud:alibaba (" + " OR ".join(f"event:={n}" for n in lifecycle) + f") since:{since} until:{until}"
    code, out, _err = run_main(
        capsys, "events", shapes / "oss", shapes / "aws", "-q", "--filter", expr, "--format", "jsonl"
    )
    assert code == 0
    got = [(e["time"], e["event"], e["error"]) for e in json_lines(out)]
    want = [
        (r["eventTime"], r["eventName"], r.get("errorCode"))
        for r in KEPT
        if r["eventName"] in lifecycle and since <= r["eventTime"] <= until
    ]
    assert sorted(got) == sorted(want) and len(want) == 4


def test_the_guides_second_scenario_one_keys_calls_by_event_and_ip(shapes, capsys):
    key = KEPT[0]["requestParameters"]["KeyId"]
    code, out, _err = run_main(
        capsys,
        "events",
        shapes / "sls-jsonl",
        "-q",
        "--filter",
        f"key:{key}",
        "--group-by",
        "event,ip",
        "--format",
        "csv",
    )
    assert code == 0
    got = {(row["event"], row["ip"]): int(row["events"]) for row in csv.DictReader(io.StringIO(out))}

    def names_key(record: dict) -> bool:
        response = record.get("responseElements") or {}
        return key in (record["requestParameters"].get("KeyId"), response.get("KeyId"))

    want = Counter((r["eventName"], r["sourceIpAddress"]) for r in KEPT if names_key(r))
    assert got == dict(want)


def test_exports_carry_the_cloud(shapes, capsys):
    code, out, _err = run_main(capsys, "events", shapes / "sls-csv", shapes / "aws", "-q", "--format", "csv")
    assert code == 0
    clouds = Counter(row["cloud"] for row in csv.DictReader(io.StringIO(out)))
    assert clouds == {"alibaba": len(KEPT), "aws": len(CLOUDTRAIL)}
    code, out, _err = run_main(capsys, "keys", shapes / "oss", "-q", "--format", "jsonl")
    assert {k["cloud"] for k in json_lines(out)} == {"alibaba"}
    assert all(k["key"].startswith("acs:kms:") for k in json_lines(out))


def test_the_detail_view_reads_the_record_as_delivered(shapes):
    for shape, unwrap in (("oss", False), ("sls-jsonl", True), ("sls-csv", False)):
        index = load(shapes / shape)
        row = rows(index, "event:=StopLogging")[0]
        record = index.record(row)
        if unwrap and "event" in record:  # a log of SLS: the event in its "event" field
            assert record["__topic__"] == "actiontrail_audit_event"
            record = json.loads(record["event"])
        assert record == next(r for r in KEPT if r["eventName"] == "StopLogging")


def test_hostile_records_cost_only_themselves(tmp_path, capsys):
    hostile = synth.hostile()
    synth.write_oss(hostile + WEEK[:20], tmp_path / "oss", lines_every=0)
    code, out, err = run_main(capsys, "events", tmp_path / "oss", "--format", "table")
    assert code == 0 and "Traceback" not in err
    assert "\x1b" not in out and "\u202e" not in out and "\x07" not in out
    assert "ram-user/ad�min␛[31m" in out
    code, out, err = run_main(capsys, "events", tmp_path / "oss", "-q", "--format", "jsonl")
    lines = json_lines(out)
    assert len(lines) == len([r for r in hostile + WEEK[:20] if kept(r)])
    assert "\u202e" not in out and "\\u202e" in out
    wrong = [e for e in lines if e["event"] == "DescribeKey" and e["principal"] == "(unknown)"]
    assert wrong and wrong[0]["time"] is None and wrong[0]["source_ip"] == '["10.0.0.4"]'


def test_an_sls_csv_row_without_an_event_is_said_and_skipped(tmp_path, capsys):
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["__topic__", "event"])
    writer.writerow(["actiontrail_audit_event", json.dumps(KEPT[0])])
    writer.writerow(["actiontrail_audit_event", "not an event"])
    path = write(tmp_path / "export.csv", text.getvalue().encode())
    code, out, err = run_main(capsys, "events", path, "--count")
    assert code == 0 and out.strip() == "1"
    assert "1 CSV row without an ActionTrail event skipped" in err


def test_a_delete_alias_naming_only_its_alias_is_on_the_key_it_pointed_to(shapes):
    """CloudTrail's DeleteAlias names the key too and is that key's event; ActionTrail's names
    only the alias, so it is the event of the key the alias pointed to until it was deleted
    (not a key of its own named after the alias, nor the nothing it points to after)."""
    index = load(shapes / "oss")
    delete = next(r for r in KEPT if r["eventName"] == "DeleteAlias")
    alias = delete["requestParameters"]["AliasName"]
    assert "KeyId" not in delete["requestParameters"] and "referencedResources" not in delete
    created = [
        r
        for r in KEPT
        if r["eventName"] == "CreateAlias"
        and r["requestParameters"]["AliasName"] == alias
        and r["eventTime"] < delete["eventTime"]
    ][-1]
    where = f"acs:kms:{delete['acsRegion']}:{delete['recipientAccountId']}:"
    key = f"{where}key/{created['requestParameters']['KeyId']}"
    [row] = rows(index, "event:=DeleteAlias")
    event = index.event(row)
    assert event.keys == (key,) and event.aliases == (f"{where}{alias}",)
    assert row in rows(index, f"key:{created['requestParameters']['KeyId']}")
    summaries = {s.arn: s for s in summarise_keys(index, index.snapshot.order)}
    assert not [arn for arn in summaries if ":alias/" in arn]
    assert alias in summaries[key].former_aliases and alias not in summaries[key].aliases


def test_the_week_beside_the_demo_folds_only_the_demos_own_copies(shapes):
    """Loaded beside the demo, the week once seemed to fold 85 events: those are the demo's own,
    its event-history export repeating events of its trail's log files. No ActionTrail event
    folds (each has its own eventId, as ActionTrail documents it): every count equals a plain
    reading of the files."""
    from test_core_filter_questions import identity, plain_records  # json alone over the demo's files

    from kmstui.cli import demo_path

    # the demo's CloudTrail part, and plainly its CloudTrail records (not an ActionTrail part it may have)
    parts = [demo_path() / "acme-cloudtrail-logs", demo_path() / "analytics-audit-logs"]
    parts += sorted(demo_path().glob("event-history-*.json"))
    demo = [r for r in plain_records(demo_path()) if is_kept(r)]
    events = fullest_copies(demo, identity)
    index = load(shapes / "oss", *parts)
    assert len({r["eventId"] for r in KEPT}) == len(KEPT)
    assert len(rows(index, "cloud:alibaba")) == len(KEPT)
    assert len(rows(index, "cloud:aws")) == len(events)
    assert index.report.duplicates == len(demo) - len(events) > 0


def test_other_spellings_and_shapes_of_a_field_equal_a_plain_reading(tmp_path):
    """Decoded together, typed: a request or response given as a JSON string, the second
    spelling of a field (eventID, sourceIPAddress, regionId), an event in an SLS log beside
    events as delivered, and a context value that is an integer past 64 bits (kept exactly, as
    CloudTrail's are, not rounded to a float)."""
    odd = []
    for record in (r for r in KEPT if r["serviceName"] == "Kms"):
        record = json.loads(json.dumps(record))
        number = len(odd)
        if number % 2:
            record["requestParameters"] = json.dumps(record["requestParameters"])
            if record["responseElements"]:
                record["responseElements"] = json.dumps(record["responseElements"])
        if number % 3 == 0:
            record["eventID"] = record.pop("eventId")
            record["sourceIPAddress"] = record.pop("sourceIpAddress")
            record["regionId"] = record.pop("acsRegion")
        odd.append(record)
        if len(odd) == 60:
            break
    big = 123456789012345678901234567890
    odd[4]["requestParameters"] = {"KeyId": "k-big", "EncryptionContext": {"n": big}}
    logs = [synth.sls_log(r) for r in KEPT[-3:]]
    write(tmp_path / "odd.json", "[" + ",".join([*map(json.dumps, odd), *map(json.dumps, logs)]) + "]")
    index = load(tmp_path / "odd.json")
    by_id = {e.event_id: e for e in (index.event(r) for r in rows(index))}
    assert len(by_id) == len(odd) + len(logs)
    for record in odd + KEPT[-3:]:
        event = by_id[record.get("eventId") or record.get("eventID")]
        region = record.get("acsRegion") or record.get("regionId")
        assert event.region == region
        assert event.source_ip == (record.get("sourceIpAddress") or record.get("sourceIPAddress"))
        request = record["requestParameters"]
        request = json.loads(request) if isinstance(request, str) else request
        key = request.get("KeyId")
        if key and not key.startswith("alias/"):
            assert event.keys[0] == f"acs:kms:{region}:{record['recipientAccountId']}:key/{key}"
        context = request.get("EncryptionContext")
        context = json.loads(context) if isinstance(context, str) else context
        if context == {"n": big}:
            assert event.context == {"n": str(big)}
        else:
            assert event.context == context


def test_an_item_of_an_oss_array_that_is_not_an_event_is_said_and_skipped(tmp_path, capsys):
    """ActionTrail's arrays are read item by item once, in actiontrail.py: what is not an event
    costs one sentence, not silence, and the rest loads."""
    events = [r for r in KEPT if r["serviceName"] == "Kms"][:5]
    write(tmp_path / "oss.json", json.dumps([events[0], 5, "text", *events[1:], [1, 2]]))
    code, out, err = run_main(capsys, "events", tmp_path / "oss.json", "--count")
    assert code == 0 and out.strip() == str(len(events))
    assert "3 records that are not ActionTrail events skipped" in err
