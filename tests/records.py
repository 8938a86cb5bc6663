"""Small builders for CloudTrail records and the files that carry them, plus load and CLI helpers.

Tests build exactly the records they need with these, rather than pasting big blobs:

    write(tmp_path / "log.json", cloudtrail_file([kms("Decrypt", key=KEY1)]))
    index = load(tmp_path / "log.json")
    [event] = events(index)

The demo (scripts/make_demo.py) and the benchmark's trail (benchmarks/synth.py) have
builders of their own, each saying why: a byte-stable story, and a million records at speed.
"""

from __future__ import annotations

import gzip
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kmstui.core import loader
from kmstui.core.decode import Batch, SourceInfo, load_many
from kmstui.core.index import EventIndex
from kmstui.core.query import parse
from kmstui.core.sources import SourceFile, discover, newest_first

REPO = Path(__file__).resolve().parents[1]

# Outside data: public CloudTrail records kept next to the repository, read in place and never
# copied into it. Tests on them are extra checks; the project's own tests use the demo,
# tests/data or the builders below, and run in a clone that has no ../shared.
SHARED_CORPUS = REPO.parent / "shared" / "corpus"
AWS_DOCS = SHARED_CORPUS / "aws-docs"  # examples from AWS's documentation
REAL = SHARED_CORPUS / "real"


def outside_data_reason(folder: Path) -> str:
    """Why an extra check on outside data did not run: which folder is missing."""
    where = os.path.relpath(folder, REPO)
    return f"outside data not here: {where} (extra check on public records; the project's own tests do not need it)"


def needs_outside_data(folder: Path) -> pytest.MarkDecorator:
    """Marks an extra check on outside data: skipped, saying so, where ``folder`` is not here."""
    return pytest.mark.skipif(not folder.is_dir(), reason=outside_data_reason(folder))


KMS = "kms.amazonaws.com"
CLOUDTRAIL = "cloudtrail.amazonaws.com"
ACCOUNT = "111122223333"
OTHER_ACCOUNT = "444455556666"
REGION = "us-east-1"
TIME = "2024-05-01T12:00:00Z"

KEY1 = "1234abcd-12ab-34cd-56ef-1234567890ab"
KEY2 = "0987dcba-09fe-87dc-65ba-ab0987654321"
KEY3 = "5555eeee-55ee-55ee-55ee-5555eeee5555"


def key_arn(key_id: str = KEY1, region: str = REGION, account: str = ACCOUNT) -> str:
    return f"arn:aws:kms:{region}:{account}:key/{key_id}"


def alias_arn(name: str, region: str = REGION, account: str = ACCOUNT) -> str:
    name = name if name.startswith("alias/") else f"alias/{name}"
    return f"arn:aws:kms:{region}:{account}:{name}"


def trail_arn(name: str = "main-trail", region: str = REGION, account: str = ACCOUNT) -> str:
    return f"arn:aws:cloudtrail:{region}:{account}:trail/{name}"


_ids = itertools.count(1)


def new_id() -> str:
    """A fresh, well-formed (lowercase UUID-shaped) event id."""
    return f"00000000-0000-4000-8000-{next(_ids):012d}"


# ---------------------------------------------------------------------------
# Identities


def iam_user(name: str = "Alice", account: str = ACCOUNT, path: str = "/") -> dict:
    return {
        "type": "IAMUser",
        "principalId": "AIDAEXAMPLE" + name.upper(),
        "arn": f"arn:aws:iam::{account}:user{path}{name}",
        "accountId": account,
        "accessKeyId": "AKIAEXAMPLE",
        "userName": name,
    }


def assumed_role(role: str = "Admin", session: str = "s1", account: str = ACCOUNT, path: str = "/") -> dict:
    return {
        "type": "AssumedRole",
        "principalId": f"AROAEXAMPLE:{session}",
        "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{session}",
        "accountId": account,
        "accessKeyId": "ASIAEXAMPLE",
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": "AROAEXAMPLE",
                "arn": f"arn:aws:iam::{account}:role{path}{role}",
                "accountId": account,
                "userName": role,
            }
        },
    }


def root(account: str = ACCOUNT) -> dict:
    return {"type": "Root", "principalId": account, "arn": f"arn:aws:iam::{account}:root", "accountId": account}


def aws_service(service: str = "s3.amazonaws.com") -> dict:
    return {"type": "AWSService", "invokedBy": service}


def aws_internal(account: str = ACCOUNT) -> dict:
    """How KMS's own scheduled work (RotateKey, DeleteKey) is attributed."""
    return {"accountId": account, "invokedBy": "AWS Internal"}


