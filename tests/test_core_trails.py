"""Trails: found from delivery paths, CloudTrail's own key use and configuration events, joined,
and whether KMS events are logged, with the warnings that say who changed it and when."""

from __future__ import annotations

import pytest

from kmstui.core.export import EventWriter
from kmstui.core.trails import selector_state, summarise_trails

from records import (
    ACCOUNT,
    KEY1,
    KEY2,
    aws_service,
    cloudtrail_file,
    delivery_path,
    gz,
    iam_user,
    json_lines,
    jsonl,
    key_arn,
    kms,
    load,
    lookup_page,
    other_service,
    run_cli,
    trail_arn,
    trail_config,
    write,
)

T = "2024-05-01T{}:00Z"
TRAIL = trail_arn("main-trail")
LOG_KEY = key_arn(KEY2)


def by_label(index) -> dict[str, object]:
    return {row.label: row for row in summarise_trails(index)}


def cloudtrail_log_key_use(
    log_file: str, bucket: str = "org-trail-bucket", trail: str = TRAIL, time: str = T.format("12:05")
) -> dict:
    """CloudTrail's own GenerateDataKey for a log file it is about to write (SSE-KMS)."""
    return kms(
        "GenerateDataKey",
        LOG_KEY,
        identity=aws_service("cloudtrail.amazonaws.com"),
        request={
            "keySpec": "AES_256",
            "encryptionContext": {"aws:cloudtrail:arn": trail, "aws:s3:arn": f"arn:aws:s3:::{bucket}/{log_file}"},
        },
        ip="cloudtrail.amazonaws.com",
        agent="cloudtrail.amazonaws.com",
        time=time,
    )


CREATED_AT = T.format("08:00")


def create_trail(
    name="main-trail", bucket="org-trail-bucket", prefix=None, kms_key=LOG_KEY, time=CREATED_AT, who="Alice"
):
    request = {"name": name, "s3BucketName": bucket, "isMultiRegionTrail": True}
    if prefix:
        request["s3KeyPrefix"] = prefix
    if kms_key:
        request["kmsKeyId"] = kms_key
    response = {
        **request,
        "trailARN": trail_arn(name),
        "includeGlobalServiceEvents": True,
        "logFileValidationEnabled": False,
    }
    return trail_config(
        "CreateTrail", name, request=request, response=response, time=time, identity=iam_user(who), ip="192.0.2.10"
    )


def put_event_selectors(
    selectors: dict, time: str, who: str = "Mallory", ip: str = "192.0.2.66", error: str | None = None
) -> dict:
    request = {"trailName": "main-trail", **selectors}
    response = None if error else {"trailARN": TRAIL, **selectors}
    return trail_config(
        "PutEventSelectors", request=request, response=response, time=time, identity=iam_user(who), ip=ip, error=error
    )


EXCLUDE_KMS = {
    "eventSelectors": [
        {
            "readWriteType": "All",
            "includeManagementEvents": True,
            "dataResources": [],
            "excludeManagementEventSources": [KMS_SOURCE := "kms.amazonaws.com"],
        }
    ]
}
ALL_MANAGEMENT = {
    "eventSelectors": [
        {
            "readWriteType": "All",
            "includeManagementEvents": True,
            "dataResources": [],
            "excludeManagementEventSources": [],
        }
    ]
}
ADVANCED_NO_KMS = {
    "advancedEventSelectors": [
        {
            "name": "Management events except KMS",
            "fieldSelectors": [
                {"field": "eventCategory", "equals": ["Management"]},
                {"field": "eventSource", "notEquals": [KMS_SOURCE]},
            ],
        }
    ]
}
ADVANCED_ALL = {
    "advancedEventSelectors": [
        {"name": "All management", "fieldSelectors": [{"field": "eventCategory", "equals": ["Management"]}]}
    ]
}


