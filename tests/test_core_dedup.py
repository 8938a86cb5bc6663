"""The same event seen twice (same id, name and time, nothing differing) is kept once: the fuller copy."""

from __future__ import annotations

import copy
import json

from kmstui.core.export import EventWriter
from kmstui.core.summary import key_states
from kmstui.core.trails import summarise_trails

from records import (
    KEY1,
    KEY2,
    cloudtrail_file,
    events,
    gz,
    ids,
    jsonl,
    key_arn,
    kms,
    load,
    load_records,
    lookup_event,
    lookup_page,
    trail_config,
    write,
)

KEY_EVENT_ID = "aaaaaaaa-bbbb-4ccc-8ddd-000000000000"


def full_and_thin():
    """A full record, and a copy of it with fewer fields (same id, name and time)."""
    full = kms("Decrypt", key_arn(KEY1), request={"keyId": key_arn(KEY1), "encryptionContext": {"app": "billing"}})
    thin = {k: full[k] for k in ("eventID", "eventName", "eventTime", "eventSource", "awsRegion", "recipientAccountId")}
    return full, thin


def export(index) -> list[dict]:
    writer = EventWriter(index, summarise_trails(index))
    return [writer.record(row) for row in index.snapshot.order.tolist()]


def test_same_event_in_two_files_is_kept_once(tmp_path):
    a = kms("Decrypt", key_arn(KEY1))
    b = kms("Encrypt", key_arn(KEY1))
    write(tmp_path / "one.json", cloudtrail_file([a, b]))
    write(tmp_path / "two.json.gz", gz(cloudtrail_file([a])))
    index = load(tmp_path)
    assert sorted(e.name for e in events(index)) == ["Decrypt", "Encrypt"]
    assert index.report.duplicates == 1
    assert index.report.kept == 3
    assert "Folded 1 duplicate event" in " ".join(index.report.sentences())
    assert "Loaded 2 KMS or trail events" in index.report.sentences()[0]


def test_same_event_in_a_trail_file_and_a_lookup_events_file(tmp_path):
    recs = [kms("Decrypt", key_arn(KEY1)), kms("GenerateDataKey", key_arn(KEY1))]
    write(tmp_path / "trail.json", cloudtrail_file(recs))
    write(tmp_path / "lookup.json", lookup_page(recs))
    index = load(tmp_path)
    assert ids(index) == {r["eventID"] for r in recs}
    assert len(events(index)) == 2
    assert index.report.duplicates == 2


def test_the_copy_with_more_fields_is_kept(tmp_path):
    full, thin = full_and_thin()
    # The thin copy comes first, in either order of loading.
    for first, second in (("a-thin.jsonl", "b-full.json"), ("b-thin.jsonl", "a-full.json")):
        folder = tmp_path / first
        write(folder / first, jsonl([thin]))
        write(folder / second, cloudtrail_file([full]))
        index = load(folder)
        [record] = export(index)
        assert record["origin"].endswith("full.json")
        assert record["user_agent"] == full["userAgent"]
        assert record["principal"] == "user/Alice"
        assert record["context"] == {"app": "billing"}
        assert record["keys"] == [key_arn(KEY1)]
        assert index.report.duplicates == 1


def test_the_fuller_copy_wins_even_against_a_pretty_printed_thinner_one(tmp_path):
    """A pretty-printed file is longer on disk, not fuller: whitespace must not decide."""
    full, _thin = full_and_thin()
    thinner = copy.deepcopy(full)
    for field in ("userAgent", "sourceIPAddress", "resources", "requestID", "eventCategory", "managementEvent"):
        thinner.pop(field)
    thinner["requestParameters"].pop("encryptionContext")
    write(tmp_path / "pretty.json", json.dumps({"Records": [thinner]}, indent=8))
    write(tmp_path / "lookup.json", lookup_page([full]))
    index = load(tmp_path)
    [record] = export(index)
    assert record["origin"].endswith("lookup.json")
    assert record["context"] == {"app": "billing"}


