"""Every snapshot picture belongs to a test that still exists.

syrupy fails a run that leaves a snapshot unused (a test renamed or removed, its old SVG
left behind), but not under pytest-xdist, where each worker sees only its own tests: the
suite runs there, so this checks it instead, by name, as syrupy names the files
(``__snapshots__/<module>/<Class>.<test>[<parameters>].svg``, no class for a test function)."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

SNAPSHOTS = Path(__file__).resolve().parent / "__snapshots__"
NAME = re.compile(r"(?:(?P<owner>\w+)\.)?(?P<test>\w+)(?:\[.*\])?\.svg")


def _test_exists(module_name: str, stem: str) -> bool:
    match = NAME.fullmatch(stem)
    if match is None:
        return False
    module = importlib.import_module(module_name)
    owner = getattr(module, match["owner"], None) if match["owner"] else module
    return callable(getattr(owner, match["test"], None))


def test_every_snapshot_has_its_test():
    pictures = sorted(SNAPSHOTS.glob("*/*.svg"))
    assert pictures, "no snapshots found"
    orphans = [
        f"{picture.parent.name}/{picture.name}"
        for picture in pictures
        if not _test_exists(picture.parent.name, picture.name)
    ]
    assert orphans == [], "snapshots whose test is gone (delete them, or run the test with --snapshot-update)"
