"""`plugyard new-plugin` makes a package that installs, is discovered, serves and passes its own tests."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from plugyard.cli.scaffold import ScaffoldError, create_plugin
from tests.conftest import subprocess_env

pytestmark = pytest.mark.e2e


def run(tmp_path: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)


def test_a_new_plugin_installs_is_listed_serves_and_its_tests_pass(tmp_path):
    created = run(tmp_path, sys.executable, "-m", "plugyard", "new-plugin", "word-tools", env=subprocess_env(tmp_path))
    assert created.returncode == 0, created.stderr
    root = tmp_path / "plugyard-word-tools"
    first, hint = created.stdout.splitlines()
    assert first == (
        "created plugyard-word-tools: distribution plugyard-word-tools, module plugyard_word_tools, "
        "plugin 'word-tools', tool 'word_tools_count_words'"
    )
    # The install hint names this interpreter, not whatever `pip` the shell finds.
    assert f"{sys.executable} -m pip install -e '.[test]'" in hint and " pip " not in hint.replace("-m pip ", "")
    assert (root / "pyproject.toml").is_file() and (root / "plugyard_word_tools" / "__init__.py").is_file()
    site = tmp_path / "site"
    install = run(
        tmp_path,
        sys.executable,
        "-m",
        "pip",
        "install",
        "-q",
        "--no-deps",
        "--target",
        str(site),
        str(root),
        env=subprocess_env(tmp_path),
    )
    assert install.returncode == 0, install.stderr
    env = subprocess_env(tmp_path, PYTHONPATH=str(site))
    listed = run(tmp_path, sys.executable, "-m", "plugyard", "plugins", "--json", env=env)
    info = {p["name"]: p for p in json.loads(listed.stdout)}["word-tools"]
    assert (info["status"], info["distribution"], info["tools"]) == (
        "loaded",
        "plugyard-word-tools",
        ["word_tools_count_words"],
    )
    called = run(tmp_path, sys.executable, "-m", "plugyard", "call", "word_tools_count_words", "text=a b c", env=env)
    assert json.loads(called.stdout) == {"words": 3, "lines": 1, "characters": 5}
    tests = run(tmp_path, sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(root / "tests"), env=env)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "3 passed" in tests.stdout


def test_bad_names_and_existing_folders_are_refused(tmp_path):
    with pytest.raises(ScaffoldError, match="invalid"):
        create_plugin("Bad Name", tmp_path)
    create_plugin("fine", tmp_path)
    with pytest.raises(ScaffoldError, match="already exists"):
        create_plugin("fine", tmp_path)


def test_two_new_plugins_have_tools_of_their_own(tmp_path):
    import importlib.util

    from plugyard.core.config import parse_config
    from plugyard.core.host import PluginHost

    plugins = {}
    for name in ("alpha", "beta-two"):
        root = create_plugin(name, tmp_path)
        module = "plugyard_" + name.replace("-", "_")
        spec = importlib.util.spec_from_file_location(module, root / module / "__init__.py")
        assert spec and spec.loader
        plugins[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(plugins[name])
    host = PluginHost(parse_config({}), entry_points=False, plugins=plugins, strict=True).load()
    assert {t.name for t in host.tools} >= {"alpha_count_words", "beta_two_count_words"}
