"""A synthetic organisation trail for the benchmark: deterministic, in the S3 delivery layout.

``generate(directory, records=1_000_000, seed=7)`` writes
``AWSLogs/o-<org>/<account>/CloudTrail/<region>/2026/11/20/*.json.gz``, 2,000 records
a file, about 1.2 KB a record, about 60% of them KMS: S3 (SSE-KMS, with and without
bucket keys), EBS, Secrets Manager, Lambda, DynamoDB and direct application calls, each
with its realistic encryption context (many unique, as S3 object ARNs are), CloudTrail's
own log-file encryption, a little key management, and errors (AccessDenied, throttling,
disabled keys). The rest are the other services an organisation trail carries. Files are
written by two processes; the same seed always gives the same bytes.

Two shapes. ``repetitive`` (the default, unchanged since the first figures) repeats values
far more than real trails do: 200 session names, 600 addresses, two thirds of S3 contexts
naming only the bucket. ``varied`` is the high-cardinality trail of issue 17: every S3 call
encrypts under its own object ARN, each assumed-role session has a new session name and
access key (sessions live a few minutes, as short jobs, Lambda and container credentials
do), about 6,000 source addresses (private and public) and a few hundred user agents.
Either shape can be written in four serialisations of the same records (``SERIALISATIONS``):
``compact`` as CloudTrail writes it; ``dumps``, re-serialised as ``json.dumps`` does by
default (", " and ": ", each object's keys in their order), the re-serialised trail of issue
17; ``sorted``, the same with every object's keys sorted, as ``jq -S`` or Python's
``sort_keys`` write; and ``shuffled``, spaced with each record's keys in an order of its own,
which no serialiser we know writes: the hardest case for a reader that learns the key order.

It does not share tests/records.py's builders: those make one readable record at a time
with every field a test may want, where this writes a million in seconds with fields
drawn to a measured distribution (and must not change, or old figures stop comparing).
"""

from __future__ import annotations

import gzip
import json
import os
import random
import uuid
import zlib
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

