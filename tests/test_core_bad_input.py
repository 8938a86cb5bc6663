"""Bad input: every bad source is skipped with one line on stderr, the rest still loads,
and hostile record values neither crash the loader nor reach the terminal as control codes."""

from __future__ import annotations

import json
import os

import pytest

from kmstui.core.text import clean, clip

from records import (
    KEY1,
    cloudtrail_file,
    gz,
    iam_user,
    ids,
    json_lines,
    key_arn,
    kms,
    load,
    load_file,
    only,
    record,
    run_cli,
    run_main,
    write,
)

GOOD = kms("Decrypt", key_arn(KEY1))


def skipped_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("kmstui: skipped ")]


def assert_no_traceback(stderr: str) -> None:
    assert "Traceback" not in stderr
    assert "Error:" not in stderr.replace("kmstui:", "")


BAD_FILES = {
    "not-json.json": (b"this is not JSON at all\n", "not JSON"),
    "binary.bin": (bytes(range(256)), "not JSON"),
    "truncated.json.gz": (gz(cloudtrail_file([GOOD] * 50))[:-40], "gzip"),
    "other-shape.json": (json.dumps({"Items": [1, 2, 3], "Count": 3}).encode(), "another shape"),
    "numbers.json": (b"[1, 2, 3]", "another shape"),
    "empty.json": (b"", "empty"),
    "blank.json": (b"  \n\n \t", "empty"),
    "truncated-json.json": (cloudtrail_file([GOOD])[:-25], "JSON"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_file_is_skipped_with_a_reason(tmp_path, name):
    data, reason = BAD_FILES[name]
    batch, source = load_file(str(write(tmp_path / name, data)))
    assert source.error is not None
    assert reason.lower() in source.error.lower()
    assert batch.n == 0


def test_cli_skips_each_bad_file_with_one_line_and_loads_the_rest(tmp_path):
    bad = {name: write(tmp_path / name, data) for name, (data, _reason) in BAD_FILES.items()}
    good = write(tmp_path / "good.json", cloudtrail_file([GOOD]))
    result = run_cli("events", good, *bad.values(), "--format", "jsonl")
    assert result.returncode == 0, result.stderr
    assert [e["event_id"] for e in json_lines(result.stdout)] == [GOOD["eventID"]]
    lines = skipped_lines(result.stderr)
    assert len(lines) == len(bad), result.stderr
    for name, path in bad.items():
        [line] = [line for line in lines if line.startswith(f"kmstui: skipped {path}: ")]
        assert BAD_FILES[name][1].lower() in line.lower()
        assert result.stderr.count(str(path)) == 1
    assert_no_traceback(result.stderr)


def test_nonexistent_path_is_skipped(tmp_path):
    good = write(tmp_path / "good.json", cloudtrail_file([GOOD]))
    missing = tmp_path / "no-such-file.json"
    result = run_cli("events", missing, good, "--count")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1"
    assert skipped_lines(result.stderr) == [f"kmstui: skipped {missing}: no such file or directory"]
    assert_no_traceback(result.stderr)


def test_unreadable_file_is_skipped(tmp_path):
    good = write(tmp_path / "good.json", cloudtrail_file([GOOD]))
    locked = write(tmp_path / "locked.json", cloudtrail_file([kms("Encrypt", key_arn(KEY1))]))
    os.chmod(locked, 0)
    try:
        try:
            with open(locked, "rb"):
                pytest.skip("running as a user who can read a mode-000 file (root)")
        except PermissionError:
            pass
        result = run_cli("events", good, locked, "--count")
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "1"
        assert skipped_lines(result.stderr) == [f"kmstui: skipped {locked}: permission denied"]
        assert_no_traceback(result.stderr)
    finally:
        os.chmod(locked, 0o600)


def test_directory_with_a_mix_of_good_and_bad_files(tmp_path):
    top = tmp_path / "mix"
    good = [kms("Decrypt", key_arn(KEY1)), kms("Encrypt", key_arn(KEY1))]
    write(top / "a" / "good.json.gz", gz(cloudtrail_file(good[:1])))
    write(top / "b" / "good.jsonl", json.dumps(good[1]) + "\n")
    bad_paths = []
    for name in ("not-json.json", "truncated.json.gz", "other-shape.json", "empty.json"):
        bad_paths.append(write(top / "bad" / name, BAD_FILES[name][0]))
    result = run_cli("events", top, "--format", "jsonl")
    assert result.returncode == 0, result.stderr
    assert {e["event_id"] for e in json_lines(result.stdout)} == {r["eventID"] for r in good}
    lines = skipped_lines(result.stderr)
    assert len(lines) == len(bad_paths), result.stderr
    for path in bad_paths:
        assert sum(line.startswith(f"kmstui: skipped {path}: ") for line in lines) == 1
    assert_no_traceback(result.stderr)


def test_index_report_lists_the_skipped_files(tmp_path):
    write(tmp_path / "good.json", cloudtrail_file([GOOD]))
    write(tmp_path / "bad.json", b"garbage")
    index = load(tmp_path)
    assert index.report.files_loaded == 1
    assert [skipped.label for skipped in index.report.skipped] == [str(tmp_path / "bad.json")]
    assert any(s.startswith("Skipped ") for s in index.report.sentences())


def test_exit_2_with_a_message_when_nothing_loaded(tmp_path):
    bad = write(tmp_path / "bad.json", b"nope")
    result = run_cli("events", bad, tmp_path / "missing.json")
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(skipped_lines(result.stderr)) == 2
    assert "nothing could be loaded" in result.stderr
    assert_no_traceback(result.stderr)


@pytest.mark.parametrize("command", ["events", "keys", "trails"])
def test_every_command_exits_2_when_no_source_is_readable(tmp_path, command):
    result = run_cli(command, tmp_path / "missing.json")
    assert result.returncode == 2
    assert "nothing could be loaded" in result.stderr
    assert_no_traceback(result.stderr)


def test_empty_directory_is_reported(tmp_path):
    (tmp_path / "empty").mkdir()
    good = write(tmp_path / "good.json", cloudtrail_file([GOOD]))
    result = run_cli("events", tmp_path / "empty", good, "--count")
    assert result.returncode == 0
    assert skipped_lines(result.stderr) == [f"kmstui: skipped {tmp_path / 'empty'}: the directory holds no files"]


def test_damaged_lines_in_json_lines_are_reported_not_fatal(tmp_path):
    good = [kms("Decrypt", key_arn(KEY1)), kms("Encrypt", key_arn(KEY1))]
    text = json.dumps(good[0]) + "\n{not json\n" + json.dumps(good[1]) + "\n"
    path = write(tmp_path / "lines.jsonl", text)
    index = load(path)
    assert ids(index) == {r["eventID"] for r in good}
    assert index.report.problems and "line 2" in index.report.problems[0].problem


def test_records_that_are_not_objects_are_counted_not_fatal(tmp_path):
    path = write(tmp_path / "log.json", json.dumps({"Records": [GOOD, 42, "text", None, [1]]}))
    index = load(path)
    assert ids(index) == {GOOD["eventID"]}
    assert index.report.problems and "4 records" in index.report.problems[0].problem


# ---------------------------------------------------------------------------
# Hostile values inside records

ANSI_AGENT = "\x1b[31mred\x1b[0m [bold red]markup[/bold red] \x07bell"


def hostile_records() -> list[dict]:
    return [
        kms("Decrypt", key_arn(KEY1), identity="arn:aws:iam::111122223333:user/NotAnObject"),
        kms("Encrypt", key_arn(KEY1), time=1714564800),
        kms("GenerateDataKey", request={"keyId": {"nested": "object"}, "encryptionContext": ["not", "a", "map"]}),
        kms("Sign", key_arn(KEY1), agent="A" * 100_000, message="m" * 100_000, error="E" * 1000),
        kms("Verify", key_arn(KEY1), agent=ANSI_AGENT, ip="\x1b[2J10.0.0.1", error="\x1b]0;pwned\x07Denied"),
        kms("ReEncrypt", key_arn(KEY1), identity=iam_user("\x1b[5mblink")),
        kms("DescribeKey", key_arn(KEY1), read_only="true", resources={"ARN": "not a list"}),
        kms(
            "ListGrants", key_arn(KEY1), request={"keyId": key_arn(KEY1), "encryptionContext": {"n": 5, "o": {"x": 1}}}
        ),
        record("CreateKey", response={"keyMetadata": "a string"}, region=["us-east-1"]),
        kms("Encrypt", key_arn(KEY1), requestParameters="just a string", responseElements=7, serviceEventDetails=[1]),
    ]


def test_hostile_values_load_without_crashing(tmp_path):
    records = hostile_records()
    path = write(tmp_path / "hostile.json", cloudtrail_file(records))
    _batch, source = load_file(str(path))
    assert source.error is None, source.error
    index = load(path)
    assert ids(index) == {r["eventID"] for r in records}
    for row in range(index.size):
        index.event(row)  # every event can be materialised

    decrypt = only(index, "event:Decrypt")
    assert decrypt.principal.short == "(unknown)"
    assert decrypt.keys == (key_arn(KEY1),)
    encrypt = only(index, f"id:{records[1]['eventID']}")
    assert encrypt.iso_time is None  # a number is no CloudTrail time
    gdk = only(index, "event:GenerateDataKey")
    assert gdk.keys == () and gdk.contexts == ()
    assert only(index, "event:Sign").user_agent == "A" * 100_000
    assert only(index, "event:DescribeKey").read_only is True
    contexts = dict(only(index, "event:ListGrants").contexts)[""]
    assert dict(contexts) == {"n": "5", "o": '{"x":1}'}


def test_hostile_values_through_every_output_format(tmp_path, capsys):
    path = write(tmp_path / "hostile.json", cloudtrail_file(hostile_records()))
    for command, formats in (
        ("events", ("jsonl", "csv", "table", "raw")),
        ("keys", ("jsonl", "csv", "table")),
        ("trails", ("jsonl", "csv", "table")),
    ):
        for fmt in formats:
            code, out, err = run_main(capsys, command, path, "--format", fmt)
            assert code == 0, (command, fmt, err)
            assert out
            assert_no_traceback(err)
            if fmt == "table":
                assert "\x1b" not in out and "\x07" not in out


def test_table_makes_control_characters_visible(tmp_path):
    rec = kms(
        "Verify",
        key_arn(KEY1),
        agent=ANSI_AGENT,
        ip="\x1b[2J10.0.0.1",
        error="\x1b]0;pwned\x07Denied",
        identity=iam_user("\x1b[5mblink"),
    )
    path = write(tmp_path / "hostile.json", cloudtrail_file([rec]))
    result = run_cli("events", path, "--format", "table")
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "\u241b[2J10.0.0.1" in result.stdout  # ESC shown as the control picture
    assert "\u241b]0;pwned\u2407Denied" in result.stdout
    assert "user/\u241b[5mblink" in result.stdout
    # JSON Lines keep the value exactly (escaped by JSON), markup included.
    [event] = json_lines(run_cli("events", path, "--format", "jsonl").stdout)
    assert event["user_agent"] == ANSI_AGENT
    assert "[bold red]markup[/bold red]" in event["user_agent"]


def test_clean_makes_controls_visible_and_leaves_text_alone():
    assert clean("plain [bold red]text[/]") == "plain [bold red]text[/]"
    assert clean("\x1b[31mred") == "\u241b[31mred"
    assert clean("a\tb\nc\rd\x00e\x7f") == "a\u2409b\u240ac\u240dd\u2400e\u2421"
    assert clean("\x9b31m") == "\ufffd31m"  # 8-bit CSI
    assert clean("safe\u202egnp.exe") == "safe\ufffdgnp.exe"  # bidi override
    assert clip("x" * 600, 10) == "x" * 9 + "…"
    assert clip("\x1b" * 3, 10) == "\u241b" * 3
