"""What is indexed, and how records are normalised: keys, aliases, principals, contexts, times."""

from __future__ import annotations

import pytest

from kmstui.core.summary import summarise_keys

from records import (
    ACCOUNT,
    CLOUDTRAIL,
    KEY1,
    KEY2,
    KEY3,
    OTHER_ACCOUNT,
    TIME,
    TRAIL_EVENTS,
    alias_arn,
    assumed_role,
    aws_internal,
    aws_service,
    cloudtrail_file,
    events,
    iam_user,
    key_arn,
    key_resource,
    kms,
    load,
    load_records,
    only,
    other_service,
    record,
    root,
    trail_config,
    write,
)

# ---------------------------------------------------------------------------
# What is kept


def test_kms_and_trail_configuration_events_are_kept_the_rest_counted(tmp_path):
    kept = [kms("Decrypt", key_arn()), kms("ListAliases")] + [trail_config(name) for name in TRAIL_EVENTS]
    dropped = [
        other_service("GetObject", "s3.amazonaws.com"),
        other_service("PutObject", "s3.amazonaws.com"),
        other_service("RunInstances", "ec2.amazonaws.com"),
        record("LookupEvents", source=CLOUDTRAIL),
        record("CreateServiceLinkedChannel", source=CLOUDTRAIL),
        record("DescribeTrails", source=CLOUDTRAIL),
    ]
    index = load_records(tmp_path, dropped[:3] + kept + dropped[3:])
    assert {e.event_id for e in events(index)} == {r["eventID"] for r in kept}
    assert index.report.records == len(kept) + len(dropped)
    assert index.report.kept == len(kept)
    assert dict(index.report.ignored) == {"s3.amazonaws.com": 2, "ec2.amazonaws.com": 1, CLOUDTRAIL: 3}
    summary = " ".join(index.report.sentences())
    assert f"Loaded {len(kept)} KMS or trail events from 1 source" in summary
    assert "6 events of other services" in summary


def test_record_without_event_source_is_counted_as_such(tmp_path):
    rec = kms("Decrypt")
    del rec["eventSource"]
    index = load_records(tmp_path, [rec, kms("Encrypt")])
    assert [e.name for e in events(index)] == ["Encrypt"]
    assert index.report.ignored == {"(no event source)": 1}


def test_the_load_summary_reads_right_for_one_of_each(tmp_path):
    """Insights events have no eventSource; one record, one event, one source: no "(1 records
    read)", no "1 KMS and trail events", no "(2 (no event source))"."""
    insights = [
        {"eventVersion": "1.07", "eventTime": TIME, "eventID": f"insight-{n}", "eventType": "AwsCloudTrailInsight"}
        for n in range(2)
    ]
    write(tmp_path / "one" / "log.json", cloudtrail_file([kms("Encrypt")]))
    summary = load(tmp_path / "one").report.sentences()
    assert summary == ["Loaded 1 KMS or trail event from 1 source (1 record read)."]
    write(tmp_path / "two" / "log.json", cloudtrail_file([kms("Encrypt"), other_service(), *insights]))
    summary = load(tmp_path / "two").report.sentences()
    assert summary == [
        "Loaded 1 KMS or trail event from 1 source (4 records read).",
        "Not kept: 1 event of other services (1 s3).",
        "Not kept: 2 records without an event source (Insights events, for one).",
    ]


# ---------------------------------------------------------------------------
# Keys


@pytest.mark.parametrize(
    "where",
    [
        {"resources": [key_resource(key_arn(KEY1))]},
        {"request": {"keyId": key_arn(KEY1)}},
        {"request": {"keyId": KEY1}},
        {"request": {"targetKeyId": KEY1}},
        {"request": {"sourceKeyId": key_arn(KEY1)}},
        {"request": {"destinationKeyId": KEY1}},
        {"request": {"primaryKeyArn": key_arn(KEY1)}},
        {"response": {"keyId": key_arn(KEY1)}},
        {"response": {"keyMetadata": {"keyId": KEY1, "arn": key_arn(KEY1)}}},
        {"details": {"keyId": KEY1}, "identity": aws_internal(), "event_type": "AwsServiceEvent"},
    ],
    ids=lambda where: "/".join(
        f"{k}.{next(iter(v))}" if isinstance(v, dict) else k
        for k, v in where.items()
        if k in ("resources", "request", "response", "details")
    ),
)
def test_each_place_a_key_is_named(tmp_path, where):
    index = load_records(tmp_path, [record("SomeKmsCall", **where)])
    assert only(index).keys == (key_arn(KEY1),)