# ---------------------------------------------------------------------------
# Records


def record(
    name: str = "Decrypt",
    *,
    source: str = KMS,
    time: str = TIME,
    event_id: str | None = None,
    region: str = REGION,
    account: str = ACCOUNT,
    identity: dict | None = None,
    request=None,
    response=None,
    resources: list | None = None,
    error: str | None = None,
    message: str | None = None,
    read_only: bool | None = None,
    event_type: str = "AwsApiCall",
    ip: str = "198.51.100.7",
    agent: str = "aws-cli/2.15.0 Python/3.11",
    details: dict | None = None,
    **extra,
) -> dict:
    """One CloudTrail record with the usual envelope; ``None`` arguments are left out."""
    out = {
        "eventVersion": "1.08",
        "userIdentity": identity if identity is not None else iam_user(),
        "eventTime": time,
        "eventSource": source,
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": ip,
        "userAgent": agent,
        "requestParameters": request,
        "responseElements": response,
        "requestID": new_id(),
        "eventID": event_id or new_id(),
        "readOnly": read_only,
        "resources": resources,
        "eventType": event_type,
        "managementEvent": True,
        "recipientAccountId": account,
        "eventCategory": "Management",
    }
    if error is not None:
        out["errorCode"] = error
    if message is not None:
        out["errorMessage"] = message
    if details is not None:
        out["serviceEventDetails"] = details
    out.update(extra)
    return {k: v for k, v in out.items() if v is not None or k in ("requestParameters", "responseElements")}


def key_resource(arn: str) -> dict:
    kind = "AWS::KMS::Alias" if ":alias/" in arn else "AWS::KMS::Key"
    return {"accountId": arn.split(":")[4], "type": kind, "ARN": arn}


def kms(name: str = "Decrypt", key: str | None = None, *, request: dict | None = None, **kwargs) -> dict:
    """A KMS record; ``key`` (an id, ARN or alias) goes into requestParameters.keyId, and a key
    ARN also into resources, as CloudTrail does."""
    request = dict(request or {})
    resources = kwargs.pop("resources", None)
    if key is not None:
        request.setdefault("keyId", key)
        if resources is None and key.startswith("arn:") and ":key/" in key:
            resources = [key_resource(key)]
    if "read_only" not in kwargs:
        kwargs["read_only"] = name in ("Decrypt", "Encrypt", "GenerateDataKey", "DescribeKey", "ListAliases")
    return record(name, source=KMS, request=request or None, resources=resources, **kwargs)


def trail_config(
    name: str, trail: str = "main-trail", *, request: dict | None = None, response: dict | None = None, **kwargs
) -> dict:
    """A CloudTrail configuration record (CreateTrail, StopLogging, PutEventSelectors...)."""
    arn = (
        trail
        if trail.startswith("arn:")
        else trail_arn(trail, kwargs.get("region", REGION), kwargs.get("account", ACCOUNT))
    )
    if request is None:
        request = {"trailName": arn} if name in ("PutEventSelectors", "PutInsightSelectors") else {"name": arn}
    return record(name, source=CLOUDTRAIL, request=request, response=response, read_only=False, **kwargs)


def other_service(name: str = "GetObject", source: str = "s3.amazonaws.com", **kwargs) -> dict:
    return record(name, source=source, **kwargs)


# ---------------------------------------------------------------------------
# Containers


def cloudtrail_file(records: list[dict], indent: int | None = None) -> bytes:
    """A CloudTrail log file as delivered to S3: compact, unless ``indent`` asks otherwise."""
    separators = (",", ":") if indent is None else None
    return json.dumps({"Records": records}, indent=indent, separators=separators).encode()


def lookup_event(rec: dict, with_cloudtrail_event: bool = True) -> dict:
    """One event of `aws cloudtrail lookup-events` output."""
    event = {
        "EventId": rec.get("eventID"),
        "EventName": rec.get("eventName"),
        "ReadOnly": "true" if rec.get("readOnly") else "false",
        "AccessKeyId": "AKIAEXAMPLE",
        "EventTime": rec.get("eventTime"),
        "EventSource": rec.get("eventSource"),
        "Username": (rec.get("userIdentity") or {}).get("userName", "Alice"),
        "Resources": [
            {"ResourceType": r.get("type"), "ResourceName": r.get("ARN")} for r in rec.get("resources") or []
        ],
    }
    if with_cloudtrail_event:
        event["CloudTrailEvent"] = json.dumps(rec)
    return event


