"""The filter's fields, each defined once: its name, help, example, kind, and how it is evaluated.

The parser (:mod:`kmstui.core.query`) looks names up here; its "did you mean" suggestions,
``--help``, the ``?`` help screen's table, the README's table and the status line all come
from :data:`FIELDS`. An evaluator turns one value into a boolean mask over the events,
through the distinct values of a column (a lookup table) wherever there is one.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal, cast

import msgspec
import numpy as np

from . import model, sqlterms
from .actiontrail import CLOUDS
from .arena import DistinctTexts, IdentityVocabulary
from .index import EventIndex, Snapshot
from .timeutil import NO_TIME, parse_iso, parse_span
from .vocab import Vocabulary

Kind = Literal["text", "number", "time", "boolean"]
COMPARISONS = ("<=", ">=", "<", ">")


@dataclass(frozen=True)
class Needle:
    """One value of a term, with how it is compared: ``op`` is ``:`` (contains), ``:=``
    (equals, whole value, any case) or a numeric comparison."""

    text: str
    op: str = ":"

    @property
    def exact(self) -> bool:
        return self.op == ":="

    @property
    def lower(self) -> str:
        return self.text.lower()

    def hit(self, text: str | None) -> bool:
        """Whether a text matches: contains the value, or equals it (any case)."""
        if text is None:
            return False
        return text.lower() == self.lower if self.exact else self.lower in text.lower()


Evaluator = Callable[[EventIndex, Snapshot, Needle], np.ndarray]


@dataclass(frozen=True)
class Field:
    name: str
    kind: Kind
    help: str  # what it matches, for the help table and --help
    example: str  # a value, as in name:example
    evaluate: Evaluator
    aliases: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()  # a thin alias of record paths (requestParameters.x): any of them
    sql: sqlterms.Rule | None = None  # how it becomes SQL (kmstui sql, --athena); None: applied after loading


# ---------------------------------------------------------------------------
# Building blocks: lookup tables over distinct values


def column(index: EventIndex, name: str, n: int) -> np.ndarray:
    return index.columns[name].data[:n]


def vocab_table(vocab: Vocabulary, needle: Needle) -> np.ndarray:
    """True for the codes whose text matches (code 0, "none", never does)."""
    if not needle.exact:
        return vocab.matching(needle.text)
    want = needle.lower
    texts = vocab.search_texts()
    table = np.zeros(len(texts), dtype=bool)
    hits = [i for i, text in enumerate(texts) if text == want]
    if hits:
        table[hits] = True
    table[0] = False
    return table


def _lut(index: EventIndex, snapshot: Snapshot, name: str, needle: Needle) -> np.ndarray:
    return vocab_table(index.vocab[name], needle)[column(index, name, snapshot.n)]


def _simple(name: str) -> Evaluator:
    def evaluate(index: EventIndex, snapshot: Snapshot, needle: Needle) -> np.ndarray:
        return _lut(index, snapshot, name, needle)

    return evaluate


def key_table(index: EventIndex, needle: Needle) -> np.ndarray:
    """Keys whose ARN (or id, for an exact match), or one of whose aliases, matches."""
    keys = index.vocab["key"]
    if needle.exact:
        table = keys.matching_where(lambda arn: needle.hit(cast(str, arn)) or needle.hit(model.key_id(cast(str, arn))))
    else:
        table = keys.matching(needle.text)
    aliases = alias_table(index, needle)
    if aliases.any():
        for key, entries in index.aliases_by_key().items():
            if any(aliases[entry.alias] for entry in entries):
                table[key] = True
    return table


def alias_table(index: EventIndex, needle: Needle) -> np.ndarray:
    vocab = index.vocab["alias"]
    if needle.exact:
        return vocab.matching_where(
            lambda arn: needle.hit(cast(str, arn)) or needle.hit(model.alias_name(cast(str, arn)))
        )
    return vocab.matching(needle.text)


def keys_mask(index: EventIndex, table: np.ndarray, n: int) -> np.ndarray:
    mask = table[column(index, "key0", n)] | table[column(index, "key1", n)]
    for row, extra in index.extra_keys.items():
        if row < n and any(table[k] for k in extra):
            mask[row] = True
    return mask


def _key(index: EventIndex, snapshot: Snapshot, needle: Needle) -> np.ndarray:
    return keys_mask(index, key_table(index, needle), snapshot.n)


def _alias(index: EventIndex, snapshot: Snapshot, needle: Needle) -> np.ndarray:
    n = snapshot.n
    aliases = alias_table(index, needle)
    table = np.zeros(len(index.vocab["key"]), bool)
    for key, entries in index.aliases_by_key().items():
        if any(aliases[entry.alias] for entry in entries):
            table[key] = True
    return aliases[column(index, "alias", n)] | keys_mask(index, table, n)


# an AWS role name has no spaces or parentheses: ActionTrail's short form, shown as
# assumed-role/Name (session), is not an ARN to rewrite
principal_needle = sqlterms.principal_needle  # the rewrite the SQL a filter becomes makes too


def _identity_of(value: object) -> model.Identity:
    return cast(model.Identity, value)


def _principal(index: EventIndex, snapshot: Snapshot, needle: Needle) -> np.ndarray:
    needle = Needle(principal_needle(needle.text), needle.op)
    vocab = index.vocab["principal"]
    if needle.exact and isinstance(vocab, IdentityVocabulary):
        table = vocab.matching_exactly(needle.text)  # in the arena, not an Identity built per principal
    elif needle.exact:
        table = vocab.matching_where(lambda p: needle.hit(_identity_of(p).short) or needle.hit(_identity_of(p).arn))
    else:
        table = vocab.matching(needle.text)
    return table[column(index, "principal", snapshot.n)]


_PARTS: weakref.WeakKeyDictionary[Vocabulary, dict[str, tuple[Any, np.ndarray]]] = weakref.WeakKeyDictionary()
_PARTS_LOCK = threading.Lock()  # a cancelled filtering thread may still be running beside a new one
_KIND_FIELDS = {"identity_type": 0, "account": 1}  # where a part is in the vocabulary's (type, account, ...) kinds


def principal_part(index: EventIndex, part: str) -> tuple[Vocabulary, np.ndarray]:
    """One part of every principal (``identity_type``, ``account``, ``short``) as its own small
    vocabulary, and the code of each principal's part in it: a filter on the part then looks
    at a few distinct values, not at every principal (there is one per session). Built once,
    extended as principals arrive, from the principal vocabulary's columns: its kinds (a few
    distinct) and its arena of short forms (by :class:`~kmstui.core.arena.DistinctTexts`,
    whose ``values`` build a text only when it is read), no Identity built per principal."""
    principals = index.vocab["principal"]
    if not isinstance(principals, IdentityVocabulary):
        return _principal_part_of_values(principals, part)
    with _PARTS_LOCK:
        cache = _PARTS.setdefault(principals, {})
        count = len(principals)
        if part == "short":
            shorts = cache.get(part)
            if shorts is None:
                distinct = DistinctTexts(principals.short_forms)
                shorts = cache[part] = (_TextParts(distinct), distinct.codes)
            parts, codes = shorts
            if len(codes) < count:
                codes = parts.distinct.catch_up(count)
                cache[part] = (parts, codes)
            return parts, codes
        parts, codes = cache.get(part, (Vocabulary(), np.zeros(0, np.uint32)))
        if len(codes) < count:
            kind_codes, kinds = principals.kinds(len(codes), count)
            at = _KIND_FIELDS[part]
            # the kinds in the order the new principals first have them, as a plain build would code them
            used, first = np.unique(kind_codes, return_index=True)
            table = np.zeros(len(kinds), np.uint32)
            for kind in used[np.argsort(first)].tolist():
                value = kinds[kind]
                table[kind] = parts.code(value[at] if value is not None else None)
            codes = np.concatenate([codes, table[kind_codes]])
            cache[part] = (parts, codes)
        return parts, codes


class _TextParts(Vocabulary[str]):
    """The short forms' vocabulary: ``values`` are the distinct texts, read from the arena."""

    def __init__(self, distinct: DistinctTexts):
        super().__init__()
        self.distinct = distinct
        self.values = distinct  # type: ignore[assignment]

    def __len__(self) -> int:
        return len(self.distinct)


