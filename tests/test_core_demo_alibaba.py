"""The demo's Alibaba Cloud part (issue 16): ActionTrail delivered to OSS beside the CloudTrail
story, its counts equal to a plain reading of the files, and its story found with the filter
language: a RAM user's AccessKey used from a new address, Decrypt refused, the key scheduled
for deletion, the trail stopped and, nearly two hours later, started again."""

from __future__ import annotations

import gzip
import importlib.util
import json
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from records import REPO, load, rows

DEMO = REPO / "assets" / "demo"
OSS = DEMO / "acme-cn-actiontrail" / "audit" / "AliyunLogs" / "Actiontrail"
TRAIL = "acs:actiontrail:cn-hangzhou:1688301234567890:trail/acme-cn-audit"


def files() -> list:
    return sorted(OSS.rglob("*.gz"))


def plain_events() -> list[dict]:
    """Every event of every delivered file, read with the standard library."""
    out = []
    for path in files():
        out.extend(json.loads(gzip.decompress(path.read_bytes())))
    return out


def kept(record: dict) -> bool:
    return record["serviceName"] == "Kms" or (
        record["serviceName"] == "Actiontrail" and record["eventName"] in ("UpdateTrail", "StopLogging", "StartLogging")
    )


@pytest.fixture(scope="module")
def demo():
    return load(DEMO)


def test_the_demo_holds_both_clouds_with_the_plain_counts(demo):
    events = plain_events()
    assert len(files()) > 200
    assert len(rows(demo, "cloud:alibaba")) == sum(map(kept, events))
    assert len(rows(demo, "cloud:aws")) == 997  # the CloudTrail story, as it was before the Alibaba part
    ignored = Counter(r["eventSource"] for r in events if not kept(r))
    assert {k: v for k, v in demo.report.ignored.items() if "aliyuncs" in k} == ignored


def test_the_refused_decrypts_from_a_new_address(demo):
    refused = [demo.event(r) for r in rows(demo, "cloud:alibaba error:*")]
    assert len(refused) == 14
    assert {(e.name, e.principal.short, e.source_ip, e.error_code) for e in refused} == {
        ("Decrypt", "ram-user/deploy-bot", "203.0.113.190", "Forbidden.RAM")
    }
    # the address is new to the key in the night: nothing else is
    new = [demo.event(r) for r in rows(demo, "cloud:alibaba new:ip since:2026-11-20T03:00Z")]
    assert {e.source_ip for e in new} == {"203.0.113.190"}
    # deploy-bot's two addresses: the CI runner in the evening, then the intruder
    ips = Counter(demo.event(r).source_ip for r in rows(demo, "principal:deploy-bot"))
    assert ips == {"10.30.2.15": 6, "203.0.113.190": 19}


def test_the_key_scheduled_for_deletion_and_the_trail_stopped(demo):
    from kmstui.core.summary import summarise_keys
    from kmstui.core.trails import summarise_trails

    (scheduled,) = [demo.event(r) for r in rows(demo, "cloud:alibaba event:=ScheduleKeyDeletion")]
    assert scheduled.principal.short == "ram-user/deploy-bot"
    keys = {k.display: k for k in summarise_keys(demo, demo.snapshot.order) if k.cloud == "alibaba"}
    when = datetime.fromtimestamp(scheduled.time, UTC) + timedelta(days=7)
    assert keys["alias/orders-db"].state_text == f"pending deletion {when:%m-%d}"
    assert keys["alias/orders-db"].errors == 14
    trails = {t.ident: t for t in summarise_trails(demo)}
    trail = trails[TRAIL]
    assert trail.files == len(files()) and trail.location == "oss://acme-cn-actiontrail/audit"
    assert trail.regions == ["cn-hangzhou", "cn-shanghai"] and trail.kms_logging == "logged"
    stop, *gaps = trail.warnings
    assert stop.startswith("Logging was stopped by ram-user/deploy-bot from 203.0.113.190 at 2026-11-20 03:14:02")
    assert [g.split(" from ")[0] for g in gaps] == [
        "No ActionTrail log file for cn-hangzhou",
        "No ActionTrail log file for cn-shanghai",
    ]
    # the CloudTrail story keeps the top of the pane: a trail not logging now before one restarted
    assert [t.label for t in summarise_trails(demo)[:2]] == ["acme-main", "acme-cn-audit"]


def test_rebuilding_the_demo_gives_the_same_bytes(tmp_path):
    spec = importlib.util.spec_from_file_location("make_demo", REPO / "scripts" / "make_demo.py")
    assert spec is not None and spec.loader is not None
    make_demo = importlib.util.module_from_spec(spec)
    sys.modules["make_demo"] = make_demo  # its dataclasses look their module up
    try:
        spec.loader.exec_module(make_demo)
    finally:
        del sys.modules["make_demo"]
    make_demo.build(tmp_path / "demo")
    built = sorted(p.relative_to(tmp_path / "demo") for p in (tmp_path / "demo").rglob("*") if p.is_file())
    shipped = sorted(p.relative_to(DEMO) for p in DEMO.rglob("*") if p.is_file())
    assert built == shipped
    for path in built:
        assert (tmp_path / "demo" / path).read_bytes() == (DEMO / path).read_bytes(), path


def test_the_detection_questions_see_both_clouds(demo):
    """The README's detection filters, asked of the whole demo: a key scheduled for deletion by
    anyone but a service is found in either cloud (test_core_filter_questions reads CloudTrail's part)."""
    expr = "(event:=DisableKey OR event:=ScheduleKeyDeletion) -error:* -identity:AWSService"
    found = sorted((e.cloud, e.name, e.iso_time) for e in (demo.event(r) for r in rows(demo, expr)))
    assert found == [
        ("alibaba", "ScheduleKeyDeletion", "2026-11-20T03:12:31Z"),
        ("aws", "DisableKey", "2026-11-20T02:40:11Z"),
        ("aws", "ScheduleKeyDeletion", "2026-11-20T02:41:07Z"),
    ]
    stopped = "(source:cloudtrail OR source:actiontrail) (StopLogging OR DeleteTrail)"
    assert [demo.event(r).principal.short for r in rows(demo, stopped)] == ["ram-user/deploy-bot"]