def test_bare_key_id_becomes_an_arn_with_the_event_region_and_recipient_account(tmp_path):
    recs = [
        kms("Decrypt", KEY1, region="eu-west-1", account=OTHER_ACCOUNT, identity=iam_user(account=ACCOUNT)),
        kms("Encrypt", KEY2, region="cn-north-1"),
        kms("Sign", KEY3, region="us-gov-west-1"),
    ]
    index = load_records(tmp_path, recs)
    assert only(index, "event:Decrypt").keys == (f"arn:aws:kms:eu-west-1:{OTHER_ACCOUNT}:key/{KEY1}",)
    assert only(index, "event:Encrypt").keys == (f"arn:aws-cn:kms:cn-north-1:{ACCOUNT}:key/{KEY2}",)
    assert only(index, "event:Sign").keys == (f"arn:aws-us-gov:kms:us-gov-west-1:{ACCOUNT}:key/{KEY3}",)


def test_every_key_of_an_event_is_kept_once_in_order(tmp_path):
    rec = kms(
        "ReEncrypt",
        request={"sourceKeyId": KEY1, "destinationKeyId": key_arn(KEY2)},
        response={"sourceKeyId": key_arn(KEY1), "keyId": key_arn(KEY3)},
        resources=[key_resource(key_arn(KEY1)), key_resource(key_arn(KEY2))],
    )
    index = load_records(tmp_path, [rec])
    assert only(index).keys == (key_arn(KEY1), key_arn(KEY2), key_arn(KEY3))
    assert only(index, f"key:{KEY3}")  # the third key (kept outside the two key columns) is searchable
    [summary] = [s for s in summarise_keys(index, index.snapshot.order) if s.arn == key_arn(KEY3)]
    assert summary.events == 1


def test_alias_in_resources_is_an_alias_not_a_key(tmp_path):
    rec = kms("Decrypt", resources=[key_resource(alias_arn("app")), key_resource(key_arn(KEY1))])
    index = load_records(tmp_path, [rec])
    event = only(index)
    assert event.keys == (key_arn(KEY1),)
    assert event.aliases == (alias_arn("app"),)


# ---------------------------------------------------------------------------
# Aliases


def test_alias_resolved_through_create_alias(tmp_path):
    recs = [
        kms("CreateAlias", request={"aliasName": "alias/app", "targetKeyId": KEY1}, time="2024-05-01T10:00:00Z"),
        kms("Encrypt", "alias/app", time="2024-05-01T11:00:00Z"),
    ]
    index = load_records(tmp_path, recs)
    event = only(index, "event:Encrypt")
    assert event.keys == (key_arn(KEY1),)
    assert event.aliases == (alias_arn("app"),)


def test_alias_arn_in_request_is_resolved_too(tmp_path):
    recs = [
        kms(
            "CreateAlias", request={"aliasName": "alias/app", "targetKeyId": key_arn(KEY1)}, time="2024-05-01T10:00:00Z"
        ),
        kms("Encrypt", alias_arn("app"), time="2024-05-01T11:00:00Z"),
    ]
    index = load_records(tmp_path, recs)
    assert only(index, "event:Encrypt").keys == (key_arn(KEY1),)


def test_alias_resolution_follows_update_alias_in_time(tmp_path):
    recs = [
        kms("CreateAlias", request={"aliasName": "alias/app", "targetKeyId": KEY1}, time="2024-05-01T10:00:00Z"),
        kms("Encrypt", "alias/app", time="2024-05-01T11:00:00Z"),
        kms("UpdateAlias", request={"aliasName": "alias/app", "targetKeyId": KEY2}, time="2024-05-01T12:00:00Z"),
        kms("Decrypt", "alias/app", time="2024-05-01T13:00:00Z"),
    ]
    index = load_records(tmp_path, recs)
    assert only(index, "event:Encrypt").keys == (key_arn(KEY1),)
    assert only(index, "event:Decrypt").keys == (key_arn(KEY2),)
    # The keys summary knows the alias moved: current on KEY2, former on KEY1.
    summaries = {s.arn: s for s in summarise_keys(index, index.snapshot.order)}
    assert summaries[key_arn(KEY2)].aliases == ["alias/app"]
    assert summaries[key_arn(KEY1)].former_aliases == ["alias/app"]
    assert summaries[key_arn(KEY1)].aliases == []