def _principal_part_of_values(principals: Vocabulary, part: str) -> tuple[Vocabulary, np.ndarray]:
    """principal_part of a plain vocabulary of Identity values, one by one."""
    with _PARTS_LOCK:
        cache = _PARTS.setdefault(principals, {})
        parts, codes = cache.get(part, (Vocabulary(), np.zeros(0, np.uint32)))
        values = principals.values
        if len(codes) < len(values):
            more = [parts.code(getattr(v, part) if v is not None else None) for v in values[len(codes) : len(values)]]
            codes = np.concatenate([codes, np.array(more, dtype=np.uint32)])
            cache[part] = (parts, codes)
        return parts, codes


def _by_principal_part(index: EventIndex, snapshot: Snapshot, part: str, needle: Needle) -> np.ndarray:
    parts, codes = principal_part(index, part)
    return vocab_table(parts, needle)[codes][column(index, "principal", snapshot.n)]


def _identity(index: EventIndex, snapshot: Snapshot, needle: Needle) -> np.ndarray:
    return _by_principal_part(index, snapshot, "identity_type", needle)


def _account(index: EventIndex, snapshot: Snapshot, needle: Needle) -> np.ndarray:
    """The account that owns the event, or the caller's account."""
    return _lut(index, snapshot, "account", needle) | _by_principal_part(index, snapshot, "account", needle)


