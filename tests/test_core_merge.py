"""The index's merge of batches (``EventIndex.add``, vectorised for speed) against a plain merge
written here, value by value: every column (its values and its width), every vocabulary in its
order, the contexts, the event ids (16 bytes, the case flag, the odd ones kept whole), the maps
and lists, the load report. Inputs: the demo, the public corpus (where it is present), a
synthetic high-cardinality trail, hostile event ids, and more distinct values than a 2-byte
column holds."""

from __future__ import annotations

import copy
import pickle
import random
import re
import sys
import uuid
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from kmstui.cli import demo_path
from kmstui.core import loader
from kmstui.core.batch import PACKED_ID, STRING_COLUMNS, VOCABS, Batch, _packed_ids_numpy, packed_ids, within
from kmstui.core.batch import _packed_ids as _scan_packed_ids
from kmstui.core.decode import load_many
from kmstui.core.index import _COLUMN_TYPES, EventIndex
from kmstui.core.sources import SourceFile, discover, newest_first
from tests.records import (
    AWS_DOCS,
    KEY1,
    REAL,
    REPO,
    alias_arn,
    cloudtrail_file,
    key_arn,
    kms,
    needs_outside_data,
    trail_config,
    write,
)

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks import synth

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
NAMES = (*VOCABS, "principal")  # the principals travel apart from the vocabularies (batch.principals)
_KEYED = {"key0": "key", "key1": "key", "alias": "alias", "trail": "trail", "principal": "principal"}


def plain_id(text: bytes) -> tuple[bytes, bool, str | None]:
    """An id as the index keeps it, worked out one at a time with ``re`` and ``uuid``: its 16
    bytes, whether it was written in upper case, or (zero bytes) the id kept whole."""
    if not text:
        return bytes(16), False, None
    whole = text.decode("utf-8", "surrogateescape")
    for case in (whole, whole.lower()):
        if _UUID.fullmatch(case) and (case == whole or whole == whole.upper()) and uuid.UUID(case).int:
            return uuid.UUID(case).bytes, case != whole, None
    return bytes(16), False, whole


