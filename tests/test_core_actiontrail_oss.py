"""ActionTrail's OSS delivery layout in the trails pane (issue 16): files under
``AliyunLogs/Actiontrail/[rd-.../ACCOUNT/]REGION/YYYY/MM/DD/`` are one trail delivery, not a
row each; a trail whose configuration names the bucket takes them; a steady delivery that falls
silent is said."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import pytest

from records import REPO, load

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks import actiontrail_synth as synth
from kmstui.core import actiontrail
from kmstui.core.sources import delivery_of
from kmstui.core.trails import summarise_trails

WEEK = synth.week()


def kept(record: dict) -> bool:
    if record.get("serviceName") == "Kms":
        return True
    return record["eventSource"].startswith("actiontrail.") and record["eventName"] in actiontrail.TRAIL_EVENTS


KEPT = [r for r in WEEK if kept(r)]


@pytest.mark.parametrize(
    "path, prefix, account, region, org",
    [
        (
            "logs/audit/AliyunLogs/Actiontrail/cn-hangzhou/2026/11/20/"
            "Actiontrail_cn-hangzhou_20261120021500_1002_12_3456_0123abcd.gz",
            "logs/audit",
            "",
            "cn-hangzhou",
            None,
        ),
        (
            "bucket/AliyunLogs/Actiontrail/rd-k3Xa9Q/1890123456789012/ap-southeast-1/2026/11/20/"
            "Actiontrail_ap-southeast-1_20261120021500_1002_1_2_3.gz",
            "bucket",
            "1890123456789012",
            "ap-southeast-1",
            "rd-k3Xa9Q",
        ),
        (  # the account level alone (the project's generator writes it so)
            "AliyunLogs/Actiontrail/5812345678901234/cn-shanghai/2026/11/13/"
            "5812345678901234_Actiontrail_cn-shanghai_2026111300_0000.json.gz",
            ".",
            "5812345678901234",
            "cn-shanghai",
            None,
        ),
        (  # a file alone, known by its name: its folder is the delivery
            "downloads/Actiontrail_cn-shanghai-finance-1_20261120021500_1002_12_3456_0123abcd.gz",
            "downloads",
            "",
            "cn-shanghai-finance-1",
            None,
        ),
    ],
)
def test_the_documented_layouts_are_deliveries(path, prefix, account, region, org):
    delivery = delivery_of(path)
    assert delivery is not None and delivery.cloud == "alibaba"
    assert (delivery.prefix, delivery.account, delivery.region, delivery.org) == (prefix, account, region, org)


def test_the_file_name_says_when_it_was_written():
    delivery = delivery_of(
        "b/AliyunLogs/Actiontrail/cn-hangzhou/2026/11/20/Actiontrail_cn-hangzhou_20261120021500_1002_1_2_3.gz"
    )
    assert delivery is not None
    assert delivery.delivered == int(datetime(2026, 11, 20, 2, 15, tzinfo=UTC).timestamp())


@pytest.mark.parametrize(
    "path",
    [
        "AliyunLogs/Actiontrail-Insight/cn-hangzhou/2026/11/20/Actiontrail_x.gz",  # insight events, not calls
        "AliyunLogs/Actiontrail/2026/11/20/events.json.gz",  # no region
        "notes/Actiontrail.txt",
    ],
)
def test_other_paths_are_not_deliveries(path):
    assert delivery_of(path) is None


@pytest.mark.parametrize("directory", [None, "rd-k3Xa9Q"])
def test_oss_files_are_one_delivery_with_the_plain_counts(tmp_path, directory):
    written = synth.write_oss_windows(WEEK, tmp_path / "audit-logs", directory=directory, lines_every=4)
    index = load(tmp_path / "audit-logs")
    trails = summarise_trails(index)
    assert not [t for t in trails if t.kind == "file"]  # before: a "file" row for every day folder
    (delivery,) = [t for t in trails if t.kind == "delivery"]
    assert delivery.files == len(written) > 1000
    assert delivery.events == len(KEPT)
    assert delivery.kms_logging == "logged"
    assert delivery.regions == sorted({r["acsRegion"] for r in WEEK})
    # a multi-account trail's path names each member account; a single-account one's does not
    assert delivery.accounts == (sorted({r["recipientAccountId"] for r in WEEK}) if directory else [])
    assert delivery.label.endswith("audit-logs")


def test_the_trail_that_names_the_bucket_takes_its_files(tmp_path):
    update = synth.event(
        synth._Ids(__import__("random").Random("update")),
        datetime(2026, 11, 13, 0, 0, 30, tzinfo=UTC),
        synth.ACCOUNTS[0],
        "cn-hangzhou",
        "UpdateTrail",
        synth.root(synth.ACCOUNTS[0]),
        "47.96.18.220",
        synth.AGENTS[1],
        {"Name": synth.TRAIL, "OssBucketName": "acme-audit", "OssKeyPrefix": "actiontrail"},
        {"Name": synth.TRAIL, "OssBucketName": "acme-audit", "OssKeyPrefix": "actiontrail"},
        source="actiontrail.cn-hangzhou.aliyuncs.com",
        service="Actiontrail",
    )
    written = synth.write_oss_windows([update, *WEEK], tmp_path / "acme-audit" / "actiontrail")
    index = load(tmp_path / "acme-audit")
    trails = summarise_trails(index)
    arn = f"acs:actiontrail:cn-hangzhou:{synth.ACCOUNTS[0]}:trail/{synth.TRAIL}"
    assert [t.kind for t in trails] == ["trail"]  # no delivery row beside it
    (trail,) = trails
    assert trail.arn == arn and trail.files == len(written)
    assert trail.events == len(KEPT) + 1
    assert trail.location == "oss://acme-audit/actiontrail"
    assert any("Logging was stopped by assumed-role/Admin (ops-laptop)" in w for w in trail.warnings)


def test_a_steady_delivery_that_falls_silent_is_said(tmp_path):
    written = synth.write_oss_windows(WEEK, tmp_path / "oss")
    index = load(tmp_path / "oss")
    (quiet,) = [t for t in summarise_trails(index) if t.kind == "delivery"]
    assert quiet.warnings == []  # quiet nights (files an hour or two apart) are not a stop
    assert set(quiet.log_file_rates) == {"ap-southeast-1", "cn-hangzhou", "cn-shanghai"}
    # the plain rate: files a day over the span their names cover (the two accounts' files of one
    # window, in a single-account layout, are one delivery time)
    hangzhou = sorted({p.name.split("_")[2] for p in written if p.name.startswith("Actiontrail_cn-hangzhou_")})
    first, last = (datetime.strptime(t, "%Y%m%d%H%M%S") for t in (hangzhou[0], hangzhou[-1]))
    assert quiet.log_file_rates["cn-hangzhou"] == pytest.approx(
        (len(hangzhou) - 1) * 86400 / (last - first).total_seconds()
    )
    # five hours of cn-shanghai's files gone from the bucket
    gone = [p for p in written if "_cn-shanghai_20261116" in p.name and "10" <= p.name.split("_")[2][8:10] < "15"]
    assert len(gone) > 10
    for path in gone:
        path.unlink()
    index = load(tmp_path / "oss")
    (silent,) = [t for t in summarise_trails(index) if t.kind == "delivery"]
    (warning,) = silent.warnings
    assert warning.startswith("No ActionTrail log file for cn-shanghai from 2026-11-16 ")
    assert silent.rate_warnings == 1 and silent.kms_logging == "logged"
