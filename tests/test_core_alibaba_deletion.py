"""ScheduleKeyDeletion's waiting period in both spellings (issue 16): CloudTrail's
``pendingWindowInDays`` (a number) and ActionTrail's ``PendingWindowInDays`` (text, "7"), so
the keys pane dates a pending deletion for either cloud, and the detail view says when."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta

from records import KEY1, KEY2, REPO, cloudtrail_file, ids, key_arn, kms, load, load_records, rows, write

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks import actiontrail_synth as synth
from kmstui.core import query, sql
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


def test_window_finds_the_waiting_period_in_both_spellings(tmp_path):
    synth.write_oss(WEEK, tmp_path / "oss")
    aws = kms(
        "ScheduleKeyDeletion",
        key_arn(),
        request={"keyId": key_arn(), "pendingWindowInDays": 30},
        time="2026-11-20T02:41:07Z",
    )
    write(tmp_path / "aws" / "log.json", cloudtrail_file([aws]))
    index = load(tmp_path / "oss", tmp_path / "aws")
    alibaba = {r["eventId"] for r in WEEK if r["eventName"] == "ScheduleKeyDeletion" and not r.get("errorCode")}
    assert [r["requestParameters"]["PendingWindowInDays"] for r in WEEK if r["eventId"] in alibaba] == ["7"]
    assert ids(index, "window:7") == ids(index, "window<=7") == ids(index, "window:=7") == alibaba
    assert ids(index, "window>7") == ids(index, "window:30") == {aws["eventID"]}
    assert ids(index, "has:window") == ids(index, "window>=1") == alibaba | {aws["eventID"]}
    assert ids(index, "cloud:alibaba -window:7 event:ScheduleKeyDeletion") == {
        r["eventId"] for r in WEEK if r["eventName"] == "ScheduleKeyDeletion" and r.get("errorCode")
    }


def test_windows_sql_asks_cloudtrails_spelling_only():
    # Athena's and CloudTrail Lake's tables hold CloudTrail records: ActionTrail's spelling is
    # asked of loaded events only, and `has:window` names the member once (its SQL ignores case)
    window = sql.Window(datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC))
    # the member as many times as one path's rule names it: the scalar (twice for an equality,
    # as text and as a number), whether it is null, and its name in the parameters' text
    for expression, times in (("window<=7", 3), ("window:7", 4), ("has:window", 1)):
        for dialect in ("athena", "lake"):
            text = sql.generate(query.parse(expression), window, sql.Table(), dialect).sql
            assert "PendingWindowInDays" not in text, (expression, dialect)
            assert text.lower().count("pendingwindowindays") == times, (expression, dialect)
