"""The filter language: bare words, fields, contexts, times, negation, OR, quotes, and errors."""

from __future__ import annotations

import pytest

from kmstui.core.query import FilterError, parse

from records import (
    KEY1,
    KEY2,
    KEY3,
    OTHER_ACCOUNT,
    assumed_role,
    aws_internal,
    aws_service,
    cloudtrail_file,
    iam_user,
    key_arn,
    key_resource,
    kms,
    load,
    record,
    root,
    rows,
    run_cli,
    trail_config,
    write,
)

T = "2024-05-01T{}:00Z"
BILLING = "arn:aws:s3:::billing-bucket/invoices/2024.pdf"

# name -> record; the names are what the tests talk about.
RECORDS = {
    "create_alias": kms(
        "CreateAlias",
        request={"aliasName": "alias/payments", "targetKeyId": KEY2},
        time=T.format("09:00"),
        read_only=False,
    ),
    "alice_decrypt": kms(
        "Decrypt",
        key_arn(KEY1),
        request={"encryptionContext": {"aws:s3:arn": BILLING, "Department": "Finance"}},
        time=T.format("10:00"),
        ip="203.0.113.7",
        agent="aws-cli/2.15.0 Python/3.11 exec-env/CloudShell",
    ),
    "admin_encrypt": kms(
        "Encrypt", "alias/payments", identity=assumed_role("Admin", "s1"), time=T.format("11:00"), ip="10.1.2.3"
    ),
    "denied": kms(
        "Decrypt",
        key_arn(KEY1),
        identity=assumed_role("Reader", "r1", account=OTHER_ACCOUNT),
        error="AccessDeniedException",
        message="User is not authorized to perform kms:Decrypt",
        time=T.format("11:30"),
        ip="198.51.100.99",
        agent="Boto3/1.34.0 Python/3.12",
    ),
    "schedule": kms(
        "ScheduleKeyDeletion", KEY3, identity=root(), region="eu-west-1", time=T.format("12:00"), read_only=False
    ),
    "service": kms(
        "GenerateDataKey",
        key_arn(KEY1),
        identity=aws_service("s3.amazonaws.com"),
        request={"encryptionContext": {"aws:s3:arn": "arn:aws:s3:::other-bucket/x"}},
        time=T.format("12:30"),
        ip="s3.amazonaws.com",
        agent="s3.amazonaws.com",
    ),
    "stop": trail_config(
        "StopLogging", "main-trail", identity=iam_user("Mallory"), time=T.format("13:00"), ip="192.0.2.66"
    ),
    "rotate": record(
        "RotateKey",
        identity=aws_internal(),
        event_type="AwsServiceEvent",
        resources=[key_resource(key_arn(KEY2))],
        time=T.format("13:30"),
        read_only=False,
        ip="AWS Internal",
        agent="AWS Internal",
    ),
}
NAME_OF_ID = {rec["eventID"]: name for name, rec in RECORDS.items()}


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    path = write(tmp_path_factory.mktemp("query") / "log.json", cloudtrail_file(list(RECORDS.values())))
    return load(path)


def match(index, expr: str) -> set[str]:
    return {NAME_OF_ID[index.event(row).event_id] for row in rows(index, expr)}


def test_empty_filter_matches_everything_newest_first(index):
    found = [NAME_OF_ID[index.event(row).event_id] for row in rows(index, "")]
    assert found == [
        "rotate",
        "stop",
        "service",
        "schedule",
        "denied",
        "admin_encrypt",
        "alice_decrypt",
        "create_alias",
    ]
    assert parse("   ").empty


