"""Installing a plugin package of tests/plugins/ for real (with uv) into a folder put on
sys.path, as a site would install a third-party activity type: its entry point registers
the type, and its templates come with it."""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

PLUGINS = Path(__file__).resolve().parent / "plugins"


def installed(tmp_path_factory, folder: str, module: str) -> Iterator[Path]:
    """Install ``tests/plugins/<folder>`` and yield where; afterwards forget ``module``."""
    target = tmp_path_factory.mktemp("site-packages")
    build = tmp_path_factory.mktemp(f"{folder}-src") / "src"
    shutil.copytree(PLUGINS / folder, build)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "uv",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--python",
            sys.executable,
            "--target",
            str(target),
            str(build),
        ],
        check=True,
    )
    sys.path.insert(0, str(target))
    importlib.invalidate_caches()
    yield target
    sys.path.remove(str(target))
    sys.modules.pop(module, None)
    importlib.invalidate_caches()
