"""Principals end to end: a worker's batch carries them as columns (no Identity object), the
index matches them in numpy, and the outcome is what a plain dictionary would give: the same
codes, the same values, byte for byte, whatever the trail and however files are batched."""

from __future__ import annotations

import json
import pickle
import random
from pathlib import Path

import numpy as np
import pytest

from benchmarks import actiontrail_synth, synth
from kmstui.core import arena, decode, model
from kmstui.core.arena import search_text
from kmstui.core.batch import PrincipalPart
from kmstui.core.decode import load_many
from kmstui.core.index import EventIndex
from kmstui.core.sources import discover
from kmstui.core.text import clean
from kmstui.core.vocab import Vocabulary

from records import (
    AWS_DOCS,
    KEY1,
    REAL,
    REPO,
    assumed_role,
    iam_user,
    key_arn,
    kms,
    needs_outside_data,
    run_main,
    write,
)

DEMO = REPO / "assets/demo"

MERGES = ["C", "numpy"] if arena.COMPILED_MERGE else ["numpy"]  # the C merge where the scanner is built


@pytest.fixture(params=MERGES, autouse=True)
def merge(request, monkeypatch):
    """Every test here runs on both ways of merging a batch's principals: the C (the index's
    digest table, _scan.merge_principals) and numpy's sorted digests (the reference)."""
    monkeypatch.setattr(arena, "COMPILED_MERGE", request.param == "C")
    return request.param


def _files(*folders: Path) -> list:
    files, _ = discover([str(folder) for folder in folders])
    return files


def _merged_like_a_plain_vocabulary(files: list, per_batch: int | list[list[int]]) -> EventIndex:
    """Load ``files`` in batches of ``per_batch`` (or the batches of file numbers given) into an
    index, beside a plain dictionary vocabulary fed each batch's principals as Identity objects;
    check every batch's codes and, at the end, every value against it."""
    index = EventIndex()
    plain = Vocabulary[model.Identity](search_text)
    if isinstance(per_batch, int):
        per_batch = [
            list(range(start, min(start + per_batch, len(files)))) for start in range(0, len(files), per_batch)
        ]
    for numbers in per_batch:
        batch = load_many([files[number] for number in numbers])
        want = plain.remap(list(batch.principals))  # None first: code 0 stays 0
        before = index.size
        local = batch.columns.get("principal", np.zeros(0, np.uint32))
        index.add(batch)
        got = index.columns["principal"].data[before : index.size]
        assert got.tolist() == want[local].tolist()
    assert len(index.vocab["principal"]) == len(plain)
    assert list(index.vocab["principal"].values) == list(plain.values)
    return index


def _varied_trail(folder: Path, files: int = 4) -> Path:
    """A high-cardinality trail as the benchmark writes it: a new session every few calls."""
    for number in range(files):
        synth._write_file((str(folder), number, 7, 0.6, "varied", False))
    return folder


@pytest.mark.parametrize("per_batch", [1, 3])
def test_the_demo_merges_as_a_plain_vocabulary_would(per_batch):
    index = _merged_like_a_plain_vocabulary(_files(DEMO), per_batch)
    assert len(index.vocab["principal"]) > 10


@pytest.mark.parametrize("per_batch", [1, 4])
def test_a_high_cardinality_trail_merges_as_a_plain_vocabulary_would(tmp_path, per_batch):
    files = _files(_varied_trail(tmp_path))
    index = _merged_like_a_plain_vocabulary(files, per_batch)
    principals = index.vocab["principal"]
    assert len(principals) > 2000  # nearly a principal per few events: sessions, repeated across files
    if per_batch > 1:  # the files share sessions: a batch of them sends each once, for the index to match once
        batch = load_many(files)
        assert len(batch.principals) == len(set(batch.principals))
        assert sum(len(load_many([file]).principals) - 1 for file in files) > len(batch.principals) - 1