def summary_of(tmp_path, records, name="config.json"):
    index = load(write(tmp_path / name, cloudtrail_file(records)))
    rows = [row for row in summarise_trails(index) if row.kind == "trail"]
    assert len(rows) == 1, [(r.label, r.kind) for r in rows]
    return rows[0], index


# ---------------------------------------------------------------------------
# Finding trails


def test_trail_from_the_s3_delivery_path(tmp_path):
    bucket = tmp_path / "copy" / "org-trail-bucket"
    write(delivery_path(bucket, region="us-east-1", tag="a"), gz(cloudtrail_file([kms("Decrypt", key_arn(KEY1))])))
    write(
        delivery_path(bucket, region="eu-west-1", tag="b"),
        gz(cloudtrail_file([kms("Encrypt", key_arn(KEY1, region="eu-west-1"), region="eu-west-1")])),
    )
    index = load(tmp_path / "copy")
    [row] = summarise_trails(index)
    assert row.kind == "delivery"
    assert row.label.endswith("org-trail-bucket")
    assert row.location == str(bucket)
    assert row.accounts == [ACCOUNT]
    assert row.regions == ["eu-west-1", "us-east-1"]
    assert (row.files, row.events) == (2, 2)
    assert row.kms_logging == "logged"  # KMS events arrived through it


def test_delivery_name_without_the_folder_layout(tmp_path):
    name = f"{ACCOUNT}_CloudTrail_us-west-2_20240501T1200Z_xyz.json.gz"
    write(tmp_path / "flat" / name, gz(cloudtrail_file([kms("Decrypt", key_arn(KEY1))])))
    [row] = summarise_trails(load(tmp_path / "flat"))
    assert (row.kind, row.regions, row.accounts) == ("delivery", ["us-west-2"], [ACCOUNT])


def test_trail_from_cloudtrails_own_key_use(tmp_path):
    records = [
        cloudtrail_log_key_use("AWSLogs/x.json.gz"),
        cloudtrail_log_key_use("AWSLogs/y.json.gz", time=T.format("12:10")),
    ]
    row, _index = summary_of(tmp_path, records)
    assert (row.label, row.arn) == ("main-trail", TRAIL)
    assert row.log_key == LOG_KEY
    assert row.log_key_calls == 2
    assert row.kms_logging == "unknown"
    assert row.accounts == [ACCOUNT] and row.regions == ["us-east-1"]


def test_trail_from_configuration_events(tmp_path):
    row, _index = summary_of(tmp_path, [create_trail(prefix="prod")])
    assert row.arn == TRAIL
    assert row.location == "s3://org-trail-bucket/prod"
    assert row.log_key == LOG_KEY
    assert row.kms_logging == "logged"  # a new trail logs all management events
    assert row.warnings == []
    assert row.events == 1


def test_configuration_by_bare_trail_name_and_by_arn_is_one_trail(tmp_path):
    records = [
        create_trail(),
        trail_config("StopLogging", "main-trail", request={"name": "main-trail"}, time=T.format("09:00")),
        trail_config("StartLogging", TRAIL, time=T.format("10:00")),
    ]
    row, _index = summary_of(tmp_path, records)
    assert row.events == 3


def test_delivered_files_join_their_trail_through_the_s3_arn_context(tmp_path):
    bucket = tmp_path / "org-trail-bucket"
    first = delivery_path(bucket, stamp="20240501T1200Z", tag="first")
    second = delivery_path(bucket, stamp="20240501T1205Z", tag="second")
    log_file = first.relative_to(bucket).as_posix()
    write(first, gz(cloudtrail_file([kms("Decrypt", key_arn(KEY1))])))
    write(second, gz(cloudtrail_file([cloudtrail_log_key_use(log_file)])))
    index = load(tmp_path)
    [row] = summarise_trails(index)
    assert (row.kind, row.arn) == ("trail", TRAIL)
    assert row.files == 2
    assert row.location == str(bucket)
    assert row.log_key == LOG_KEY and row.log_key_calls == 1
    assert row.kms_logging == "logged"
    assert row.events == 2
    writer = EventWriter(index, summarise_trails(index))
    assert {writer.record(r)["trail"] for r in index.snapshot.order.tolist()} == {TRAIL}


