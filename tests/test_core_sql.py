"""The Athena SQL is right, not just well-formed: for every filter form, the generated query,
run on the documented CloudTrail table (built in DuckDB over the demo trail and a trail of
unusual records, the SQL translated from Trino by sqlglot), returns the events kmstui's own
filter keeps over the same files; where SQL can only narrow, it returns at least those, and
kmstui's filter over what it returned gives exactly them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlglot

from kmstui.core import fields, query, sql, sqlterms
from kmstui.core.decode import decode_records
from kmstui.core.index import EventIndex
from kmstui.core.timeutil import parse_iso

import athena_table
from records import REPO, events, ids, load, run_main

START, END = "2024-04-30T00:00:00Z", "2026-11-21T00:00:00Z"  # the test trail's days, and the demo's


# Every filter form the language has; each field appears (a test checks).
FILTERS = [
    "",
    "event:Decrypt",
    "cloud:aws",
    "cloud:=alibaba",
    "event:Decrypt NOT cloud:ali",
    "event:=DisableKey",
    "event:DisableKey,ScheduleKeyDeletion",
    "event:=Encrypt",
    "principal:role/Admin",
    'principal:"role/Admin (alice@example.com)"',
    "principal:=root",
    "principal:service:s3",
    "principal:arn:aws:sts::111122223333:assumed-role/Admin/alice@example.com",
    "key:1234abcd",
    "alias:payments",
    "ip:203.0.113",
    "ip:=s3.amazonaws.com",
    "region:eu-west",
    "region:=us-east-1",
    "account:444455556666",
    "account:=111122223333",
    "owner:444455556666",
    "owner:=111122223333",
    "key:*",
    "-ctx:* -owner:*",
    "error:AccessDenied",
    "error:*",
    "error:not authorized",
    "-error:*",
    "identity:AssumedRole",
    "type:=IAMUser",
    "eventtype:AwsApiCall",
    "category:Management",
    "agent:console",
    "id:0000-0000",
    "trail:main",
    "source:cloudtrail",
    "source:=kms.amazonaws.com",
    "origin:2024",
    "readonly:true",
    "readonly:false",
    "ctx:aws:s3:arn=bucket",
    "ctx:SecretARN",
    "ctx:=Dept=Ops",
    "ctx:Department=Finance",
    "ctx:naïve",
    "since:2026-11-20T02:00Z",
    "until:2026-11-20T02:00Z",
    "since:2026-11-20T02:10Z until:2026-11-20T02:20Z",
    "until:2024-05-01",
    "since:1h",
    "grantee:role/Reader",
    "retiring:role/Admin",
    "operations:Decrypt",
    "keyspec:RSA_4096",
    "keyspec:SYMMETRIC",
    "keyusage:SIGN_VERIFY",
    "window:7",
    "window<=7",
    "window>7",
    "policyname:default",
    "crossgrant:true",
    "crossgrant:false",
    "crossaccount:true",
    "crossaccount:false",
    "new:principal",
    "has:req.kmsKeyId",
    "has:grantee",
    "has:resp.keyMetadata.keySpec",
    "req.pendingWindowInDays>=30",
    "req.pendingWindowInDays:7",
    "req.bypassPolicyLockoutSafetyCheck:true",
    "req.bypassPolicyLockoutSafetyCheck:false",
    "req.eventSelectors.includeManagementEvents:false",
    "resp.keyMetadata.enabled:true",
    "requestParameters.operations:Sign",
    "req.granteePrincipal:=arn:aws:iam::444455556666:role/Reader",
    "Decrypt",
    "AccessDenied",
    "event:Decrypt OR event:Encrypt",
    "(event:Decrypt OR error:*) -identity:AWSService",
    "NOT (event:Decrypt OR event:GenerateDataKey)",
    "-(readonly:true identity:AWSService) region:us",
    "event:Decrypt AND NOT ctx:SecretARN",
    "-principal:role/Admin",
    "-key:1234abcd event:CreateGrant",
    "(ctx:SecretARN OR key:1234abcd) -error:*",
    "-window<=7 event:ScheduleKeyDeletion",
    "(event:=DisableKey OR event:=ScheduleKeyDeletion) -error:* -identity:AWSService",
]


@pytest.fixture(scope="module")
def trail(tmp_path_factory):
    """The demo's delivered log files and the unusual records' (split over two days' folders),
    as the DuckDB table and as kmstui's own index over the same files."""
    folders = [REPO / "assets" / "demo", athena_table.write_unusual(tmp_path_factory.mktemp("trail"))]
    files = [path for folder in folders for path, *_ in athena_table.delivered(folder)]
    table = athena_table.build(folders)
    athena_table.lake_view(table, "lake_eds")
    return table, load(*files)


def window() -> sql.Window:
    start, end = parse_iso(START), parse_iso(END)
    assert start is not None and end is not None
    return sql.Window(start, end)


def local(index: EventIndex, expression: str) -> set[str]:
    """kmstui's own answer in the window: the filter and the window's bounds."""
    inner = f"({expression}) " if expression else ""
    return ids(index, f"{inner}since:{START} until:{END}")


def loaded(rows: list[dict], tmp_path: Path) -> EventIndex:
    """The rows turned back into records and loaded, as --athena does."""
    records = [json.dumps(sql.record_of(row)).encode() for row in rows]
    path = tmp_path / "rows.jsonl"
    path.write_bytes(b"".join(r + b"\n" for r in records))
    index = EventIndex()
    index.add(decode_records(records, "athena", str(path), format="jsonl"))
    index.refresh()
    return index


def test_every_field_has_a_filter_here():
    named = {t.field for f in FILTERS if f for t in _terms(query.parse(f).root)}
    missing = [f.name for f in fields.unique() if f.name not in named]
    assert not missing


def _terms(node):
    if isinstance(node, query.Term):
        yield node
    elif isinstance(node, query.Not):
        yield from _terms(node.node)
    elif node is not None:
        for child in node.nodes:
            yield from _terms(child)


@pytest.mark.parametrize("expression", FILTERS)
def test_the_sql_finds_what_kmstui_finds(trail, expression, tmp_path):
    table, index = trail
    compiled = query.parse(expression)
    generated = sql.generate(compiled, window(), sql.Table(organization=True))
    rows = athena_table.run(table, generated.sql)
    found = {row["eventid"] for row in rows}
    wanted = local(index, expression)
    if generated.exact:
        assert found == wanted
        assert not generated.note
    else:
        assert found >= wanted
        assert generated.note
        if expression.split(":")[0] not in FILE_FIELDS:
            assert ids(loaded(rows, tmp_path), f"({expression}) since:{START} until:{END}") == wanted


@pytest.mark.parametrize("expression", FILTERS)
def test_the_lake_sql_finds_what_kmstui_finds(trail, expression):
    """The same over CloudTrail Lake's shape: exact where it says so, else at least the events."""
    table, index = trail
    generated = sql.generate(query.parse(expression), window(), sql.Table("lake_eds"), "lake")
    found = {row["eventid"] for row in athena_table.run(table, generated.sql)}
    wanted = local(index, expression)
    assert found == wanted if generated.exact else found >= wanted


# These name the log file an event was read from: loaded from Athena, that is the query's result.
FILE_FIELDS = ("trail", "origin")


def test_the_record_fields_are_exact():
    """What the table holds as columns is pushed down exactly: no second pass needed."""
    for expression in FILTERS[:48]:
        generated = sql.generate(query.parse(expression), window())
        term = query.parse(expression).root
        if isinstance(term, query.Term) and fields.FIELDS[term.field or "event"].sql in (
            sqlterms.readonly,
            sqlterms.error,
            sqlterms.crossaccount,
        ):
            assert generated.exact, expression
    for expression in ("event:=DisableKey", "ip:203.0.113", "account:444455556666", "id:0000-0000", "agent:console"):
        assert sql.generate(query.parse(expression), window()).exact
    assert sql.generate(query.parse("(event:Decrypt OR error:*) -identity:AWSService"), window()).exact


def test_pushed_terms_narrow_what_is_returned(trail):
    """A superset must still cut: the principal's words and the context's are in the WHERE."""
    table, _index = trail
    everything = len(athena_table.run(table, sql.generate(query.parse(""), window()).sql))
    for expression in ("principal:role/Admin", "ctx:SecretARN", "window<=7", "has:grantee", "crossgrant:true"):
        found = athena_table.run(table, sql.generate(query.parse(expression), window()).sql)
        assert len(found) < everything / 10, expression


def test_terms_without_sql_are_named_in_one_sentence():
    generated = sql.generate(query.parse("key:1234abcd principal:role/Admin event:Decrypt"), window())
    assert generated.note == (
        "No SQL equivalent for key:1234abcd; SQL only narrows principal:role/Admin:"
        " kmstui's own filter decides after loading."
    )
    assert "strpos(lower(coalesce(eventname, '')), 'decrypt') > 0" in generated.sql


def test_partitions_are_pruned_to_the_window_and_regions():
    generated = sql.generate(
        query.parse("region:=eu-west-1,us-east-1"),
        sql.window("2026-11-20T02:00Z", "2026-11-20T03:00Z"),
        sql.Table("security.org_trail", organization=True),
    )
    assert "\"timestamp\" BETWEEN '2026/11/19' AND '2026/11/21'" in generated.sql
    assert "region IN ('eu-west-1', 'us-east-1')" in generated.sql
    assert "FROM security.org_trail" in generated.sql
    single = sql.generate(query.parse("region:eu"), sql.window("2026-11-20T02:00Z", "2026-11-20T03:00Z"))
    assert "region LIKE" not in single.sql  # the single-account table has no region partition


def test_the_window_and_the_filters_times_narrow_the_partitions():
    generated = sql.generate(query.parse("since:2026-11-20T02:00Z"), sql.window("30d", None))
    assert "BETWEEN '2026/11/19'" in generated.sql


def test_only_the_columns_kmstui_reads_are_selected():
    generated = sql.generate(query.parse(""), window())
    select = generated.sql.split("FROM")[0]
    assert "SELECT *" not in select
    assert "additionaleventdata" not in select and "tlsdetails" not in select


def test_every_query_is_valid_trino_and_lake_sql():
    for expression in FILTERS:
        for dialect in ("athena", "lake"):
            generated = sql.generate(query.parse(expression), window(), dialect=dialect)
            sqlglot.parse_one(generated.sql, read="trino")
            if dialect == "lake":
                assert '"timestamp"' not in generated.sql  # an event data store has no partitions


def test_a_value_that_cannot_be_a_plain_literal_is_applied_after_loading():
    generated = sql.generate(query.parse('event:"Dec\u202erypt"'), window())
    assert "\u202e" not in generated.sql
    assert generated.note.startswith("No SQL equivalent for")
    quoted = sql.generate(query.parse("agent:o'brien"), window())
    assert "'o''brien'" in quoted.sql


def test_cost_is_five_dollars_a_terabyte_with_the_ten_megabyte_minimum():
    assert sql.cost(2**40) == pytest.approx(5.0)
    assert sql.cost(0) == sql.cost(10 * 2**20) == pytest.approx(10 / 2**20 * 5)
    assert sql.cost(3 * 2**40) == pytest.approx(15.0)


def test_kmstui_sql_prints_the_query_and_says_what_it_cannot_do(capsys):
    code, out, err = run_main(
        capsys, "sql", "--org", "--table", "security.org_trail", "-f", "-error:* key:1234abcd", "--since", "2h"
    )
    assert code == 0
    assert out.startswith("SELECT\n") and out.rstrip().endswith(";")
    assert "FROM security.org_trail" in out and "NOT (errorcode IS NOT NULL)" in out
    sqlglot.parse_one(out.rstrip().rstrip(";"), read="trino")
    assert err == "kmstui: No SQL equivalent for key:1234abcd: kmstui's own filter decides after loading.\n"


def test_kmstui_sql_for_cloudtrail_lake(capsys):
    code, out, _err = run_main(
        capsys, "sql", "--dialect", "lake", "--table", "EXAMPLE-f852-4e8f", "-f", "ctx:SecretARN"
    )
    assert code == 0
    assert 'FROM "EXAMPLE-f852-4e8f"' in out
    assert "date_format(eventtime, '%Y-%m-%dT%H:%i:%sZ') AS eventtime" in out
    assert "json_format(CAST(requestparameters AS JSON))" in out


def test_kmstui_sql_refuses_a_bad_filter_or_window_in_one_sentence(capsys):
    code, out, err = run_main(capsys, "sql", "-f", "event:(")
    assert (code, out) == (2, "")
    assert err.startswith("kmstui: bad filter: column 7:") and err.count("\n") == 1
    code, out, err = run_main(capsys, "sql", "--since", "2026-11-20", "--until", "2026-11-19")
    assert (code, out) == (2, "")
    assert err == "kmstui: The time range is empty: --since must come before --until.\n"


def test_a_result_row_becomes_the_record_the_loaders_read():
    row = {
        "eventid": "e-1",
        "eventname": "CreateKey",
        "readonly": "false",
        "ui_type": "IAMUser",
        "ui_arn": "arn:aws:iam::111122223333:user/Alice",
        "requestparameters": '{"big": 123456789012345678901234567890, "tags": []}',
        "resources": '[{"arn": "arn:aws:kms:us-east-1:111122223333:key/k", "accountid": "111122223333", "type": null}]',
        "errorcode": "",
    }
    assert sql.record_of(row) == {
        "eventID": "e-1",
        "eventName": "CreateKey",
        "readOnly": False,
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/Alice"},
        "requestParameters": {"big": 123456789012345678901234567890, "tags": []},
        "resources": [{"ARN": "arn:aws:kms:us-east-1:111122223333:key/k", "accountId": "111122223333"}],
    }
    with pytest.raises(sql.RowError, match="its responseelements is not JSON"):
        sql.record_of({"eventid": "e-2", "responseelements": "{oops"})


def test_accounts_asked_for_prune_the_account_partition(trail):
    table, index = trail
    generated = sql.generate(query.parse("event:Decrypt"), window(), sql.Table(organization=True, accounts=(OTHER,)))
    assert f"account IN ('{OTHER}')" in generated.sql
    found = {row["eventid"] for row in athena_table.run(table, generated.sql)}
    wanted = {e.event_id for e in events(index, f"event:Decrypt since:{START} until:{END}") if e.account == OTHER}
    assert found == wanted and wanted


OTHER = "444455556666"
