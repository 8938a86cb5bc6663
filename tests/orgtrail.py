"""A generated organization trail in moto's S3, for the bucket tests (test_bucket.py,
test_ui_bucket.py): three accounts, two regions, four days, a log file every six hours per
account and region (the one just after midnight holding events of the day before), plus
what a real bucket holds besides (digest files, an object that is no log file) and, when
asked, planted faults: an SSE-KMS object whose key refuses kms:Decrypt, a truncated object,
and one deleted between listing and reading. Records come from records.py's builders."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from records import assumed_role, cloudtrail_file, gz, key_arn, kms, other_service, trail_config

BUCKET = "org-trail-logs"
ORG = "o-a1b2c3d4e5"
ACCOUNTS = ("111122223333", "444455556666", "777788889999")
REGIONS = ("us-east-1", "eu-west-1")
FIRST_DAY = datetime(2026, 11, 18, tzinfo=UTC)
DAYS = 4
SINCE = "2026-11-19T06:00:00Z"
UNTIL = "2026-11-20T18:00:00Z"
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%MZ")


def delivery_key(account: str, region: str, delivered: datetime, tag: str) -> str:
    return (
        f"AWSLogs/{ORG}/{account}/CloudTrail/{region}/{delivered:%Y/%m/%d}/"
        f"{account}_CloudTrail_{region}_{_stamp(delivered)}_{tag}.json.gz"
    )


def day_records(account: str, region: str, delivered: datetime, serial: int) -> list[dict]:
    """A few minutes of one account's region before its delivery: KMS calls, a call of
    another service, now and then a trail change and a call from another account."""
    out = []
    for minute in (12, 9, 5):
        when = (delivered - timedelta(minutes=minute)).strftime("%Y-%m-%dT%H:%M:%SZ")
        key = key_arn(f"{serial % 3:08d}-1111-4222-8333-444444444444", region, account)
        out.append(kms("Decrypt", key, time=when, region=region, account=account))
        out.append(
            kms(
                "GenerateDataKey",
                key,
                time=when,
                region=region,
                account=account,
                identity=assumed_role("App", f"s{serial}", account=account),
            )
        )
        out.append(other_service("GetObject", time=when, region=region, account=account))
    if serial % 5 == 0:
        out.append(trail_config("StopLogging", "org-trail", time=when, region=region, account=account))
    if serial % 4 == 1:  # a role of the first account using this account's key
        out.append(
            kms(
                "Decrypt",
                key,
                time=when,
                region=region,
                account=account,
                identity=assumed_role("Auditor", "x", account=ACCOUNTS[0]),
                error="AccessDenied",
            )
        )
    return out


def organization_trail() -> dict[str, bytes]:
    """Key -> object bytes: the trail's log files, gzipped as CloudTrail delivers them."""
    objects = {}
    serial = 0
    for account in ACCOUNTS:
        for region in REGIONS:
            for day in range(DAYS):
                for hour in (0, 6, 12, 18):
                    # the file just after midnight holds events of the day before (12 to 5 minutes old)
                    delivered = FIRST_DAY + timedelta(days=day, hours=hour, minutes=3)
                    serial += 1
                    key = delivery_key(account, region, delivered, f"f{serial:04d}")
                    objects[key] = gz(cloudtrail_file(day_records(account, region, delivered, serial)))
    return objects


def in_window(key: str) -> bool:
    """Whether kmstui should read this log file: delivered from 15 minutes before --since to
    a day after --until (the padding for late delivery)."""
    stamp = key.rsplit("_", 2)[-2]
    delivered = datetime.strptime(stamp, "%Y%m%dT%H%MZ").replace(tzinfo=UTC)
    since = datetime.fromisoformat(SINCE.replace("Z", "+00:00"))
    until = datetime.fromisoformat(UNTIL.replace("Z", "+00:00"))
    return since - timedelta(minutes=15) <= delivered <= until + timedelta(days=1)


@dataclasses.dataclass
class Trail:
    logs: dict[str, bytes]  # key -> bytes of every log file as the bucket holds it
    sse_kms: str  # an SSE-KMS object, readable
    denied: str  # an SSE-KMS object whose key refuses kms:Decrypt
    denied_key: str
    truncated: str
    deleted: str  # deleted between listing and reading
    digest: str
    stray_digest: str
    other: str


def seed(s3, *, faults: bool = True) -> Trail:
    client = s3.client
    client.create_bucket(Bucket=BUCKET)
    logs = organization_trail()
    for key, data in logs.items():
        client.put_object(Bucket=BUCKET, Key=key, Body=data)
    in_time = sorted(k for k in logs if in_window(k) and "/2026/11/20/" in k)
    kms_key = s3.aws.client("kms").create_key(Description="trail logs")["KeyMetadata"]["Arn"]
    sse_kms, denied, truncated, deleted = in_time[1], in_time[5], in_time[9], in_time[13]
    for key in (sse_kms, denied):
        client.put_object(Bucket=BUCKET, Key=key, Body=logs[key], ServerSideEncryption="aws:kms", SSEKMSKeyId=kms_key)
    account = ACCOUNTS[1]
    digest = (
        f"AWSLogs/{ORG}/{account}/CloudTrail-Digest/us-east-1/2026/11/19/"
        f"{account}_CloudTrail-Digest_us-east-1_org-trail_us-east-1_20261119T070000Z.json.gz"
    )
    day = f"AWSLogs/{ORG}/{account}/CloudTrail/us-east-1/2026/11/19/"
    stray_digest = day + f"{account}_CloudTrail-Digest_us-east-1_org-trail_us-east-1_20261119T080000Z.json.gz"
    other = day + "notes.txt"
    client.put_object(Bucket=BUCKET, Key=digest, Body=gz(b'{"digestStartTime":"2026-11-19T06:00:00Z"}'))
    client.put_object(Bucket=BUCKET, Key=stray_digest, Body=gz(b'{"digestStartTime":"2026-11-19T07:00:00Z"}'))
    client.put_object(Bucket=BUCKET, Key=other, Body=b"not a log file")
    if faults:
        logs[truncated] = logs[truncated][: len(logs[truncated]) // 2]
        client.put_object(Bucket=BUCKET, Key=truncated, Body=logs[truncated])
        s3.before_get[deleted] = lambda: client.delete_object(Bucket=BUCKET, Key=deleted)
        s3.deny_kms.add(denied)
    return Trail(logs, sse_kms, denied, kms_key, truncated, deleted, digest, stray_digest, other)
