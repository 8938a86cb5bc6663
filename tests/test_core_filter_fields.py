"""The filter's newer fields (classification, record paths, KMS questions), each checked
against a plain-Python reading of the same records; and the registry that defines them."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from kmstui.core import fields
from kmstui.core.query import FilterError, parse

from records import (
    ACCOUNT,
    KEY1,
    KEY2,
    KEY3,
    OTHER_ACCOUNT,
    assumed_role,
    aws_internal,
    aws_service,
    cloudtrail_file,
    key_arn,
    kms,
    load,
    record,
    rows,
    trail_arn,
    trail_config,
    write,
)

POLICY = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:*"}]})
ROLE_OUTSIDE = f"arn:aws:iam::{OTHER_ACCOUNT}:role/Reader"
ROLE_INSIDE = f"arn:aws:iam::{ACCOUNT}:role/Admin"

RECORDS = {
    "grant_outside": kms(
        "CreateGrant",
        key_arn(KEY1),
        request={
            "granteePrincipal": ROLE_OUTSIDE,
            "retiringPrincipal": ROLE_INSIDE,
            "operations": ["Decrypt", "GenerateDataKey"],
        },
        response={"grantId": "0123abcd"},
    ),
    "grant_inside": kms(
        "CreateGrant",
        KEY2,
        request={"granteePrincipal": ROLE_INSIDE, "operations": ["Encrypt"]},
        response={"grantId": "1"},
    ),
    "grant_user_outside": kms(
        "CreateGrant",
        key_arn(KEY1),
        request={"granteePrincipal": f"arn:aws:iam::{OTHER_ACCOUNT}:user/Bob", "operations": ["ReEncryptFrom"]},
    ),
    "grant_ebs": kms(
        "CreateGrant",
        key_arn(KEY1),
        identity=aws_service("ec2.amazonaws.com"),
        request={
            "granteePrincipal": f"{ACCOUNT}:aws:ec2-infrastructure:i-0abc",
            "retiringPrincipal": "ec2.us-east-1.amazonaws.com",
            "operations": ["Decrypt"],
        },
    ),
    "create_rsa": kms(
        "CreateKey",
        request={
            "keySpec": "RSA_4096",
            "keyUsage": "SIGN_VERIFY",
            "bypassPolicyLockoutSafetyCheck": False,
            "policy": POLICY,
        },
        response={"keyMetadata": {"keyId": KEY3, "keySpec": "RSA_4096", "enabled": True}},
    ),
    "create_default": kms(
        "CreateKey",
        request={"keySpec": "SYMMETRIC_DEFAULT", "keyUsage": "ENCRYPT_DECRYPT"},
        response={"keyMetadata": {"keyId": KEY2, "keySpec": "SYMMETRIC_DEFAULT", "enabled": True}},
    ),
    "create_older": kms("CreateKey", request={"customerMasterKeySpec": "RSA_2048", "keyUsage": "ENCRYPT_DECRYPT"}),
    "schedule_7": kms("ScheduleKeyDeletion", KEY3, request={"pendingWindowInDays": 7}, identity=assumed_role("Admin")),
    "schedule_30": kms("ScheduleKeyDeletion", KEY2, request={"pendingWindowInDays": 30}),
    "schedule_7_denied": kms(
        "ScheduleKeyDeletion", KEY1, request={"pendingWindowInDays": 7}, error="AccessDeniedException"
    ),
    "policy_bypass": kms(
        "PutKeyPolicy",
        KEY1,
        request={"policyName": "default", "policy": POLICY, "bypassPolicyLockoutSafetyCheck": True},
    ),
    "policy_plain": kms("PutKeyPolicy", KEY2, request={"policyName": "default", "policy": POLICY}),
    "disable_key": kms("DisableKey", KEY1, identity=assumed_role("Admin")),
    "disable_key_by_service": kms("DisableKey", KEY2, identity=aws_service("kms.amazonaws.com")),
    "disable_key_failed": kms("DisableKey", KEY3, error="AccessDeniedException"),
    "disable_rotation": kms("DisableKeyRotation", KEY1),
    "selectors_off": trail_config(
        "PutEventSelectors",
        request={
            "trailName": "main-trail",
            "eventSelectors": [{"readWriteType": "All", "includeManagementEvents": False, "dataResources": []}],
        },
    ),
    "selectors_on": trail_config(
        "PutEventSelectors",
        request={
            "trailName": "main-trail",
            "eventSelectors": [{"readWriteType": "All", "includeManagementEvents": True, "dataResources": []}],
        },
    ),
    "trail_key": trail_config(
        "UpdateTrail", request={"name": "main-trail", "kmsKeyId": key_arn(KEY2)}, response={"name": "main-trail"}
    ),
    "trail_multi": trail_config("UpdateTrail", request={"name": trail_arn(), "isMultiRegionTrail": True}),
    "stop": trail_config("StopLogging"),
    "decrypt": kms(
        "Decrypt",
        key_arn(KEY1),
        request={"encryptionAlgorithm": "SYMMETRIC_DEFAULT", "encryptionContext": {"app": "billing"}},
        eventCategory="Data",
    ),
    "rotate": record("RotateKey", identity=aws_internal(), event_type="AwsServiceEvent", read_only=False),
    "vpce": kms("Encrypt", key_arn(KEY2), event_type="AwsVpceEvent", eventCategory="NetworkActivity"),
}
NAME_OF_ID = {rec["eventID"]: name for name, rec in RECORDS.items()}


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    return load(write(tmp_path_factory.mktemp("fields") / "log.json", cloudtrail_file(list(RECORDS.values()))))


def match(index, expr: str) -> set[str]:
    return {NAME_OF_ID[index.event(row).event_id] for row in rows(index, expr)}


# ---------------------------------------------------------------------------
# A plain-Python reading of the records


def req(rec: dict) -> dict:
    return rec.get("requestParameters") or {}


def resp(rec: dict) -> dict:
    return rec.get("responseElements") or {}


def changes(rec: dict) -> bool:
    """Record paths see calls that change something (not read-only) and configuration events."""
    return rec.get("readOnly") is not True


def account_of(principal: str) -> str | None:
    if principal.startswith("arn:"):
        return principal.split(":")[4]
    head = principal.split(":")[0]
    return head if head.isdigit() and len(head) == 12 else None


def crossgrant(rec: dict) -> bool:
    grantee = req(rec).get("granteePrincipal")
    if rec["eventName"] != "CreateGrant" or not grantee or account_of(grantee) is None:
        return False
    key = req(rec).get("keyId", "")
    owner = key.split(":")[4] if key.startswith("arn:") else rec["recipientAccountId"]
    return account_of(grantee) != owner


def spec(rec: dict) -> str:
    """A CreateKey's key spec, under its name now or the one it had before."""
    return req(rec).get("keySpec") or req(rec).get("customerMasterKeySpec") or ""