def plain_merge(batches: list[Batch]) -> dict:
    """What merging ``batches`` in order must give, by dictionaries and lists."""
    batches = copy.deepcopy(batches)  # the index rebases a batch's trail changes in place
    vocab: dict[str, list] = {name: [None] for name in NAMES}
    codes: dict[str, dict] = {name: {None: 0} for name in NAMES}
    columns: dict[str, list] = {name: [] for name in _COLUMN_TYPES}
    labels, keys, values, contexts = [None], [None], [""], [()]
    label_codes: dict = {None: 0}
    key_codes: dict = {None: 0}
    ids: list[tuple[bytes, bool, str | None]] = []
    origins, maps = [], {"extra": {}, "parameters": {}}
    changes, bindings, log_files, alias_only = [], {}, [], []
    report = Counter()
    ignored: Counter = Counter()
    for batch in batches:
        origin_of = {}
        for local, source in enumerate(batch.sources):
            assert not source.appendable
            if source.error is not None or source.format == "digest":
                report["skipped" if source.error else "digests"] += 1
                continue
            report["files"] += 1
            report["records"] += source.records
            report["empty"] += not source.events
            ignored.update(source.ignored)
            origin_of[local] = len(origins)
            origins.append((source.label, source.path, source.format, source.records, source.events))
        if not batch.n:  # of a batch without events only what it taught about aliases is kept
            for learned, (first, last) in batch.alias_bindings:
                coded = []
                for name, local in (("alias", learned.alias), ("key", learned.key)):
                    value = batch.vocab[name][local]
                    if value not in codes[name]:
                        codes[name][value] = len(vocab[name])
                        vocab[name].append(value)
                    coded.append(codes[name][value])
                span = bindings.setdefault((*coded, learned.kind, learned.when), [first, last])
                span[:] = [min(span[0], first), max(span[1], last)]
            continue
        base = len(ids)
        remap = {}
        for name in NAMES:
            known = codes[name]
            remap[name] = []
            for value in batch.vocab[name] if name != "principal" else list(batch.principals):
                if value not in known:
                    known[value] = len(vocab[name])
                    vocab[name].append(value)
                remap[name].append(known[value])
        part = batch.contexts
        for local, known, kept in ((part.labels, label_codes, labels), (part.keys, key_codes, keys)):
            for text in local:
                if text not in known:
                    known[text] = len(kept)
                    kept.append(text)
        context_base = len(contexts) - 1
        start = 0
        for count in part.counts.tolist():
            pairs = range(start, start + count)
            contexts.append(
                tuple(
                    (part.labels[part.label[at]], part.keys[part.key[at]], part.values[part.value[at]]) for at in pairs
                )
            )
            start += count
        values.extend(part.values)
        for name in _COLUMN_TYPES:
            local = batch.columns.get(name, np.zeros(batch.n, np.uint8)).tolist()
            vocabulary = name if name in STRING_COLUMNS else _KEYED.get(name)
            if vocabulary is not None:
                local = [remap[vocabulary][code] for code in local]
            elif name == "origin":
                local = [origin_of[code] for code in local]
            elif name == "ctx":
                local = [code and context_base + code for code in local]
            columns[name].extend(local)
        eid = batch.columns["eid"]
        if eid.dtype == PACKED_ID:  # as a worker packs them (checked against plain_id below)
            ids += zip(map(bytes, eid.tolist()), batch.columns["eidcase"].tolist(), [None] * len(eid), strict=True)
        else:
            ids += map(plain_id, eid.tolist())
        for row, odd in batch.event_id_overflow.items():  # ids the batch's column could not hold
            assert ids[base + row] == (bytes(16), False, None)
            ids[base + row] = (bytes(16), False, odd)
        for row, extra in batch.extra_keys.items():
            maps["extra"][base + row] = tuple(remap["key"][k] for k in extra)
        for row, raw in batch.parameters.items():
            maps["parameters"][base + row] = raw
        for change in batch.trail_changes:
            principal = remap["principal"][change.principal]
            changes.append((change.row + base, change.time, change.action, change.trail, principal))
        for learned, (first, last) in batch.alias_bindings:
            binding = (remap["alias"][learned.alias], remap["key"][learned.key], learned.kind, learned.when)
            span = bindings.setdefault(binding, [first, last])
            span[:] = [min(span[0], first), max(span[1], last)]
        log_files += [(remap["trail"][f.trail], f.s3_arn, f.time) for f in batch.log_files]
        alias_only += [
            base + row
            for row, (key, alias) in enumerate(zip(batch.columns["key0"], batch.columns["alias"], strict=True))
            if key == 0 and alias != 0
        ]
    widths = {}
    for name, dtype in _COLUMN_TYPES.items():
        wide = dtype == np.uint16 and columns[name] and max(columns[name]) > 0xFFFF
        widths[name] = np.dtype(np.uint32 if wide else dtype)
    return {
        "vocab": vocab,
        "columns": columns,
        "widths": widths,
        "contexts": (labels, keys, values, contexts),
        "ids": ids,
        "maps": {**maps, "odd": {row: odd for row, (_, _, odd) in enumerate(ids) if odd is not None}},
        "changes": changes,
        "bindings": bindings,
        "log_files": log_files,
        "alias_only": alias_only,
        "origins": origins,
        "report": (
            report["files"],
            report["records"],
            report["empty"],
            len(ids),
            ignored,
            report["skipped"],
            report["digests"],
        ),
    }


def merged(batches: list[Batch], index: EventIndex | None = None) -> dict:
    """The same, read back from an index (new unless given) the batches were added to."""
    index = EventIndex() if index is None else index
    for batch in copy.deepcopy(batches):
        index.add(batch)
    n = index.size
    contexts = index.contexts
    offsets, label, key, value = contexts.arrays()
    context_sets = [
        tuple(
            (contexts.labels.values[label[at]], contexts.keys.values[key[at]], contexts.values[value[at]])
            for at in range(offsets[code], offsets[code + 1])
        )
        for code in range(len(contexts))
    ]
    ids = index.event_ids
    report = index.report
    return {
        "vocab": {name: list(index.vocab[name].values) for name in NAMES},
        "columns": {name: index.columns[name].data[:n].tolist() for name in _COLUMN_TYPES},
        "widths": {name: index.columns[name].data.dtype for name in _COLUMN_TYPES},
        "contexts": (contexts.labels.values, contexts.keys.values, list(contexts.values), context_sets),
        "ids": [(bytes(ids.data[row]), bool(ids.upper[row]), ids.overflow.get(row)) for row in range(n)],
        "maps": {"extra": index.extra_keys, "odd": index.event_id_overflow, "parameters": index.parameters},
        "changes": [(c.row, c.time, c.action, c.trail, c.principal) for c in index.trail_changes],
        "bindings": {tuple(binding): span for binding, span in index.alias_bindings.items()},
        "log_files": [tuple(f) for f in index.log_files],
        "alias_only": index.alias_only,
        "origins": [(o.label, o.path, o.format, o.records, o.events) for o in index.origins],
        "report": (
            report.files_loaded,
            report.records,
            report.empty,
            report.kept,
            report.ignored,
            len(report.skipped),
            report.digests,
        ),
    }


