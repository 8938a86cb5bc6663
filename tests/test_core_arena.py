"""The compact stores behave as the plain lists and dictionaries they replace, value for value."""

from __future__ import annotations

import random

import numpy as np

from kmstui.core import model
from kmstui.core.arena import IdentityVocabulary, LoweredArena, TextArena
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
]


def _needles(texts: list[str]) -> list[str]:
    rng = random.Random(5)
    needles = ["a", "aa", "arn:aws", "ß", "\u200b", "red", "\ud800", "zzz", "db-abcdef", "i̇stanbul", "part-0000"]
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


def test_lowered_arena_searches_as_lowercase_texts_do():
    arena = TextArena(TEXTS)
    search = LoweredArena(arena)
    assert list(search) == [text.lower() for text in TEXTS]
    for needle in _needles(TEXTS):
        want = needle.lower()
        expected = np.array([want in text.lower() for text in TEXTS], dtype=bool)
        assert (search.containing(want) == expected).all(), needle
    arena.append("Grown Later")  # texts added after a search are searched too
    assert search.containing("grown")[-1]


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
        else:
            out.append(model.Identity("service:s3.amazonaws.com", None, "AWSService", None, "s3.amazonaws.com"))
    return out


def test_identity_vocabulary_codes_as_the_plain_vocabulary_does():
    plain = Vocabulary[model.Identity](lambda identity: identity.short)
    compact = IdentityVocabulary(lambda identity: identity.short)
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
    for needle in ("role/r3", "U4", "S3.AMAZON", "nothing", "(s-1"):
        assert (compact.matching(needle) == plain.matching(needle)).all(), needle


def test_identity_vocabulary_keeps_principals_whose_hashes_collide_apart():
    class Clashing(IdentityVocabulary):
        pass

    compact = Clashing()
    first = model.Identity("role/a (1)", None, "AssumedRole", "1", None)
    second = model.Identity("role/b (2)", None, "AssumedRole", "1", None)
    # a hash that matches but a principal that differs: the code is checked, never trusted
    compact._recent[hash(second)] = compact.code(first)
    code = compact.code(second)
    assert code != compact.find(first)
    assert compact.values[code] == second
    assert compact.remap([None, first, second]).tolist() == [0, compact.find(first), code]


class _SameHash(model.Identity):
    """An identity whose hash is always the same: collisions on demand."""

    def __hash__(self) -> int:
        return 7


def test_identity_vocabulary_adds_new_principals_together_even_when_their_hashes_collide():
    plain = Vocabulary[model.Identity](lambda identity: identity.short)
    compact = IdentityVocabulary(lambda identity: identity.short)
    clashing = [_SameHash(f"role/r (s{i})", None, "AssumedRole", "1", None) for i in range(3)]
    usual = _identities(40)
    # new principals all at once, two of them sharing a hash with the one before: the ones
    # waiting are added first, then the clash is kept apart, as one at a time would
    batch = [None, *dict.fromkeys(usual[:10] + clashing + usual[10:])]
    assert compact.remap(batch).tolist() == plain.remap(batch).tolist()
    again = [None, clashing[2], usual[3], clashing[0], model.Identity("user/x", "arn:x", "IAMUser", "2", None)]
    assert compact.remap(again).tolist() == plain.remap(again).tolist()
    assert list(compact.values) == list(plain.values)