def _error(index: EventIndex, snapshot: Snapshot, needle: Needle) -> np.ndarray:
    if needle.text == "*":
        return column(index, "errcode", snapshot.n) != 0
    return _lut(index, snapshot, "errcode", needle) | _lut(index, snapshot, "errmsg", needle)


def event_ids(index: EventIndex, snapshot: Snapshot, needle: Needle) -> np.ndarray:
    return index.event_ids.matching(needle.text, needle.exact, snapshot.n)


def _origin(index: EventIndex, snapshot: Snapshot, needle: Needle) -> np.ndarray:
    if not index.origins:
        return np.zeros(snapshot.n, bool)
    table = np.array([needle.hit(o.label) for o in index.origins], dtype=bool)
    return table[column(index, "origin", snapshot.n)]


def _trail(index: EventIndex, snapshot: Snapshot, needle: Needle) -> np.ndarray:
    from .trails import summarise_trails

    rows = [t for t in summarise_trails(index) if needle.hit(t.label) or needle.hit(t.arn) or needle.hit(t.location)]
    return trail_mask(index, snapshot.n, rows)


def trail_mask(index: EventIndex, n: int, trails: list) -> np.ndarray:
    """Events delivered by, or about, any of the given trail summaries."""
    origins: set[int] = set()
    codes: set[int] = set()
    for trail in trails:
        origins |= trail.origins
        codes |= trail.trail_codes
    origin_table = np.zeros(max(len(index.origins), 1), bool)
    origin_table[list(origins)] = True
    trail_table = np.zeros(max(len(index.vocab["trail"]), 1), bool)
    trail_table[list(codes)] = True
    trail_table[0] = False
    return origin_table[column(index, "origin", n)] | trail_table[column(index, "trail", n)]


TRUE = ("true", "yes")
BOOLEANS = (*TRUE, "false", "no")


def _cloud(index: EventIndex, snapshot: Snapshot, needle: Needle) -> np.ndarray:
    table = np.array([needle.hit(name) for name in CLOUDS], dtype=bool)
    return table[column(index, "cloud", snapshot.n)]


def _readonly(index: EventIndex, snapshot: Snapshot, needle: Needle) -> np.ndarray:
    wanted = 1 if needle.lower in TRUE else 0
    return column(index, "readonly", snapshot.n) == wanted


