"""The C that works on the scanner's output, where the scanner is built: a file's encryption
contexts into its batch's (``_scan.context_codes``; in numpy ``_ContextBuilder._of_scanned``),
text columns into the batch's vocabularies (``_scan.recode``; in numpy ``_recode`` with
``_intern_many``), assumed-role sessions into the batch's principals
(``_scan.session_codes``; in numpy ``PrincipalTable._sessions``), rows grouped by the
combination of their codes (``_scan.group_rows``; in numpy ``_combinations_numpy``) and a
batch's texts joined with their digests (``_scan.encoded_texts``; ``arena.encoded`` and
``arena.text_digests``). Each numpy way is the
reference, and the way without a compiler: the two must build the same batch, to the order of
every vocabulary, over batches of several files (what the batch knows already decides what is
new)."""

from __future__ import annotations

import dataclasses
import json
import random

import numpy as np
import pytest
from test_core_scan import (
    ALMOST,
    DEMO,
    GRANTS,
    OTHER_CONTEXTS,
    PLAIN_CONTEXTS,
    RESOLVED,
    _context,
    _contexts_file,
    _grant,
    delivered,
    mutated,
)

from kmstui.core import arena, contexts, decode, principals
from kmstui.core.decode import load_many
from kmstui.core.sources import SourceFile

from records import REAL, needs_outside_data, write

pytestmark = pytest.mark.skipif(decode._scan is None, reason="the scanner is not built (no C compiler)")


