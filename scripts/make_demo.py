#!/usr/bin/env python3
"""Generate kmstui's demo data set into assets/demo/ (deleted and recreated on each run).

The demo is twelve hours of CloudTrail from two accounts, with an incident in the
middle of the night:

- account 111122223333 ("acme prod"), trail acme-main (multi-region, bucket
  acme-cloudtrail-logs, log files SSE-KMS encrypted with alias/cloudtrail-logs):
  us-east-1 and eu-west-1, a log file every 5 minutes per region;
- account 444455556666 ("analytics"), trail analytics-trail (bucket
  analytics-audit-logs, prefix cloudtrail, not KMS-encrypted): eu-west-1 and
  ap-southeast-2, a log file every 15 minutes per region;
- event-history-111122223333-us-east-1.json: what
  ``aws cloudtrail lookup-events --lookup-attributes AttributeKey=EventSource,AttributeValue=kms.amazonaws.com``
  prints for account A in us-east-1 from 02:00 to 06:00, which still holds the KMS
  events the trail stopped logging at 02:44:30.

The incident (2026-11-20, UTC, account A, us-east-1): an access-denied burst from a
cross-account role, then a stolen admin session reads three secrets, creates a key,
points alias/payments-data at it, disables and schedules the deletion of the original
key, and excludes KMS events from the trail. See INCIDENT below for the exact times.

Beside it, the same twelve hours of acme's Alibaba Cloud account (acme-cn-actiontrail/audit/,
ActionTrail's OSS layout of a single-account trail, a file per region and 5 minutes): a RAM
user's AccessKey used from a new address, Decrypt refused, a key scheduled for deletion and
the trail stopped for nearly two hours. See "The Alibaba Cloud part" below.

Deterministic: every random choice comes from random.Random streams seeded with fixed
strings, there is no wall clock, gzip is written with mtime=0, and dicts are built in a
fixed order. Running it twice gives byte-identical output. Plain stdlib only.

It does not share tests/records.py's builders: the demo is a story whose every byte the
snapshots and the README's pictures depend on, told with shapes (console sessions, SDK
agents, service-invoked calls) that the tests do not need; records.py builds the
smallest record a test needs, and benchmarks/synth.py a million of them at speed.

    python scripts/make_demo.py            # writes assets/demo/
    python scripts/make_demo.py --out DIR  # elsewhere (DIR is deleted and recreated)
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import random
import shutil
import string
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "assets" / "demo"

UTC = UTC
START = datetime(2026, 11, 19, 18, 0, 0, tzinfo=UTC)
END = datetime(2026, 11, 20, 6, 0, 0, tzinfo=UTC)
NIGHT = datetime(2026, 11, 20, 0, 0, 0, tzinfo=UTC)  # traffic is quieter from here on


def at(text: str) -> datetime:
    """A time of the story: 'HH:MM:SS' on 2026-11-20 before 12:00, else on 2026-11-19."""
    hour, minute, second = (int(part) for part in text.split(":"))
    day = 20 if hour < 12 else 19
    return datetime(2026, 11, day, hour, minute, second, tzinfo=UTC)


# ---------------------------------------------------------------------------
# The cast

A = "111122223333"  # acme prod
B = "444455556666"  # analytics
A_REGIONS = ("us-east-1", "eu-west-1")
B_REGIONS = ("eu-west-1", "ap-southeast-2")

ACME_TRAIL = f"arn:aws:cloudtrail:us-east-1:{A}:trail/acme-main"
ACME_BUCKET, ACME_PREFIX = "acme-cloudtrail-logs", ""
ANALYTICS_TRAIL = f"arn:aws:cloudtrail:eu-west-1:{B}:trail/analytics-trail"
ANALYTICS_BUCKET, ANALYTICS_PREFIX = "analytics-audit-logs", "cloudtrail"


@dataclass(frozen=True)
class Key:
    alias: str
    account: str
    region: str
    key_id: str

    @property
    def arn(self) -> str:
        return f"arn:aws:kms:{self.region}:{self.account}:key/{self.key_id}"

    @property
    def alias_arn(self) -> str:
        return f"arn:aws:kms:{self.region}:{self.account}:{self.alias}"


PAYMENTS = Key("alias/payments-data", A, "us-east-1", "7a1e3c55-2b9d-4f6e-8c07-51d4e2a9b3f0")
PAYMENTS_NEW = Key("alias/payments-data", A, "us-east-1", "e4b7d912-60c3-4a8f-b1e5-9c2d7f0a3e68")  # the attacker's
SECRETS = Key("alias/secrets-prod", A, "us-east-1", "c2f8a4d1-93e6-47b0-8d5a-0e1f6b7c2a94")
CT_LOGS = Key("alias/cloudtrail-logs", A, "us-east-1", "5d09e7b3-1a4c-4f82-9e6d-b3c7a05f18e2")
BACKUPS = Key("alias/backups-eu", A, "eu-west-1", "a93b6f20-d84e-4c17-b5a9-62e0f1d7c385")
LAKE = Key("alias/analytics-lake", B, "eu-west-1", "3f6e1d8c-7b2a-4950-a4e3-c81d9b6f0257")
EBS = Key("alias/ebs-apac", B, "ap-southeast-2", "b80c5e47-2f19-4d6a-9b3e-7e4a1c0d96f5")
ALL_KEYS = (PAYMENTS, SECRETS, CT_LOGS, BACKUPS, LAKE, EBS, PAYMENTS_NEW)

SECRET_IDS = {  # name -> (ARN suffix, current version id)
    "prod/payments/db-credentials": ("AbCdEf", "3c9e1f27-8a4d-4b6e-9f02-d5a7c1e8b364"),
    "prod/payments/stripe-api-key": ("Kp8vQm", "a81d5c3e-0f6b-4e29-b7c4-2e9f6a1d0c85"),
    "prod/payments/hsm-pin": ("Zr4TjW", "6f2b8e90-c1d7-4a35-8e6f-b94c0d2a7e13"),
}


def secret_arn(name: str) -> str:
    return f"arn:aws:secretsmanager:us-east-1:{A}:secret:{name}-{SECRET_IDS[name][0]}"


ATTACKER_IP = "203.0.113.77"
OFFICE_IP = "198.51.100.24"  # acme's VPN egress, where j.doe normally works from
MONITOR_IP = "192.0.2.44"  # the monitoring vendor polling both accounts
VENDOR_SESSION = "botocore-session-1763605931"
VENDOR_ARN = f"arn:aws:sts::{B}:assumed-role/vendor-sync/{VENDOR_SESSION}"


def cli_agent(command: str, os_part: str = "os/linux#6.1.0 md/arch#x86_64") -> str:
    return (
        f"aws-cli/2.17.9 md/awscrt#0.20.11 ua/2.0 {os_part} lang/python#3.11.9 md/pyimpl#CPython "
        f"cfg/retry-mode#standard md/installer#exe sid/1a2b command/{command}"
    )


JDOE_AGENT_OS = "os/macos#23.6.0 md/arch#arm64"
JAVA_AGENT = (
    "aws-sdk-java/2.25.60 Linux/6.1.102-111.182.amzn2023.x86_64 OpenJDK_64-Bit_Server_VM/17.0.12+7-LTS "
    "Java/17.0.12 vendor/Amazon.com_Inc. io/sync http/Apache cfg/retry-mode/legacy"
)
BOTO_AGENT = (
    "Boto3/1.35.10 md/Botocore#1.35.10 ua/2.0 os/linux#5.10.225-213.878.amzn2.x86_64 md/arch#x86_64 "
    "lang/python#3.11.9 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.35.10"
)
GO_AGENT = "aws-sdk-go-v2/1.30.3 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64 api/{api}"
GLUE_AGENT = (
    "aws-sdk-java/1.12.767 Linux/5.10.226-214.879.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/17.0.12+7-LTS "
    "java/17.0.12 scala/2.12.18 vendor/Amazon.com_Inc. cfg/retry-mode/standard AWSGlue/5.0"
)

# ---------------------------------------------------------------------------
# The incident (2026-11-20, UTC)

BURST_START, BURST_END, BURST_CALLS = at("02:12:04"), at("02:19:50"), 45
SECRET_READS = (
    (at("02:31:17"), "prod/payments/db-credentials"),
    (at("02:31:39"), "prod/payments/stripe-api-key"),
    (at("02:32:05"), "prod/payments/hsm-pin"),
)
CREATE_KEY = at("02:36:40")
UPDATE_ALIAS = at("02:38:02")
DISABLE_KEY = at("02:40:11")
SCHEDULE_DELETION = at("02:41:07")
PUT_SELECTORS = at("02:44:30")  # from here on acme-main delivers no KMS events
LOOKUP_FROM, LOOKUP_TO = at("02:00:00"), END

# A key that is disabled refuses cryptographic calls with DisabledException; once its
# deletion is scheduled its state is PendingDeletion and KMS answers
# KMSInvalidStateException ("... is pending deletion."). Set this to True to keep
# DisabledException after ScheduleKeyDeletion as well.
DISABLED_EXCEPTION_AFTER_DELETION = False


# ---------------------------------------------------------------------------
# Deterministic randomness


def stream(name: str) -> random.Random:
    """An independent random stream (a str seed is hashed with SHA-512: stable across runs)."""
    return random.Random(f"kmstui-demo/2026-11-19/{name}")


def new_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def alnum(rng: random.Random, n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def upper_alnum(rng: random.Random, n: int) -> str:
    return alnum(rng, n, string.ascii_uppercase + string.digits)


def hexid(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(n))


def arrivals(rng: random.Random, start: datetime, end: datetime, per_minute) -> list[datetime]:
    """Poisson arrivals between start and end; per_minute(t) is the rate (thinning)."""
    peak = max(
        per_minute(start + timedelta(minutes=m)) for m in range(0, int((end - start).total_seconds() // 60) + 1, 5)
    )
    out = []
    t = start
    while True:
        t += timedelta(seconds=rng.expovariate(peak / 60.0))
        if t >= end:
            return out
        if rng.random() < per_minute(t) / peak:
            out.append(t.replace(microsecond=0))


def stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def console_date(t: datetime) -> str:
    """KMS's date format in responses: 'Nov 27, 2026, 2:41:07 AM'."""
    hour = t.hour % 12 or 12
    return f"{t.strftime('%b')} {t.day}, {t.year}, {hour}:{t.minute:02d}:{t.second:02d} {'AM' if t.hour < 12 else 'PM'}"