def context_table(index: EventIndex, needle: Needle) -> np.ndarray:
    """Context codes with a pair matching ``KEY=VALUE`` (split at the first ``=``), or with a key
    or a value matching the text alone."""
    contexts = index.contexts
    key, equals, rest = needle.text.partition("=")
    if not needle.exact:
        return contexts.matching(key, rest) if equals else contexts.matching_any(needle.text)
    offsets, _labels, pair_key, pair_value = contexts.arrays()
    count = len(offsets) - 1
    table = np.zeros(count, dtype=bool)
    if len(pair_key) == 0:
        return table
    values = contexts.search_values()

    def exactly(text: str) -> np.ndarray:
        return values.equal(text.lower())

    keys = vocab_table(contexts.keys, Needle(key, ":="))
    if equals:
        hit = keys[pair_key] & exactly(rest)[pair_value]
    else:
        hit = keys[pair_key] | exactly(needle.text)[pair_value]
    counts = np.add.reduceat(hit.astype(np.int32), offsets[1:-1]) if count > 1 else np.zeros(0, np.int32)
    table[1:] = (counts > 0) & (np.diff(offsets)[1:] > 0)
    return table


def _context(index: EventIndex, snapshot: Snapshot, needle: Needle) -> np.ndarray:
    return context_table(index, needle)[column(index, "ctx", snapshot.n)]


def moment(value: str, snapshot: Snapshot, end_of_day: bool = False) -> int:
    span = parse_span(value)
    if span is not None:
        return (snapshot.newest if snapshot.newest != NO_TIME else 0) - span
    parsed = parse_iso(value)
    assert parsed is not None  # the parser checked it
    seconds = int(parsed.timestamp())
    if end_of_day and len(value.strip()) == 10:  # until:2026-11-20 includes that day
        seconds += 86399
    return seconds


def _since(index: EventIndex, snapshot: Snapshot, needle: Needle) -> np.ndarray:
    time = column(index, "time", snapshot.n)
    return (time >= moment(needle.text, snapshot)) & (time != NO_TIME)


def _until(index: EventIndex, snapshot: Snapshot, needle: Needle) -> np.ndarray:
    time = column(index, "time", snapshot.n)
    return (time <= moment(needle.text, snapshot, end_of_day=True)) & (time != NO_TIME)


def any_text(index: EventIndex, snapshot: Snapshot, needle: Needle) -> np.ndarray:
    """A bare word: the searchable text of an event (every text field above but the paths)."""
    mask = _lut(index, snapshot, "name", needle)
    mask |= _principal(index, snapshot, needle)
    for name in ("ip", "agent", "errcode", "errmsg", "region"):
        mask |= _lut(index, snapshot, name, needle)
    mask |= _account(index, snapshot, needle)
    mask |= _key(index, snapshot, needle)
    mask |= alias_table(index, needle)[column(index, "alias", snapshot.n)]
    mask |= _context(index, snapshot, needle)
    mask |= event_ids(index, snapshot, needle)
    return mask


# ---------------------------------------------------------------------------
# Record paths: requestParameters.x.y, responseElements.x (req. and resp. for short)

PATH_ROOTS = {"requestparameters": 0, "req": 0, "responseelements": 1, "resp": 1}
ROOT_NAMES = ("requestParameters", "responseElements")
_NOTHING = object()


def split_path(name: str) -> tuple[int, tuple[str, ...]] | None:
    """(0 for the request or 1 for the response, the names below it), or None when ``name``
    is not a record path. Names below the root keep their case (JSON is case-sensitive)."""
    root, dot, rest = name.partition(".")
    part = PATH_ROOTS.get(root.lower())
    if part is None or not dot or not rest:
        return None
    names = tuple(rest.split("."))
    return None if "" in names else (part, names)


def canonical_path(name: str) -> str:
    parsed = split_path(name)
    assert parsed is not None
    part, names = parsed
    return ".".join((ROOT_NAMES[part], *names))


def _leaves(value: object, names: tuple[str, ...]) -> Iterator[object]:
    """Every value at the path; a list on the way is looked into, element by element."""
    if isinstance(value, list):
        for item in value:
            yield from _leaves(item, names)
        return
    if not names:
        yield value
        return
    if isinstance(value, dict):
        found = value.get(names[0], _NOTHING)
        if found is not _NOTHING:
            yield from _leaves(found, names[1:])


