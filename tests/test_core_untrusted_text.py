"""Text that reaches the terminal: record text, file names and AWS's words are shown, never
obeyed (escape sequences), never hidden (zero-width and other invisible characters), never run
by a spreadsheet, and lined up by the cells they take rather than by their characters."""

from __future__ import annotations

import csv
import io

import pytest

from kmstui.core.text import cell_width, clean, fit, pad

from records import (
    KEY1,
    cloudtrail_file,
    iam_user,
    key_arn,
    kms,
    load,
    new_id,
    other_service,
    run_main,
    write,
)

OSC_TITLE = "\x1b]0;pwned\x07"  # sets the window title
OSC_CLIPBOARD = "\x1b]52;c;cm0gLXJmIH4=\x07"  # puts text in the clipboard

# Every character that draws nothing, or moves what comes after it, that a name could hide.
INVISIBLE = {
    "zero-width space": "\u200b",
    "zero-width non-joiner": "\u200c",
    "zero-width joiner": "\u200d",
    "left-to-right mark": "\u200e",
    "word joiner": "\u2060",
    "invisible separator": "\u2063",
    "byte order mark": "\ufeff",
    "line separator": "\u2028",
    "paragraph separator": "\u2029",
    "soft hyphen": "\u00ad",
    "combining grapheme joiner": "\u034f",
    "Mongolian vowel separator": "\u180e",
    "variation selector 16": "\ufe0f",
    "tag space": "\U000e0020",
    "tag latin a": "\U000e0061",
    "cancel tag": "\U000e007f",
    "language tag": "\U000e0001",
    "Hangul choseong filler": "\u115f",
    "Hangul jungseong filler": "\u1160",
    "Hangul filler": "\u3164",
    "half-width Hangul filler": "\uffa0",
    "Khmer inherent vowel": "\u17b4",
    "bidi isolate": "\u2066",
    "bidi override": "\u202e",
    "interlinear annotation": "\ufff9",
    "8-bit CSI": "\x9b",
}


HEADER = (
    "TIME (UTC)           EVENT    PRINCIPAL    KEY                                   SOURCE IP     REGION     ERROR\n"
)
KEY_AND_AFTER = "1234abcd-12ab-34cd-56ef-1234567890ab  198.51.100.7  us-east-1\n"


@pytest.mark.parametrize("name", sorted(INVISIBLE))
def test_invisible_characters_are_made_visible(name):
    shown = clean(f"user/Ad{INVISIBLE[name]}min")
    assert shown == "user/Ad\ufffdmin"


def test_clean_leaves_visible_text_alone():
    for text in ("plain", "日本語", "café", "cafe\u0301", "Ωμέγα", "🙂", "a b"):
        assert clean(text) == text


def test_one_registry_says_what_is_shown_how():
    """Control pictures for C0, the replacement character for everything else hidden."""
    assert clean("\x1b\x00\x7f") == "\u241b\u2400\u2421"
    assert clean("\u0085") == "\ufffd"  # next line, a C1 control


def test_the_headless_table_shows_an_invisible_character_in_a_principal(tmp_path, capsys):
    record = kms("Decrypt", key_arn(KEY1), identity=iam_user("Ad\u200bmin"))
    write(tmp_path / "log.json", cloudtrail_file([record]))
    code, out, _err = run_main(capsys, "events", tmp_path, "--format", "table", "-q")
    assert code == 0
    assert out.encode() == (HEADER + "2024-05-01 12:00:00  Decrypt  user/Ad\ufffdmin  " + KEY_AND_AFTER).encode()


# ---------------------------------------------------------------------------
# CSV


def csv_cells(out: str) -> dict[str, str]:
    rows = list(csv.reader(io.StringIO(out)))
    assert len(rows) == 2, rows
    return dict(zip(rows[0], rows[1], strict=True))


