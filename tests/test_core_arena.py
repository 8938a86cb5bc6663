"""The compact stores behave as the plain lists and dictionaries they replace, value for value."""

from __future__ import annotations

import random

import numpy as np
import pytest

from kmstui.core import arena, model
from kmstui.core.arena import IdentityVocabulary, LoweredArena, TextArena, search_text
from kmstui.core.batch import PrincipalPart
from kmstui.core.vocab import Vocabulary

TEXTS = [
    "",
    "arn:aws:s3:::org-data-01/raw/2026/11/20/part-00001.parquet",
    "arn:aws:secretsmanager:eu-west-1:111122223333:secret:prod/db-AbCdEf",
    "Ünïcødé ÀRN ß",
    "user/Ad\u200bmin",
    "\x1b[31mred\x1b[0m",
    "a\ud800b",  # a lone surrogate, as a decoder may hand one over
    "aaa",
    "İstanbul",  # lowercases to two code points
    "\u212aelvin",  # the Kelvin sign lowercases to an ASCII k
    "MiXeD-CaSe ARN:AWS:S3:::Bucket/Key",
    "[@`{",  # the neighbours of the letters, which folding must not join to them
    "x" * 70_000,  # a huge value
]


def _needles(texts: list[str]) -> list[str]:
    rng = random.Random(5)
    needles = ["a", "aa", "arn:aws", "ß", "\u200b", "red", "\ud800", "zzz", "db-abcdef", "i̇stanbul", "part-0000"]
    needles += ["k", "kelvin", "\u212a", "mixed-case arn", "bucket/key", "[", "{", "@", "`", "x" * 69_999, "x" * 70_001]
    for text in texts:
        if len(text) > 2:
            start = rng.randrange(len(text) - 1)
            needles.append(text[start : start + rng.randrange(1, 6)])
    return needles


def test_text_arena_gives_back_every_text_and_finds_as_in_does():
    texts = TEXTS * 3 + [f"arn:aws:s3:::bucket/{i:05d}" for i in range(200)]
    arena = TextArena(texts)
    assert len(arena) == len(texts)
    assert list(arena) == texts
    assert [arena[i] for i in range(len(texts))] == texts
    assert arena[3:7] == texts[3:7]
    assert arena[np.uint32(2)] == texts[2]
    for needle in _needles(texts):
        expected = np.array([needle in text for text in texts], dtype=bool)
        assert (arena.containing(needle) == expected).all(), needle


def test_text_arena_finds_equal_texts():
    texts = TEXTS * 2 + ["", "ab", "AB", "abc"]
    arena = TextArena(texts)
    for needle in [*_needles(texts), "", "ab", "abc", "x" * 70_000]:
        assert (arena.equal(needle) == np.array([needle == text for text in texts])).all(), needle
        folded = needle.lower()
        expected = np.array([folded == text.translate(_ASCII) for text in texts])
        assert (arena.equal(folded, fold=True) == expected).all(), needle


_ASCII = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def test_lowered_arena_searches_as_lowercase_texts_do():
    arena = TextArena(TEXTS)
    search = LoweredArena(arena)
    assert list(search) == [text.lower() for text in TEXTS]
    for needle in [*_needles(TEXTS), ""]:
        want = needle.lower()
        expected = np.array([want in text.lower() for text in TEXTS], dtype=bool)
        assert (search.containing(want) == expected).all(), needle
        assert (search.equal(want) == np.array([want == text.lower() for text in TEXTS])).all(), needle
    # only the texts that ASCII folding does not lower keep a copy of their own
    assert search.nbytes() < 100
    arena.append("Grown Later")  # texts added after a search are searched too
    assert search.containing("grown")[-1]
    assert search.equal("grown later")[-1]
    arena.append("ÉTÉ")
    assert search.containing("été")[-1]
    assert search[len(arena) - 1] == "été"


def test_lowered_arena_searches_special_texts_in_place_of_the_stored_ones():
    arena = TextArena(["a", "b", "C"])
    search = LoweredArena(
        arena, lambda start, stop: {code: f"{arena[code]} Extra" for code in range(start, stop) if code}
    )
    assert list(search) == ["a", "b extra", "c extra"]
    assert search.containing("extra").tolist() == [False, True, True]
    assert search.equal("c extra").tolist() == [False, False, True]


def _identities(count: int) -> list[model.Identity]:
    rng = random.Random(11)
    out = []
    for i in range(count):
        kind = rng.random()
        if kind < 0.6:
            out.append(
                model.Identity(f"role/r{i % 7} (s-{rng.randrange(count)})", None, "AssumedRole", "111122223333", None)
            )
        elif kind < 0.8:
            out.append(
                model.Identity(f"user/U{i % 5}", f"arn:aws:iam::444455556666:user/U{i % 5}", "IAMUser", None, None)
            )
        elif kind < 0.95:
            out.append(model.Identity("service:s3.amazonaws.com", None, "AWSService", None, "s3.amazonaws.com"))
        else:  # not ASCII: folding ASCII letters is not enough to lower them
            out.append(
                model.Identity(f"user/Ürsula{i % 3}", f"arn:aws:iam::1:user/Ürsula{i % 3}", "IAMUser", "1", None)
            )
            out.append(model.Identity("role/Ǩ (\u212a)", None, "AssumedRole", "1", None))
    return out