def test_delivered_files_join_their_trail_through_its_bucket_and_prefix(tmp_path):
    write(delivery_path(tmp_path / "org-trail-bucket" / "prod"), gz(cloudtrail_file([kms("Decrypt", key_arn(KEY1))])))
    write(tmp_path / "config.json", cloudtrail_file([create_trail(prefix="prod")]))
    rows = summarise_trails(load(tmp_path))
    assert [(r.kind, r.arn, r.files) for r in rows if r.kind != "file"] == [("trail", TRAIL, 1)]


def test_a_bucket_name_is_not_joined_to_a_folder_that_merely_ends_with_it(tmp_path):
    """A trail writing to bucket "logs" did not deliver the files under a folder "app-logs"."""
    write(delivery_path(tmp_path / "app-logs"), gz(cloudtrail_file([kms("Decrypt", key_arn(KEY1))])))
    write(tmp_path / "config.json", cloudtrail_file([create_trail(bucket="logs")]))
    rows = summarise_trails(load(tmp_path))
    [delivery] = [r for r in rows if r.kind == "delivery"]
    assert delivery.label.endswith("app-logs") and delivery.files == 1
    [trail] = [r for r in rows if r.kind == "trail"]
    assert trail.arn == TRAIL and trail.files == 0


def test_source_rows_for_stdin_lookup_events_and_plain_files(tmp_path):
    lookup = write(tmp_path / "lookup.json", lookup_page([kms("Decrypt", key_arn(KEY1))]))
    plain = write(tmp_path / "records.jsonl", jsonl([kms("Encrypt", key_arn(KEY1))]))
    result = run_cli("trails", lookup, plain, "-", "--format", "jsonl", input=jsonl([kms("Sign", key_arn(KEY1))]))
    assert result.returncode == 0, result.stderr
    rows = {row["kind"]: row for row in json_lines(result.stdout)}
    assert set(rows) == {"stdin", "lookup", "file"}
    assert rows["stdin"]["trail"] == "(stdin)" and rows["stdin"]["location"] is None
    assert str(lookup) in (rows["lookup"]["trail"], rows["lookup"]["location"])
    assert str(plain) in (rows["file"]["trail"], rows["file"]["location"])
    for row in rows.values():
        assert (row["events"], row["files"], row["kms_logging"]) == (1, 1, "unknown")


def test_trails_come_first_and_files_of_records_fold_into_one_row_per_folder(tmp_path):
    """A folder of detection-test files, as public rule repositories hold them: a few trails,
    many files of records, most with no KMS or trail event at all."""
    rules = tmp_path / "rules"
    write(rules / "stop.jsonl", jsonl([trail_config("StopLogging", "lab-trail", identity=iam_user("Mallory"))]))
    write(rules / "disable.jsonl", jsonl([kms("DisableKey", key_arn(KEY1))]))
    for number in range(5):
        write(rules / f"s3-{number}.jsonl", jsonl([other_service()]))
    write(tmp_path / "samples" / "lookup.json", lookup_page([kms("Decrypt", key_arn(KEY2))]))
    write(tmp_path / "samples" / "ec2.json", cloudtrail_file([other_service(source="ec2.amazonaws.com")]))
    write(tmp_path / "empty" / "iam.json", cloudtrail_file([other_service(source="iam.amazonaws.com")]))
    result = run_cli("trails", tmp_path, "--format", "jsonl")
    assert result.returncode == 0, result.stderr
    rows = json_lines(result.stdout)
    assert [(r["kind"], r["trail"], r["files"], r["empty_files"], r["events"]) for r in rows] == [
        ("trail", trail_arn("lab-trail"), 0, 0, 1),
        ("lookup", str(tmp_path / "samples" / "lookup.json"), 1, 0, 1),
        ("file", str(rules), 2, 5, 2),
    ]
    assert "(10 records read; 7 of them held none)" in result.stderr
    assert "from 10 sources" in result.stderr


