"""The filter as SQL: Athena (Trino) over the table AWS documents for CloudTrail logs, or CloudTrail Lake.

The table (``CREATE EXTERNAL TABLE ... PARTITIONED BY (timestamp string)`` with partition
projection; the organization-trail variant adds ``account`` and ``region`` partitions) keeps
the record's fields as columns, ``useridentity`` and ``resources`` as structs, and
``requestparameters``, ``responseelements`` and ``serviceeventdetails`` as JSON text.

:func:`generate` prunes the partitions to the window (the ``timestamp`` folder of a day holds
records up to about 15 minutes older than that day: one day of padding each side, then the
event time exactly), keeps KMS events and CloudTrail's trail-configuration events, selects
only the columns kmstui reads (:data:`COLUMNS`, which also turn a result row back into a
record), and pushes down every term the field registry knows how to write
(:mod:`kmstui.core.sqlterms`). Terms with no SQL equivalent, and terms SQL only narrows,
are named in :attr:`Query.note`: kmstui's own filter decides them after loading.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import msgspec

from . import sqlterms
from .decode import TRAIL_EVENTS
from .fields import ANY_VALUE, FIELDS, split_path
from .query import All, Either, Filter, Node, Not, Term
from .sqlterms import Dialect, Pushed, literal
from .timeutil import moment, parse_iso, parse_span

KMS_SOURCE = "kms.amazonaws.com"
CLOUDTRAIL_SOURCE = "cloudtrail.amazonaws.com"
PRICE_PER_TB = 5.0  # Athena's public price per TB scanned (US regions), in dollars
PARTITION_FORMAT = "%Y/%m/%d"  # projection.timestamp.format of the documented table
_REGION_NAME = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")


@dataclass(frozen=True)
class Column:
    """One selected column: its name in the result, the expression, and where it goes in the record."""

    name: str
    expression: str
    path: tuple[str, ...]  # the record's field (userIdentity.arn: ("userIdentity", "arn"))
    kind: str = "text"  # text, json (parsed back into an object), boolean


COLUMNS: tuple[Column, ...] = (
    Column("eventversion", "eventversion", ("eventVersion",)),
    Column("ui_type", "useridentity.type", ("userIdentity", "type")),
    Column("ui_principalid", "useridentity.principalid", ("userIdentity", "principalId")),
    Column("ui_arn", "useridentity.arn", ("userIdentity", "arn")),
    Column("ui_accountid", "useridentity.accountid", ("userIdentity", "accountId")),
    Column("ui_invokedby", "useridentity.invokedby", ("userIdentity", "invokedBy")),
    Column("ui_username", "useridentity.username", ("userIdentity", "userName")),
    Column("eventtime", "eventtime", ("eventTime",)),
    Column("eventsource", "eventsource", ("eventSource",)),
    Column("eventname", "eventname", ("eventName",)),
    Column("awsregion", "awsregion", ("awsRegion",)),
    Column("sourceipaddress", "sourceipaddress", ("sourceIPAddress",)),
    Column("useragent", "useragent", ("userAgent",)),
    Column("errorcode", "errorcode", ("errorCode",)),
    Column("errormessage", "errormessage", ("errorMessage",)),
    Column("requestparameters", "requestparameters", ("requestParameters",), "json"),
    Column("responseelements", "responseelements", ("responseElements",), "json"),
    Column("serviceeventdetails", "serviceeventdetails", ("serviceEventDetails",), "json"),
    Column("eventid", "eventid", ("eventID",)),
    Column("readonly", "readonly", ("readOnly",), "boolean"),
    Column("resources", "json_format(CAST(resources AS JSON))", ("resources",), "resources"),
    Column("eventtype", "eventtype", ("eventType",)),
    Column("recipientaccountid", "recipientaccountid", ("recipientAccountId",)),
    Column("eventcategory", "eventcategory", ("eventCategory",)),
    Column("sharedeventid", "sharedeventid", ("sharedEventID",)),
)


@dataclass(frozen=True)
class Table:
    """The table queried: its name, and whether it is the organization-trail variant (account
    and region partitions besides the timestamp)."""

    name: str = "cloudtrail_logs_pp"
    organization: bool = False
    accounts: tuple[str, ...] = ()  # only these accounts' events (the organization table prunes its partition)


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime


@dataclass
class Query:
    sql: str
    exact: bool  # the query returns exactly the events the filter keeps in the window
    after: list[str] = field(default_factory=list)  # terms with no SQL equivalent
    narrowed: list[str] = field(default_factory=list)  # terms SQL narrows, kmstui decides

    @property
    def note(self) -> str:
        """One sentence on what kmstui's own filter does after loading ("" when nothing)."""
        parts = []
        if self.after:
            parts.append(f"No SQL equivalent for {_listed(self.after)}")
        if self.narrowed:
            parts.append(f"SQL only narrows {_listed(self.narrowed)}")
        if not parts:
            return ""
        return "; ".join(parts) + ": kmstui's own filter decides after loading."