def same(a, b, path: str = "batch") -> None:
    """``a`` and ``b`` hold the same values in the same order, to the last array and dict."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        assert isinstance(a, np.ndarray) and isinstance(b, np.ndarray), path
        assert a.dtype == b.dtype and np.array_equal(a, b), path
    elif dataclasses.is_dataclass(a) and not isinstance(a, type):
        assert type(a) is type(b), path
        for field in dataclasses.fields(a):
            same(getattr(a, field.name), getattr(b, field.name), f"{path}.{field.name}")
    elif isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), path
        for key in a:
            same(a[key], b[key], f"{path}[{key!r}]")
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            same(x, y, f"{path}[{i}]")
    else:
        assert a == b, path


def both_ways(paths, monkeypatch):
    sources = [SourceFile(str(p), str(p)) for p in paths]
    compiled = load_many(sources)
    with monkeypatch.context() as patch:
        patch.setattr(contexts, "_context_codes", None)
        patch.setattr(decode, "_recode_texts", None)
        patch.setattr(principals, "_session_codes", None)
        patch.setattr(decode, "_group_rows", None)
        patch.setattr(decode, "_encoded_texts", None)
        patch.setattr(principals, "_encoded_texts", None)
        reference = load_many(sources)
    return compiled, reference


def test_the_contexts_and_texts_of_a_batch_of_files_are_the_same_in_c(tmp_path, monkeypatch):
    """Files that share some contexts and not others, with contexts Python reads between them
    (escapes, other values), and empty ones: one batch."""
    shapes = PLAIN_CONTEXTS + OTHER_CONTEXTS
    rng = random.Random(7)
    paths = []
    for n in range(6):
        picked = [rng.choice(shapes) for _ in range(12)] + [
            {"aws:s3:arn": f"arn:aws:s3:::bucket/{n}-{i}"} for i in range(5)
        ]
        records = [_context(context) for context in picked]
        for i, record in enumerate(records):  # addresses and agents some files share
            record["sourceIPAddress"] = f"198.51.100.{(n * 3 + i) % 7}"
            record["userAgent"] = "agent \u00e9" if i % 5 == 0 else f"agent-{i % 3}"
        text = json.dumps({"Records": records}, indent=1 if n % 2 else None)
        # the same agent spelt with an escape two ways: two texts of the file, one value
        text = text.replace("\\u00e9", "\\u00E9", 1) if n % 3 == 0 else text
        paths.append(write(tmp_path / f"log{n}.json", text.encode()))
    compiled, reference = both_ways(paths, monkeypatch)
    same(compiled, reference)
    assert len(compiled.contexts.counts) > 30 and compiled.log_files
    assert "agent \u00e9" in compiled.vocab["agent"] and len(compiled.vocab["ip"]) == 8


def test_the_sessions_of_a_batch_of_files_are_the_same_in_c(tmp_path, monkeypatch):
    """Assumed-role sessions the scanner resolves, some files sharing them, others of the shapes
    left to Python between them (the general path's sessions are found again by short form)."""
    rng = random.Random(11)
    paths = []
    for n in range(6):
        records = [rng.choice(RESOLVED + ALMOST[:3]) for _ in range(20)]
        paths.append(write(tmp_path / f"log{n}.json", delivered(records)))
    compiled, reference = both_ways(paths, monkeypatch)
    same(compiled, reference)
    assert len(compiled.principals.kind) > 5


def test_the_grant_constraints_of_a_batch_of_files_are_the_same_in_c(tmp_path, monkeypatch):
    """CreateGrant constraints of every shape (some the scanner reads, some left to Python, one
    naming a trail), files sharing some and with contexts of their own between them."""
    rng = random.Random(13)
    paths = []
    for n in range(6):
        records = [_grant(rng.choice(GRANTS)) for _ in range(10)] + [_grant({"encryptionContextSubset": {"n": str(n)}})]
        records += [_context(rng.choice(PLAIN_CONTEXTS)) for _ in range(3)]
        paths.append(write(tmp_path / f"log{n}.json", delivered(rng.sample(records, len(records)))))
    compiled, reference = both_ways(paths, monkeypatch)
    same(compiled, reference)
    assert "grant constraint (subset)" in compiled.contexts.labels


def test_the_demo_reads_the_same_contexts_in_c(monkeypatch):
    paths = sorted(DEMO.rglob("*.json.gz"))[:40]
    assert paths, f"no delivered log files in {DEMO}"
    compiled, reference = both_ways(paths, monkeypatch)
    same(compiled, reference)


@needs_outside_data(REAL)
def test_the_public_records_read_the_same_contexts_in_c(monkeypatch):
    paths = sorted(p for p in REAL.rglob("*") if p.suffix in (".json", ".jsonl", ".gz", ".log"))
    for start in range(0, len(paths), 14):
        compiled, reference = both_ways(paths[start : start + 14], monkeypatch)
        same(compiled, reference)


def test_a_thousand_mutated_context_files_read_the_same_in_c(tmp_path, monkeypatch):
    rng = random.Random(20261202)
    base = _contexts_file(PLAIN_CONTEXTS[:5] + OTHER_CONTEXTS[:4] + PLAIN_CONTEXTS[:3])
    starts = [i for i in range(len(base)) if base.startswith(b'"encryptionContext"', i)]

    def in_a_context(text: bytearray) -> int:
        return min(rng.choice(starts) + rng.randrange(20, 120), len(text) - 1)

    for batch in range(100):  # ten files a batch: each sees what the earlier ones added
        paths = [write(tmp_path / f"log{i}.json", mutated(rng, base, 3, in_a_context)) for i in range(10)]
        compiled, reference = both_ways(paths, monkeypatch)
        same(compiled, reference, f"batch {batch}")


def _arguments(**changes) -> list:
    """context_codes's arguments for two texts of one pair each, with ``changes``."""
    u32, i64 = (lambda *v: np.array(v, dtype=np.uint32)), (lambda *v: np.array(v, dtype=np.int64))
    given = {
        "known": {},
        "keys": {},
        "values": {},
        "raws": [None, b'{"a":"1"}', b'{"a":"2"}'],
        "used": i64(0, 1, 2),
        "counts": u32(1, 1),
        "starts": i64(0, 1),
        "pair_keys": u32(1, 1),
        "pair_values": u32(1, 2),
        "key_texts": ["a"],
        "value_texts": ["1", "2"],
        "first": 1,
        "subsets": None,
        "labels": None,
    }
    return list({**given, **changes}.values())


def test_context_codes_answers_as_documented():
    known, keys, values = {b'{"a":"2"}': 9}, {"z": 0}, {}
    answers, sizes, pairs, key_codes, value_codes, left, added = decode._scan.context_codes(
        *_arguments(known=known, keys=keys, values=values, first=5)
    )
    assert np.frombuffer(answers, np.uint32).tolist() == [0, 5, 9]
    assert np.frombuffer(sizes, np.int64).tolist() == [1] and np.frombuffer(pairs, np.int64).tolist() == [0]
    assert np.frombuffer(key_codes, np.uint32).tolist() == [1] and np.frombuffer(value_codes, np.uint32).tolist() == [0]
    # a new set is known by its identity: a compact text in key order is its own
    assert (left, added, known, keys, values) == ([], 1, {b'{"a":"2"}': 9, b'{"a":"1"}': 5}, {"z": 0, "a": 1}, {"1": 0})


def test_context_codes_know_a_set_by_its_pairs():
    """Three texts of one set (two key orders, and one spaced) and another set: the first text
    adds the set, in its own order, known by its identity; the others take its code, and are
    known from now on."""
    u32, i64 = (lambda *v: np.array(v, dtype=np.uint32)), (lambda *v: np.array(v, dtype=np.int64))
    raws = [None, b'{"b":"2","a":"1"}', b'{"a":"1","b":"2"}', b'{"c":"3"}', b'{ "a": "1", "b": "2" }']
    known: dict = {}
    answers, sizes, pairs, key_codes, _values, left, added = decode._scan.context_codes(
        *_arguments(
            known=known,
            raws=raws,
            used=i64(1, 2, 3, 4),
            counts=u32(2, 2, 1, 2),
            starts=i64(0, 2, 4, 5),
            pair_keys=u32(2, 1, 1, 2, 3, 1, 2),
            pair_values=u32(2, 1, 1, 2, 3, 1, 2),
            key_texts=["a", "b", "c"],
            value_texts=["1", "2", "3"],
        )
    )
    assert np.frombuffer(answers, np.uint32).tolist() == [1, 1, 2, 1]
    assert np.frombuffer(sizes, np.int64).tolist() == [2, 1] and np.frombuffer(pairs, np.int64).tolist() == [0, 1, 4]
    assert np.frombuffer(key_codes, np.uint32).tolist() == [1, 0, 2]  # "b", "a": the first text's order
    assert (left, added) == ([], 2)
    assert known == {raws[2]: 1, raws[3]: 2, raws[4]: 1}  # raws[2] and raws[3]: identities
    assert contexts.identity([("", [("b", "2"), ("a", "1")])]) == raws[2]


def test_context_codes_know_a_grant_by_its_labelled_pairs():
    """A grant's subset and equals pairs are two groups: the same pair under the other label is
    another set, the same pairs in another order within a group the same one."""
    u32, i64 = (lambda *v: np.array(v, dtype=np.uint32)), (lambda *v: np.array(v, dtype=np.int64))
    raws = [None, b"s:b,a", b"s:a,b", b"e:a,b"]
    known: dict = {}
    answers, *_rest, added = decode._scan.context_codes(
        *_arguments(
            known=known,
            raws=raws,
            used=i64(1, 2, 3),
            counts=u32(2, 2, 2),
            starts=i64(0, 2, 4),
            pair_keys=u32(2, 1, 1, 2, 1, 2),
            pair_values=u32(2, 1, 1, 2, 1, 2),
            key_texts=["a", "b"],
            value_texts=["1", "2"],
            subsets=u32(2, 2, 0),
            labels=('sub"set', "equals"),
        )
    )
    assert np.frombuffer(answers, np.uint32).tolist() == [1, 1, 2] and added == 2
    subset = contexts.identity([('sub"set', [("a", "1"), ("b", "2")])])
    equals = contexts.identity([("equals", [("b", "2"), ("a", "1")])])
    assert subset == b'\0"sub\\"set":{"a":"1","b":"2"}' and equals == b'\0"equals":{"a":"1","b":"2"}'
    assert known == {subset: 1, raws[2]: 1, equals: 2}


def test_context_codes_write_identities_as_the_reference_does():
    """Random pairs (quotes, backslashes, non-ASCII, empty texts, keys twice), their texts compact
    or spaced, and labels: each text's set is the one whose identity contexts.identity writes."""
    rng = random.Random(31)
    letters = ["a", "b", '"', "\\", "\u00e9", "\U0001f600", ":", ",", "{", ""]
    for _ in range(400):
        key_texts = ["".join(rng.choice(letters) for _ in range(rng.randint(0, 3))) for _ in range(4)]
        value_texts = ["".join(rng.choice(letters) for _ in range(rng.randint(0, 3))) for _ in range(4)]
        sizes = [rng.randint(0, 5) for _ in range(rng.randint(1, 6))]
        keys = [rng.randint(1, 4) for _ in range(sum(sizes))]
        values = [rng.randint(1, 4) for _ in range(sum(sizes))]
        grants = rng.random() < 0.5
        subsets = [rng.randint(0, size) for size in sizes]
        raws, at = [None], 0
        for text, size in enumerate(sizes):  # each text as a serialiser writes its pairs (compact or spaced)
            pairs = [
                (key_texts[k - 1], value_texts[v - 1])
                for k, v in zip(keys[at : at + size], values[at : at + size], strict=True)
            ]
            at += size
            separator = rng.choice([",", ", "])
            raw = "{" + separator.join(f"{json.dumps(k)}:{json.dumps(v)}" for k, v in pairs) + "}"
            raws.append((f"{subsets[text]} {raw}" if grants else raw).encode())  # a grant's text says its split
        known: dict = {}
        answers, *_rest = decode._scan.context_codes(
            *_arguments(
                known=known,
                raws=raws,
                used=np.arange(len(sizes) + 1, dtype=np.int64),
                counts=np.array(sizes, np.uint32),
                starts=(np.cumsum(sizes) - sizes).astype(np.int64),
                pair_keys=np.array(keys, np.uint32),
                pair_values=np.array(values, np.uint32),
                key_texts=key_texts,
                value_texts=value_texts,
                subsets=np.array(subsets, np.uint32) if grants else None,
                labels=("s", "e") if grants else None,
            )
        )
        at = 0
        for text, size in enumerate(sizes):
            pairs = [
                (key_texts[k - 1], value_texts[v - 1])
                for k, v in zip(keys[at : at + size], values[at : at + size], strict=True)
            ]
            at += size
            groups = [("s", pairs[: subsets[text]]), ("e", pairs[subsets[text] :])] if grants else [("", pairs)]
            code = np.frombuffer(answers, np.uint32)[text + 1]
            assert (known[contexts.identity(groups)] == code) if size else code == 0


@pytest.mark.parametrize(
    "changes",
    [
        {"used": np.array([0, 3], np.int64)},  # a code past the texts
        {"used": np.array([0, -1], np.int64)},
        {"starts": np.array([0, 5], np.int64)},  # pairs past the pairs
        {"counts": np.array([1, 7], np.uint32)},
        {"pair_values": np.array([1, 3], np.uint32)},  # a value past the value texts
        {"pair_keys": np.array([1], np.uint32)},  # unequal sizes
        {"used": np.array([0, 1, 2], np.uint32)},  # not int64
        {"raws": [None, b"x"]},
        {"first": 0},
        {"key_texts": [b"a"]},  # not a str
        {"subsets": np.array([2, 0], np.uint32), "labels": ("s", "e")},  # more subset pairs than pairs
        {"subsets": np.array([1], np.uint32), "labels": ("s", "e")},  # unequal sizes
        {"subsets": np.array([1, 1], np.uint32)},  # no labels
        {"labels": ("s", "e")},  # labels without subsets
    ],
)
def test_context_codes_refuses_what_does_not_fit(changes):
    with pytest.raises(ValueError):
        decode._scan.context_codes(*_arguments(**changes))


def test_recode_answers_as_documented():
    vocab = decode._Codes()
    vocab["known"] = 1
    column = decode._scan.recode(vocab, [None, "new", "known", "later", "new"], np.array([3, 0, 1, 2, 4, 1], np.uint32))
    assert np.frombuffer(column, np.uint32).tolist() == [3, 0, 2, 1, 2, 2]  # "new" before "later": in code order
    assert list(vocab.items()) == [(None, 0), ("known", 1), ("new", 2), ("later", 3)]


@pytest.mark.parametrize(
    "values, codes",
    [([None, "a"], np.array([0, 2], np.uint32)), ([], np.array([], np.uint32)), ([None, "a"], b"\x01\x00\x00")],
)
def test_recode_refuses_what_does_not_fit(values, codes):
    with pytest.raises(ValueError):
        decode._scan.recode(decode._Codes(), values, codes)


def test_session_codes_answers_as_documented():
    known = {1: {"role/a (s1)": 4}}
    shorts = ["", "x", "y", "z", "role/a (s1)"]
    sessions = [None, "role/a (s1)", "role/b (s2)"]
    kinds, codes = np.array([1, 1, 0, 1, 0, 1], np.uint32), np.array([1, 2, 1, 0, 2, 2], np.uint32)
    found, added = decode._scan.session_codes(known, shorts, kinds, codes, sessions)
    # (s1, kind 1) known; (s2, 1), (s1, 0), (s2, 0) new, numbered in the order first met
    assert np.frombuffer(found, np.uint32).tolist() == [4, 5, 6, 0, 7, 5]
    assert np.frombuffer(added, np.uint32).tolist() == [1, 0, 0]
    assert shorts[5:] == ["role/b (s2)", "role/a (s1)", "role/b (s2)"]
    assert known == {1: {"role/a (s1)": 4, "role/b (s2)": 5}, 0: {"role/a (s1)": 6, "role/b (s2)": 7}}


def test_session_codes_match_the_reference_over_random_files():
    """Files of sessions under a few kinds, several to a batch, each file seeing what the earlier
    ones added: the C and the numpy reference give the same codes, principals and kinds."""
    rng = random.Random(17)
    for _ in range(200):
        tables = principals.PrincipalTable(), principals.PrincipalTable()
        for _file in range(rng.randint(1, 4)):
            sessions = [None, *(f"role/r ({rng.randint(0, 30)})" for _ in range(rng.randint(0, 12)))]
            rows = rng.randint(0, 40)
            codes = np.array([rng.randint(1, len(sessions) - 1) if len(sessions) > 1 else 0 for _ in range(rows)])
            accounts = (np.array([rng.randint(0, 2) for _ in range(rows)], np.uint32), [None, "111", "222"])
            invoked = (np.array([rng.randint(0, 1) for _ in range(rows)], np.uint32), [None, "svc"])
            answers = []
            for table, way in zip(tables, (principals._session_codes, None), strict=True):
                kept, principals._session_codes = principals._session_codes, way
                try:
                    answers.append(table.sessions(codes.astype(np.uint32), sessions, accounts, invoked))
                finally:
                    principals._session_codes = kept
            assert answers[0].tolist() == answers[1].tolist()
            same(tables[0].part(), tables[1].part())


@pytest.mark.parametrize(
    "kinds, codes, sessions",
    [
        (np.array([0], np.uint32), np.array([2], np.uint32), [None, "a"]),  # a code past the sessions
        (np.array([0, 0], np.uint32), np.array([1], np.uint32), [None, "a"]),  # unequal sizes
        (np.array([0], np.uint32), b"\x01\x00", [None, "a"]),  # an odd size
        (np.array([0], np.uint32), np.array([1], np.uint32), [None, b"a"]),  # not a str
        (np.array([0xFFFFFFFF], np.uint32), np.array([1], np.uint32), [None, "a"]),  # no such kind
        (np.array([], np.uint32), np.array([], np.uint32), []),  # no None first
    ],
)
def test_session_codes_refuses_what_does_not_fit(kinds, codes, sessions):
    with pytest.raises(ValueError):
        decode._scan.session_codes({}, [""], kinds, codes, sessions)


def test_group_rows_match_the_reference_over_random_columns():
    rng = random.Random(23)
    for _ in range(2000):
        rows = rng.randint(0, 60)
        widths = [rng.choice([0, 1, 2, 3, 40]) for _ in range(rng.randint(0, 5))]
        columns = [(np.array([rng.randint(0, w) for _ in range(rows)], np.uint32), [None] * (w + 1)) for w in widths]
        if not columns:
            continue
        compiled, reference = decode._combinations(columns), decode._combinations_numpy(columns)
        for a, b in zip(compiled, reference, strict=True):
            assert a.dtype == b.dtype and a.tolist() == b.tolist(), columns


def test_group_rows_answers_as_documented():
    group, firsts = decode._scan.group_rows(
        [np.array([1, 2, 1, 2, 1], np.uint32), np.array([0, 5, 0, 5, 7], np.uint32)], 5
    )
    assert np.frombuffer(group, np.int64).tolist() == [0, 1, 0, 1, 2]
    assert np.frombuffer(firsts, np.int64).tolist() == [0, 1, 4]


@pytest.mark.parametrize(
    "columns, rows",
    [([np.array([1, 2], np.uint32)], 3), ([np.array([1, 2], np.uint32), b"\x00"], 2), ([], -1), ([1], 1)],
)
def test_group_rows_refuses_what_does_not_fit(columns, rows):
    with pytest.raises((ValueError, TypeError)):
        decode._scan.group_rows(columns, rows)


def test_encoded_texts_are_the_references_blob_ends_and_digests():
    rng = random.Random(29)
    letters = "ab/( )\u00e9\u202e\U0001f600\x00"
    for _ in range(500):
        texts = [
            "".join(rng.choice(letters) for _ in range(rng.choice([0, 1, 7, 70]))) for _ in range(rng.randint(0, 20))
        ]
        found = decode._scan.encoded_texts(texts, True)
        assert found is not None
        blob, lengths = arena.encoded(texts)
        ends = np.zeros(len(texts) + 1, np.int64)
        np.cumsum(lengths, out=ends[1:])
        assert found[0] == blob and np.frombuffer(found[1], np.int64).tolist() == ends.tolist()
        digests = arena.text_digests(np.frombuffer(blob, np.uint8), ends)
        assert np.frombuffer(found[2], np.uint64).tolist() == digests.tolist()
        assert decode._scan.encoded_texts(texts, False)[2] is None


def test_encoded_texts_leave_what_is_not_plain_to_python():
    assert decode._scan.encoded_texts(["a", "\ud800"], True) is None  # a lone surrogate
    assert decode._scan.encoded_texts(["a", b"b"], True) is None
    assert decode._scan.encoded_texts([], True) == (b"", bytes(8), b"")


def test_a_batchs_principals_and_context_values_are_the_same_in_c(monkeypatch):
    """What crosses the pipe: the short forms' blob, ends and digests, the context values' blob."""
    table = principals.PrincipalTable()
    table.sessions(
        np.array([1, 2, 1], np.uint32),
        [None, "role/a (s\u00e9)", "role/b (\U0001f600)"],
        *[(np.zeros(3, np.uint32), [None])] * 2,
    )
    compiled = table.part()
    with monkeypatch.context() as patch:
        patch.setattr(principals, "_encoded_texts", None)
        reference = table.part()
    same(compiled, reference)
    values = ["arn:aws:s3:::b/\u00e9", "", "x"]
    compiled_texts = decode._texts(values)
    with monkeypatch.context() as patch:
        patch.setattr(decode, "_encoded_texts", None)
        reference_texts = decode._texts(values)
    assert compiled_texts.blob == reference_texts.blob and compiled_texts.ends.tolist() == reference_texts.ends.tolist()
    assert compiled_texts.ends.dtype == reference_texts.ends.dtype and list(compiled_texts) == values