@pytest.mark.parametrize(
    "expr, expected",
    [
        ("Finance", {"alice_decrypt"}),  # a context value
        ("department", {"alice_decrypt"}),  # a context key, any case
        ("billing-bucket", {"alice_decrypt"}),
        ("ScheduleKey", {"schedule"}),  # the event name
        ("alice", {"alice_decrypt", "create_alias"}),  # the principal
        ("mallory", {"stop"}),
        ("203.0.113", {"alice_decrypt"}),  # the source IP
        ("boto3", {"denied"}),  # the user agent
        ("accessdenied", {"denied"}),  # the error code
        ('"not authorized"', {"denied"}),  # the error message, quoted for its space
        ("1234abcd", {"alice_decrypt", "denied", "service"}),  # a key id
        ("payments", {"create_alias", "admin_encrypt", "rotate"}),  # an alias, and events on its key
        ("eu-west-1", {"schedule"}),  # the region
        (OTHER_ACCOUNT, {"denied"}),  # an account
        ("arn:aws:kms:eu-west-1", {"schedule"}),  # ARNs need no quotes
        ("nothing-matches-this", set()),
    ],
)
def test_bare_words_search_the_searchable_text(index, expr, expected):
    assert match(index, expr) == expected


def test_bare_word_finds_an_event_id(index):
    event_id = RECORDS["schedule"]["eventID"]
    assert match(index, event_id[-8:]) == {"schedule"}
    assert match(index, f"id:{event_id}") == {"schedule"}


@pytest.mark.parametrize(
    "expr, expected",
    [
        ("event:Decrypt", {"alice_decrypt", "denied"}),
        ("event:decrypt,encrypt", {"alice_decrypt", "denied", "admin_encrypt"}),
        ('principal:"role/Admin (s1)"', {"admin_encrypt"}),
        ("principal:role/", {"admin_encrypt", "denied"}),
        ("principal:root", {"schedule"}),
        ("principal:service:s3", {"service"}),
        ("principal:alice,mallory", {"alice_decrypt", "create_alias", "stop"}),
        (f"key:{KEY1}", {"alice_decrypt", "denied", "service"}),
        (f"key:{key_arn(KEY2)}", {"create_alias", "admin_encrypt", "rotate"}),
        ("key:alias/payments", {"create_alias", "admin_encrypt", "rotate"}),
        ("alias:payments", {"create_alias", "admin_encrypt", "rotate"}),
        ("ip:198.51.100.99", {"denied"}),
        ("region:eu-west", {"schedule"}),
        (f"account:{OTHER_ACCOUNT}", {"denied"}),
        ("error:*", {"denied"}),
        ("error:AccessDenied", {"denied"}),
        ('error:"not authorized"', {"denied"}),
        ("type:AssumedRole", {"admin_encrypt", "denied"}),
        ("type:root", {"schedule"}),
        ("type:AWSService", {"service"}),
        ("agent:boto3", {"denied"}),
        ("agent:cloudshell", {"alice_decrypt"}),
        ("trail:main-trail", {"stop"}),
        ("source:cloudtrail", {"stop"}),
        ("source:kms.amazonaws.com", set(RECORDS) - {"stop"}),
        ("readonly:true", {"alice_decrypt", "admin_encrypt", "denied", "service"}),
        ("readonly:false", {"create_alias", "schedule", "stop", "rotate"}),
        ("EVENT:RotateKey", {"rotate"}),  # field names in any case
    ],
)
def test_fields(index, expr, expected):
    assert match(index, expr) == expected


def test_account_field_matches_the_recipient_account_too(index):
    assert match(index, "account:111122223333") == set(RECORDS)


@pytest.mark.parametrize(
    "expr, expected",
    [
        (f"ctx:aws:s3:arn={BILLING}", {"alice_decrypt"}),  # key with colons, split at the first =
        ("ctx:aws:s3:arn=billing-bucket", {"alice_decrypt"}),
        ("ctx:aws:s3:arn", {"alice_decrypt", "service"}),  # a key alone
        ("ctx:Department=Finance", {"alice_decrypt"}),
        ("ctx:department=FINANCE", {"alice_decrypt"}),
        ("ctx:Department=Engineering", set()),
        ("ctx:Finance", {"alice_decrypt"}),  # a value alone
        ("ctx:Finance=Department", set()),  # key and value are not interchangeable
        ("ctx:other-bucket", {"service"}),
    ],
)
def test_encryption_context(index, expr, expected):
    assert match(index, expr) == expected


