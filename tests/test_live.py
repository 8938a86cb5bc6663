"""kmstui --lookup against loopback AWS: moto for trails and keys, our own LookupEvents endpoint.

No test here talks to AWS. boto3 reaches the fakes through the standard credential chain
and the AWS_ENDPOINT_URL_* variables the aws_endpoints fixture sets.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import stat
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest

from records import ACCOUNT, KEY1, KEY2, key_arn, kms, new_id, run_main

pytestmark = pytest.mark.slow

NOW = datetime.now(UTC).replace(microsecond=0)  # set again as each test starts (_now)


def at(minutes_ago: float) -> str:
    return (NOW - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def decrypts(count: int, region: str = "us-east-1", key: str = KEY1, start: int = 1) -> list[dict]:
    arn = key_arn(key, region=region)
    return [kms("Decrypt", arn, time=at(start + i), region=region) for i in range(count)]


@pytest.fixture(autouse=True)
def _now():
    """NOW is when each test starts. Taken once at import, it was minutes old by the time a
    test late in the suite ran, and its events "1 to 7 minutes ago" fell behind the cache's
    10 minutes of overlap: the next run rightly did not ask for them, and the test failed."""
    global NOW
    NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(autouse=True)
def private_cache(monkeypatch, tmp_path):
    """Each test its own cache directory (platformdirs honours XDG_CACHE_HOME)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "kmstui" / "lookup"


def trails_by_name(capsys) -> dict[str, dict]:
    """`kmstui trails --lookup` in us-east-1, each row by the last part of its name."""
    code, out, err = run_main(capsys, "trails", "--lookup", "--region", "us-east-1", "--format", "jsonl")
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    return {row["trail"].rsplit("/", 1)[-1]: row for row in rows}


def events(capsys, *args) -> tuple[int, list[dict], str]:
    code, out, err = run_main(capsys, "events", "--lookup", "--format", "jsonl", *args)
    return code, [json.loads(line) for line in out.splitlines() if line.strip()], err


class TestPaging:
    def test_every_page_once_newest_first(self, aws_endpoints, capsys):
        aws_endpoints.cloudtrail.add_records("us-east-1", decrypts(230))
        code, rows, err = events(capsys, "--region", "us-east-1")
        assert code == 0, err
        assert len(rows) == 230 and len({r["event_id"] for r in rows}) == 230
        assert [r["time"] for r in rows] == sorted((r["time"] for r in rows), reverse=True)
        kms_requests = [
            r
            for r in aws_endpoints.cloudtrail.lookups("us-east-1")
            if r.body["LookupAttributes"][0]["AttributeValue"] == "kms.amazonaws.com"
        ]
        assert len(kms_requests) == 5  # 50 a page
        assert all(len(r.body["LookupAttributes"]) == 1 for r in aws_endpoints.cloudtrail.lookups())
        assert "Traceback" not in err

    def test_throttling_is_waited_out_and_never_an_error(self, aws_endpoints, capsys):
        aws_endpoints.cloudtrail.add_records("us-east-1", decrypts(120))
        aws_endpoints.cloudtrail.throttle(every=2)
        code, rows, err = events(capsys, "--region", "us-east-1")
        assert code == 0, err
        assert len({r["event_id"] for r in rows}) == 120
        assert any(r.throttled for r in aws_endpoints.cloudtrail.lookups())
        assert "Throttl" not in err and "Rate exceeded" not in err

    def test_regions_side_by_side_each_within_its_rate(self, aws_endpoints, aws_pace, capsys):
        """At AWS's quota, as kmstui runs by default: at most 2 requests in any second, per region."""
        aws_endpoints.cloudtrail.add_records("us-east-1", decrypts(110, "us-east-1"))
        aws_endpoints.cloudtrail.add_records("eu-west-1", decrypts(60, "eu-west-1"))
        code, rows, err = events(capsys, "--region", "us-east-1", "--region", "eu-west-1")
        assert code == 0, err
        assert {r["region"] for r in rows} == {"us-east-1", "eu-west-1"}
        assert len(rows) == 170
        for region in ("us-east-1", "eu-west-1"):
            assert aws_endpoints.cloudtrail.max_rate(ACCOUNT, region) <= 2