def as_number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _leaf_matches(leaf: object, needle: Needle) -> bool:
    if leaf is None:
        return False
    if needle.op in COMPARISONS or needle.op == "=":
        wanted = as_number(needle.text)
        if isinstance(leaf, bool) or wanted is None:
            return False
        number = leaf if isinstance(leaf, (int, float)) else as_number(leaf) if isinstance(leaf, str) else None
        if number is None:
            return False
        return {
            "<": number < wanted,
            "<=": number <= wanted,
            ">": number > wanted,
            ">=": number >= wanted,
            "=": number == wanted,
        }[needle.op]
    if isinstance(leaf, bool):
        return needle.lower in (TRUE if leaf else ("false", "no"))
    if isinstance(leaf, (int, float)):
        wanted = as_number(needle.text)
        return wanted == leaf if wanted is not None else needle.hit(str(leaf))
    if isinstance(leaf, list):
        return any(_leaf_matches(item, needle) for item in leaf)
    if isinstance(leaf, dict):
        return needle.hit(msgspec.json.encode(leaf).decode())
    return needle.hit(str(leaf))


def path_mask(index: EventIndex, snapshot: Snapshot, path: str, needle: Needle | None) -> np.ndarray:
    """Events whose record has a value at ``path`` matching ``needle`` (any value, for None).
    Read from the index's store of request and response parameters (see
    :class:`~kmstui.core.index.EventIndex`): calls that change something and CloudTrail's
    configuration events; a read-only call has no values here."""
    parsed = split_path(path)
    assert parsed is not None
    part, names = parsed
    n = snapshot.n
    mask = np.zeros(n, bool)
    hits = []
    decode = msgspec.json.decode
    # Most stored records do not hold the path's last name at all: a byte search says so before
    # decoding (unless the record spells some name with an escape, which it must then decode).
    name = msgspec.json.encode(names[-1])
    for row, raw in index.parameter_items(n):
        if name not in raw and b"\\u" not in raw:
            continue
        try:
            whole = decode(raw)
        except msgspec.DecodeError:
            continue
        leaves = _leaves(whole[part], names)
        if needle is None:
            if any(leaf is not None for leaf in leaves):
                hits.append(row)
        elif any(_leaf_matches(leaf, needle) for leaf in leaves):
            hits.append(row)
    if hits:
        mask[hits] = True
    return mask


def _account_of(principal: object) -> str | None:
    """The account of a principal as a grant names it: an ARN, ``ACCOUNT:...``, or an account id."""
    if not isinstance(principal, str):
        return None
    if principal.startswith("arn:"):
        return model.arn_account(principal)
    head = principal.split(":", 1)[0]
    return head if len(head) == 12 and head.isdigit() else None


def _crossgrant(index: EventIndex, snapshot: Snapshot, needle: Needle) -> np.ndarray:
    """Grants (CreateGrant) to a principal whose account is not the key's: the key's from the
    request's key ARN, else from the key the event names, else the account that owns the event."""
    n = snapshot.n
    hits = []
    keys, accounts = index.vocab["key"].values, index.vocab["account"].values
    key0, account = column(index, "key0", n), column(index, "account", n)
    for row, raw in index.parameter_items(n):
        try:
            request = msgspec.json.decode(raw)[0]
        except (msgspec.DecodeError, IndexError):
            continue
        if not isinstance(request, dict):
            continue
        grantee = _account_of(request.get("granteePrincipal"))
        if grantee is None:
            continue
        key_id = request.get("keyId")
        owner = _account_of(key_id) if isinstance(key_id, str) and key_id.startswith("arn:") else None
        if owner is None and key0[row]:
            owner = model.arn_account(keys[key0[row]])
        if owner is None:
            owner = accounts[account[row]]
        if owner is not None and grantee != owner:
            hits.append(row)
    mask = np.zeros(n, bool)
    if hits:
        mask[hits] = True
    return mask if needle.lower in TRUE else ~mask & path_mask(index, snapshot, "req.granteePrincipal", None)