PER_FILE = 2000
ORG = "o-a1b2c3d4e5"
ACCOUNTS = ["111122223333", "444455556666", "777788889999"]
REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2"]
START = datetime(2026, 11, 20, tzinfo=UTC)
TLS = {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256"}


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


class World:
    """The organisation: accounts, roles, keys and aliases, the same for every file."""

    def __init__(self, seed: int):
        rng = random.Random(seed)
        self.keys = []  # (account, region, key id, alias or None)
        for account in ACCOUNTS:
            for region in REGIONS:
                for n in range(12):
                    alias = (
                        f"alias/{['app', 'data', 'logs', 'backup', 'ebs', 'secrets', 'lake', 'queue'][n % 8]}-{n}"
                        if n < 9
                        else None
                    )
                    self.keys.append((account, region, _uuid(rng), alias))
        self.roles = [
            f"{team}-{kind}"
            for team in ("payments", "search", "billing", "ml", "web", "etl", "ops", "auth")
            for kind in ("api", "worker", "batch", "cron")
        ]
        self.users = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"]
        self.buckets = [f"org-data-{i:02d}" for i in range(40)]
        self.volumes = [f"vol-0{rng.getrandbits(64):016x}" for _ in range(3000)]
        self.instances = [f"i-0{rng.getrandbits(64):016x}" for _ in range(800)]
        # an instance runs under one instance profile: its role's sessions are its own instances
        self.instances_of = {role: self.instances[i :: len(self.roles)] for i, role in enumerate(self.roles)}
        self.secrets = [
            f"prod/{t}/{n}" for t in ("payments", "search", "auth", "db") for n in ("db", "api-key", "token", "cert")
        ]
        self.secret_versions = {
            secret: [_uuid(rng) for _ in range(2)] for secret in self.secrets
        }  # current and previous
        self.tables = [f"table-{i}" for i in range(60)]
        self.functions = [f"fn-{i}" for i in range(120)]
        self.ips = [f"10.{rng.randrange(0, 64)}.{rng.randrange(256)}.{rng.randrange(1, 255)}" for _ in range(600)]
        self.agents = [
            "aws-sdk-java/2.25.12 Linux/5.10.219-208.866.amzn2.x86_64 Java/17.0.11 vendor/Amazon.com_Inc.",
            "Boto3/1.34.120 md/Botocore#1.34.120 ua/2.0 os/linux#5.10 md/arch#x86_64 lang/python#3.11.9",
            "aws-sdk-go-v2/1.26.1 os/linux lang/go#1.22.3 md/GOOS#linux md/GOARCH#amd64 api/kms#1.31.1",
            "aws-cli/2.17.9 md/awscrt#0.20.11 ua/2.0 os/linux#6.1.0 md/arch#x86_64 lang/python#3.11.9 "
            "md/pyimpl#CPython cfg/retry-mode#standard",
        ]
        # the varied shape: more addresses (a tenth public), more agents (SDK versions, OS builds)
        self.many_ips = [
            f"10.{rng.randrange(0, 256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
            if rng.random() < 0.9
            else f"{rng.choice([3, 18, 34, 35, 52, 54, 81, 91, 185, 203])}.{rng.randrange(256)}."
            f"{rng.randrange(256)}.{rng.randrange(1, 255)}"
            for _ in range(6000)
        ]
        self.many_agents = [
            agent.replace("1.34.120", f"1.34.{rng.randrange(60, 160)}").replace("5.10", f"5.{rng.randrange(4, 16)}")
            + f" exec-env/{rng.choice(['AWS_Lambda_python3.11', 'AWS_ECS_FARGATE', 'AWS_ECS_EC2', 'cron'])}"
            for agent in self.agents
            for _ in range(80)
        ]


class Sessions:
    """The varied shape's assumed-role sessions within one log file: a session is used for a
    few calls and then replaced by a new one, with a new name and a new access key (as Lambda,
    container and SDK credentials are); a file's 5 minutes see thousands of them."""

    def __init__(self, rng: random.Random, stamp: datetime):
        self.rng = rng
        self.epoch = int(stamp.timestamp())
        self.live: dict[str, list[tuple[str, str]]] = {}

    def of(self, world: World, role: str) -> tuple[str, str]:
        rng = self.rng
        live = self.live.setdefault(role, [])
        if live and rng.random() < 0.6:
            return rng.choice(live)
        kind = rng.random()
        if role == "aws:ec2-infrastructure" or (role.endswith(("api", "worker")) and kind < 0.5):
            name = rng.choice(world.instances)  # an instance profile: the instance, a new key each hour
        elif kind < 0.75:
            name = f"botocore-session-{self.epoch + rng.randrange(300)}"
        elif kind < 0.9:
            name = f"{role}-{rng.getrandbits(40):010x}"  # a Lambda or container task
        else:
            name = f"aws-go-sdk-{(self.epoch + rng.randrange(300)) * 1_000_000 + rng.randrange(10**6)}"
        session = (name, f"ASIA{rng.getrandbits(64):016X}")
        if len(live) >= 8:
            live[rng.randrange(8)] = session
        else:
            live.append(session)
        return session


def _role_identity(
    world: World,
    rng: random.Random,
    account: str,
    role: str,
    invoked_by: str | None = None,
    sessions: Sessions | None = None,
) -> dict:
    access_key = None
    if sessions is not None:
        session, access_key = sessions.of(world, role)
    elif role.endswith(("api", "worker")):
        session = rng.choice(world.instances_of.get(role) or world.instances)
    else:  # batch and cron jobs: a session name per job run of the day
        session = f"{role}-{rng.randrange(50):04d}"
    role_id = f"AROA{zlib.crc32(f'{account}/{role}'.encode()):010d}"  # stable across processes, unlike hash()
    identity = {
        "type": "AssumedRole",
        "principalId": f"{role_id}:{session}",
        "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{session}",
        "accountId": account,
        "accessKeyId": access_key or f"ASIA{rng.getrandbits(64):016X}",
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": role_id,
                "arn": f"arn:aws:iam::{account}:role/{role}",
                "accountId": account,
                "userName": role,
            },
            "attributes": {"creationDate": "2026-11-19T23:12:48Z"},
        },
    }
    if invoked_by:
        identity["invokedBy"] = invoked_by
    return identity


def _base(rng, when, source, name, region, account, identity, ip, agent) -> dict:
    return {
        "eventVersion": "1.09",
        "userIdentity": identity,
        "eventTime": when,
        "eventSource": source,
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": ip,
        "userAgent": agent,
        "requestParameters": None,
        "responseElements": None,
        "requestID": _uuid(rng),
        "eventID": _uuid(rng),
        "readOnly": True,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": account,
        "eventCategory": "Management",
    }