def assert_same_merge(batches: list[Batch]) -> None:
    expected, got = plain_merge(batches), merged(batches)
    assert got["columns"].keys() == expected["columns"].keys()
    for name in expected["columns"]:  # one at a time, so that a failure names its column
        assert got["columns"][name] == expected["columns"][name], name
        assert got["widths"][name] == expected["widths"][name], name
    for name in NAMES:
        assert got["vocab"][name] == expected["vocab"][name], name
    for part in expected:
        assert got[part] == expected[part], part


def batches_of(paths: list[Path], files_each: int) -> list[Batch]:
    """The sources under ``paths`` decoded as the loader does, newest first, ``files_each``
    files to a batch (the loader sends several in one)."""
    files, _skipped = discover([str(p) for p in paths])
    files = newest_first(files)
    return [load_many(files[at : at + files_each]) for at in range(0, len(files), files_each)]


@pytest.fixture(scope="module")
def varied_trail(tmp_path_factory) -> Path:
    """Three files of the benchmark's high-cardinality shape: a new session, S3 object ARN and
    address nearly every call."""
    folder = tmp_path_factory.mktemp("varied")
    for number in range(3):
        synth._write_file((str(folder), number, 7, 0.6, "varied", False))
    return folder


@pytest.mark.parametrize("files_each", [1, 4])
def test_the_demo_merges_as_a_plain_merge_would(files_each):
    assert_same_merge(batches_of([demo_path()], files_each))


@pytest.mark.parametrize("files_each", [1, 2])
def test_a_varied_trail_merges_as_a_plain_merge_would(varied_trail, files_each):
    batches = batches_of([varied_trail], files_each)
    assert sum(batch.n for batch in batches) > 3000
    assert_same_merge(batches)


@needs_outside_data(AWS_DOCS)
def test_the_aws_examples_merge_as_a_plain_merge_would():
    assert_same_merge(batches_of([AWS_DOCS], 1))


@needs_outside_data(REAL)
@pytest.mark.parametrize("files_each", [1, 8])
def test_the_public_records_merge_as_a_plain_merge_would(files_each):
    batches = batches_of([REAL], files_each)
    assert sum(batch.n for batch in batches) > 300  # the KMS and trail events of 316 files
    assert_same_merge(batches)


def test_ids_of_every_shape_merge_as_a_plain_merge_would(varied_trail):
    """Hostile and odd ids put into a real batch's id column: every byte value at every place of
    a UUID, cases mixed, dashes moved, the nil UUID, ids cut short."""
    [batch] = batches_of([varied_trail], 3)[:1]
    rng = random.Random(17)
    # the worker packed them: their texts again, to spoil
    texts = [str(uuid.UUID(bytes=bytes(packed))).encode() for packed in batch.columns.pop("eid").tolist()]
    del batch.columns["eidcase"]
    shapes = [
        b"0F3C9A1E-5B7D-4E2F-9A8B-1C2D3E4F5A6B",
        b"00000000-0000-0000-0000-000000000000",
        b"12345678-1234-4234-8234-123456789012",
    ]
    for row in range(len(texts)):
        text = bytearray(rng.choice([texts[row], *shapes]))
        for _ in range(rng.randrange(3)):
            if text:
                # as the loader sends them: ASCII without NUL (the rest goes whole in the batch's map)
                text[rng.randrange(len(text))] = rng.choice([rng.randrange(1, 128), *b"-aAfFgG09"])
        texts[row] = bytes(text)
    batch.columns["eid"] = np.array(texts, dtype="S36")
    odd = [plain_id(text)[2] is not None for text in texts]
    assert 0.1 < sum(odd) / len(odd) < 0.9  # both kinds, many of each
    for pack in (packed_ids, _packed_ids_numpy):  # as a worker packs them: in C, and numpy's reference
        packed, upper, odd_texts = pack(batch.columns["eid"])
        by_worker = [
            (bytes(v), bool(u), odd_texts.get(row)) for row, (v, u) in enumerate(zip(packed, upper, strict=True))
        ]
        assert by_worker == [plain_id(text) for text in texts]
    assert_same_merge([batch, pickle.loads(pickle.dumps(batch))])