def by_service(rec: dict) -> bool:
    return rec["userIdentity"].get("type") == "AWSService" or "invokedBy" in rec["userIdentity"]


REFERENCE: list[tuple[str, Callable[[dict], bool]]] = [
    ("eventtype:AwsServiceEvent", lambda r: r["eventType"] == "AwsServiceEvent"),
    ("eventtype:=AwsApiCall", lambda r: r["eventType"] == "AwsApiCall"),
    ("eventtype:vpce", lambda r: "vpce" in r["eventType"].lower()),
    ("category:Data", lambda r: r["eventCategory"] == "Data"),
    ("category:=Management", lambda r: r["eventCategory"] == "Management"),
    ("category:NetworkActivity", lambda r: r["eventCategory"] == "NetworkActivity"),
    ("-category:Management", lambda r: r["eventCategory"] != "Management"),
    ("identity:AWSService", lambda r: r["userIdentity"].get("type") == "AWSService"),
    ("grantee:role/Reader", lambda r: "role/reader" in req(r).get("granteePrincipal", "").lower()),
    (f"grantee:{OTHER_ACCOUNT}", lambda r: OTHER_ACCOUNT in req(r).get("granteePrincipal", "")),
    (f"grantee:={ROLE_INSIDE}", lambda r: req(r).get("granteePrincipal") == ROLE_INSIDE),
    ("retiring:amazonaws.com", lambda r: "amazonaws.com" in req(r).get("retiringPrincipal", "")),
    ("operations:Decrypt", lambda r: any("decrypt" in o.lower() for o in req(r).get("operations", []))),
    ("operations:=Decrypt", lambda r: "Decrypt" in req(r).get("operations", [])),
    ("operations:encrypt", lambda r: any("encrypt" in o.lower() for o in req(r).get("operations", []))),
    ("keyspec:RSA", lambda r: "RSA" in spec(r)),
    ("keyspec:=SYMMETRIC_DEFAULT", lambda r: spec(r) == "SYMMETRIC_DEFAULT"),
    ("keyspec:=RSA_2048", lambda r: spec(r) == "RSA_2048"),
    ("has:keyspec", lambda r: bool(spec(r))),
    ("keyusage:sign", lambda r: "SIGN" in req(r).get("keyUsage", "")),
    ("window:7", lambda r: req(r).get("pendingWindowInDays") == 7),
    ("window<=7", lambda r: req(r).get("pendingWindowInDays", 99) <= 7),
    ("window>7", lambda r: req(r).get("pendingWindowInDays", 0) > 7),
    ("window:>=30", lambda r: req(r).get("pendingWindowInDays", 0) >= 30),
    ("policyname:default", lambda r: req(r).get("policyName") == "default"),
    ("crossgrant:true", crossgrant),
    ("crossgrant:false", lambda r: "granteePrincipal" in req(r) and not crossgrant(r)),
    ("requestParameters.pendingWindowInDays<=7", lambda r: req(r).get("pendingWindowInDays", 99) <= 7),
    ("req.pendingWindowInDays:=7", lambda r: req(r).get("pendingWindowInDays") == 7),
    ("req.bypassPolicyLockoutSafetyCheck:true", lambda r: req(r).get("bypassPolicyLockoutSafetyCheck") is True),
    ("req.bypassPolicyLockoutSafetyCheck:false", lambda r: req(r).get("bypassPolicyLockoutSafetyCheck") is False),
    ("has:req.bypassPolicyLockoutSafetyCheck", lambda r: "bypassPolicyLockoutSafetyCheck" in req(r)),
    ("has:req.kmsKeyId", lambda r: "kmsKeyId" in req(r)),
    ("has:grantee", lambda r: "granteePrincipal" in req(r)),
    ("-has:req.kmsKeyId event:=UpdateTrail", lambda r: r["eventName"] == "UpdateTrail" and "kmsKeyId" not in req(r)),
    ("req.kmsKeyId:" + KEY2, lambda r: KEY2 in req(r).get("kmsKeyId", "")),
    ("req.isMultiRegionTrail:true", lambda r: req(r).get("isMultiRegionTrail") is True),
    (
        "req.eventSelectors.includeManagementEvents:false",
        lambda r: any(s.get("includeManagementEvents") is False for s in req(r).get("eventSelectors", [])),
    ),
    ("resp.keyMetadata.keySpec:RSA", lambda r: "RSA" in resp(r).get("keyMetadata", {}).get("keySpec", "")),
    ("responseElements.keyMetadata.enabled:true", lambda r: resp(r).get("keyMetadata", {}).get("enabled") is True),
    ("resp.grantId:0123", lambda r: "0123" in resp(r).get("grantId", "")),
    ("has:resp.grantId", lambda r: "grantId" in resp(r)),
    ("req.policy:kms:*", lambda r: "kms:*" in req(r).get("policy", "")),  # a colon inside a path's value
    ("req.eventSelectors:includeManagementEvents", lambda r: "eventSelectors" in req(r)),  # an object, as JSON text
    ("req.operations:GenerateDataKey", lambda r: "GenerateDataKey" in req(r).get("operations", [])),
    ("req.nothing.here:x", lambda r: False),
    # the questions
    (
        "(event:=DisableKey OR event:=ScheduleKeyDeletion) -error:* -identity:AWSService",
        lambda r: (
            r["eventName"] in ("DisableKey", "ScheduleKeyDeletion") and "errorCode" not in r and not by_service(r)
        ),
    ),
    (
        "event:=PutEventSelectors req.eventSelectors.includeManagementEvents:false",
        lambda r: (
            r["eventName"] == "PutEventSelectors"
            and any(s.get("includeManagementEvents") is False for s in req(r).get("eventSelectors", []))
        ),
    ),
    ("event:=UpdateTrail has:req.kmsKeyId", lambda r: r["eventName"] == "UpdateTrail" and "kmsKeyId" in req(r)),
    (
        "event:=CreateGrant crossgrant:true grantee::role/",
        lambda r: crossgrant(r) and ":role/" in req(r)["granteePrincipal"],
    ),
    ("window:7", lambda r: req(r).get("pendingWindowInDays") == 7),
    (
        "(source:cloudtrail (StopLogging OR DeleteTrail)) OR (source:kms ScheduleKeyDeletion)",
        lambda r: (
            (r["eventSource"].startswith("cloudtrail") and r["eventName"] in ("StopLogging", "DeleteTrail"))
            or (r["eventSource"].startswith("kms") and r["eventName"] == "ScheduleKeyDeletion")
        ),
    ),
]