def _kms(
    world: World,
    rng: random.Random,
    when: str,
    account: str,
    region: str,
    trail_file: str,
    sessions: Sessions | None = None,
) -> dict:
    keys = [k for k in world.keys if k[0] == account and k[1] == region]
    key_account, key_region, key_id, alias = rng.choice(keys)
    arn = f"arn:aws:kms:{key_region}:{key_account}:key/{key_id}"
    kind = rng.random()
    name = rng.choice(["Decrypt", "Decrypt", "GenerateDataKey"])
    key_ref = arn
    ip = agent = None
    ips, agents = (world.many_ips, world.many_agents) if sessions else (world.ips, world.agents)
    if kind < 0.30:  # S3 SSE-KMS; a third without bucket keys: a context per object
        bucket = rng.choice(world.buckets)
        if sessions is not None:  # no bucket keys: every object its own context
            target = (
                f"arn:aws:s3:::{bucket}/{rng.choice(['raw', 'out', 'tmp', 'events'])}/{when[:10].replace('-', '/')}"
                f"/part-{rng.randrange(10000):05d}-{_uuid(rng)}.c000.snappy.parquet"
            )
        else:
            target = (
                f"arn:aws:s3:::{bucket}"
                if rng.random() < 0.66
                else f"arn:aws:s3:::{bucket}/{rng.choice(['raw', 'out', 'tmp'])}/{rng.getrandbits(48):012x}.parquet"
            )
        identity = _role_identity(world, rng, account, rng.choice(world.roles), "s3.amazonaws.com", sessions)
        context = {"aws:s3:arn": target}
        ip = agent = "s3.amazonaws.com"
    elif kind < 0.45:  # EBS
        volume = rng.choice(world.volumes)
        name = rng.choice(["Decrypt", "GenerateDataKeyWithoutPlaintext", "CreateGrant", "Decrypt"])
        identity = _role_identity(world, rng, account, "aws:ec2-infrastructure", None, sessions)
        context = {"aws:ebs:id": volume}
        ip = agent = "ec2.amazonaws.com"
    elif kind < 0.55:  # Secrets Manager
        secret = rng.choice(world.secrets)
        identity = _role_identity(
            world, rng, account, rng.choice(world.roles), "secretsmanager.amazonaws.com", sessions
        )
        context = {
            "SecretARN": f"arn:aws:secretsmanager:{region}:{account}:secret:{secret}-AbCdEf",
            "SecretVersionId": rng.choice(world.secret_versions[secret]),
        }
        ip = agent = "secretsmanager.amazonaws.com"
    elif kind < 0.62:  # Lambda environment variables
        identity = _role_identity(world, rng, account, rng.choice(world.roles), "lambda.amazonaws.com", sessions)
        context = {
            "aws:lambda:FunctionArn": f"arn:aws:lambda:{region}:{account}:function:{rng.choice(world.functions)}"
        }
        ip = agent = "lambda.amazonaws.com"
    elif kind < 0.70:  # DynamoDB
        identity = _role_identity(world, rng, account, rng.choice(world.roles), "dynamodb.amazonaws.com", sessions)
        context = {"aws:dynamodb:tableName": rng.choice(world.tables), "aws:dynamodb:subscriberId": account}
        ip = agent = "dynamodb.amazonaws.com"
    elif kind < 0.74:  # CloudTrail's own log encryption: the trail's one key
        key_account, key_region, key_id, alias = world.keys[0]
        arn = key_ref = f"arn:aws:kms:{key_region}:{key_account}:key/{key_id}"
        identity = {"type": "AWSService", "invokedBy": "cloudtrail.amazonaws.com"}
        name = "GenerateDataKey"
        context = {
            "aws:cloudtrail:arn": f"arn:aws:cloudtrail:us-east-1:{ACCOUNTS[0]}:trail/org-trail",
            "aws:s3:arn": f"arn:aws:s3:::org-cloudtrail-logs/AWSLogs/{ORG}/{account}/CloudTrail/{region}"
            f"/2026/11/20/{trail_file}",
        }
        ip = agent = "cloudtrail.amazonaws.com"
    else:  # applications calling KMS directly, often by alias
        identity = _role_identity(world, rng, account, rng.choice(world.roles), None, sessions)
        name = rng.choice(["Encrypt", "Decrypt", "GenerateDataKey", "Decrypt", "DescribeKey", "Sign", "GenerateMac"])
        context = {
            "tenant": f"t-{rng.randrange(5000):04d}",
            "purpose": rng.choice(["card-vault", "session", "export", "pii"]),
        }
        ip, agent = rng.choice(ips), rng.choice(agents)
        if alias and rng.random() < 0.5:
            key_ref = alias
    if rng.random() < 0.01:  # a little key management
        name = rng.choice(["CreateAlias", "UpdateKeyDescription", "TagResource", "EnableKeyRotation", "PutKeyPolicy"])
        identity = {
            "type": "IAMUser",
            "principalId": "AIDAEXAMPLE",
            "arn": f"arn:aws:iam::{account}:user/{rng.choice(world.users)}",
            "accountId": account,
            "accessKeyId": "AKIAEXAMPLE",
            "userName": "x",
        }
        context = None
        ip, agent = rng.choice(ips), rng.choice(agents)
    record = _base(rng, when, "kms.amazonaws.com", name, region, account, identity, ip, agent)
    request = {"keyId": key_ref, "encryptionAlgorithm": "SYMMETRIC_DEFAULT"}
    if context:
        request["encryptionContext"] = context
    if name == "CreateGrant":
        request = {
            "keyId": arn,
            "granteePrincipal": f"{account}:aws:ec2-infrastructure:{rng.choice(world.instances)}",
            "constraints": {"encryptionContextSubset": context},
            "operations": ["Decrypt"],
        }
    elif name.startswith("GenerateDataKey"):
        request["keySpec"] = "AES_256"
    record["requestParameters"] = request
    record["resources"] = [{"accountId": key_account, "type": "AWS::KMS::Key", "ARN": arn}]
    record["readOnly"] = name not in (
        "CreateGrant",
        "CreateAlias",
        "UpdateKeyDescription",
        "TagResource",
        "EnableKeyRotation",
        "PutKeyPolicy",
    )
    if ip not in (
        "s3.amazonaws.com",
        "ec2.amazonaws.com",
        "secretsmanager.amazonaws.com",
        "lambda.amazonaws.com",
        "dynamodb.amazonaws.com",
        "cloudtrail.amazonaws.com",
    ):
        record["tlsDetails"] = {**TLS, "clientProvidedHostHeader": f"kms.{region}.amazonaws.com"}
    roll = rng.random()
    if roll < 0.02:
        record["errorCode"] = "AccessDenied"
        record["errorMessage"] = (
            f"User: {identity.get('arn', 'unknown')} is not authorized to perform: kms:{name} on resource: "
            f"{arn} because no identity-based policy allows the kms:{name} action"
        )
    elif roll < 0.025:
        record["errorCode"] = "ThrottlingException"
        record["errorMessage"] = "Rate exceeded"
    elif roll < 0.027:
        record["errorCode"] = "DisabledException"
        record["errorMessage"] = f"{arn} is disabled."
    return record


