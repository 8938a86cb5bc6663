"""Reading a trail's bucket (kmstui s3://BUCKET/PREFIX) against moto's S3 in server mode.

The bucket holds a generated organization trail: three accounts, two regions, four days, a
file every six hours per account and region (and one just after midnight holding events of
the day before), plus what a real bucket holds besides: digest files, an object that is no
log file, an SSE-KMS object, one whose KMS key refuses kms:Decrypt, a truncated object and
one deleted between listing and reading. What kmstui loads is compared with a local copy
of the same files loaded the usual way; what it listed and read, with the proxy's log.
"""

from __future__ import annotations

import dataclasses
import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kmstui.core import query
from kmstui.core.index import EventIndex
from kmstui.core.live import bucket as buckets
from kmstui.core.live.bucket import BucketLoader, BucketOptions

from orgtrail import (
    ACCOUNTS,
    BUCKET,
    NOW,
    ORG,
    REGIONS,
    SINCE,
    UNTIL,
    Trail,
    day_records,
    delivery_key,
    in_window,
    seed,
)
from records import cloudtrail_file, gz, load, run_main, write

pytestmark = pytest.mark.slow


def local_copy(tmp_path: Path, trail: Trail, leave_out: tuple[str, ...] = ()) -> EventIndex:
    """The same log files downloaded by hand, loaded the usual way."""
    folder = tmp_path / "local"
    for key, data in trail.logs.items():
        if key not in leave_out:
            write(folder / key, data)
    return load(folder)


def read_bucket(filter_text: str = "", *, url: str = f"s3://{BUCKET}/", **options) -> tuple[EventIndex, BucketLoader]:
    index = EventIndex()
    reader = BucketLoader(
        index,
        BucketOptions([url], since=SINCE, until=UNTIL, filter=query.parse(filter_text), now=NOW, **options),
    )
    reader.run(refresh_every=None)
    return index, reader


def comparable(index: EventIndex, expr: str = "") -> list:
    """The events a filter gives, everything but where they were read from."""
    out = []
    for row in query.parse(expr).rows(index).tolist():
        event = index.event(row)
        out.append(dataclasses.replace(event, row=0, origin=event.origin[event.origin.index("AWSLogs/") :]))
    return sorted(out, key=lambda e: (e.time, e.event_id, e.name))


WINDOW = f"since:{SINCE} until:{UNTIL}"