def test_identity_vocabulary_codes_as_the_plain_vocabulary_does():
    plain = Vocabulary[model.Identity](search_text)
    compact = IdentityVocabulary()
    compact._FOLD = 16  # fold into the sorted arrays often, so that both paths are used
    values = _identities(600)
    for start in range(0, len(values), 50):  # in batches, with repeats inside and across them
        batch = [None, *dict.fromkeys(values[start : start + 50] + values[: start // 10])]
        assert plain.remap(batch).tolist() == compact.remap(batch).tolist()
    assert len(plain) == len(compact)
    assert list(plain.values) == list(compact.values)
    assert compact.values[5:9] == plain.values[5:9]
    for identity in values[::37]:
        assert compact.find(identity) == plain.find(identity)
        assert compact.code(identity) == plain.code(identity)
    stranger = model.Identity("role/new (s)", None, "AssumedRole", "1", None)
    assert compact.find(stranger) is None
    assert compact.code(stranger) == plain.code(stranger)
    for needle in ("role/r3", "U4", "S3.AMAZON", "nothing", "(s-1", "arn:aws:iam", "ü", "k"):
        assert (compact.matching(needle) == plain.matching(needle)).all(), needle
    for needle in ("user/u4", "ARN:AWS:IAM::444455556666:USER/U4", "role/r3", "user/ürsula1", "role/ǩ (\u212a)"):
        want = needle.lower()
        expected = np.array([i > 0 and _named(plain.values[i], want) for i in range(len(plain))], dtype=bool)
        assert (compact.matching_exactly(needle) == expected).all(), needle


def _named(identity: model.Identity, want: str) -> bool:
    return identity.short.lower() == want or (identity.arn or "").lower() == want


def _clashing(monkeypatch, clash=lambda short: True) -> None:
    """Principal digests made to collide: every principal whose short form ``clash`` picks
    gets the same digest, and the others keep theirs."""
    real = arena.principal_digests

    def digests(data, ends, parts, texts=None):
        found = real(data, ends, parts, texts)
        texts = [bytes(data[ends[i] : ends[i + 1]]).decode("utf-8", "surrogatepass") for i in range(len(ends) - 1)]
        found[[i for i, text in enumerate(texts) if clash(text)]] = 7
        return found

    monkeypatch.setattr(arena, "principal_digests", digests)


def test_identity_vocabulary_keeps_principals_whose_hashes_collide_apart(monkeypatch):
    _clashing(monkeypatch)  # every principal has the same digest
    plain = Vocabulary[model.Identity](search_text)
    compact = IdentityVocabulary()
    first = model.Identity("role/a (1)", None, "AssumedRole", "1", None)
    second = model.Identity("role/b (2)", None, "AssumedRole", "1", None)
    # a digest that matches but a principal that differs: the code is checked, never trusted
    assert compact.code(first) == plain.code(first)
    code = compact.code(second)
    assert code == plain.code(second) != compact.find(first)
    assert compact.values[code] == second
    assert compact.remap([None, first, second]).tolist() == [0, compact.find(first), code]
    values = _identities(200)
    for start in range(0, len(values), 40):
        batch = [None, *dict.fromkeys(values[start : start + 40] + values[: start // 10])]
        assert compact.remap(PrincipalPart.of_identities(batch[1:])).tolist() == plain.remap(batch).tolist()
    assert list(compact.values) == list(plain.values)
    for identity in values[::13]:
        assert compact.find(identity) == plain.find(identity)


def test_identity_vocabulary_adds_new_principals_together_even_when_their_hashes_collide(monkeypatch):
    _clashing(monkeypatch, lambda short: short.startswith("role/r (s"))
    plain = Vocabulary[model.Identity](lambda identity: identity.short)
    compact = IdentityVocabulary()
    clashing = [model.Identity(f"role/r (s{i})", None, "AssumedRole", "1", None) for i in range(3)]
    usual = _identities(40)
    # new principals all at once, two of them sharing a digest with the one before: the ones
    # waiting are added first, then the clash is kept apart, as one at a time would
    batch = [None, *dict.fromkeys(usual[:10] + clashing + usual[10:])]
    assert compact.remap(batch).tolist() == plain.remap(batch).tolist()
    again = [None, clashing[2], usual[3], clashing[0], model.Identity("user/x", "arn:x", "IAMUser", "2", None)]
    assert compact.remap(again).tolist() == plain.remap(again).tolist()
    assert list(compact.values) == list(plain.values)


def test_text_arena_offsets_widen_past_four_gibibytes():
    class Small(TextArena):
        __slots__ = ()
        _NARROW_UNTIL = 10  # bytes, in place of 4 GiB: the switch is what is checked

    texts = ["abc", "défg", "HIJ", "", "klmnop", "x" * 20]
    arena = Small(texts[:2])
    assert arena._ends.typecode == "I"
    arena.extend(texts[2:])
    assert arena._ends.typecode == "q"
    assert list(arena) == texts
    for needle in ("c", "fg", "hij", "x" * 20, "op"):
        assert arena.containing(needle, fold=True).tolist() == [needle in t.lower() for t in texts]
        assert arena.equal(needle, fold=True).tolist() == [needle == t.lower() for t in texts]


def test_text_arena_same_compares_each_text_byte_by_byte():
    texts = ["abc", "défg", "", "HIJ", "x" * 20, "ab\ud800c"]
    arena = TextArena(texts)
    codes = np.array([0, 1, 2, 3, 4, 5, 0, 1, 4, 3], dtype=np.uint32)
    asked = [*texts, "abd", "défh", "x" * 19 + "y", "HIJK"]
    assert arena.same(codes, asked).tolist() == [True] * 6 + [False] * 4
    assert arena.same(codes[:0], []).tolist() == []


def test_identity_vocabulary_remap_checks_every_field_of_a_matching_hash(monkeypatch):
    _clashing(monkeypatch)  # each other one's digest made to point at the principal kept: never trusted
    compact = IdentityVocabulary()
    kept = model.Identity("user/Alice", "arn:aws:iam::1:user/Alice", "IAMUser", "1", None)
    assert compact.remap([None, kept]).tolist() == [0, 1]
    others = [
        kept._replace(short="user/Alicf"),  # the same length, one byte differs
        kept._replace(arn="arn:aws:iam::2:user/Alice"),
        kept._replace(identity_type="AssumedRole"),
        kept._replace(account="2"),
        kept._replace(invoked_by="s3.amazonaws.com"),
    ]
    codes = compact.remap([None, kept, *others]).tolist()
    assert codes == [0, 1, 2, 3, 4, 5, 6]
    assert [compact.values[code] for code in codes[1:]] == [kept, *others]
    assert compact.remap([None, *reversed(others), kept]).tolist() == [0, 6, 5, 4, 3, 2, 1]


@pytest.mark.parametrize("seed", range(4))
def test_texts_compared_a_word_at_a_time_agree_with_python(seed):
    """_equal_bytes compares texts of 8 bytes or more as 8-byte words, the last one overlapping:
    a difference anywhere (first byte, last, the overlap), NUL and high bytes, texts shorter
    than a word, empty ones, and texts at either end of their blobs are told as Python tells them."""
    rng = random.Random(seed)
    left: list[bytes] = []
    right: list[bytes] = []
    for _ in range(400):
        size = rng.choice([0, 1, 7, 8, 9, 15, 16, 17, rng.randrange(60)])
        text = bytes(rng.choice(b"ab\x00\xff") for _ in range(size))
        other = bytearray(text)
        if other and rng.random() < 0.5:
            other[rng.choice([0, len(other) - 1, rng.randrange(len(other))])] ^= rng.choice([1, 0x80])
        left.append(text)
        right.append(bytes(other))
    order = list(range(len(right)))
    rng.shuffle(order)  # the right texts out of order in their blob, after a few bytes of padding
    right_blob = b"~" * rng.randrange(3)
    right_starts = np.zeros(len(right), np.int64)
    for i in order:
        right_starts[i] = len(right_blob)
        right_blob += right[i]
    lengths = np.array([len(text) for text in left], np.int64)
    left_starts = np.cumsum(lengths) - lengths
    got = arena._equal_bytes(
        np.frombuffer(b"".join(left), np.uint8),
        left_starts,
        np.frombuffer(right_blob, np.uint8),
        right_starts,
        lengths,
    )
    assert got.tolist() == [a == b for a, b in zip(left, right, strict=True)]


def test_an_arena_read_while_it_grows_and_fitted_when_a_load_ends():
    """Appends write past the bytes in use or into a larger array: a view taken before stays
    what it was; fit gives the room back and keeps every text."""
    texts = TextArena(["alpha", "Beta"])
    data, ends = texts._view(2)
    for i in range(5000):  # grows several times
        texts.append(f"text {i} é")
    assert data.tobytes() == b"alphaBeta" and ends.tolist() == [0, 5, 9]
    assert len(texts._data) > texts._size
    assert texts.containing("beta", fold=True)[:3].tolist() == [False, True, False]
    texts.fit()
    assert len(texts._data) == texts._size == len(texts.blob)
    assert list(texts) == ["alpha", "Beta", *(f"text {i} é" for i in range(5000))]