# ---------------------------------------------------------------------------
# Is KMS logged?


def test_exclusion_by_event_selectors_warns_who_and_when(tmp_path):
    row, _index = summary_of(tmp_path, [create_trail(), put_event_selectors(EXCLUDE_KMS, T.format("13:00"))])
    assert row.kms_logging == "excluded"
    assert row.warnings == [
        "KMS events excluded from logging by user/Mallory from 192.0.2.66 at 2024-05-01 13:00:00 UTC "
        "(PutEventSelectors, ExcludeManagementEventSources); still in effect in the loaded events."
    ]


def test_exclusion_undone(tmp_path):
    records = [
        create_trail(),
        put_event_selectors(EXCLUDE_KMS, T.format("13:00")),
        put_event_selectors(ALL_MANAGEMENT, T.format("15:30"), who="Alice", ip="192.0.2.10"),
    ]
    row, _index = summary_of(tmp_path, records)
    assert row.kms_logging == "logged"
    assert row.warnings == [
        "KMS events excluded from logging by user/Mallory from 192.0.2.66 at 2024-05-01 13:00:00 UTC "
        "(PutEventSelectors, ExcludeManagementEventSources); "
        "undone by user/Alice from 192.0.2.10 at 2024-05-01 15:30:00 UTC."
    ]


def test_exclusion_by_an_advanced_event_selector(tmp_path):
    row, _index = summary_of(tmp_path, [create_trail(), put_event_selectors(ADVANCED_NO_KMS, T.format("13:00"))])
    assert row.kms_logging == "excluded"
    [warning] = row.warnings
    assert "KMS events excluded from logging by user/Mallory" in warning
    assert "an advanced event selector on eventSource" in warning
    assert warning.endswith("still in effect in the loaded events.")


def test_advanced_exclusion_undone_by_advanced_selectors(tmp_path):
    records = [
        put_event_selectors(ADVANCED_NO_KMS, T.format("13:00")),
        put_event_selectors(ADVANCED_ALL, T.format("14:00"), who="Alice"),
    ]
    row, _index = summary_of(tmp_path, records)
    assert row.kms_logging == "logged"
    [warning] = row.warnings
    assert "undone by user/Alice" in warning and "2024-05-01 14:00:00 UTC" in warning


def test_stop_logging(tmp_path):
    records = [
        create_trail(),
        trail_config("StopLogging", identity=iam_user("Mallory"), ip="192.0.2.66", time=T.format("13:00")),
    ]
    row, _index = summary_of(tmp_path, records)
    assert row.kms_logging == "stopped"
    assert row.warnings == [
        "Logging stopped by user/Mallory from 192.0.2.66 at 2024-05-01 13:00:00 UTC; "
        "not restarted in the loaded events."
    ]


def test_stop_logging_undone(tmp_path):
    records = [
        trail_config("StartLogging", identity=iam_user("Alice"), ip="192.0.2.10", time=T.format("16:00")),
        trail_config("StopLogging", identity=iam_user("Mallory"), ip="192.0.2.66", time=T.format("13:00")),
    ]
    row, _index = summary_of(tmp_path, records)  # replayed in time order, not file order
    assert row.kms_logging == "logged"
    assert row.warnings == [
        "Logging was stopped by user/Mallory from 192.0.2.66 at 2024-05-01 13:00:00 UTC; "
        "undone by user/Alice from 192.0.2.10 at 2024-05-01 16:00:00 UTC."
    ]


def test_failed_attempts_are_warned_about_but_change_nothing(tmp_path):
    records = [
        create_trail(),
        trail_config(
            "StopLogging", identity=iam_user("Mallory"), time=T.format("13:00"), ip="192.0.2.66", error="AccessDenied"
        ),
        put_event_selectors(EXCLUDE_KMS, T.format("13:01"), error="AccessDenied"),
    ]
    row, _index = summary_of(tmp_path, records)
    assert row.kms_logging == "logged"
    assert row.warnings == [
        "user/Mallory from 192.0.2.66 tried to stop logging at 2024-05-01 13:00:00 UTC and failed (AccessDenied).",
        "user/Mallory from 192.0.2.66 tried to change its event selectors at 2024-05-01 13:01:00 UTC "
        "and failed (AccessDenied).",
    ]