@pytest.mark.parametrize(
    "moves",
    [
        [(KEY1, "10"), (KEY2, "12"), (KEY1, "14"), (KEY2, "16")],
        [(KEY1, "10"), (KEY2, "12"), (KEY1, "14"), (KEY2, "16"), (KEY1, "18"), (KEY2, "20")],
    ],
    ids=["twice", "three times"],
)
def test_alias_resolution_when_the_alias_moves_back_and_forth(tmp_path, moves):
    recs = [
        kms(
            "UpdateAlias" if i else "CreateAlias",
            request={"aliasName": "alias/app", "targetKeyId": key},
            time=f"2024-05-01T{hour}:00:00Z",
        )
        for i, (key, hour) in enumerate(moves)
    ]
    uses = {f"{int(hour) + 1:02d}": key for key, hour in moves}  # an Encrypt an hour after each move
    recs += [
        kms(
            "Encrypt",
            "alias/app",
            time=f"2024-05-01T{hour}:00:00Z",
            event_id=f"00000000-0000-4000-9000-0000000000{hour}",
        )
        for hour in uses
    ]
    index = load_records(tmp_path, recs)
    found = {hour: only(index, f"id:00000000-0000-4000-9000-0000000000{hour}").keys for hour in uses}
    assert found == {hour: (key_arn(key),) for hour, key in uses.items()}


def test_alias_resolved_through_a_resources_entry_of_another_event(tmp_path):
    recs = [
        kms("Decrypt", "alias/app", resources=[key_resource(key_arn(KEY2))], time="2024-05-01T10:00:00Z"),
        kms("Encrypt", "alias/app", time="2024-05-01T11:00:00Z"),
    ]
    index = load_records(tmp_path, recs)
    decrypt = only(index, "event:Decrypt")
    assert decrypt.keys == (key_arn(KEY2),) and decrypt.aliases == (alias_arn("app"),)
    assert only(index, "event:Encrypt").keys == (key_arn(KEY2),)
    # and from then on, the alias finds the key
    assert only(index, "key:alias/app event:Encrypt")


def test_unresolved_alias_stands_in_as_a_key_and_is_never_dropped(tmp_path):
    index = load_records(tmp_path, [kms("Encrypt", "alias/mystery")])
    event = only(index)
    assert event.keys == (alias_arn("mystery"),)
    assert event.aliases == (alias_arn("mystery"),)
    [summary] = summarise_keys(index, index.snapshot.order)
    assert summary.unresolved
    assert summary.display == "alias/mystery (unresolved)"


@pytest.mark.parametrize("with_resources", [False, True])
def test_deleted_alias_leaves_later_uses_unresolved(tmp_path, with_resources):
    resources = [key_resource(alias_arn("app")), key_resource(key_arn(KEY1))] if with_resources else None
    recs = [
        kms("CreateAlias", request={"aliasName": "alias/app", "targetKeyId": KEY1}, time="2024-05-01T10:00:00Z"),
        kms("Encrypt", "alias/app", time="2024-05-01T11:00:00Z"),
        kms("DeleteAlias", request={"aliasName": "alias/app"}, resources=resources, time="2024-05-01T12:00:00Z"),
        kms("Decrypt", "alias/app", time="2024-05-01T13:00:00Z", error="NotFoundException"),
    ]
    index = load_records(tmp_path, recs)
    assert only(index, "event:Encrypt").keys == (key_arn(KEY1),)
    assert only(index, "event:Decrypt").keys == (alias_arn("app"),)


