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

from records import (
    ACCOUNT,
    KEY1,
    KEY2,
    OTHER_ACCOUNT,
    alias_arn,
    assumed_role,
    aws_service,
    cloudtrail_file,
    delivery_path,
    gz,
    iam_user,
    key_arn,
    kms,
    other_service,
    root,
    trail_config,
    write,
)

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


def unusual_records() -> list[dict]:
    """What the demo lacks: grants, key creation, deletion windows, policies, lists and booleans
    in the parameters, response paths, escapes and non-ASCII text, a root and a service caller."""
    day = "2024-05-01T"
    return [
        kms(
            "CreateGrant",
            key_arn(KEY1),
            request={
                "keyId": key_arn(KEY1),
                "granteePrincipal": f"arn:aws:iam::{OTHER_ACCOUNT}:role/Reader",
                "retiringPrincipal": f"arn:aws:iam::{ACCOUNT}:role/Admin",
                "operations": ["Decrypt", "GenerateDataKey"],
                "constraints": {"encryptionContextSubset": {"Department": "Finance"}},
            },
            response={"grantId": "g-1"},
            time=day + "10:00:00Z",
            identity=assumed_role("Admin", "alice@example.com"),
        ),
        kms(
            "CreateGrant",
            key_arn(KEY2),
            request={"keyId": KEY2, "granteePrincipal": f"arn:aws:iam::{ACCOUNT}:role/Local", "operations": ["Sign"]},
            time=day + "10:05:00Z",
        ),
        kms(
            "CreateKey",
            request={"keySpec": "RSA_4096", "keyUsage": "SIGN_VERIFY", "bypassPolicyLockoutSafetyCheck": True},
            response={"keyMetadata": {"keyId": KEY2, "keySpec": "RSA_4096", "enabled": True}},
            time=day + "10:10:00Z",
            identity=root(),
        ),
        kms(
            "CreateKey",
            request={"customerMasterKeySpec": "SYMMETRIC_DEFAULT", "bypassPolicyLockoutSafetyCheck": False},
            time=day + "10:11:00Z",
        ),
        kms("ScheduleKeyDeletion", KEY1, request={"pendingWindowInDays": 7}, time=day + "11:00:00Z"),
        kms("ScheduleKeyDeletion", KEY2, request={"pendingWindowInDays": 30}, time=day + "11:01:00Z"),
        kms("ScheduleKeyDeletion", KEY2, request={"pendingWindowInDays": "7"}, time=day + "11:02:00Z"),
        kms("PutKeyPolicy", KEY1, request={"policyName": "default", "policy": "{}"}, time=day + "11:10:00Z"),
        kms("DisableKey", KEY1, time=day + "11:20:00Z", error="AccessDenied", message="User: x is not authorized"),
        kms("DisableKeyRotation", KEY1, time=day + "11:21:00Z"),
        kms("CreateAlias", request={"aliasName": "alias/payments", "targetKeyId": KEY1}, time=day + "11:30:00Z"),
        kms(
            "Decrypt",
            key_arn(KEY1),
            request={"encryptionContext": {"aws:s3:arn": "arn:aws:s3:::bucket-é/naïve", "Dept": "Ops"}},
            time=day + "12:00:00Z",
            identity=aws_service("s3.amazonaws.com"),
            ip="s3.amazonaws.com",
        ),
        kms(
            "Decrypt",
            key_arn(KEY2),
            request={"encryptionContext": {"SecretARN": "arn:aws:secretsmanager:us-east-1:1:secret:db"}},
            time=day + "12:01:00Z",
            identity=iam_user("Bob", account=OTHER_ACCOUNT),
            agent="Mozilla/5.0 console.amazonaws.com",
        ),
        kms(
            "Encrypt",
            alias_arn("payments"),
            time=day + "12:02:00Z",
            identity=assumed_role("Deploy", "ci", account=OTHER_ACCOUNT),
            read_only=False,
            request={"keyId": "alias/payments", "encryptionContext": {"quote": 'it\'s "quoted"'}},
        ),
        trail_config(
            "PutEventSelectors",
            request={
                "trailName": "main-trail",
                "eventSelectors": [{"includeManagementEvents": False, "readWriteType": "All"}],
            },
            time=day + "13:00:00Z",
        ),
        trail_config("UpdateTrail", request={"name": "main-trail", "kmsKeyId": key_arn(KEY1)}, time=day + "13:01:00Z"),
        trail_config("StopLogging", time=day + "13:02:00Z"),
        trail_config("DescribeTrails", time=day + "13:03:00Z"),  # not a configuration change: not kept
        other_service("GetObject", time=day + "13:04:00Z"),  # another service: not kept
        kms("Decrypt", key_arn(KEY1), time="2024-04-30T23:55:00Z"),  # delivered in the next day's folder
    ]


def write_unusual(base: Path) -> Path:
    """The unusual records as an account trail's delivered files under ``base``: one record
    from just before midnight sits in the next day's folder, as CloudTrail delivers it."""
    records = unusual_records()
    late = [r for r in records if r["eventTime"].startswith("2024-04-30")]
    write(delivery_path(base, tag="a"), gz(cloudtrail_file([r for r in records if r not in late])))
    write(delivery_path(base, tag="b", day="2024/05/01", stamp="20240501T0000Z"), gz(cloudtrail_file(late)))
    return base


def lake_view(connection: duckdb.DuckDBPyConnection, name: str = "lake_eds") -> str:
    """The same events in CloudTrail Lake's shape (its documented schema for CloudTrail events):
    ``eventtime`` a timestamp, ``requestparameters`` and ``responseelements`` maps of strings
    (a nested object kept as its JSON text), no partitions."""

    def as_map(column: str) -> str:
        return (
            f"map_from_entries(list_transform(map_entries(CAST(json({column}) AS MAP(VARCHAR, JSON))),"
            " lambda e: {'key': e.key, 'value': CASE WHEN json_type(e.value) = 'VARCHAR'"
            " THEN e.value ->> '$' ELSE CAST(e.value AS VARCHAR) END}))"
            f" AS {column}"
        )

    connection.execute(
        f"CREATE VIEW {name} AS SELECT * EXCLUDE (account, region, timestamp) REPLACE ("
        f"CAST(eventtime AS TIMESTAMPTZ) AS eventtime, {as_map('requestparameters')}, {as_map('responseelements')}"
        f") FROM {TABLE}"
    )
    return name
