"""The fake AWS endpoints behave like AWS where kmstui depends on it (plain boto3, no kmstui)."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ParamValidationError

from fakeaws import DEFAULT_ACCOUNT, lookup_event

pytestmark = pytest.mark.slow

NOW = datetime(2026, 11, 20, 12, 0, 0, tzinfo=UTC)
KEY1 = f"arn:aws:kms:us-east-1:{DEFAULT_ACCOUNT}:key/11111111-1111-1111-1111-111111111111"
KEY2 = f"arn:aws:kms:us-east-1:{DEFAULT_ACCOUNT}:key/22222222-2222-2222-2222-222222222222"
NO_RETRY = Config(retries={"mode": "standard", "total_max_attempts": 1})  # "max_attempts" would mean retries


def record(n: int, when: datetime, name: str = "Decrypt", key: str = KEY1, region: str = "us-east-1", **extra) -> dict:
    base = {
        "eventVersion": "1.08",
        "eventID": f"00000000-0000-4000-8000-{n:012d}",
        "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "kms.amazonaws.com",
        "eventName": name,
        "awsRegion": region,
        "readOnly": name in ("Decrypt", "DescribeKey", "GenerateDataKey"),
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "AIDAEXAMPLE",
            "arn": f"arn:aws:iam::{DEFAULT_ACCOUNT}:user/alice",
            "accountId": DEFAULT_ACCOUNT,
            "accessKeyId": "AKIAALICE",
            "userName": "alice",
        },
        "resources": [{"accountId": DEFAULT_ACCOUNT, "type": "AWS::KMS::Key", "ARN": key}],
        "eventType": "AwsApiCall",
        "recipientAccountId": DEFAULT_ACCOUNT,
    }
    base.update(extra)
    return base


def epoch(when: datetime) -> int:
    return int(when.timestamp())


def error_of(raised: pytest.ExceptionInfo) -> tuple[str, int, str]:
    response = raised.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Message"]


@pytest.fixture
def trail(aws_endpoints):
    """120 events, one a minute before NOW, seeded in a shuffled order."""
    aws_endpoints.cloudtrail.now = NOW
    records = [record(n, NOW - timedelta(minutes=n)) for n in range(120)]
    random.Random(7).shuffle(records)
    aws_endpoints.cloudtrail.add_records("us-east-1", records)
    return aws_endpoints


def test_paging_120_events_gives_50_50_20_newest_first(trail):
    client = trail.client("cloudtrail")
    pages, token = [], None
    while True:
        kwargs = {"MaxResults": 50} | ({"NextToken": token} if token else {})
        answer = client.lookup_events(**kwargs)
        pages.append(answer["Events"])
        token = answer.get("NextToken")
        if not token:
            break
    assert [len(page) for page in pages] == [50, 50, 20]
    events = [event for page in pages for event in page]
    ids = [event["EventId"] for event in events]
    assert len(set(ids)) == 120
    assert ids == [f"00000000-0000-4000-8000-{n:012d}" for n in range(120)]  # newest first
    times = [event["EventTime"] for event in events]
    assert times == sorted(times, reverse=True)
    assert times[0] == NOW


def test_event_shape_is_what_aws_builds(trail):
    [event] = trail.client("cloudtrail").lookup_events(MaxResults=1)["Events"]
    assert event["EventId"] == "00000000-0000-4000-8000-000000000000"
    assert event["EventName"] == "Decrypt"
    assert event["ReadOnly"] == "true"
    assert event["AccessKeyId"] == "AKIAALICE"
    assert event["EventTime"] == NOW
    assert event["EventSource"] == "kms.amazonaws.com"
    assert event["Username"] == "alice"
    assert event["Resources"] == [{"ResourceType": "AWS::KMS::Key", "ResourceName": KEY1}]
    assert json.loads(event["CloudTrailEvent"]) == record(0, NOW)
    # On the wire EventTime is epoch seconds, a JSON number.
    assert lookup_event(record(0, NOW))["EventTime"] == epoch(NOW)


def test_default_page_is_50_and_boto3_paginator_works(trail):
    client = trail.client("cloudtrail")
    assert len(client.lookup_events()["Events"]) == 50
    pages = list(client.get_paginator("lookup_events").paginate(PaginationConfig={"PageSize": 50}))
    assert [len(page["Events"]) for page in pages] == [50, 50, 20]


def test_max_results_must_be_1_to_50(trail):
    client = trail.client("cloudtrail", config=NO_RETRY)
    with pytest.raises(ClientError) as raised:
        client.lookup_events(MaxResults=51)
    assert error_of(raised)[:2] == ("InvalidMaxResultsException", 400)
    with pytest.raises(ParamValidationError):  # botocore itself refuses 0
        client.lookup_events(MaxResults=0)


def test_only_one_lookup_attribute(trail):
    client = trail.client("cloudtrail", config=NO_RETRY)
    with pytest.raises(ClientError) as raised:
        client.lookup_events(
            LookupAttributes=[
                {"AttributeKey": "EventName", "AttributeValue": "Decrypt"},
                {"AttributeKey": "ResourceName", "AttributeValue": KEY1},
            ]
        )
    assert error_of(raised)[:2] == ("InvalidLookupAttributesException", 400)
    with pytest.raises(ClientError) as raised:
        client.lookup_events(LookupAttributes=[{"AttributeKey": "Region", "AttributeValue": "us-east-1"}])
    assert error_of(raised)[:2] == ("InvalidLookupAttributesException", 400)


def test_attributes_are_exact_matches(aws_endpoints):
    aws_endpoints.cloudtrail.now = NOW
    other = KEY1[:-1] + "2"  # shares all but the last character with KEY1
    aws_endpoints.cloudtrail.add_records(
        "us-east-1",
        [
            record(1, NOW, key=KEY1),
            record(2, NOW - timedelta(seconds=1), key=other),
            record(3, NOW - timedelta(seconds=2), name="ScheduleKeyDeletion", key=KEY1),
            record(4, NOW - timedelta(seconds=3), key=KEY2),
        ],
    )
    client = aws_endpoints.client("cloudtrail")

    def ids(key: str, value: str) -> list[str]:
        events = client.lookup_events(LookupAttributes=[{"AttributeKey": key, "AttributeValue": value}])["Events"]
        return [event["EventId"][-1] for event in events]

    assert ids("ResourceName", KEY1) == ["1", "3"]
    assert ids("ResourceName", KEY1.rsplit("/", 1)[1]) == []  # the key id alone is not the name
    assert ids("ResourceName", KEY1[:-3]) == []  # no prefixes
    assert ids("EventName", "ScheduleKeyDeletion") == ["3"]
    assert ids("EventName", "schedulekeydeletion") == []
    assert ids("ReadOnly", "false") == ["3"]
    assert ids("ResourceType", "AWS::KMS::Key") == ["1", "2", "3", "4"]
    assert ids("EventId", "00000000-0000-4000-8000-000000000004") == ["4"]
    assert ids("Username", "alice") == ["1", "2", "3", "4"]
    assert ids("EventSource", "kms.amazonaws.com") == ["1", "2", "3", "4"]
    assert ids("AccessKeyId", "AKIAALICE") == ["1", "2", "3", "4"]


def test_time_window_is_inclusive_and_90_days_deep(aws_endpoints):
    fake = aws_endpoints.cloudtrail
    fake.now = NOW
    days = [0, 1, 2, 89, 91]
    fake.add_records("us-east-1", [record(d, NOW - timedelta(days=d)) for d in days])
    client = aws_endpoints.client("cloudtrail", config=NO_RETRY)

    def days_seen(**kwargs) -> list[int]:
        return [int(event["EventId"][-3:]) for event in client.lookup_events(**kwargs)["Events"]]

    assert days_seen() == [0, 1, 2, 89]  # day 91 is past the 90 days
    assert days_seen(StartTime=NOW - timedelta(days=2), EndTime=NOW - timedelta(days=1)) == [1, 2]
    assert days_seen(StartTime=NOW - timedelta(days=2, seconds=-1), EndTime=NOW - timedelta(days=1, seconds=1)) == []
    assert days_seen(EndTime=NOW - timedelta(days=1)) == [1, 2, 89]
    assert days_seen(StartTime=NOW - timedelta(days=100)) == [0, 1, 2, 89]
    with pytest.raises(ClientError) as raised:
        client.lookup_events(StartTime=NOW, EndTime=NOW - timedelta(seconds=1))
    assert error_of(raised)[:2] == ("InvalidTimeRangeException", 400)
    fake.now = NOW - timedelta(days=5)  # "now" decides what is still there
    assert days_seen() == [0, 1, 2, 89, 91]


def test_next_token_is_bound_to_the_parameters_of_its_call(trail):
    client = trail.client("cloudtrail", config=NO_RETRY)
    first = {
        "LookupAttributes": [{"AttributeKey": "ResourceName", "AttributeValue": KEY1}],
        "StartTime": NOW - timedelta(hours=3),
        "EndTime": NOW,
        "MaxResults": 50,
    }
    token = client.lookup_events(**first)["NextToken"]
    changed = [
        first | {"LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "Decrypt"}]},
        {k: v for k, v in first.items() if k != "LookupAttributes"},
        first | {"EndTime": NOW + timedelta(seconds=1)},  # e.g. "now" recomputed for every page
        first | {"StartTime": NOW - timedelta(hours=2)},
        first | {"MaxResults": 20},
    ]
    for parameters in changed:
        with pytest.raises(ClientError) as raised:
            client.lookup_events(NextToken=token, **parameters)
        assert error_of(raised)[:2] == ("InvalidNextTokenException", 400)
    with pytest.raises(ClientError) as raised:  # same parameters, another region
        trail.client("cloudtrail", "eu-west-1", config=NO_RETRY).lookup_events(NextToken=token, **first)
    assert error_of(raised)[0] == "InvalidNextTokenException"
    second = client.lookup_events(NextToken=token, **first)  # unchanged: fine, and reusable
    assert len(second["Events"]) == 50
    assert client.lookup_events(NextToken=token, **first)["Events"] == second["Events"]

    for bogus in ("not-a-token", token + "x"):
        with pytest.raises(ClientError) as raised:
            client.lookup_events(NextToken=bogus, **first)
        assert error_of(raised)[:2] == ("InvalidNextTokenException", 400)
    trail.cloudtrail.expire_tokens()
    with pytest.raises(ClientError) as raised:
        client.lookup_events(NextToken=token, **first)
    assert error_of(raised)[0] == "InvalidNextTokenException"


def test_throttling_is_a_throttling_exception_that_standard_retries_get_through(trail):
    fake = trail.cloudtrail
    fake.throttle(next=1)
    with pytest.raises(ClientError) as raised:
        trail.client("cloudtrail", config=NO_RETRY).lookup_events(MaxResults=5)
    assert error_of(raised) == ("ThrottlingException", 400, "Rate exceeded")

    fake.throttle(next=1)
    retrying = trail.client("cloudtrail", config=Config(retries={"mode": "standard", "total_max_attempts": 3}))
    answer = retrying.lookup_events(MaxResults=5)
    assert len(answer["Events"]) == 5
    assert answer["ResponseMetadata"]["RetryAttempts"] == 1
    assert [(r.throttled, r.error) for r in fake.requests] == [
        (True, "ThrottlingException"),
        (True, "ThrottlingException"),
        (False, None),
    ]
    assert fake.requests[-1].body == {"MaxResults": 5}
    assert fake.requests[-1].region == "us-east-1"


def test_throttling_every_kth_request(trail):
    fake = trail.cloudtrail
    fake.throttle(every=3)
    client = trail.client("cloudtrail", config=NO_RETRY)
    outcomes = []
    for _ in range(6):
        try:
            client.lookup_events(MaxResults=1)
            outcomes.append("ok")
        except ClientError as error:
            outcomes.append(error.response["Error"]["Code"])
    assert outcomes == ["ok", "ok", "ThrottlingException"] * 2
    fake.throttle()
    client.lookup_events(MaxResults=1)
    assert [r.throttled for r in fake.requests] == [False, False, True, False, False, True, False]


def test_rate_accounting_per_account_and_region(trail):
    fake = trail.cloudtrail
    for _ in range(3):
        trail.client("cloudtrail").lookup_events(MaxResults=1)
    trail.client("cloudtrail", "eu-west-1").lookup_events(MaxResults=1)
    assert fake.max_rate(DEFAULT_ACCOUNT, "us-east-1") == 3
    assert fake.max_rate(DEFAULT_ACCOUNT, "eu-west-1") == 1
    assert fake.max_rate("444455556666", "us-east-1") == 0
    assert len(fake.request_times(DEFAULT_ACCOUNT, "us-east-1")) == 3
    # The window arithmetic, on known times: half-open 1-second windows.
    fake._times[("999999999999", "us-east-1")] = [10.0, 10.5, 11.0, 11.2, 13.0]
    assert fake.max_rate("999999999999", "us-east-1") == 3  # 10.5, 11.0, 11.2
    fake._times[("999999999999", "us-east-1")] = [10.0, 10.6, 11.2, 11.8]
    assert fake.max_rate("999999999999", "us-east-1") == 2


def test_errors_on_demand(trail):
    fake = trail.cloudtrail
    client = trail.client("cloudtrail", config=NO_RETRY)
    fake.fail_next("AccessDeniedException", "User: arn:aws:iam::111122223333:user/alice is not authorized")
    with pytest.raises(ClientError) as raised:
        client.lookup_events()
    assert error_of(raised) == (
        "AccessDeniedException",
        400,
        "User: arn:aws:iam::111122223333:user/alice is not authorized",
    )
    fake.fail_next("ExpiredTokenException", "The security token included in the request is expired", status=403)
    with pytest.raises(ClientError) as raised:
        client.lookup_events()
    assert error_of(raised)[:2] == ("ExpiredTokenException", 403)
    assert len(client.lookup_events(MaxResults=2)["Events"]) == 2  # one failure each

    # Failures can target one operation, forwarded ones included.
    fake.fail_next(
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
        operation="DescribeTrails",
    )
    assert client.lookup_events(MaxResults=1)["Events"]
    with pytest.raises(ClientError) as raised:
        client.describe_trails()
    assert error_of(raised)[:2] == ("UnrecognizedClientException", 400)
    assert client.describe_trails()["trailList"] == []
    assert [r.error for r in fake.requests] == ["AccessDeniedException", "ExpiredTokenException", None, None]


def test_unsigned_and_malformed_requests(aws_endpoints):
    import urllib.error
    import urllib.request

    lookup = {"X-Amz-Target": "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents"}
    request = urllib.request.Request(aws_endpoints.cloudtrail_url, data=b"{}", headers=lookup, method="POST")
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=5)
    assert raised.value.code == 403
    assert json.loads(raised.value.read())["__type"] == "MissingAuthenticationTokenException"

    signed = lookup | {
        "Authorization": "AWS4-HMAC-SHA256 Credential=AKIDX/20261120/eu-west-1/cloudtrail/aws4_request, "
        "SignedHeaders=host, Signature=0"
    }
    request = urllib.request.Request(aws_endpoints.cloudtrail_url, data=b"[1]", headers=signed, method="POST")
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=5)
    assert json.loads(raised.value.read())["__type"] == "SerializationException"
    [logged] = aws_endpoints.cloudtrail.requests
    assert (logged.region, logged.access_key, logged.error) == ("eu-west-1", "AKIDX", "SerializationException")


def test_environment_points_boto3_at_the_fakes(aws_endpoints, tmp_path):
    import os

    session = boto3.session.Session()
    credentials = session.get_credentials().get_frozen_credentials()
    assert (credentials.access_key, credentials.secret_key, credentials.token) == ("testing", "testing", None)
    assert session.region_name == "us-east-1"
    assert os.environ["AWS_CONFIG_FILE"].startswith(str(tmp_path))
    # Plain clients, configured only by the environment (as kmstui's will be).
    cloudtrail = boto3.client("cloudtrail")
    assert cloudtrail.meta.endpoint_url == aws_endpoints.cloudtrail_url
    assert boto3.client("kms").meta.endpoint_url == aws_endpoints.moto_url
    assert boto3.client("sts").meta.endpoint_url == aws_endpoints.moto_url
    assert cloudtrail.lookup_events()["Events"] == []
    assert aws_endpoints.cloudtrail.requests[-1].account == DEFAULT_ACCOUNT
    identity = boto3.client("sts").get_caller_identity()
    assert identity["Account"] == DEFAULT_ACCOUNT


def test_forwarding_trails_to_moto(aws_endpoints):
    aws_endpoints.create_trail("org-trail", region="us-east-1", multi_region=True)
    aws_endpoints.create_trail("local-trail", region="eu-west-1", multi_region=False, logging=False)
    east = aws_endpoints.client("cloudtrail", "us-east-1")
    west = aws_endpoints.client("cloudtrail", "eu-west-1")
    east.put_event_selectors(
        TrailName="org-trail",
        AdvancedEventSelectors=[
            {
                "Name": "KMS data events",
                "FieldSelectors": [
                    {"Field": "eventCategory", "Equals": ["Management"]},
                    {"Field": "eventSource", "Equals": ["kms.amazonaws.com"]},
                ],
            }
        ],
    )

    east_trails = {t["Name"]: t for t in east.describe_trails()["trailList"]}
    assert set(east_trails) == {"org-trail"}
    assert east_trails["org-trail"]["HomeRegion"] == "us-east-1"
    assert east_trails["org-trail"]["IsMultiRegionTrail"] is True
    assert east_trails["org-trail"]["TrailARN"] == f"arn:aws:cloudtrail:us-east-1:{DEFAULT_ACCOUNT}:trail/org-trail"
    # In eu-west-1: its own trail and the multi-region trail's shadow.
    west_trails = {t["Name"]: t["HomeRegion"] for t in west.describe_trails()["trailList"]}
    assert west_trails == {"org-trail": "us-east-1", "local-trail": "eu-west-1"}
    assert [t["Name"] for t in west.describe_trails(includeShadowTrails=False)["trailList"]] == ["local-trail"]

    assert east.get_trail_status(Name="org-trail")["IsLogging"] is True
    assert west.get_trail_status(Name="local-trail")["IsLogging"] is False
    selectors = east.get_event_selectors(TrailName="org-trail")
    assert selectors["AdvancedEventSelectors"][0]["Name"] == "KMS data events"
    assert selectors["TrailARN"] == east_trails["org-trail"]["TrailARN"]

    with pytest.raises(ClientError) as raised:  # moto's errors come back unchanged
        east.get_trail_status(Name="no-such-trail")
    assert error_of(raised)[:2] == ("TrailNotFoundException", 400)
    assert "no-such-trail" in error_of(raised)[2]

    operations = [(c.operation, c.region, c.forwarded) for c in aws_endpoints.cloudtrail.calls]
    assert ("CreateTrail", "eu-west-1", True) in operations
    assert ("GetEventSelectors", "us-east-1", True) in operations
    assert all(forwarded for _, _, forwarded in operations)
    assert aws_endpoints.cloudtrail.requests == []  # none of them was a LookupEvents


def test_kms_and_sts_against_moto(aws_endpoints):
    kms = aws_endpoints.client("kms")
    key = kms.create_key(Description="payments")["KeyMetadata"]
    doomed = kms.create_key(Description="old")["KeyMetadata"]
    kms.create_alias(AliasName="alias/payments", TargetKeyId=key["KeyId"])
    kms.schedule_key_deletion(KeyId=doomed["KeyId"], PendingWindowInDays=7)

    assert key["Arn"] == f"arn:aws:kms:us-east-1:{DEFAULT_ACCOUNT}:key/{key['KeyId']}"
    listed = {k["KeyId"] for k in kms.list_keys()["Keys"]}
    assert listed == {key["KeyId"], doomed["KeyId"]}
    aliases = {a["AliasName"]: a.get("TargetKeyId") for a in kms.list_aliases()["Aliases"]}
    assert aliases["alias/payments"] == key["KeyId"]
    pending = kms.describe_key(KeyId=doomed["Arn"])["KeyMetadata"]
    assert (pending["KeyState"], pending["Enabled"]) == ("PendingDeletion", False)
    assert pending["DeletionDate"] > datetime.now(UTC) + timedelta(days=6)
    assert kms.describe_key(KeyId="alias/payments")["KeyMetadata"]["KeyId"] == key["KeyId"]
    assert aws_endpoints.client("sts").get_caller_identity()["Account"] == DEFAULT_ACCOUNT


def test_moto_is_reset_between_tests(aws_endpoints):
    # Runs after the tests above created keys and trails: none of it is left.
    assert aws_endpoints.client("kms").list_keys()["Keys"] == []
    assert aws_endpoints.client("cloudtrail").describe_trails()["trailList"] == []
    assert aws_endpoints.cloudtrail.requests == []


def test_two_regions_are_distinguished(aws_endpoints):
    fake = aws_endpoints.cloudtrail
    fake.now = NOW
    fake.add_records("us-east-1", [record(1, NOW)])
    fake.add_records("eu-west-1", [record(2, NOW, region="eu-west-1"), record(3, NOW, region="eu-west-1")])
    east = aws_endpoints.client("cloudtrail", "us-east-1").lookup_events()["Events"]
    west = aws_endpoints.client("cloudtrail", "eu-west-1").lookup_events()["Events"]
    assert [e["EventId"][-1] for e in east] == ["1"]
    assert sorted(e["EventId"][-1] for e in west) == ["2", "3"]
    assert [r.region for r in fake.requests] == ["us-east-1", "eu-west-1"]

    east_key = aws_endpoints.client("kms", "us-east-1").create_key()["KeyMetadata"]
    assert aws_endpoints.client("kms", "eu-west-1").list_keys()["Keys"] == []
    assert ":us-east-1:" in east_key["Arn"]


def test_accounts_follow_the_access_key(aws_endpoints):
    fake = aws_endpoints.cloudtrail
    fake.now = NOW
    other = "444455556666"
    fake.add_records("us-east-1", [record(1, NOW)])
    fake.add_records("us-east-1", [record(2, NOW, recipientAccountId=other)], account=other)

    fake.add_account("AKIAOTHERACCOUNT", other)
    mapped = aws_endpoints.client("cloudtrail", aws_access_key_id="AKIAOTHERACCOUNT")
    assert [e["EventId"][-1] for e in mapped.lookup_events()["Events"]] == ["2"]

    # Credentials from moto's STS AssumeRole belong to the role's account, in moto and in the fake.
    role = f"arn:aws:iam::{other}:role/audit"
    creds = aws_endpoints.client("sts").assume_role(RoleArn=role, RoleSessionName="kmstui")["Credentials"]
    assumed = {
        "aws_access_key_id": creds["AccessKeyId"],
        "aws_secret_access_key": creds["SecretAccessKey"],
        "aws_session_token": creds["SessionToken"],
    }
    assert aws_endpoints.client("sts", **assumed).get_caller_identity()["Account"] == other
    assert [e["EventId"][-1] for e in aws_endpoints.client("cloudtrail", **assumed).lookup_events()["Events"]] == ["2"]
    key = aws_endpoints.client("kms", **assumed).create_key()["KeyMetadata"]
    assert key["AWSAccountId"] == other
    assert [e["EventId"][-1] for e in aws_endpoints.client("cloudtrail").lookup_events()["Events"]] == ["1"]
    assert [r.account for r in fake.requests] == [other, other, DEFAULT_ACCOUNT]
