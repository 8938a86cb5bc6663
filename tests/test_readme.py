"""The README tells the truth: its pictures are the snapshots, its commands are the ones CI runs."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _screenshots():
    spec = importlib.util.spec_from_file_location("update_screenshots", ROOT / "scripts" / "update_screenshots.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_pictures_are_the_snapshots():
    module = _screenshots()
    for picture, snapshot in module.SHOWN.items():
        shown = (module.SCREENSHOTS / picture).read_bytes()
        assert shown == (module.SNAPSHOTS / snapshot).read_bytes(), (
            f"assets/screenshots/{picture} differs from its snapshot: run scripts/update_screenshots.py"
        )


def test_readme_shows_every_picture_it_names():
    for name in re.findall(r"assets/screenshots/([\w.-]+\.svg)", README):
        assert (ROOT / "assets" / "screenshots" / name).is_file(), name


def test_ci_runs_the_readme_test_command_verbatim():
    commands = re.findall(r"```sh\n(.+?)\n```", README, re.S)
    assert len(commands) >= 2, "the README opens with two commands"
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert commands[1].strip() in ci


def _development_map() -> str:
    section = README.split("## Development", 1)[1]
    return re.search(r"```\n(.+?)\n```", section, re.S).group(1)


def test_the_development_map_names_every_module():
    shown = set(re.findall(r"[\w.]+\.(?:py|c|tcss|md)\b", _development_map()))
    package = ROOT / "kmstui"
    modules = {
        path.name
        for path in package.rglob("*")
        if path.suffix in (".py", ".c", ".tcss", ".md") and path.name != "__init__.py"
    }
    assert modules - shown == set(), "modules missing from the README's Development map"
    assert shown - modules - {
        "hatch_build.py",
        "make_demo.py",
        "update_screenshots.py",
        "fuzz_scan.py",
        "fuzz_contexts.py",
        "fuzz_merge.py",
        "snapshot_png.py",
        "startup_timeline.py",
        "bench.py",
        "synth.py",
        "actiontrail_synth.py",
        "terminal.py",
    } == {
        "records.py",
        "fakeaws.py",
        "athena_table.py",
    }, "the map names files that do not exist"


def test_the_headless_fields_are_the_exported_ones():
    from kmstui.core import export

    headless = README.split("## Headless commands", 1)[1].split("\n## ", 1)[0]
    for command, fields in (
        ("events", export.EVENT_FIELDS),
        ("keys", export.KEY_FIELDS),
        ("trails", export.TRAIL_FIELDS),
    ):
        paragraph = headless.split(f"- `kmstui {command} ", 1)[1].split("\n- ", 1)[0]
        named = re.findall(r"`(\w+)`", paragraph)
        missing = [field for field in fields if field not in named]
        assert not missing, f"the README's {command} fields lack {missing}"
