"""The event model as the panes and exports see it: one event, materialised on demand.

The index stores events as columns; :meth:`EventIndex.event` builds an
:class:`Event` only for the rows being shown or written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from .timeutil import iso


class LabelledContext(NamedTuple):
    """One encryption context of an event: the request's own (label ""), or a labelled one
    (ReEncrypt's source and destination, a grant's constraints)."""

    label: str
    pairs: tuple[tuple[str, str], ...]  # (key, value), in the order of the first record of its set (contexts.py)


ContextSet = tuple[LabelledContext, ...]


class Identity(NamedTuple):
    """A principal as the principal vocabulary keeps it (one per distinct caller, shared by
    its events). Whether a call crosses accounts depends on the event: see :class:`Principal`."""

    short: str  # user/Alice, role/Admin (session), root, service:s3.amazonaws.com
    arn: str | None  # None for an assumed role whose ARN the short form and account rebuild
    identity_type: str | None  # IAMUser, AssumedRole, Root, AWSService, AWSAccount, ...
    account: str | None  # the caller's account
    invoked_by: str | None  # the AWS service that called on the principal's behalf

    def crosses(self, account: str | None) -> bool:
        """Whether a call by this identity, recorded in ``account``, came from another account."""
        return bool(self.account and account and self.account != account)


UNKNOWN_IDENTITY = Identity("(unknown)", None, None, None, None)


class Place(NamedTuple):
    """Where a record was written: what completes a bare key id, alias or trail name into an ARN."""

    region: str | None
    account: str | None  # recipientAccountId: the account that owns the event
    partition: str  # aws, aws-cn, aws-us-gov, ...

    def arn(self, service: str, resource: str) -> str:
        return f"arn:{self.partition}:{service}:{self.region}:{self.account}:{resource}"


class AliasBinding(NamedTuple):
    """Something the events taught about an alias: it pointed to ``key`` (0: to nothing)."""

    alias: int  # alias vocabulary code
    key: int  # key vocabulary code, 0 for "points nowhere"
    kind: str  # CreateAlias, UpdateAlias, delete, before (held until that change), observed
    when: int  # the change's time; 0 for an observation, which is kept as one span


class LogFile(NamedTuple):
    """A log file CloudTrail encrypted for a trail (its own GenerateDataKey call)."""

    trail: int  # trail vocabulary code
    s3_arn: str  # the log file's S3 object ARN (aws:s3:arn)
    time: int


@dataclass(frozen=True, slots=True)
class Principal:
    """Who made the call: a short readable form plus the details behind it."""

    short: str  # user/Alice, role/Admin (session), root, service:s3.amazonaws.com
    arn: str | None
    identity_type: str | None  # IAMUser, AssumedRole, Root, AWSService, AWSAccount, ...
    account: str | None  # the caller's account
    invoked_by: str | None  # the AWS service that called on the principal's behalf
    cross_account: bool  # the caller's account differs from the account that owns the event

    @property
    def label(self) -> str:
        return f"{self.short} [cross-account {self.account}]" if self.cross_account else self.short

    @classmethod
    def of(cls, identity: Identity, account: str | None) -> Principal:
        """The principal of an event recorded in ``account``."""
        return cls(*identity, cross_account=identity.crosses(account))


@dataclass(frozen=True, slots=True)
class Event:
    row: int
    time: int
    event_id: str | None
    name: str
    source: str  # eventSource: kms.amazonaws.com or cloudtrail.amazonaws.com
    event_type: str | None
    region: str | None
    account: str | None  # recipientAccountId
    principal: Principal
    source_ip: str | None
    user_agent: str | None
    error_code: str | None
    error_message: str | None
    read_only: bool | None
    keys: tuple[str, ...]  # key ARNs (an unresolved alias stands in as its alias ARN)
    aliases: tuple[str, ...]  # alias ARNs the event named
    contexts: ContextSet
    origin: str  # the source it came from
    subject_trail: str | None  # the trail the event is about (configuration, CloudTrail's own key use)
    shares_id: bool = False  # another loaded event has this id, name and time but differs from it
    cloud: str = "aws"  # aws (CloudTrail) or alibaba (ActionTrail)

    @property
    def context(self) -> dict[str, str] | None:
        """The main encryption context as an object: the request's own, else the first one."""
        if not self.contexts:
            return None
        return dict(self.contexts[0].pairs)

    @property
    def iso_time(self) -> str | None:
        return iso(self.time)


def alias_name(alias_arn: str) -> str:
    """``alias/name`` from an alias ARN."""
    position = alias_arn.find(":alias/")
    return alias_arn[position + 1 :] if position >= 0 else alias_arn


def is_alias(arn: str) -> bool:
    return ":alias/" in arn


def key_id(key_arn: str) -> str:
    """The key id from a key ARN (``1234abcd-...``); an alias ARN gives ``alias/name``."""
    if ":alias/" in key_arn:
        return alias_name(key_arn)
    position = key_arn.find(":key/")
    return key_arn[position + 5 :] if position >= 0 else key_arn


def arn_region(arn: str) -> str | None:
    parts = arn.split(":", 5)
    if parts[0] == "acs":  # Alibaba Cloud: acs:kms:REGION:ACCOUNT:key/ID
        return parts[2] or None if len(parts) > 4 else None
    return parts[3] or None if len(parts) > 4 else None


def arn_account(arn: str) -> str | None:
    parts = arn.split(":", 5)
    if parts[0] == "acs":
        return parts[3] or None if len(parts) > 4 else None
    return parts[4] or None if len(parts) > 4 else None


def trail_name(trail_arn: str) -> str:
    position = trail_arn.find(":trail/")
    return trail_arn[position + 7 :] if position >= 0 else trail_arn