def test_context_value_holding_an_equals_sign(tmp_path):
    rec = kms("Decrypt", key_arn(), request={"encryptionContext": {"query": "a=b&c=d"}})
    index = load(write(tmp_path / "log.json", cloudtrail_file([rec, kms("Encrypt", key_arn())])))
    assert [index.event(r).name for r in rows(index, "ctx:query=a=b")] == ["Decrypt"]


@pytest.mark.parametrize(
    "expr, expected",
    [
        ("since:2024-05-01T12:00:00Z", {"schedule", "service", "stop", "rotate"}),
        ("since:2024-05-01T22:00+10:00", {"schedule", "service", "stop", "rotate"}),
        ("until:2024-05-01T10:00Z", {"create_alias", "alice_decrypt"}),
        ("since:2024-05-01T10:00Z until:2024-05-01T11:00Z", {"alice_decrypt", "admin_encrypt"}),
        ("since:2024-05-01", set(RECORDS)),
        ("since:2024-05-02", set()),
        ("until:2024-05-01", set(RECORDS)),  # a date alone: until the end of that day
        ("until:2024-04-30", set()),
        ("since:1h", {"service", "stop", "rotate"}),  # back from the newest event (13:30)
        ("since:90m", {"schedule", "service", "stop", "rotate"}),
        ("since:3600s", {"service", "stop", "rotate"}),
        ("since:1d", set(RECORDS)),
        ("until:4h", {"create_alias"}),
        ("until:210m", {"create_alias", "alice_decrypt"}),
    ],
)
def test_time_bounds(index, expr, expected):
    assert match(index, expr) == expected


@pytest.mark.parametrize(
    "expr, expected",
    [
        ("-event:Decrypt", set(RECORDS) - {"alice_decrypt", "denied"}),
        ("-error:*", set(RECORDS) - {"denied"}),
        ("event:Decrypt -error:*", {"alice_decrypt"}),
        ("-alice -source:cloudtrail -payments", {"denied", "schedule", "service"}),
        ("-event:decrypt,encrypt", set(RECORDS) - {"alice_decrypt", "denied", "admin_encrypt"}),
        ("key:1234abcd principal:service", {"service"}),
        ("readonly:true -type:AssumedRole since:2024-05-01T10:00Z", {"alice_decrypt", "service"}),
        ("decrypt denied", {"denied"}),  # bare words AND too
        ('"role/Admin (s1)"', {"admin_encrypt"}),
    ],
)
def test_negation_and_combination(index, expr, expected):
    assert match(index, expr) == expected


def test_terms_are_parsed_as_written():
    terms = parse('-principal:"role/Admin (s1)",root  ctx:aws:s3:arn=x=y  word').terms
    assert [(t.negate, t.field, t.values) for t in terms] == [
        (True, "principal", ["role/Admin (s1)", "root"]),
        (False, "ctx", ["aws:s3:arn=x=y"]),
        (False, None, ["word"]),
    ]
    assert [t.position for t in terms] == [0, 35, 55]


@pytest.mark.parametrize(
    "expr, position, words",
    [
        ("evnt:Decrypt", 0, ["unknown field 'evnt'", "did you mean event"]),
        ("event:Decrypt -princpal:alice", 15, ["unknown field 'princpal'", "did you mean principal"]),
        ("zzzqqq:1", 0, ["unknown field 'zzzqqq'", "fields:"]),
        ("aws:s3:arn", 0, ["unknown field 'aws'", "double quotes"]),
        ('principal:"role/Admin (s1)', 10, ["quote is not closed"]),
        ('decrypt "unclosed', 8, ["quote is not closed"]),
        ("event:", 0, ["event: needs a value"]),
        ("key:1234 alias:", 9, ["alias: needs a value"]),
        ('event:""', 0, ["needs a value"]),
        ("event:,", 0, ["needs a value"]),
        ('""', 0, ["empty search"]),
        ("readonly:maybe", 0, ["readonly: takes true or false", "'maybe'"]),
        ("error:* readonly:true,perhaps", 8, ["readonly"]),
        ("since:yesterday", 0, ["since:", "'yesterday'", "neither an ISO time"]),
        ("decrypt until:2024-13-45", 8, ["until:", "ISO time"]),
        ("since:1h,2h", 0, ["takes one time"]),
    ],
)
def test_bad_filters_say_where_and_why(expr, position, words):
    with pytest.raises(FilterError) as caught:
        parse(expr)
    error = caught.value
    assert error.position == position
    for word in words:
        assert word.lower() in error.message.lower(), error.message
    assert str(error).startswith(f"column {position + 1}: ")