@pytest.mark.skipif(_scan_packed_ids is None, reason="the C scanner is not built here")
def test_ids_of_any_bytes_pack_in_c_as_in_numpy():
    """_scan.packed_ids against numpy's packing, value by value: UUIDs in either case, with
    each byte of them replaced by any byte value (NUL, non-ASCII, the digits around the hex
    range), ids cut short or empty, the nil UUID."""
    rng = random.Random(5)
    shapes = [str(uuid.UUID(int=rng.getrandbits(128))).encode() for _ in range(50)]
    shapes += [shape.upper() for shape in shapes[:25]] + [b"00000000-0000-0000-0000-000000000000", b""]
    texts = []
    for _ in range(20_000):
        text = bytearray(rng.choice(shapes))
        for _ in range(rng.choice([0, 0, 1, 1, 2, 5])):
            if text:
                text[rng.randrange(len(text))] = rng.choice([rng.randrange(256), *b"-/:@`GgFf09\0"])
        if rng.random() < 0.05:
            text = text[: rng.randrange(len(text) + 1)]
        texts.append(bytes(text))
    ids = np.array(texts, dtype="S36")
    compiled, reference = packed_ids(ids), _packed_ids_numpy(ids)
    assert compiled[0].tobytes() == reference[0].tobytes()
    assert compiled[1].tolist() == reference[1].tolist()
    assert compiled[2] == reference[2] and 0.2 < len(reference[2]) / len(texts) < 0.8
    assert 0.1 < sum(compiled[1]) / len(texts) < 0.5  # upper case UUIDs among them


def test_more_distinct_values_than_two_bytes_hold_widen_the_column(varied_trail):
    """70,000 addresses: the address column widens to 4 bytes on the batch that needs it, and
    every code before and after reads back the same."""
    [batch] = batches_of([varied_trail], 3)[:1]
    wide = pickle.loads(pickle.dumps(batch))
    wide.vocab["ip"] = [None, *(f"10.{n >> 16}.{(n >> 8) & 255}.{n & 255}" for n in range(70_000))]
    wide.columns["ip"] = np.random.default_rng(3).integers(0, 70_001, batch.n).astype(np.uint32)
    wide.columns["ip"][-1] = 70_000
    expected = plain_merge([batch, wide])
    assert expected["widths"]["ip"] == np.uint32 and expected["widths"]["agent"] == np.uint16
    assert_same_merge([batch, wide, batch])


def test_files_read_twice_fold_to_their_first_reading(varied_trail):
    """Whole files added again (and one file's events with their ids cleared, which are never
    copies): every copy folds onto the first reading, the rest stays, whatever the fingerprints'
    order among a million-row refresh's candidates."""
    first, second, third = batches_of([varied_trail], 1)
    anonymous = pickle.loads(pickle.dumps(third))
    anonymous.columns["eid"] = np.zeros(third.n, dtype="S36")  # no id: never a duplicate
    plan = [first, second, pickle.loads(pickle.dumps(first)), anonymous, third, anonymous, second]
    index = EventIndex()
    starts = []
    for batch in copy.deepcopy(plan):
        starts.append(index.size)
        index.add(batch)
    snapshot = index.refresh()
    copies = {2: 0, 6: 1}  # batch -> the batch it repeats
    expected = np.ones(index.size, dtype=bool)
    for again in copies:
        expected[starts[again] : starts[again] + plan[again].n] = False
    assert index.report.duplicates == first.n + second.n
    assert snapshot.alive.tolist() == expected.tolist()
    assert not snapshot.shared_id