class TestOrganizationTrail:
    def test_loads_what_a_local_copy_gives(self, s3, tmp_path):
        trail = seed(s3)
        index, reader = read_bucket()
        local = local_copy(tmp_path, trail, leave_out=(trail.deleted, trail.denied))
        got = comparable(index)
        assert got == comparable(local, WINDOW)
        assert len(got) > 150
        assert reader.progress.dropped > 0  # the padding day's events were read, then dropped

    def test_lists_only_the_window_s_day_folders(self, s3):
        seed(s3)
        read_bucket()
        days = ("2026/11/19", "2026/11/20", "2026/11/21")  # --since's day to the day after --until
        expected = {
            f"AWSLogs/{ORG}/{account}/CloudTrail/{region}/{day}/"
            for account in ACCOUNTS
            for region in REGIONS
            for day in days
        }
        assert sorted(s3.listed_prefixes(delimiter=False)) == sorted(expected)
        # the layout, one level at a time: no folder of the days themselves
        walked = s3.listed_prefixes(delimiter=True)
        assert "AWSLogs/" in walked and f"AWSLogs/{ORG}/" in walked
        assert not [p for p in walked if "/2026/" in p]

    def test_reads_only_files_delivered_in_the_window(self, s3):
        trail = seed(s3)
        read_bucket()
        gets = s3.gets()
        assert len(gets) == len(set(gets))  # nothing read twice
        expected = {k for k in trail.logs if in_window(k)}
        assert set(gets) == expected
        assert trail.digest not in gets and trail.stray_digest not in gets and trail.other not in gets

    def test_each_fault_costs_its_object_one_sentence(self, s3):
        trail = seed(s3)
        index, reader = read_bucket()
        reasons = {skipped.label.removeprefix(f"s3://{BUCKET}/"): skipped.reason for skipped in reader.skipped}
        assert set(reasons) == {trail.denied, trail.truncated, trail.deleted}
        assert "NoSuchKey" in reasons[trail.deleted] and "deleted between listing and reading" in reasons[trail.deleted]
        assert trail.denied_key in reasons[trail.denied] and "kms:Decrypt" in reasons[trail.denied]
        assert "truncated or corrupt gzip" in reasons[trail.truncated]
        for reason in reasons.values():
            assert "\n" not in reason and "Traceback" not in reason
        assert reader.problems == []
        # the SSE-KMS object S3 may decrypt loads like the rest
        assert comparable(index, "event:Decrypt") and any(e.origin.endswith(trail.sse_kms) for e in comparable(index))
        progress = reader.progress
        assert progress.digests == 1 and progress.other == 1
        assert progress.folders_skipped["CloudTrail-Digest"] == 1
        assert index.report.digests == 1

    def test_filter_s_region_and_account_prune_the_listing(self, s3, tmp_path):
        trail = seed(s3, faults=False)
        index, _ = read_bucket(f"region:eu-west-1 account:={ACCOUNTS[2]}")
        day_folders = s3.listed_prefixes(delimiter=False)
        assert day_folders and all(f"/{ACCOUNTS[2]}/CloudTrail/eu-west-1/" in p for p in day_folders)
        assert all(f"/{ACCOUNTS[2]}/" in key for key in s3.gets())
        local = local_copy(tmp_path, trail)
        expr = f"region:eu-west-1 account:={ACCOUNTS[2]}"
        assert comparable(index, expr) == comparable(local, f"{WINDOW} {expr}")

    def test_a_prefix_into_the_layout_and_the_region_option(self, s3):
        seed(s3, faults=False)
        url = f"s3://{BUCKET}/AWSLogs/{ORG}/{ACCOUNTS[0]}/"
        index, _ = read_bucket(url=url, regions=["us-east-1"])
        day_folders = s3.listed_prefixes(delimiter=False)
        assert len(day_folders) == 3
        assert all(p.startswith(f"AWSLogs/{ORG}/{ACCOUNTS[0]}/CloudTrail/us-east-1/") for p in day_folders)
        assert not [p for p in s3.listed_prefixes(delimiter=True) if p in ("", "AWSLogs/", f"AWSLogs/{ORG}/")]
        assert {index.event(row).region for row in query.parse("").rows(index).tolist()} == {"us-east-1"}

    def test_the_layout_is_found_under_a_trail_prefix(self, s3):
        s3.client.create_bucket(Bucket=BUCKET)
        delivered = datetime(2026, 11, 20, 10, 3, tzinfo=UTC)
        key = "security/cloudtrail/" + delivery_key(ACCOUNTS[0], "us-east-1", delivered, "one")
        s3.client.put_object(
            Bucket=BUCKET, Key=key, Body=gz(cloudtrail_file(day_records(ACCOUNTS[0], "us-east-1", delivered, 1)))
        )
        s3.client.put_object(Bucket=BUCKET, Key="unrelated/readme.txt", Body=b"x")
        index, reader = read_bucket()
        assert reader.problems == []
        assert index.report.files_loaded == 1

    def test_no_layout_is_one_sentence(self, s3):
        s3.client.create_bucket(Bucket=BUCKET)
        s3.client.put_object(Bucket=BUCKET, Key="photos/cat.jpg", Body=b"x")
        _, reader = read_bucket()
        assert len(reader.problems) == 1
        assert "No CloudTrail log files under" in reader.problems[0]

    def test_a_folder_that_is_not_an_organization_or_account_is_said(self, s3):
        s3.client.create_bucket(Bucket=BUCKET)
        delivered = datetime(2026, 11, 20, 10, 3, tzinfo=UTC)
        key = delivery_key(ACCOUNTS[0], "us-east-1", delivered, "one")
        body = gz(cloudtrail_file(day_records(ACCOUNTS[0], "us-east-1", delivered, 1)))
        s3.client.put_object(Bucket=BUCKET, Key=key, Body=body)
        s3.client.put_object(Bucket=BUCKET, Key="AWSLogs/o-short/" + key.split("/", 2)[2], Body=body)
        index, reader = read_bucket()
        assert index.report.files_loaded == 1
        said = [line for line in reader.sentences() if "o-short" in line]
        assert len(said) == 1 and "neither an organization id" in said[0], reader.sentences()

    def test_no_such_bucket_is_one_sentence(self, s3):
        _, reader = read_bucket(url="s3://no-such-bucket-here/")
        assert reader.problems == ["There is no S3 bucket named no-such-bucket-here (or not in this partition)."]