_OTHER = [
    ("s3.amazonaws.com", "GetObject", True),
    ("s3.amazonaws.com", "PutObject", False),
    ("ec2.amazonaws.com", "DescribeInstances", True),
    ("sts.amazonaws.com", "AssumeRole", True),
    ("iam.amazonaws.com", "GetRole", True),
    ("lambda.amazonaws.com", "Invoke", False),
    ("dynamodb.amazonaws.com", "DescribeTable", True),
    ("logs.amazonaws.com", "CreateLogStream", False),
]


def _other(
    world: World, rng: random.Random, when: str, account: str, region: str, sessions: Sessions | None = None
) -> dict:
    source, name, read_only = rng.choice(_OTHER)
    identity = _role_identity(world, rng, account, rng.choice(world.roles), None, sessions)
    ips, agents = (world.many_ips, world.many_agents) if sessions else (world.ips, world.agents)
    record = _base(rng, when, source, name, region, account, identity, rng.choice(ips), rng.choice(agents))
    if source == "s3.amazonaws.com":
        bucket = rng.choice(world.buckets)
        record["requestParameters"] = {
            "bucketName": bucket,
            "Host": f"{bucket}.s3.{region}.amazonaws.com",
            "key": f"raw/{rng.getrandbits(48):012x}.parquet",
        }
        record["additionalEventData"] = {
            "SignatureVersion": "SigV4",
            "bytesTransferredIn": 0,
            "bytesTransferredOut": rng.randrange(10**6),
        }
        record["resources"] = [
            {"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{bucket}/raw/x"},
            {"accountId": account, "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{bucket}"},
        ]
        record["eventCategory"] = "Data"
        record["managementEvent"] = False
    elif source == "ec2.amazonaws.com":
        record["requestParameters"] = {
            "instancesSet": {"items": [{"instanceId": rng.choice(world.instances)}]},
            "filterSet": {},
        }
    else:
        record["requestParameters"] = {
            "roleArn": f"arn:aws:iam::{account}:role/{rng.choice(world.roles)}",
            "roleSessionName": f"s-{rng.randrange(10**6)}",
        }
    record["readOnly"] = read_only
    record["tlsDetails"] = {**TLS, "clientProvidedHostHeader": f"{source.split('.')[0]}.{region}.amazonaws.com"}
    return record