def _listed(terms: list[str]) -> str:
    return ", ".join(dict.fromkeys(terms))


def window(since: str | None, until: str | None, now: datetime | None = None) -> Window:
    """``--since``/``--until`` (a span back from now, or a time); one day back by default.
    ValueError with a sentence when they do not make a window."""
    now = now or datetime.now(UTC)
    end = moment(until, now, "--until") if until else now
    start = moment(since, now, "--since") if since else end - timedelta(days=1)
    if start >= end:
        raise ValueError("The time range is empty: --since must come before --until.")
    return Window(start, end)


def generate(compiled: Filter, span: Window, table: Table | None = None, dialect: str = "athena") -> Query:
    """The SQL for a filter over a window (see the module's docstring)."""
    table = table or Table()
    chosen = sqlterms.DIALECTS[dialect]
    query = Query("", exact=True)
    pushed = None if compiled.root is None else _node(compiled.root, chosen, query)
    if compiled.root is not None and (pushed is None or not pushed.exact):
        query.exact = False
    start, end = _narrowed_window(compiled, span)
    where = []
    if not chosen.lake:
        first = (start - timedelta(days=1)).strftime(PARTITION_FORMAT)
        last = (end + timedelta(days=1)).strftime(PARTITION_FORMAT)
        where.append(f'"timestamp" BETWEEN {literal(first)} AND {literal(last)}')
        if table.organization:
            where.extend(_region_partitions(compiled))
            if table.accounts:
                where.append(f"account IN ({', '.join(literal(a) for a in table.accounts)})")
    names = ", ".join(literal(name) for name in sorted(TRAIL_EVENTS))
    where.append(
        f"(eventsource = {literal(KMS_SOURCE)}"
        f" OR (eventsource = {literal(CLOUDTRAIL_SOURCE)} AND eventname IN ({names})))"
    )
    if table.accounts:
        where.append(f"recipientaccountid IN ({', '.join(literal(a) for a in table.accounts)})")
    where.append(chosen.time_at_least(_iso(start)))
    where.append(chosen.time_at_most(_iso(end)))
    if pushed is not None:
        where.append(pushed.sql)
    columns = ",\n  ".join(_select(column, chosen) for column in COLUMNS)
    conditions = "\n  AND ".join(where)
    query.sql = f"SELECT\n  {columns}\nFROM {_table_name(table.name)}\nWHERE {conditions}"
    return query


def _select(column: Column, dialect: Dialect) -> str:
    expression = column.expression
    if dialect.lake and column.kind == "json":
        expression = dialect.json_text(expression)
    if dialect.lake and column.name == "eventtime":
        expression = "date_format(eventtime, '%Y-%m-%dT%H:%i:%sZ')"
    return expression if expression == column.name else f"{expression} AS {column.name}"


def _table_name(name: str) -> str:
    """A table as written (db.table, or a Lake event data store id), each part quoted when it must be."""
    parts = name.split(".")
    return ".".join(p if p.replace("_", "").replace("-", "").isalnum() and "-" not in p else _quoted(p) for p in parts)


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _narrowed_window(compiled: Filter, span: Window) -> tuple[datetime, datetime]:
    """The window, narrowed by the filter's own top-level ISO since:/until: terms (partitions
    are pruned to the narrower one)."""
    start, end = span.start, span.end
    for term in compiled.terms:
        if term.negate or term.field not in ("since", "until") or parse_span(term.values[0]) is not None:
            continue
        moment = parse_iso(sqlterms.iso_of(term.values[0], end_of_day=term.field == "until"))
        if moment is None:
            continue
        if term.field == "since":
            start = max(start, moment)
        else:
            end = min(end, moment)
    return start, max(start, end)


def _region_partitions(compiled: Filter) -> list[str]:
    """The organization table's region partition, from the filter's top-level region: terms."""
    out = []
    for term in compiled.terms:
        if term.negate or term.field != "region" or not all(set(v.lower()) <= _REGION_NAME for v in term.values):
            continue
        if term.op == ":=":
            out.append(f"region IN ({', '.join(literal(v.lower()) for v in term.values)})")
        else:
            out.append(sqlterms.any_of([f"region LIKE {literal('%' + v.lower() + '%')}" for v in term.values]))
    return out


# ---------------------------------------------------------------------------
# The filter's tree


