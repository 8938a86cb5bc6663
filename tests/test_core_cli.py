"""The headless commands: events, keys and trails in every format."""

from __future__ import annotations

import csv
import io
import json

import pytest

from records import (
    ACCOUNT,
    KEY1,
    KEY2,
    OTHER_ACCOUNT,
    assumed_role,
    cloudtrail_file,
    delivery_path,
    gz,
    json_lines,
    key_arn,
    kms,
    load,
    run_cli,
    run_main,
    trail_arn,
    trail_config,
    write,
)

T = "2024-05-01T{}:00Z"

DECRYPT = kms(
    "Decrypt",
    key_arn(KEY1),
    request={"encryptionContext": {"aws:s3:arn": "arn:aws:s3:::bucket/a", "team": "pay"}},
    identity=assumed_role("Reader", "r1", account=OTHER_ACCOUNT),
    error="AccessDeniedException",
    message="not allowed",
    ip="203.0.113.7",
    agent="aws-cli/2.15.0",
    time="2024-05-01T22:00:00+10:00",
)
CREATE_ALIAS = kms(
    "CreateAlias", request={"aliasName": "alias/payments", "targetKeyId": KEY1}, time=T.format("09:00"), read_only=False
)
ENCRYPT = kms("Encrypt", "alias/payments", time=T.format("11:00"), agent='=HYPERLINK("http://evil")')
STOP = trail_config("StopLogging", "main-trail", time=T.format("13:00"))
ALL = [CREATE_ALIAS, ENCRYPT, DECRYPT, STOP]


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    """A delivered CloudTrail log file with every record above."""
    top = tmp_path_factory.mktemp("cli")
    write(delivery_path(top / "bucket"), gz(cloudtrail_file(ALL)))
    return top


def test_events_jsonl_has_every_field(logs):
    result = run_cli("events", logs, "--format", "jsonl")
    assert result.returncode == 0, result.stderr
    out = json_lines(result.stdout)
    assert [e["event"] for e in out] == ["StopLogging", "Decrypt", "Encrypt", "CreateAlias"]  # newest first
    decrypt = out[1]
    origin = str(delivery_path(logs / "bucket"))
    expected = {
        "event_id": DECRYPT["eventID"],
        "time": "2024-05-01T12:00:00Z",
        "event": "Decrypt",
        "source": "kms.amazonaws.com",
        "region": "us-east-1",
        "account": ACCOUNT,
        "principal": "role/Reader (r1)",
        "principal_arn": f"arn:aws:sts::{OTHER_ACCOUNT}:assumed-role/Reader/r1",
        "identity_type": "AssumedRole",
        "caller_account": OTHER_ACCOUNT,
        "cross_account": True,
        "source_ip": "203.0.113.7",
        "user_agent": "aws-cli/2.15.0",
        "keys": [key_arn(KEY1)],
        "aliases": ["alias/payments"],
        "context": {"aws:s3:arn": "arn:aws:s3:::bucket/a", "team": "pay"},
        "contexts": [{"from": "request", "context": {"aws:s3:arn": "arn:aws:s3:::bucket/a", "team": "pay"}}],
        "error": "AccessDeniedException",
        "error_message": "not allowed",
        "read_only": True,
        "event_type": "AwsApiCall",
        "origin": origin,
    }
    for field, value in expected.items():
        assert decrypt[field] == value, field
    assert decrypt["trail"]  # the delivery it came from
    stop = out[0]
    assert stop["source"] == "cloudtrail.amazonaws.com"
    assert stop["keys"] == [] and stop["context"] is None and stop["error"] is None
    encrypt = out[2]
    assert encrypt["keys"] == [key_arn(KEY1)] and encrypt["aliases"] == ["alias/payments"]
    assert encrypt["read_only"] is True


def test_events_jsonl_trail_fields_have_one_meaning_each(tmp_path, capsys):
    """``trail`` is the trail whose delivered files held the event, ``subject_trail`` the trail
    it acts on, whether the configuration event came in a delivered file or a file of records."""
    path = write(tmp_path / "config.json", cloudtrail_file([STOP]))
    code, out, _err = run_main(capsys, "events", path, "--format", "jsonl")
    assert code == 0
    [record] = json_lines(out)
    assert (record["trail"], record["subject_trail"]) == (None, trail_arn("main-trail"))
    bucket = tmp_path / "copy" / "audit-bucket"
    write(delivery_path(bucket), gz(cloudtrail_file([STOP, kms("Decrypt", key_arn(KEY1))])))
    code, out, _err = run_main(capsys, "events", tmp_path / "copy", "--format", "jsonl")
    stop, decrypt = sorted(json_lines(out), key=lambda r: r["event"], reverse=True)
    assert stop["trail"] == decrypt["trail"] == str(bucket)
    assert (stop["subject_trail"], decrypt["subject_trail"]) == (trail_arn("main-trail"), None)