@pytest.mark.parametrize("command", ["events", "keys"])
def test_headless_commands_exit_2_on_a_bad_filter(tmp_path, command):
    path = write(tmp_path / "log.json", cloudtrail_file([kms("Decrypt", key_arn())]))
    result = run_cli(command, path, "--filter", "event:Decrypt -princpal:alice")
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0] == "kmstui: bad filter: column 16: unknown field 'princpal' (did you mean principal?)."
    assert lines[1] == "kmstui:   event:Decrypt -princpal:alice"
    assert lines[2] == "kmstui:   " + " " * 15 + "^"  # under the field name, after the minus
    assert "Traceback" not in result.stderr


def test_headless_filter_selects_events(tmp_path):
    path = write(tmp_path / "log.json", cloudtrail_file(list(RECORDS.values())))
    result = run_cli("events", path, "--filter", "event:Decrypt -error:*", "--count")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1"


# ---------------------------------------------------------------------------
# The grammar: OR, NOT, parentheses, precedence, exact values


@pytest.mark.parametrize(
    "expr, expected",
    [
        ("event:=Decrypt OR event:=Encrypt", {"alice_decrypt", "denied", "admin_encrypt"}),
        ("alice OR mallory", {"alice_decrypt", "create_alias", "stop"}),
        # AND binds tighter than OR: (schedule) OR (decrypt AND error)
        ("event:ScheduleKeyDeletion OR event:Decrypt error:*", {"schedule", "denied"}),
        ("event:ScheduleKeyDeletion OR event:Decrypt AND error:*", {"schedule", "denied"}),
        ("(event:ScheduleKeyDeletion OR event:Decrypt) error:*", {"denied"}),
        ("error:* event:Decrypt OR event:ScheduleKeyDeletion", {"schedule", "denied"}),
        # NOT binds tighter than AND
        ("NOT event:Decrypt readonly:true", {"admin_encrypt", "service"}),
        ("-event:Decrypt readonly:true", {"admin_encrypt", "service"}),
        ("NOT (event:Decrypt readonly:true)", set(RECORDS) - {"alice_decrypt", "denied"}),
        ("-(event:Decrypt OR event:Encrypt)", set(RECORDS) - {"alice_decrypt", "denied", "admin_encrypt"}),
        ("NOT NOT event:RotateKey", {"rotate"}),
        ("--event:RotateKey", {"rotate"}),
        # nesting
        ("((source:cloudtrail StopLogging) OR (source:kms ScheduleKeyDeletion))", {"stop", "schedule"}),
        (
            "(source:cloudtrail (StopLogging OR DeleteTrail)) OR (source:kms ScheduleKeyDeletion)",
            {"stop", "schedule"},
        ),
        ("((((rotatekey))))", {"rotate"}),
        ("(alice OR root) -(event:CreateAlias)", {"alice_decrypt", "schedule"}),
        # keywords are capitals; in lower case, or quoted, they are words
        ("decrypt or encrypt", set()),
        ('decrypt "OR"', {"denied"}),  # a word: "not authorized" holds it
        ("alice AND decrypt", {"alice_decrypt"}),
        # commas are OR within a field, next to OR across fields
        ("event:StopLogging,RotateKey OR principal:root", {"stop", "rotate", "schedule"}),
    ],
)
def test_boolean_grammar(index, expr, expected):
    assert match(index, expr) == expected