@pytest.mark.parametrize("with_create", [False, True], ids=["delete-only", "create-then-delete"])
def test_delete_alias_makes_the_alias_former(tmp_path, with_create):
    """CloudTrail's DeleteAlias record names the alias and its key in resources; after it the
    alias is no longer current on that key."""
    recs = [
        kms("CreateAlias", request={"aliasName": "alias/app", "targetKeyId": KEY1}, time="2024-05-01T10:00:00Z"),
        kms(
            "DeleteAlias",
            request={"aliasName": "alias/app"},
            resources=[key_resource(alias_arn("app")), key_resource(key_arn(KEY1))],
            time="2024-05-01T12:00:00Z",
        ),
    ]
    index = load_records(tmp_path, recs if with_create else recs[1:])
    [summary] = summarise_keys(index, index.snapshot.order)
    assert summary.aliases == []
    assert summary.former_aliases == ["alias/app"]


@pytest.mark.parametrize("with_create", [False, True], ids=["update-only", "create-then-update"])
def test_update_alias_naming_the_old_key_in_resources_moves_the_alias(tmp_path, with_create):
    """UpdateAlias needs permission on the old and the new key, and its record can name both."""
    recs = [
        kms("CreateAlias", request={"aliasName": "alias/app", "targetKeyId": KEY1}, time="2024-05-01T10:00:00Z"),
        kms(
            "UpdateAlias",
            request={"aliasName": "alias/app", "targetKeyId": KEY2},
            resources=[key_resource(alias_arn("app")), key_resource(key_arn(KEY1)), key_resource(key_arn(KEY2))],
            time="2024-05-01T12:00:00Z",
        ),
        kms("Encrypt", "alias/app", time="2024-05-01T13:00:00Z"),
    ]
    index = load_records(tmp_path, recs if with_create else recs[1:])
    assert only(index, "event:Encrypt").keys == (key_arn(KEY2),)
    summaries = {s.arn: s for s in summarise_keys(index, index.snapshot.order)}
    assert summaries[key_arn(KEY2)].aliases == ["alias/app"]
    assert summaries[key_arn(KEY1)].aliases == []
    assert summaries[key_arn(KEY1)].former_aliases == ["alias/app"]


def test_failed_create_alias_teaches_nothing(tmp_path):
    recs = [
        kms(
            "CreateAlias",
            request={"aliasName": "alias/app", "targetKeyId": KEY1},
            error="AccessDeniedException",
            time="2024-05-01T10:00:00Z",
        ),
        kms("Encrypt", "alias/app", time="2024-05-01T11:00:00Z"),
    ]
    index = load_records(tmp_path, recs)
    assert only(index, "event:Encrypt").keys == (alias_arn("app"),)


# ---------------------------------------------------------------------------
# Principals


@pytest.mark.parametrize(
    "identity, short, kind",
    [
        (iam_user("Alice"), "user/Alice", "IAMUser"),
        (iam_user("Bob", path="/division/team/"), "user/Bob", "IAMUser"),
        (assumed_role("Admin", "alice-session"), "role/Admin (alice-session)", "AssumedRole"),
        (assumed_role("Deployer", "ci", path="/service-role/"), "role/Deployer (ci)", "AssumedRole"),
        (root(), "root", "Root"),
        (aws_service("s3.amazonaws.com"), "service:s3.amazonaws.com", "AWSService"),
        (aws_internal(), "AWS Internal", None),
    ],
)
def test_principal_short_forms(tmp_path, identity, short, kind):
    index = load_records(tmp_path, [kms("Decrypt", key_arn(), identity=identity)])
    principal = only(index).principal
    assert principal.short == short
    assert principal.identity_type == kind
    assert principal.cross_account is False
    assert principal.label == short


def test_iam_path_is_dropped_from_roles_too(tmp_path):
    identity = {"type": "IAMUser", "arn": f"arn:aws:iam::{ACCOUNT}:role/path/to/Thing", "accountId": ACCOUNT}
    index = load_records(tmp_path, [kms("Decrypt", identity=identity)])
    assert only(index).principal.short == "role/Thing"


def test_cross_account_caller_is_marked(tmp_path):
    recs = [
        kms("Decrypt", key_arn(), identity=assumed_role("Reader", "r1", account=OTHER_ACCOUNT)),
        kms("Encrypt", key_arn(), identity=iam_user("Alice", account=ACCOUNT)),
    ]
    index = load_records(tmp_path, recs)
    other = only(index, "event:Decrypt").principal
    assert other.cross_account is True
    assert other.account == OTHER_ACCOUNT
    assert other.label == f"role/Reader (r1) [cross-account {OTHER_ACCOUNT}]"
    assert only(index, "event:Encrypt").principal.cross_account is False


