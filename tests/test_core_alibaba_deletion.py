"""ScheduleKeyDeletion's waiting period in both spellings (issue 16): CloudTrail's
``pendingWindowInDays`` (a number) and ActionTrail's ``PendingWindowInDays`` (text, "7"), so
the keys pane dates a pending deletion for either cloud, and the detail view says when."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta

from records import KEY1, KEY2, REPO, key_arn, kms, load, load_records, rows

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks import actiontrail_synth as synth
from kmstui.core.effects import describe, key_before
from kmstui.core.summary import summarise_keys
from kmstui.ui.detail import summary_content

WEEK = synth.week()
SCHEDULE = next(r for r in WEEK if r["eventName"] == "ScheduleKeyDeletion")


def plain_deletion(record: dict, days: int) -> str:
    """The plain reading: the call's time and the waiting period, month-day as the pane shows it."""
    when = datetime.strptime(record["eventTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return (when + timedelta(days=days)).strftime("%m-%d")


def test_an_alibaba_key_pending_deletion_shows_its_date(tmp_path):
    # the week up to the scheduled deletion (CancelKeyDeletion comes a day later)
    upto = [r for r in WEEK if r["eventTime"] <= SCHEDULE["eventTime"]]
    synth.write_oss(upto, tmp_path / "oss")
    index = load(tmp_path / "oss")
    key = SCHEDULE["requestParameters"]["KeyId"]
    assert SCHEDULE["requestParameters"]["PendingWindowInDays"] == "7"  # text, as ActionTrail sends it
    summary = next(s for s in summarise_keys(index, index.snapshot.order) if s.arn.endswith(f":key/{key}"))
    assert summary.cloud == "alibaba"
    assert summary.state_text == f"pending deletion {plain_deletion(SCHEDULE, 7)}"


def test_a_cancelled_alibaba_deletion_has_no_date(tmp_path):
    synth.write_oss(WEEK, tmp_path / "oss")
    index = load(tmp_path / "oss")
    key = SCHEDULE["requestParameters"]["KeyId"]
    summary = next(s for s in summarise_keys(index, index.snapshot.order) if s.arn.endswith(f":key/{key}"))
    assert summary.state_text == "enabled"  # CancelKeyDeletion, then EnableKey


def test_an_aws_key_pending_deletion_shows_its_date(tmp_path):
    scheduled = kms(
        "ScheduleKeyDeletion",
        key_arn(),
        request={"keyId": key_arn(), "pendingWindowInDays": 30},
        time="2026-11-20T02:41:07Z",
    )
    index = load_records(tmp_path, [scheduled])
    (summary,) = summarise_keys(index, index.snapshot.order)
    assert summary.state_text == "pending deletion 12-20"


def test_a_window_that_is_not_a_number_of_days_gives_no_date(tmp_path):
    record = dict(SCHEDULE, requestParameters={**SCHEDULE["requestParameters"], "PendingWindowInDays": "soon"})
    synth.write_oss([record], tmp_path / "oss")
    index = load(tmp_path / "oss")
    (summary,) = summarise_keys(index, index.snapshot.order)
    assert summary.state_text == "pending deletion"


def test_the_detail_view_says_when_an_alibaba_key_goes():
    (sentence,) = describe(SCHEDULE)
    when = datetime.strptime(SCHEDULE["eventTime"], "%Y-%m-%dT%H:%M:%SZ") + timedelta(days=7)
    assert sentence.startswith(f"Key deletion scheduled for {when:%Y-%m-%d %H:%M:%S} UTC (7-day waiting period).")


def test_the_detail_view_names_alibaba_aliases_and_trails():
    update = next(r for r in WEEK if r["eventName"] == "UpdateAlias")
    request = update["requestParameters"]
    assert describe(update) == [f"{request['AliasName']} now points to key {request['KeyId']}."]
    stop = next(r for r in WEEK if r["eventName"] == "StopLogging")
    assert describe(stop)[0].startswith(f"Logging stopped for {synth.TRAIL}:")


def _update_row(index) -> int:
    (row,) = rows(index, "event:=UpdateAlias")
    return row


def test_an_alibaba_update_alias_says_which_key_the_alias_left(tmp_path):
    # ActionTrail's UpdateAlias names the alias and its new key only: the earlier CreateAlias
    # taught the index where the alias pointed until then
    synth.write_oss(WEEK, tmp_path / "oss")
    index = load(tmp_path / "oss")
    update = next(r for r in WEEK if r["eventName"] == "UpdateAlias")
    create = next(
        r
        for r in WEEK
        if r["eventName"] == "CreateAlias"
        and r["requestParameters"]["AliasName"] == update["requestParameters"]["AliasName"]
    )
    old, new = create["requestParameters"]["KeyId"], update["requestParameters"]["KeyId"]
    assert old != new
    row = _update_row(index)
    assert key_before(index, row) == f"acs:kms:{create['acsRegion']}:{create['recipientAccountId']}:key/{old}"
    record = index.record(row)
    assert describe(record, key_before(index, row)) == [
        f"alias/payments now points to key {new}; until then key {old}."
    ]
    text = summary_content(index.event(row), index, record, width=200).plain
    assert f"until then key {old}." in text


def test_an_update_alias_the_index_knows_nothing_before_says_only_the_new_key(tmp_path):
    update = next(r for r in WEEK if r["eventName"] == "UpdateAlias")
    synth.write_oss([update], tmp_path / "oss")
    index = load(tmp_path / "oss")
    row = _update_row(index)
    assert key_before(index, row) is None
    request = update["requestParameters"]
    assert describe(index.record(row), None) == [f"{request['AliasName']} now points to key {request['KeyId']}."]


def test_a_cloudtrail_update_alias_says_the_key_before_too(tmp_path):
    records = [
        kms("CreateAlias", request={"aliasName": "alias/app", "targetKeyId": KEY1}, time="2026-11-20T01:00:00Z"),
        kms("UpdateAlias", request={"aliasName": "alias/app", "targetKeyId": KEY2}, time="2026-11-20T02:00:00Z"),
    ]
    index = load_records(tmp_path, records)
    row = _update_row(index)
    assert describe(index.record(row), key_before(index, row)) == [
        f"alias/app now points to key {KEY2}; until then key {KEY1}."
    ]