@pytest.mark.parametrize(
    "expr, expected",
    [
        ("event:crypt", {"alice_decrypt", "denied", "admin_encrypt"}),  # substring stays the default
        ("event:=Encrypt", {"admin_encrypt"}),
        ("event:=encrypt", {"admin_encrypt"}),  # any case
        ("event:=Encryp", set()),
        ("event:=Decrypt,Encrypt", {"alice_decrypt", "denied", "admin_encrypt"}),
        ("-event:=Decrypt readonly:true", {"admin_encrypt", "service"}),
        ("principal:=role/Admin", set()),
        ('principal:="role/Admin (s1)"', {"admin_encrypt"}),
        ("principal:=arn:aws:sts::111122223333:assumed-role/Admin/s1", {"admin_encrypt"}),
        ("principal:=arn:aws:iam::111122223333:user/Alice", {"alice_decrypt", "create_alias"}),
        (f"key:={KEY1}", {"alice_decrypt", "denied", "service"}),
        ("key:=1234abcd", set()),
        (f"key:={key_arn(KEY2)}", {"create_alias", "admin_encrypt", "rotate"}),
        ("key:=alias/payments", {"create_alias", "admin_encrypt", "rotate"}),
        ("alias:=alias/payments", {"create_alias", "admin_encrypt", "rotate"}),
        ("alias:=payments", set()),
        ("error:=AccessDeniedException", {"denied"}),
        ("error:=AccessDenied", set()),
        ("identity:=Root", {"schedule"}),
        ("type:=Root", {"schedule"}),
        ("ip:=198.51.100.99", {"denied"}),
        ("ip:=198.51.100.9", set()),
        ("region:=eu-west-1", {"schedule"}),
        ("source:=cloudtrail", set()),
        ("source:=cloudtrail.amazonaws.com", {"stop"}),
        (f"account:={OTHER_ACCOUNT}", {"denied"}),
        ("account:=4444", set()),
        ("ctx:=Department=Finance", {"alice_decrypt"}),
        ("ctx:=Department=Fin", set()),
        (f"ctx:=aws:s3:arn={BILLING}", {"alice_decrypt"}),
        ("ctx:=aws:s3:arn=billing-bucket", set()),
        ("ctx:=Finance", {"alice_decrypt"}),  # a whole value (or key) alone
        ("ctx:=Finan", set()),
        ("agent:=Boto3/1.34.0 Python/3.12", set()),  # a space ends the value...
        ('agent:="Boto3/1.34.0 Python/3.12"', {"denied"}),  # ...unless quoted
        ("readonly:=false", {"create_alias", "schedule", "stop", "rotate"}),
    ],
)
def test_exact_values(index, expr, expected):
    assert match(index, expr) == expected


def test_exact_event_id(index):
    event_id = RECORDS["schedule"]["eventID"]
    assert match(index, f"id:={event_id}") == {"schedule"}
    assert match(index, f"id:={event_id[:-1]}") == set()


def test_the_tree_as_parsed():
    from kmstui.core.query import All, Either, Not, Term

    root = parse("a OR b c -(d OR NOT e)").root
    assert isinstance(root, Either)
    first, second = root.nodes
    assert isinstance(first, Term) and first.values == ["a"]
    assert isinstance(second, All)
    b, c, negated = second.nodes
    assert (b.values, c.values) == (["b"], ["c"])
    assert isinstance(negated, Not) and isinstance(negated.node, Either)
    assert isinstance(negated.node.nodes[1], Not)
    assert parse('event:="Disable Key"').root == Term('event:="Disable Key"', False, "event", ["Disable Key"], 0, ":=")


@pytest.mark.parametrize(
    "expr, described",
    [
        ("event:Decrypt", "event:Decrypt"),
        ("type:Root", "identity:Root"),
        ("req.keyId:x", "requestParameters.keyId:x"),
        ("a  OR  b c", "a OR b c"),
        ("(a OR b) c", "(a OR b) c"),
        ("NOT (a b)", "-(a b)"),
        ("-(a OR b)", "-(a OR b)"),
        ('principal:"role/Admin (s1)",root', 'principal:"role/Admin (s1)",root'),
        ("window<=7", "window<=7"),
        ("event:=DisableKey", "event:=DisableKey"),
        ('"aws:s3:arn" "-x" "a b"', '"aws:s3:arn" "-x" "a b"'),
    ],
)
def test_described_as_understood(expr, described):
    assert parse(expr).describe() == described
    assert parse(parse(expr).describe()).describe() == described  # the description parses back