def test_aws_service_event_with_aws_internal(tmp_path):
    rec = record(
        "RotateKey",
        identity=aws_internal(),
        event_type="AwsServiceEvent",
        ip="AWS Internal",
        agent="AWS Internal",
        resources=[key_resource(key_arn(KEY1))],
        details={"keyId": KEY1},
        read_only=False,
    )
    index = load_records(tmp_path, [rec])
    event = only(index)
    assert event.principal.short == "AWS Internal"
    assert event.principal.invoked_by == "AWS Internal"
    assert event.event_type == "AwsServiceEvent"
    assert event.keys == (key_arn(KEY1),)


# ---------------------------------------------------------------------------
# Encryption contexts


def test_request_encryption_context(tmp_path):
    ctx = {"aws:s3:arn": "arn:aws:s3:::bucket/object", "Department": "Finance"}
    index = load_records(tmp_path, [kms("Decrypt", key_arn(), request={"encryptionContext": ctx})])
    event = only(index)
    assert event.context == ctx
    assert [label for label, _pairs in event.contexts] == [""]


def test_reencrypt_source_and_destination_contexts_are_labelled(tmp_path):
    request = {
        "sourceKeyId": key_arn(KEY1),
        "destinationKeyId": KEY2,
        "sourceEncryptionContext": {"Project": "Alpha"},
        "destinationEncryptionContext": {"Level": "3A"},
    }
    index = load_records(tmp_path, [kms("ReEncrypt", request=request)])
    contexts = {label: dict(pairs) for label, pairs in only(index).contexts}
    assert contexts == {"source": {"Project": "Alpha"}, "destination": {"Level": "3A"}}
    assert only(index).context == {"Project": "Alpha"}  # the first when there is no request context


@pytest.mark.parametrize(
    "constraint, label",
    [
        ("encryptionContextSubset", "grant constraint (subset)"),
        ("encryptionContextEquals", "grant constraint (equals)"),
    ],
)
def test_create_grant_constraints_are_labelled(tmp_path, constraint, label):
    request = {
        "keyId": key_arn(),
        "granteePrincipal": "arn:aws:iam::111122223333:role/App",
        "constraints": {constraint: {"aws:ebs:id": "vol-123"}},
    }
    index = load_records(tmp_path, [kms("CreateGrant", request=request)])
    assert only(index).contexts == ((label, (("aws:ebs:id", "vol-123"),)),)


# ---------------------------------------------------------------------------
# Times and the other fields


@pytest.mark.parametrize(
    "written, utc",
    [
        ("2024-05-01T12:00:00Z", "2024-05-01T12:00:00Z"),
        ("2024-05-01T22:00:00+10:00", "2024-05-01T12:00:00Z"),
        ("2024-05-01T07:30:00-04:30", "2024-05-01T12:00:00Z"),
        ("2022-02-08 09:23:37+11:00", "2022-02-07T22:23:37Z"),
        ("2024-05-01T12:00:00.789Z", "2024-05-01T12:00:00Z"),
        ("2024-05-01T12:00:00", "2024-05-01T12:00:00Z"),
        ("2024-02-29T23:59:59Z", "2024-02-29T23:59:59Z"),
    ],
)
def test_event_times_are_stored_as_utc(tmp_path, written, utc):
    index = load_records(tmp_path, [kms("Decrypt", time=written)])
    assert only(index).iso_time == utc


@pytest.mark.parametrize(
    "written",
    ["yesterday", "2024-13-01T00:00:00Z", "2024-05-01T25:00:00Z", "2024-05-01T12:61:00Z", "2024-05-01T12:00:99Z", ""],
)
def test_unreadable_time_is_kept_without_a_time(tmp_path, written):
    index = load_records(tmp_path, [kms("Decrypt", time=written), kms("Encrypt")])
    assert only(index, "event:Decrypt").iso_time is None
    assert [e.name for e in events(index)] == ["Encrypt", "Decrypt"]  # an event without a time sorts last


def test_events_are_newest_first(tmp_path):
    recs = [
        kms(name, time=t)
        for name, t in (
            ("B", "2024-05-01T11:00:00Z"),
            ("C", "2024-05-01T12:00:00+00:00"),
            ("A", "2024-05-01T10:00:00Z"),
        )
    ]
    index = load_records(tmp_path, recs)
    assert [e.name for e in events(index)] == ["C", "B", "A"]