def _has(index: EventIndex, snapshot: Snapshot, needle: Needle) -> np.ndarray:
    name = FIELDS.get(needle.lower)
    paths = name.paths if name is not None and name.paths else (needle.text,)
    return _any_path(index, snapshot, paths, None)


def _any_path(index: EventIndex, snapshot: Snapshot, paths: tuple[str, ...], needle: Needle | None) -> np.ndarray:
    mask = path_mask(index, snapshot, paths[0], needle)
    for path in paths[1:]:
        mask |= path_mask(index, snapshot, path, needle)
    return mask


def _crossaccount(index: EventIndex, snapshot: Snapshot, needle: Needle) -> np.ndarray:
    """Calls by a principal of another account than the one that owns the event (shown ⇄)."""
    parts, per_principal = principal_part(index, "account")
    owners = index.vocab["account"]
    as_owner = np.array([(owners.find(v) or 0) if v else 0 for v in parts.values], dtype=np.int64)
    principal = column(index, "principal", snapshot.n)
    caller = per_principal[principal]
    owner = column(index, "account", snapshot.n).astype(np.int64)
    cross = (caller != 0) & (owner != 0) & (as_owner[caller] != owner)
    return cross if needle.lower in TRUE else ~cross


def _new(index: EventIndex, snapshot: Snapshot, needle: Needle) -> np.ndarray:
    from .novelty import evaluate

    return evaluate(index, snapshot, needle.text)


def _path_alias(name: str, kind: Kind, help: str, example: str, *paths: str, alibaba: tuple[str, ...] = ()) -> Field:
    """A KMS question as a field: the first of ``paths`` that a record has answers it.
    ``alibaba``: the same question as ActionTrail spells it (``PendingWindowInDays``), asked of
    the loaded events but not in SQL: Athena and CloudTrail Lake hold CloudTrail's records."""
    every = paths + alibaba

    def evaluate(index: EventIndex, snapshot: Snapshot, needle: Needle) -> np.ndarray:
        return _any_path(index, snapshot, every, needle)

    located = [split_path(path) for path in paths]
    rule = sqlterms.path_rule(*(p for p in located if p is not None))
    return Field(name, kind, help, example, evaluate, paths=every, sql=rule)


def _has_column(name: str) -> AnyValue:
    def has(index: EventIndex, snapshot: Snapshot) -> np.ndarray:
        return column(index, name, snapshot.n) != 0

    return has


def _has_part(part: str) -> AnyValue:
    def has(index: EventIndex, snapshot: Snapshot) -> np.ndarray:
        _parts, codes = principal_part(index, part)
        return (codes != 0)[column(index, "principal", snapshot.n)]

    return has


def _has_key(index: EventIndex, snapshot: Snapshot) -> np.ndarray:
    return keys_mask(index, np.arange(len(index.vocab["key"])) != 0, snapshot.n)


def _has_account(index: EventIndex, snapshot: Snapshot) -> np.ndarray:
    return _has_column("account")(index, snapshot) | _has_part("account")(index, snapshot)


def _has_readonly(index: EventIndex, snapshot: Snapshot) -> np.ndarray:
    return column(index, "readonly", snapshot.n) >= 0


AnyValue = Callable[[EventIndex, Snapshot], np.ndarray]
# FIELD:* is "has a value" for the fields group-by counts (so -FIELD:* is its "none" row);
# error:* has always meant any error, in its own evaluator
ANY_VALUE: dict[str, AnyValue] = {
    "event": _has_column("name"),
    "principal": _has_part("short"),
    "key": _has_key,
    "ip": _has_column("ip"),
    "region": _has_column("region"),
    "account": _has_account,
    "owner": _has_column("account"),
    "identity": _has_part("identity_type"),
    "eventtype": _has_column("evtype"),
    "category": _has_column("evcat"),
    "agent": _has_column("agent"),
    "source": _has_column("evsource"),
    "readonly": _has_readonly,
    "ctx": _has_column("ctx"),
}


