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