def test_deleted_trail(tmp_path):
    records = [
        create_trail(),
        trail_config("DeleteTrail", identity=iam_user("Mallory"), ip="192.0.2.66", time=T.format("13:00")),
    ]
    row, _index = summary_of(tmp_path, records)
    assert row.kms_logging == "stopped"
    assert "Trail deleted by user/Mallory from 192.0.2.66 at 2024-05-01 13:00:00 UTC." in row.warnings


def test_unknown_without_configuration_or_delivered_kms_events(tmp_path):
    row, _index = summary_of(
        tmp_path, [trail_config("PutInsightSelectors", request={"trailName": TRAIL, "insightSelectors": []})]
    )
    assert row.kms_logging == "unknown"
    assert row.warnings == []


def test_warned_trails_come_first(tmp_path):
    records = [
        create_trail("quiet-trail", bucket="quiet"),
        create_trail("loud-trail", bucket="loud"),
        trail_config("StopLogging", "loud-trail", time=T.format("13:00")),
    ]
    index = load(write(tmp_path / "config.json", cloudtrail_file(records)))
    labels = [row.label for row in summarise_trails(index)]
    assert labels[0] == "loud-trail"
    assert labels.index("quiet-trail") > 0


@pytest.mark.parametrize(
    "selectors, state",
    [
        (ALL_MANAGEMENT, "logged"),
        (EXCLUDE_KMS, "excluded"),
        ({"eventSelectors": [{"readWriteType": "WriteOnly", "includeManagementEvents": True}]}, "write-only"),
        ({"eventSelectors": [{"readWriteType": "All", "includeManagementEvents": False}]}, "excluded"),
        (
            {
                "EventSelectors": [
                    {
                        "ReadWriteType": "All",
                        "IncludeManagementEvents": True,
                        "ExcludeManagementEventSources": [KMS_SOURCE],
                    }
                ]
            },
            "excluded",
        ),
        (ADVANCED_NO_KMS, "excluded"),
        (ADVANCED_ALL, "logged"),
        (
            {"advancedEventSelectors": [{"fieldSelectors": [{"field": "eventCategory", "equals": ["Data"]}]}]},
            "excluded",
        ),
        ({}, "unknown"),
    ],
)
def test_selector_state(selectors, state):
    assert selector_state(selectors, {})[0] == state


def test_trails_command_reports_the_warning(tmp_path):
    path = write(
        tmp_path / "config.json", cloudtrail_file([create_trail(), put_event_selectors(EXCLUDE_KMS, T.format("13:00"))])
    )
    result = run_cli("trails", path, "--format", "jsonl")
    assert result.returncode == 0, result.stderr
    [trail] = [row for row in json_lines(result.stdout) if row["kind"] == "trail"]
    assert trail["trail"] == TRAIL
    assert trail["kms_logging"] == "excluded"
    assert trail["log_key"] == LOG_KEY
    assert trail["location"] == "s3://org-trail-bucket"
    assert len(trail["warnings"]) == 1 and "user/Mallory" in trail["warnings"][0]


# ---------------------------------------------------------------------------
# CloudTrail's own log-file rate