class TestPushdown:
    def test_a_key_arn_is_asked_for_by_resource_name(self, aws_endpoints, capsys):
        aws_endpoints.cloudtrail.add_records("us-east-1", decrypts(30, key=KEY1) + decrypts(30, key=KEY2, start=100))
        code, rows, err = events(capsys, "--region", "us-east-1", "--filter", f"key:{key_arn(KEY1)}")
        assert code == 0, err
        assert len(rows) == 30
        attributes = [r.body["LookupAttributes"][0] for r in aws_endpoints.cloudtrail.lookups()]
        assert {"AttributeKey": "ResourceName", "AttributeValue": key_arn(KEY1)} in attributes
        assert "ResourceName=" in err

    def test_a_key_id_becomes_the_exact_arn_with_the_account(self, aws_endpoints, capsys):
        aws_endpoints.cloudtrail.add_records("us-east-1", decrypts(10, key=KEY1))
        code, _rows, err = events(capsys, "--region", "us-east-1", "--filter", f"key:{KEY1}")
        assert code == 0, err
        attributes = [r.body["LookupAttributes"][0] for r in aws_endpoints.cloudtrail.lookups()]
        assert {"AttributeKey": "ResourceName", "AttributeValue": key_arn(KEY1)} in attributes

    def test_an_exact_event_name_is_asked_for_by_event_name(self, aws_endpoints, capsys):
        records = [*decrypts(20), kms("ScheduleKeyDeletion", key_arn(KEY2), time=at(200), read_only=False)]
        aws_endpoints.cloudtrail.add_records("us-east-1", records)
        code, rows, err = events(capsys, "--region", "us-east-1", "--filter", "event:ScheduleKeyDeletion")
        assert code == 0, err
        assert [r["event"] for r in rows] == ["ScheduleKeyDeletion"]
        attributes = [r.body["LookupAttributes"][0] for r in aws_endpoints.cloudtrail.lookups()]
        assert {"AttributeKey": "EventName", "AttributeValue": "ScheduleKeyDeletion"} in attributes

    @pytest.mark.parametrize(
        "expression", ["event:GenerateDataKey", "key:1234abcd", "-event:Decrypt", "event:Decrypt,Encrypt"]
    )
    def test_a_filter_the_server_cannot_match_exactly_stays_on_the_client(self, aws_endpoints, capsys, expression):
        """GenerateDataKey is also part of GenerateDataKeyPair...; a partial key id is not an ARN."""
        aws_endpoints.cloudtrail.add_records("us-east-1", decrypts(5))
        code, _rows, err = events(capsys, "--region", "us-east-1", "--filter", expression)
        assert code == 0, err
        kms_lookups = [
            r
            for r in aws_endpoints.cloudtrail.lookups()
            if r.body["LookupAttributes"][0]["AttributeValue"] != "cloudtrail.amazonaws.com"
        ]
        assert kms_lookups and all(r.body["LookupAttributes"][0]["AttributeKey"] == "EventSource" for r in kms_lookups)


class TestCache:
    def test_first_run_writes_a_private_cache_and_the_next_asks_only_for_newer(
        self, aws_endpoints, capsys, private_cache
    ):
        aws_endpoints.cloudtrail.add_records("us-east-1", decrypts(80, start=30))
        code, rows, err = events(capsys, "--region", "us-east-1")
        assert code == 0, err
        assert len(rows) == 80
        files = sorted(private_cache.iterdir())
        assert files, "a cache file per region and pass"
        assert stat.S_IMODE(os.stat(private_cache).st_mode) == 0o700
        for path in files:
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path
        first = len(aws_endpoints.cloudtrail.lookups())

        aws_endpoints.cloudtrail.add_records("us-east-1", decrypts(7, start=1))  # newer events arrive
        code, rows, err = events(capsys, "--region", "us-east-1")
        assert code == 0, err
        assert len({r["event_id"] for r in rows}) == 87
        later = aws_endpoints.cloudtrail.lookups()[first:]
        kms_later = [r for r in later if r.body["LookupAttributes"][0]["AttributeValue"] == "kms.amazonaws.com"]
        assert len(kms_later) == 1  # one page: only the window newer than the cache (with a small overlap)
        start = datetime.fromtimestamp(kms_later[0].body["StartTime"], UTC)
        assert start > NOW - timedelta(minutes=30)

    def test_no_cache_leaves_nothing_behind(self, aws_endpoints, capsys, private_cache):
        aws_endpoints.cloudtrail.add_records("us-east-1", decrypts(10))
        code, rows, err = events(capsys, "--region", "us-east-1", "--no-cache")
        assert code == 0, err
        assert len(rows) == 10
        assert not private_cache.exists() or not any(private_cache.iterdir())

    def test_a_pushed_down_lookup_never_writes_the_regions_cache(self, aws_endpoints, capsys, private_cache):
        """One key's events (ResourceName) in the region's cache would make it claim a window
        it does not hold: the next full lookup must still fetch every event."""
        aws_endpoints.cloudtrail.add_records("us-east-1", decrypts(20, key=KEY1) + decrypts(20, key=KEY2, start=100))
        code, rows, err = events(capsys, "--region", "us-east-1", "--filter", f"key:{key_arn(KEY1)}")
        assert code == 0, err
        assert len(rows) == 20
        assert not list(private_cache.glob("*kms*")), "a pushed-down subset is kept for this run only"
        code, rows, err = events(capsys, "--region", "us-east-1")
        assert code == 0, err
        assert len(rows) == 40

    def test_clear_cache(self, aws_endpoints, capsys, private_cache):
        aws_endpoints.cloudtrail.add_records("us-east-1", decrypts(10))
        events(capsys, "--region", "us-east-1")
        assert any(private_cache.iterdir())
        code, _out, err = run_main(capsys, "--clear-cache")
        assert code == 0 and "removed" in err
        assert not any(private_cache.iterdir())

    def test_the_detail_view_reads_records_back_from_the_cache(self, aws_endpoints, capsys):
        aws_endpoints.cloudtrail.add_records("us-east-1", decrypts(3))
        code, out, err = run_main(capsys, "events", "--lookup", "--region", "us-east-1", "--format", "raw")
        assert code == 0, err
        records = [json.loads(line) for line in out.splitlines()]
        assert len(records) == 3 and all(r["eventName"] == "Decrypt" for r in records)