def lookup_page(records: list[dict], next_token: str | None = None) -> dict:
    page = {"Events": [lookup_event(r) for r in records]}
    if next_token:
        page["NextToken"] = next_token
    return page


def jsonl(items: list) -> bytes:
    return b"".join(json.dumps(item).encode() + b"\n" for item in items)


def gz(data: bytes) -> bytes:
    return gzip.compress(data)


def write(path: Path, data) -> Path:
    """Write bytes, text, or a JSON-able value to ``path`` (parents created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    elif not isinstance(data, (bytes, bytearray)):
        data = json.dumps(data).encode()
    path.write_bytes(data)
    return path


def delivery_path(
    base: Path,
    account: str = ACCOUNT,
    region: str = REGION,
    day: str = "2024/05/01",
    stamp: str = "20240501T1200Z",
    tag: str = "abc",
) -> Path:
    """Where CloudTrail would put a log file under a local copy of its bucket."""
    name = f"{account}_CloudTrail_{region}_{stamp}_{tag}.json.gz"
    return Path(base, "AWSLogs", account, "CloudTrail", region, day, name)


# ---------------------------------------------------------------------------
# Loading and querying


def load_file(path: str, label: str | None = None) -> tuple[Batch, SourceInfo]:
    """One file decoded on its own, as a loader worker would: the batch and what it said of the file."""
    batch = load_many([SourceFile(path, label or path)])
    return batch, batch.sources[0]


def load(*paths) -> EventIndex:
    """Load sources the way the CLI does (discover, newest first, then load) into a refreshed
    index: the same order, so events in one second break their ties alike."""
    files, _problems = discover([str(p) for p in paths])
    index = EventIndex()
    loader.load(index, newest_first(files), refresh_every=None)
    return index


def load_records(tmp_path: Path, records: list[dict], name: str = "log.json") -> EventIndex:
    return load(write(Path(tmp_path, name), cloudtrail_file(records)))


def rows(index: EventIndex, expr: str = "") -> list[int]:
    return parse(expr).rows(index).tolist()


def events(index: EventIndex, expr: str = "") -> list:
    """The matching events, newest first."""
    return [index.event(row) for row in rows(index, expr)]


def names(index: EventIndex, expr: str = "") -> list[str]:
    return [e.name for e in events(index, expr)]


def ids(index: EventIndex, expr: str = "") -> set[str]:
    return {e.event_id for e in events(index, expr)}


def only(index: EventIndex, expr: str = ""):
    found = events(index, expr)
    assert len(found) == 1, [(e.name, e.event_id) for e in found]
    return found[0]


def run_cli(*args, input: bytes | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """``python -m kmstui ARGS`` in a subprocess; stdout and stderr as text."""
    result = subprocess.run(
        [sys.executable, "-m", "kmstui", *[str(a) for a in args]],
        input=input if input is not None else b"",
        capture_output=True,
        cwd=cwd or REPO,
        timeout=60,
    )
    result.stdout = result.stdout.decode("utf-8", "replace")
    result.stderr = result.stderr.decode("utf-8", "replace")
    return result


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def run_main(capsys, *args) -> tuple[int, str, str]:
    """The CLI in this process (faster than a subprocess, for loops over formats):
    (exit status, stdout, stderr)."""
    from kmstui.cli import main

    capsys.readouterr()
    try:
        code = main([str(a) for a in args])
    except SystemExit as exit:
        code = exit.code
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------------------
# A folder like the public real-data corpus (built here, never copied from it)

MRK = "mrk-5a5a5a5a6b6b7c7c8d8d9e9e9e9e9e9e"  # a multi-Region key: one id in every region
LAB_KEY = "4c4c4c4c-1111-4222-8333-444444444444"


def real_like(folder: Path) -> Path:
    """Public CloudTrail as it is found: detection-rule test files (most without any KMS or
    trail event, some with a failed and a successful copy of one record under one id),
    documentation examples years apart naming keys by full id in several regions and
    accounts, and a trail's delivered log files."""
    rules = folder / "rules"
    stop_id, disable_id = "11111111-0000-4000-8000-000000000001", "11111111-0000-4000-8000-000000000002"
    stopped = trail_config("StopLogging", "lab-trail", event_id=stop_id, time="2019-01-01T00:00:00Z")
    failed = dict(stopped, errorCode="TrailNotFoundException", errorMessage="Unknown trail: lab-trail")
    write(rules / "cloudtrail_stopped.jsonl", jsonl([stopped, failed]))
    disabled = kms("DisableKey", key_arn(LAB_KEY), event_id=disable_id, time="2020-06-01T10:00:00Z")
    refused = dict(disabled, errorCode="AccessDeniedException", errorMessage="not authorised")
    write(rules / "kms_key_disabled.jsonl", jsonl([disabled, refused]))
    for number, source in enumerate(("s3", "ec2", "iam", "ssm", "rds", "sts")):
        write(rules / f"{source}_rule_{number}.jsonl", jsonl([other_service(source=f"{source}.amazonaws.com")]))
    guide = folder / "guide"
    write(
        guide / "schedule-key-deletion.json",
        kms("ScheduleKeyDeletion", key_arn(KEY1, "us-west-2"), region="us-west-2", time="2021-03-05T21:19:44Z"),
    )
    write(
        guide / "mrk.jsonl",
        jsonl(
            [
                kms("Decrypt", key_arn(MRK, "us-west-2"), region="us-west-2", time="2022-11-24T00:26:58Z"),
                kms("Decrypt", key_arn(MRK, "ap-northeast-1"), region="ap-northeast-1", time="2022-11-24T00:27:58Z"),
                kms("ScheduleKeyDeletion", key_arn(MRK, "us-west-2"), region="us-west-2", time="2022-11-25T09:00:00Z"),
            ]
        ),
    )
    write(
        guide / "same-id.jsonl",
        jsonl(
            [
                kms("DeleteKey", key_arn(KEY2, "eu-west-1"), region="eu-west-1", time="2023-01-01T00:00:00Z"),
                kms("Encrypt", key_arn(KEY2, "us-east-1"), time="2023-01-02T00:00:00Z"),
                kms(
                    "Encrypt",
                    key_arn(KEY2, "us-east-1", OTHER_ACCOUNT),
                    account=OTHER_ACCOUNT,
                    identity=iam_user("Bob", OTHER_ACCOUNT),
                    time="2023-01-03T00:00:00Z",
                ),
            ]
        ),
    )
    write(guide / "signin.json", other_service("ConsoleLogin", source="signin.amazonaws.com"))
    trail = folder / "trail"
    for hour in range(3):
        stamp = f"20250305T{10 + hour:02d}00Z"
        records = [kms("Decrypt", key_arn(KEY1), time=f"2025-03-05T{10 + hour:02d}:0{n}:00Z") for n in range(3)]
        write(delivery_path(trail, day="2025/03/05", stamp=stamp, tag=f"h{hour}"), gz(cloudtrail_file(records)))
    return folder


