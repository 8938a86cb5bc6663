"""The keys summary: one row per key for any filter."""

from __future__ import annotations

import pytest

from kmstui.core.query import parse
from kmstui.core.summary import summarise_keys
from kmstui.core.timeutil import iso

from records import (
    KEY1,
    KEY2,
    KEY3,
    alias_arn,
    assumed_role,
    cloudtrail_file,
    iam_user,
    key_arn,
    key_resource,
    kms,
    load,
    write,
)

T = "2024-05-01T{}:00Z"


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    recs = [
        kms(
            "CreateAlias",
            request={"aliasName": "alias/app", "targetKeyId": KEY1},
            time=T.format("09:00"),
            read_only=False,
        ),
        kms("Decrypt", key_arn(KEY1), time=T.format("10:00")),
        kms("Decrypt", key_arn(KEY1), identity=iam_user("Bob"), error="AccessDeniedException", time=T.format("11:00")),
        kms("Encrypt", key_arn(KEY1), time=T.format("12:00")),
        kms(
            "UpdateAlias",
            request={"aliasName": "alias/app", "targetKeyId": KEY2},
            resources=[key_resource(alias_arn("app")), key_resource(key_arn(KEY2))],
            time=T.format("13:00"),
            read_only=False,
        ),
        kms("Encrypt", "alias/app", identity=assumed_role("Admin", "s1"), time=T.format("14:00")),
        kms(
            "CreateAlias",
            request={"aliasName": "alias/one", "targetKeyId": KEY3},
            time=T.format("08:00"),
            read_only=False,
        ),
        kms(
            "CreateAlias",
            request={"aliasName": "alias/two", "targetKeyId": KEY3},
            time=T.format("08:30"),
            read_only=False,
        ),
        kms("Sign", "alias/unknown", time=T.format("15:00")),
    ]
    return load(write(tmp_path_factory.mktemp("keys") / "log.json", cloudtrail_file(recs)))


def summaries(index, expr: str = "") -> dict[str, object]:
    return {s.arn: s for s in summarise_keys(index, parse(expr).rows(index))}


def test_one_row_per_key_with_counts_and_times(index):
    rows = summaries(index)
    assert set(rows) == {key_arn(KEY1), key_arn(KEY2), key_arn(KEY3), alias_arn("unknown")}
    k1 = rows[key_arn(KEY1)]
    assert (k1.events, k1.errors, k1.principals) == (4, 1, 2)
    assert (iso(k1.first_seen), iso(k1.last_seen)) == (T.format("09:00"), T.format("12:00"))
    k2 = rows[key_arn(KEY2)]
    assert (k2.events, k2.errors, k2.principals) == (2, 0, 2)
    assert (iso(k2.first_seen), iso(k2.last_seen)) == (T.format("13:00"), T.format("14:00"))


def test_current_and_former_aliases(index):
    rows = summaries(index)
    assert rows[key_arn(KEY1)].aliases == []
    assert rows[key_arn(KEY1)].former_aliases == ["alias/app"]
    assert rows[key_arn(KEY2)].aliases == ["alias/app"]
    assert rows[key_arn(KEY2)].former_aliases == []
    assert sorted(rows[key_arn(KEY3)].aliases) == ["alias/one", "alias/two"]
    assert rows[key_arn(KEY2)].display == "alias/app"
    assert rows[key_arn(KEY1)].display == f"{KEY1[:8]}… was alias/app"  # a moved alias is a clue


def test_unresolved_alias_row(index):
    row = summaries(index)[alias_arn("unknown")]
    assert row.unresolved
    assert row.events == 1
    assert row.display == "alias/unknown (unresolved)"
    assert row.key_id == "alias/unknown"


def test_key_row_parts(index):
    row = summaries(index)[key_arn(KEY1)]
    assert (row.key_id, row.region, row.account) == (KEY1, "us-east-1", "111122223333")
    assert not row.unresolved


def test_busiest_key_first(index):
    order = [s.arn for s in summarise_keys(index, index.snapshot.order)]
    assert order[0] == key_arn(KEY1)
    assert order.index(key_arn(KEY2)) < order.index(key_arn(KEY3))  # 2 events each; KEY2 was used later


@pytest.mark.parametrize(
    "expr, expected",
    [
        ("principal:Bob", {key_arn(KEY1): (1, 1, 1)}),
        ("error:*", {key_arn(KEY1): (1, 1, 1)}),
        ("event:Encrypt", {key_arn(KEY1): (1, 0, 1), key_arn(KEY2): (1, 0, 1)}),
        ("since:2024-05-01T13:00Z", {key_arn(KEY2): (2, 0, 2), alias_arn("unknown"): (1, 0, 1)}),
        ("alias:app", {key_arn(KEY1): (4, 1, 2), key_arn(KEY2): (2, 0, 2)}),
        ("nothing-matches", {}),
    ],
)
def test_summary_follows_the_filter(index, expr, expected):
    got = {arn: (s.events, s.errors, s.principals) for arn, s in summaries(index, expr).items()}
    assert got == expected


def test_first_and_last_seen_follow_the_filter(index):
    row = summaries(index, "event:Decrypt")[key_arn(KEY1)]
    assert (iso(row.first_seen), iso(row.last_seen)) == (T.format("10:00"), T.format("11:00"))


def test_events_with_three_keys_count_for_each(tmp_path):
    rec = kms("ReEncrypt", request={"sourceKeyId": KEY1, "destinationKeyId": KEY2}, response={"keyId": key_arn(KEY3)})
    index = load(
        write(tmp_path / "log.json", cloudtrail_file([rec, kms("Decrypt", key_arn(KEY3), identity=iam_user("Bob"))]))
    )
    rows = summaries(index)
    assert {arn: s.events for arn, s in rows.items()} == {key_arn(KEY1): 1, key_arn(KEY2): 1, key_arn(KEY3): 2}
    assert rows[key_arn(KEY3)].principals == 2
    only_bob = summaries(index, "principal:Bob")
    assert {arn: s.events for arn, s in only_bob.items()} == {key_arn(KEY3): 1}


@pytest.mark.parametrize("size", [0, 1, 2, 1000])
def test_distinct_is_numpys_unique(size):
    """Distinct values by a sort, not np.unique (slow on numpy 2.4): the keys' callers, key sets."""
    import numpy as np

    from kmstui.core.vocab import distinct

    values = np.random.default_rng(size).integers(0, max(size // 3, 1), size).astype(np.int64)
    assert np.array_equal(distinct(values), np.unique(values))
