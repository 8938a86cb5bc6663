"""AWS sessions, and AWS failures as one sentence a user can act on.

Credentials come from the standard boto3 chain only (environment, profiles, SSO, the
instance role); kmstui never reads, prints or stores a secret itself. Endpoint
overrides such as ``AWS_ENDPOINT_URL_CLOUDTRAIL`` work because boto3 honours them.
"""

from __future__ import annotations

import re
import threading
from typing import Any

import boto3
import botocore.config
import botocore.exceptions

from ..text import clean

_REGION = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d{1,2}$")

# No retries inside botocore (total_max_attempts counts the first try; max_attempts would
# not): kmstui paces LookupEvents itself, and a hidden retry would break that pace.
CLIENT_CONFIG = botocore.config.Config(
    retries={"mode": "standard", "total_max_attempts": 1}, connect_timeout=10, read_timeout=30
)


class LiveError(Exception):
    """A failure to talk to AWS, as one sentence (str(error) is shown to the user as is)."""


def session(profile: str | None = None) -> boto3.Session:
    """A boto3 session from the standard chain, or LiveError saying why there is none."""
    try:
        made = boto3.Session(profile_name=profile) if profile else boto3.Session()
    except botocore.exceptions.ProfileNotFound:
        raise LiveError(f"There is no AWS profile named {profile!r}: see aws configure list-profiles.") from None
    except botocore.exceptions.BotoCoreError as error:
        raise LiveError(f"The AWS configuration cannot be read: {error}.") from None
    try:
        credentials = made.get_credentials()
    except botocore.exceptions.BotoCoreError as error:
        raise LiveError(sentence(error)) from None
    if credentials is None:
        raise LiveError(
            "No AWS credentials found: sign in (aws sso login, aws configure) or set AWS_PROFILE "
            "or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY."
        )
    return made


_CLIENTS = threading.Lock()


def client(made: boto3.Session, service: str, region: str, read_timeout: float | None = None) -> Any:
    """A client for one region. Clients are thread-safe, a session is not: regions load side
    by side, so clients are made one at a time."""
    config = CLIENT_CONFIG
    if read_timeout is not None:
        config = config.merge(botocore.config.Config(read_timeout=read_timeout))
    with _CLIENTS:
        return made.client(service, region_name=region, config=config)


def enabled_regions(made: boto3.Session) -> list[str]:
    """The regions enabled for the account (ec2:DescribeRegions), for ``--region all``."""
    region = made.region_name or "us-east-1"
    try:
        listed = client(made, "ec2", region).describe_regions()["Regions"]
    except Exception as error:
        raise LiveError(sentence(error, region, "DescribeRegions")) from None
    return sorted(item["RegionName"] for item in listed if item.get("OptInStatus") != "not-opted-in")


def check_regions(made: boto3.Session, regions: list[str]) -> list[str]:
    """The regions, checked before any request: an unknown name is a LiveError, not a timeout."""
    known: set[str] = set()
    for partition in ("aws", "aws-cn", "aws-us-gov"):
        try:
            known.update(made.get_available_regions("cloudtrail", partition_name=partition))
        except Exception:  # an old botocore: fall back to the shape check alone
            pass
    for region in regions:
        if not _REGION.match(region) or (known and region not in known):
            raise LiveError(f"{region!r} is not an AWS region: use names like us-east-1 or eu-west-1.")
    return regions


def default_regions(made: boto3.Session) -> list[str]:
    return [made.region_name or "us-east-1"]


def sentence(error: BaseException, region: str | None = None, action: str | None = None) -> str:
    """One sentence for an AWS failure."""
    where = f" in {region}" if region else ""
    if isinstance(error, LiveError):
        return str(error)
    if isinstance(error, botocore.exceptions.NoCredentialsError):
        return "No AWS credentials found: sign in (aws sso login, aws configure) or set AWS_PROFILE."
    if isinstance(error, (botocore.exceptions.SSOTokenLoadError, botocore.exceptions.UnauthorizedSSOTokenError)):
        return "The AWS SSO session has expired or was never started: run aws sso login."
    if isinstance(error, botocore.exceptions.TokenRetrievalError):
        return "The AWS SSO session has expired: run aws sso login."
    if isinstance(error, botocore.exceptions.ReadTimeoutError):
        what = action or "The AWS call"
        return f"{what}{where} timed out: AWS did not answer in time; try again later."
    if isinstance(error, botocore.exceptions.ConnectionClosedError):
        what = action or "the AWS call"
        return f"The connection to AWS{where} was closed before it answered {what}: try again later."
    if isinstance(
        error,
        (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectTimeoutError),
    ):
        return f"AWS cannot be reached{where}: check the network connection (and the region name)."
    if isinstance(error, botocore.exceptions.ClientError):
        code = clean(str(error.response.get("Error", {}).get("Code", "")))[:200]  # AWS's words: never obeyed
        message = clean(str(error.response.get("Error", {}).get("Message", "")))[:500]
        operation = action or getattr(error, "operation_name", "") or "the call"
        if code in ("ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"):
            return "The AWS credentials have expired: sign in again (aws sso login) or refresh them."
        if code in (
            "UnrecognizedClientException",
            "InvalidClientTokenId",
            "InvalidAccessKeyId",
            "AuthFailure",
            "SignatureDoesNotMatch",
            "IncompleteSignature",
        ):
            return "AWS does not accept these credentials (unknown access key or bad signature): check the profile."
        if code in ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "NotAuthorized"):
            return f"Access denied to {operation}{where}: the credentials need {_permission(operation)}."
        if code == "InvalidTimeRangeException":
            return "The time range is not valid: --since must come before --until, within the last 90 days."
        if code in ("OptInRequired", "UnrecognizedClient"):
            return f"The region{where} is not enabled for this account."
        return f"{operation}{where} failed: {code}{': ' + message if message else ''}."
    if isinstance(error, botocore.exceptions.BotoCoreError):
        return f"The AWS call{where} failed: {clean(str(error))}."
    return f"The AWS call{where} failed: {type(error).__name__}: {clean(str(error))}."


def _permission(operation: str) -> str:
    services = {
        "LookupEvents": "cloudtrail:LookupEvents",
        "DescribeTrails": "cloudtrail:DescribeTrails",
        "GetTrailStatus": "cloudtrail:GetTrailStatus",
        "GetEventSelectors": "cloudtrail:GetEventSelectors",
        "ListKeys": "kms:ListKeys",
        "ListAliases": "kms:ListAliases",
        "DescribeKey": "kms:DescribeKey",
        "DescribeRegions": "ec2:DescribeRegions (or name the regions with --region)",
        "GetCallerIdentity": "nothing special (sts:GetCallerIdentity is always allowed)",
        "StartQueryExecution": "athena:StartQueryExecution (and glue:GetTable, s3 on the trail's bucket and the"
        " output location)",
        "GetQueryExecution": "athena:GetQueryExecution",
        "StopQueryExecution": "athena:StopQueryExecution",
    }
    return services.get(operation, f"the permission for {operation}")