# ---------------------------------------------------------------------------
# Plain readings, for tests that check kmstui against a reading of the records without it


# What kmstui keeps, as a plain reading states it (deliberately not kmstui's own constants)
TRAIL_EVENTS = (
    "CreateTrail",
    "UpdateTrail",
    "DeleteTrail",
    "StartLogging",
    "StopLogging",
    "PutEventSelectors",
    "PutInsightSelectors",
)


def is_kept(rec: dict) -> bool:
    """A KMS record, or one of CloudTrail's own trail-configuration records."""
    source = rec.get("eventSource")
    return source == KMS or (source == CLOUDTRAIL and rec.get("eventName") in TRAIL_EVENTS)


def consistent(a: object, b: object) -> bool:
    """Two JSON values that could be copies of one record: objects agree on the fields both have."""
    if isinstance(a, dict) and isinstance(b, dict):
        return all(consistent(a[k], b[k]) for k in a.keys() & b.keys())
    return a == b


def copies_of_one_event(a: dict, b: dict) -> bool:
    """Same outcome (when both say who called) and nothing both have differs."""
    typed = all(isinstance(r.get("userIdentity"), dict) and r["userIdentity"].get("type") for r in (a, b))
    if typed and a.get("errorCode") != b.get("errorCode"):
        return False
    return consistent(a, b)


def fullest_copies(records: list[dict], identity) -> list[dict]:
    """Each event once, as its fullest copy: records with the same ``identity(record)`` (id,
    name and time) fold when they are copies of one event; records that share an id but
    differ stay apart. Records without an id are all kept."""
    out: list[dict] = []
    groups: dict[tuple, list[list[dict]]] = {}
    for rec in records:
        if not rec.get("eventID"):
            out.append(rec)
            continue
        same = groups.setdefault(identity(rec), [])
        for group in same:
            if all(copies_of_one_event(rec, other) for other in group):
                group.append(rec)
                break
        else:
            same.append([rec])
    size = lambda rec: len(json.dumps(rec, separators=(",", ":"), ensure_ascii=False).encode())  # noqa: E731
    return out + [max(group, key=size) for same in groups.values() for group in same]