# ---------------------------------------------------------------------------
# Identities


@dataclass(frozen=True)
class Role:
    account: str
    name: str
    role_id: str  # AROA...

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{self.account}:role/{self.name}"


PAYMENTS_API = Role(A, "payments-api", "AROA3XFRBF23KDM6PLNQ7")
INVOICE_RENDERER = Role(A, "invoice-renderer", "AROA3XFRBF23HW2T9CEUV")
ADMIN_SSO = Role(A, "AdminSSO", "AROA5QJ7NC2XW4EKD9HTM")
MONITOR_A = Role(A, "monitoring-readonly", "AROA3XFRBF23PQ7ZLM4YK")
TERRAFORM_A = Role(A, "terraform-ci", "AROA3XFRBF23F8NVR6TJD")
BACKUP_RUNNER = Role(A, "db-backup-runner", "AROA3XFRBF23MBK5W2XQS")
VENDOR_SYNC = Role(B, "vendor-sync", "AROAW2K6PZ4J8DTQY5NVC")
GLUE_ETL = Role(B, "glue-etl", "AROAW2K6PZ4JC3RMF7HXA")
MONITOR_B = Role(B, "monitoring-readonly", "AROAW2K6PZ4JT5YGN8LBE")
BATCH_LAUNCHER = Role(B, "batch-launcher", "AROAW2K6PZ4JK9QDV2ZWR")
TERRAFORM_B = Role(B, "terraform-ci", "AROAW2K6PZ4JH6XBS3MPU")

PAYMENTS_INSTANCES = (  # instance id, private IP (calls go through the KMS VPC endpoint), credential refresh minute
    ("i-0a3f9c2e7b1d45e86", "10.20.11.57", 7),
    ("i-07c1e4b9d2a6f3081", "10.20.12.183", 26),
    ("i-0e95b27d4c8a1f603", "10.20.13.94", 48),
)
KMS_VPC_ENDPOINT = "vpce-0f3a9b2c1d4e5f607"
S3_VPC_ENDPOINT_B = "vpce-06d2c8e1a7b9f4350"


def session_window(t: datetime, minute: int) -> datetime:
    """Start of the credential window holding t: credentials are refreshed every hour at ``minute``."""
    base = t.replace(minute=minute, second=0, microsecond=0)
    return base - timedelta(hours=1) if base > t else base


def access_key(*parts) -> str:
    return "ASIA" + upper_alnum(stream("akid/" + "/".join(str(p) for p in parts)), 16)


def assumed(
    role: Role,
    session: str,
    created: datetime,
    key_id: str | None = None,
    invoked_by: str | None = None,
    ec2_delivery: bool = False,
) -> dict:
    identity = {
        "type": "AssumedRole",
        "principalId": f"{role.role_id}:{session}",
        "arn": f"arn:aws:sts::{role.account}:assumed-role/{role.name}/{session}",
        "accountId": role.account,
        "accessKeyId": key_id or access_key(role.account, role.name, session, stamp(created)),
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": role.role_id,
                "arn": role.arn,
                "accountId": role.account,
                "userName": role.name,
            },
            "webIdFederationData": {},
            "attributes": {"creationDate": stamp(created), "mfaAuthenticated": "false"},
        },
    }
    if ec2_delivery:
        identity["sessionContext"]["ec2RoleDelivery"] = "2.0"
    if invoked_by:
        identity["invokedBy"] = invoked_by
    return identity


def payments_identity(instance: tuple, t: datetime, invoked_by: str | None = None) -> dict:
    instance_id, _ip, minute = instance
    created = session_window(t, minute)
    return assumed(PAYMENTS_API, instance_id, created, invoked_by=invoked_by, ec2_delivery=True)


JDOE_SESSION_CREATED = at("17:52:10")
JDOE_KEY = access_key(A, "AdminSSO", "j.doe@acme.example", "sso")


def jdoe(t: datetime | None = None) -> dict:
    """j.doe's AdminSSO session (12 hours, from 17:52:10): the same credentials, wherever they are used."""
    return assumed(ADMIN_SSO, "j.doe@acme.example", JDOE_SESSION_CREATED, key_id=JDOE_KEY)


def vendor_identity() -> dict:
    return assumed(VENDOR_SYNC, VENDOR_SESSION, at("02:11:31"), key_id=access_key(B, "vendor-sync", VENDOR_SESSION))


def service_identity(service: str) -> dict:
    return {"type": "AWSService", "invokedBy": service}


