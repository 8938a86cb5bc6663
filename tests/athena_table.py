"""The CloudTrail table AWS documents for Athena, built in DuckDB over a trail's log files.

The shape is the documented ``CREATE EXTERNAL TABLE cloudtrail_logs_pp`` (partition projection),
organization-trail variant: the record's fields as lowercase columns, ``useridentity`` and
``resources`` as structs, ``requestparameters``, ``responseelements``, ``additionaleventdata``
and ``serviceeventdetails`` as JSON text (what the Hive JSON SerDe gives a STRING column that
holds an object), ``readonly`` as text, and the partitions ``account``, ``region`` and
``timestamp`` (``yyyy/MM/dd``) from each file's delivery folder. Generated Athena (Trino) SQL
runs here after sqlglot translates it to DuckDB's dialect: :func:`run`.
"""

from __future__ import annotations

import gzip
import json
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path

import duckdb
import sqlglot

TABLE = "cloudtrail_logs_pp"
_IDENTITY = (
    "STRUCT(type VARCHAR, principalid VARCHAR, arn VARCHAR, accountid VARCHAR, invokedby VARCHAR,"
    " accesskeyid VARCHAR, username VARCHAR, onbehalfof STRUCT(userid VARCHAR, identitystorearn VARCHAR),"
    " sessioncontext STRUCT(attributes STRUCT(mfaauthenticated VARCHAR, creationdate VARCHAR),"
    " sessionissuer STRUCT(type VARCHAR, principalid VARCHAR, arn VARCHAR, accountid VARCHAR, username VARCHAR),"
    " ec2roledelivery VARCHAR))"
)
SCHEMA = (
    ("eventversion", "VARCHAR"),
    ("useridentity", _IDENTITY),
    ("eventtime", "VARCHAR"),
    ("eventsource", "VARCHAR"),
    ("eventname", "VARCHAR"),
    ("awsregion", "VARCHAR"),
    ("sourceipaddress", "VARCHAR"),
    ("useragent", "VARCHAR"),
    ("errorcode", "VARCHAR"),
    ("errormessage", "VARCHAR"),
    ("requestparameters", "VARCHAR"),
    ("responseelements", "VARCHAR"),
    ("additionaleventdata", "VARCHAR"),
    ("requestid", "VARCHAR"),
    ("eventid", "VARCHAR"),
    ("readonly", "VARCHAR"),
    ("resources", "STRUCT(arn VARCHAR, accountid VARCHAR, type VARCHAR)[]"),
    ("eventtype", "VARCHAR"),
    ("apiversion", "VARCHAR"),
    ("recipientaccountid", "VARCHAR"),
    ("serviceeventdetails", "VARCHAR"),
    ("sharedeventid", "VARCHAR"),
    ("vpcendpointid", "VARCHAR"),
    ("eventcategory", "VARCHAR"),
    ("account", "VARCHAR"),  # partitions of the organization-trail table
    ("region", "VARCHAR"),
    ("timestamp", "VARCHAR"),
)
_DELIVERY = re.compile(r"AWSLogs/(?:o-[a-z0-9]+/)?(\d{12})/CloudTrail/([a-z0-9-]+)/(\d{4}/\d{2}/\d{2})/[^/]+$")


def _text(value: object) -> str | None:
    """A STRING column's value: JSON text for an object or a list, as the SerDe gives it."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _struct(value: object, names: tuple[str, ...]) -> dict | None:
    if not isinstance(value, dict):
        return None
    lowered = {k.lower(): v for k, v in value.items()}
    return {name: _text(lowered.get(name)) if not isinstance(lowered.get(name), dict) else None for name in names}


def _identity(value: object) -> dict | None:
    if not isinstance(value, dict):
        return None
    flat = _struct(value, ("type", "principalid", "arn", "accountid", "invokedby", "accesskeyid", "username"))
    assert flat is not None
    session = value.get("sessionContext") if isinstance(value.get("sessionContext"), dict) else {}
    flat["onbehalfof"] = None
    flat["sessioncontext"] = {
        "attributes": _struct(session.get("attributes"), ("mfaauthenticated", "creationdate")),
        "sessionissuer": _struct(session.get("sessionIssuer"), ("type", "principalid", "arn", "accountid", "username")),
        "ec2roledelivery": _text(session.get("ec2RoleDelivery")),
    }
    return flat


def row_of(record: dict, account: str, region: str, day: str) -> tuple:
    """One record as a row of the table, with its file's partitions."""
    lowered = {k.lower(): v for k, v in record.items()}
    out = []
    for name, _type in SCHEMA:
        if name == "useridentity":
            out.append(_identity(lowered.get(name)))
        elif name == "resources":
            resources = lowered.get(name)
            out.append(
                [_struct(r, ("arn", "accountid", "type")) for r in resources if isinstance(r, dict)]
                if isinstance(resources, list)
                else None
            )
        elif name in ("account", "region", "timestamp"):
            out.append({"account": account, "region": region, "timestamp": day}[name])
        else:
            out.append(_text(lowered.get(name)))
    return tuple(out)


def delivered(folder: Path) -> Iterable[tuple[Path, str, str, str]]:
    """Every log file under ``folder`` in CloudTrail's delivery layout, with its partitions."""
    for path in sorted(folder.rglob("*.json*")):
        match = _DELIVERY.search(path.as_posix())
        if match is not None:
            yield path, match.group(1), match.group(2), match.group(3)


def build(folders: Iterable[Path], connection: duckdb.DuckDBPyConnection | None = None) -> duckdb.DuckDBPyConnection:
    """The table over every delivered log file under ``folders``."""
    connection = connection or duckdb.connect()
    names = [name for name, _kind in SCHEMA]
    with tempfile.TemporaryDirectory() as folder_of_rows:
        rows = Path(folder_of_rows, "rows.jsonl")
        with rows.open("w") as out:
            for folder in folders:
                for path, account, region, day in delivered(folder):
                    data = path.read_bytes()
                    if data[:2] == b"\x1f\x8b":
                        data = gzip.decompress(data)
                    for record in json.loads(data).get("Records", []):
                        out.write(json.dumps(dict(zip(names, row_of(record, account, region, day), strict=True))))
                        out.write("\n")
        columns = "{" + ", ".join(f"'{name}': '{kind}'" for name, kind in SCHEMA) + "}"
        connection.execute(
            f"CREATE TABLE {TABLE} AS SELECT * FROM read_json(?, format = 'newline_delimited', columns = {columns})",
            [str(rows)],
        )
    return connection


def translate(athena_sql: str) -> str:
    """Athena's SQL (Trino) in DuckDB's dialect."""
    return sqlglot.transpile(athena_sql, read="trino", write="duckdb")[0]


def run(connection: duckdb.DuckDBPyConnection, athena_sql: str) -> list[dict]:
    """The rows the SQL selects, as dictionaries of text (as Athena's CSV has them)."""
    cursor = connection.execute(translate(athena_sql))
    names = [d[0] for d in cursor.description]
    return [{n: None if v is None else str(v) for n, v in zip(names, row, strict=True)} for row in cursor.fetchall()]