class TestCache:
    def test_a_second_run_reads_no_object(self, s3):
        trail = seed(s3)
        first, _ = read_bucket()
        assert s3.gets()
        s3.clear()
        second, reader = read_bucket()
        assert set(s3.gets()) <= {trail.denied}  # refused again: it was never read
        assert reader.progress.cached == len({k for k in trail.logs if in_window(k)}) - 2
        assert comparable(second) == comparable(first)

    def test_no_cache_neither_reads_nor_keeps_it(self, s3, tmp_path):
        seed(s3, faults=False)
        read_bucket(cache=False)
        assert not (tmp_path / "cache" / "kmstui" / "s3").exists()
        count = len(s3.gets())
        read_bucket()
        assert len(s3.gets()) == 2 * count

    def test_files_are_private_and_whole(self, s3, tmp_path):
        seed(s3, faults=False)
        read_bucket()
        folder = tmp_path / "cache" / "kmstui" / "s3"
        files = [p for p in folder.rglob("*") if p.is_file()]
        assert files and not [p for p in files if p.name.startswith(".")]  # no temporary file left
        for path in [folder, *folder.rglob("*")]:
            mode = stat.S_IMODE(os.lstat(path).st_mode)
            assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))

    def test_the_size_limit_holds(self, s3, tmp_path):
        trail = seed(s3, faults=False)
        one = max(len(v) for v in trail.logs.values())
        index, reader = read_bucket(cache_size=str(one * 5))
        folder = tmp_path / "cache" / "kmstui" / "s3"
        held = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        assert 0 < held <= one * 5
        assert index.report.files_loaded == reader.progress.files, index.report.skipped  # what did not fit still loaded

    def test_a_cached_file_of_the_wrong_size_is_read_again(self, s3, tmp_path):
        seed(s3, faults=False)
        read_bucket()
        folder = tmp_path / "cache" / "kmstui" / "s3"
        victim = sorted(p for p in folder.rglob("*") if p.is_file())[0]
        victim.write_bytes(victim.read_bytes()[:10])
        s3.clear()
        read_bucket()
        assert len(s3.gets()) == 1


class TestCommandLine:
    def test_events_from_the_bucket(self, s3, capsys, tmp_path):
        trail = seed(s3)
        code, out, err = run_main(
            capsys, "events", f"s3://{BUCKET}", "--since", SINCE, "--until", UNTIL, "--format", "jsonl"
        )
        assert code == 0
        lines = [line for line in out.splitlines() if line]
        local = local_copy(tmp_path, trail, leave_out=(trail.deleted, trail.denied))
        assert len(lines) == len(comparable(local, WINDOW))
        said = [line for line in err.splitlines() if line.startswith("kmstui: skipped s3://")]
        assert len(said) == 3
        assert "Traceback" not in err
        assert f"Read {len([k for k in trail.logs if in_window(k)]) - 2:,} of" in err

    def test_trails_from_the_bucket(self, s3, capsys):
        seed(s3, faults=False)
        code, out, err = run_main(capsys, "trails", f"s3://{BUCKET}/", "--since", SINCE, "--until", UNTIL)
        assert code == 0, err
        assert f"s3://{BUCKET}" in out

    def test_a_bad_url_is_one_sentence(self, s3, capsys):
        code, _out, err = run_main(capsys, "events", "s3://", "--since", SINCE)
        assert code == 2
        assert err.strip() == "kmstui: s3:// does not name an S3 bucket: write s3://BUCKET or s3://BUCKET/PREFIX."


def test_the_window_pads_a_day_after_and_none_before():
    scope = buckets.scope_of(
        buckets.parse_url("s3://bkt/"),
        BucketOptions(["s3://bkt/"], since="2026-11-19T00:10:00Z", until="2026-11-19T10:00:00Z", now=NOW),
        buckets.Pinned(),
    )
    assert [f"{d:%m/%d}" for d in scope.days(())] == ["11/18", "11/19", "11/20"]  # 00:10 - 15 min is the 18th
    assert [f"{d:%m/%d}" for d in scope.days((2026, 11, 19))] == ["11/19"]


def test_pinned_reads_the_layout():
    assert buckets.pinned([ORG, ACCOUNTS[0], "CloudTrail", "us-east-1", "2026", "11"]) == buckets.Pinned(
        ORG, ACCOUNTS[0], "us-east-1", (2026, 11)
    )
    assert buckets.pinned(["CloudTrail"]) is None
    assert buckets.pinned([ACCOUNTS[0], "CloudTrail", "us-east-1", "2026", "13"]) is None