WEAK_DIGESTS = {
    "four bits": lambda real: lambda *args: real(*args) & np.uint64(0xF),
    "the part alone": lambda real: lambda data, ends, parts, texts=None: parts.astype(np.uint64),
}


@pytest.mark.parametrize("weak", WEAK_DIGESTS, ids=list(WEAK_DIGESTS))
def test_principals_whose_digests_clash_still_merge_as_a_plain_vocabulary_would(tmp_path, monkeypatch, weak):
    """Digests made weak: nearly every principal shares its digest with others, new or kept,
    in the batch or in the index, of another kind or of the same (then only its bytes tell
    it apart). The codes must not change, only the time they take."""
    monkeypatch.setattr(arena, "principal_digests", WEAK_DIGESTS[weak](arena.principal_digests))
    files = _files(_varied_trail(tmp_path, files=3))
    # repeats inside a batch, then the same principals again, and others of the same kinds
    _merged_like_a_plain_vocabulary(files, [[0], [0, 1], [2, 1, 0]])


@needs_outside_data(AWS_DOCS)
def test_aws_examples_merge_as_a_plain_vocabulary_would():
    _merged_like_a_plain_vocabulary(_files(AWS_DOCS), 2)


@needs_outside_data(REAL)
def test_the_public_corpus_merges_as_a_plain_vocabulary_would():
    files = [file for file in _files(REAL) if not file.path.endswith("PROVENANCE.md")]
    _merged_like_a_plain_vocabulary(files, 7)


def test_actiontrail_events_merge_as_a_plain_vocabulary_would(tmp_path):
    actiontrail_synth.write_oss(actiontrail_synth.week()[:3000], tmp_path / "oss")
    actiontrail_synth.write_oss(actiontrail_synth.hostile(), tmp_path / "hostile", lines_every=0)
    index = _merged_like_a_plain_vocabulary(_files(tmp_path / "oss", tmp_path / "hostile"), 2)
    assert any(p is not None and p.short.startswith("assumed-role/") for p in index.vocab["principal"].values)


# What only an eye would notice: an invisible character, a right-to-left override, a line
# separator, a tag character, a non-ASCII letter. JSON may hold them raw, and then the scanner
# resolves the session itself; escaped, the general path does.
SESSION = "job\u200b-\u202eevil\u2028é\U000e0041"


@pytest.mark.parametrize("raw", [True, False], ids=["scanned", "escaped"])
def test_a_hostile_session_survives_byte_for_byte_and_is_shown_escaped(tmp_path, capsys, raw):
    records = [
        kms("Decrypt", key_arn(KEY1), identity=assumed_role("Role\u00df", SESSION)),
        kms("Encrypt", key_arn(KEY1), identity=iam_user("Ad\u200bmin\x1b[31m")),
    ]
    text = json.dumps({"Records": records}, ensure_ascii=not raw, separators=(",", ":")).encode()
    path = write(tmp_path / "log.json", text)
    if raw:
        scanned = decode._scan_columns(text)
        assert scanned is None or scanned[2][decode.SESSIONS][1][1:] == [f"role/Role\u00df ({SESSION})"]
    index = _merged_like_a_plain_vocabulary(_files(path), 1)
    shorts = {p.short for p in index.vocab["principal"].values if p is not None}
    assert shorts == {f"role/Role\u00df ({SESSION})", "user/Ad\u200bmin\x1b[31m"}
    code, out, _ = run_main(capsys, "events", path, "--format", "table", "-q")
    assert code == 0 and clean(f"role/Role\u00df ({SESSION})") in out
    assert "\u200b" not in out and "\u202e" not in out and "\x1b" not in out
    code, out, _ = run_main(capsys, "events", path, "--format", "jsonl", "-q")
    assert code == 0 and "\\u202e" in out and "\\u200b" in out and "\\udb40\\udc41" in out
    assert {json.loads(line)["principal"] for line in out.splitlines()} == shorts


