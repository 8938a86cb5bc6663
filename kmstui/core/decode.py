"""Normalising CloudTrail records into columns: the loader's hot path.

Each source becomes a :class:`Batch`: one numpy column per field, with strings
dictionary-encoded against the batch's own small vocabularies. The index re-codes
a batch against its global vocabularies when it merges it. Batches are plain data
so that worker processes can build them and pickle them back cheaply.

Two paths lead to the same columns. The main one: a delivered log file goes through
the C column scanner (``_scan.c``), which gives every KMS and CloudTrail record a code
per field into that field's distinct raw texts; each distinct text is then decoded once
(msgspec), and principals, keys, aliases and contexts are resolved once per distinct
combination, numpy spreading the answers over the rows. The general path, the reference
(and the only one where no C compiler built the scanner), decodes typed msgspec records,
a whole file in one call, then record by record where a field has an unexpected type,
then leniently: one odd record never costs its file. It interns its records into the
same columns, so the semantics exist once; ``tests/test_core_scan.py`` holds the two
paths equal value by value.
"""

from __future__ import annotations

import gc
import multiprocessing
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from itertools import compress, repeat
from operator import is_
from types import ModuleType
from typing import Any, NamedTuple

import msgspec
import numpy as np
import orjson

from .batch import (
    EVENT_ID_WIDTH,
    STRING_COLUMNS,
    VOCABS,
    Batch,
    ContextPart,
    LogFiles,
    SourceInfo,
    Texts,
    TrailChange,
    narrowed,
    packed_ids,
    within,
)
from .cloudtrail import (
    _FIELDS,
    _IDENTITY_COLUMNS,
    _IDENTITY_FIELDS,
    _NESTED,
    _READ_ONLY,
    _REFERENCE_FIELDS,
    _UNREADABLE,
    ALIAS_CHANGES,
    CLOUDTRAIL,
    KMS,
    TRAIL_EVENTS,
    _Codes,
    _interned,
    _one_by_one,
    _parameters,
    _Resource,
    _typed,
    _typed_columns,
    as_text,
    record_length,
)
from .contexts import NOT_PLAIN, ScannedContexts, _ContextBuilder
from .model import AliasBinding, LogFile
from .principals import PrincipalTable, _PrincipalCodes, assumed_role_arn
from .references import _PLACES, _alias_change, _key_arn, _note, _references, _trail_change
from .sources import SourceError, SourceFile, delivery_of, read_source, repair_surrogates, split_records
from .timeutil import parse_event_times
from .vocab import first_seen, gather

_scan: ModuleType | None
try:  # the C column scanner, built at install time when a compiler is at hand (hatch_build.py)
    from . import _scan
except ImportError:  # pragma: no cover - every file then takes the general path
    _scan = None
# a text column into a batch vocabulary's codes in one pass, where the scanner is built (else _recode)
_recode_texts = getattr(_scan, "recode", None)  # (None too from an extension built before it)
# rows grouped by the combination of their codes in several columns, in one pass (else numpy)
_group_rows = getattr(_scan, "group_rows", None)
# many texts encoded and joined in one pass (else arena.encoded)
_encoded_texts = getattr(_scan, "encoded_texts", None)
RECORDS_AT_ONCE = 1 << 16  # records of a source decoded together (typed records take ~500 bytes each)
WHOLE_FILE_BYTES = 64 << 20  # a delivered log file up to this size is decoded in one call
_NOT_OBJECTS = ("not a JSON object skipped", "not JSON objects skipped")  # said once, counted over chunks

# a delivered log file however it is laid out: compact as CloudTrail writes it, or re-serialised
# with spaces or indentation (the scanner and the typed decoder skip whitespace anywhere)
_DELIVERED = re.compile(rb'[ \t\r\n]*\{[ \t\r\n]*"Records"[ \t\r\n]*:[ \t\r\n]*\[')


def load_many(files: list[SourceFile]) -> Batch:
    """Load several sources into one batch (the worker-process entry point). Never raises
    for bad input: a source that cannot be read says why in its SourceInfo."""
    builder = _BatchBuilder()
    with collector_paused(frozen=multiprocessing.parent_process() is not None):
        for source in files:
            builder.add_file(source.path, source.label, source.growing)
        return builder.finish()