def test_aliases_learned_from_events_outside_the_window_are_kept(tmp_path, varied_trail):
    """A bucket's day folder read for a window that holds none of its events: the events are
    dropped, but an alias created there still points to its key (the keys pane and ``alias:``
    resolve through it), and the merge keeps it as the plain merge does."""
    records = [
        kms("CreateAlias", request={"aliasName": "alias/early", "targetKeyId": KEY1}, time="2024-05-01T10:00:00Z"),
        kms("Decrypt", key=alias_arn("early"), time="2024-05-01T11:00:00Z"),
    ]
    path = write(tmp_path / "early.json", cloudtrail_file(records))
    [early] = batches_of([path], 1)
    late = batches_of([varied_trail], 3)[0]
    start = int(late.columns["time"].min())
    emptied, dropped = within(copy.deepcopy(early), start, start + 86_400)
    assert (emptied.n, dropped) == (0, 2) and emptied.alias_bindings
    assert_same_merge([emptied, late])
    index = EventIndex()
    index.add(emptied)
    index.add(late)
    index.refresh()
    alias = index.vocab["alias"].find(alias_arn("early"))
    assert alias is not None
    assert index.vocab["key"].values[index.alias_history.key_of(alias, start)] == key_arn(KEY1)


def test_context_values_cross_the_pipe_as_one_blob(varied_trail, monkeypatch):
    """A worker sends its batch's context values (an S3 object ARN a call, on a busy trail) as
    one UTF-8 blob and their ends: read back whole, hostile text included, and appended to the
    index's arena as they are, with no str encoded in the main process."""
    from kmstui.core import arena
    from kmstui.core.batch import Texts

    texts = ["arn:aws:s3:::b/k1", "", "Ä\u200b", "\udcff lone", "x" * 300, "k\u202eey"]
    sent = pickle.loads(pickle.dumps(Texts(texts)))
    assert list(sent) == texts and [sent[i] for i in range(len(texts))] == texts and sent[1:3] == texts[1:3]
    [batch] = batches_of([varied_trail], 3)[:1]
    assert isinstance(batch.contexts.values, Texts) and len(batch.contexts.values) > 1000
    expected = plain_merge([batch])

    def encoded_again(texts):
        raise AssertionError("context values encoded in the main process")

    index = EventIndex()
    monkeypatch.setattr(arena, "encoded", encoded_again)
    got = merged([pickle.loads(pickle.dumps(batch))], index)
    assert got["contexts"] == expected["contexts"]


def by_value(found: dict) -> dict:
    """``merged``'s view with every coded column, map and list as the values its codes name (a
    batch numbers its values in the order it resolves them, and the index keeps that order: a
    join of files may meet some in another order, the same values)."""
    vocab = found["vocab"]
    *_, context_sets = found["contexts"]
    places = [(label, path) for label, path, _format, _records, _events in found["origins"]]
    named = {name: vocab[name] for name in STRING_COLUMNS}
    named.update({column: vocab[name] for column, name in _KEYED.items()}, ctx=context_sets, origin=places)
    columns = {
        name: [named[name][code] for code in codes] if name in named else codes
        for name, codes in found["columns"].items()
    }
    principals, keys, aliases, trails = vocab["principal"], vocab["key"], vocab["alias"], vocab["trail"]
    return dict(
        found,
        vocab=None,
        contexts=None,
        columns=columns,
        changes=[
            (row, time, action, trail, principals[principal])
            for row, time, action, trail, principal in found["changes"]
        ],
        maps=dict(
            found["maps"], extra={row: [keys[code] for code in codes] for row, codes in found["maps"]["extra"].items()}
        ),
        log_files=[(trails[trail], s3_arn, time) for trail, s3_arn, time in found["log_files"]],
        bindings={
            (aliases[alias], keys[key], kind, time): span
            for (alias, key, kind, time), span in found["bindings"].items()
        },
    )


@pytest.fixture(scope="module")
def mixed_trail(tmp_path_factory) -> Path:
    """Varied files, and between them one of every rare kind a file can hold: trail
    configuration (read whole, the file measured), alias changes, a grant, labelled contexts."""
    folder = tmp_path_factory.mktemp("mixed")
    for number in range(3):
        synth._write_file((str(folder), number, 7, 0.6, "varied", False))
    key = key_arn()
    records = [
        kms("CreateAlias", request={"aliasName": "alias/joined", "targetKeyId": KEY1}, time="2026-11-20T00:01:00Z"),
        kms("Decrypt", key, request={"encryptionContext": {"app": "join"}}, time="2026-11-20T00:02:00Z"),
        kms("CreateGrant", key, request={"constraints": {"encryptionContextSubset": {"a": "b"}}}),
        kms("ReEncrypt", key, request={"sourceEncryptionContext": {"s": "1"}, "destinationEncryptionContext": {}}),
        trail_config("PutEventSelectors", time="2026-11-20T00:03:00Z"),
    ]
    write(Path(folder, "AWSLogs", "111122223333", "CloudTrail", "us-east-1", "rare.json"), cloudtrail_file(records))
    return folder