KMS_CACHE = f"{ACCOUNT}-us-east-1-kms"  # the name of us-east-1's KMS cache files


def kmstui_process(*args: str) -> subprocess.Popen:
    """kmstui in a process of its own (the environment points it at the fakes)."""
    return subprocess.Popen(
        [sys.executable, "-m", "kmstui", "events", "--lookup", "--region", "us-east-1", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(condition, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "waited too long"
        time.sleep(0.05)


def consistent(capsys, count: int) -> list[dict]:
    """A run's rows: `count` distinct events, and the raw record read back for each row is
    that row's own (the cache's data and its record of it agree)."""
    code, rows, err = events(capsys, "--region", "us-east-1")
    assert code == 0, err
    ids = [r["event_id"] for r in rows]
    assert len(ids) == count and len(set(ids)) == count, err
    code, out, err = run_main(capsys, "events", "--lookup", "--region", "us-east-1", "--format", "raw")
    assert code == 0, err
    assert [json.loads(line)["eventID"] for line in out.splitlines()] == ids
    return rows


# Four pages: two fetched before the break, then the two after it (where paging resumes, and
# goes on from there). More pages only add turns of the 2-a-second pace.
RESUMED = 200


class TestCacheHonesty:
    """The cache claims only what it holds, whatever stops a run, and two runs never corrupt it."""

    def test_a_500_on_page_three_leaves_the_rest_to_be_fetched(self, aws_endpoints, capsys):
        aws_endpoints.cloudtrail.add_records("us-east-1", decrypts(RESUMED))
        aws_endpoints.cloudtrail.fail_next("InternalFailure", "We encountered an internal error", 500, after=2)
        code, rows, err = events(capsys, "--region", "us-east-1")
        assert code == 0 and len(rows) == 100
        assert "LookupEvents in us-east-1 failed: InternalFailure" in err
        consistent(capsys, RESUMED)

    def test_a_reset_connection_leaves_the_rest_to_be_fetched(self, aws_endpoints, capsys):
        aws_endpoints.cloudtrail.add_records("us-east-1", decrypts(RESUMED))
        aws_endpoints.cloudtrail.reset_next(after=2)
        code, rows, err = events(capsys, "--region", "us-east-1")
        assert code == 0 and len(rows) == 100
        assert "connection to AWS in us-east-1 was closed" in err and "Traceback" not in err
        consistent(capsys, RESUMED)

    def test_a_read_timeout_says_so_and_leaves_the_rest_to_be_fetched(self, aws_endpoints, capsys):
        from kmstui.core.index import EventIndex
        from kmstui.core.live import LiveLoader, LiveOptions

        seeded = decrypts(RESUMED)
        aws_endpoints.cloudtrail.add_records("us-east-1", seeded)
        aws_endpoints.cloudtrail.stall_next(5, after=2)
        loader = LiveLoader(EventIndex(), LiveOptions(regions=["us-east-1"], read_timeout=1))
        assert loader.prepare() == []
        loader.fetch(inventory=False)
        assert loader.progress.events == 100
        assert loader.problems == ["LookupEvents in us-east-1 timed out: AWS did not answer in time; try again later."]
        aws_endpoints.cloudtrail.reset()  # the stalled answer goes now
        aws_endpoints.cloudtrail.add_records("us-east-1", seeded)
        consistent(capsys, RESUMED)

    @pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "kill"])
    def test_a_run_stopped_half_way_leaves_the_rest_to_be_fetched(self, aws_endpoints, capsys, stop):
        aws_endpoints.cloudtrail.add_records("us-east-1", decrypts(RESUMED))
        aws_endpoints.cloudtrail.hold(after=2)  # two pages, then the third waits
        process = kmstui_process("--format", "jsonl")
        try:
            wait_for(lambda: len(aws_endpoints.cloudtrail.lookups()) >= 2)
            time.sleep(0.5)  # the second page committed
            process.send_signal(stop)
            _out, err = process.communicate(timeout=30)
            assert "Traceback" not in err
        finally:
            process.kill()
            aws_endpoints.cloudtrail.release()
        consistent(capsys, RESUMED)

    @pytest.mark.parametrize("fault", [None, "500"])
    def test_two_processes_at_once_share_the_pace_and_the_cache(self, aws_pace, capsys, fault):
        """Both write the cache at once; with a 500 on a next page after the second request one
        of them stops half way: the other's whole range and its partial one leave no gap for
        the next. At AWS's own pace: at the fakes' quick one the arrival times' jitter fills a
        0.2 s window with a third request. The fault waits for a next page: on a busy machine
        one process could make two requests before the other had started, and a fault on the
        other's first request left it nothing to load (exit 2, as it should, but not this test)."""
        aws_endpoints = aws_pace
        aws_endpoints.cloudtrail.add_records("us-east-1", decrypts(200))
        if fault:
            aws_endpoints.cloudtrail.fail_next("InternalFailure", "internal error", 500, after=2, paged=True)
        processes = [kmstui_process("--format", "jsonl") for _ in range(2)]
        loaded = []
        for process in processes:
            out, err = process.communicate(timeout=120)
            assert process.returncode == 0, err
            loaded.append(len({json.loads(line)["event_id"] for line in out.splitlines()}))
        assert loaded == [200, 200] if not fault else 200 in loaded and min(loaded) < 200
        times = sorted(aws_endpoints.cloudtrail.request_times(ACCOUNT, "us-east-1"))
        spacing = [round(b - a, 3) for a, b in itertools.pairwise(times)]
        # two in each span of the pace (a second at AWS's rate), for both together
        assert aws_endpoints.cloudtrail.max_rate(ACCOUNT, "us-east-1", window=aws_endpoints.pace_window) <= 2, spacing
        consistent(capsys, 200)

    def test_a_writer_killed_between_data_and_commit(self, aws_endpoints, capsys, private_cache):
        """Lines appended to the data without a commit (a writer killed there) are not events."""
        aws_endpoints.cloudtrail.add_records("us-east-1", decrypts(80, start=30))
        events(capsys, "--region", "us-east-1")
        foreign = kms("Decrypt", key_arn(KEY2), time=at(20))
        with open(private_cache / f"{KMS_CACHE}.jsonl", "a") as data:
            line = {"EventId": foreign["eventID"], "EventTime": at(20), "CloudTrailEvent": json.dumps(foreign)}
            data.write(json.dumps(line) + "\n")
        aws_endpoints.cloudtrail.add_records("us-east-1", decrypts(7, start=1))
        rows = consistent(capsys, 87)
        assert foreign["eventID"] not in {r["event_id"] for r in rows}

    @pytest.mark.parametrize("damage", ["truncated", "garbage", "meta"])
    def test_a_damaged_cache_is_noticed_and_fetched_again(self, aws_endpoints, capsys, private_cache, damage):
        aws_endpoints.cloudtrail.add_records("us-east-1", decrypts(80))
        events(capsys, "--region", "us-east-1")
        data = private_cache / f"{KMS_CACHE}.jsonl"
        content = data.read_bytes()
        if damage == "truncated":
            data.write_bytes(content[: len(content) // 2])
        elif damage == "garbage":
            middle = len(content) // 2
            data.write_bytes(content[:middle] + b"\0garbage\0" + content[middle + 9 :])
        else:
            (private_cache / f"{KMS_CACHE}.meta.json").write_text("{not json")
        code, rows, err = events(capsys, "--region", "us-east-1")
        assert code == 0 and len({r["event_id"] for r in rows}) == len(rows) == 80
        assert "did not match their commit record (truncated or altered): fetched again" in err
        consistent(capsys, 80)

    @pytest.mark.parametrize("which", ["jsonl", "meta.json", "lock"])
    def test_a_symlinked_cache_file_is_refused_and_its_target_untouched(
        self, aws_endpoints, capsys, private_cache, tmp_path, which
    ):
        aws_endpoints.cloudtrail.add_records("us-east-1", decrypts(10))
        victim = tmp_path / "victim"
        victim.write_text("precious")
        victim.chmod(0o644)
        private_cache.mkdir(parents=True, mode=0o700)
        (private_cache / f"{KMS_CACHE}.{which}").symlink_to(victim)
        code, rows, err = events(capsys, "--region", "us-east-1")
        assert code == 0 and len(rows) == 10
        assert f"The cache of LookupEvents events of us-east-1 is not used ({private_cache}" in err
        assert "is a symbolic link" in err
        assert victim.read_text() == "precious" and stat.S_IMODE(victim.stat().st_mode) == 0o644
        consistent(capsys, 10)  # every run refuses it, and still loads

    def test_a_symlinked_cache_folder_is_refused(self, aws_endpoints, capsys, private_cache, tmp_path):
        aws_endpoints.cloudtrail.add_records("us-east-1", decrypts(10))
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir(mode=0o755)
        private_cache.parent.mkdir(parents=True)
        private_cache.symlink_to(elsewhere)
        code, rows, err = events(capsys, "--region", "us-east-1")
        assert code == 0 and len(rows) == 10
        assert f"is not used ({private_cache} is a symbolic link)" in err
        assert not any(elsewhere.iterdir()) and stat.S_IMODE(elsewhere.stat().st_mode) == 0o755

    @pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
    def test_a_cache_file_of_another_user_is_refused(self, aws_endpoints, capsys, private_cache):
        aws_endpoints.cloudtrail.add_records("us-east-1", decrypts(10))
        events(capsys, "--region", "us-east-1")
        meta = private_cache / f"{KMS_CACHE}.meta.json"
        before = meta.read_bytes()
        os.chown(meta, 65534, 65534)
        code, rows, err = events(capsys, "--region", "us-east-1")
        assert code == 0 and len(rows) == 10
        assert "belongs to another user" in err
        assert meta.read_bytes() == before and meta.stat().st_uid == 65534

    def test_a_cache_of_an_older_kmstui_starts_again_quietly(self, aws_endpoints, capsys, private_cache):
        aws_endpoints.cloudtrail.add_records("us-east-1", decrypts(10))
        private_cache.mkdir(parents=True, mode=0o700)
        (private_cache / f"{KMS_CACHE}.jsonl").write_text('{"EventId": "old"}\n')
        (private_cache / f"{KMS_CACHE}.meta.json").write_text(
            json.dumps({"oldest": at(60), "newest": at(0), "lines": 1, "recent_ids": ["old"]})
        )
        code, rows, err = events(capsys, "--region", "us-east-1")
        assert code == 0 and len(rows) == 10
        assert "commit record" not in err and "not used" not in err


class TestLookupFaults:
    def test_a_next_token_that_repeats_stops_with_a_sentence(self, aws_endpoints, capsys):
        aws_endpoints.cloudtrail.add_records("us-east-1", decrypts(120))
        for cycle in (1, 3):
            aws_endpoints.cloudtrail.loop_tokens(cycle)
            process = kmstui_process("--format", "jsonl", "--no-cache")
            try:
                out, err = process.communicate(timeout=60)
            finally:
                process.kill()
            assert process.returncode == 0, err
            assert len({json.loads(line)["event_id"] for line in out.splitlines()}) == 50
            assert "LookupEvents in us-east-1 sent a NextToken it had already sent (paging in a loop)" in err
            assert len(aws_endpoints.cloudtrail.lookups()) <= 2 * (cycle + 1)  # both passes
            aws_endpoints.cloudtrail.requests.clear()

    def test_slow_down_is_waited_out_like_throttling(self, aws_endpoints, capsys):
        aws_endpoints.cloudtrail.add_records("us-east-1", decrypts(60))
        aws_endpoints.cloudtrail.fail_next("SlowDown", "Please reduce your request rate.", 503, count=2, after=1)
        code, rows, err = events(capsys, "--region", "us-east-1")
        assert code == 0, err
        assert len({r["event_id"] for r in rows}) == 60
        assert "SlowDown" not in err and "failed" not in err

    def test_a_page_that_is_not_json_is_a_sentence_not_an_empty_page(self, aws_endpoints, capsys):
        aws_endpoints.cloudtrail.add_records("us-east-1", decrypts(120))
        aws_endpoints.cloudtrail.answer_next(b"<html><body>Service Unavailable</body></html>", after=1)
        code, rows, err = events(capsys, "--region", "us-east-1")
        assert code == 0 and len(rows) == 50
        assert "LookupEvents in us-east-1 answered with something that is not a page of events (not JSON)" in err
        consistent(capsys, 120)  # and the cache does not claim what it never got

    def test_a_cloudtrail_event_that_is_not_an_object_is_dropped_and_said(self, aws_endpoints, capsys):
        aws_endpoints.cloudtrail.add_records("us-east-1", decrypts(3))
        when = int((NOW - timedelta(minutes=10)).timestamp())
        aws_endpoints.cloudtrail.add_events(
            "us-east-1",
            [
                {"EventId": f"bad-{i}", "EventTime": when, "EventSource": "kms.amazonaws.com", "CloudTrailEvent": text}
                for i, text in enumerate(["[1, 2]", "not json", '"a string"'])
            ],
        )
        code, rows, err = events(capsys, "--region", "us-east-1")
        assert code == 0 and len(rows) == 3
        assert "LookupEvents in us-east-1 sent 3 events whose CloudTrailEvent is not a JSON object: dropped." in err

    def test_a_hostile_cloudtrail_event_costs_at_most_its_own_text(self, aws_endpoints, capsys):
        """A lone surrogate escape and nesting deeper than any decoder's stack, inside the
        CloudTrailEvent a page carries: repaired as the file loaders repair them, never a
        traceback, and every event still loads (and prints)."""
        aws_endpoints.cloudtrail.add_records("us-east-1", decrypts(3))
        base = kms("Decrypt", key_arn(KEY2), time=at(5))
        lone = json.dumps({**base, "eventID": new_id(), "userAgent": "MARK"}).replace('"MARK"', '"agent \\ud800"')
        deep = json.dumps({**base, "eventID": new_id(), "userAgent": "MARK"}).replace('"MARK"', "[" * 5000 + "]" * 5000)
        when = int((NOW - timedelta(minutes=10)).timestamp())
        aws_endpoints.cloudtrail.add_events(
            "us-east-1",
            [
                {"EventId": f"odd-{i}", "EventTime": when, "EventSource": "kms.amazonaws.com", "CloudTrailEvent": text}
                for i, text in enumerate([lone, deep])
            ],
        )
        code, rows, err = events(capsys, "--region", "us-east-1")
        assert code == 0, err
        assert "Traceback" not in err and "not a JSON object" not in err
        assert len(rows) == 5
        assert "agent \ufffd" in {row["user_agent"] for row in rows}
        code, out, err = run_main(capsys, "events", "--lookup", "--region", "us-east-1", "--format", "raw", "-q")
        assert code == 0 and "Traceback" not in err
        assert len(out.splitlines()) == 5 and "(nested too deeply)" in out

    def test_events_outside_the_time_range_are_dropped_and_counted(self, aws_endpoints, capsys):
        aws_endpoints.cloudtrail.ignore_time_range = True  # an endpoint that answers more than asked
        ahead = kms("Decrypt", key_arn(KEY2), time=(NOW + timedelta(days=365)).strftime("%Y-%m-%dT%H:%M:%SZ"))
        behind = kms("Decrypt", key_arn(KEY2), time=at(3 * 24 * 60))
        aws_endpoints.cloudtrail.add_records("us-east-1", [*decrypts(5), ahead, behind])
        code, rows, err = events(capsys, "--region", "us-east-1", "--since", "1d")
        assert code == 0 and len(rows) == 5
        assert "LookupEvents in us-east-1 sent 2 events outside the time range asked for: dropped." in err
        code, rows, err = events(capsys, "--region", "us-east-1", "--since", "1d", "--filter", "since:1h")
        assert code == 0 and len(rows) == 5


class TestErrors:
    def _one_sentence(self, code, err, *words):
        assert code == 2
        assert "Traceback" not in err
        lines = [line for line in err.splitlines() if line.startswith("kmstui: ")]
        assert lines, err
        assert all(word in err for word in words), err

    def test_no_credentials(self, aws_endpoints, capsys, monkeypatch):
        monkeypatch.delenv("AWS_ACCESS_KEY_ID")
        monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
        code, _out, err = run_main(capsys, "events", "--lookup")
        self._one_sentence(code, err, "No AWS credentials found")

    def test_expired_credentials(self, aws_endpoints, capsys):
        aws_endpoints.cloudtrail.add_records("us-east-1", decrypts(3))
        aws_endpoints.cloudtrail.fail_next(
            "ExpiredTokenException", "The security token included in the request is expired", status=403, count=20
        )  # every call: the credentials themselves expired
        code, _out, err = run_main(capsys, "events", "--lookup", "--region", "us-east-1")
        self._one_sentence(code, err, "The AWS credentials have expired")

    def test_access_denied_on_lookup_events(self, aws_endpoints, capsys):
        aws_endpoints.cloudtrail.fail_next(
            "AccessDeniedException", "not authorized", status=400, operation="LookupEvents"
        )
        code, _out, err = run_main(capsys, "events", "--lookup", "--region", "us-east-1")
        assert code == 2
        assert "Access denied to LookupEvents in us-east-1" in err and "cloudtrail:LookupEvents" in err
        assert "Traceback" not in err

    def test_unknown_region(self, aws_endpoints, capsys):
        code, _out, err = run_main(capsys, "events", "--lookup", "--region", "mars-north-1")
        self._one_sentence(code, err, "'mars-north-1' is not an AWS region")

    def test_no_network(self, aws_endpoints, capsys, monkeypatch):
        monkeypatch.setenv("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:9")  # nothing listens on the discard port
        code, _out, err = run_main(capsys, "events", "--lookup", "--region", "us-east-1")
        self._one_sentence(code, err, "cannot be reached")

    def test_invalid_time_range(self, aws_endpoints, capsys):
        code, _out, err = run_main(capsys, "events", "--lookup", "--since", "2h", "--until", at(60 * 24))
        self._one_sentence(code, err, "time range")


class TestTrails:
    def test_kms_logging_states_from_the_api(self, aws_endpoints, capsys):
        aws_endpoints.create_trail("all-good")
        aws_endpoints.create_trail("no-kms")
        aws_endpoints.exclude_kms("no-kms")
        aws_endpoints.create_trail("stopped", logging=False)
        trails = trails_by_name(capsys)
        assert trails["all-good"]["kms_logging"] == "logged"
        assert trails["no-kms"]["kms_logging"] == "excluded"
        assert any("not logged now" in w for w in trails["no-kms"]["warnings"])
        assert trails["stopped"]["kms_logging"] == "stopped"
        assert any("Logging is off now" in w for w in trails["stopped"]["warnings"])

    def test_a_single_region_trail_in_another_region_is_still_seen(self, aws_endpoints, capsys, monkeypatch):
        aws_endpoints.create_trail("eu-only", region="eu-west-1", multi_region=False)
        aws_endpoints.exclude_kms("eu-only", "eu-west-1")
        assert trails_by_name(capsys)["eu-only"]["kms_logging"] == "excluded"
        # Without ec2:DescribeRegions, the regions asked for are all there is, and nothing is said of it.
        monkeypatch.setenv("AWS_ENDPOINT_URL_EC2", "http://127.0.0.1:9")
        code, out, err = run_main(capsys, "trails", "--lookup", "--region", "us-east-1", "--format", "jsonl")
        assert code == 0, err
        assert "eu-only" not in out and "DescribeRegions" not in err and "reached" not in err

    def test_a_lookup_source_is_named_by_its_region_not_its_cache_file(self, aws_endpoints, capsys):
        aws_endpoints.cloudtrail.add_records("us-east-1", decrypts(3))
        code, out, err = run_main(capsys, "trails", "--lookup", "--region", "us-east-1", "--format", "jsonl")
        assert code == 0, err
        rows = [json.loads(line) for line in out.splitlines()]
        assert [(r["trail"], r["kind"], r["events"], r["location"]) for r in rows] == [
            ("LookupEvents us-east-1", "lookup", 3, None)
        ]

    def test_advanced_and_write_only_selectors(self, aws_endpoints, capsys):
        aws_endpoints.create_trail("advanced")
        aws_endpoints.create_trail("writes")
        ct = aws_endpoints.client("cloudtrail")
        ct.put_event_selectors(
            TrailName="advanced",
            AdvancedEventSelectors=[
                {
                    "Name": "management without KMS",
                    "FieldSelectors": [
                        {"Field": "eventCategory", "Equals": ["Management"]},
                        {"Field": "eventSource", "NotEquals": ["kms.amazonaws.com"]},
                    ],
                }
            ],
        )
        ct.put_event_selectors(
            TrailName="writes", EventSelectors=[{"ReadWriteType": "WriteOnly", "IncludeManagementEvents": True}]
        )
        trails = trails_by_name(capsys)
        assert trails["advanced"]["kms_logging"] == "excluded"
        assert any("advanced event selector" in w for w in trails["advanced"]["warnings"])
        assert trails["writes"]["kms_logging"] == "excluded"
        assert any(w.startswith("Read-only KMS events") for w in trails["writes"]["warnings"])

    def test_cloudtrails_own_key_use_is_linked_to_the_trail(self, aws_endpoints, capsys):
        trail = aws_endpoints.create_trail("encrypted")
        trail_arn = trail["TrailARN"]
        gdk = [
            kms(
                "GenerateDataKey",
                key_arn(KEY1),
                time=at(5 * i),
                identity={"type": "AWSService", "invokedBy": "cloudtrail.amazonaws.com"},
                request={
                    "keySpec": "AES_256",
                    "encryptionContext": {
                        "aws:cloudtrail:arn": trail_arn,
                        "aws:s3:arn": f"arn:aws:s3:::b/AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/2026/11/20/f{i}.json.gz",
                    },
                },
            )
            for i in range(1, 40)
        ]
        aws_endpoints.cloudtrail.add_records("us-east-1", gdk)
        code, out, err = run_main(capsys, "trails", "--lookup", "--region", "us-east-1", "--format", "jsonl")
        assert code == 0, err
        row = next(json.loads(line) for line in out.splitlines() if json.loads(line)["trail"] == trail_arn)
        assert row["log_key"] == key_arn(KEY1)
        assert row["log_key_calls"] == 39


class TestKeys:
    def test_keys_enriched_and_unused_ones_listed(self, aws_endpoints, capsys):
        client = aws_endpoints.client("kms")
        used = client.create_key(Description="payments data")["KeyMetadata"]
        client.create_alias(AliasName="alias/payments", TargetKeyId=used["KeyId"])
        doomed = client.create_key(Description="old")["KeyMetadata"]
        client.schedule_key_deletion(KeyId=doomed["KeyId"], PendingWindowInDays=7)
        idle = client.create_key(Description="nobody uses me")["KeyMetadata"]
        aws_endpoints.cloudtrail.add_records("us-east-1", [kms("Decrypt", used["Arn"], time=at(3))])
        code, out, err = run_main(capsys, "keys", "--lookup", "--region", "us-east-1", "--format", "jsonl")
        assert code == 0, err
        keys = {json.loads(line)["key"]: json.loads(line) for line in out.splitlines()}
        assert keys[used["Arn"]]["aliases"] == ["alias/payments"] and keys[used["Arn"]]["events"] == 1
        assert keys[doomed["Arn"]]["state"].startswith("pending deletion")
        assert keys[idle["Arn"]]["events"] == 0 and keys[idle["Arn"]]["state"] == "enabled"
        assert keys[idle["Arn"]]["description"] == "nobody uses me"
        assert keys[used["Arn"]]["manager"] == "CUSTOMER" and keys[used["Arn"]]["spec"] == "SYMMETRIC_DEFAULT"

    def test_an_alias_only_event_resolves_through_the_live_alias_list(self, aws_endpoints, capsys):
        client = aws_endpoints.client("kms")
        key = client.create_key()["KeyMetadata"]
        client.create_alias(AliasName="alias/app", TargetKeyId=key["KeyId"])
        failed = kms("Decrypt", "alias/app", time=at(2), error="AccessDeniedException", resources=[])
        aws_endpoints.cloudtrail.add_records("us-east-1", [failed])
        code, rows, err = events(capsys, "--region", "us-east-1")
        assert code == 0, err
        assert rows[0]["keys"] == [key["Arn"]]

    def test_the_live_alias_names_the_keys_events(self, aws_endpoints, capsys):
        """Events that name only the key ARN are found by alias: and labelled with it, as
        the keys pane is: ListAliases is one more observation of where the alias points."""
        client = aws_endpoints.client("kms")
        key = client.create_key()["KeyMetadata"]
        client.create_alias(AliasName="alias/payments", TargetKeyId=key["KeyId"])
        aws_endpoints.cloudtrail.add_records(
            "us-east-1", [kms("Decrypt", key["Arn"], time=at(5)), kms("Decrypt", key_arn(KEY2), time=at(4))]
        )
        code, rows, err = events(capsys, "--region", "us-east-1", "--filter", "alias:payments")
        assert code == 0, err
        assert [r["keys"] for r in rows] == [[key["Arn"]]]
        code, out, err = run_main(capsys, "events", "--lookup", "--region", "us-east-1", "--format", "table")
        assert code == 0, err
        line = next(line for line in out.splitlines() if "Decrypt" in line and KEY2 not in line)
        assert "alias/payments" in line, out


class TestAllRegions:
    def test_region_all_reads_every_enabled_region(self, aws_endpoints, capsys):
        """--region all: the account's regions from DescribeRegions, each looked up side by side."""
        aws_endpoints.cloudtrail.add_records("us-east-1", decrypts(3, "us-east-1"))
        aws_endpoints.cloudtrail.add_records("ap-southeast-2", decrypts(2, "ap-southeast-2"))
        listed = aws_endpoints.client("ec2").describe_regions()["Regions"]
        enabled = {r["RegionName"] for r in listed if r.get("OptInStatus") != "not-opted-in"}
        assert "me-south-1" not in enabled and len(enabled) > 10  # opt-in regions nobody opted into stay out
        code, rows, err = events(capsys, "--region", "all")
        assert code == 0, err
        assert sorted(r["region"] for r in rows) == ["ap-southeast-2"] * 2 + ["us-east-1"] * 3
        asked = {r.region for r in aws_endpoints.cloudtrail.lookups()}
        assert asked == enabled

    def test_without_describe_regions_it_says_what_to_do(self, aws_endpoints, capsys, monkeypatch):
        monkeypatch.setenv("AWS_ENDPOINT_URL_EC2", "http://127.0.0.1:9")
        code, _out, err = run_main(capsys, "events", "--lookup", "--region", "all")
        assert code == 2
        assert "cannot be reached" in err and "Traceback" not in err


class TestPace:
    def test_a_late_wake_up_pushes_the_next_turn(self, monkeypatch):
        """A thread that wakes late from its wait (a busy machine) must not make the next
        request follow it at once: turns are spaced from when requests really went."""
        from kmstui.core.live import lookup

        real_sleep = time.sleep
        monkeypatch.setattr(lookup.time, "sleep", lambda seconds: real_sleep(seconds * 4))  # oversleeps
        pace = lookup.Pace(rate=10)  # turns 0.11 s apart
        starts = []
        for _ in range(4):
            assert pace.wait(lambda: False)
            starts.append(time.monotonic())
        gaps = [b - a for a, b in itertools.pairwise(starts)]
        assert min(gaps) >= pace.interval * 0.99, gaps

    def test_the_rate_is_the_options_else_the_environments_else_aws_quota(self, monkeypatch):
        from kmstui.core.live import lookup

        monkeypatch.delenv(lookup.RATE_VARIABLE, raising=False)
        assert lookup.lookup_rate() == lookup.REQUESTS_PER_SECOND == 2
        monkeypatch.setenv(lookup.RATE_VARIABLE, "1")  # leaving half the quota to other tools
        assert lookup.lookup_rate() == 1
        assert lookup.lookup_rate(0.5) == 0.5
        for unusable in ("0", "-1", "nan", "inf", "fast", ""):
            monkeypatch.setenv(lookup.RATE_VARIABLE, unusable)
            assert lookup.lookup_rate() == 2, unusable

    def test_a_run_keeps_the_rate_asked_for(self, monkeypatch, tmp_path):
        from kmstui.core.live import lookup

        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
        monkeypatch.setenv(lookup.RATE_VARIABLE, "1")
        assert lookup.pace_for(ACCOUNT, "us-east-1").interval == pytest.approx(1.1)
        assert lookup.pace_for(ACCOUNT, "us-east-1", 4).interval == pytest.approx(1.1 / 4)


class TestRanges:
    """What the cache asks for, given the time ranges it holds (the newest edge asked again)."""

    def test_gaps_newest_first(self):
        from kmstui.core.live.cache import OVERLAP, gaps

        hour = timedelta(hours=1)
        t = NOW
        assert gaps([], t, t + 10 * hour) == [(t, t + 10 * hour)]
        held = [(t + 2 * hour, t + 4 * hour), (t + 6 * hour, t + 8 * hour)]
        assert gaps(held, t, t + 10 * hour) == [
            (t + 8 * hour - OVERLAP, t + 10 * hour),
            (t + 4 * hour, t + 6 * hour),
            (t, t + 2 * hour),
        ]
        assert gaps([(t - hour, t + 20 * hour)], t, t + 10 * hour) == []
