"""The explorer on live AWS (loopback fakes only): progress, errors, stopping, following."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from textual.widgets import Static

from kmstui.core.live import LiveOptions, LiveProgress
from kmstui.ui.app import KmsApp
from kmstui.ui.modals import LoadSummaryScreen
from kmstui.ui.panes import EventsPane

from appkit import lines, settle, text_of
from records import KEY1, KEY2, key_arn, kms

pytestmark = pytest.mark.slow

FIXED = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)  # the present, for reproducible screens
SIZE = (120, 36)


def seed(aws_endpoints, count: int = 120) -> None:
    """KMS events a minute apart before FIXED, some of them denied."""
    aws_endpoints.cloudtrail.now = FIXED
    records = []
    for i in range(count):
        key = key_arn(KEY1 if i % 3 else KEY2)
        minute = 360 - (i + 1) * 2  # newest first from 05:58
        when = f"2026-11-20T{minute // 60:02d}:{minute % 60:02d}:00Z"
        error = {"error": "AccessDenied"} if i % 17 == 0 else {}
        records.append(kms("Decrypt", key, time=when, event_id=f"00000000-0000-4000-8000-{i:012d}", **error))
    aws_endpoints.cloudtrail.add_records("us-east-1", records)


def live_app(**options) -> KmsApp:
    return KmsApp(live=LiveOptions(regions=["us-east-1"], now=FIXED, **options))


@pytest.fixture(autouse=True)
def private_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.fixture
def steady_rate(monkeypatch):
    """The one figure that depends on the clock, fixed for the picture."""
    monkeypatch.setattr(LiveProgress, "rate", property(lambda self: 25.0))


class TestLiveLoad:
    def test_progress_while_pages_arrive(self, aws_endpoints, snap_compare, steady_rate):
        seed(aws_endpoints)
        aws_endpoints.create_trail("acme-main")
        aws_endpoints.cloudtrail.hold(after=1)  # the first page, then the load waits

        async def run_before(pilot):
            screen = pilot.app.explorer
            await screen.wait_for(
                lambda: (
                    screen._shown
                    and screen.live
                    and screen.live.inventory_done
                    and screen.query_one(EventsPane).row_count == 50
                )
            )
            await screen.wait_for(lambda: screen._applied == screen._request)
            await pilot.pause()

        try:
            assert snap_compare(live_app(), terminal_size=SIZE, run_before=run_before)
        finally:
            aws_endpoints.cloudtrail.release()

    async def test_escape_stops_and_keeps_what_arrived(self, aws_endpoints):
        seed(aws_endpoints)
        aws_endpoints.cloudtrail.hold(after=1)
        app = live_app()
        async with app.run_test(size=SIZE) as pilot:
            screen = app.explorer
            await screen.wait_for(lambda: screen._shown and screen.query_one(EventsPane).row_count == 50)
            assert screen.load_running
            await pilot.press("escape")
            aws_endpoints.cloudtrail.release()
            await settle(pilot)
            assert not screen.load_running and screen.load_progress.cancelled
            assert screen.query_one(EventsPane).row_count == 50
            assert "LookupEvents EventSource=kms.amazonaws.com" in text_of(screen.query_one("#status", Static))

    async def test_an_aws_error_is_one_sentence_in_the_explorer_and_kept_for_stderr(self, aws_endpoints):
        seed(aws_endpoints, 5)
        aws_endpoints.cloudtrail.fail_next("AccessDeniedException", "no", status=400, operation="LookupEvents")
        app = live_app()
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            sentence = "Access denied to LookupEvents in us-east-1: the credentials need cloudtrail:LookupEvents."
            assert sentence in app.explorer.messages
            await pilot.press("l")
            assert isinstance(app.screen, LoadSummaryScreen)
            assert sentence in text_of(app.screen.query_one(Static))

    async def test_no_credentials_leave_the_explorer_running(self, aws_endpoints, monkeypatch):
        monkeypatch.delenv("AWS_ACCESS_KEY_ID")
        monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
        app = live_app()
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            assert any("No AWS credentials found" in m for m in app.explorer.messages)
            assert app.screen is app.explorer


class TestExcludedTrail:
    def test_a_trail_that_does_not_log_kms(self, aws_endpoints, snap_compare):
        seed(aws_endpoints, 30)
        aws_endpoints.create_trail("acme-main")
        aws_endpoints.exclude_kms("acme-main")

        async def run_before(pilot):
            await settle(pilot)
            await pilot.press("1")
            await pilot.pause()

        assert snap_compare(live_app(), terminal_size=SIZE, run_before=run_before)


class TestFollow:
    async def test_new_events_arrive_at_the_top(self, aws_endpoints):
        seed(aws_endpoints, 10)
        app = KmsApp(live=LiveOptions(regions=["us-east-1"], now=FIXED), follow=1)
        async with app.run_test(size=SIZE) as pilot:
            screen = app.explorer
            await settle(pilot)
            assert screen.following
            assert screen.query_one(EventsPane).row_count == 10
            newest = kms("ScheduleKeyDeletion", key_arn(KEY2), time="2026-11-20T05:59:30Z", read_only=False)
            aws_endpoints.cloudtrail.add_records("us-east-1", [newest])
            await screen.wait_for(lambda: screen.query_one(EventsPane).row_count == 11)
            await pilot.pause()
            assert "ScheduleKeyDeletion" in lines(screen.query_one(EventsPane))[1]
            await pilot.press("F")
            assert not screen.following


class TestSeveralRegions:
    async def test_an_alias_in_every_region_says_which_region(self, aws_endpoints):
        """alias/payments in two regions: the keys pane tells them apart, and the events pane
        names each key's events by the alias ListAliases gives."""
        for region in ("us-east-1", "eu-west-1"):
            client = aws_endpoints.client("kms", region)
            key = client.create_key()["KeyMetadata"]
            client.create_alias(AliasName="alias/payments", TargetKeyId=key["KeyId"])
            aws_endpoints.cloudtrail.add_records(
                region, [kms("Decrypt", key["Arn"], region=region, time="2026-11-20T05:00:00Z")]
            )
        aws_endpoints.cloudtrail.now = FIXED
        app = KmsApp(live=LiveOptions(regions=["us-east-1", "eu-west-1"], now=FIXED))
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            keys = "\n".join(lines(app.explorer.query_one("#keys")))
            assert "alias/payments · us-east-1" in keys and "alias/payments · eu-west-1" in keys, keys
            events = lines(app.explorer.query_one(EventsPane))
            assert sum("alias/payments" in line for line in events) == 2, events