def test_a_principal_part_pickles_and_reads_back_whole():
    identities = [
        model.Identity("role/R (s\u200b)", None, "AssumedRole", "1", "s3.amazonaws.com"),
        model.Identity("user/Ü\x1b", "arn:aws:iam::1:user/Ü\x1b", "IAMUser", "1", None),
        model.Identity("", "", None, None, None),  # empty texts are not missing ones
        model.Identity("lone\ud800surrogate", None, "AWSService", None, None),
        model.Identity("x" * 70_000, None, "AssumedRole", "2", None),
    ]
    part = PrincipalPart.of_identities(identities)
    back = pickle.loads(pickle.dumps(part, protocol=pickle.HIGHEST_PROTOCOL))
    assert back == part and list(back) == [None, *identities]
    assert isinstance(back.shorts, bytes) and back.ends.dtype == np.uint32
    assert back[-1] == identities[-1] and back[1:3] == identities[:2]
    with pytest.raises(IndexError):
        back[len(identities) + 1]


def _plain_parts(index: EventIndex, part: str) -> tuple[list, list[int]]:
    """A principal part as a plain build gives it: an Identity per principal, a dictionary."""
    plain = Vocabulary[str]()
    codes = [plain.code(getattr(p, part) if p is not None else None) for p in index.vocab["principal"].values]
    return list(plain.values), codes


@pytest.mark.parametrize("weak", [False, True], ids=["digests", "four-bit digests"])
def test_principal_parts_are_what_a_plain_build_gives_as_the_index_grows(tmp_path, monkeypatch, weak):
    """group by principal, identity or account, and ordering by principal, read each principal's
    part from the vocabulary's columns, a distinct value at a time: the values and codes are
    those an Identity per principal would give, after every batch (the parts catch up as
    principals arrive), whatever digests clash. Short forms repeat across kinds (a caller
    directly and through a service) and hostile ones are kept byte for byte."""
    from kmstui.core import fields

    if weak:
        monkeypatch.setattr(arena, "text_digests", lambda *args, real=arena.text_digests: real(*args) & np.uint64(0xF))
    hostile = [
        kms("Decrypt", KEY1, identity=assumed_role("Admin", session)) for session in ("s\u200b1", "s1", "Ä", "ä", "")
    ]
    hostile += [kms("Decrypt", KEY1, identity={**assumed_role("Admin", "s1"), "invokedBy": "s3.amazonaws.com"})]
    hostile.append(kms("Decrypt", KEY1, identity=iam_user("Admin")))
    extra = write(tmp_path / "hostile.json", json.dumps({"Records": hostile}).encode())
    files = _files(DEMO, _varied_trail(tmp_path / "varied", files=3), extra)
    index = EventIndex()
    for start in range(0, len(files), 2):
        index.add(load_many(files[start : start + 2]))
        for part in ("short", "identity_type", "account"):
            with monkeypatch.context() as no_identities:  # a distinct value at a time, not a principal
                no_identities.setattr(arena.IdentityVocabulary, "identity", None)
                parts, codes = fields.principal_part(index, part)
            assert (list(parts.values), codes.tolist()) == _plain_parts(index, part), part
            assert len(parts) == len(parts.values)
    shorts = fields.principal_part(index, "short")[1]
    assert len(set(shorts.tolist())) < len(index.vocab["principal"]) - 100  # sessions seen under two kinds


def test_the_index_matches_principals_by_the_digests_the_worker_sent(tmp_path, monkeypatch):
    """The short forms' digests come with the batch: the main process, which merges every
    batch, does not hash a short form again (and the codes are still a plain vocabulary's)."""
    files = _files(DEMO, _varied_trail(tmp_path, files=2))
    batches = [load_many(files[start : start + 3]) for start in range(0, len(files), 3)]
    plain = Vocabulary[model.Identity](search_text)
    index = EventIndex()

    def hashed_again(*args):
        raise AssertionError("a short form hashed in the main process")

    monkeypatch.setattr(arena, "text_digests", hashed_again)
    for batch in pickle.loads(pickle.dumps(batches)):
        want = plain.remap(list(batch.principals))
        local = batch.columns.get("principal", np.zeros(0, np.uint32))
        before = index.size
        index.add(batch)
        assert index.columns["principal"].data[before : index.size].tolist() == want[local].tolist()
    assert list(index.vocab["principal"].values) == list(plain.values)


