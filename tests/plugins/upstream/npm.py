"""The npm reference servers the tests mount: installed once into a cache folder with npm.

``PLUGYARD_NPM_SERVERS`` names the folder (default: ``.cache/npm-servers`` in the checkout, where
``.ci/run`` installs them). Without npm the tests skip, saying so, unless ``CI`` is set: then they fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

PACKAGES = ("@modelcontextprotocol/server-everything@2026.8.31", "@modelcontextprotocol/server-filesystem@2026.8.31")
FOLDER = Path(os.environ.get("PLUGYARD_NPM_SERVERS", Path(__file__).parents[3] / ".cache" / "npm-servers"))


def server_script(package: str) -> Path:
    """The installed ``dist/index.js`` of ``package`` (``server-everything`` or ``server-filesystem``)."""
    script = FOLDER / "node_modules" / "@modelcontextprotocol" / package / "dist" / "index.js"
    if script.exists() and shutil.which("node"):
        return script
    if shutil.which("npm") is None or shutil.which("node") is None:
        if os.environ.get("CI"):
            pytest.fail("CI is set but node/npm are absent: the npm reference servers cannot be installed")
        pytest.skip("npm is not installed: the npm reference MCP servers cannot be installed (CI installs them)")
    FOLDER.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", "--prefix", str(FOLDER), *PACKAGES],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0 or not script.exists():
        pytest.fail(f"npm install of {', '.join(PACKAGES)} failed: {done.stderr[-2000:]}")
    return script
