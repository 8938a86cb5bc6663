"""Inputs that used to lose the whole load, print a traceback, or take memory without bound:
each now costs one sentence (and at most its own record or file), never the rest."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kmstui.core import decode
from kmstui.core.sources import discover

from records import (
    KEY1,
    KEY2,
    REPO,
    cloudtrail_file,
    ids,
    json_lines,
    jsonl,
    key_arn,
    kms,
    load,
    load_file,
    lookup_page,
    new_id,
    rows,
    run_cli,
    run_main,
    write,
)

GOOD = kms("Decrypt", key_arn(KEY1), event_id="00000000-0000-4000-8000-0000000000aa")


def assert_no_traceback(stderr: str) -> None:
    assert "Traceback" not in stderr, stderr


def both_paths(path: Path, monkeypatch) -> list:
    """The batch of ``path`` read by the C scanner (where built) and by the general path."""
    batches = [load_file(str(path), "file")[0]]
    with monkeypatch.context() as patch:
        patch.setattr(decode, "_scan", None)
        batches.append(load_file(str(path), "file")[0])
    return batches


# ---------------------------------------------------------------------------
# Deep nesting


def deep(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_a_record_nested_deeply_costs_only_its_deep_value(tmp_path, depth):
    text = cloudtrail_file([GOOD, kms("Encrypt", key_arn(KEY2), event_id=new_id(), request={"x": "DEEP"})])
    write(tmp_path / "deep.json", text.replace(b'"DEEP"', deep(depth).encode()))
    write(tmp_path / "other.json", cloudtrail_file([kms("GenerateDataKey", key_arn(KEY1), event_id=new_id())]))
    result = run_cli("events", tmp_path, "--format", "raw")
    assert_no_traceback(result.stderr)
    assert result.returncode == 0
    records = json_lines(result.stdout)
    assert sorted(r["eventName"] for r in records) == ["Decrypt", "Encrypt", "GenerateDataKey"]
    [encrypt] = [r for r in records if r["eventName"] == "Encrypt"]
    assert "(nested too deeply)" in json.dumps(encrypt)
    assert f'{tmp_path / "deep.json"}: 1 value nested more than 64 levels deep shown as "(nested too deeply)"' in (
        result.stderr
    )


def test_deep_nesting_in_every_shape_and_both_paths(tmp_path, monkeypatch):
    deep_record = json.loads(json.dumps(kms("Encrypt", key_arn(KEY2), event_id=new_id())))
    shapes = {
        "log.json": cloudtrail_file([GOOD, deep_record]),
        "lines.jsonl": jsonl([GOOD, deep_record]),
        "pretty.json": json.dumps(GOOD, indent=2).encode() + b"\n" + json.dumps(deep_record, indent=2).encode(),
        "lookup.json": json.dumps(lookup_page([GOOD, deep_record])).encode(),
    }
    for name, text in shapes.items():
        marked = text.replace(b'"Encrypt"', b'"Encrypt", "x": ' + deep(2000).encode(), 1)
        if name == "lookup.json":  # inside the CloudTrailEvent string
            marked = text.replace(b'\\"Encrypt\\"', b'\\"Encrypt\\", \\"x\\": ' + deep(2000).encode(), 1)
        path = write(tmp_path / name, marked)
        for batch in both_paths(path, monkeypatch):
            assert batch.sources[0].error is None, (name, batch.sources[0].error)
            assert batch.n == 2, name


# ---------------------------------------------------------------------------
# Lone surrogate escapes

SURROGATE_CASES = {
    "a field kmstui reads": ("userAgent", "agent\\ud800"),
    "a field kmstui does not read": ("extra", "\\udfff"),
    "an escaped backslash before u": ("userAgent", "\\\\ud800"),  # no surrogate at all: kept as text
    "a pair split by text": ("userAgent", "\\ud83dx\\ude00"),
}


def surrogate_records(field: str, escape: str) -> tuple[list[dict], bytes]:
    other = kms("Encrypt", key_arn(KEY2), event_id="00000000-0000-4000-8000-0000000000bb")
    other[field] = "MARK"
    return [GOOD, other], escape.encode()


@pytest.mark.parametrize("case", sorted(SURROGATE_CASES))
@pytest.mark.parametrize("shape", ["delivered", "pretty", "concatenated", "jsonl", "lookup"])
def test_a_lone_surrogate_costs_one_character_on_both_paths(tmp_path, monkeypatch, case, shape):
    records, escape = surrogate_records(*SURROGATE_CASES[case])
    if shape == "delivered":
        text = cloudtrail_file(records)
    elif shape == "pretty":
        text = cloudtrail_file(records, indent=2)
    elif shape == "concatenated":
        text = b"\n".join(json.dumps(r, indent=2).encode() for r in records)
    elif shape == "jsonl":
        text = jsonl(records)
    else:
        text = json.dumps(lookup_page(records)).encode()
    if shape == "lookup":  # inside a JSON string inside JSON: its backslashes are escaped once more
        escape = escape.replace(b"\\", b"\\\\")
    path = write(tmp_path / "log.json", text.replace(b"MARK", escape))
    scanned, general = both_paths(path, monkeypatch)
    for batch in (scanned, general):
        assert batch.sources[0].error is None
        assert batch.n == 2
        assert not batch.sources[0].problems
    assert scanned.vocab["agent"] == general.vocab["agent"]
    index = load(path)  # the detail view and --format raw read the record again
    for row in rows(index):
        json.dumps(index.record(row), ensure_ascii=False).encode()  # writable: no lone surrogate left


def test_a_lone_surrogate_prints_in_every_format(tmp_path, capsys):
    records, escape = surrogate_records("userAgent", "\\ud800")
    path = write(tmp_path / "log.json", cloudtrail_file(records).replace(b"MARK", escape))
    for fmt in ("raw", "jsonl", "csv"):  # the table has no user agent column
        code, out, err = run_main(capsys, "events", path, "--format", fmt)
        assert code == 0, err
        assert "\ufffd" in out, fmt


# ---------------------------------------------------------------------------
# File names that are not UTF-8


@pytest.mark.skipif(sys.platform == "darwin", reason="macOS file systems refuse names that are not UTF-8")
@pytest.mark.parametrize("command", ["events", "trails", "keys"])
@pytest.mark.parametrize("fmt", ["jsonl", "csv", "table"])
def test_a_file_name_that_is_not_utf8(tmp_path, capsys, command, fmt):
    name = os.fsdecode(b"log-\xff\xfe.json")
    write(tmp_path / name, cloudtrail_file([GOOD]))
    code, out, err = run_main(capsys, command, tmp_path, "--format", fmt)
    assert code == 0, err
    if command == "events" and fmt == "jsonl":
        [line] = json_lines(out)
        assert line["origin"] == str(tmp_path / "log-\\xff\\xfe.json")
    if command == "trails":
        assert "log-\\xff\\xfe.json" in out or str(tmp_path) in out


def test_a_bad_file_whose_name_is_not_utf8_is_named_in_its_sentence(tmp_path, capsys):
    write(tmp_path / os.fsdecode(b"bad-\xff.json"), b"not json")
    write(tmp_path / "good.json", cloudtrail_file([GOOD]))
    code, _out, err = run_main(capsys, "events", tmp_path, "--count")
    assert code == 0
    assert f"kmstui: skipped {tmp_path}/bad-\\xff.json: not JSON\n" in err


# ---------------------------------------------------------------------------
# A closed pipe


@pytest.mark.parametrize("fmt", ["raw", "jsonl", "csv", "table"])
def test_every_format_ends_quietly_on_a_closed_pipe(fmt):
    process = subprocess.Popen(
        [sys.executable, "-m", "kmstui", "events", "--demo", "--format", fmt, "-q"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=REPO,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.readline()
    process.stdout.close()  # as `| head -1` does
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=60) == 0
    assert stderr == ""


def test_raw_says_which_records_cannot_be_read_again(tmp_path, capsys):
    from kmstui.core import export

    path = write(tmp_path / "log.json", cloudtrail_file([GOOD]))
    index = load(path)
    path.unlink()  # gone since loading
    said: list[str] = []
    import io

    import numpy as np

    out = io.StringIO()
    export.write_raw(out, index, np.array(rows(index)), said.append)
    assert out.getvalue() == ""
    assert said == [f"1 record could not be read again and was left out ({path} can no longer be read)"]


# ---------------------------------------------------------------------------
# Gzip


def test_every_member_of_a_multi_member_gzip_of_equal_sizes_is_read(tmp_path):
    one = cloudtrail_file([kms("Decrypt", key_arn(KEY1), event_id="00000000-0000-4000-8000-000000000001")])
    two = cloudtrail_file([kms("Decrypt", key_arn(KEY1), event_id="00000000-0000-4000-8000-000000000002")])
    assert len(one) == len(two)
    path = write(tmp_path / "log.json.gz", gzip.compress(one) + gzip.compress(two))
    _batch, source = load_file(str(path))
    assert source.error is None
    # the members together are two log files back to back: concatenated documents
    assert ids(load(path)) == {"00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002"}


def test_gzip_with_other_data_after_its_end_is_skipped_with_a_sentence(tmp_path):
    path = write(tmp_path / "log.json.gz", gzip.compress(cloudtrail_file([GOOD])) + b"garbage")
    assert load_file(str(path))[1].error == "truncated or corrupt gzip (other data after the end)"
    padded = write(tmp_path / "padded.json.gz", gzip.compress(cloudtrail_file([GOOD])) + b"\0" * 512)
    assert load_file(str(padded))[1].error is None


# ---------------------------------------------------------------------------
# Symbolic links to directories


def test_a_directory_reached_through_a_symlink_is_read_once(tmp_path):
    write(tmp_path / "real" / "log.json", cloudtrail_file([GOOD]))
    (tmp_path / "top").mkdir()
    (tmp_path / "top" / "linked").symlink_to(tmp_path / "real", target_is_directory=True)
    (tmp_path / "top" / "again").symlink_to(tmp_path / "real", target_is_directory=True)
    (tmp_path / "top" / "loop").symlink_to(tmp_path / "top", target_is_directory=True)
    files, problems = discover([str(tmp_path / "top")])
    assert problems == []
    assert len(files) == 1
    assert ids(load(tmp_path / "top")) == {GOOD["eventID"]}


# ---------------------------------------------------------------------------
# The explorer without a terminal; a mistyped command


NO_TERMINAL = (
    "kmstui: the explorer needs a terminal: for scripts, pipes and cron use the headless commands, "
    "kmstui events, kmstui keys or kmstui trails (see kmstui events --help)\n"
)


@pytest.mark.parametrize("args", [["--demo"], [], ["-"]])
def test_the_explorer_without_a_terminal_says_so_and_exits_2(args):
    started = time.monotonic()
    result = run_cli(*args)
    assert result.returncode == 2
    assert result.stderr == NO_TERMINAL
    assert result.stdout == ""
    assert time.monotonic() - started < 30


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero here")
def test_the_explorer_with_only_refused_standard_input_exits_2(tmp_path):
    import pty

    controller, terminal = pty.openpty()  # a terminal for its output, as a user's would be
    try:
        with open("/dev/zero", "rb") as zero:
            result = subprocess.run(
                [sys.executable, "-m", "kmstui", "--max-input", "1M"],
                stdin=zero,
                stdout=terminal,
                stderr=subprocess.PIPE,
                cwd=REPO,
                timeout=60,
                env={**os.environ, "TMPDIR": str(tmp_path)},
            )
    finally:
        os.close(controller)
        os.close(terminal)
    assert result.returncode == 2
    assert result.stderr.decode() == (
        f"kmstui: skipped standard input: it holds more than 1M, {LIMIT_SENTENCE}\n"
        "kmstui: nothing could be loaded (no readable sources)\n"
    )


@pytest.mark.parametrize(("typed", "meant"), [("event", "events"), ("key", "keys"), ("trial", "trails")])
def test_a_mistyped_command_is_told_did_you_mean(typed, meant):
    result = run_cli(typed, "--demo")
    assert result.returncode == 2
    assert result.stderr == f"kmstui: {typed}: no such command or file (did you mean kmstui {meant}?)\n"


def test_a_file_named_like_a_command_is_a_source(tmp_path):
    write(tmp_path / "event", cloudtrail_file([GOOD]))
    result = run_cli("event", cwd=tmp_path)
    assert "did you mean" not in result.stderr
    assert result.stderr == NO_TERMINAL  # it went on to the explorer


# ---------------------------------------------------------------------------
# Bounds


def padded_log(size: int) -> bytes:
    """A valid log file of about ``size`` bytes (spaces inside it), that gzip shrinks to little."""
    text = cloudtrail_file([GOOD])
    return text[:-2] + b" " * max(0, size - len(text)) + text[-2:]


LIMIT_SENTENCE = "the limit for one input (raise it with --max-input or KMSTUI_MAX_INPUT)"


def test_a_gzip_bomb_is_refused_at_the_limit_and_loads_when_it_is_raised(tmp_path, capsys):
    bomb = write(tmp_path / "bomb.json.gz", gzip.compress(padded_log(3 << 20)))
    write(tmp_path / "good.json", cloudtrail_file([kms("Encrypt", key_arn(KEY2), event_id=new_id())]))
    assert bomb.stat().st_size < 10_000
    code, out, err = run_main(capsys, "events", tmp_path, "--max-input", "1M", "--count")
    assert code == 0
    assert out == "1\n"
    assert f"kmstui: skipped {bomb}: it gunzips to more than 1M, {LIMIT_SENTENCE}\n" in err
    code, out, _err = run_main(capsys, "events", tmp_path, "--max-input", "4M", "--count")
    assert out == "2\n"


def test_the_limit_reaches_worker_processes_through_the_environment(tmp_path, monkeypatch):
    bomb = write(tmp_path / "bomb.json.gz", gzip.compress(padded_log(2 << 20)))
    monkeypatch.setenv("KMSTUI_MAX_INPUT", "1M")
    assert load_file(str(bomb))[1].error == f"it gunzips to more than 1M, {LIMIT_SENTENCE}"
    monkeypatch.setenv("KMSTUI_MAX_INPUT", "3M")
    assert load_file(str(bomb))[1].error is None


def test_a_plain_file_over_the_limit_is_refused_before_it_is_read(tmp_path, monkeypatch):
    big = write(tmp_path / "big.json", padded_log(2 << 20))
    monkeypatch.setenv("KMSTUI_MAX_INPUT", "1M")
    assert load_file(str(big))[1].error == f"it holds more than 1M, {LIMIT_SENTENCE}"


def test_the_limit_is_for_inputs_not_for_the_cache_kmstui_writes_itself(tmp_path, monkeypatch):
    from kmstui.core import loader
    from kmstui.core.index import EventIndex
    from kmstui.core.sources import SourceFile

    cache = write(tmp_path / "cache.jsonl", jsonl([GOOD]) + b" " * (2 << 20))
    monkeypatch.setenv("KMSTUI_MAX_INPUT", "1M")
    index = EventIndex()
    loader.load(index, [SourceFile(str(cache), "LookupEvents us-east-1", growing=True)], refresh_every=None)
    [row] = rows(index)
    assert index.record(row)["eventID"] == GOOD["eventID"]  # and read again, as the detail view does


def test_a_bad_limit_is_a_usage_error(capsys):
    code, _out, err = run_main(capsys, "events", "--demo", "--max-input", "lots")
    assert code == 2
    assert "argument --max-input: not a size: 'lots' (write it like 512M or 2G)" in err


NOT_REGULAR = "kmstui reads files, directories and standard input"


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero here")
def test_devices_and_named_pipes_are_refused_with_a_sentence(tmp_path, capsys):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # nobody writes to it: opening it must not wait
    inside = tmp_path / "dir"
    write(inside / "good.json", cloudtrail_file([GOOD]))
    os.mkfifo(inside / "pipe.json")
    code, out, err = run_main(capsys, "events", "/dev/zero", fifo, inside, "--count")
    assert code == 0
    assert out == "1\n"
    assert f"kmstui: skipped /dev/zero: not a regular file (a device): {NOT_REGULAR}\n" in err
    assert f"kmstui: skipped {fifo}: not a regular file (a named pipe): {NOT_REGULAR}\n" in err
    assert f"kmstui: skipped {inside}/pipe.json: not a regular file (a named pipe): {NOT_REGULAR}\n" in err


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero here")
def test_standard_input_over_the_limit_is_refused(tmp_path):
    with open("/dev/zero", "rb") as zero:
        result = subprocess.run(
            [sys.executable, "-m", "kmstui", "events", "-", "--max-input", "2M", "--count"],
            stdin=zero,
            capture_output=True,
            cwd=REPO,
            timeout=60,
            env={**os.environ, "TMPDIR": str(tmp_path)},
        )
    assert result.returncode == 2
    assert result.stderr.decode() == (
        f"kmstui: skipped standard input: it holds more than 2M, {LIMIT_SENTENCE}\n"
        "kmstui: nothing could be loaded (no readable sources)\n"
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_the_standard_input_spool_is_removed_on_sigterm(tmp_path, sig):
    process = subprocess.Popen(
        [sys.executable, "-m", "kmstui", "events", "-", "--count"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=REPO,
        env={**os.environ, "TMPDIR": str(tmp_path)},
        # as a terminal starts it: under nohup (SIGHUP ignored) kmstui rightly keeps ignoring it
        preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_DFL),
    )
    assert process.stdin is not None
    process.stdin.write(cloudtrail_file([GOOD])[:-5])  # and keep the pipe open: kmstui is spooling
    process.stdin.flush()
    deadline = time.monotonic() + 30
    while not list(tmp_path.glob("kmstui-*/stdin-*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(tmp_path.glob("kmstui-*/stdin-*")), "the spool file never appeared"
    process.send_signal(sig)
    assert process.wait(timeout=30) == -sig
    process.stdin.close()
    assert list(tmp_path.iterdir()) == []


def test_the_standard_input_spool_is_removed_on_a_normal_exit(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "kmstui", "events", "-", "--count"],
        input=cloudtrail_file([GOOD]),
        capture_output=True,
        cwd=REPO,
        timeout=60,
        env={**os.environ, "TMPDIR": str(tmp_path)},
    )
    assert result.stdout == b"1\n"
    assert list(tmp_path.iterdir()) == []


def test_many_tiny_json_lines_take_memory_in_proportion(tmp_path):
    """Two million tiny lines took 8.4 times their size: every record was decoded into a typed
    record at once (~500 bytes each). Now a chunk at a time: peak under 3.5 times the input."""
    tiny = {"eventSource": "kms.amazonaws.com", "eventName": "Decrypt", "eventTime": "2024-05-01T12:00:00Z"}
    line = json.dumps({**tiny, "eventID": "00000000-0000-4000-8000-000000000000"}, separators=(",", ":"))
    count = 300_000
    with open(tmp_path / "tiny.jsonl", "w") as out:
        for n in range(count):
            out.write(line.replace("000000000000", f"{n:012d}") + "\n")
    size = (tmp_path / "tiny.jsonl").stat().st_size
    script = (
        "import resource, sys\n"
        "from kmstui.core.decode import load_many\n"
        "from kmstui.core.sources import SourceFile\n"
        "base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "batch = load_many([SourceFile(sys.argv[1], sys.argv[1])])\n"
        "assert batch.n == int(sys.argv[2]), batch.n\n"
        "print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) * 1024)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "tiny.jsonl"), str(count)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    grown = int(result.stdout)
    assert grown < 3.5 * size, f"{grown / size:.1f} times the input"
