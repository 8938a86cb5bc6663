"""Command-line handling of the filter: a filter may start with a dash (negation)."""

from records import cloudtrail_file, kms, run_cli, write


def test_a_negated_filter_after_f_is_a_filter_not_an_option(tmp_path):
    path = write(tmp_path / "log.json", cloudtrail_file([kms("Decrypt"), kms("Decrypt", error="AccessDenied")]))
    for args in (["-f", "-error:*"], ["--filter", "-error:*"], ["--filter=-error:*"]):
        result = run_cli("events", str(path), "-q", "--count", *args)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "1"


def test_a_missing_filter_value_is_still_an_error(tmp_path):
    path = write(tmp_path / "log.json", cloudtrail_file([kms("Decrypt")]))
    result = run_cli("events", str(path), "-f", "--count")
    assert result.returncode == 2
    assert "expected one argument" in result.stderr
