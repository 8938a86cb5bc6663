"""Mutation fuzz of the C that works on the scanner's output (kmstui/core/_scan.c,
context_codes: a file's encryption contexts into its batch's, each context set known by its
identity, written from its pairs; recode: text columns into the
batch's vocabularies; session_codes: assumed-role sessions into the batch's principals;
group_rows: rows grouped by the combination of their codes; encoded_texts: a batch's texts joined,
with their digests; packed_ids: a batch's event ids packed) under
AddressSanitizer and UndefinedBehaviorSanitizer, outside CI: batches of mutated files of
contexts and callers of every shape loaded whole (the scanner's real output, each batch
knowing what its earlier files added), checked against the numpy references
(contexts._ContextBuilder._of_scanned, decode._recode, principals.PrincipalTable._sessions,
decode._combinations_numpy, arena.encoded and text_digests, batch._packed_ids_numpy),
and each function called with arguments of random sizes and codes (they must refuse, never
read out of bounds).

Build a sanitised copy of the extension as scripts/fuzz_scan.py says, then run, from the
repository root:

    LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)" \\
        ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \\
        PYTHONMALLOC=malloc python scripts/fuzz_contexts.py SECONDS SEED

then rebuild the extension normally (pip install -e .).
"""

import random
import sys
import time
import uuid
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
import test_core_context_codes as c  # noqa: E402 - the tests' comparison
import test_core_scan as t  # noqa: E402 - the test file's samples

from kmstui.core import _scan, arena, batch, contexts, decode, principals  # noqa: E402
from kmstui.core.sources import SourceFile  # noqa: E402

seconds, seed = float(sys.argv[1]), int(sys.argv[2])
rng = random.Random(seed)
shapes = t.PLAIN_CONTEXTS + t.OTHER_CONTEXTS
shuffle = random.Random(seed + 1)
bases = [
    t._contexts_file(shapes),
    t._contexts_file(shapes, spaced=True),
    t.delivered([t._grant(g) for g in t.GRANTS] + [t._context(s) for s in shapes]),
    t.delivered(t.RESOLVED * 3 + t.ALMOST + t.RESOLVED),  # assumed-role sessions, a batch sharing some
    # one context set in several texts (each record's keys in its own order, escapes where none were
    # needed): what context_codes knows by their identity
    t.delivered([t.synth.shuffled(t._context(s), shuffle) for s in shapes * 3]),
    t.delivered([t.synth.shuffled(t._grant(g), shuffle) for g in t.GRANTS * 3]).replace(b'"a"', b'"\\u0061"'),
]
files: dict[str, bytes] = {}
decode.read_source = lambda path, bounded=True, repair=True: files[path]  # the files are held in memory


def in_a_context_or_identity(text: bytearray) -> int:
    starts = [i for i in range(len(text)) if text.startswith((b'"encryptionContext"', b'"userIdentity"'), i)] or [0]
    return min(rng.choice(starts) + rng.randrange(0, 120), len(text) - 1)


def a_batch() -> None:
    files.clear()
    for i in range(rng.randint(1, 6)):
        files[f"f{i}"] = t.mutated(rng, rng.choice(bases), rng.randint(1, 6), in_a_context_or_identity)
    sources = [SourceFile(name, name) for name in files]
    compiled = decode.load_many(sources)
    modules = (contexts, decode, principals, decode, decode, principals, batch)
    names = (
        "_context_codes",
        "_recode_texts",
        "_session_codes",
        "_group_rows",
        "_encoded_texts",
        "_encoded_texts",
        "_packed_ids",
    )
    kept = [getattr(module, name) for module, name in zip(modules, names, strict=True)]
    for module, name in zip(modules, names, strict=True):
        setattr(module, name, None)
    try:
        reference = decode.load_many(sources)
    finally:
        for module, name, value in zip(modules, names, kept, strict=True):
            setattr(module, name, value)
    c.same(compiled, reference)


A_FEW_IDS = [str(uuid.UUID(int=rng.getrandbits(128))).encode() for _ in range(8)]
A_FEW_IDS += [A_FEW_IDS[0].upper(), bytes(36), b"00000000-0000-0000-0000-000000000000", b"x".ljust(36, b"\0")]


