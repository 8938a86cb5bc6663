"""Every input format, told from the content and never from the file name."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys

import pytest

from kmstui.core import sources

from records import (
    KEY1,
    KEY2,
    cloudtrail_file,
    gz,
    ids,
    json_lines,
    jsonl,
    key_arn,
    kms,
    load,
    load_file,
    lookup_event,
    lookup_page,
    run_cli,
    write,
)


@pytest.fixture
def three():
    """Three KMS records with distinct ids and times."""
    return [
        kms("Encrypt", key_arn(KEY1), time="2024-05-01T10:00:00Z"),
        kms("Decrypt", key_arn(KEY1), time="2024-05-01T11:00:00Z"),
        kms("GenerateDataKey", key_arn(KEY2), time="2024-05-01T12:00:00Z"),
    ]


def expect_loaded(path, records, fmt):
    batch, source = load_file(str(path))
    assert source.error is None, source.error
    assert source.format == fmt
    assert batch.records == len(records)
    assert batch.n == len(records)
    index = load(path)
    assert ids(index) == {r["eventID"] for r in records}
    return index


@pytest.mark.parametrize(
    "name, encode",
    [
        ("plain.json", lambda data: data),
        ("compressed.json.gz", gz),
        ("gzip-with-a-json-name.json", gz),
        ("plain-with-a-gz-name.json.gz", lambda data: data),
        ("no-extension", gz),
    ],
)
def test_cloudtrail_log_file_plain_or_gzip_by_magic_bytes(tmp_path, three, name, encode):
    path = write(tmp_path / name, encode(cloudtrail_file(three)))
    expect_loaded(path, three, "cloudtrail")


def test_cloudtrail_log_file_pretty_printed(tmp_path, three):
    path = write(tmp_path / "pretty.json", cloudtrail_file(three, indent=2))
    expect_loaded(path, three, "cloudtrail")


def test_lookup_events_single_page_reads_the_cloudtrail_event_strings(tmp_path, three):
    path = write(tmp_path / "page.json", json.dumps(lookup_page(three), indent=4))
    index = expect_loaded(path, three, "lookup-events")
    # The inner record, not the lookup envelope, is what was indexed: its key and user agent.
    event = next(e for e in (index.event(r) for r in range(index.size)) if e.name == "GenerateDataKey")
    assert event.keys == (key_arn(KEY2),)
    assert event.user_agent == three[2]["userAgent"]


def test_lookup_events_pages_pretty_printed_one_after_another(tmp_path, three):
    text = (
        json.dumps(lookup_page(three[:2], "token-1"), indent=4)
        + "\n"
        + json.dumps(lookup_page(three[2:]), indent=4)
        + "\n"
    )
    path = write(tmp_path / "pages.json", text)
    expect_loaded(path, three, "lookup-events")


def test_lookup_events_pages_one_per_line(tmp_path, three):
    path = write(tmp_path / "pages.jsonl", jsonl([lookup_page(three[:1], "t"), lookup_page(three[1:])]))
    expect_loaded(path, three, "lookup-events")


def test_lookup_events_json_list_of_pages(tmp_path, three):
    path = write(tmp_path / "pages.json", [lookup_page(three[:2], "t"), lookup_page(three[2:])])
    expect_loaded(path, three, "lookup-events")


def test_json_lines_of_raw_records(tmp_path, three):
    path = write(tmp_path / "records.txt", jsonl(three))
    expect_loaded(path, three, "jsonl")


def test_json_lines_of_lookup_events_event_objects(tmp_path, three):
    path = write(tmp_path / "events.jsonl", jsonl([lookup_event(r) for r in three]))
    expect_loaded(path, three, "lookup-events")


def test_single_record_object(tmp_path, three):
    path = write(tmp_path / "one.json", json.dumps(three[0], indent=2))
    expect_loaded(path, three[:1], "record")


def test_json_array_of_records(tmp_path, three):
    path = write(tmp_path / "array.json", json.dumps(three, indent=2))
    expect_loaded(path, three, "array")


def test_gzipped_json_lines(tmp_path, three):
    path = write(tmp_path / "records.jsonl.gz", gz(jsonl(three)))
    expect_loaded(path, three, "jsonl")


def test_lookup_event_without_cloudtrail_event_still_gives_an_event(tmp_path, three):
    events = [lookup_event(r, with_cloudtrail_event=False) for r in three]
    path = write(tmp_path / "bare.json", {"Events": events})
    index = expect_loaded(path, three, "lookup-events")
    by_name = {index.event(r).name: index.event(r) for r in range(index.size)}
    assert by_name["GenerateDataKey"].keys == (key_arn(KEY2),)


def test_directory_read_recursively_in_every_format(tmp_path, three):
    a, b, c = three
    write(tmp_path / "top" / "trail.json.gz", gz(cloudtrail_file([a])))
    write(tmp_path / "top" / "deeper" / "still" / "lookup.json", lookup_page([b]))
    write(tmp_path / "top" / "deeper" / "records.jsonl", jsonl([c]))
    write(tmp_path / "top" / ".hidden.json", cloudtrail_file([kms("Sign", key_arn(KEY1))]))
    index = load(tmp_path / "top")
    assert ids(index) == {a["eventID"], b["eventID"], c["eventID"]}
    assert index.report.files_loaded == 3
    assert index.report.skipped == []


def test_standard_input_via_dash(tmp_path, three):
    data = gz(cloudtrail_file(three))
    result = run_cli("events", "-", "--format", "jsonl", input=data)
    assert result.returncode == 0, result.stderr
    out = json_lines(result.stdout)
    assert {e["event_id"] for e in out} == {r["eventID"] for r in three}
    assert {e["origin"] for e in out} == {"(stdin)"}


def test_standard_input_is_read_when_no_source_is_named(three):
    result = run_cli("events", "--count", input=jsonl(three))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "3"


def test_standard_input_alongside_files(tmp_path, three):
    path = write(tmp_path / "log.json", cloudtrail_file(three[:1]))
    result = run_cli("events", str(path), "-", "--format", "jsonl", input=jsonl(three[1:]))
    assert result.returncode == 0, result.stderr
    origins = {e["event_id"]: e["origin"] for e in json_lines(result.stdout)}
    assert origins[three[0]["eventID"]] == str(path)
    assert origins[three[1]["eventID"]] == origins[three[2]["eventID"]] == "(stdin)"


def test_raw_record_is_read_back_from_its_source(tmp_path, three):
    path = write(tmp_path / "pages.json", json.dumps(lookup_page(three), indent=2))
    index = load(path)
    for row in range(index.size):
        assert index.record(row) in three


# ---------------------------------------------------------------------------
# Gunzip: ISA-L where its wheel is installed, zlib where it is not; the same either way


def _gzip_cases(body: bytes) -> dict[str, bytes]:
    """Gzipped inputs, good and bad, as a file may hold them."""
    member = gzip.compress(body, mtime=0)
    flipped = bytearray(member)
    flipped[len(member) // 2] ^= 0xFF  # a byte of the deflate data
    crc = bytearray(member)
    crc[-8] ^= 0x01  # the member's CRC-32
    size = bytearray(member)
    size[-4] ^= 0x01  # the member's length
    return {
        "one member": member,
        "members concatenated": member + gzip.compress(b"", mtime=0) + gzip.compress(body[:100], mtime=0) + member,
        "zero padding after the end": member + b"\0" * 512,
        "cut in the data": member[: len(member) // 2],
        "cut before the trailer": member[:-8],
        "cut inside the header": member[:6],
        "a damaged byte": bytes(flipped),
        "a wrong checksum": bytes(crc),
        "a wrong length": bytes(size),
        "other data after the end": member + b"garbage",
        "a second member cut": member + member[:40],
    }


def _gunzipped(data: bytes, limit: int, engine: str) -> bytes | str:
    try:
        return sources.gunzip(data, limit, engine)
    except sources.SourceError as error:
        return str(error)


def test_each_gunzip_engine_gives_the_same_bytes_and_the_same_sentences(three):
    if "isal" not in sources.GUNZIP_ENGINES:
        pytest.skip("isal is not installed here (no wheel for this platform): zlib is the only engine")
    assert sources.GUNZIP_ENGINE == "isal"  # the faster one, where it is installed
    body = cloudtrail_file(three * 200)
    damaged = "truncated or corrupt gzip (its compressed data is damaged)"
    cut = "truncated or corrupt gzip (it ends inside a compressed member)"
    expected: dict[str, bytes | str] = {
        "one member": body,
        "members concatenated": body + body[:100] + body,
        "zero padding after the end": body,
        "cut in the data": cut,
        "cut before the trailer": cut,
        "cut inside the header": cut,
        "a damaged byte": damaged,
        "a wrong checksum": damaged,
        "a wrong length": damaged,
        "other data after the end": "truncated or corrupt gzip (other data after the end)",
        "a second member cut": cut,
    }
    for case, data in _gzip_cases(body).items():
        results = {engine: _gunzipped(data, 1 << 30, engine) for engine in ("isal", "zlib")}
        assert results == {"isal": expected[case], "zlib": expected[case]}, case
    over = {engine: _gunzipped(gzip.compress(body), len(body) - 1, engine) for engine in ("isal", "zlib")}
    assert over["isal"] == over["zlib"] and over["isal"].startswith("it gunzips to more than")


def test_a_load_without_isal_reads_every_file_as_with_it(tmp_path, three):
    """The fallback for real: isal made unimportable in a fresh kmstui, the same output and the
    same sentences, for gzipped files good and bad and a plain one."""
    body = cloudtrail_file(three)
    for case, data in _gzip_cases(body).items():
        write(tmp_path / "logs" / f"{case}.json.gz", data)
    write(
        tmp_path / "logs" / "plain.json", cloudtrail_file([kms("Encrypt", key_arn(KEY2), time="2024-05-02T10:00:00Z")])
    )
    program = (
        "import sys\n"
        "if sys.argv[1] == 'without': sys.modules['isal'] = None\n"
        "from kmstui.core import sources\n"
        "print(sources.GUNZIP_ENGINE, file=sys.stderr)\n"
        "from kmstui.cli import main\n"
        "sys.exit(main(['events', sys.argv[2], '--format', 'jsonl']))\n"
    )
    runs = {
        how: subprocess.run(
            [sys.executable, "-c", program, how, str(tmp_path / "logs")], capture_output=True, text=True, timeout=60
        )
        for how in ("with", "without")
    }
    engine, _, rest = runs["without"].stderr.partition("\n")
    assert engine == "zlib"
    assert runs["with"].stderr.partition("\n")[2] == rest
    assert runs["with"].stdout == runs["without"].stdout
    assert runs["with"].returncode == runs["without"].returncode
    assert len(json_lines(runs["without"].stdout)) == 4  # three records (once however many copies) and the plain file's
    assert rest.count("truncated or corrupt gzip") == 8, rest
    assert "Traceback" not in rest
