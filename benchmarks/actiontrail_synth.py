"""Synthetic Alibaba Cloud ActionTrail events: the tests', the demo's and the benchmark's.

Built from ActionTrail's documented field list (management event structure: eventId,
eventName, eventSource, serviceName, acsRegion, eventTime, eventType, eventRW,
userIdentity, sourceIpAddress, userAgent, requestParameters, responseElements, errorCode,
errorMessage, referencedResources, recipientAccountId, requestId, isGlobal), never copied
from the documentation. Deterministic: one random.Random stream per call, seeded with a
fixed string; no wall clock; gzip written with mtime 0.

- :func:`week`: a week of KMS events of two accounts in three regions: cryptographic
  calls, key management (a key created, aliased, disabled, scheduled for deletion, the
  deletion cancelled, enabled again), failures, other services' events (not kept), and a
  trail change (StopLogging then StartLogging);
- :func:`hostile`: records built to break things: control characters and bidi overrides,
  nesting deeper than a decoder's stack, fields of the wrong type;
- :func:`write_oss`, :func:`write_sls_jsonl`, :func:`write_sls_csv`: the three ways
  ActionTrail events are delivered or exported; :func:`write_oss_windows`: OSS files named
  and laid out as Alibaba documents them, a file per 5 minutes (single- or multi-account);
- :func:`many`: n events, fast, for the benchmark.

    python -m benchmarks.actiontrail_synth DIR     # the week in all three shapes under DIR
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import random
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ACCOUNTS = ("5812345678901234", "1890123456789012")  # A: production, B: analytics
REGIONS = ("cn-hangzhou", "cn-shanghai", "ap-southeast-1")
START = datetime(2026, 11, 13, 0, 0, 0, tzinfo=UTC)
DAYS = 7
TRAIL = "audit-main"  # account A's trail, in cn-hangzhou
CRYPTO = ("Decrypt", "Encrypt", "GenerateDataKey", "GenerateDataKey", "Decrypt", "Decrypt")
READS = ("DescribeKey", "ListKeys", "ListAliases")
SUSPECT_IP = "198.51.100.23"


def stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


class _Ids:
    """Deterministic upper-case UUIDs, as ActionTrail writes its event and request ids."""

    def __init__(self, rng: random.Random):
        self.rng = rng

    def __call__(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4)).upper()


def key_id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def ram_user(account: str, name: str) -> dict:
    return {
        "type": "ram-user",
        "principalId": f"2{account[1:12]}{len(name):04d}",
        "accountId": account,
        "userName": name,
        "accessKeyId": f"LTAI5t{account[:6]}{name[:4].upper():X<4}",
    }


def assumed_role(account: str, role: str, session: str) -> dict:
    role_id = f"3{account[2:14]}{len(role):05d}"
    return {
        "type": "assumed-role",
        "principalId": f"{role_id}:{session}",
        "accountId": account,
        "userName": f"{role}:{session}",
        "accessKeyId": f"STS.NT{account[:8]}",
        "sessionContext": {
            "attributes": {"creationDate": "2026-11-13T00:00:00Z", "mfaAuthenticated": "false"},
            "sessionIssuer": {"type": "role", "principalId": role_id, "accountId": account, "userName": role},
        },
    }


def root(account: str) -> dict:
    return {"type": "root-account", "principalId": account, "accountId": account, "accessKeyId": f"LTAI4G{account[:8]}"}


def system(account: str, service: str) -> dict:
    return {"type": "system", "principalId": service, "accountId": account, "userName": service}


def event(
    ids: _Ids,
    t: datetime,
    account: str,
    region: str,
    name: str,
    identity: dict,
    ip: str,
    agent: str,
    request: dict | None = None,
    response: dict | None = None,
    error: tuple[str, str] | None = None,
    source: str | None = None,
    service: str = "Kms",
    rw: str | None = None,
) -> dict:
    """One ActionTrail event, its fields in the documented order."""
    request_id = ids()
    record: dict = {
        "eventId": ids(),
        "eventVersion": 1,
        "eventSource": source or f"kms.{region}.aliyuncs.com",
        "acsRegion": region,
        "eventName": name,
        "eventTime": stamp(t),
        "eventType": "ApiCall",
        "eventRW": rw or ("Read" if name in CRYPTO or name in READS else "Write"),
        "eventCategory": "Management",
        "serviceName": service,
        "userIdentity": identity,
        "sourceIpAddress": ip,
        "userAgent": agent,
        "requestParameters": {**(request or {}), "RegionId": region, "RequestId": request_id},
        "responseElements": {**(response or {}), "RequestId": request_id},
        "requestId": request_id,
        "recipientAccountId": account,
        "isGlobal": False,
        "apiVersion": "2016-01-20",
    }
    key = (request or {}).get("KeyId")
    if isinstance(key, str) and not key.startswith("alias/"):
        record["referencedResources"] = {"ACS::KMS::Key": [key]}
    if error:
        record["errorCode"], record["errorMessage"] = error
        record["responseElements"] = None
    return record


AGENTS = (
    "AlibabaCloud (Linux; amd64) Java/1.8.0_392 tea-util/0.2.21 TeaDSL/1",
    "aliyun-cli/v3.0.204",
    "AlibabaCloud (Linux; x86_64) Python/3.11.7 Core/2.13.36 python-requests/2.31.0",
)


def week(seed: str = "actiontrail-week", start: datetime = START, hours: int = DAYS * 24) -> list[dict]:
    """A week of events of two accounts and three regions, in time order (``hours`` from
    ``start``: the demo takes its story's twelve, the key lifecycle scaled into them)."""
    rng = random.Random(seed)
    ids = _Ids(rng)
    events: list[tuple[datetime, int, dict]] = []

    def add(t: datetime, record: dict) -> None:
        events.append((t, len(events), record))

    keys = {(a, r): [key_id(rng) for _ in range(2)] for a in ACCOUNTS for r in REGIONS}
    apps = {
        ACCOUNTS[0]: (ram_user(ACCOUNTS[0], "alice"), assumed_role(ACCOUNTS[0], "payments-app", "ecs-i-8vb0")),
        ACCOUNTS[1]: (ram_user(ACCOUNTS[1], "etl-bot"), assumed_role(ACCOUNTS[1], "reporting", "fc-job-42")),
    }
    ips = ("10.12.3.4", "10.12.7.9", "47.96.18.220", "172.16.4.11")
    for slot in range(hours):
        base = start + timedelta(hours=slot)
        day, hour = slot // 24, base.hour
        for account in ACCOUNTS:
            for region in REGIONS:
                calls = rng.randint(1, 4) if hour >= 7 else rng.randint(0, 2)
                for _ in range(calls):
                    t = base + timedelta(seconds=rng.randrange(3600))
                    key = rng.choice(keys[account, region])
                    name = rng.choice(CRYPTO)
                    who = rng.choice(apps[account])
                    request: dict = {"KeyId": key}
                    if name != "Decrypt":
                        context = {"app": "payments" if account == ACCOUNTS[0] else "reports", "day": str(day)}
                        # Alibaba's SDKs send the context as a JSON string; some tools as an object
                        request["EncryptionContext"] = json.dumps(context) if rng.random() < 0.5 else context
                    if name in ("GenerateDataKey",):
                        request["NumberOfBytes"] = "32"
                    error = (
                        ("Forbidden.KeyNotFound", "The specified Key is not found.") if rng.random() < 0.03 else None
                    )
                    add(
                        t,
                        event(
                            ids,
                            t,
                            account,
                            region,
                            name,
                            who,
                            rng.choice(ips),
                            rng.choice(AGENTS),
                            request,
                            {"KeyId": key},
                            error,
                        ),
                    )
                if rng.random() < 0.2:
                    t = base + timedelta(seconds=rng.randrange(3600))
                    name = rng.choice(READS)
                    request = {"KeyId": keys[account, region][0]} if name == "DescribeKey" else {}
                    add(t, event(ids, t, account, region, name, apps[account][0], ips[2], AGENTS[1], request))
                if rng.random() < 0.15:  # another service: read, counted, not kept
                    t = base + timedelta(seconds=rng.randrange(3600))
                    add(
                        t,
                        event(
                            ids,
                            t,
                            account,
                            region,
                            "DescribeInstances",
                            apps[account][1],
                            ips[0],
                            AGENTS[0],
                            {"PageSize": 10},
                            source=f"ecs.{region}.aliyuncs.com",
                            service="Ecs",
                            rw="Read",
                        ),
                    )
    # the key lifecycle of account A in cn-hangzhou, with failures, and aliases that move
    a, region = ACCOUNTS[0], REGIONS[0]
    admin = assumed_role(a, "Admin", "ops-laptop")
    new_key = key_id(rng)
    old_key = keys[a, region][0]
    scale = hours / (DAYS * 24)
    day3 = start + timedelta(hours=hours * 72 / (DAYS * 24))

    def when(offset: float) -> datetime:
        """The lifecycle's times: hours after the third day began, at the week's pace or faster."""
        return day3 + timedelta(seconds=round(offset * scale * 3600))

    def manage(
        hours: float, name: str, request: dict, response: dict | None = None, who=admin, ip=SUSPECT_IP, error=None
    ):
        t = when(hours)
        add(t, event(ids, t, a, region, name, who, ip, AGENTS[1], request, response, error))

    manage(9.0, "CreateAlias", {"AliasName": "alias/payments", "KeyId": old_key}, who=root(a), ip="47.96.18.220")
    manage(
        9.5,
        "DescribeKey",
        {"KeyId": "alias/payments"},
        {"KeyMetadata": {"KeyId": old_key, "Arn": f"acs:kms:{region}:{a}:key/{old_key}"}},
    )
    manage(
        10.0,
        "CreateKey",
        {"KeySpec": "Aliyun_AES_256", "KeyUsage": "ENCRYPT/DECRYPT"},
        {"KeyMetadata": {"KeyId": new_key, "Arn": f"acs:kms:{region}:{a}:key/{new_key}", "KeyState": "Enabled"}},
    )
    manage(10.1, "UpdateAlias", {"AliasName": "alias/payments", "KeyId": new_key})
    manage(
        10.2,
        "DisableKey",
        {"KeyId": old_key},
        who=ram_user(a, "mallory"),
        error=("Forbidden.RAM", "User not authorized to operate on the specified resource."),
    )
    manage(10.3, "DisableKey", {"KeyId": old_key})
    manage(10.4, "ScheduleKeyDeletion", {"KeyId": old_key, "PendingWindowInDays": "7"})
    manage(26.0, "CancelKeyDeletion", {"KeyId": old_key}, who=root(a), ip="47.96.18.220")
    manage(26.1, "EnableKey", {"KeyId": old_key}, who=root(a), ip="47.96.18.220")
    for minute in range(6):  # the new key used through its alias
        manage(
            11 + minute / 60,
            "Encrypt",
            {"KeyId": "alias/payments", "EncryptionContext": '{"app":"payments"}'},
            {"KeyId": new_key},
        )
    manage(40.0, "CreateAlias", {"AliasName": "alias/scratch", "KeyId": new_key})
    manage(40.5, "DeleteAlias", {"AliasName": "alias/scratch"})
    # the trail change: ActionTrail told to stop logging, and started again
    for offset, name in ((10.45, "StopLogging"), (12.0, "StartLogging")):
        t = when(offset)
        add(
            t,
            event(
                ids,
                t,
                a,
                region,
                name,
                admin if name == "StopLogging" else root(a),
                SUSPECT_IP if name == "StopLogging" else "47.96.18.220",
                AGENTS[1],
                {"Name": TRAIL},
                {"Name": TRAIL},
                source=f"actiontrail.{region}.aliyuncs.com",
                service="Actiontrail",
            ),
        )
    events.sort(key=lambda item: (item[0], item[1]))
    return [record for _, _, record in events]


def hostile(seed: str = "actiontrail-hostile") -> list[dict]:
    """Records built to break terminals and decoders; each still a KMS event of account A."""
    rng = random.Random(seed)
    ids = _Ids(rng)
    a, region = ACCOUNTS[0], REGIONS[1]
    t = START + timedelta(days=5, hours=3)
    key = key_id(rng)
    out = [
        event(
            ids,
            t,
            a,
            region,
            "Decrypt",
            ram_user(a, "ad\u200bmin\x1b[31m"),
            "10.0.0.1\u202e",
            "evil\x07agent\r\n",
            {"KeyId": key, "EncryptionContext": {"note\x1b]0;title\x07": "\u2066hidden\u2069"}},
        ),
        event(
            ids,
            t + timedelta(seconds=1),
            a,
            region,
            "Encrypt",
            assumed_role(a, "Ad\u202emin", "s\x00ss"),
            "10.0.0.2",
            AGENTS[0],
            {"KeyId": key, "EncryptionContext": "not json {"},
        ),
    ]
    deep: object = "bottom"
    for _ in range(300):
        deep = {"d": deep}
    out.append(
        event(
            ids,
            t + timedelta(seconds=2),
            a,
            region,
            "GenerateDataKey",
            root(a),
            "10.0.0.3",
            AGENTS[1],
            {"KeyId": key, "Extra": deep},
        )
    )
    wrong = event(
        ids, t + timedelta(seconds=3), a, region, "DescribeKey", root(a), "10.0.0.4", AGENTS[1], {"KeyId": key}
    )
    wrong.update(
        eventTime=12345, sourceIpAddress=["10.0.0.4"], userIdentity="root", eventRW=True, requestParameters=[1, 2]
    )
    out.append(wrong)
    return out


# ---------------------------------------------------------------------------
# Delivery and export shapes


def oss_path(account: str, region: str, t: datetime, part: int) -> str:
    """Where ActionTrail delivers to OSS (the account level of a multi-account trail included)."""
    return (
        f"AliyunLogs/Actiontrail/{account}/{region}/{t:%Y/%m/%d}/"
        f"{account}_Actiontrail_{region}_{t:%Y%m%d%H}_{part:04d}.json.gz"
    )


def write_oss(events: list[dict], out: Path, lines_every: int = 3) -> list[Path]:
    """Gzipped files in the OSS layout, one per account, region and day: most a JSON array,
    every ``lines_every``-th lines of events. Returns the files written."""
    groups: dict[tuple, list[dict]] = {}
    for record in events:
        account = record.get("recipientAccountId")
        region = record.get("acsRegion")
        when = record.get("eventTime")
        day = when[:10] if isinstance(when, str) else "1970-01-01"
        key = (
            account if isinstance(account, str) else ACCOUNTS[0],
            region if isinstance(region, str) else REGIONS[0],
            day,
        )
        groups.setdefault(key, []).append(record)
    written = []
    for number, ((account, region, day), records) in enumerate(sorted(groups.items())):
        t = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC)
        path = out / oss_path(account, region, t, number)
        path.parent.mkdir(parents=True, exist_ok=True)
        if lines_every and number % lines_every == lines_every - 1:
            body = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records)
        else:
            body = json.dumps(records, separators=(",", ":"))
        path.write_bytes(gzip.compress(body.encode(), compresslevel=6, mtime=0))
        written.append(path)
    return written