def shuffled(value, rng: random.Random):
    """``value`` with every object's keys in a random order (the values as they were)."""
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {key: shuffled(item, rng) for key, item in items}
    if isinstance(value, list):
        return [shuffled(item, rng) for item in value]
    return value


def _write_file(args) -> int:
    directory, number, seed, kms_share, shape, serialisation = args
    rng = random.Random(seed * 1_000_003 + number)
    world = World(seed)
    account = ACCOUNTS[number % len(ACCOUNTS)]
    region = REGIONS[(number // len(ACCOUNTS)) % len(REGIONS)]
    stamp = START + timedelta(minutes=5 * (number // (len(ACCOUNTS) * len(REGIONS))))
    name = f"{account}_CloudTrail_{region}_{stamp:%Y%m%dT%H%MZ}_{rng.getrandbits(64):016X}.json.gz"
    trail_file = f"{account}_CloudTrail_{region}_{stamp:%Y%m%dT%H%MZ}_{rng.getrandbits(64):016X}.json.gz"
    sessions = Sessions(rng, stamp) if shape == "varied" else None
    records = []
    for i in range(PER_FILE):
        when = (stamp + timedelta(seconds=i * 300 // PER_FILE)).strftime("%Y-%m-%dT%H:%M:%SZ")
        if rng.random() < kms_share:
            records.append(_kms(world, rng, when, account, region, trail_file, sessions))
        else:
            records.append(_other(world, rng, when, account, region, sessions))
    path = Path(directory, "AWSLogs", ORG, account, "CloudTrail", region, f"{stamp:%Y/%m/%d}", name)
    path.parent.mkdir(parents=True, exist_ok=True)
    if serialisation == "shuffled":  # its own generator: the records stay those of the compact files
        order = random.Random(seed * 7_919 + number)
        data = json.dumps({"Records": [shuffled(record, order) for record in records]}).encode()
    elif serialisation == "dumps":
        data = json.dumps({"Records": records}).encode()
    elif serialisation == "sorted":
        data = json.dumps({"Records": records}, sort_keys=True).encode()
    else:
        data = json.dumps({"Records": records}, separators=(",", ":")).encode()
    path.write_bytes(gzip.compress(data, 6, mtime=0))
    return len(data)


SHAPES = ("repetitive", "varied")
SERIALISATIONS = ("compact", "dumps", "sorted", "shuffled")


def generate(
    directory: str | os.PathLike,
    records: int = 1_000_000,
    seed: int = 7,
    kms_share: float = 0.6,
    workers: int = 2,
    shape: str = "repetitive",
    serialisation: str = "compact",
) -> int:
    """Write the trail; returns the uncompressed bytes written."""
    if shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r}: one of {', '.join(SHAPES)}")
    if serialisation not in SERIALISATIONS:
        raise ValueError(f"unknown serialisation {serialisation!r}: one of {', '.join(SERIALISATIONS)}")
    files = (records + PER_FILE - 1) // PER_FILE
    jobs = [(str(directory), n, seed, kms_share, shape, serialisation) for n in range(files)]
    with ProcessPoolExecutor(workers) as pool:
        return sum(pool.map(_write_file, jobs, chunksize=8))


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Write a synthetic CloudTrail trail (deterministic).")
    parser.add_argument("target", nargs="?", default=".bench-cache/trail-1m")
    parser.add_argument("records", nargs="?", type=int, default=1_000_000)
    parser.add_argument("--shape", choices=SHAPES, default="repetitive")
    parser.add_argument(
        "--as",
        dest="serialisation",
        choices=SERIALISATIONS,
        default="compact",
        help="compact as CloudTrail writes; dumps: json.dumps's default; sorted: keys sorted; shuffled: "
        "spaced, each record's keys in an order of its own",
    )
    args = parser.parse_args()
    written = generate(args.target, args.records, shape=args.shape, serialisation=args.serialisation)
    print(f"{args.records:,} {args.shape} records, {written / args.records:,.0f} bytes a record, in {args.target}")