def test_events_csv(logs, capsys):
    code, out, err = run_main(capsys, "events", logs, "--format", "csv")
    assert code == 0, err
    table = list(csv.DictReader(io.StringIO(out)))
    assert [row["event"] for row in table] == ["StopLogging", "Decrypt", "Encrypt", "CreateAlias"]
    decrypt = table[1]
    assert decrypt["time"] == "2024-05-01T12:00:00Z"
    assert decrypt["keys"] == key_arn(KEY1)
    assert decrypt["cross_account"] == "true"
    assert json.loads(decrypt["context"]) == {"aws:s3:arn": "arn:aws:s3:::bucket/a", "team": "pay"}
    assert table[0]["error"] == "" and table[0]["read_only"] == "false"


def test_events_csv_cells_cannot_run_as_formulas(tmp_path, capsys):
    hostile = [
        kms(
            "Decrypt", key_arn(KEY1), agent='=HYPERLINK("http://evil","x")', ip="+1+1", error="-2+3", message="@SUM(A1)"
        ),
        kms("Encrypt", key_arn(KEY1), agent="\t=cmd", request={"encryptionContext": {"=k": "=v"}}),
    ]
    code, out, err = run_main(capsys, "events", write(tmp_path / "h.json", cloudtrail_file(hostile)), "--format", "csv")
    assert code == 0, err
    for row in csv.reader(io.StringIO(out)):
        for cell in row:
            assert cell[:1] not in ("=", "+", "-", "@", "\t", "\r"), row
    table = {row["event"]: row for row in csv.DictReader(io.StringIO(out))}
    assert table["Decrypt"]["user_agent"] == '\'=HYPERLINK("http://evil","x")'
    assert table["Decrypt"]["source_ip"] == "'+1+1"
    assert table["Decrypt"]["error"] == "'-2+3"
    assert table["Decrypt"]["error_message"] == "'@SUM(A1)"


def test_events_table(logs, capsys):
    code, out, err = run_main(capsys, "events", logs, "--format", "table")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["TIME", "(UTC)", "EVENT", "PRINCIPAL", "KEY", "SOURCE", "IP", "REGION", "ERROR"]
    assert len(lines) == 1 + len(ALL)
    decrypt = next(line for line in lines if " Decrypt " in line)
    assert decrypt.startswith("2024-05-01 12:00:00")
    assert f"role/Reader (r1) [cross-account {OTHER_ACCOUNT}]" in decrypt
    assert "alias/payments" in decrypt  # a key is shown by its alias
    assert "AccessDeniedException" in decrypt


def test_events_raw_gives_the_original_records_one_per_line(logs):
    result = run_cli("events", logs, "--format", "raw", "--filter", "source:kms")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [json.loads(line) for line in lines] == [DECRYPT, ENCRYPT, CREATE_ALIAS]


def test_events_raw_from_standard_input():
    result = run_cli("events", "-", "--format", "raw", input=cloudtrail_file(ALL, indent=2))
    assert result.returncode == 0, result.stderr
    assert [json.loads(line) for line in result.stdout.splitlines()] == [STOP, DECRYPT, ENCRYPT, CREATE_ALIAS]


@pytest.mark.parametrize("expr, count", [("", 4), ("source:kms", 3), ("error:*", 1), ("event:nothing", 0)])
def test_events_count(logs, capsys, expr, count):
    code, out, _err = run_main(capsys, "events", logs, "--count", "--filter", expr)
    assert code == 0
    assert out == f"{count}\n"


def test_load_summary_goes_to_stderr_unless_quiet(logs):
    result = run_cli("events", logs, "--count")
    assert result.stdout == "4\n"
    assert "kmstui: Loaded 4 KMS or trail events from 1 source" in result.stderr
    quiet = run_cli("events", logs, "--count", "--quiet")
    assert quiet.stdout == "4\n" and quiet.stderr == ""


def test_keys_jsonl(logs, capsys):
    code, out, err = run_main(capsys, "keys", logs, "--format", "jsonl")
    assert code == 0, err
    [key] = json_lines(out)
    assert key["key"] == key_arn(KEY1)
    assert key["aliases"] == ["alias/payments"] and key["former_aliases"] == []
    assert (key["events"], key["errors"], key["principals"]) == (3, 1, 2)
    assert (key["first_seen"], key["last_seen"]) == (T.format("09:00"), T.format("12:00"))


def test_keys_follow_the_filter(logs, capsys):
    # A filter starting with a negation must be attached with "=": argparse takes "-error:*" for an option.
    code, out, err = run_main(capsys, "keys", logs, "--format", "jsonl", "--filter=-error:*")
    assert code == 0, err
    [key] = json_lines(out)
    assert (key["events"], key["errors"], key["principals"]) == (2, 0, 1)