def write_oss_windows(
    events: list[dict],
    out: Path,
    minutes: int = 5,
    directory: str | None = None,
    lines_every: int = 0,
) -> list[Path]:
    """Gzipped files in the OSS layout as Alibaba documents it: one per account, region and
    ``minutes`` window that had events (ActionTrail aggregates each 5 minutes into a file),
    named ``Actiontrail_<region>_<YYYYMMDDHHMMSS>_1002_<events>_<bytes>_<md5>.gz`` by the end of
    its window, under ``AliyunLogs/Actiontrail/<region>/YYYY/MM/DD/`` (a single-account trail),
    or ``.../<directory>/<account>/<region>/...`` for a multi-account trail of resource
    directory ``directory`` (``rd-...``). Every ``lines_every``-th file holds lines of events,
    the others a JSON array. Returns the files written, in name order."""
    step = minutes * 60
    groups: dict[tuple[str, str, int], list[dict]] = {}
    for record in events:
        account = record.get("recipientAccountId")
        region = record.get("acsRegion")
        when = record.get("eventTime")
        seconds = (
            int(datetime.strptime(when, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp())
            if isinstance(when, str)
            else 0
        )
        key = (
            account if isinstance(account, str) else ACCOUNTS[0],
            region if isinstance(region, str) else REGIONS[0],
            (seconds // step + 1) * step,  # the end of its window: when the file is written
        )
        groups.setdefault(key, []).append(record)
    written = []
    for number, ((account, region, end), records) in enumerate(sorted(groups.items())):
        t = datetime.fromtimestamp(end, UTC)
        if lines_every and number % lines_every == lines_every - 1:
            body = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records)
        else:
            body = json.dumps(records, separators=(",", ":"))
        data = gzip.compress(body.encode(), compresslevel=6, mtime=0)
        digest = hashlib.md5(body.encode(), usedforsecurity=False).hexdigest()
        levels = f"{directory}/{account}/" if directory else ""
        name = f"Actiontrail_{region}_{t:%Y%m%d%H%M%S}_1002_{len(records)}_{len(data)}_{digest}.gz"
        path = out / f"AliyunLogs/Actiontrail/{levels}{region}/{t:%Y/%m/%d}/{name}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written.append(path)
    return sorted(written)


def sls_log(record: dict, spread: bool = False) -> dict:
    """An event as Simple Log Service exports it: the event as a JSON string under ``event``,
    or (``spread``) its fields as ``event.``-prefixed columns, objects as JSON text."""
    log: dict = {"__topic__": "actiontrail_audit_event", "__source__": "actiontrail"}
    if not spread:
        log["event"] = json.dumps(record, separators=(",", ":"))
        return log
    for name, value in record.items():
        if isinstance(value, dict) and name in ("userIdentity", "requestParameters"):
            for inner, item in value.items():
                log[f"event.{name}.{inner}"] = item
        else:
            log[f"event.{name}"] = value
    return log


def write_sls_jsonl(events: list[dict], path: Path, spread_every: int = 4) -> Path:
    """JSON lines as SLS exports them; every ``spread_every``-th with ``event.`` fields."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for number, record in enumerate(events):
            spread = bool(spread_every) and number % spread_every == spread_every - 1
            out.write(json.dumps(sls_log(record, spread), separators=(",", ":")) + "\n")
    return path


def write_sls_csv(events: list[dict], path: Path) -> Path:
    """CSV as SLS exports it: ``__topic__``, ``__time__`` and the ``event`` column."""
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["__topic__", "__time__", "event"])
    for record in events:
        when = record.get("eventTime")
        seconds = (
            int(datetime.strptime(when, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp())
            if isinstance(when, str)
            else ""
        )
        writer.writerow(["actiontrail_audit_event", seconds, json.dumps(record, separators=(",", ":"))])
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def many(count: int, seed: str = "actiontrail-many") -> list[dict]:
    """``count`` events for the benchmark: the week's mix of calls, repeated with fresh ids."""
    rng = random.Random(seed)
    ids = _Ids(rng)
    base = week()
    out = []
    for number in range(count):
        record = dict(base[number % len(base)])
        record["eventId"] = ids()
        out.append(record)
    return out


def main(argv: list[str]) -> int:
    out = Path(argv[0] if argv else "actiontrail-week")
    events = week()
    oss = write_oss(events, out / "oss")
    write_sls_jsonl(events, out / "sls" / "actiontrail.jsonl")
    write_sls_csv(events, out / "sls" / "actiontrail.csv")
    print(f"{len(events)} events: {len(oss)} OSS files, SLS JSON lines and CSV under {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
