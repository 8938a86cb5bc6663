"""``--athena``: boto3 against a loopback Athena (tests/fakeaws.py's FakeAthena, which runs the
submitted SQL in DuckDB over the documented table and writes the result CSV to moto's S3):
start, poll, the results loaded equal to kmstui's own filter over the same files, the failure
states as one sentence, and cancelling with StopQueryExecution."""

from __future__ import annotations

import threading

import pytest

from kmstui.core import query
from kmstui.core.index import EventIndex
from kmstui.core.live.athena import AthenaLoader, AthenaOptions

import athena_table
from records import REPO, ids, json_lines, load, run_main

pytestmark = pytest.mark.slow

SINCE, UNTIL = "2024-04-30T00:00:00Z", "2026-11-21T00:00:00Z"
RESULTS = "s3://athena-results/kmstui/"


@pytest.fixture(scope="module")
def trail(tmp_path_factory):
    folders = [REPO / "assets" / "demo", athena_table.write_unusual(tmp_path_factory.mktemp("trail"))]
    files = [path for folder in folders for path, *_ in athena_table.delivered(folder)]
    return athena_table.build(folders), load(*files)


@pytest.fixture
def athena(athena_endpoint, aws_endpoints, trail):
    athena_endpoint.connection = trail[0]
    aws_endpoints.client("s3").create_bucket(Bucket="athena-results")
    return athena_endpoint


def options(expression: str = "", **kwargs) -> AthenaOptions:
    kwargs.setdefault("output_location", RESULTS)
    return AthenaOptions(
        table="cloudtrail_logs_pp",
        organization=True,
        since=SINCE,
        until=UNTIL,
        filter=query.parse(expression),
        **kwargs,
    )


def local(trail, expression: str) -> set[str]:
    inner = f"({expression}) " if expression else ""
    return ids(trail[1], f"{inner}since:{SINCE} until:{UNTIL}")


@pytest.mark.parametrize(
    "expression",
    ["", "event:Decrypt -error:*", "principal:role/Admin", "(ctx:SecretARN OR key:1234abcd) -error:*", "window<=7"],
)
def test_the_results_load_as_kmstuis_own_filter_finds(athena, trail, expression):
    index = EventIndex()
    loader = AthenaLoader(index, options(expression))
    loader.prepare()
    seen = []
    progress = loader.fetch(lambda p: seen.append(p.state))
    assert loader.problems == []
    assert progress.state == "LOADED"
    assert {"QUEUED", "SUCCEEDED", "LOADED"} <= set(seen)
    assert ids(index, expression) == local(trail, expression)
    assert athena.calls[0] == "StartQueryExecution" and "GetQueryExecution" in athena.calls
    assert progress.scanned == athena.scanned_per_query
    assert "1.1 GB scanned (about $0.0056)" in progress.describe
    if expression:  # the filter ran in Athena: fewer rows came back than the window holds
        assert progress.rows < len(local(trail, ""))


def test_the_detail_view_reads_a_loaded_record_back(athena, trail):
    index = EventIndex()
    loader = AthenaLoader(index, options("event:=CreateGrant grantee:role/Reader"))
    loader.prepare()
    loader.fetch()
    [row] = query.parse("").rows(index).tolist()
    record = index.record(row)
    assert record["requestParameters"]["granteePrincipal"].endswith(":role/Reader")
    assert record["resources"][0]["ARN"].endswith("1234abcd-12ab-34cd-56ef-1234567890ab")


def test_the_workgroups_output_location_is_used_when_none_is_given(athena, trail):
    athena.workgroups["primary"] = "s3://athena-results/workgroup/"
    loader = AthenaLoader(EventIndex(), options("event:Decrypt", output_location=None))
    loader.prepare()
    assert loader.fetch().state == "LOADED"
    assert loader.problems == []


def test_no_output_location_anywhere_is_one_sentence(athena):
    loader = AthenaLoader(EventIndex(), options(output_location=None))
    loader.prepare()
    progress = loader.fetch()
    [problem] = loader.problems
    assert problem.startswith("StartQueryExecution in us-east-1 failed: InvalidRequestException: No output location")
    assert progress.events == 0


def test_a_failed_query_is_one_sentence(athena):
    loader = AthenaLoader(
        EventIndex(), AthenaOptions("no_such_table", since=SINCE, until=UNTIL, output_location=RESULTS)
    )
    loader.prepare()
    progress = loader.fetch()
    assert progress.state == "FAILED"
    [problem] = loader.problems
    assert problem.startswith(f"The Athena query {progress.query_id} failed: SYNTAX_ERROR: Catalog Error")
    assert "\n" not in problem


def test_stopping_sends_stop_query_execution(athena):
    athena.hold()
    stop = threading.Event()
    index = EventIndex()
    loader = AthenaLoader(index, options())
    loader.prepare()

    def progressed(progress) -> None:
        if progress.state == "RUNNING":
            stop.set()

    progress = loader.fetch(progressed, stop.is_set)
    athena.release()
    assert "StopQueryExecution" in athena.calls
    assert athena.executions[progress.query_id].state == "CANCELLED"
    assert progress.cancelled and progress.state == "CANCELLED"
    assert loader.problems == [f"Stopped the Athena query {progress.query_id} (StopQueryExecution)."]
    assert index.snapshot.n == 0


