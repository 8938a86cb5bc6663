"""The core serves scripts and the headless commands: it must not import Textual."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from records import REPO, cloudtrail_file, key_arn, kms, write

PROGRAM = textwrap.dedent(
    """
    import importlib, io, pkgutil, sys, contextlib
    import kmstui.core

    names = ["kmstui", "kmstui.cli", "kmstui.__main__"]
    names += [info.name for info in pkgutil.walk_packages(kmstui.core.__path__, "kmstui.core.")]
    for name in names:
        importlib.import_module(name)
    assert len(names) > 10, names
    assert "textual" not in sys.modules, "imported by " + repr(names)

    # The headless commands import more lazily; run each once.
    from kmstui.cli import main
    for command in (["events", "--format", "jsonl"], ["keys"], ["trails"]):
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            assert main([command[0], sys.argv[1], *command[1:]]) == 0
        assert out.getvalue()
    leaked = sorted(m for m in sys.modules if m == "textual" or m.startswith("textual."))
    assert not leaked, leaked
    print("ok", len(names))
    """
)

# Local files need no AWS SDK: boto3 and botocore take a third of a second (seconds on a busy
# machine) before the first event could be shown, so the command line names nothing that
# imports them until --lookup, a bucket or --athena asks.
NO_SDK = textwrap.dedent(
    """
    import contextlib, io, sys
    from kmstui.cli import main, _parser

    _parser(None).format_help()
    for command in (["events", "--format", "jsonl"], ["keys"], ["trails"]):
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            assert main([command[0], sys.argv[1], *command[1:]]) == 0
    import kmstui.ui.app
    leaked = sorted(m for m in sys.modules if m.split(".")[0] in ("boto3", "botocore", "s3transfer"))
    assert not leaked, leaked[:5]
    print("ok")
    """
)


def _run_on_a_log_file(tmp_path, program: str) -> subprocess.CompletedProcess:
    """``program`` in a fresh interpreter, given a log file of one KMS event."""
    path = write(tmp_path / "log.json", cloudtrail_file([kms("Decrypt", key_arn())]))
    return subprocess.run(
        [sys.executable, "-c", program, str(path)], capture_output=True, text=True, cwd=REPO, timeout=60
    )


def test_local_sources_import_no_aws_sdk(tmp_path):
    result = _run_on_a_log_file(tmp_path, NO_SDK)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok")


def test_core_and_cli_import_nothing_from_textual(tmp_path):
    result = _run_on_a_log_file(tmp_path, PROGRAM)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok ")


LIVE = textwrap.dedent(
    """
    import importlib, pkgutil, sys
    import kmstui.core.live

    names = ["kmstui.core.live"]
    names += [info.name for info in pkgutil.walk_packages(kmstui.core.live.__path__, "kmstui.core.live.")]
    for name in names:
        importlib.import_module(name)
    assert len(names) >= 4, names
    leaked = sorted(m for m in sys.modules if m.startswith(("kmstui.ui", "textual")))
    assert not leaked, leaked
    print("ok", len(names))
    """
)


def test_live_sources_import_nothing_from_the_ui():
    result = subprocess.run([sys.executable, "-c", LIVE], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok ")