@pytest.mark.skipif(_scan_packed_ids is None, reason="no C scanner built: no file is joined")
@pytest.mark.parametrize("source", ["demo", "mixed"])
def test_a_batch_joined_gives_the_index_of_its_files_loaded_one_a_batch(source, mixed_trail):
    """A worker joins the scanned files of its batch and resolves them together: the index, the
    sources and what each says are those of the files loaded one a batch."""
    paths = [demo_path()] if source == "demo" else [mixed_trail]
    alone, joined = batches_of(paths, 1), batches_of(paths, 1000)
    assert len(joined) == 1 and len(alone) > 3
    assert [info for batch in alone for info in batch.sources] == joined[0].sources
    assert by_value(merged(joined)) == by_value(merged(alone))


def test_a_file_that_fails_in_a_joined_batch_costs_only_itself(mixed_trail, monkeypatch):
    """A file whose decoding fails part way (here its trail configuration event, where orjson is
    made to fail on it: a bug's stand-in) is skipped, saying so, and the other files of its
    batch keep their events exactly, joined or not; nothing it taught before it failed (an
    alias on a key) is left behind."""
    from kmstui.core import references

    real_loads = references.orjson.loads

    def failing(text):
        if b"PutEventSelectors" in text:
            raise RuntimeError("a bug")
        return real_loads(text)

    monkeypatch.setattr(
        references, "orjson", type("Failing", (), {"loads": staticmethod(failing), "JSONDecodeError": ValueError})
    )
    found = newest_first(discover([str(mixed_trail)])[0])
    [rare] = [file for file in found if file.path.endswith("rare.json")]
    varied = [file for file in found if file is not rare]
    broken = 1  # between the others: they come before and after it
    files = [*varied[:broken], rare, *varied[broken:]]
    [batch] = [load_many(files)]
    said = batch.sources[broken]
    assert said.error == "could not be decoded (RuntimeError: a bug)" and said.events == 0
    others = [file for at, file in enumerate(files) if at != broken]
    expected = load_many(others)
    assert batch.sources[:broken] + batch.sources[broken + 1 :] == expected.sources
    got, wanted = by_value(merged([batch])), by_value(merged([expected]))
    # the skipped file is the only difference in the report; what it taught about aliases
    # before it failed (alias/joined on KEY1) is undone with its rows
    for part in ("origins", "report"):
        del got[part], wanted[part]
    assert got == wanted
    assert got["columns"]["origin"] and all(path != files[broken].path for _, path in got["columns"]["origin"])


@pytest.mark.skipif(_scan_packed_ids is None, reason="no C scanner built: no file is joined")
@pytest.mark.parametrize("odd", ["escaped", "labelled"])
def test_a_context_set_shows_the_pairs_of_its_first_record_in_a_joined_batch(tmp_path, odd):
    """A context set written two ways in one batch: first where the scanner's bulk pass does not
    read it (an escape, left to Python; or beside a grant's constraints that hold no pairs, a
    labelled context with the same pairs), then plain, in another key order, in the next file.
    Joined, the bulk pass would meet the second first; the set shows the first record's pairs,
    as it does with each file resolved on its own."""
    if odd == "escaped":
        record = kms("Decrypt", key_arn(), request={"encryptionContext": {"b": "2", "a": "1"}})
        text = cloudtrail_file([record]).replace(b'"b":"2"', b'"\\u0062":"2"')
    else:
        request = {"encryptionContext": {"b": "2", "a": "1"}, "constraints": {"encryptionContextSubset": {}}}
        text = cloudtrail_file([kms("CreateGrant", key_arn(), request=request)])
    write(tmp_path / "1.json", text)
    plain = kms("Decrypt", key_arn(), request={"encryptionContext": {"a": "1", "b": "2"}})
    write(tmp_path / "2.json", cloudtrail_file([plain]))
    files = [SourceFile(str(tmp_path / name), name) for name in ("1.json", "2.json")]
    batch = load_many(files)
    assert [info.events for info in batch.sources] == [1, 1]
    assert by_value(merged([batch]))["columns"]["ctx"] == [(("", "b", "2"), ("", "a", "1"))] * 2