def test_principals_that_differ_only_in_their_arn_are_matched_together(tmp_path, monkeypatch):
    """One user name under several IAM paths (or a userName that is not the ARN's): the same
    short form, another ARN. Their digests differ by the ARN, so they are matched with the
    rest of their batch in numpy, not one at a time, and their codes are a plain vocabulary's."""
    users = [iam_user("Alice", path=path) for path in ("/", "/ops/", "/eu/west/", "/x/")]
    users += [{**iam_user(name), "userName": "x"} for name in ("bob", "carol", "dave")]
    records = [kms("Decrypt", KEY1, identity=user) for user in users]
    first = write(tmp_path / "a.json", json.dumps({"Records": records}).encode())
    second = write(tmp_path / "b.json", json.dumps({"Records": records[::-1]}).encode())
    plain = Vocabulary[model.Identity](search_text)
    index = EventIndex()
    singly = []
    real_code = arena.IdentityVocabulary.code
    monkeypatch.setattr(
        arena.IdentityVocabulary, "code", lambda self, *args: singly.append(args) or real_code(self, *args)
    )
    for file in _files(first, second):
        batch = load_many([file])
        want = plain.remap(list(batch.principals))
        before = index.size
        index.add(batch)
        assert (
            index.columns["principal"].data[before : index.size].tolist() == want[batch.columns["principal"]].tolist()
        )
    assert len(index.vocab["principal"]) == len(users) + 1
    assert singly == []


def _hostile_identities(rng) -> list[model.Identity]:
    """Principals as a hostile trail could make them: control and invisible characters, lone
    surrogates, long and empty short forms, one short form in several kinds, with and without an ARN."""
    pieces = [
        "role/r",
        "user/",
        "",
        "\x00",
        "\x1b[31m",
        "\u200b",
        "\u202e",
        "\ud800",
        "é",
        "☃",
        "\U0001f600",
        "x" * 300,
    ]
    out = []
    for i in range(rng.randrange(20, 120)):
        short = "".join(rng.choice(pieces) for _ in range(rng.randrange(0, 4))) + (
            str(i % 9) if rng.random() < 0.5 else ""
        )
        kind = rng.choice(
            [("AssumedRole", "1", None), ("IAMUser", "1", None), ("AssumedRole", "2", None), ("AWSService", None, "s3")]
        )
        arn = rng.choice([None, None, f"arn:aws:iam::1:{short}", f"arn:{rng.random()}"])
        out.append(model.Identity(short, arn, kind[0], kind[1], kind[2]))
    return out


def _batches_of(folders: list[Path], per_batch: int) -> list[PrincipalPart]:
    files = _files(*folders)
    return [load_many(files[start : start + per_batch]).principals for start in range(0, len(files), per_batch)]


def _same_vocabularies(parts: list) -> None:
    """The C merge and numpy's give the same codes for every batch, and keep the same values."""
    compiled, reference = arena.IdentityVocabulary(compiled=True), arena.IdentityVocabulary(compiled=False)
    for part in parts:
        assert compiled.remap(part).tolist() == reference.remap(part).tolist()
    assert len(compiled) == len(reference)
    assert list(compiled.values) == list(reference.values)
    assert bytes(compiled.short_forms.blob) == bytes(reference.short_forms.blob)
    for identity in list(reference.values)[1::7]:
        assert compiled.find(identity) == reference.find(identity)


needs_c_merge = pytest.mark.skipif(
    not arena.COMPILED_MERGE, reason="the column scanner (and its merge) is not built here"
)