def _node(node: Node, dialect: Dialect, query: Query) -> Pushed | None:
    """The node's predicate; None when it cannot narrow at all (true for every record)."""
    if isinstance(node, Term):
        return _term(node, dialect, query)
    if isinstance(node, Not):
        inner = _node(node.node, dialect, query)
        if inner is None or not inner.exact:  # NOT of a superset is not a superset
            return None
        return Pushed(f"NOT ({inner.sql})", exact=True)
    parts = [_node(child, dialect, query) for child in node.nodes]
    if isinstance(node, All):
        kept = [p for p in parts if p is not None]
        if not kept:
            return None
        return Pushed(
            sqlterms.all_of([p.sql for p in kept]), exact=len(kept) == len(parts) and all(p.exact for p in kept)
        )
    assert isinstance(node, Either)
    if any(p is None for p in parts):
        return None
    return Pushed(sqlterms.any_of([p.sql for p in parts if p]), exact=all(p.exact for p in parts if p))


def _term(term: Term, dialect: Dialect, query: Query) -> Pushed | None:
    rule = _rule(term)
    shown = term.text
    if rule is None:
        query.after.append(shown)
        return None
    known = FIELDS.get(term.field or "")
    op = "=" if known is not None and known.kind == "number" and term.op in (":", ":=") else term.op
    if op == ":" and "*" in term.values and term.field in ANY_VALUE:  # any value: decided after loading
        query.after.append(shown)
        return None
    parts = [rule(dialect, value, op) for value in term.values]
    if any(p is None for p in parts):
        query.after.append(shown)
        return None
    pushed = [p for p in parts if p is not None]
    exact = all(p.exact for p in pushed)
    if not exact:
        query.narrowed.append(shown)
    return Pushed(sqlterms.any_of([p.sql for p in pushed]), exact)


def _rule(term: Term) -> sqlterms.Rule | None:
    if term.field is None:
        return None  # a word searches kmstui's own views (keys by alias, principals' short forms)
    known = FIELDS.get(term.field)
    if known is not None:
        return known.sql
    located = split_path(term.field)
    return sqlterms.path_rule(located) if located is not None else None


def cost(scanned_bytes: int) -> float:
    """What a query that scanned this much costs, in dollars: the public price per TB (2**40
    bytes), each query billed for at least 10 MB, rounded up to the megabyte."""
    megabytes = max(10, -(-scanned_bytes // 2**20))
    return megabytes / 2**20 * PRICE_PER_TB


# ---------------------------------------------------------------------------
# Result rows back into records


_RESOURCE_NAMES = {"arn": "ARN", "accountid": "accountId", "type": "type"}


class RowError(ValueError):
    """A result row that cannot be a record (one sentence)."""


def record_of(row: Mapping[str, str | None]) -> dict:
    """The CloudTrail record a result row holds, as the loaders read it: the documented table
    keeps the parameters as JSON text, ``readonly`` as text, ``resources`` as an array of
    structs (selected as JSON). An empty cell is a field the record did not have (Athena's CSV
    writes NULL as an empty cell). RowError when a JSON cell is not JSON."""
    names = list(row)
    return RowReader(names).record([row[name] for name in names])


_TEXT, _JSON, _RESOURCES, _BOOLEAN = range(4)
_KINDS = {"text": _TEXT, "json": _JSON, "resources": _RESOURCES, "boolean": _BOOLEAN}
_BOOLEANS = {"true": True, "false": False}


class RowReader:
    """Result rows of one header into records (:func:`record_of`), the header read once: the
    loader turns millions of rows."""

    def __init__(self, header: list[str]):
        by_name = {column.name: column for column in COLUMNS}
        self.plan = [
            (at, by_name[name].path, _KINDS[by_name[name].kind], name)
            for at, name in enumerate(header)
            if name in by_name
        ]

    def record(self, cells: Sequence[str | None]) -> dict:
        record: dict = {}
        count = len(cells)
        for at, path, kind, name in self.plan:
            value = cells[at] if at < count else None
            if not value:
                continue
            parsed: object = value
            if kind == _JSON or kind == _RESOURCES:
                try:  # msgspec, as the loaders: integers past 64 bits stay exact
                    parsed = msgspec.json.decode(value)
                except (msgspec.DecodeError, RecursionError):
                    raise RowError(f"its {name} is not JSON") from None
                if kind == _RESOURCES:
                    parsed = _resources(parsed)
            elif kind == _BOOLEAN:
                parsed = _BOOLEANS.get(value.lower(), value)
            place = record
            for part in path[:-1]:  # userIdentity's fields
                place = place.setdefault(part, {})
            place[path[-1]] = parsed
        return record


def _resources(parsed: object) -> list[dict]:
    if not isinstance(parsed, list):
        raise RowError("its resources are not a list")
    return [
        {_RESOURCE_NAMES.get(k, k): v for k, v in item.items() if v is not None}
        for item in parsed
        if isinstance(item, dict)
    ]