def tls(host: str) -> dict:
    return {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256", "clientProvidedHostHeader": host}


# ---------------------------------------------------------------------------
# Records


@dataclass
class Event:
    time: datetime
    account: str  # recipientAccountId: the account whose trail records it
    region: str
    source: str
    record: dict


class Recorder:
    """Builds CloudTrail records in CloudTrail's field order; one random stream per story thread."""

    def __init__(self, name: str):
        self.rng = stream(name)
        self.events: list[Event] = []

    def uuid(self) -> str:
        return new_uuid(self.rng)

    def add(
        self,
        t: datetime,
        account: str,
        region: str,
        source: str,
        name: str,
        identity: dict,
        ip: str,
        agent: str,
        request: dict | None,
        response: dict | None = None,
        *,
        read_only: bool | None = None,
        resources: list | None = None,
        error: tuple[str, str] | None = None,
        additional: dict | None = None,
        event_type: str = "AwsApiCall",
        category: str = "Management",
        request_id: str | None = "uuid",
        vpc_endpoint: str | None = None,
        tls_host: str | None = None,
        shared: bool = False,
        service_details: dict | None = None,
        version: str | None = None,
    ) -> Event:
        invoked = identity.get("invokedBy") or identity.get("type") == "AWSService"
        record: dict = {
            "eventVersion": version or ("1.08" if invoked or event_type != "AwsApiCall" else "1.09"),
            "userIdentity": identity,
            "eventTime": stamp(t),
            "eventSource": source,
            "eventName": name,
            "awsRegion": region,
            "sourceIPAddress": ip,
            "userAgent": agent,
        }
        if error:
            record["errorCode"], record["errorMessage"] = error
        record["requestParameters"] = request
        record["responseElements"] = response
        if additional is not None:
            record["additionalEventData"] = additional
        if request_id == "uuid":
            record["requestID"] = self.uuid()
        elif request_id is not None:
            record["requestID"] = request_id
        record["eventID"] = self.uuid()
        if read_only is not None:
            record["readOnly"] = read_only
        if resources is not None:
            record["resources"] = resources
        record["eventType"] = event_type
        record["managementEvent"] = category == "Management"
        record["recipientAccountId"] = account
        if shared:
            record["sharedEventID"] = self.uuid()
        if vpc_endpoint:
            record["vpcEndpointId"] = vpc_endpoint
            record["vpcEndpointAccountId"] = account
        if service_details is not None:
            record["serviceEventDetails"] = service_details
        record["eventCategory"] = category
        if tls_host:
            record["tlsDetails"] = tls(tls_host)
        event = Event(t, account, region, source, record)
        self.events.append(event)
        return event

    # -- KMS

    def kms(
        self,
        t: datetime,
        name: str,
        identity: dict,
        ip: str,
        agent: str,
        request: dict | None,
        keys: list,
        *,
        account: str | None = None,
        region: str | None = None,
        response: dict | None = None,
        error: tuple[str, str] | None = None,
        read_only: bool = True,
        vpc_endpoint: str | None = None,
        direct: bool | None = None,
        event_type: str = "AwsApiCall",
        service_details: dict | None = None,
        request_id: str | None = "uuid",
    ) -> Event:
        """A KMS record; ``keys`` are Key objects or ARNs (the resources)."""
        first = keys[0]
        account = account or (first.account if isinstance(first, Key) else first.split(":")[4])
        region = region or (first.region if isinstance(first, Key) else first.split(":")[3])
        resources = []
        for key in keys:
            arn = key.arn if isinstance(key, Key) else key
            resources.append({"accountId": arn.split(":")[4], "type": "AWS::KMS::Key", "ARN": arn})
        invoked = "invokedBy" in identity
        if direct is None:
            direct = not invoked and identity.get("type") not in ("AWSService", None)
        return self.add(
            t,
            account,
            region,
            "kms.amazonaws.com",
            name,
            identity,
            ip,
            agent,
            request,
            response,
            read_only=read_only,
            resources=resources,
            error=error,
            request_id=request_id,
            vpc_endpoint=vpc_endpoint,
            tls_host=f"kms.{region}.amazonaws.com" if direct else None,
            shared=identity.get("type") == "AWSService",
            event_type=event_type,
            service_details=service_details,
        )


def invoked_by(service: str, identity: dict) -> dict:
    identity = dict(identity)
    identity["invokedBy"] = service
    return identity


# ---------------------------------------------------------------------------
# Normal traffic


def evening_or_night(evening: float, night: float):
    return lambda t: evening if t < NIGHT else night


TENANTS = ("t-0042", "t-0117", "t-0203", "t-0388", "t-0415", "t-0561", "t-0694", "t-0730")
PURPOSES = ("card-vault", "card-vault", "card-vault", "payout-batch", "refund-ledger")


def state_error(key: Key, t: datetime) -> tuple[str, str] | None:
    """The error a cryptographic call on ``key`` gets at ``t`` (the original payments key only)."""
    if key is not PAYMENTS or t < DISABLE_KEY:
        return None
    if t < SCHEDULE_DELETION or DISABLED_EXCEPTION_AFTER_DELETION:
        return ("DisabledException", f"{key.arn} is disabled.")
    return ("KMSInvalidStateException", f"{key.arn} is pending deletion.")


def payments_app(rec: Recorder) -> None:
    """role/payments-api on three instances: envelope encryption through alias/payments-data."""
    rng = rec.rng
    times = arrivals(rng, START, END, evening_or_night(0.36, 0.13))
    # The app keeps calling through the incident; make sure it tried while the key was only disabled.
    retries = (at("02:40:24"), at("02:40:52"))
    for t in sorted(times + list(retries)):
        instance = rng.choice(PAYMENTS_INSTANCES)
        context = {"tenant": rng.choice(TENANTS), "purpose": rng.choice(PURPOSES)}
        identity = payments_identity(instance, t)
        ip = instance[1]
        decrypt = rng.random() < 0.5 or t in retries
        if not decrypt:
            key = PAYMENTS_NEW if t >= UPDATE_ALIAS else PAYMENTS
            rec.kms(
                t,
                "GenerateDataKey",
                identity,
                ip,
                JAVA_AGENT,
                {"keyId": PAYMENTS.alias, "encryptionContext": context, "keySpec": "AES_256"},
                [key],
                vpc_endpoint=KMS_VPC_ENDPOINT,
            )
            continue
        # Decrypt: data written before the alias moved was encrypted under the original key.
        key = PAYMENTS
        if t >= UPDATE_ALIAS and rng.random() < 0.2 and t not in retries:
            key = PAYMENTS_NEW
        rec.kms(
            t,
            "Decrypt",
            identity,
            ip,
            JAVA_AGENT,
            {"encryptionAlgorithm": "SYMMETRIC_DEFAULT", "encryptionContext": context},
            [key],
            vpc_endpoint=KMS_VPC_ENDPOINT,
            error=state_error(key, t),
        )


def secrets_app(rec: Recorder) -> None:
    """role/payments-api reads its secrets (cached): GetSecretValue, and Secrets Manager's Decrypt."""
    rng = rec.rng
    for instance in PAYMENTS_INSTANCES:
        for name, every in (("prod/payments/db-credentials", 60), ("prod/payments/stripe-api-key", 120)):
            t = START + timedelta(minutes=rng.randrange(every), seconds=rng.randrange(60))
            while t < END:
                identity = payments_identity(instance, t)
                rec.add(
                    t,
                    A,
                    "us-east-1",
                    "secretsmanager.amazonaws.com",
                    "GetSecretValue",
                    identity,
                    instance[1],
                    JAVA_AGENT,
                    {"secretId": name},
                    None,
                    read_only=True,
                    resources=None,
                    vpc_endpoint=None,
                    tls_host="secretsmanager.us-east-1.amazonaws.com",
                )
                secrets_decrypt(rec, t, invoked_by("secretsmanager.amazonaws.com", identity), name)
                t += timedelta(minutes=every, seconds=rng.randrange(-20, 21))


def secrets_decrypt(rec: Recorder, t: datetime, identity: dict, name: str) -> Event:
    return rec.kms(
        t,
        "Decrypt",
        identity,
        "secretsmanager.amazonaws.com",
        "secretsmanager.amazonaws.com",
        {
            "encryptionContext": {"SecretARN": secret_arn(name), "SecretVersionId": SECRET_IDS[name][1]},
            "encryptionAlgorithm": "SYMMETRIC_DEFAULT",
        },
        [SECRETS],
    )


def invoices(rec: Recorder) -> None:
    """The invoice-renderer Lambda reads and writes acme-invoices (SSE-KMS with an S3 Bucket Key).

    The bucket's default encryption names the original payments key by ARN, so moving the
    alias does not redirect it: from 02:40:11 S3 cannot use the key either.
    """
    rng = rec.rng
    for t in arrivals(rng, START, END, evening_or_night(0.07, 0.03)):
        created = session_window(t, 33)
        identity = invoked_by("s3.amazonaws.com", assumed(INVOICE_RENDERER, "invoice-renderer", created))
        context = {"aws:s3:arn": "arn:aws:s3:::acme-invoices"}
        if rng.random() < 0.45:
            request = {"keyId": PAYMENTS.arn, "encryptionContext": context, "keySpec": "AES_256"}
            name = "GenerateDataKey"
        else:
            request = {"encryptionAlgorithm": "SYMMETRIC_DEFAULT", "encryptionContext": context}
            name = "Decrypt"
        rec.kms(
            t,
            name,
            identity,
            "s3.amazonaws.com",
            "s3.amazonaws.com",
            request,
            [PAYMENTS],
            error=state_error(PAYMENTS, t),
        )


def instance_credentials(rec: Recorder) -> None:
    """EC2 and Lambda refresh role credentials: sts AssumeRole by the service, every hour."""
    t0 = START.replace(minute=0) - timedelta(hours=1)
    for hour in range(14):
        base = t0 + timedelta(hours=hour)
        for instance_id, _ip, minute in PAYMENTS_INSTANCES:
            t = base + timedelta(minutes=minute)
            if START <= t < END:
                assume_role(rec, t, A, "us-east-1", "ec2.amazonaws.com", PAYMENTS_API, instance_id, 6)
        t = base + timedelta(minutes=33)
        if START <= t < END:
            assume_role(rec, t, A, "us-east-1", "lambda.amazonaws.com", INVOICE_RENDERER, "invoice-renderer", 12)


def assume_role(rec: Recorder, t, account, region, service, role: Role, session, hours) -> None:
    rng = rec.rng
    expires = t + timedelta(hours=hours)
    rec.add(
        t,
        account,
        region,
        "sts.amazonaws.com",
        "AssumeRole",
        service_identity(service),
        service,
        service,
        {"roleArn": role.arn, "roleSessionName": session},
        {
            "credentials": {
                "accessKeyId": access_key(role.account, role.name, session, stamp(t)),
                "sessionToken": "IQoJb3JpZ2luX2VjE" + alnum(rng, 120, string.ascii_letters + string.digits + "+/"),
                "expiration": console_date(expires),
            },
            "assumedRoleUser": {
                "assumedRoleId": f"{role.role_id}:{session}",
                "arn": f"arn:aws:sts::{role.account}:assumed-role/{role.name}/{session}",
            },
        },
        read_only=True,
        resources=[
            {"accountId": role.account, "type": "AWS::IAM::Role", "ARN": role.arn},
        ],
        shared=True,
    )


def monitoring(rec: Recorder, account: str, region: str, role: Role, every: int, offset: int, volumes: int) -> None:
    """The monitoring vendor polls EC2: DescribeInstances every ``every`` minutes, DescribeVolumes
    every ``volumes`` polls."""
    rng = rec.rng
    n = 0
    while True:
        t = START + timedelta(minutes=every * n, seconds=offset + rng.randrange(0, 25))
        if t >= END:
            break
        identity = assumed(role, "monitoring-poller", session_window(t, 0))  # hourly credentials
        host = f"ec2.{region}.amazonaws.com"
        rec.add(
            t,
            account,
            region,
            "ec2.amazonaws.com",
            "DescribeInstances",
            identity,
            MONITOR_IP,
            GO_AGENT.format(api="ec2#1.173.0"),
            {"instancesSet": {}, "filterSet": {}, "maxResults": 1000},
            None,
            read_only=True,
            tls_host=host,
        )
        if n % volumes == 1:
            rec.add(
                t + timedelta(seconds=rng.randrange(2, 9)),
                account,
                region,
                "ec2.amazonaws.com",
                "DescribeVolumes",
                identity,
                MONITOR_IP,
                GO_AGENT.format(api="ec2#1.173.0"),
                {"volumeSet": {}, "filterSet": {}, "maxResults": 500},
                None,
                read_only=True,
                tls_host=host,
            )
        n += 1


def terraform_a(rec: Recorder) -> None:
    """Two CI plans in the evening: IAM and KMS reads (IAM is global: recorded in us-east-1)."""
    rng = rec.rng
    for start in (at("19:41:05"), at("22:17:48")):
        session = f"gha-{rng.randrange(10**9, 10**10)}"
        identity = assumed(TERRAFORM_A, session, start - timedelta(seconds=40))
        ip = f"192.0.2.{rng.randrange(150, 200)}"
        agent = (
            "APN/1.0 HashiCorp/1.0 Terraform/1.9.5 (+https://www.terraform.io) terraform-provider-aws/5.72.1 "
            "(+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.30.3 ua/2.1 os/linux "
            "lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64"
        )
        t = start
        rec.add(
            t,
            A,
            "us-east-1",
            "sts.amazonaws.com",
            "GetCallerIdentity",
            identity,
            ip,
            agent,
            None,
            None,
            read_only=True,
            tls_host="sts.us-east-1.amazonaws.com",
        )
        for role in ("payments-api", "invoice-renderer", "db-backup-runner"):
            t += timedelta(seconds=rng.randrange(1, 4))
            rec.add(
                t,
                A,
                "us-east-1",
                "iam.amazonaws.com",
                "GetRole",
                identity,
                ip,
                agent,
                {"roleName": role},
                None,
                read_only=True,
                tls_host="iam.amazonaws.com",
            )
            t += timedelta(seconds=rng.randrange(0, 3))
            rec.add(
                t,
                A,
                "us-east-1",
                "iam.amazonaws.com",
                "ListRolePolicies",
                identity,
                ip,
                agent,
                {"roleName": role},
                None,
                read_only=True,
                tls_host="iam.amazonaws.com",
            )
        for key in (PAYMENTS, SECRETS):
            t += timedelta(seconds=rng.randrange(1, 3))
            rec.kms(t, "DescribeKey", identity, ip, agent, {"keyId": key.arn}, [key])
            t += timedelta(seconds=1)
            rec.kms(t, "GetKeyPolicy", identity, ip, agent, {"keyId": key.arn, "policyName": "default"}, [key])
            t += timedelta(seconds=1)
            rec.kms(t, "GetKeyRotationStatus", identity, ip, agent, {"keyId": key.arn}, [key])


def jdoe_evening(rec: Recorder) -> None:
    """j.doe (AdminSSO, from the office VPN) reviews the keys early in the evening: this is how
    kmstui learns the aliases of the us-east-1 keys (alias in the request, key in resources)."""
    t = at("18:04:12")
    agent = lambda command: cli_agent(command, JDOE_AGENT_OS)  # noqa: E731
    rec.add(
        t,
        A,
        "us-east-1",
        "sts.amazonaws.com",
        "GetCallerIdentity",
        jdoe(),
        OFFICE_IP,
        agent("sts.get-caller-identity"),
        None,
        None,
        read_only=True,
        tls_host="sts.us-east-1.amazonaws.com",
    )
    rec.add(
        at("18:04:31"),
        A,
        "us-east-1",
        "kms.amazonaws.com",
        "ListAliases",
        jdoe(),
        OFFICE_IP,
        agent("kms.list-aliases"),
        None,
        None,
        read_only=True,
        tls_host="kms.us-east-1.amazonaws.com",
    )
    for offset, key in ((52, PAYMENTS), (70, SECRETS), (95, CT_LOGS)):
        t = at("18:04:00") + timedelta(seconds=offset)
        rec.kms(t, "DescribeKey", jdoe(), OFFICE_IP, agent("kms.describe-key"), {"keyId": key.alias}, [key])
    t = at("18:06:14")
    rec.kms(
        t,
        "GetKeyRotationStatus",
        jdoe(),
        OFFICE_IP,
        agent("kms.get-key-rotation-status"),
        {"keyId": PAYMENTS.key_id},
        [PAYMENTS],
    )
    t = at("18:07:02")
    rec.kms(t, "ListGrants", jdoe(), OFFICE_IP, agent("kms.list-grants"), {"keyId": SECRETS.key_id}, [SECRETS])


def backups_eu(rec: Recorder) -> None:
    """Hourly database export to acme-backups-eu (eu-west-1), SSE-KMS with alias/backups-eu."""
    rng = rec.rng
    for hour in range(12):
        start = START + timedelta(hours=hour, minutes=15, seconds=rng.randrange(0, 40))
        task = hexid(rng, 32)
        assume_role(
            rec, start - timedelta(seconds=3), A, "eu-west-1", "ecs-tasks.amazonaws.com", BACKUP_RUNNER, task, 6
        )
        identity = assumed(BACKUP_RUNNER, task, start - timedelta(seconds=3))
        ip = f"10.31.{rng.randrange(1, 4)}.{rng.randrange(10, 250)}"
        rec.kms(start, "DescribeKey", identity, ip, BOTO_AGENT, {"keyId": BACKUPS.alias}, [BACKUPS])
        folder = f"pg/payments/{(start).strftime('%Y-%m-%dT%H%MZ')}"
        t = start
        for part in range(rng.randrange(2, 5)):
            t += timedelta(seconds=rng.randrange(20, 75))
            context = {"aws:s3:arn": f"arn:aws:s3:::acme-backups-eu/{folder}/part-{part:04d}.dump.zst"}
            rec.kms(
                t,
                "GenerateDataKey",
                invoked_by("s3.amazonaws.com", identity),
                "s3.amazonaws.com",
                "s3.amazonaws.com",
                {"keyId": BACKUPS.arn, "encryptionContext": context, "keySpec": "AES_256"},
                [BACKUPS],
            )
    # Continuous WAL archiving (wal-g) to the same bucket: one object, one data key, every few minutes.
    segment = 0xA2B * 256 + 0xC0  # WAL file names: timeline, log, segment (00-FF with 16 MB segments)
    for t in arrivals(rng, START, END, evening_or_night(0.45, 0.22)):
        identity = assumed(BACKUP_RUNNER, "wal-g-archiver", session_window(t, 2))
        segment += 1
        name = f"00000001{segment // 256:08X}{segment % 256:08X}"
        context = {"aws:s3:arn": f"arn:aws:s3:::acme-backups-eu/pg/payments/wal_005/{name}.zst"}
        rec.kms(
            t,
            "GenerateDataKey",
            invoked_by("s3.amazonaws.com", identity),
            "s3.amazonaws.com",
            "s3.amazonaws.com",
            {"keyId": BACKUPS.arn, "encryptionContext": context, "keySpec": "AES_256"},
            [BACKUPS],
        )
    # Automatic rotation of the backups key came due tonight.
    rec.kms(
        at("21:07:33"),
        "RotateKey",
        {"accountId": A, "invokedBy": "AWS Internal"},
        "AWS Internal",
        "AWS Internal",
        None,
        [BACKUPS],
        read_only=False,
        event_type="AwsServiceEvent",
        service_details={"keyId": BACKUPS.key_id},
        request_id=None,
    )


def glue_lake(rec: Recorder) -> None:
    """Hourly Glue job in account B (eu-west-1): reads analytics-lake-raw, writes analytics-lake-curated.

    Both buckets use SSE-KMS with alias/analytics-lake and S3 Bucket Keys (context: the bucket ARN).
    analytics-trail logs S3 data events for both buckets.
    """
    rng = rec.rng
    for hour in range(12):
        start = START + timedelta(hours=hour, minutes=5, seconds=rng.randrange(0, 50))
        assume_role(
            rec, start - timedelta(seconds=2), B, "eu-west-1", "glue.amazonaws.com", GLUE_ETL, "GlueJobRunnerSession", 1
        )
        identity = assumed(GLUE_ETL, "GlueJobRunnerSession", start - timedelta(seconds=2))
        ip = f"10.40.{rng.randrange(0, 4)}.{rng.randrange(10, 250)}"
        rec.kms(start, "DescribeKey", identity, ip, GLUE_AGENT, {"keyId": LAKE.alias}, [LAKE])
        hour_dir = (start - timedelta(hours=1)).strftime("dt=%Y-%m-%d/hr=%H")
        t = start + timedelta(seconds=rng.randrange(5, 20))
        parts = rng.randrange(3, 6)
        for part in range(parts):
            t += timedelta(seconds=rng.randrange(4, 30))
            if part % 2 == 0:  # the Bucket Key is cached for a while: not every read decrypts
                rec.kms(
                    t,
                    "Decrypt",
                    invoked_by("s3.amazonaws.com", identity),
                    "s3.amazonaws.com",
                    "s3.amazonaws.com",
                    {
                        "encryptionAlgorithm": "SYMMETRIC_DEFAULT",
                        "encryptionContext": {"aws:s3:arn": "arn:aws:s3:::analytics-lake-raw"},
                    },
                    [LAKE],
                )
            s3_object(
                rec,
                t,
                B,
                "eu-west-1",
                "GetObject",
                identity,
                ip,
                "analytics-lake-raw",
                f"events/{hour_dir}/part-{part:05d}.snappy.parquet",
                rng.randrange(4_000_000, 60_000_000),
            )
        t += timedelta(seconds=rng.randrange(60, 240))
        rec.kms(
            t,
            "GenerateDataKey",
            invoked_by("s3.amazonaws.com", identity),
            "s3.amazonaws.com",
            "s3.amazonaws.com",
            {
                "keyId": LAKE.arn,
                "encryptionContext": {"aws:s3:arn": "arn:aws:s3:::analytics-lake-curated"},
                "keySpec": "AES_256",
            },
            [LAKE],
        )
        s3_object(
            rec,
            t,
            B,
            "eu-west-1",
            "PutObject",
            identity,
            ip,
            "analytics-lake-curated",
            f"sessions/{hour_dir}/part-00000.snappy.parquet",
            rng.randrange(2_000_000, 9_000_000),
        )


def s3_object(rec: Recorder, t, account, region, name, identity, ip, bucket, key, size) -> None:
    rng = rec.rng
    host = f"{bucket}.s3.{region}.amazonaws.com"
    reading = name == "GetObject"
    rec.add(
        t,
        account,
        region,
        "s3.amazonaws.com",
        name,
        identity,
        ip,
        GLUE_AGENT,
        {"bucketName": bucket, "Host": host, "key": key},
        None
        if reading
        else {
            "x-amz-server-side-encryption": "aws:kms",
            "x-amz-server-side-encryption-aws-kms-key-id": LAKE.arn,
            "x-amz-server-side-encryption-bucket-key-enabled": "true",
        },
        read_only=reading,
        resources=[
            {"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{bucket}/{key}"},
            {"accountId": account, "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{bucket}"},
        ],
        additional={
            "SignatureVersion": "SigV4",
            "CipherSuite": "TLS_AES_128_GCM_SHA256",
            "bytesTransferredIn": 0 if reading else size,
            "SSEApplied": "SSE_KMS",
            "AuthenticationMethod": "AuthHeader",
            "x-amz-id-2": alnum(rng, 56, string.ascii_letters + string.digits + "+/") + "=",
            "bytesTransferredOut": size if reading else 0,
        },
        request_id=upper_alnum(rng, 16),
        category="Data",
        vpc_endpoint=S3_VPC_ENDPOINT_B,
        tls_host=host,
    )


def ebs_batch(rec: Recorder) -> None:
    """Batch instances with encrypted volumes in ap-southeast-2 (account B), twice an hour.

    EC2 resolves the alias and asks KMS for a grant and a data key on the launcher's
    behalf (invokedBy ec2.amazonaws.com); the EC2 infrastructure decrypts it when the
    volume attaches.
    """
    rng = rec.rng
    region = "ap-southeast-2"
    slots = [START + timedelta(minutes=10 + 30 * i, seconds=rng.randrange(0, 120)) for i in range(24)]
    running: list[tuple[datetime, str]] = []
    for start in slots:
        session = f"batch-scheduler-{hexid(rng, 8)}"
        identity = assumed(BATCH_LAUNCHER, session, start - timedelta(seconds=5))
        instance = "i-0" + hexid(rng, 16)
        volume = "vol-0" + hexid(rng, 16)
        ip = f"10.60.{rng.randrange(0, 3)}.{rng.randrange(10, 250)}"
        agent = BOTO_AGENT
        rec.add(
            start,
            B,
            region,
            "ec2.amazonaws.com",
            "RunInstances",
            identity,
            ip,
            agent,
            {
                "instancesSet": {"items": [{"imageId": "ami-0c4d5e6f7a8b9c0d1", "minCount": 1, "maxCount": 1}]},
                "instanceType": "c7i.2xlarge",
                "blockDeviceMapping": {
                    "items": [
                        {
                            "deviceName": "/dev/xvda",
                            "ebs": {
                                "volumeSize": 200,
                                "deleteOnTermination": True,
                                "volumeType": "gp3",
                                "encrypted": True,
                                "kmsKeyId": EBS.alias,
                            },
                        }
                    ]
                },
                "launchTemplate": {"launchTemplateName": "batch-worker", "version": "$Latest"},
            },
            {
                "requestId": new_uuid(rng),
                "reservationId": "r-0" + hexid(rng, 16),
                "ownerId": B,
                "instancesSet": {
                    "items": [
                        {
                            "instanceId": instance,
                            "imageId": "ami-0c4d5e6f7a8b9c0d1",
                            "instanceState": {"code": 0, "name": "pending"},
                            "instanceType": "c7i.2xlarge",
                        }
                    ]
                },
            },
            read_only=False,
            tls_host=f"ec2.{region}.amazonaws.com",
        )
        via_ec2 = invoked_by("ec2.amazonaws.com", identity)
        t = start + timedelta(seconds=1)
        rec.kms(t, "DescribeKey", via_ec2, "ec2.amazonaws.com", "ec2.amazonaws.com", {"keyId": EBS.alias}, [EBS])
        rec.kms(
            t,
            "CreateGrant",
            via_ec2,
            "ec2.amazonaws.com",
            "ec2.amazonaws.com",
            {
                "keyId": EBS.arn,
                "granteePrincipal": f"{B}:aws:ec2-infrastructure:{instance}",
                "constraints": {"encryptionContextSubset": {"aws:ebs:id": volume}},
                "operations": ["Decrypt"],
                "retiringPrincipal": "ec2.ap-southeast-2.amazonaws.com",
            },
            [EBS],
            response={"grantId": hexid(rng, 64), "keyId": EBS.arn},
            read_only=False,
        )
        t += timedelta(seconds=1)
        rec.kms(
            t,
            "GenerateDataKeyWithoutPlaintext",
            via_ec2,
            "ec2.amazonaws.com",
            "ec2.amazonaws.com",
            {"keyId": EBS.arn, "encryptionContext": {"aws:ebs:id": volume}, "numberOfBytes": 64},
            [EBS],
        )
        t += timedelta(seconds=rng.randrange(6, 14))
        infra = Role(B, "aws:ec2-infrastructure", f"{B}:aws:ec2-infrastructure")
        infra_identity = {
            "type": "AssumedRole",
            "principalId": f"{B}:aws:ec2-infrastructure:{instance}",
            "arn": f"arn:aws:sts::{B}:assumed-role/aws:ec2-infrastructure/{instance}",
            "accountId": B,
            "accessKeyId": access_key(B, "ec2-infrastructure", instance),
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": infra.role_id,
                    "arn": infra.arn,
                    "accountId": B,
                    "userName": infra.name,
                },
                "webIdFederationData": {},
                "attributes": {"creationDate": stamp(t - timedelta(seconds=2)), "mfaAuthenticated": "false"},
            },
        }
        rec.kms(
            t,
            "Decrypt",
            infra_identity,
            "AWS Internal",
            "AWS Internal",
            {"encryptionContext": {"aws:ebs:id": volume}, "encryptionAlgorithm": "SYMMETRIC_DEFAULT"},
            [EBS],
            direct=False,
        )
        running.append((start + timedelta(minutes=rng.randrange(35, 55), seconds=rng.randrange(60)), instance))
    for t, instance in running:
        if t >= END:
            continue
        session = f"batch-scheduler-{hexid(rng, 8)}"
        identity = assumed(BATCH_LAUNCHER, session, t - timedelta(seconds=4))
        rec.add(
            t,
            B,
            region,
            "ec2.amazonaws.com",
            "TerminateInstances",
            identity,
            f"10.60.1.{rng.randrange(10, 250)}",
            BOTO_AGENT,
            {"instancesSet": {"items": [{"instanceId": instance}]}},
            {
                "requestId": new_uuid(rng),
                "instancesSet": {
                    "items": [
                        {
                            "instanceId": instance,
                            "currentState": {"code": 32, "name": "shutting-down"},
                            "previousState": {"code": 16, "name": "running"},
                        }
                    ]
                },
            },
            read_only=False,
            tls_host=f"ec2.{region}.amazonaws.com",
        )