@needs_c_merge
@pytest.mark.parametrize("merge", ["C"], indirect=True)
@pytest.mark.parametrize("seed", range(6))
def test_the_c_merge_codes_hostile_principals_as_numpy_does(seed, merge):
    rng = random.Random(seed)
    pool = _hostile_identities(rng)
    parts = []
    for _ in range(12):  # repeats inside a batch (as from two files) and across batches
        chosen = [rng.choice(pool) for _ in range(rng.randrange(0, 60))]
        parts.append(PrincipalPart.of_identities(dict.fromkeys(chosen)))
        parts.append([None, *chosen])  # a list of identities, repeats and all
    _same_vocabularies(parts)


@needs_c_merge
@pytest.mark.parametrize("merge", ["C"], indirect=True)
def test_the_c_merge_codes_the_demo_and_a_varied_trail_as_numpy_does(tmp_path, merge):
    _same_vocabularies(_batches_of([DEMO], 2) + _batches_of([_varied_trail(tmp_path, files=3)], 1))


@needs_c_merge
@needs_outside_data(REAL)
@pytest.mark.parametrize("merge", ["C"], indirect=True)
def test_the_c_merge_codes_public_records_as_numpy_does(merge):
    _same_vocabularies(_batches_of([REAL], 5) + _batches_of([AWS_DOCS], 3))


@needs_c_merge
@pytest.mark.parametrize("merge", ["C"], indirect=True)
def test_the_c_merge_refuses_arrays_that_do_not_fit_together(merge):
    from kmstui.core import _scan

    slots, digests = np.zeros(8, np.uint32), np.zeros(8, np.int64)
    with pytest.raises(ValueError):
        _scan.digest_insert(np.zeros(6, np.uint32), digests, np.ones(1, np.uint32), np.ones(1, np.int64))
    with pytest.raises(ValueError):  # a code past the digests kept
        _scan.digest_insert(slots, digests, np.array([8], np.uint32), np.ones(1, np.int64))
    _scan.digest_insert(slots, digests, np.array([1, 2], np.uint32), np.array([5, 13], np.int64))
    assert np.frombuffer(_scan.digest_find(slots, digests, np.array([13, 5, 21], np.int64)), np.uint32).tolist() == [
        2,
        1,
        0,
    ]
    with pytest.raises(ValueError):  # a digest held already
        _scan.digest_insert(slots, digests, np.array([3], np.uint32), np.array([13], np.int64))
    ends, shorts = np.array([0, 0, 1, 2], np.uint32), np.frombuffer(b"ab", np.uint8)
    args = [slots, digests, 3, shorts, ends, False, np.zeros(3, np.uint32), {}]
    batch = [np.frombuffer(b"ab", np.uint8), np.array([0, 1, 2], np.int64), np.zeros(2, np.uint32)]
    out, new = np.zeros(3, np.uint32), np.zeros(2, np.int64)
    assert _scan.merge_principals(*args, *batch, np.array([7, 9], np.int64), {}, out, new, 0) == (2, 2)
    assert out.tolist() == [0, 3, 4] and new.tolist() == [0, 1]
    with pytest.raises(ValueError):  # a short form past the batch's bytes
        _scan.merge_principals(
            *args, batch[0], np.array([0, 1, 5], np.int64), batch[2], np.array([40, 41], np.int64), {}, out, new, 0
        )
    with pytest.raises(ValueError):  # a start past the batch
        _scan.merge_principals(*args, *batch, np.array([7, 9], np.int64), {}, out, new, 3)
    with pytest.raises(ValueError):  # no room left in the table
        _scan.merge_principals(
            *args[:2],
            7,
            shorts,
            np.zeros(8, np.uint32),
            False,
            np.zeros(7, np.uint32),
            {},
            *batch,
            np.array([50, 51], np.int64),
            {},
            out,
            new,
            0,
        )