def test_same_id_with_a_different_name_or_time_is_kept_separately(tmp_path):
    event_id = "11111111-2222-4333-8444-555555555555"
    recs = [
        kms("ConnectCustomKeyStore", event_id=event_id),
        kms("CreateCustomKeyStore", event_id=event_id),
        kms("ConnectCustomKeyStore", event_id=event_id, time="2024-05-01T12:00:01Z"),
    ]
    index = load_records(tmp_path, recs)
    assert len(events(index)) == 3
    assert index.report.duplicates == 0


def test_events_without_an_id_are_never_folded(tmp_path):
    rec = kms("Decrypt")
    del rec["eventID"]
    index = load_records(tmp_path, [rec, dict(rec)])
    assert len(events(index)) == 2
    assert index.report.duplicates == 0


def test_unusual_ids_are_folded_too(tmp_path):
    """Ids that are not lowercase UUIDs (documentation examples, other tools) live apart from
    the id column; they must still fold, also when the same id has several event names."""
    event_id = "234f004b-EXAMPLE"
    decrypt = kms("Decrypt", event_id=event_id)
    encrypt = kms("Encrypt", event_id=event_id)
    write(tmp_path / "one.json", cloudtrail_file([decrypt, encrypt]))
    write(tmp_path / "two.json", cloudtrail_file([decrypt, encrypt]))
    index = load(tmp_path)
    assert sorted(e.name for e in events(index)) == ["Decrypt", "Encrypt"]
    assert index.report.duplicates == 2


def test_three_copies_fold_to_one(tmp_path):
    rec = kms("Decrypt", key_arn(KEY1))
    for name in ("a.json", "b.json", "c.json"):
        write(tmp_path / name, cloudtrail_file([rec]))
    write(tmp_path / "d.jsonl", jsonl([lookup_event(rec)]))
    index = load(tmp_path)
    assert len(events(index)) == 1
    assert index.report.duplicates == 3
    assert len(events(index, "key:1234abcd")) == 1


def test_a_successful_and_a_failed_copy_of_one_id_are_both_kept(tmp_path):
    """Two different records under one id are a finding, not a duplicate: the successful
    StopLogging must not vanish behind a longer failed one."""
    event_id = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
    stopped = trail_config("StopLogging", event_id=event_id)
    failed = trail_config(
        "StopLogging", event_id=event_id, error="InvalidTrailNameException", message="Trail name is not valid."
    )
    disabled = kms("DisableKey", key_arn(KEY1), event_id=KEY_EVENT_ID)
    refused = kms("DisableKey", key_arn(KEY1), event_id=KEY_EVENT_ID, error="AccessDeniedException")
    write(tmp_path / "log.jsonl", jsonl([stopped, failed, disabled, refused]))
    index = load(tmp_path)
    assert sorted((e.name, e.error_code or "") for e in events(index)) == [
        ("DisableKey", ""),
        ("DisableKey", "AccessDeniedException"),
        ("StopLogging", ""),
        ("StopLogging", "InvalidTrailNameException"),
    ]
    assert all(e.shares_id for e in events(index))
    assert all(record["shares_id"] for record in export(index))
    assert index.report.duplicates == 0
    assert index.report.shared_ids == 4
    summary = " ".join(index.report.sentences())
    assert "Kept 4 events that share an id, name and time with another but differ" in summary
    assert "Loaded 4 KMS or trail events" in summary
    [trail] = [t for t in summarise_trails(index) if t.kind == "trail"]
    assert trail.kms_logging == "stopped"
    assert key_states(index)[index.vocab["key"].find(key_arn(KEY1))].state == "disabled"


def test_copies_that_differ_in_content_are_both_kept(tmp_path):
    event_id = "aaaaaaaa-bbbb-4ccc-8ddd-ffffffffffff"
    one = kms("DisableKey", key_arn(KEY1), event_id=event_id)
    other = kms("DisableKey", key_arn(KEY1), event_id=event_id, request={"keyId": key_arn(KEY2)})
    index = load_records(tmp_path, [one, other])
    assert len(events(index)) == 2
    assert index.report.shared_ids == 2
    # the same record twice is still one event, and shares nothing
    index = load_records(tmp_path / "again", [one, copy.deepcopy(one)])
    assert len(events(index)) == 1
    assert not events(index)[0].shares_id
    assert export(index)[0]["shares_id"] is False