def _paths_of(value: str) -> tuple[tuple[int, tuple[str, ...]], ...] | None:
    """The record paths ``has:`` looks at in SQL: a path field's, or the path itself. Its SQL
    finds a name in any case, so paths that differ only in case (CloudTrail's and ActionTrail's
    spelling) are one."""
    known = FIELDS.get(value.lower())
    located = [split_path(p) for p in known.paths] if known is not None and known.paths else [split_path(value)]
    once: dict[tuple[int, tuple[str, ...]], tuple[int, tuple[str, ...]]] = {}
    for path in located:
        if path is not None:
            once.setdefault((path[0], tuple(name.lower() for name in path[1])), path)
    return tuple(once.values()) or None


# ---------------------------------------------------------------------------
# The registry

_ALL = (
    Field(
        "event",
        "text",
        "event name (Decrypt, ScheduleKeyDeletion...)",
        "Decrypt",
        _simple("name"),
        sql=sqlterms.column("eventname"),
    ),
    Field(
        "principal",
        "text",
        "who: user/Alice, role/Admin (session), root, service:..., or an ARN",
        "role/Admin",
        _principal,
        sql=sqlterms.principal,
    ),
    Field("key", "text", "key ARN or id, or one of the key's aliases", "1234abcd", _key),
    Field("alias", "text", "alias named by the event, or an alias of its key", "alias/payments", _alias),
    Field(
        "ip",
        "text",
        "source IP address (or the AWS service that called)",
        "203.0.113.7",
        _simple("ip"),
        sql=sqlterms.column("sourceipaddress"),
    ),
    Field("cloud", "text", "aws (CloudTrail) or alibaba (ActionTrail)", "alibaba", _cloud, sql=sqlterms.cloud),
    Field(
        "region",
        "text",
        "region (AWS, or Alibaba Cloud's acsRegion)",
        "eu-west-1",
        _simple("region"),
        sql=sqlterms.column("awsregion"),
    ),
    Field(
        "account",
        "text",
        "account that owns the event, or the caller's account",
        "111122223333",
        _account,
        sql=sqlterms.column("recipientaccountid", "useridentity.accountid"),
    ),
    Field(
        "owner",
        "text",
        "account that owns the event only (CloudTrail's recipientAccountId): what group-by account counts",
        "111122223333",
        _simple("account"),
        sql=sqlterms.column("recipientaccountid"),
    ),
    Field("error", "text", "error code or message; `error:*` is any error", "AccessDenied", _error, sql=sqlterms.error),
    Field(
        "identity",
        "text",
        "identity type: IAMUser, AssumedRole, Root, AWSService...",
        "AssumedRole",
        _identity,
        aliases=("type",),
        sql=sqlterms.column("useridentity.type"),
    ),
    Field(
        "eventtype",
        "text",
        "the record's eventType: AwsApiCall, AwsServiceEvent, AwsVpceEvent...",
        "AwsServiceEvent",
        _simple("evtype"),
        sql=sqlterms.column("eventtype"),
    ),
    Field(
        "category",
        "text",
        "the record's eventCategory: Management, Data, NetworkActivity",
        "Management",
        _simple("evcat"),
        sql=sqlterms.column("eventcategory"),
    ),
    Field("agent", "text", "user agent", "aws-cli", _simple("agent"), sql=sqlterms.column("useragent")),
    Field("id", "text", "event id", "6f2a0c1e", event_ids, sql=sqlterms.column("eventid")),
    Field("trail", "text", "trail or source the event came from or is about", "acme-main", _trail),
    Field(
        "source",
        "text",
        "event source: kms.amazonaws.com, cloudtrail.amazonaws.com",
        "cloudtrail",
        _simple("evsource"),
        sql=sqlterms.column("eventsource"),
    ),
    Field("origin", "text", "file the event was loaded from", "2026/11/20", _origin),
    Field(
        "readonly",
        "boolean",
        "true: read-only calls; false: calls that change something",
        "false",
        _readonly,
        sql=sqlterms.readonly,
    ),
    Field(
        "ctx",
        "text",
        "encryption context: `KEY=VALUE` (split at the first `=`), `KEY` or `VALUE`",
        "aws:s3:arn=my-bucket",
        _context,
        sql=sqlterms.context,
    ),
    Field(
        "since",
        "time",
        "ISO time, or a span (15m, 2h, 7d) back from the newest event",
        "2h",
        _since,
        sql=sqlterms.since,
    ),
    Field(
        "until",
        "time",
        "ISO time, or a span back from the newest event",
        "2026-11-20T10:00Z",
        _until,
        sql=sqlterms.until,
    ),
    _path_alias(
        "grantee",
        "text",
        "CreateGrant: the principal given the grant",
        "role/Reader",
        "requestParameters.granteePrincipal",
    ),
    _path_alias(
        "retiring",
        "text",
        "CreateGrant: the principal that may retire it",
        "role/Admin",
        "requestParameters.retiringPrincipal",
    ),
    _path_alias(
        "operations",
        "text",
        "CreateGrant: an operation granted",
        "Decrypt",
        "requestParameters.operations",
    ),
    _path_alias(
        "keyspec",
        "text",
        "CreateKey: the key spec (or the older customerMasterKeySpec)",
        "RSA_4096",
        "requestParameters.keySpec",
        "requestParameters.customerMasterKeySpec",
    ),
    _path_alias(
        "keyusage",
        "text",
        "CreateKey: the key usage",
        "SIGN_VERIFY",
        "requestParameters.keyUsage",
    ),
    _path_alias(
        "window",
        "number",
        "ScheduleKeyDeletion: the waiting period in days, either cloud; `window<=7` compares",
        "7",
        "requestParameters.pendingWindowInDays",
        alibaba=("requestParameters.PendingWindowInDays",),  # sent as text ("7"): compared as a number
    ),
    _path_alias(
        "policyname",
        "text",
        "PutKeyPolicy: the policy name",
        "default",
        "requestParameters.policyName",
    ),
    Field(
        "crossgrant",
        "boolean",
        "CreateGrant to a principal of another account than the key's",
        "true",
        _crossgrant,
        sql=sqlterms.crossgrant,
    ),
    Field(
        "crossaccount",
        "boolean",
        "a principal of another account than the event's (marked ⇄)",
        "true",
        _crossaccount,
        sql=sqlterms.crossaccount,
    ),
    Field(
        "new",
        "text",
        "first use of its key by a principal, ip, agent, region or ctx key: since the filter's `since:`,"
        " else ever (`new:any`: any of them)",
        "principal",
        _new,
    ),
    Field(
        "has",
        "text",
        "a record path has a value (also `has:grantee`, and the other KMS fields)",
        "req.kmsKeyId",
        _has,
        sql=sqlterms.has(lambda value: _paths_of(value)),
    ),
)

FIELDS: dict[str, Field] = {}
for _field in _ALL:
    for _name in (_field.name, *_field.aliases):
        FIELDS[_name] = _field


def lookup(name: str) -> Field | None:
    return FIELDS.get(name.lower())


def unique() -> list[Field]:
    """Each field once, in the registry's order."""
    return list(dict.fromkeys(FIELDS.values()))


def markdown_table() -> str:
    """The field table of the ``?`` help screen and the README (a test keeps both in step)."""
    lines = ["| Field | Kind | Matches |", "|---|---|---|"]
    for field in unique():
        names = f"`{field.name}:{field.example}`"
        if field.aliases:
            names += " (also " + ", ".join(f"`{alias}:`" for alias in field.aliases) + ")"
        lines.append(f"| {names} | {field.kind} | {field.help.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


def help_text(width: int = 100) -> str:
    """The fields for ``--help``: one line each, name and help."""
    out = []
    for field in unique():
        names = "/".join((field.name, *field.aliases))
        out.append(f"  {names + ':':<23} {field.help.replace('`', '')}"[:width])
    return "\n".join(out) + "\n"


if __name__ == "__main__":  # python -m kmstui.core.fields: the table to paste into help.md and the README
    print(markdown_table(), end="")