@pytest.mark.parametrize("expr, reference", REFERENCE, ids=[expr for expr, _ in REFERENCE])
def test_field_agrees_with_a_plain_reading(index, expr, reference):
    uses_paths = parse(expr).needs_records
    expected = {name for name, rec in RECORDS.items() if reference(rec) and (changes(rec) or not uses_paths)}
    assert match(index, expr) == expected
    if expr not in ("req.nothing.here:x",):
        assert expected or expr.startswith("-has"), "a reference that finds nothing proves little"


def test_read_only_calls_keep_no_parameters(index):
    """A read-only call (Decrypt, GenerateDataKey...: most of a trail) answers through key:, ctx:
    and the other columns; its parameters are not kept, so a path finds nothing there."""
    assert "encryptionAlgorithm" in req(RECORDS["decrypt"])
    assert match(index, "req.encryptionAlgorithm:SYMMETRIC") == set()
    assert match(index, "ctx:app=billing") == {"decrypt"}


def test_paths_are_case_sensitive_below_the_root_and_values_are_not(index):
    assert match(index, "REQ.pendingWindowInDays:7") == {"schedule_7", "schedule_7_denied"}
    assert match(index, "req.PendingWindowInDays:7") == set()
    assert match(index, "req.keySpec:rsa_4096") == {"create_rsa"}