def analytics_trail_config(rec: Recorder) -> None:
    """An evening change to analytics-trail (SNS notifications): its configuration names the bucket
    and prefix, which is how kmstui links the trail to its delivered files (they are not KMS-encrypted,
    so CloudTrail's own GenerateDataKey calls cannot)."""
    t = at("19:22:41")
    identity = assumed(TERRAFORM_B, "gha-8841207735", t - timedelta(seconds=55))
    agent = (
        "APN/1.0 HashiCorp/1.0 Terraform/1.9.5 (+https://www.terraform.io) terraform-provider-aws/5.72.1 "
        "(+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.30.3 ua/2.1 os/linux "
        "lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64 api/cloudtrail#1.42.3"
    )
    rec.add(
        t,
        B,
        "eu-west-1",
        "cloudtrail.amazonaws.com",
        "UpdateTrail",
        identity,
        "192.0.2.171",
        agent,
        {"name": "analytics-trail", "snsTopicName": "cloudtrail-delivery"},
        {
            "name": "analytics-trail",
            "s3BucketName": ANALYTICS_BUCKET,
            "s3KeyPrefix": ANALYTICS_PREFIX,
            "snsTopicName": "cloudtrail-delivery",
            "snsTopicARN": f"arn:aws:sns:eu-west-1:{B}:cloudtrail-delivery",
            "includeGlobalServiceEvents": True,
            "isMultiRegionTrail": True,
            "trailARN": ANALYTICS_TRAIL,
            "logFileValidationEnabled": False,
            "isOrganizationTrail": False,
        },
        read_only=False,
        tls_host="cloudtrail.eu-west-1.amazonaws.com",
    )


