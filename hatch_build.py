"""Build hook: compile the loader's column scanner (kmstui/core/_scan.c) when a C compiler is at hand.

The scanner only makes loading faster: without a compiler the build goes on, says so,
and kmstui decodes every file the general way (the same results, a few times slower
on a large trail). The extension is built next to its source, which is where an
editable install imports it from; a wheel carries it too.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import sysconfig
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SOURCE = Path("kmstui/core/_scan.c")


class ScannerBuildHook(BuildHookInterface):
    def initialize(self, version: str, build_data: dict) -> None:
        if self.target_name != "wheel":
            return
        root = Path(self.root)
        target = SOURCE.with_name("_scan" + sysconfig.get_config_var("EXT_SUFFIX"))
        link = sysconfig.get_config_var("LDSHARED") or f"{os.environ.get('CC', 'cc')} -shared"
        command = [
            *shlex.split(os.environ.get("LDSHARED", link)),
            *shlex.split(sysconfig.get_config_var("CCSHARED") or "-fPIC"),
            "-O2",
            "-I",
            sysconfig.get_paths()["include"],
            str(root / SOURCE),
            "-o",
            str(root / target),
        ]
        try:
            subprocess.run(command, check=True, capture_output=True, text=True)
        except (OSError, subprocess.CalledProcessError) as error:
            detail = getattr(error, "stderr", "") or str(error)
            print(
                f"kmstui: the column scanner was not built, loading will be slower ({detail.strip()[:300]})",
                file=sys.stderr,
            )
            return
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
        if version != "editable":
            build_data["force_include"][str(root / target)] = str(target)