def test_keys_csv_and_table(logs, capsys):
    code, out, _err = run_main(capsys, "keys", logs, "--format", "csv")
    assert code == 0
    [row] = list(csv.DictReader(io.StringIO(out)))
    assert row["key"] == key_arn(KEY1) and row["aliases"] == "alias/payments" and row["events"] == "3"
    code, out, _err = run_main(capsys, "keys", logs, "--format", "table")
    assert code == 0
    header, line = out.splitlines()
    assert header.startswith("KEY") and "ALIASES" in header and "LAST SEEN" in header
    assert line.startswith(key_arn(KEY1)) and "alias/payments" in line and "2024-05-01 12:00:00" in line


def test_keys_show_former_aliases(tmp_path, capsys):
    recs = [
        CREATE_ALIAS,
        kms("UpdateAlias", request={"aliasName": "alias/payments", "targetKeyId": KEY2}, time=T.format("10:00")),
    ]
    path = write(tmp_path / "log.json", cloudtrail_file(recs))
    code, out, _err = run_main(capsys, "keys", path, "--format", "jsonl")
    assert code == 0
    keys = {k["key"]: k for k in json_lines(out)}
    assert keys[key_arn(KEY1)]["former_aliases"] == ["alias/payments"]
    assert keys[key_arn(KEY2)]["aliases"] == ["alias/payments"]
    _code, out, _err = run_main(capsys, "keys", path, "--format", "table")
    assert "alias/payments (former)" in next(line for line in out.splitlines() if line.startswith(key_arn(KEY1)))


def test_trails_in_every_format(logs, capsys):
    code, out, err = run_main(capsys, "trails", logs, "--format", "jsonl")
    assert code == 0, err
    rows = json_lines(out)
    trail = next(r for r in rows if r["kind"] == "trail")
    assert trail["trail"] == trail_arn("main-trail")
    assert trail["kms_logging"] == "stopped"
    assert trail["warnings"] and "Logging stopped by user/Alice" in trail["warnings"][0]
    delivery = next(r for r in rows if r["kind"] == "delivery")
    assert (delivery["files"], delivery["accounts"], delivery["regions"], delivery["kms_logging"]) == (
        1,
        [ACCOUNT],
        ["us-east-1"],
        "logged",
    )

    code, out, _err = run_main(capsys, "trails", logs, "--format", "csv")
    table = list(csv.DictReader(io.StringIO(out)))
    assert {r["kind"] for r in table} == {"trail", "delivery"}
    assert next(r for r in table if r["kind"] == "trail")["kms_logging"] == "stopped"

    code, out, _err = run_main(capsys, "trails", logs, "--format", "table")
    lines = out.splitlines()
    assert lines[0].split()[:2] == ["TRAIL", "KIND"]
    assert lines[1].startswith(trail_arn("main-trail")) and "stopped" in lines[1]
    assert lines[2].startswith("  ! ") and "Logging stopped by user/Alice" in lines[2]  # the warning, under its trail


def test_unknown_format_is_a_usage_error(logs):
    result = run_cli("keys", logs, "--format", "raw")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


def test_a_digest_file_alone_says_why_nothing_loaded(tmp_path, capsys):
    digest = {
        "awsAccountId": "111122223333",
        "digestStartTime": "2024-05-01T11:00:00Z",
        "digestEndTime": "2024-05-01T12:00:00Z",
        "digestS3Bucket": "org-trail-bucket",
        "digestPublicKeyFingerprint": "0123456789abcdef0123456789abcdef",
        "digestSignatureAlgorithm": "SHA256withRSA",
        "logFiles": [],
    }
    path = write(
        tmp_path / "111122223333_CloudTrail-Digest_us-east-1_main_20240501T120000Z.json.gz",
        gz(json.dumps(digest).encode()),
    )
    code, out, err = run_main(capsys, "events", path)
    assert code == 2 and out == ""
    assert "kmstui: nothing could be loaded: only CloudTrail digest files (1), which hold no events" in err
    assert "Traceback" not in err
    index = load(path)  # the explorer's load summary says it too
    assert "Ignored 1 CloudTrail digest file: digest files hold hashes of log files, not events." in (
        index.report.sentences()
    )


def test_the_headless_load_runs_no_garbage_collection(tmp_path, capsys):
    """The collector is off for the whole of a headless load (the batches' objects make no
    cycles, and each collection went over them again): none starts inside the loader."""
    import gc
    import traceback

    records = [kms("Decrypt", key=key_arn(KEY1), time=f"2024-05-01T10:{m:02d}:00Z") for m in range(60)]
    paths = [write(tmp_path / f"{n}.json", cloudtrail_file(records)) for n in range(40)]
    run_main(capsys, "events", paths[0], "--count")  # imports done before counting
    inside: list[str] = []

    def watch(phase: str, info: dict) -> None:
        if phase == "start":
            inside.extend(frame.name for frame in traceback.extract_stack() if frame.filename.endswith("loader.py"))

    gc.callbacks.append(watch)
    try:
        for _ in range(3):
            code, out, _err = run_main(capsys, "events", tmp_path, "--count")
            assert (code, out.strip()) == (0, "60")
    finally:
        gc.callbacks.remove(watch)
    assert not inside