def test_envelope_fields(tmp_path):
    rec = kms(
        "Decrypt",
        key_arn(),
        error="AccessDeniedException",
        message="User is not authorized to perform kms:Decrypt",
        region="ap-southeast-2",
        account=ACCOUNT,
        ip="203.0.113.9",
        agent="Boto3/1.34.0 md/Botocore#1.34.0",
        read_only=True,
    )
    index = load_records(tmp_path, [rec, kms("Encrypt", key_arn(), read_only=False)])
    event = only(index, "event:Decrypt")
    assert event.error_code == "AccessDeniedException"
    assert event.error_message == "User is not authorized to perform kms:Decrypt"
    assert event.read_only is True
    assert event.event_type == "AwsApiCall"
    assert event.user_agent == "Boto3/1.34.0 md/Botocore#1.34.0"
    assert event.source_ip == "203.0.113.9"
    assert event.region == "ap-southeast-2"
    assert event.account == ACCOUNT
    assert event.source == "kms.amazonaws.com"
    assert event.event_id == rec["eventID"]
    assert event.origin == str(tmp_path / "log.json")
    encrypt = only(index, "event:Encrypt")
    assert encrypt.read_only is False and encrypt.error_code is None and encrypt.error_message is None


def test_an_empty_error_code_or_message_is_none(tmp_path):
    """CloudTrail writes no errorCode for a call that succeeded; an empty one means the same."""
    records = [
        kms("Encrypt", key_arn(), error="", message="", agent="", read_only=False),
        kms("Decrypt", key_arn(), error="AccessDeniedException", message=""),
        kms("Sign", key_arn(), error="", message="odd"),
    ]
    index = load_records(tmp_path, records)
    encrypt, decrypt, sign = (only(index, f"event:{name}") for name in ("Encrypt", "Decrypt", "Sign"))
    assert (encrypt.error_code, encrypt.error_message) == (None, None)
    assert encrypt.user_agent == "" and encrypt.read_only is False  # other empty or false values are kept
    assert (decrypt.error_code, decrypt.error_message) == ("AccessDeniedException", None)
    assert (sign.error_code, sign.error_message) == (None, "odd")


def test_unusual_event_ids_are_kept_whole(tmp_path):
    long_id = "EXAMPLE-" + "x" * 60
    recs = [kms("Decrypt", event_id="234f004b-EXAMPLE"), kms("Encrypt", event_id=long_id)]
    index = load_records(tmp_path, recs)
    assert only(index, "event:Decrypt").event_id == "234f004b-EXAMPLE"
    assert only(index, "event:Encrypt").event_id == long_id
    assert only(index, "id:234f004b-example").name == "Decrypt"


def test_a_bare_key_id_takes_the_region_of_its_resource_arn(tmp_path):
    """The request names a bare id and the event runs in one region, but resources give the
    key's real ARN in another: no phantom key in the event's region."""
    other = key_arn(KEY1, region="us-west-2")
    rec = kms("ScheduleKeyDeletion", request={"keyId": KEY1, "pendingWindowInDays": 7}, resources=[key_resource(other)])
    index = load_records(tmp_path, [rec])
    assert only(index).keys == (other,)


# ---------------------------------------------------------------------------
# The collector


@pytest.mark.parametrize("enabled", [True, False])
def test_the_collector_is_paused_while_a_batch_is_merged_and_left_as_it_was(tmp_path, monkeypatch, enabled):
    import gc

    from kmstui.core.decode import load_many
    from kmstui.core.index import EventIndex
    from kmstui.core.sources import SourceFile

    path = write(tmp_path / "log.json", cloudtrail_file([kms("Decrypt", key_arn())]))
    batch = load_many([SourceFile(str(path), "log.json")])
    index = EventIndex()
    seen = []
    merge = index._add
    monkeypatch.setattr(index, "_add", lambda b: seen.append(gc.isenabled()) or merge(b))
    (gc.enable if enabled else gc.disable)()
    try:
        index.add(batch)
        assert seen == [False]  # merging makes thousands of small objects and no cycles
        assert gc.isenabled() is enabled
    finally:
        gc.enable()
    assert index.size == 1