def delivered_trail(base, hours: float, regions: dict[str, float], start_hour: int = 12, day: str = "2024-05-01"):
    """A trail's delivered log files every 5 minutes for ``hours``, each with a Decrypt and
    CloudTrail's own GenerateDataKey for that moment's log file of each region, while that
    region's files are still encrypted (``regions``: region -> hours they last)."""
    for step in range(int(hours * 12)):
        minutes = start_hour * 60 + step * 5
        time = f"{day}T{minutes // 60:02d}:{minutes % 60:02d}:00Z"
        stamp = f"{day.replace('-', '')}T{minutes // 60:02d}{minutes % 60:02d}Z"
        records = [kms("Decrypt", key_arn(KEY1), time=time)]
        for region, lasts in regions.items():
            if step < lasts * 12:
                name = f"{ACCOUNT}_CloudTrail_{region}_{stamp}_r{step}.json.gz"
                path = f"AWSLogs/{ACCOUNT}/CloudTrail/{region}/{day.replace('-', '/')}/{name}"
                records.append(cloudtrail_log_key_use(path, time=time))
        write(delivery_path(base, stamp=stamp, tag=f"f{step}", day=day.replace("-", "/")), gz(cloudtrail_file(records)))


def test_log_file_rate_is_measured_over_the_trails_own_span(tmp_path):
    """Two hours of a trail at the expected rate, loaded with a file from a year before: the
    year between says nothing about this trail's rate."""
    delivered_trail(tmp_path / "org-trail-bucket", hours=2, regions={"us-east-1": 2, "eu-west-1": 2})
    write(tmp_path / "old" / "sample.json", cloudtrail_file([kms("Decrypt", time="2023-05-01T12:00:00Z")]))
    [row] = [r for r in summarise_trails(load(tmp_path)) if r.kind == "trail"]
    assert row.files == 24
    assert row.warnings == []
    assert 250 < row.log_file_rates["us-east-1"] < 320


def test_log_file_rate_warns_for_the_region_whose_files_stopped(tmp_path):
    delivered_trail(tmp_path / "org-trail-bucket", hours=2, regions={"us-east-1": 2, "eu-west-1": 0.25})
    [row] = [r for r in summarise_trails(load(tmp_path)) if r.kind == "trail"]
    assert row.rate_warnings == 1
    [warning] = row.warnings
    assert warning.startswith(
        "CloudTrail encrypted only about 38 log files a day for eu-west-1 "
        "from 2024-05-01 12:00:00 to 2024-05-01 13:55:00 UTC"
    )
    assert "the span this trail's events cover" in warning


def test_no_log_file_rate_from_files_of_chosen_records(tmp_path):
    """Sample records (documentation, detection tests) years apart, and a log file named without
    the delivery layout: no rate can be read from them, and no region '?'."""
    records = [
        cloudtrail_log_key_use("AWSLogs/x.json.gz", time="2019-01-01T00:00:00Z"),
        cloudtrail_log_key_use(f"AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/2024/05/01/y.json.gz"),
    ]
    row, _index = summary_of(tmp_path, records)
    assert row.warnings == [] and row.notes == []
    assert row.log_file_rates == {}


def test_tampering_comes_before_doubts_about_the_rate(tmp_path):
    delivered_trail(tmp_path / "org-trail-bucket", hours=2, regions={"us-east-1": 0.25})
    records = [
        create_trail("a-failed-trail", bucket="failed"),
        trail_config("StopLogging", "a-failed-trail", time=T.format("13:00"), error="AccessDenied"),
        create_trail("b-stopped-trail", bucket="b"),
        trail_config("StopLogging", "b-stopped-trail", time=T.format("13:00")),
        create_trail("c-excluded-trail", bucket="c"),
        trail_config("StartLogging", "c-excluded-trail", time=T.format("13:00")),
        trail_config(
            "PutEventSelectors",
            "c-excluded-trail",
            request={"trailName": "c-excluded-trail", **EXCLUDE_KMS},
            response={"trailARN": trail_arn("c-excluded-trail"), **EXCLUDE_KMS},
            time=T.format("13:05"),
        ),
    ]
    write(tmp_path / "config.json", cloudtrail_file(records))
    rows = [row for row in summarise_trails(load(tmp_path)) if row.warnings]
    assert [row.label for row in rows] == ["b-stopped-trail", "c-excluded-trail", "a-failed-trail", "main-trail"]
    assert rows[-1].rate_warnings == 1
