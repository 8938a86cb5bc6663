"""What the keys pane shows for any set of events: one row per key.

Computed with numpy over the matching rows (group by key code), so it keeps up
with the filter on a million events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import orjson

from .actiontrail import cloud_of_arn
from .effects import deletion_time
from .index import EventIndex
from .model import alias_name, arn_account, arn_region, is_alias, key_id
from .timeutil import NO_TIME, short
from .vocab import distinct

if TYPE_CHECKING:  # live imports the core: at run time the core does not import live
    from .live.inventory import LiveKey

# What management events say about a key's state. CancelKeyDeletion leaves a key
# disabled, as KMS does.
STATE_CHANGES = {
    "CreateKey": "enabled",
    "EnableKey": "enabled",
    "DisableKey": "disabled",
    "ScheduleKeyDeletion": "pending deletion",
    "CancelKeyDeletion": "disabled",
    "DeleteKey": "deleted",
}


@dataclass(frozen=True)
class KeyState:
    state: str  # enabled, disabled, pending deletion, deleted
    time: int
    event: str
    principal: str
    deletion: int | None = None  # pending deletion: when the key goes, from the call's waiting period


def _deletion(index: EventIndex, row: int, time: int) -> int | None:
    """When ScheduleKeyDeletion at ``row`` deletes its key: from the request and response the
    index keeps for calls that change something (CloudTrail's pendingWindowInDays,
    ActionTrail's PendingWindowInDays)."""
    raw = index.parameters.get(row)
    if raw is None:
        return None
    try:
        parameters = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(parameters, list) or len(parameters) != 2:
        return None
    return deletion_time(time, parameters[0], parameters[1])


def key_states(index: EventIndex) -> dict[int, KeyState]:
    """Key code -> its state after the last successful state-changing event loaded."""
    n = index.snapshot.n
    names = index.vocab["name"]
    codes = [code for name in STATE_CHANGES if (code := names.find(name)) is not None]
    if not codes or n == 0:
        return {}
    table = np.zeros(len(names), bool)
    table[codes] = True
    rows = np.flatnonzero(
        table[index.columns["name"].data[:n]] & (index.columns["errcode"].data[:n] == 0) & index.snapshot.alive
    )
    states: dict[int, KeyState] = {}
    time = index.columns["time"].data
    for row in rows[np.argsort(time[rows], kind="stable")].tolist():
        name = names.values[index.columns["name"].data[row]]
        who = index.principal(int(index.columns["principal"].data[row])).short
        deletion = _deletion(index, row, int(time[row])) if name == "ScheduleKeyDeletion" else None
        for key in index.keys_of(row):
            states[key] = KeyState(STATE_CHANGES[name], int(time[row]), name, who, deletion)
    return states


_LIVE_STATES = {
    "Enabled": "enabled",
    "Disabled": "disabled",
    "PendingDeletion": "pending deletion",
    "PendingReplicaDeletion": "pending deletion",
    "PendingImport": "pending import",
    "Unavailable": "unavailable",
    "Creating": "creating",
    "Updating": "updating",
}


@dataclass
class KeySummary:
    code: int  # key vocabulary code
    arn: str
    aliases: list[str] = field(default_factory=list)  # alias/name, current ones
    former_aliases: list[str] = field(default_factory=list)  # aliases moved away or deleted
    events: int = 0
    errors: int = 0
    principals: int = 0
    first_seen: int = NO_TIME
    last_seen: int = NO_TIME
    state: KeyState | None = None  # from the loaded management events, when they say
    live: LiveKey | None = None  # the key as DescribeKey describes it now (kmstui.core.live)

    @property
    def state_text(self) -> str:
        """The key's state: from DescribeKey when kmstui has it, else from the loaded events."""
        live = self.live
        if live is not None and live.state:
            text = _LIVE_STATES.get(live.state, live.state)
            if live.deletion_date is not None:
                text += f" {live.deletion_date:%m-%d}"
            return text
        if self.state is None:
            return ""
        if self.state.deletion is not None:  # as DescribeKey's date is shown: month-day, UTC
            return f"{self.state.state} {short(self.state.deletion)[5:10]}"
        return self.state.state

    @property
    def details(self) -> str:
        """What DescribeKey says of the key, in one line (empty without --lookup)."""
        live = self.live
        if live is None:
            return ""
        parts = [
            " ".join(p for p in (live.spec, live.usage) if p),
            {"AWS": "AWS managed", "CUSTOMER": "customer managed"}.get(live.manager or "", live.manager or ""),
            "multi-Region" if live.multi_region else "",
            f"deletion on {live.deletion_date:%Y-%m-%d}" if live.deletion_date else "",
            live.description,
        ]
        return " · ".join(p for p in parts if p)

    @property
    def unresolved(self) -> bool:
        """An alias no loaded event tied to a key: it stands in for the key."""
        return is_alias(self.arn)

    @property
    def key_id(self) -> str:
        return key_id(self.arn)

    @property
    def region(self) -> str | None:
        return arn_region(self.arn)

    @property
    def cloud(self) -> str:
        """aws, or alibaba for an Alibaba Cloud KMS key (``acs:kms:...``)."""
        return cloud_of_arn(self.arn)

    @property
    def account(self) -> str | None:
        return arn_account(self.arn)

    @property
    def display(self) -> str:
        """Alias when known; else the key id, and the alias it had (a moved alias is a clue)."""
        if self.aliases:
            return self.aliases[0]
        if self.unresolved:
            return f"{self.key_id} (unresolved)"
        if self.former_aliases:
            return f"{self.key_id[:8]}… was {self.former_aliases[0]}"
        return self.key_id


class KeyAliases(NamedTuple):
    """A key's alias names: those pointing to it now, and those that once did."""

    current: list[str]
    former: list[str]


NO_ALIASES = KeyAliases([], [])


def key_aliases(index: EventIndex) -> dict[int, KeyAliases]:
    """Key code -> its alias names, now and before."""
    alias_values = index.vocab["alias"].values
    result = {}
    for key, entries in index.aliases_by_key().items():
        current = list(dict.fromkeys(alias_name(alias_values[a.alias]) for a in entries if a.current))
        former = [
            name
            for name in dict.fromkeys(alias_name(alias_values[a.alias]) for a in entries if not a.current)
            if name not in current
        ]
        result[key] = KeyAliases(current, former)
    return result


def summarise_keys(index: EventIndex, rows: np.ndarray, unused: bool = False) -> list[KeySummary]:
    """One summary per key among ``rows``, busiest first; with ``unused``, the account's keys
    that no event touched follow (known from the AWS APIs)."""
    summaries = _summarise(index, rows)
    live = index.live_keys
    if live:
        seen = set()
        for summary in summaries:
            summary.live = key = live.get(summary.code)
            seen.add(summary.code)
            if key is not None:  # ListAliases says what the aliases are now; the events, what they were
                summary.former_aliases = list(
                    dict.fromkeys([a for a in summary.aliases + summary.former_aliases if a not in key.aliases])
                )
                summary.aliases = list(key.aliases)
        if unused:
            values = index.vocab["key"].values
            names = key_aliases(index)
            for code, key in live.items():
                if code not in seen:
                    current, former = names.get(code, NO_ALIASES)
                    aliases = list(dict.fromkeys([*current, *key.aliases]))
                    summaries.append(
                        KeySummary(code=code, arn=values[code], aliases=aliases, former_aliases=former, live=key)
                    )
    return summaries


def _summarise(index: EventIndex, rows: np.ndarray) -> list[KeySummary]:
    n = index.snapshot.n
    if len(rows) == 0:
        return []
    key0 = index.columns["key0"].data[:n][rows]
    key1 = index.columns["key1"].data[:n][rows]
    keys = [key0, key1[key1 != 0]]
    owners = [rows, rows[key1 != 0]]
    if index.extra_keys:
        wanted = set(rows.tolist()) if len(index.extra_keys) < len(rows) else None
        listed_keys: list[int] = []
        listed_rows: list[int] = []
        for row, extra in index.extra_keys.items():
            if row < n and (wanted is None or row in wanted):
                listed_keys.extend(extra)
                listed_rows.extend([row] * len(extra))
        extra_keys = np.array(listed_keys, dtype=np.uint32)
        extra_rows = np.array(listed_rows, dtype=np.int64)
        if wanted is None and listed_rows:  # keep only rows in the selection
            selected = np.zeros(n, bool)
            selected[rows] = True
            keep = selected[extra_rows]
            extra_keys, extra_rows = extra_keys[keep], extra_rows[keep]
        keys.append(extra_keys)
        owners.append(extra_rows)
    key = np.concatenate(keys)
    owner = np.concatenate(owners)
    present = key != 0
    key, owner = key[present], owner[present]
    if len(key) == 0:
        return []
    order = np.argsort(key, kind="stable")
    key, owner = key[order], owner[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    codes = key[starts]
    events = np.diff(np.r_[starts, len(key)])
    errcode = index.columns["errcode"].data[owner] != 0
    errors = np.add.reduceat(errcode.astype(np.int64), starts)
    times = index.columns["time"].data[owner]
    valid = times != NO_TIME
    big = np.iinfo(np.int64).max
    first = np.minimum.reduceat(np.where(valid, times, big), starts)
    last = np.maximum.reduceat(np.where(valid, times, NO_TIME), starts)
    # (key, principal) pairs as one number each: in 32 bits when they fit (a sort of 600,000
    # of them takes 9 ms where 64-bit numbers took 23)
    width = len(index.vocab["principal"]) + 1
    wide = (int(codes[-1]) + 1) * width >= 1 << 32
    kind = np.int64 if wide else np.uint32
    principal = index.columns["principal"].data[owner].astype(kind)
    pairs = distinct(key.astype(kind) * kind(width) + principal)
    callers = np.bincount(np.searchsorted(codes, pairs // kind(width)), minlength=len(codes))

    names = key_aliases(index)
    states = key_states(index)
    values = index.vocab["key"].values
    summaries = []
    for i, code in enumerate(codes.tolist()):
        current, former = names.get(code, NO_ALIASES)
        summaries.append(
            KeySummary(
                code=code,
                arn=values[code],
                aliases=current,
                former_aliases=former,
                events=int(events[i]),
                errors=int(errors[i]),
                principals=int(callers[i]),
                first_seen=int(first[i]) if first[i] != big else NO_TIME,
                last_seen=int(last[i]),
                state=states.get(code),
            )
        )
    summaries.sort(key=lambda s: (-s.events, -s.last_seen, s.arn))
    return summaries
