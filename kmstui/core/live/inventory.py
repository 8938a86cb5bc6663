"""The account's trails and keys, from the AWS APIs.

Trails: DescribeTrails in each region (shadow copies of multi-region trails folded by ARN),
GetTrailStatus (logging or not, the last delivery error) and GetEventSelectors (basic and
advanced): does the trail record KMS events, and which key encrypts its log files.

Keys: ListKeys, ListAliases and DescribeKey: aliases, description, state (with the
deletion date), spec and usage, manager, multi-Region. Keys nobody used in the window are
listed too: a key nobody uses is worth seeing.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from ..trails import selector_state
from .errors import client, sentence

INVENTORY_THREADS = 8  # regions asked side by side


@dataclass
class LiveTrail:
    arn: str
    name: str
    home_region: str
    multi_region: bool = False
    organization: bool = False
    bucket: str | None = None
    prefix: str | None = None
    kms_key: str | None = None
    logging: bool | None = None  # GetTrailStatus IsLogging
    delivery_error: str | None = None
    selectors: str = "unknown"  # logged, excluded, write-only, unknown
    selectors_how: str = ""
    problems: list[str] = field(default_factory=list)  # calls that failed, one sentence each

    @property
    def location(self) -> str | None:
        if not self.bucket:
            return None
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")


@dataclass
class LiveKey:
    arn: str
    region: str
    account: str
    aliases: list[str] = field(default_factory=list)
    description: str = ""
    state: str | None = None  # Enabled, Disabled, PendingDeletion, PendingImport, Unavailable...
    deletion_date: datetime | None = None
    spec: str | None = None
    usage: str | None = None
    manager: str | None = None  # AWS or CUSTOMER
    multi_region: bool = False


def fetch_trails(
    made,
    regions: list[str],
    problems: list[str],
    cancelled: Callable[[], bool] = lambda: False,
    asked: list[str] | None = None,
) -> list[LiveTrail]:
    """The account's trails seen from ``regions``, each with its status and selectors. A
    failure is told only for the regions ``asked`` for (all, by default): elsewhere a policy
    that keeps the account out of some regions is not the user's problem."""

    def describe(region: str, problems: list[str]) -> list[dict]:
        if cancelled():
            return []
        api = client(made, "cloudtrail", region)
        try:
            return api.describe_trails(includeShadowTrails=True).get("trailList", [])
        except Exception as error:
            if asked is None or region in asked:
                problems.append(sentence(error, region, "DescribeTrails"))
            return []

    found: dict[str, LiveTrail] = {}
    for listed in each(regions, describe, problems):
        for item in listed:
            arn = item.get("TrailARN")
            if not arn or arn in found:
                continue  # a multi-region trail's shadow copy in another region
            found[arn] = LiveTrail(
                arn=arn,
                name=item.get("Name", arn.rsplit("/", 1)[-1]),
                home_region=item.get("HomeRegion") or arn.split(":")[3],
                multi_region=bool(item.get("IsMultiRegionTrail")),
                organization=bool(item.get("IsOrganizationTrail")),
                bucket=item.get("S3BucketName"),
                prefix=item.get("S3KeyPrefix"),
                kms_key=item.get("KmsKeyId"),
            )

    def state(trail: LiveTrail, _problems: list[str]) -> None:  # a trail keeps its own
        if cancelled():
            return
        api = client(made, "cloudtrail", trail.home_region)
        try:
            status = api.get_trail_status(Name=trail.arn)
            trail.logging = bool(status.get("IsLogging"))
            trail.delivery_error = status.get("LatestDeliveryError") or None
        except Exception as error:
            trail.problems.append(sentence(error, trail.home_region, "GetTrailStatus"))
        try:
            selectors = api.get_event_selectors(TrailName=trail.arn)
            effect = selector_state(selectors, {})
            trail.selectors, trail.selectors_how = effect.state, effect.how
        except Exception as error:
            trail.problems.append(sentence(error, trail.home_region, "GetEventSelectors"))

    each(list(found.values()), state, [])
    return list(found.values())


def fetch_keys(
    made, regions: list[str], problems: list[str], cancelled: Callable[[], bool] = lambda: False
) -> list[LiveKey]:
    """Every key in ``regions`` with its aliases and metadata."""

    def region_keys(region: str, problems: list[str]) -> list[LiveKey]:
        if cancelled():
            return []
        api = client(made, "kms", region)
        try:
            aliases: dict[str, list[str]] = {}
            for page in api.get_paginator("list_aliases").paginate():
                for alias in page.get("Aliases", []):
                    target = alias.get("TargetKeyId")
                    if target:
                        aliases.setdefault(target, []).append(alias["AliasName"])
            listed = [key for page in api.get_paginator("list_keys").paginate() for key in page.get("Keys", [])]
        except Exception as error:
            problems.append(sentence(error, region, "ListKeys"))
            return []
        keys: list[LiveKey] = []
        for item in listed:
            if cancelled():
                break
            key_id = item.get("KeyId")
            arn = item.get("KeyArn") or ""
            key = LiveKey(
                arn=arn,
                region=region,
                account=arn.split(":")[4] if arn.count(":") >= 5 else "",
                aliases=sorted(aliases.get(key_id, [])),
            )
            keys.append(key)
            try:
                meta = api.describe_key(KeyId=arn or key_id)["KeyMetadata"]
            except Exception as error:
                problems.append(sentence(error, region, "DescribeKey"))
                continue
            key.description = meta.get("Description") or ""
            key.state = meta.get("KeyState")
            key.deletion_date = meta.get("DeletionDate")
            key.spec = meta.get("KeySpec") or meta.get("CustomerMasterKeySpec")
            key.usage = meta.get("KeyUsage")
            key.manager = meta.get("KeyManager")
            key.multi_region = bool(meta.get("MultiRegion"))
        return keys

    return [key for keys in each(regions, region_keys, problems) for key in keys]


def each(items: list, work: Callable, problems: list[str]) -> list:
    """``work(item, problems)`` on every item side by side (each region is its own endpoint
    and rate limit); results, and the problems met, in the items' order."""

    def run(item):
        mine: list[str] = []
        return work(item, mine), mine

    if len(items) <= 1:
        done = [run(item) for item in items]
    else:
        with ThreadPoolExecutor(
            max_workers=min(INVENTORY_THREADS, len(items)), thread_name_prefix="kmstui-inventory"
        ) as pool:
            done = list(pool.map(run, items))
    for _result, mine in done:
        problems.extend(mine)
    return [result for result, _mine in done]