def test_csv_writes_escape_sequences_as_visible_text(tmp_path, capsys):
    record = kms("Decrypt", key_arn(KEY1), agent=OSC_TITLE, error="AccessDenied", message=OSC_CLIPBOARD)
    write(tmp_path / "log.json", cloudtrail_file([record]))
    code, out, _err = run_main(capsys, "events", tmp_path, "--format", "csv", "-q")
    assert code == 0
    written = out.encode()
    assert b"\x1b" not in written and b"\x07" not in written
    assert ",\u241b]0;pwned\u2407,".encode() in written
    assert ",\u241b]52;c;cm0gLXJmIH4=\u2407,".encode() in written


FORMULAS = {
    "plain": ("=HYPERLINK(1)", "'=HYPERLINK(1)"),
    "after a newline": ("\n=HYPERLINK(1)", "'\u240a=HYPERLINK(1)"),
    "after a carriage return": ("\r=1+1", "'\u240d=1+1"),
    "after a tab": ("\t@SUM(1)", "'\u2409@SUM(1)"),
    "after a non-breaking space": ("\u00a0=1+1", "'\u00a0=1+1"),
    "after spaces": ("   +1+1", "'   +1+1"),
    "after a zero-width space": ("\u200b-1+1", "'\ufffd-1+1"),
    "full-width equals": ("\uff1d1+1", "'\uff1d1+1"),
    "full-width plus": ("\uff0b1", "'\uff0b1"),
    "full-width at": ("\uff20SUM(1)", "'\uff20SUM(1)"),
    "not a formula": ("a=1", "a=1"),
}


@pytest.mark.parametrize("case", sorted(FORMULAS))
def test_csv_cells_that_a_spreadsheet_would_run_are_quoted(tmp_path, capsys, case):
    value, written = FORMULAS[case]
    record = kms("Decrypt", key_arn(KEY1), agent=value)
    write(tmp_path / "log.json", cloudtrail_file([record]))
    code, out, _err = run_main(capsys, "events", tmp_path, "--format", "csv", "-q")
    assert code == 0
    assert csv_cells(out)["user_agent"] == written


# ---------------------------------------------------------------------------
# Standard error


def test_a_skipped_file_name_is_shown_not_obeyed(tmp_path, capsys):
    write(tmp_path / f"bad{OSC_TITLE}.json", b"not json")
    write(tmp_path / "good.json", cloudtrail_file([kms("Decrypt", key_arn(KEY1))]))
    code, _out, err = run_main(capsys, "events", tmp_path, "--count")
    assert code == 0
    assert "\x1b" not in err and "\x07" not in err
    assert f"kmstui: skipped {tmp_path}/bad\u241b]0;pwned\u2407.json: not JSON\n" in err


def test_a_hostile_event_source_in_the_not_kept_summary(tmp_path, capsys):
    records = [kms("Decrypt", key_arn(KEY1)), other_service("Get", source=f"evil{OSC_TITLE}.amazonaws.com")]
    write(tmp_path / "log.json", cloudtrail_file(records))
    code, _out, err = run_main(capsys, "events", tmp_path, "--count")
    assert code == 0
    assert "\x1b" not in err and "\x07" not in err
    assert "kmstui: Not kept: 1 event of other services (1 evil\u241b]0;pwned\u2407).\n" in err


def test_an_aws_error_message_is_shown_not_obeyed(aws_endpoints, capsys):
    aws_endpoints.cloudtrail.fail_next(
        "ValidationException", f"bad request {OSC_CLIPBOARD}", status=400, operation="LookupEvents"
    )
    code, _out, err = run_main(capsys, "events", "--lookup", "--region", "us-east-1")
    assert "\x1b" not in err and "\x07" not in err
    assert "bad request \u241b]52;c;cm0gLXJmIH4=\u2407" in err
    assert "Traceback" not in err
    assert code == 2


# ---------------------------------------------------------------------------
# Width in cells