def test_a_row_that_is_not_a_record_is_skipped_with_a_sentence(athena, trail):
    table = trail[0]
    table.execute(
        "INSERT INTO cloudtrail_logs_pp (eventid, eventname, eventsource, eventtime, requestparameters, readonly,"
        " account, region, timestamp) VALUES ('broken-1', 'Decrypt', 'kms.amazonaws.com', '2026-11-20T01:00:00Z',"
        " '{not json', 'true', '111122223333', 'us-east-1', '2026/11/20')"
    )
    try:
        index = EventIndex()
        loader = AthenaLoader(index, options("event:Decrypt"))
        loader.prepare()
        loader.fetch()
    finally:
        table.execute("DELETE FROM cloudtrail_logs_pp WHERE eventid = 'broken-1'")
    assert loader.problems == [
        "1 result row of the Athena query could not be read as records (its requestparameters is not JSON): skipped."
    ]
    assert ids(index, "event:Decrypt") == local(trail, "event:Decrypt")


def test_kmstui_events_athena(athena, trail, capsys):
    code, out, err = run_main(
        capsys,
        "events",
        "--athena",
        "cloudtrail_logs_pp",
        "--org",
        "--output-location",
        RESULTS,
        "--since",
        SINCE,
        "--until",
        UNTIL,
        "--filter",
        "principal:role/Admin key:1234abcd",
        "--format",
        "jsonl",
    )
    assert code == 0, err
    assert {e["event_id"] for e in json_lines(out)} == local(trail, "principal:role/Admin key:1234abcd")
    assert "No SQL equivalent for key:1234abcd; SQL only narrows principal:role/Admin" in err
    assert "Athena loaded, 1.1 GB scanned (about $0.0056)" in err


def test_kmstui_events_athena_that_fails_exits_2(athena, capsys):
    code, _out, err = run_main(capsys, "events", "--athena", "nope", "--output-location", RESULTS, "--since", "1d")
    assert code == 2
    assert "failed: SYNTAX_ERROR" in err


# ---------------------------------------------------------------------------
# The explorer


async def test_the_explorer_shows_the_query_running_and_escape_stops_it(athena):
    from kmstui.ui.app import KmsApp
    from kmstui.ui.loadbar import LoadBar

    from appkit import settle

    athena.hold()
    app = KmsApp(athena=options("event:Decrypt key:1234abcd"))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = app.explorer
        for _ in range(200):  # the query is held RUNNING: wait until the screen says so
            await pilot.pause(0.05)
            if "Athena running" in screen.query_one(LoadBar).render_line(0).text:  # hidden until then
                break
        shown = screen.query_one(LoadBar).render_line(0).text
        assert "Athena running, 588.7 MB scanned (about $0.0028) · Esc stops" in shown
        await pilot.press("escape")
        await settle(pilot)
        assert "StopQueryExecution" in athena.calls
        assert any(m.startswith("Stopped the Athena query") for m in screen.messages)
        assert any(m.startswith("No SQL equivalent for key:1234abcd") for m in screen.messages)
    athena.release()


async def test_the_explorer_lists_what_the_query_returned(athena, trail):
    from kmstui.ui.app import KmsApp
    from kmstui.ui.panes import EventsPane

    from appkit import lines, settle, text_of

    app = KmsApp(athena=options("event:=CreateGrant"), filter_text="event:=CreateGrant")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        shown = {app.index.event(row).event_id for row in app.explorer.result.rows.tolist()}
        assert shown == local(trail, "event:=CreateGrant")
        assert any("CreateGrant" in line for line in lines(app.explorer.query_one(EventsPane)))
        assert "Athena loaded" in text_of(app.explorer.query_one("#status"))


def test_a_refused_permission_is_named(athena):
    athena.denied.add("StartQueryExecution")
    loader = AthenaLoader(EventIndex(), options())
    loader.prepare()
    loader.fetch()
    assert loader.problems == [
        "Access denied to StartQueryExecution in us-east-1: the credentials need athena:StartQueryExecution"
        " (and glue:GetTable, s3 on the trail's bucket and the output location)."
    ]


def test_athenas_words_are_shown_never_obeyed(athena):
    loader = AthenaLoader(
        EventIndex(), AthenaOptions("evil\x1b[31m", since=SINCE, until=UNTIL, output_location=RESULTS)
    )
    loader.prepare()
    loader.fetch()
    [problem] = loader.problems
    assert "\x1b" not in problem and "␛[31m" in problem


def test_stopping_while_the_result_loads_keeps_what_arrived(athena, monkeypatch):
    from kmstui.core.live import athena as module

    monkeypatch.setattr(module, "BATCH_ROWS", 100)
    stop = threading.Event()
    index = EventIndex()
    loader = AthenaLoader(index, options())
    loader.prepare()

    def progressed(progress) -> None:
        if progress.state == "LOADING" and progress.events:
            stop.set()

    progress = loader.fetch(progressed, stop.is_set)
    assert progress.state == "STOPPED" and progress.cancelled
    assert index.snapshot.n == progress.events == 100
    assert loader.problems == ["Stopped reading the Athena result after 100 rows: the events read so far are kept."]