# ---------------------------------------------------------------------------
# The incident


def incident(rec: Recorder) -> None:
    rng = rec.rng
    # 1. The access-denied burst from the vendor's role in account B.
    operations = (
        ("Decrypt", "kms.decrypt"),
        ("GenerateDataKey", "kms.generate-data-key"),
        ("DescribeKey", "kms.describe-key"),
        ("GetKeyPolicy", "kms.get-key-policy"),
        ("ListGrants", "kms.list-grants"),
    )
    span = (BURST_END - BURST_START).total_seconds()
    offsets = sorted(rng.sample(range(1, int(span)), BURST_CALLS - 2))
    times = [BURST_START] + [BURST_START + timedelta(seconds=s) for s in offsets] + [BURST_END]
    for i, t in enumerate(times):
        name, command = operations[i % len(operations)] if i < 10 else rng.choice(operations)
        key = (PAYMENTS, SECRETS)[(i // 5) % 2] if i < 10 else rng.choice((PAYMENTS, PAYMENTS, SECRETS))
        request = {"keyId": key.arn}
        if name == "Decrypt":
            request = {"keyId": key.arn, "encryptionAlgorithm": "SYMMETRIC_DEFAULT"}
        elif name == "GenerateDataKey":
            request = {"keyId": key.arn, "keySpec": "AES_256"}
        elif name == "GetKeyPolicy":
            request = {"keyId": key.arn, "policyName": "default"}
        message = (
            f"User: {VENDOR_ARN} is not authorized to perform: kms:{name} on resource: {key.arn} "
            f"because no resource-based policy allows the kms:{name} action"
        )
        rec.kms(
            t,
            name,
            vendor_identity(),
            ATTACKER_IP,
            cli_agent(command),
            request,
            [key],
            account=A,
            error=("AccessDenied", message),
        )

    # 2. j.doe's AdminSSO session, now used from the attacker's address.
    def cli(command):
        return cli_agent(command)

    rec.add(
        at("02:30:48"),
        A,
        "us-east-1",
        "sts.amazonaws.com",
        "GetCallerIdentity",
        jdoe(),
        ATTACKER_IP,
        cli("sts.get-caller-identity"),
        None,
        None,
        read_only=True,
        tls_host="sts.us-east-1.amazonaws.com",
    )
    rec.add(
        at("02:31:02"),
        A,
        "us-east-1",
        "secretsmanager.amazonaws.com",
        "ListSecrets",
        jdoe(),
        ATTACKER_IP,
        cli("secretsmanager.list-secrets"),
        {"filters": [{"key": "name", "values": ["prod/"]}]},
        None,
        read_only=True,
        tls_host="secretsmanager.us-east-1.amazonaws.com",
    )
    for t, name in SECRET_READS:
        rec.add(
            t,
            A,
            "us-east-1",
            "secretsmanager.amazonaws.com",
            "GetSecretValue",
            jdoe(),
            ATTACKER_IP,
            cli("secretsmanager.get-secret-value"),
            {"secretId": name},
            None,
            read_only=True,
            tls_host="secretsmanager.us-east-1.amazonaws.com",
        )
        secrets_decrypt(rec, t, invoked_by("secretsmanager.amazonaws.com", jdoe()), name)

    # 3. A new key, and the alias moved to it.
    policy = {
        "Version": "2012-10-17",
        "Id": "key-consolepolicy-3",
        "Statement": [
            {
                "Sid": "Enable IAM User Permissions",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{A}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "Allow use of the key",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{B}:root"},
                "Action": ["kms:Decrypt", "kms:DescribeKey"],
                "Resource": "*",
            },
        ],
    }
    rec.kms(
        CREATE_KEY,
        "CreateKey",
        jdoe(),
        ATTACKER_IP,
        cli("kms.create-key"),
        {
            "description": "temp",
            "policy": json.dumps(policy, indent=2),
            "keyUsage": "ENCRYPT_DECRYPT",
            "keySpec": "SYMMETRIC_DEFAULT",
            "customerMasterKeySpec": "SYMMETRIC_DEFAULT",
            "origin": "AWS_KMS",
            "bypassPolicyLockoutSafetyCheck": False,
            "multiRegion": False,
        },
        [PAYMENTS_NEW],
        response={
            "keyMetadata": {
                "aWSAccountId": A,
                "keyId": PAYMENTS_NEW.key_id,
                "arn": PAYMENTS_NEW.arn,
                "creationDate": console_date(CREATE_KEY),
                "enabled": True,
                "description": "temp",
                "keyUsage": "ENCRYPT_DECRYPT",
                "keyState": "Enabled",
                "origin": "AWS_KMS",
                "keyManager": "CUSTOMER",
                "customerMasterKeySpec": "SYMMETRIC_DEFAULT",
                "keySpec": "SYMMETRIC_DEFAULT",
                "encryptionAlgorithms": ["SYMMETRIC_DEFAULT"],
                "multiRegion": False,
            }
        },
        read_only=False,
    )
    rec.kms(
        UPDATE_ALIAS,
        "UpdateAlias",
        jdoe(),
        ATTACKER_IP,
        cli("kms.update-alias"),
        {"aliasName": PAYMENTS.alias, "targetKeyId": PAYMENTS_NEW.key_id},
        [PAYMENTS.alias_arn, PAYMENTS_NEW.arn],
        read_only=False,
    )

    # 4. The original key disabled, then scheduled for deletion.
    rec.kms(
        DISABLE_KEY,
        "DisableKey",
        jdoe(),
        ATTACKER_IP,
        cli("kms.disable-key"),
        {"keyId": PAYMENTS.key_id},
        [PAYMENTS],
        read_only=False,
    )
    rec.kms(
        SCHEDULE_DELETION,
        "ScheduleKeyDeletion",
        jdoe(),
        ATTACKER_IP,
        cli("kms.schedule-key-deletion"),
        {"keyId": PAYMENTS.key_id, "pendingWindowInDays": 7},
        [PAYMENTS],
        response={
            "keyId": PAYMENTS.arn,
            "keyState": "PendingDeletion",
            "deletionDate": console_date(SCHEDULE_DELETION + timedelta(days=7)),
            "pendingWindowInDays": 7,
        },
        read_only=False,
    )

    # 5. KMS events excluded from the trail.
    host = "cloudtrail.us-east-1.amazonaws.com"
    rec.add(
        at("02:43:12"),
        A,
        "us-east-1",
        "cloudtrail.amazonaws.com",
        "DescribeTrails",
        jdoe(),
        ATTACKER_IP,
        cli("cloudtrail.describe-trails"),
        {"trailNameList": [], "includeShadowTrails": True},
        None,
        read_only=True,
        tls_host=host,
    )
    rec.add(
        at("02:43:51"),
        A,
        "us-east-1",
        "cloudtrail.amazonaws.com",
        "GetEventSelectors",
        jdoe(),
        ATTACKER_IP,
        cli("cloudtrail.get-event-selectors"),
        {"trailName": "acme-main"},
        None,
        read_only=True,
        tls_host=host,
    )
    selectors = [
        {
            "readWriteType": "All",
            "includeManagementEvents": True,
            "dataResources": [],
            "excludeManagementEventSources": ["kms.amazonaws.com"],
        }
    ]
    rec.add(
        PUT_SELECTORS,
        A,
        "us-east-1",
        "cloudtrail.amazonaws.com",
        "PutEventSelectors",
        jdoe(),
        ATTACKER_IP,
        cli("cloudtrail.put-event-selectors"),
        {"trailName": "acme-main", "eventSelectors": selectors},
        {"trailARN": ACME_TRAIL, "eventSelectors": json.loads(json.dumps(selectors))},
        read_only=False,
        tls_host=host,
    )


# ---------------------------------------------------------------------------
# Delivery


@dataclass
class LogFile:
    account: str
    region: str
    slot_end: datetime
    name: str
    bucket: str
    prefix: str
    events: list

    @property
    def folder(self) -> str:
        head = f"{self.prefix}/" if self.prefix else ""
        return f"{head}AWSLogs/{self.account}/CloudTrail/{self.region}/{self.slot_end.strftime('%Y/%m/%d')}"

    @property
    def s3_key(self) -> str:
        return f"{self.folder}/{self.name}"


def plan_files(account, regions, minutes, bucket, prefix) -> list[LogFile]:
    rng = stream(f"files/{account}")
    files = []
    count = int((END - START).total_seconds() // (minutes * 60))
    for region in regions:
        for i in range(count):
            slot_end = START + timedelta(minutes=minutes * (i + 1))
            name = f"{account}_CloudTrail_{region}_{slot_end.strftime('%Y%m%dT%H%MZ')}_{alnum(rng, 16)}.json.gz"
            files.append(LogFile(account, region, slot_end, name, bucket, prefix, []))
    return files


def cloudtrail_log_keys(rec: Recorder, files: list[LogFile]) -> None:
    """CloudTrail encrypts each acme-main log file with alias/cloudtrail-logs: one GenerateDataKey
    in the key's region (us-east-1) per delivered file, moments after the file's period ends."""
    rng = rec.rng
    for log in sorted(files, key=lambda f: (f.slot_end, f.region)):
        t = log.slot_end + timedelta(seconds=rng.randrange(8, 240))
        if t >= END:
            continue
        rec.kms(
            t,
            "GenerateDataKey",
            service_identity("cloudtrail.amazonaws.com"),
            "cloudtrail.amazonaws.com",
            "cloudtrail.amazonaws.com",
            {
                "keySpec": "AES_256",
                "encryptionContext": {
                    "aws:cloudtrail:arn": ACME_TRAIL,
                    "aws:s3:arn": f"arn:aws:s3:::{log.bucket}/{log.s3_key}",
                },
                "keyId": CT_LOGS.arn,
            },
            [CT_LOGS],
            account=A,
        )


def dumps(record: dict) -> str:
    return json.dumps(record, separators=(",", ":"))


# ---------------------------------------------------------------------------
# The Alibaba Cloud part: ActionTrail events of acme's China account, delivered to OSS
#
# Built here, not with benchmarks/actiontrail_synth.py, for the reason given at the top: every
# byte is part of the story. The fields are ActionTrail's documented ones, in its order.
#
# The story (2026-11-20, UTC, cn-hangzhou): the RAM user deploy-bot, a CI user whose AccessKey
# only ever ran deploys from the CI runner (10.30.2.15), is used from 203.0.113.190, an address
# it never used: it lists the keys, is refused Decrypt on alias/orders-db again and again
# (Forbidden.RAM), then schedules the deletion of that key (7 days) and stops the trail. ActionTrail
# delivers nothing for nearly two hours, until the account's root user starts logging again.

ALI = "1688301234567890"  # acme-cn
ALI_REGIONS = ("cn-hangzhou", "cn-shanghai")
ALI_TRAIL, ALI_BUCKET, ALI_PREFIX = "acme-cn-audit", "acme-cn-actiontrail", "audit"
ALI_INTRUDER_IP = "203.0.113.190"
ALI_CI_IP = "10.30.2.15"
ALI_OFFICE_IP = "198.51.100.130"
ORDERS_KEY = ("alias/orders-db", "cn-hangzhou", "5b1f9c3e-8a27-4d60-b94e-2c7d05e1a8f3")
ETL_KEY = ("alias/etl-staging", "cn-shanghai", "d0e4a6b2-3c91-47f8-a5d6-9e8b1f2c7a40")
ALI_CLI = "aliyun-cli/v3.0.204"
ALI_JAVA = "AlibabaCloud (Linux; amd64) Java/1.8.0_392 tea-util/0.2.21 TeaDSL/1"
ALI_PYTHON = "AlibabaCloud (Linux; x86_64) Python/3.11.7 Core/2.13.36 python-requests/2.31.0"
ALI_INTRUDER_AGENT = "python-requests/2.32.3"

ALI_RECON = at("03:05:12")
ALI_DENIED_FROM, ALI_DENIED_CALLS = at("03:06:40"), 14
ALI_SCHEDULE = at("03:12:31")
ALI_STOP = at("03:14:02")  # from here until ALI_START, ActionTrail delivers nothing
ALI_START = at("05:09:48")
ALI_UPDATE_TRAIL = at("18:41:20")


def ali_ram_user(name: str) -> dict:
    digest = uuid.uuid5(uuid.NAMESPACE_DNS, f"{name}.{ALI}.demo").int
    return {
        "type": "ram-user",
        "principalId": str(200000000000000000 + digest % 10**17),
        "accountId": ALI,
        "userName": name,
        "accessKeyId": "LTAI5t" + upper_alnum(stream(f"ali-akid/{name}"), 18),
    }


def ali_role(role: str, session: str) -> dict:
    role_id = str(300000000000000000 + uuid.uuid5(uuid.NAMESPACE_DNS, f"{role}.{ALI}.demo").int % 10**17)
    return {
        "type": "assumed-role",
        "principalId": f"{role_id}:{session}",
        "accountId": ALI,
        "userName": f"{role}:{session}",
        "accessKeyId": "STS.NT" + upper_alnum(stream(f"ali-sts/{role}/{session}"), 20),
        "sessionContext": {
            "attributes": {"creationDate": "2026-11-19T17:30:00Z", "mfaAuthenticated": "false"},
            "sessionIssuer": {"type": "role", "principalId": role_id, "accountId": ALI, "userName": role},
        },
    }


def ali_root() -> dict:
    return {"type": "root-account", "principalId": ALI, "accountId": ALI, "accessKeyId": "LTAI4G" + ALI[:14]}


class AliRecorder:
    """ActionTrail events in ActionTrail's field order; one random stream per story thread."""

    def __init__(self, name: str):
        self.rng = stream("alibaba/" + name)
        self.events: list[tuple[datetime, str, dict]] = []

    def uid(self) -> str:
        return new_uuid(self.rng).upper()

    def add(
        self,
        t: datetime,
        region: str,
        name: str,
        identity: dict,
        ip: str,
        agent: str,
        request: dict,
        response: dict | None = None,
        *,
        error: tuple[str, str] | None = None,
        service: str = "Kms",
        source: str | None = None,
        rw: str = "Read",
        key_id: str | None = None,
    ) -> None:
        request_id = self.uid()
        record: dict = {
            "eventId": self.uid(),
            "eventVersion": 1,
            "eventSource": source or f"kms.{region}.aliyuncs.com",
            "acsRegion": region,
            "eventName": name,
            "eventTime": stamp(t),
            "eventType": "ApiCall",
            "eventRW": rw,
            "eventCategory": "Management",
            "serviceName": service,
            "userIdentity": identity,
            "sourceIpAddress": ip,
            "userAgent": agent,
            "requestParameters": {**request, "RegionId": region},
            "responseElements": None if error else {**(response or {}), "RequestId": request_id},
            "requestId": request_id,
            "recipientAccountId": ALI,
            "isGlobal": False,
        }
        if key_id:
            record["referencedResources"] = {"ACS::KMS::Key": [key_id]}
        if error:
            record["errorCode"], record["errorMessage"] = error
        self.events.append((t, region, record))


def ali_orders(rec: AliRecorder) -> None:
    """The order service on ECS: data keys and decrypts under alias/orders-db, through KMS's VPC endpoint."""
    alias, region, key = ORDERS_KEY
    sessions = ("ecs-i-bp1f3k9x2m7q", "ecs-i-bp17wz4c8r2n")
    context = json.dumps({"service": "orders", "table": "payments"}, separators=(",", ":"))
    for t in arrivals(rec.rng, START, END, evening_or_night(0.4, 0.25)):
        name = "GenerateDataKey" if rec.rng.random() < 0.3 else "Decrypt"
        if name == "GenerateDataKey":
            request = {"KeyId": alias, "EncryptionContext": context, "NumberOfBytes": "32"}
        else:  # Decrypt names no key: the ciphertext carries it, the response says it
            request = {"CiphertextBlob": "(ciphertext)", "EncryptionContext": context}
        rec.add(
            t,
            region,
            name,
            ali_role("order-service", rec.rng.choice(sessions)),
            rec.rng.choice(("10.28.3.12", "10.28.3.38", "10.28.7.15", "10.28.7.41")),  # the ECS hosts
            ALI_JAVA,
            request,
            {"KeyId": key, "KeyVersionId": "a1b2c3d4-0000-4000-8000-00000000a001"},
            source=f"kms-vpc.{region}.aliyuncs.com",
            key_id=key,
        )


def ali_etl(rec: AliRecorder) -> None:
    """The ETL job in cn-shanghai encrypts its staging files."""
    alias, region, key = ETL_KEY
    for t in arrivals(rec.rng, START, END, evening_or_night(0.2, 0.15)):
        batch = f"b-{t:%H}{rec.rng.randint(0, 9)}"
        rec.add(
            t,
            region,
            "Encrypt",
            ali_ram_user("etl-sync"),
            "47.100.64.21",
            ALI_PYTHON,
            {"KeyId": alias, "EncryptionContext": {"job": "etl-staging", "batch": batch}},
            {"KeyId": key},
            key_id=key,
        )


def ali_monitor(rec: AliRecorder) -> None:
    """Cloud monitoring polls ECS every two minutes in both regions (not KMS: counted, not kept),
    and lists the keys every hour."""
    t = START + timedelta(seconds=41)
    while t < END:
        for region in ALI_REGIONS:
            rec.add(
                t + timedelta(seconds=rec.rng.randint(0, 20)),
                region,
                "DescribeInstances",
                ali_ram_user("cms-monitor"),
                "100.104.12.8",
                ALI_PYTHON,
                {"PageSize": "50"},
                {"TotalCount": 12},
                service="Ecs",
                source=f"ecs.{region}.aliyuncs.com",
            )
            if t.minute < 2:
                rec.add(t, region, "ListKeys", ali_ram_user("cms-monitor"), "100.104.12.8", ALI_PYTHON, {})
        t += timedelta(minutes=2)


def ali_deploys(rec: AliRecorder) -> None:
    """deploy-bot as it should be: evening deploys from the CI runner, a data key or two each."""
    alias, region, key = ORDERS_KEY
    for deploy in (at("19:32:10"), at("21:05:44"), at("23:18:03")):
        for n in range(2):
            rec.add(
                deploy + timedelta(seconds=7 * n),
                region,
                "GenerateDataKey",
                ali_ram_user("deploy-bot"),
                ALI_CI_IP,
                ALI_CLI,
                {"KeyId": alias, "NumberOfBytes": "32"},
                {"KeyId": key},
                key_id=key,
            )


def ali_trail_change(rec: AliRecorder, t: datetime, name: str, identity: dict, ip: str, request: dict) -> None:
    region = ALI_REGIONS[0]  # the trail's home region
    rec.add(
        t,
        region,
        name,
        identity,
        ip,
        ALI_CLI,
        {"Name": ALI_TRAIL, **request},
        {"Name": ALI_TRAIL, **request},
        service="Actiontrail",
        source=f"actiontrail.{region}.aliyuncs.com",
        rw="Write",
    )


def ali_incident(rec: AliRecorder) -> None:
    alias, region, key = ORDERS_KEY
    bot = ali_ram_user("deploy-bot")
    ali_trail_change(  # a routine change in the evening: the trail delivers to OSS under audit/
        rec,
        ALI_UPDATE_TRAIL,
        "UpdateTrail",
        ali_root(),
        ALI_OFFICE_IP,
        {"OssBucketName": ALI_BUCKET, "OssKeyPrefix": ALI_PREFIX, "EventRW": "All"},
    )
    rec.add(ALI_RECON, region, "ListKeys", bot, ALI_INTRUDER_IP, ALI_INTRUDER_AGENT, {"PageSize": "100"})
    rec.add(ALI_RECON + timedelta(seconds=9), region, "ListAliases", bot, ALI_INTRUDER_IP, ALI_INTRUDER_AGENT, {})
    rec.add(
        ALI_RECON + timedelta(seconds=31),
        region,
        "DescribeKey",
        bot,
        ALI_INTRUDER_IP,
        ALI_INTRUDER_AGENT,
        {"KeyId": alias},
        {"KeyMetadata": {"KeyId": key, "Arn": f"acs:kms:{region}:{ALI}:key/{key}", "KeyState": "Enabled"}},
        key_id=key,
    )
    t = ALI_DENIED_FROM
    for _ in range(ALI_DENIED_CALLS):
        rec.add(
            t,
            region,
            "Decrypt",
            bot,
            ALI_INTRUDER_IP,
            ALI_INTRUDER_AGENT,
            {"CiphertextBlob": "(ciphertext)", "EncryptionContext": '{"service":"orders","table":"payments"}'},
            error=("Forbidden.RAM", "User not authorized to operate on the specified resource."),
            key_id=key,  # KMS reads the key from the ciphertext before RAM refuses it
        )
        t += timedelta(seconds=rec.rng.randint(12, 30))
    rec.add(
        ALI_SCHEDULE,
        region,
        "ScheduleKeyDeletion",
        bot,
        ALI_INTRUDER_IP,
        ALI_INTRUDER_AGENT,
        {"KeyId": key, "PendingWindowInDays": "7"},
        rw="Write",
        key_id=key,
    )
    ali_trail_change(rec, ALI_STOP, "StopLogging", bot, ALI_INTRUDER_IP, {})
    ali_trail_change(rec, ALI_START, "StartLogging", ali_root(), ALI_OFFICE_IP, {})


def write_actiontrail(out: Path) -> dict:
    """The Alibaba part into ``out``: the OSS layout of a single-account trail, a gzipped JSON
    array per region and 5 minutes that had events, named by the end of its window (when
    ActionTrail writes it). Nothing is delivered while the trail is stopped."""
    recorders = [AliRecorder(name) for name in ("orders", "etl", "monitor", "deploys", "incident")]
    ali_orders(recorders[0])
    ali_etl(recorders[1])
    ali_monitor(recorders[2])
    ali_deploys(recorders[3])
    ali_incident(recorders[4])
    events = [e for rec in recorders for e in rec.events if START <= e[0] < END]
    order = {id(e): i for i, e in enumerate(events)}
    events.sort(key=lambda e: (e[0], order[id(e)]))
    windows: dict[tuple[str, datetime], list[dict]] = {}
    not_delivered = 0
    for t, region, record in events:
        if ALI_STOP < t < ALI_START:
            not_delivered += 1
            continue
        end = START + timedelta(minutes=5 * (int((t - START).total_seconds() // 300) + 1))
        windows.setdefault((region, end), []).append(record)
    stats = {"files": 0, "records": 0, "kms": 0, "bytes": 0, "not_delivered": not_delivered}
    for (region, end), records in sorted(windows.items()):
        body = "[" + ",".join(dumps(r) for r in records) + "]"
        data = gzip.compress(body.encode(), compresslevel=9, mtime=0)
        digest = hashlib.md5(body.encode(), usedforsecurity=False).hexdigest()
        name = f"Actiontrail_{region}_{end:%Y%m%d%H%M%S}_1002_{len(records)}_{len(data)}_{digest}.gz"
        path = out / ALI_BUCKET / ALI_PREFIX / "AliyunLogs" / "Actiontrail" / region / f"{end:%Y/%m/%d}" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        stats["files"] += 1
        stats["records"] += len(records)
        stats["kms"] += sum(1 for r in records if r["serviceName"] == "Kms")
        stats["bytes"] += len(data)
    return stats


def lookup_event(record: dict) -> dict:
    """One event as `aws cloudtrail lookup-events` prints it."""
    identity = record.get("userIdentity") or {}
    event = {
        "EventId": record["eventID"],
        "EventName": record["eventName"],
        "ReadOnly": "true" if record.get("readOnly") else "false",
    }
    if identity.get("accessKeyId"):
        event["AccessKeyId"] = identity["accessKeyId"]
    event["EventTime"] = record["eventTime"].replace("Z", "+00:00")
    event["EventSource"] = record["eventSource"]
    arn = identity.get("arn") or ""
    if identity.get("type") == "AssumedRole" and "/" in arn:
        event["Username"] = arn.rsplit("/", 1)[1]
    elif identity.get("userName"):
        event["Username"] = identity["userName"]
    event["Resources"] = [
        {"ResourceType": r.get("type", "AWS::KMS::Key"), "ResourceName": r["ARN"]}
        for r in record.get("resources") or []
    ]
    event["CloudTrailEvent"] = dumps(record)
    return event


def build(out: Path) -> dict:
    recorders = {
        name: Recorder(name)
        for name in (
            "payments",
            "secrets",
            "invoices",
            "credentials",
            "monitor",
            "terraform",
            "jdoe",
            "backups",
            "glue",
            "ebs",
            "trailconfig",
            "incident",
            "cloudtrail",
        )
    }
    payments_app(recorders["payments"])
    secrets_app(recorders["secrets"])
    invoices(recorders["invoices"])
    instance_credentials(recorders["credentials"])
    monitor = recorders["monitor"]
    monitoring(monitor, A, "us-east-1", MONITOR_A, 5, 41, 6)
    monitoring(monitor, A, "eu-west-1", MONITOR_A, 5, 43, 6)
    monitoring(monitor, B, "eu-west-1", MONITOR_B, 15, 129, 4)
    monitoring(monitor, B, "ap-southeast-2", MONITOR_B, 15, 131, 4)
    terraform_a(recorders["terraform"])
    jdoe_evening(recorders["jdoe"])
    backups_eu(recorders["backups"])
    glue_lake(recorders["glue"])
    ebs_batch(recorders["ebs"])
    analytics_trail_config(recorders["trailconfig"])
    incident(recorders["incident"])

    acme_files = plan_files(A, A_REGIONS, 5, ACME_BUCKET, ACME_PREFIX)
    analytics_files = plan_files(B, B_REGIONS, 15, ANALYTICS_BUCKET, ANALYTICS_PREFIX)
    cloudtrail_log_keys(recorders["cloudtrail"], acme_files)

    events = [e for rec in recorders.values() for e in rec.events if START <= e.time < END]
    order = {id(e): i for i, e in enumerate(events)}
    events.sort(key=lambda e: (e.time, order[id(e)]))

    by_slot: dict[tuple, LogFile] = {}
    for log, _minutes in [(f, 5) for f in acme_files] + [(f, 15) for f in analytics_files]:
        by_slot[(log.account, log.region, log.slot_end)] = log
    not_delivered = 0
    for event in events:
        minutes = 5 if event.account == A else 15
        index = int((event.time - START).total_seconds() // (minutes * 60))
        slot_end = START + timedelta(minutes=minutes * (index + 1))
        log = by_slot.get((event.account, event.region, slot_end))
        if log is None:
            raise SystemExit(f"no log file for {event.account} {event.region} {event.time}")
        if event.account == A and event.source == "kms.amazonaws.com" and event.time >= PUT_SELECTORS:
            not_delivered += 1  # acme-main excludes kms.amazonaws.com from here on
            continue
        log.events.append(event)

    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    stats = {"files": 0, "records": 0, "kms": 0, "bytes": 0, "not_delivered": not_delivered, "per": {}}
    for log in acme_files + analytics_files:
        if not log.events:
            raise SystemExit(f"empty log file {log.name}")
        body = '{"Records":[' + ",".join(dumps(e.record) for e in log.events) + "]}"
        path = out / log.bucket / log.s3_key
        path.parent.mkdir(parents=True, exist_ok=True)
        data = gzip.compress(body.encode(), compresslevel=9, mtime=0)
        path.write_bytes(data)
        stats["files"] += 1
        stats["bytes"] += len(data)
        per = stats["per"].setdefault(f"{log.account} {log.region}", {"files": 0, "records": 0, "kms": 0, "bytes": 0})
        kms = sum(1 for e in log.events if e.source == "kms.amazonaws.com")
        per["files"] += 1
        per["records"] += len(log.events)
        per["kms"] += kms
        per["bytes"] += len(data)
        stats["records"] += len(log.events)
        stats["kms"] += kms

    stats["alibaba"] = write_actiontrail(out)
    stats["bytes"] += stats["alibaba"]["bytes"]

    history = [
        e
        for e in events
        if e.account == A
        and e.region == "us-east-1"
        and e.source == "kms.amazonaws.com"
        and LOOKUP_FROM <= e.time < LOOKUP_TO
    ]
    history.reverse()  # newest first, as lookup-events returns them
    text = json.dumps({"Events": [lookup_event(e.record) for e in history]}, indent=4) + "\n"
    lookup_path = out / f"event-history-{A}-us-east-1.json"
    lookup_path.write_text(text, encoding="utf-8")
    stats["lookup_events"] = len(history)
    stats["lookup_bytes"] = len(text.encode())
    stats["bytes"] += stats["lookup_bytes"]
    stats["incident"] = [
        (
            stamp(e.time),
            e.record["eventSource"].split(".")[0],
            e.record["eventName"],
            e.record["eventID"],
            e.record.get("errorCode") or "",
        )
        for e in recorders["incident"].events
    ]
    return stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (deleted and recreated)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print the figures of the story")
    args = parser.parse_args(argv)
    stats = build(args.out)
    print(
        f"wrote {stats['files']} log files ({stats['records']} records, {stats['kms']} KMS) and "
        f"{stats['lookup_events']} LookupEvents events; {stats['bytes']:,} bytes in {args.out}",
        file=sys.stderr,
    )
    if args.verbose:
        for where, per in sorted(stats["per"].items()):
            print(
                f"  {where:28} {per['files']:4} files {per['records']:5} records"
                f" {per['kms']:5} KMS {per['bytes']:8,} bytes",
                file=sys.stderr,
            )
        print(
            f"  KMS events of account A after 02:44:30 left out of acme-main: {stats['not_delivered']}", file=sys.stderr
        )
        print(f"  lookup file: {stats['lookup_events']} events, {stats['lookup_bytes']:,} bytes", file=sys.stderr)
        ali = stats["alibaba"]
        print(
            f"  ActionTrail: {ali['files']} files, {ali['records']} events ({ali['kms']} KMS), {ali['bytes']:,} bytes;"
            f" {ali['not_delivered']} not delivered while the trail was stopped",
            file=sys.stderr,
        )
        for row in stats["incident"]:
            print("  " + "  ".join(row), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