def test_cell_width_counts_wide_and_combining_characters():
    assert cell_width("abc") == 3
    assert cell_width("日本") == 4
    assert cell_width("cafe\u0301") == 4
    assert pad("日本", 6) == "日本  "
    assert fit("日本語", 5) == "日本"


def test_the_headless_table_lines_up_wide_and_combining_characters(tmp_path, capsys):
    records = [
        kms("Decrypt", key_arn(KEY1), identity=iam_user("日本語"), event_id=new_id(), time="2024-05-01T12:00:02Z"),
        kms("Decrypt", key_arn(KEY1), identity=iam_user("cafe\u0301"), event_id=new_id(), time="2024-05-01T12:00:01Z"),
        kms("Decrypt", key_arn(KEY1), identity=iam_user("Bob"), event_id=new_id()),
    ]
    write(tmp_path / "log.json", cloudtrail_file(records))
    code, out, _err = run_main(capsys, "events", tmp_path, "--format", "table", "-q")
    assert code == 0
    assert out == (
        HEADER
        + "2024-05-01 12:00:02  Decrypt  user/日本語  "
        + KEY_AND_AFTER
        + "2024-05-01 12:00:01  Decrypt  user/cafe\u0301    "
        + KEY_AND_AFTER
        + "2024-05-01 12:00:00  Decrypt  user/Bob     "
        + KEY_AND_AFTER
    )


def test_the_detail_view_lines_up_context_keys_by_cells(tmp_path):
    from kmstui.ui.detail import context_content

    context = {"名前": "a", "ab": "b", "e\u0301t\u00e9": "c"}
    write(
        tmp_path / "log.json", cloudtrail_file([kms("Decrypt", key_arn(KEY1), request={"encryptionContext": context})])
    )
    [event] = [load(tmp_path / "log.json").event(0)]
    lines = context_content(event).plain.splitlines()
    values = [line for line in lines if line.rstrip()[-1:] in ("a", "b", "c")]
    assert len(values) == 3
    assert {cell_width(line) for line in values} == {3 + 4 + 2 + 1}, values


def test_the_detail_view_wraps_wide_text_within_its_width():
    from kmstui.ui.detail import _Lines

    lines = _Lines(width=40)
    lines.line("Agent", ("日本語のテキスト" * 10, None))
    for line in lines.content().plain.splitlines():
        assert cell_width(line) <= 40, line


def test_clean_is_idempotent():
    for text in ("\x1b[31m", "a\u200bb", "日本"):
        assert clean(clean(text)) == clean(text)


# ---------------------------------------------------------------------------
# JSON Lines and raw records: the same values, nothing a terminal acts on or hides

HIDING = "\u202eevil\u009b[31m\u200bAd\u2028min\U000e0041\u007f"  # bidi override, 8-bit CSI, ZWSP, LS, tag, DEL


@pytest.mark.parametrize(
    "command",
    [
        ("events", "--format", "jsonl"),
        ("events", "--format", "raw"),
        ("events", "--group-by", "agent", "--format", "jsonl"),
    ],
    ids=lambda c: " ".join(c),
)
def test_json_output_escapes_what_a_terminal_would_act_on(tmp_path, capsys, command):
    import json

    from kmstui.core.text import clean

    record = kms("Decrypt", key_arn(KEY1), identity=iam_user(HIDING), agent=HIDING)
    write(tmp_path / "log.json", cloudtrail_file([record]))
    code, out, _err = run_main(capsys, command[0], tmp_path, *command[1:], "-q")
    assert code == 0 and out
    assert clean(out.replace("\n", "")) == out.replace("\n", ""), "a character the terminal would act on or hide"
    assert "\\u202e" in out and "\\u009b" in out and "\\udb40\\udc41" in out
    values = [json.loads(line) for line in out.splitlines()]
    assert any(HIDING in json.dumps(value, ensure_ascii=False) for value in values)  # the values are intact