@pytest.mark.parametrize("at_once", [EventIndex._PRINTS_AT_ONCE, 1000, 7])
def test_a_refresh_orders_newest_first_and_later_rows_first_among_equal_times(varied_trail, at_once):
    """With a file read twice (folded) and without, its rows fingerprinted whole or a slice at
    a time (copies in other slices than their first reading): the order is the alive rows by
    time, newest first, the later row first among equal times."""
    first, second, third = batches_of([varied_trail], 1)
    for plan, folded in (([first, second, third], 0), ([first, second, pickle.loads(pickle.dumps(first)), third], 1)):
        index = EventIndex()
        index._PRINTS_AT_ONCE = at_once
        for batch in copy.deepcopy(plan):
            index.add(batch)
        snapshot = index.refresh()
        assert index.report.duplicates == folded * first.n
        time = index.columns["time"].data[: index.size].tolist()
        assert len(set(time)) < index.size  # equal times: their order is tested too
        expected = sorted(np.flatnonzero(snapshot.alive).tolist(), key=lambda row: (-time[row], -row))
        assert snapshot.order.tolist() == expected
        assert (snapshot.newest, snapshot.oldest) == (max(time), min(time))


def test_a_load_fills_the_room_its_first_batch_made_for_the_rest(varied_trail):
    """After its first file, a load makes room in the index for the rest, by that file's share
    of the bytes: the columns and the arenas of principals and context values then fill in
    place, never copied into larger arrays on the way; and the index is the plain merge's."""
    files = newest_first(discover([str(varied_trail)])[0])
    index = EventIndex()
    after_first: list[list[np.ndarray]] = []

    def arrays() -> list[np.ndarray]:
        principals = index.vocab["principal"]
        return [
            *(column.data for column in index.columns.values()),
            index.contexts.values._data,
            principals._shorts._data,  # type: ignore[attr-defined]
        ]

    loader.load(index, files, on_batch=lambda batch: after_first or after_first.append(arrays()), workers=1)
    assert len(files) == 3 and index.size > 3000
    assert all(before is now for before, now in zip(after_first[0], arrays(), strict=True))
    plain = EventIndex()
    for batch in batches_of([varied_trail], 1):
        plain.add(batch)
    assert [index.event(row) for row in range(index.size)] == [plain.event(row) for row in range(plain.size)]


@pytest.mark.parametrize("factor", [1e9, 1e18])
def test_room_beyond_what_the_process_may_have_is_not_made(varied_trail, factor):
    """Room asked for beyond the address space (a terabyte; beyond what numpy can count): the
    index stays as it was and grows on the way, as without the reservation."""
    first, second, third = batches_of([varied_trail], 1)
    index = EventIndex()
    index.add(copy.deepcopy(first))
    index.reserve(factor)
    for batch in copy.deepcopy([second, third]):
        index.add(batch)
    plain = EventIndex()
    for batch in copy.deepcopy([first, second, third]):
        plain.add(batch)
    assert [index.event(row) for row in range(index.size)] == [plain.event(row) for row in range(plain.size)]


def test_the_principals_table_grows_toward_what_a_load_expects_but_not_far_past_its_need(varied_trail):
    """Room for a thousand times the first batch's principals (a trail where they repeat would
    never need it): the C digest table grows, when it must, to at most 8 times what it needs
    then (a hash table is written all over: too large, it is memory in use), and the codes are
    the plain merge's."""
    first, second, third = batches_of([varied_trail], 1)
    index = EventIndex()
    index.add(copy.deepcopy(first))
    index.reserve(1000)
    for batch in copy.deepcopy([second, third]):
        index.add(batch)
    principals = index.vocab["principal"]
    if principals._compiled:  # type: ignore[attr-defined]
        assert len(principals._slots) * principals._LOAD <= 16 * len(principals)  # type: ignore[attr-defined]
    plain = EventIndex()
    for batch in copy.deepcopy([first, second, third]):
        plain.add(batch)
    assert list(principals.values) == list(plain.vocab["principal"].values)