def test_path_filters_say_they_read_the_records():
    assert parse("window:7").needs_records
    assert parse("a OR -req.x:1").needs_records
    assert parse("has:req.x").needs_records
    assert not parse("event:Decrypt OR error:*").needs_records


# ---------------------------------------------------------------------------
# The registry


def test_every_field_is_defined_once_with_help_and_an_example_that_parses():
    seen = set()
    for field in fields.FIELDS.values():
        if field.name in seen:
            continue
        seen.add(field.name)
        assert field.kind in ("text", "number", "time", "boolean")
        assert field.help and field.example
        parse(f"{field.name}:{field.example}")  # raises if the example is not a value the field takes
    assert {"identity", "type", "eventtype", "category", "grantee", "window", "has"} <= set(fields.FIELDS)
    assert fields.FIELDS["type"] is fields.FIELDS["identity"]


def test_suggestions_come_from_the_registry():
    with pytest.raises(FilterError, match="did you mean category"):
        parse("categry:Data")
    with pytest.raises(FilterError, match="did you mean grantee"):
        parse("grante:role/x")


def test_the_readme_and_the_help_screen_show_the_registrys_table():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    table = fields.markdown_table()
    for document in (root / "README.md", root / "kmstui" / "ui" / "help.md"):
        assert table in document.read_text(encoding="utf-8"), (
            f"{document.name}: the field table differs from the registry; paste `python -m kmstui.core.fields`"
        )


def test_help_lists_every_field(capsys):
    from kmstui.cli import filter_epilog

    epilog = filter_epilog()
    for field in fields.unique():
        assert f"  {'/'.join((field.name, *field.aliases))}:" in epilog


def test_a_name_spelled_with_an_escape_is_still_found(tmp_path):
    """The path filter skips records whose bytes lack the name, unless an escape could hide it."""
    data = cloudtrail_file([kms("ScheduleKeyDeletion", KEY1, request={"pendingWindowInDays": 7})])
    data = data.replace(b'"pendingWindowInDays"', b'"\\u0070endingWindowInDays"')
    index = load(write(tmp_path / "log.json", data))
    assert len(rows(index, "window:7")) == 1
    assert len(rows(index, "has:req.pendingWindowInDays")) == 1


def test_principal_parts_follow_a_growing_index(tmp_path):
    """identity: and account: keep a table per principal; principals that arrive later join it."""
    from kmstui.core import loader
    from kmstui.core.sources import discover

    from records import iam_user, root

    first = write(tmp_path / "a.json", cloudtrail_file([kms("Decrypt", KEY1, identity=iam_user("Ann"))]))
    second = write(tmp_path / "b.json", cloudtrail_file([kms("DisableKey", KEY1, identity=root(OTHER_ACCOUNT))]))
    index = load(first)
    assert rows(index, "identity:Root") == [] and len(rows(index, f"account:{OTHER_ACCOUNT}")) == 0
    files, _ = discover([str(second)])
    loader.load(index, files, refresh_every=None)
    assert [index.event(r).name for r in rows(index, "identity:Root")] == ["DisableKey"]
    assert [index.event(r).name for r in rows(index, f"account:{OTHER_ACCOUNT}")] == ["DisableKey"]