def random_arguments() -> None:
    texts = rng.randint(0, 6)
    pairs = rng.randint(0, 12)
    size = lambda: rng.choice([pairs, pairs, rng.randint(0, 14)])  # noqa: E731 - mostly right, sometimes not
    u32 = lambda n, top: np.array([rng.randint(0, top) for _ in range(n)], dtype=np.uint32)  # noqa: E731
    counts = np.array([rng.choice([0, 1, 2, 3, 0xFFFFFFFF]) for _ in range(texts)], dtype=np.uint32)
    starts = np.array([rng.randint(-2, pairs + 2) for _ in range(rng.choice([texts, texts, texts + 1]))], np.int64)
    keys = [rng.choice(["a", "b", ""]) for _ in range(rng.randint(0, 3))]
    values = [rng.choice(["1", "2", "x"]) for _ in range(rng.randint(0, 3))]
    raws = [None, *(f"r{rng.randint(0, 4)}".encode() for _ in range(rng.choice([texts, texts, texts + 1])))]
    used = np.array([rng.randint(-1, texts + 1) for _ in range(rng.randint(0, 8))], dtype=np.int64)
    known = {b"r1": rng.choice([1, 2, -1, 1 << 40])} if rng.random() < 0.3 else {}
    if rng.random() < 0.2:  # a text that is its own identity, known to hold another code
        known[b'{"a":"1"}'] = rng.choice([3, -1, 1 << 40])
        raws = [None, *(rng.choice([b'{"a":"1"}', b"r1", b'{"a":"1","b":"2"}']) for _ in raws[1:])]
    grant = rng.random() < 0.5
    subsets = np.array([rng.randint(0, 4) for _ in range(rng.choice([texts, texts, texts + 1]))], dtype=np.uint32)
    keys = [*keys, *(rng.choice(['"', "\\", "\u00e9", "\ud800", b"k", 1]) for _ in range(rng.random() < 0.2))]
    try:
        _scan.context_codes(
            known,
            {},
            {},
            raws,
            used,
            counts,
            starts,
            u32(size(), len(keys) + 1),
            u32(size(), len(values) + 1),
            keys,
            values,
            rng.randint(0, 3),
            subsets if grant else None,
            rng.choice([("s", "e"), ("s",), None, ("s", 1)]) if grant else rng.choice([None, None, ("s", "e")]),
        )
    except (ValueError, TypeError):
        pass
    values = [None, *(rng.choice(["a", "b", "c"]) for _ in range(rng.randint(-1, 5)))][: rng.randint(0, 7)]
    try:
        _scan.recode(decode._Codes(), values, u32(rng.randint(0, 9), len(values)))
    except ValueError:
        pass
    sessions = [None, *(rng.choice(["a", "b", b"c", 1]) for _ in range(rng.randint(-1, 5)))][: rng.randint(0, 7)]
    known = rng.choice([{}, {0: {"a": rng.choice([1, -1, 1 << 40])}}, {1: "not a dict"}])
    rows = rng.randint(0, 9)
    kinds = np.array([rng.choice([0, 1, 2, 0xFFFFFFFF]) for _ in range(rng.choice([rows, rows, rows + 1]))], np.uint32)
    try:
        _scan.session_codes(known, [""], kinds, u32(rows, len(sessions)), sessions)
    except ValueError:
        pass
    rows = rng.randint(0, 30)
    columns = [(u32(rows, w), [None] * (w + 1)) for w in (rng.randint(0, 4) for _ in range(rng.randint(1, 4)))]
    compiled, reference = decode._combinations(columns), decode._combinations_numpy(columns)
    assert all(a.tolist() == b.tolist() for a, b in zip(compiled, reference, strict=True))
    try:
        picked = [u32(rng.choice([rows, rows + 1]), 3) for _ in range(rng.randint(0, 3))]
        _scan.group_rows(picked + [1] * (rng.random() < 0.1), rng.choice([rows, rows, -1]))
    except (ValueError, TypeError):
        pass
    texts = ["".join(rng.choice("a\u00e9\U0001f600\ud800") for _ in range(rng.randint(0, 9))) for _ in range(rows)]
    found = _scan.encoded_texts(texts, True)
    if found is not None:
        blob, lengths = arena.encoded(texts)
        ends = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        assert found[0] == blob and found[1] == ends.tobytes()
        assert found[2] == arena.text_digests(np.frombuffer(blob, np.uint8), ends).tobytes()
    ids = bytearray(b"".join(rng.choice(A_FEW_IDS) for _ in range(rows)))  # UUIDs, some spoilt, or any bytes
    for _ in range(rng.randint(0, 4)) if ids else ():
        ids[rng.randrange(len(ids))] = rng.choice([rng.randrange(256), *b"-0aAfFgG"])
    if rng.random() < 0.2:
        ids = ids[: rng.randint(0, len(ids))]
    try:
        packed, upper, odd = _scan.packed_ids(bytes(ids))
    except ValueError:
        assert len(ids) % 36
    else:
        reference = batch._packed_ids_numpy(np.frombuffer(bytes(ids), "S36"))
        assert bytes(packed) == reference[0].tobytes() and upper == reference[1].tobytes() and odd == list(reference[2])


n = 0
end = time.monotonic() + seconds
while time.monotonic() < end:
    a_batch()
    for _ in range(20):
        random_arguments()
    n += 1
print(f"seed {seed}: {n} batches (and {20 * n} calls of each with random arguments), no report")