def test_top_level_terms_are_what_must_all_hold():
    """The live lookup narrows by these: a term under OR must not count."""
    assert [t.values for t in parse("event:Decrypt OR key:x").terms] == []
    assert [(t.field, t.negate) for t in parse("event:Decrypt -key:x (a OR b)").terms] == [
        ("event", False),
        ("key", True),
    ]


@pytest.mark.parametrize(
    "value, typed",
    [
        ("Decrypt", "Decrypt"),
        ("role/Admin (s1)", '"role/Admin (s1)"'),
        ("a,b", '"a,b"'),
        ("OR", '"OR"'),
        ("=x", '"=x"'),
        ("<7", '"<7"'),
        ("k)", '"k)"'),
        ('say "hi" there', '" there"'),
        ("arn:aws:kms:us-east-1:111122223333:key/x", "arn:aws:kms:us-east-1:111122223333:key/x"),
    ],
)
def test_quote_gives_what_parses_back(value, typed):
    from kmstui.core.query import quote

    assert quote(value) == typed
    assert parse(f"ctx:{typed}").root.values == [max(value.split('"'), key=len)]


@pytest.mark.parametrize(
    "expr, position, words",
    [
        ("(event:Decrypt", 0, ["parenthesis is not closed"]),
        ("a (b (c) d", 2, ["parenthesis is not closed"]),
        ("event:Decrypt)", 13, ["closing parenthesis without an opening one"]),
        ("a) OR (b", 1, ["closing parenthesis without an opening one"]),
        ("()", 0, ["empty parentheses"]),
        ("a ( ) b", 2, ["empty parentheses"]),
        ("OR a", 0, ["OR needs a term before it"]),
        ("a OR", 2, ["OR needs a term after it"]),
        ("a OR OR b", 2, ["OR needs a term after it"]),
        ("(a OR) b", 3, ["OR needs a term after it"]),
        ("AND a", 0, ["AND needs a term before it"]),
        ("a AND", 2, ["AND needs a term after it"]),
        ("a NOT", 2, ["NOT needs a term after it"]),
        ("(a -)", 3, ["needs a term after it"]),
        ("a NOT OR b", 2, ["NOT needs a term after it"]),
        ("event:(Decrypt OR Encrypt)", 6, ["takes values, not a group", "event:a,b"]),
        ("event:<7", 0, ["event: is text", "compare numbers"]),
        ("region>=2", 0, ["region: is text"]),
        ("window<=soon", 0, ["takes one number"]),
        ("window:week", 0, ["takes a number"]),
        ("req.pendingWindowInDays>=x", 0, ["takes one number"]),
        ("since:=2h", 0, ["since: takes a time"]),
        ("has:keyId", 0, ["has: takes a record path"]),
        ("req:x", 0, ["not a record path", "requestParameters.NAME"]),
        ("a request.keyId:x", 2, ["unknown record path 'request.keyId'", "did you mean requestParameters"]),
        ("error:=*", 0, ["any error"]),
        ("eventtyp:AwsApiCall", 0, ["did you mean eventtype"]),
        ("identty:Root", 0, ["did you mean identity"]),
    ],
)
def test_bad_expressions_say_where_and_why(expr, position, words):
    with pytest.raises(FilterError) as caught:
        parse(expr)
    error = caught.value
    assert error.position == position, error
    for word in words:
        assert word.lower() in error.message.lower(), error.message


def test_words_that_look_like_domains_or_arns_stay_words():
    assert parse("s3.amazonaws.com:443").root.field is None
    assert parse("arn:aws:kms:eu-west-1").root.field is None