@contextmanager
def collector_paused(frozen: bool = False) -> Iterator[None]:
    """Pause the cyclic garbage collector while a batch is built or merged. A file adds
    thousands of small containers (principals, contexts, lists of values) and no cycles:
    the collector would walk them again and again (about 7% of a busy trail's decoding,
    and a tenth of the index's merging). Reference counting still frees everything.

    ``frozen``, for a worker process: what was made meanwhile is moved out of the collector's
    sight (gc.freeze) before it resumes, instead of being walked by the collection that the
    pause has made due (the whole batch, about 0.5 ms a file, to find nothing: a worker
    pickles its batch back and drops it, and decoding makes no cycles once its imports are
    done). Everything is still freed by reference counting."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            if frozen:
                gc.freeze()
            gc.enable()


def decode_records(
    records: list, source: str, path: str, first_ordinal: int = 0, appendable: bool = False, format: str = "records"
) -> Batch:
    """A Batch from raw records already in hand (LookupEvents pages, tests). ``first_ordinal``
    is the position of the first record in ``path``, where the detail view reads it again."""
    builder = _BatchBuilder()
    info = SourceInfo(source, path, None, format=format, appendable=appendable)
    builder.add_records(info, list(_one_by_one(records)), records, None, first_ordinal)
    return builder.finish()


class _Mark(NamedTuple):
    """How far a batch had got, to undo a file that failed part way (_BatchBuilder._rollback)."""

    rows: int
    chunks: dict[str, int]  # each column's count of chunks
    trail_changes: int
    log_files: int
    sources: int
    bindings: dict[AliasBinding, tuple[int, ...]]  # the alias bindings learned, each [first, last] seen


class _BatchBuilder:
    """Decodes files into one Batch, column by column.

    A file first becomes columns: for each field it reads, a code per kept record and
    the field's distinct values (the C scanner gives these for a delivered log file, in
    one pass over its text; records already decoded are interned in Python). Everything
    after works on distinct values, not on records: a value is decoded, resolved or
    looked up once however many records repeat it, and numpy spreads the answers over
    the rows. Only the rare events (alias changes, trail configuration) are read one by one.
    The scanned files of a batch wait for each other and are resolved together, as one file
    (_joined): what the resolution costs a call, not a value, is paid once a batch.
    """

    def __init__(self):
        self.batch = Batch()
        self.vocab = {name: _Codes() for name in VOCABS}
        self.principals = PrincipalTable()
        self.principal_codes = _PrincipalCodes(self.principals)
        self.contexts = _ContextBuilder()
        self.bindings: dict[AliasBinding, list[int]] = {}
        self.log_files: list[LogFile] = []  # the batch's, as LogFiles once it is finished
        # the keys and aliases of each combination of the fields that name them, as resolved
        # (the files of a batch repeat nearly all of them: 93% on both benchmark trails)
        self.references: dict[tuple, tuple[list[str], list[str]]] = {}
        self.chunks: dict[str, list[np.ndarray]] = {}
        self.rows = 0
        self.pending: list[_Selected] = []  # scanned files waiting to be added together (_add_pending)

    def add_file(self, path: str, label: str, appendable: bool = False) -> None:
        info = SourceInfo(label, path, delivery_of(label), appendable=appendable)
        scanned = typed = raws = None
        try:
            data = read_source(path, bounded=not appendable, repair=False)  # a cache of ours is as big as it is
            delivered = _DELIVERED.match(data) is not None
            data, scanned = _repaired_scan(data, delivered)
            # a whole file of typed records takes ~500 bytes a record: only for files of usual size
            whole = delivered and scanned is None and len(data) <= WHOLE_FILE_BYTES
            typed = _typed(data) if whole else None
            if scanned is not None or typed is not None:  # a delivered log file, the common case
                info.format = "cloudtrail"
            else:
                split = split_records(data)
                info.format = split.format
                info.problems.extend(split.problems)
                raws = split.records
                del split
                data = b""  # the records are copies: the file's text is not needed any more
        except SourceError as error:
            info.error = str(error)
            self._skip(info)
            return
        except MemoryError:
            info.error = "too large to load into memory"
            self._skip(info)
            return
        except Exception as error:  # a bug must cost one file, never the load
            info.error = f"could not be read ({type(error).__name__}: {error})"
            self._skip(info)
            return
        if scanned is not None:  # resolved with the batch's other scanned files (_add_pending)
            try:
                self.pending.append(_selected(info, scanned, data))
            except Exception as error:  # a bug must cost one file, never the load
                self._skip(_undecoded(info, error))
            return
        self._add_pending()
        mark = self._mark()
        try:
            if raws is not None and info.format.startswith("actiontrail"):
                from .actiontrail import add_records  # Alibaba Cloud ActionTrail: its own module

                add_records(self, info, raws)
            elif raws is not None:
                self._add_raw_records(info, raws)
            elif typed is not None:
                self.add_records(info, typed, raws, data)
        except Exception as error:  # a bug must cost one file, never the load
            self._rollback(mark)
            self.batch.sources.append(_undecoded(info, error))

    def _skip(self, info: SourceInfo) -> None:
        """A file that adds no events (``info`` says why), after the files before it."""
        self._add_pending()
        self.batch.sources.append(info)

    def _add_pending(self) -> None:
        """Add the scanned files waiting (all of the batch's, usually), joined: their columns
        are resolved together, once, instead of once a file (what a file costs whatever it
        holds: about 1 ms of numpy and Python calls). A join ends after a file whose contexts
        are not all read in the scanner's bulk pass (_Selected.ends_join)."""
        pending, self.pending = self.pending, []
        start = 0
        for at, one in enumerate(pending):
            if one.ends_join or at == len(pending) - 1:
                self._add_joined(pending[start : at + 1])
                start = at + 1

    def _add_joined(self, files: list[_Selected]) -> None:
        """Add scanned files joined. A file that fails costs only itself: the join is undone
        and each of its files added on its own."""
        mark = self._mark()
        try:
            self._add_selected(files)
        except Exception as error:  # a bug must cost one file, never the load
            self._rollback(mark)
            if len(files) == 1:
                self.batch.sources.append(_undecoded(files[0].info, error))
                return
            for one in files:  # which file it was: each on its own
                self._add_joined([one])

    def _add_raw_records(self, info: SourceInfo, raws: list) -> None:
        """Add a source's raw records a chunk at a time, so that only one chunk of them is
        ever decoded into typed records at once (two million tiny lines would otherwise
        take a gigabyte of them)."""
        for start in range(0, max(1, len(raws)), RECORDS_AT_ONCE):
            chunk = raws[start : start + RECORDS_AT_ONCE]
            self.add_records(info, list(_one_by_one(chunk)), chunk, None, start)

    def _mark(self) -> _Mark:
        batch = self.batch
        return _Mark(
            self.rows,
            {k: len(v) for k, v in self.chunks.items()},
            len(batch.trail_changes),
            len(self.log_files),
            len(batch.sources),
            {binding: tuple(span) for binding, span in self.bindings.items()},
        )

    def _rollback(self, mark: _Mark) -> None:
        """Undo what the files added since ``mark``: their rows and all they own, and what they
        taught about aliases (a skipped file must not leave an alias on a key behind it)."""
        batch = self.batch
        rows = self.rows = mark.rows
        for name, count in mark.chunks.items():
            del self.chunks[name][count:]
        for name in list(self.chunks):
            if name not in mark.chunks:
                del self.chunks[name]
        del batch.trail_changes[mark.trail_changes :]
        del self.log_files[mark.log_files :]
        del batch.sources[mark.sources :]
        for mapping in (batch.extra_keys, batch.event_id_overflow, batch.parameters):
            for row in [r for r in mapping if r >= rows]:
                del mapping[row]
        self.bindings = {binding: list(span) for binding, span in mark.bindings.items()}

    def _add_selected(self, files: list[_Selected]) -> None:
        """Add scanned files' kept records, joined (_joined): resolved together."""
        joined = _joined(files)
        self._add_columns(
            files[0].info,
            joined.columns,
            joined.kept,
            joined.raws.__getitem__ if joined.parameters is not None else None,
            measured=False,
            contexts=joined.contexts,
            times=joined.times,
            ids=joined.ids,
            parameters=partial(_looked_up, joined.parameters) if joined.parameters is not None else None,
            files=joined.files,
        )

    def add_records(
        self, info: SourceInfo, records: list, raws: list | None, data: bytes | None, first_ordinal: int = 0
    ) -> None:
        """Add one source's typed records (None where a record could not be read); called
        again for the same ``info`` with the next chunk of them, ``first_ordinal`` on."""
        bad = records.count(None)
        counts = Counter(r.eventSource for r in records if r is not None)
        kept = [i for i, r in enumerate(records) if r is not None and r.eventSource == KMS]
        measured = raws is not None  # a delivered log file is measured when it has configuration events
        if counts.get(CLOUDTRAIL):
            config = [
                i
                for i, r in enumerate(records)
                if r is not None and r.eventSource == CLOUDTRAIL and r.eventName in TRAIL_EVENTS
            ]
            counts[CLOUDTRAIL] -= len(config)
            kept = sorted(kept + config)
            measured = measured or bool(config)
        if (
            raws is None
            and data is not None
            and any(records[i].readOnly is not True or records[i].eventSource != KMS for i in kept)
        ):
            raws = split_records(data).records  # configuration events are read whole, parameters kept
        counts.pop(KMS, None)
        for source, count in counts.items():
            if count:
                info.ignored[source or "(no event source)"] += count
        info.records += len(records) - bad
        info.events += len(kept)
        if bad:
            bad += info.unreadable
            info.unreadable = bad
            info.problems[:] = [p for p in info.problems if not p.endswith(_NOT_OBJECTS)]
            info.problems.append(
                "1 record that is not a JSON object skipped"
                if bad == 1
                else f"{bad} records that are not JSON objects skipped"
            )
        columns = _typed_columns([records[i] for i in kept])
        self._add_columns(
            info,
            columns,
            np.array(kept, dtype=np.int64),
            None if raws is None else raws.__getitem__,
            measured=measured,
            first_ordinal=first_ordinal,
        )

    def _add_columns(
        self,
        info: SourceInfo,
        columns: dict,
        kept: np.ndarray,
        raw,
        measured: bool,
        first_ordinal: int = 0,
        contexts: ScannedContexts | None = None,
        times: np.ndarray | None = None,
        ids: np.ndarray | None = None,
        parameters=None,
        files: _Files | None = None,
    ) -> None:
        """Add one source's kept records, given as columns (codes into distinct values, one
        code per kept record). ``raw(i)`` is the text of the source's record ``i``;
        ``contexts``, the scanner's reading of the encryptionContext column's texts; ``times``
        and ``ids``, the times and event ids it gave per record (see Scanned); ``parameters(records)``,
        what _parameters says of each record of ``records``, where the scanner gives it without
        reading it again. ``files``: the columns are several scanned files' (_joined), and
        this says which rows are whose."""
        batch = self.batch
        vocab = self.vocab
        again = bool(batch.sources) and batch.sources[-1] is info  # the next chunk of a source
        origin = len(batch.sources) - again
        base = self.rows
        count = len(kept)

        def encode(vocab_name: str, field: str, lookup=None, dtype=np.uint32, empty_is_none=False) -> np.ndarray:
            codes, values = columns[field]
            if empty_is_none:  # an empty text (an error code "") is none
                values = [None, *(value or None for value in values[1:])]
            if lookup is None:  # a plain text column: its new values (thousands of addresses) added in bulk
                if _recode_texts is not None:  # in C: what _recode and _intern_many do, in one pass
                    rows = np.ascontiguousarray(codes, dtype=np.uint32)
                    return np.frombuffer(_recode_texts(vocab[vocab_name], values, rows), dtype=np.uint32)
                return _recode(codes, values, None, dtype, partial(_intern_many, vocab[vocab_name]))
            return _recode(codes, values, lookup, dtype)

        time_codes, time_texts = columns["eventTime"]
        time_column = _time_column(time_codes, time_texts, times)
        id_codes, id_texts = columns["eventID"]
        principal_column = self._principals(columns)
        overflow: dict[int, str] = {}
        out = {
            "time": time_column,
            "origin": np.full(count, origin, dtype=np.uint32) if files is None else files.origin + np.uint32(origin),
            "ordinal": (kept + first_ordinal).astype(np.uint32) if files is None else files.ordinal,
            "rawlen": (
                files.lengths
                if files is not None
                else np.fromiter((record_length(raw(i)) for i in kept.tolist()), dtype=np.uint32, count=count)
                if measured
                else np.zeros(count, dtype=np.uint32)
            ),
            "name": encode("name", "eventName"),
            "evsource": encode("evsource", "eventSource"),
            "evtype": encode("evtype", "eventType"),
            "evcat": encode("evcat", "eventCategory"),
            "region": encode("region", "awsRegion"),
            "account": encode("account", "recipientAccountId"),
            "ip": encode("ip", "sourceIPAddress"),
            "agent": encode("agent", "userAgent"),
            "errcode": encode("errcode", "errorCode", empty_is_none=True),
            "errmsg": encode("errmsg", "errorMessage", empty_is_none=True),
            "readonly": encode("", "readOnly", _READ_ONLY.__getitem__, np.int8),
            "principal": principal_column,
            "eid": _id_column(id_codes, id_texts, overflow, ids),
            "cloud": np.zeros(count, dtype=np.uint8),  # CloudTrail: aws (actiontrail.py writes alibaba)
        }
        for row, event_id in overflow.items():
            batch.event_id_overflow[base + row] = event_id

        def value(field: str, row: int):
            codes, values = columns[field]
            return values[codes[row]]

        source_codes, sources = columns["eventSource"]
        is_kms = _rows_of(source_codes, sources, KMS)
        kms_rows = np.flatnonzero(is_kms)
        error_codes, errors = columns["errorCode"]
        failed = np.array([bool(error) for error in errors])[error_codes]
        key0 = np.zeros(count, dtype=np.uint32)
        key1 = np.zeros(count, dtype=np.uint32)
        alias = np.zeros(count, dtype=np.uint32)
        trail = np.zeros(count, dtype=np.uint32)
        self._resolve_references(columns, kms_rows, failed, time_column, key0, key1, alias, base)
        ctx = self._resolve_contexts(columns, kms_rows, time_column, trail, contexts)

        # CloudTrail configuration events: few, each read whole
        keys, aliases, trails = (vocab[n] for n in ("key", "alias", "trail"))
        for row in np.flatnonzero(~is_kms).tolist():
            place = _PLACES[value("awsRegion", row), value("recipientAccountId", row)]
            change = _trail_change(
                value("eventName", row),
                value("errorCode", row),
                raw(int(kept[row])),
                base + row,
                int(time_column[row]),
                place,
                int(principal_column[row]),
            )
            if change is None:
                continue
            trail[row] = trails[change.trail]
            batch.trail_changes.append(change)
            log_key = change.response.get("kmsKeyId") or change.request.get("kmsKeyId")
            if isinstance(log_key, str) and log_key:
                key_arn = _key_arn(log_key, place)
                if key_arn and ":alias/" in key_arn:
                    alias[row] = aliases[key_arn]
                elif key_arn:
                    key0[row] = keys[key_arn]
        out.update(key0=key0, key1=key1, alias=alias, ctx=ctx, trail=trail)
        if raw is not None:
            changing = np.flatnonzero(out["readonly"] != 1)
            records = kept[changing].tolist()
            found = parameters(records) if parameters else [_parameters(raw(i)) for i in records]
            for row, kept_parameters in zip(changing.tolist(), found, strict=True):
                if kept_parameters is not None:
                    batch.parameters[base + row] = kept_parameters
        for name, column in out.items():
            self.chunks.setdefault(name, []).append(column)
        self.rows += count
        if files is not None:
            batch.sources.extend(files.infos)
        elif not again:
            batch.sources.append(info)

    def _principals(self, columns: dict) -> np.ndarray:
        """The principal column: resolved once per distinct combination of the identity's fields.
        Assumed-role sessions the scanner resolved (``SESSIONS``) need only their account and
        caller service besides: they go to the principal table in bulk, as short forms."""
        fields = [columns[name] for name, _ in _IDENTITY_COLUMNS]
        sessions = columns.get(SESSIONS)
        if sessions is None or len(sessions[1]) == 1:  # the general path, or no session resolved
            group, firsts = _combinations(fields)
            identities = zip(*(gather(values, codes[firsts]) for codes, values in fields), strict=True)
            return np.fromiter(map(self.principal_codes.__getitem__, identities), dtype=np.uint32, count=len(firsts))[
                group
            ]
        out = np.zeros(len(sessions[0]), dtype=np.uint32)
        general = np.flatnonzero(sessions[0] == 0)
        if len(general):  # IAM users, services, roots: several hundred rows a file, a few distinct
            picked = [(codes[general], values) for codes, values in fields]
            group, firsts = _combinations(picked)
            identities = zip(*(gather(values, codes[firsts]) for codes, values in picked), strict=True)
            found = np.fromiter(map(self.principal_codes.__getitem__, identities), dtype=np.uint32, count=len(firsts))
            out[general] = found[group]
        resolved = np.flatnonzero(sessions[0])
        if len(resolved):  # new on nearly every record of a busy trail
            account, invoked = (columns[f"userIdentity.{name}"] for name in ("accountId", "invokedBy"))
            out[resolved] = self.principals.sessions(
                sessions[0][resolved],
                sessions[1],
                (account[0][resolved], account[1]),
                (invoked[0][resolved], invoked[1]),
            )
        return out

    def _resolve_references(
        self,
        columns: dict,
        rows: np.ndarray,
        failed: np.ndarray,
        times: np.ndarray,
        key0: np.ndarray,
        key1: np.ndarray,
        alias: np.ndarray,
        base: int,
    ) -> None:
        """Keys and aliases of KMS events: resolved once per distinct combination of the
        fields that name them (a file has a few dozen), then spread over the rows."""
        keys, aliases = self.vocab["key"], self.vocab["alias"]
        # a file's kept rows are nearly always all KMS events (no trail configuration among
        # them): the columns are then read as they are, not copied row by row
        every = len(rows) == len(times)
        fields = [
            (codes if every else codes[rows], values) for codes, values in (columns[n] for n in _REFERENCE_FIELDS)
        ]
        combo_of, firsts_rows = _combinations(fields)
        firsts = np.zeros((len(firsts_rows), 3), dtype=np.uint32)  # first key, second key, first alias
        found: list[tuple[list, list]] = []
        named = zip(*(gather(values, codes[firsts_rows]) for codes, values in fields), strict=True)
        for c, (
            resources,
            key_id,
            source,
            destination,
            target,
            primary,
            alias_name,
            response,
            details,
            region,
            account,
        ) in enumerate(named):
            key_values = (key_id, source, destination, target, primary)
            try:  # the same combination in another file of the batch: resolved already
                arns = tuple(r.ARN for r in resources) if resources else None
                known: tuple = (arns, key_values, alias_name, response, details, region, account)
                found_keys, found_aliases = self.references[known]
            except TypeError:  # a value of an unexpected type that cannot be hashed
                found_keys, found_aliases = _references_of(
                    resources, key_values, alias_name, response, details, region, account
                )
            except KeyError:
                self.references[known] = found_keys, found_aliases = _references_of(
                    resources, key_values, alias_name, response, details, region, account
                )
            found.append((found_keys, found_aliases))
            if found_keys:
                firsts[c, 0] = keys[found_keys[0]]
                if len(found_keys) > 1:
                    firsts[c, 1] = keys[found_keys[1]]
            if found_aliases:
                firsts[c, 2] = aliases[found_aliases[0]]
        spread = firsts[combo_of]  # each row's first key, second key and first alias
        if every:
            key0[:], key1[:], alias[:] = spread.T
        else:
            key0[rows], key1[rows], alias[rows] = spread.T

        name_codes, names = columns["eventName"]
        changes = _rows_in(name_codes, names, ALIAS_CHANGES)
        succeeded = ~failed if every else ~failed[rows]
        changed = changes if every else changes[rows]
        # calls that named an alias and its key: the alias pointed there then (the alias calls
        # themselves name old and new keys alike and are bindings of their own). The first and
        # last time of each combination's successful calls, all combinations at once.
        seen = np.flatnonzero(succeeded & ~changed)
        seen_combos, seen_times = combo_of[seen], times[seen if every else rows[seen]]
        earliest = np.full(len(firsts_rows), np.iinfo(np.int64).max, dtype=np.int64)
        latest = np.full(len(firsts_rows), np.iinfo(np.int64).min, dtype=np.int64)
        np.minimum.at(earliest, seen_combos, seen_times)
        np.maximum.at(latest, seen_combos, seen_times)
        observed = (firsts[:, 0] != 0) & (firsts[:, 2] != 0) & (earliest <= latest)
        extra = [c for c, (found_keys, _) in enumerate(found) if len(found_keys) > 2]
        for c in sorted({*extra, *np.flatnonzero(observed).tolist()}):
            found_keys = found[c][0]
            if len(found_keys) > 2:
                more = tuple(keys[k] for k in found_keys[2:])
                for row in rows[combo_of == c].tolist():
                    self.batch.extra_keys[base + row] = more
            if observed[c]:
                alias_code, key_code = firsts[c, 2].item(), firsts[c, 0].item()
                _note(self.bindings, alias_code, key_code, "observed", earliest[c].item(), latest[c].item())
        for i in np.flatnonzero(changed & succeeded).tolist():
            row = int(rows[i])
            name, alias_name, target, region, account = (
                values[codes[row]]
                for codes, values in (
                    columns[n] for n in ("eventName", "aliasName", "targetKeyId", "awsRegion", "recipientAccountId")
                )
            )
            _alias_change(
                name,
                alias_name,
                target,
                _PLACES[region, account],
                found[combo_of[i]][0],
                int(times[row]),
                aliases,
                keys,
                self.bindings,
            )

    def _resolve_contexts(
        self,
        columns: dict,
        rows: np.ndarray,
        times: np.ndarray,
        trail: np.ndarray,
        scanned: ScannedContexts | None = None,
    ) -> np.ndarray:
        """The encryption context column; CloudTrail's own log-file contexts also name their trail.
        ``scanned``: the pairs the scanner read from the column's texts, where it did."""
        contexts = self.contexts
        ctx = np.zeros(len(times), dtype=np.uint32)
        own_codes, owns = columns["encryptionContext"]
        others = [columns[name] for name in ("sourceEncryptionContext", "destinationEncryptionContext", "constraints")]
        plain = np.ones(len(rows), dtype=bool)
        for codes, _ in others:
            plain &= codes[rows] == 0
        plain_rows = rows[plain]
        used = np.flatnonzero(np.bincount(own_codes[plain_rows], minlength=len(owns)))
        table = np.zeros(len(owns), dtype=np.uint32)
        if scanned is not None:
            table[used] = contexts.of_scanned(owns, used, scanned)
        else:
            table[used] = contexts.of_plain_many([owns[code] for code in used.tolist()])
        ctx[plain_rows] = table[own_codes[plain_rows]]
        mixed_rows = rows[~plain]  # ReEncrypt, CreateGrant: labelled contexts
        if scanned is not None and len(scanned.grants) and len(mixed_rows):
            # CreateGrant's constraints alone, which the scanner read: added in bulk
            grant_codes = columns["constraints"][0][mixed_rows]
            bulk = own_codes[mixed_rows] == 0
            for codes, _ in others[:2]:
                bulk &= codes[mixed_rows] == 0
            bulk[bulk] = scanned.grants[grant_codes[bulk] - 1, 0] != NOT_PLAIN
            if bulk.any():
                used = np.unique(grant_codes[bulk])
                table = np.zeros(len(scanned.grant_texts), dtype=np.uint32)
                table[used] = contexts.of_scanned_grants(used, scanned)
                ctx[mixed_rows[bulk]] = table[grant_codes[bulk]]
                mixed_rows = mixed_rows[~bulk]
        if len(mixed_rows):
            fields = [(codes[mixed_rows], values) for codes, values in (columns["encryptionContext"], *others)]
            group, firsts = _combinations(fields)
            codes = list(map(contexts.of_parts, *(gather(values, codes[firsts]) for codes, values in fields)))
            ctx[mixed_rows] = np.array(codes, dtype=np.uint32)[group]
        trails = self.vocab["trail"]
        logs: list[tuple[int, int, str]] = []  # (row, trail code, S3 object ARN)
        # CloudTrail's own log files, ascending as the trail vocabulary has always been filled
        for code in contexts.naming_trails(ctx[rows]):
            trail_arn, s3_arn = contexts.trail_info[code]
            matching = rows[ctx[rows] == code]
            trail[matching] = trails[trail_arn]
            if s3_arn:
                logs.extend((row, trails[trail_arn], s3_arn) for row in matching.tolist())
        self.log_files.extend(LogFile(trail_code, s3_arn, int(times[row])) for row, trail_code, s3_arn in sorted(logs))
        return ctx

    def finish(self) -> Batch:
        self._add_pending()
        batch = self.batch
        batch.columns = (
            {name: narrowed(np.concatenate(chunks)) for name, chunks in self.chunks.items()} if self.rows else {}
        )
        if "eid" in batch.columns:  # packed here: 17 bytes an id through the pipe, not 36
            batch.columns["eid"], batch.columns["eidcase"], odd = packed_ids(batch.columns["eid"])
            batch.event_id_overflow.update(odd)
        batch.vocab = {name: list(codes) for name, codes in self.vocab.items()}
        batch.principals = self.principals.part()
        batch.contexts = self.contexts.part()
        batch.contexts.values = _texts(batch.contexts.values)  # one blob through the pipe, not a str each
        batch.alias_bindings = list(self.bindings.items())
        batch.log_files = LogFiles(self.log_files)
        return batch


def _undecoded(info: SourceInfo, error: Exception) -> SourceInfo:
    """What is said of a file whose decoding failed (a bug: it must cost one file, never the load)."""
    return SourceInfo(
        info.label,
        info.path,
        info.delivery,
        error=f"could not be decoded ({type(error).__name__}: {error})",
        appendable=info.appendable,
    )


class _Selected(NamedTuple):
    """A scanned file's records as they are kept, before they are resolved (with the other
    scanned files of its batch: _joined). What needs the file's text is read from it here,
    so that the text need not wait: the spans of configuration events, and the parameters
    of calls that change something."""

    info: SourceInfo  # its records, events and ignored counts already
    scanned: Scanned
    kept: np.ndarray  # the records kept (KMS events, trail configuration), in order
    lengths: np.ndarray  # each kept record's length, where the file is measured (else 0)
    raws: dict[int, bytes]  # the configuration events' texts, by record
    parameters: dict[int, bytes | None] | None  # those of the calls that change something, by record
    # Contexts not all read in the scanner's bulk pass: texts it left to Python, or labelled
    # ones (ReEncrypt's, a grant's with a context of its own or constraints it left). These are
    # resolved after the bulk pass's, and a context set shows the pairs of the first record
    # that brought it: so that it is the same record joined or not, a join ends with such a file.
    ends_join: bool


def _selected(info: SourceInfo, scanned: Scanned, data: bytes) -> _Selected:
    """A delivered log file the scanner read: its records picked out with numpy, counted in ``info``."""
    columns, objects = scanned.columns, scanned.objects
    source_codes, sources = columns["eventSource"]
    name_codes, names = columns["eventName"]
    keep = _rows_of(source_codes, sources, KMS)
    config = _rows_of(source_codes, sources, CLOUDTRAIL) & _rows_in(name_codes, names, TRAIL_EVENTS)
    keep |= config
    read_only_codes, read_only = columns["readOnly"]
    changes = keep & ~_rows_in(read_only_codes, read_only, (True,))
    for code, records in enumerate(np.bincount(source_codes[~keep], minlength=len(sources)).tolist()):
        if records:
            info.ignored[sources[code] or "(no event source)"] += records
    kept = np.flatnonzero(keep)
    info.records = scanned.records
    info.events = len(kept)
    contexts, (own_codes, owns), (grant_codes, grants) = (
        scanned.contexts,
        columns["encryptionContext"],
        columns["constraints"],
    )
    ends_join = (
        bool((contexts.counts == NOT_PLAIN).any())
        or len(columns["sourceEncryptionContext"][1]) > 1
        or len(columns["destinationEncryptionContext"][1]) > 1
        or (
            len(grants) > 1
            and bool(
                (contexts.grants[:, 0] == NOT_PLAIN).any()
                or (len(owns) > 1 and ((own_codes != 0) & (grant_codes != 0)).any())
            )
        )
    )
    if not (changes | config).any():
        return _Selected(info, scanned, kept, np.zeros(len(kept), dtype=np.uint32), {}, None, ends_join)
    bounds = np.frombuffer(scanned.spans, dtype=np.uint32)

    def raw(i: int) -> bytes:
        return data[int(bounds[2 * i]) : int(bounds[2 * i + 1])]

    # Configuration events are read whole, from their spans; a file with some is measured
    # too, as the general path does (the others are measured by the index when it must).
    # Calls that change something keep their parameters, read from their spans as well.
    lengths = (
        np.fromiter((record_length(raw(i)) for i in kept.tolist()), dtype=np.uint32, count=len(kept))
        if config.any()
        else np.zeros(len(kept), dtype=np.uint32)
    )
    raws = {i: raw(i) for i in np.flatnonzero(config).tolist()}
    # As _parameters(raw(i)) says of each record that changes something, from the spans the
    # scanner found (what msgspec's Raw gives): ``objects`` holds the (start, end) of each
    # record's requestParameters, (0, 0) for none (a few dozen a file, read together).
    response_codes, responses = columns["responseElements"]
    parameters: dict[int, bytes | None] = {}
    records = np.flatnonzero(changes)
    for i, (start, end), code in zip(
        records.tolist(), objects[records].tolist(), response_codes[records].tolist(), strict=True
    ):
        response = responses[code]
        if not end and response is None:
            parameters[i] = None
        else:
            parameters[i] = b"[" + (data[start:end] if end else b"null") + b"," + (response or b"null") + b"]"
    return _Selected(info, scanned, kept, lengths, raws, parameters, ends_join)


class _Files(NamedTuple):
    """Which of a join's rows are whose (_BatchBuilder._add_columns)."""

    infos: list[SourceInfo]
    origin: np.ndarray  # each row's file, from 0
    ordinal: np.ndarray  # each row's record in its file
    lengths: np.ndarray  # each row's record's length where its file is measured (else 0)


class _Joined(NamedTuple):
    """Several scanned files' kept records as one file's (_joined). Records are numbered
    across the files, each file's after the one before; a column's distinct values are each
    file's in turn (not merged: what follows looks each one up, once a file as before)."""

    columns: dict[str, tuple[np.ndarray, list]]  # over the kept records
    kept: np.ndarray  # the kept records, by number across the files
    contexts: ScannedContexts
    times: np.ndarray
    ids: np.ndarray
    raws: dict[int, bytes]
    parameters: dict[int, bytes | None] | None
    files: _Files


def _joined(files: list[_Selected]) -> _Joined:
    """Scanned files' kept records joined into one file's columns, to be resolved together."""
    firsts = np.cumsum([0, *(one.scanned.records for one in files)])[:-1].tolist()
    kept = np.concatenate([one.kept + first for one, first in zip(files, firsts, strict=True)])
    sizes = [len(one.kept) for one in files]
    columns: dict[str, tuple[np.ndarray, list]] = {}
    for name in files[0].scanned.columns:
        parts = [one.scanned.columns[name] for one in files]
        valued = [at for at, (_, values) in enumerate(parts) if len(values) > 1]
        if not valued:  # a field no record has (a third of them in a usual file): code 0 throughout
            columns[name] = (np.zeros(len(kept), dtype=np.uint32), [None])
            continue
        if len(valued) == 1:  # one file has it: its codes as they are, the others' 0
            codes, values = parts[valued[0]]
            column = np.zeros(len(kept), dtype=np.uint32)
            start = sum(sizes[: valued[0]])
            column[start : start + sizes[valued[0]]] = codes[files[valued[0]].kept]
            columns[name] = (column, values)
            continue
        joined_values: list = [None]
        shifts = []
        for _, values in parts:
            shifts.append(len(joined_values) - 1)
            joined_values.extend(values[1:])
        codes = np.concatenate(
            [
                codes if len(values) > 1 else np.zeros(one.scanned.records, np.uint32)
                for (codes, values), one in zip(parts, files, strict=True)
            ]
        )[kept]
        shift = np.repeat(np.array(shifts, dtype=np.uint32), sizes)
        columns[name] = (np.where(codes != 0, codes + shift, np.uint32(0)), joined_values)
    raws: dict[int, bytes] = {}
    parameters: dict[int, bytes | None] | None = None
    for one, first in zip(files, firsts, strict=True):
        raws.update((first + i, text) for i, text in one.raws.items())
        if one.parameters is not None:
            parameters = {} if parameters is None else parameters
            parameters.update((first + i, found) for i, found in one.parameters.items())
    return _Joined(
        columns,
        kept,
        _joined_contexts([one.scanned.contexts for one in files]),
        np.concatenate([one.scanned.times for one in files])[kept],
        np.concatenate([one.scanned.ids for one in files])[kept],
        raws,
        parameters,
        _Files(
            [one.info for one in files],
            np.repeat(np.arange(len(files), dtype=np.uint32), sizes),
            np.concatenate([one.kept for one in files]).astype(np.uint32),
            np.concatenate([one.lengths for one in files]),
        ),
    )


def _joined_contexts(parts: list[ScannedContexts]) -> ScannedContexts:
    """Several files' ScannedContexts as one, as _joined joins their columns: each file's
    distinct texts after the one before's, its pairs after theirs (a file's pairs are its
    contexts' then its grants'), its value texts after theirs. Key texts, a few a file, are
    merged: each is one code (contexts.py looks the trail's key up by its code)."""
    if len(parts) == 1:
        return parts[0]
    key_texts: dict[str, int] = {}
    keys, values, starts, grant_starts = [], [], [], []
    value_texts: list[str] = []
    grant_texts: list = [None]
    pairs = 0
    for part in parts:
        table = np.array(
            [0, *(key_texts.setdefault(text, len(key_texts) + 1) for text in part.key_texts)], dtype=np.uint32
        )
        keys.append(table[part.keys])
        values.append(part.values + len(value_texts))
        value_texts.extend(part.value_texts)
        starts.append(part.starts + pairs)
        grant_starts.append(part.grant_starts + pairs)
        grant_texts.extend(part.grant_texts[1:])
        pairs += len(part.keys)
    return ScannedContexts(
        np.concatenate([part.counts for part in parts]),
        np.concatenate(starts),
        np.concatenate(keys),
        np.concatenate(values),
        list(key_texts),
        value_texts,
        np.concatenate([part.grants for part in parts]),
        np.concatenate(grant_starts),
        grant_texts,
    )


def _looked_up(found: dict, records: list[int]) -> list:
    """What ``found`` holds for each of ``records``."""
    return list(map(found.__getitem__, records))


def _texts(values: Sequence[str]) -> Texts:
    """Texts(values), encoded in one C pass where the scanner is built (else as Texts does it)."""
    found = _encoded_texts(list(values), False) if _encoded_texts is not None else None
    if found is None:
        return Texts(values)
    texts = Texts()
    texts.blob, texts.ends = found[0], np.frombuffer(found[1], dtype=np.int64).copy()
    return texts


def _references_of(
    resources, key_values: tuple, alias_name, response: bytes | None, details: bytes | None, region, account
) -> tuple[list[str], list[str]]:
    """The keys and aliases a combination of a KMS record's fields names (see _references)."""
    found_keys: list[str] = []
    found_aliases: list[str] = []
    _references(
        resources, key_values, alias_name, response, details, _PLACES[region, account], found_keys, found_aliases
    )
    return found_keys, found_aliases


def _codes_of(values: list, wanted) -> list[int]:
    """The codes of a column whose value is in ``wanted`` (several, when the raw texts differ:
    an escape spells the same value another way)."""
    return [code for code, value in enumerate(values) if code and value in wanted]


def _rows_of(codes: np.ndarray, values: list, value: str) -> np.ndarray:
    """Which rows have ``value``, as a mask."""
    return _rows_in(codes, values, (value,))


def _rows_in(codes: np.ndarray, values: list, wanted) -> np.ndarray:
    """Which rows have a value in ``wanted``, as a mask: a lookup per distinct value, then one
    per row (np.isin sorts; this is a few times quicker on a file's columns)."""
    found = _codes_of(values, wanted)
    if not found:  # (configuration events and alias changes: none in most files)
        return np.zeros(len(codes), dtype=bool)
    table = np.zeros(len(values), dtype=bool)
    table[found] = True
    return table[codes]


def _recode(codes: np.ndarray, values: list, lookup, dtype=np.uint32, lookup_all=None) -> np.ndarray:
    """A column in another code: ``lookup`` each distinct value the rows use, once (or
    ``lookup_all`` all of them together)."""
    used = np.flatnonzero(np.bincount(codes, minlength=len(values)))
    table = np.zeros(len(values), dtype=dtype)
    wanted = [values[code] for code in used.tolist()]
    table[used] = lookup_all(wanted) if lookup_all else np.fromiter(map(lookup, wanted), dtype=dtype, count=len(used))
    return table[codes]


def _scan_spec() -> tuple[tuple, tuple]:
    """The scanner's fields, (name, parent index), and the (column, kind) each one fills (None
    for an object scanned into)."""
    fields = [(name.encode(), -1) for name, _ in _FIELDS]
    columns: list = list(_FIELDS)
    for parent, nested in _NESTED:
        at = len(fields)
        fields.append((parent.encode(), -1))
        columns.append(None)
        for column, kind in nested:
            fields.append((column.rpartition(".")[2].encode(), at))
            columns.append((column, kind))
    return tuple(fields), tuple(columns)


_SCAN_FIELDS, _SCANNED = _scan_spec()
# only KMS and CloudTrail records are read whole; of the others the scanner keeps the event source, to count them
_SCAN_KEEP = ([name for name, _ in _FIELDS].index("eventSource"), (orjson.dumps(KMS), orjson.dumps(CLOUDTRAIL)))


def _roles_spec() -> tuple[int, int, int, tuple[int, ...]]:
    """The scanner's assumed-role shortcut: the type, ARN and account fields it reads, and the
    fields it leaves out of the records it resolves (what only _principal's general way reads)."""
    at = {column[0]: f for f, column in enumerate(_SCANNED) if column is not None}
    field = {name: at[f"userIdentity.{name}"] for name in _IDENTITY_FIELDS}
    return (
        field["type"],
        field["arn"],
        field["accountId"],
        tuple(field[n] for n in ("type", "arn", "principalId", "userName")),
    )


_SCAN_ROLES = _roles_spec()
# the scanner reads the request's own encryption contexts into pairs (ScannedContexts)
_SCANNED_NAMES = [None if column is None else column[0] for column in _SCANNED]
_SCAN_CONTEXTS = _SCANNED_NAMES.index("encryptionContext")
# CreateGrant's constraints are read into labelled pairs too
_SCAN_GRANTS = _SCANNED_NAMES.index("constraints")
# eventTime and eventID, unique to nearly every record, are given per record rather than interned
_SCAN_TIMES, _SCAN_IDS = _SCANNED_NAMES.index("eventTime"), _SCANNED_NAMES.index("eventID")
# the parameters kept of calls that change something are read from requestParameters' span
_SCAN_OBJECTS = [name for name, _ in _SCAN_FIELDS].index(b"requestParameters")
SESSIONS = "userIdentity.session"  # the scanner's column of resolved assumed-role sessions (short forms)
_ENCODE = msgspec.json.Encoder().encode
_VALUES: dict[str, msgspec.json.Decoder[Any]] = {
    "str": msgspec.json.Decoder(list[str]),
    "bool": msgspec.json.Decoder(list[bool]),
    "resources": msgspec.json.Decoder(list[list[_Resource]]),
    "any": msgspec.json.Decoder(list[Any]),
}


class Scanned(NamedTuple):
    """A delivered log file as the C scanner read it (``_scan_columns``)."""

    records: int
    spans: bytes  # each record's start and end offsets, native uint32
    columns: dict[str, tuple[np.ndarray, list]]  # over every record: codes into decoded distinct values
    contexts: ScannedContexts  # the encryptionContext column's texts read into pairs
    # eventTime and eventID per record where the scanner gave them (their columns then hold
    # only the other texts, code 0 elsewhere): int64 seconds (NO_TIME for none), S36 ids
    times: np.ndarray
    ids: np.ndarray
    objects: np.ndarray  # (start, end) of each record's requestParameters, native uint32; (0, 0) for none


def _repaired_scan(data: bytes, delivered: bool) -> tuple[bytes, Scanned | None]:
    """``data`` (read without sources.repair_surrogates) as that repair makes it, and the
    scanner's reading of it when it is a delivered log file the scanner reads. The scanner
    refuses a text holding a lone surrogate escape, the one thing the repair changes: a text
    it reads is not searched for backslashes a second time. Any other is repaired, and
    scanned again only if the repair changed it."""
    scanned = _scan_columns(data) if delivered else None
    if scanned is not None:
        return data, scanned
    repaired = repair_surrogates(data)
    return repaired, _scan_columns(repaired) if delivered and repaired != data else None


def _scan_columns(data: bytes) -> Scanned | None:
    """A delivered log file as the C scanner read it: each field's distinct texts are decoded
    together, in one call. None when the scanner is not built, or the file is not plain (then
    it is decoded the general way), or a string holds a lone surrogate escape (the text is
    repaired first: _repaired_scan)."""
    if _scan is None:
        return None
    scanned = _scan.scan(
        data, _SCAN_FIELDS, _SCAN_KEEP, _SCAN_ROLES, _SCAN_CONTEXTS, _SCAN_TIMES, _SCAN_IDS, _SCAN_OBJECTS, _SCAN_GRANTS
    )
    if scanned is None:
        return None
    count, spans, found, pairs, times, ids, objects = scanned
    assert times is not None and ids is not None and objects is not None  # asked for
    session_codes, sessions = found.pop()
    columns = {SESSIONS: (np.frombuffer(session_codes, dtype=np.uint32), [None, *sessions])}
    grant_texts = [None, *found[_SCAN_GRANTS][1]]  # the raw constraints texts, before they are decoded
    for spec, column in zip(_SCANNED, found, strict=True):
        if spec is None:
            continue
        (name, kind), (codes, texts) = spec, column
        if kind == "raw" or not texts:
            values = texts
        else:
            try:
                values = _VALUES[kind].decode(b"[" + b",".join(texts) + b"]")
            except _UNREADABLE:
                return None  # a field of an unexpected type: the general path is lenient with it
        code_array = np.frombuffer(codes, dtype=np.uint32)
        if kind == "resources" and len(values) > 1:
            # the same resources written in another key order are one value (what is kept of
            # them, their ARNs, is the same): one code each, so one combination to resolve
            first: dict[bytes, int] = {}
            same = [first.setdefault(_ENCODE(value), i + 1) for i, value in enumerate(values)]
            code_array = np.array([0, *same], dtype=np.uint32)[code_array]
        columns[name] = (code_array, [None, *values])
    return Scanned(
        count,
        spans,
        columns,
        ScannedContexts.of(pairs, grant_texts),
        np.frombuffer(times, dtype=np.int64),
        np.frombuffer(ids, dtype=f"S{EVENT_ID_WIDTH}"),
        np.frombuffer(objects, dtype=np.uint32).reshape(-1, 2),
    )


def _combinations(columns: list[tuple[np.ndarray, list]]) -> tuple[np.ndarray, np.ndarray]:
    """Rows grouped by the combination of their codes in ``columns``: (each row's group, the
    first row of each group), groups in the order they first occur. In one C pass where the
    scanner is built (_scan.group_rows), else as _combinations_numpy does it."""
    rows = len(columns[0][0]) if columns else 0
    if _group_rows is not None and all(codes.dtype == np.uint32 for codes, _ in columns):
        group, firsts = _group_rows([np.ascontiguousarray(codes) for codes, values in columns if len(values) > 1], rows)
        return np.frombuffer(group, dtype=np.int64), np.frombuffer(firsts, dtype=np.int64)
    return _combinations_numpy(columns)


def _combinations_numpy(columns: list[tuple[np.ndarray, list]]) -> tuple[np.ndarray, np.ndarray]:
    """_combinations in numpy: the reference for _scan.group_rows, and the way without it."""
    rows = len(columns[0][0]) if columns else 0
    key = np.zeros(rows, dtype=np.int64)
    stride = 1
    for codes, values in columns:
        if len(values) == 1:  # None throughout
            continue
        if stride > (1 << 62) // len(values):  # too many to number: hashed as tuples instead
            groups: dict = {}
            key = np.fromiter(
                (
                    groups.setdefault(combo, len(groups))
                    for combo in zip(*(c.tolist() for c, _ in columns), strict=True)
                ),
                dtype=np.int64,
                count=rows,
            )
            break
        key += codes.astype(np.int64) * stride
        stride *= len(values)
    return first_seen(key)


def _intern_many(vocab: _Codes, values: list) -> np.ndarray:
    """The codes of ``values`` in a batch vocabulary, the new ones added in bulk (in order)."""
    codes = list(map(vocab.get, values))
    if None in codes:
        new = dict.fromkeys(compress(values, map(is_, codes, repeat(None))))
        vocab.update(zip(new, range(len(vocab), len(vocab) + len(new)), strict=True))
        codes = list(map(vocab.__getitem__, values))
    return np.array(codes, dtype=np.uint32)


def _event_id_column(codes: np.ndarray, ids: list, overflow: dict[int, str]) -> np.ndarray:
    """Event ids as fixed 36-byte strings (the index keeps a UUID in either case as 16 bytes
    and a case flag, anything else that fits whole); ids the strings cannot hold exactly
    (longer, not ASCII, a NUL) are kept whole in ``overflow``."""
    joined = "".join(ids[1:]) if None not in ids[1:] else None
    if (
        joined is not None
        and joined.isascii()
        and "\0" not in joined
        and max(map(len, ids[1:]), default=0) <= EVENT_ID_WIDTH
    ):
        return np.array(["", *ids[1:]], dtype=f"S{EVENT_ID_WIDTH}")[codes]  # the usual: UUIDs, none odd
    plain = [
        event_id if event_id and len(event_id) <= EVENT_ID_WIDTH and event_id.isascii() and "\0" not in event_id else ""
        for event_id in ids
    ]
    column = np.array(plain, dtype=f"S{EVENT_ID_WIDTH}")[codes]
    odd = [code for code, (event_id, kept) in enumerate(zip(ids, plain, strict=True)) if event_id and not kept]
    if odd:
        for row in np.flatnonzero(np.isin(codes, odd)).tolist():
            overflow[row] = ids[codes[row]]
    return column


def _time_column(codes: np.ndarray, texts: list, given: np.ndarray | None) -> np.ndarray:
    """The time column: ``texts`` parsed once each, or the scanner's times (``given``) with
    the rows that have a code (texts it left to Python) parsed so."""
    if given is None:
        return _recode(codes, texts, None, np.int64, parse_event_times)
    odd = np.flatnonzero(codes)
    if len(odd):
        given[odd] = _recode(codes[odd], texts, None, np.int64, parse_event_times)
    return given


def _id_column(codes: np.ndarray, ids: list, overflow: dict[int, str], given: np.ndarray | None) -> np.ndarray:
    """The event id column: as _event_id_column makes it, or the scanner's (``given``) with
    the rows that have a code (ids it left to Python) made so."""
    if given is None:
        return _event_id_column(codes, ids, overflow)
    odd = np.flatnonzero(codes)
    if len(odd):
        found: dict[int, str] = {}
        given[odd] = _event_id_column(codes[odd], ids, found)
        overflow.update((int(odd[row]), event_id) for row, event_id in found.items())
    return given


# The columnar machinery, under public names for actiontrail.py (Alibaba's events onto the same columns)
combinations, recode, interned, event_id_column = _combinations, _recode, _interned, _event_id_column
parameters_of, note_binding, UNREADABLE = _parameters, _note, _UNREADABLE

__all__ = [
    "ALIAS_CHANGES",
    "CLOUDTRAIL",
    "EVENT_ID_WIDTH",
    "KMS",
    "STRING_COLUMNS",
    "TRAIL_EVENTS",
    "VOCABS",
    "Batch",
    "ContextPart",
    "SourceError",
    "SourceInfo",
    "TrailChange",
    "as_text",
    "assumed_role_arn",
    "collector_paused",
    "decode_records",
    "load_many",
    "record_length",
    "within",
]
