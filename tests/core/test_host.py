"""Discovery: entry points of separately installed distributions, plugins.toml modules,
disabling, settings, and broken plugins reported while the rest load."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from pydantic import BaseModel, Field, SecretStr

from plugyard import ToolContext, hookimpl
from plugyard.core.config import parse_config
from plugyard.core.errors import ConfigError, PluginError
from plugyard.core.host import PluginHost
from tests.conftest import sample_plugin

pytestmark = pytest.mark.anyio


def install_distribution(
    site: Path, dist: str, version: str, modules: dict[str, str], entry_points: dict[str, str]
) -> None:
    """Lay out a real installed distribution (code + dist-info with entry_points.txt) in ``site``."""
    for name, source in modules.items():
        (site / f"{name}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n", encoding="utf-8")
    eps = "\n".join(f"{k} = {v}" for k, v in entry_points.items())
    (info / "entry_points.txt").write_text(f"[plugyard]\n{eps}\n", encoding="utf-8")


GOOD = """
    from plugyard import hookimpl

    def shout(text: str) -> str:
        '''Upper-case a text.'''
        return text.upper()

    @hookimpl
    def register_tools(register):
        register(shout)
"""


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_sys_path: None) -> Path:
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    return site


def test_a_plugin_installed_as_its_own_distribution_is_found_without_configuration(site, config):
    install_distribution(site, "plugyard-shout", "1.2.3", {"shout_plugin": GOOD}, {"shout": "shout_plugin"})
    host = PluginHost(config).load()
    info = host.infos["shout"]
    assert (info.status, info.origin, info.distribution, info.version) == (
        "loaded",
        "entry point",
        "plugyard-shout",
        "1.2.3",
    )
    assert info.hooks == ["register_tools"] and info.tools == ["shout"]
    assert host.tools.get("shout").plugin == "shout"


async def test_a_discovered_plugin_tool_runs_through_the_pipeline(site, config):
    install_distribution(site, "plugyard-shout", "1.2.3", {"shout_plugin": GOOD}, {"shout": "shout_plugin"})
    host = PluginHost(config)
    async with host.running():
        assert (await host.call_tool("shout", {"text": "hi"})).result == "HI"


def test_plugins_toml_can_disable_a_plugin_by_name(site, db_url):
    install_distribution(site, "plugyard-shout", "1.2.3", {"shout_plugin": GOOD}, {"shout": "shout_plugin"})
    host = PluginHost(parse_config({"database": {"url": db_url}, "plugins": {"disabled": ["shout"]}})).load()
    assert host.infos["shout"].status == "disabled"
    assert "shout" not in host.tools
    assert host.pm.get_plugin("shout") is None


BROKEN = {
    "import_error": "import not_a_module_anywhere\n",
    "unknown_hook": """
        from plugyard import hookimpl
        @hookimpl
        def register_toolz(register):
            pass
    """,
    "wrong_signature": """
        from plugyard import hookimpl
        @hookimpl
        def after_tool_call(call, outcome, extra):
            pass
    """,
    "register_raises": """
        from plugyard import hookimpl
        @hookimpl
        def register_tools(register):
            raise RuntimeError("cannot reach my backend")
    """,
    "bad_tool_name": """
        from plugyard import hookimpl
        @hookimpl
        def register_tools(register):
            register(lambda: 1, name="not a name")
    """,
}
EXPECTED = {
    "import_error": "failed to import: ModuleNotFoundError",
    "unknown_hook": "implements a hook plugyard does not have",
    "wrong_signature": "invalid hook implementation",
    "register_raises": "register_tools raised RuntimeError: cannot reach my backend",
    "bad_tool_name": "tool name 'not a name' is invalid",
}


def test_broken_plugins_are_reported_and_skipped_while_the_others_load(site, config):
    modules = {f"broken_{k}": v for k, v in BROKEN.items()} | {"shout_plugin": GOOD}
    eps = {k: f"broken_{k}" for k in BROKEN} | {"shout": "shout_plugin"}
    install_distribution(site, "plugyard-mixed", "0.1", modules, eps)
    host = PluginHost(config).load()
    for name, expected in EXPECTED.items():
        info = host.infos[name]
        assert info.status == "failed", name
        assert expected in info.error, (name, info.error)
        assert host.pm.get_plugin(name) is None
    assert host.infos["shout"].status == "loaded" and "shout" in host.tools


@pytest.mark.parametrize("broken", sorted(BROKEN))
def test_strict_mode_makes_a_broken_plugin_fatal(site, config, broken):
    install_distribution(
        site, "plugyard-broken", "0.1", {f"broken_{broken}": BROKEN[broken]}, {broken: f"broken_{broken}"}
    )
    with pytest.raises(PluginError, match=f"plugin '{broken}'"):
        PluginHost(config, strict=True).load()


def test_modules_named_in_plugins_toml_are_loaded_relative_to_the_file(tmp_path, db_url):
    (tmp_path / "local_plugin.py").write_text(textwrap.dedent(GOOD), encoding="utf-8")
    toml = tmp_path / "conf" / "plugins.toml"
    toml.parent.mkdir()
    cfg = parse_config({"database": {"url": db_url}, "plugins": {"modules": ["../local_plugin.py"]}}, toml)
    host = PluginHost(cfg, entry_points=False).load()
    info = host.infos["local_plugin"]
    assert info.origin == "plugins.toml" and info.status == "loaded" and info.tools == ["shout"]


def test_a_missing_module_file_is_reported(db_url):
    cfg = parse_config({"database": {"url": db_url}, "plugins": {"modules": ["nowhere.py"]}})
    host = PluginHost(cfg, entry_points=False).load()
    assert "does not exist" in host.infos["nowhere"].error


class Greeter:
    class Settings(BaseModel):
        greeting: str = "hello"
        times: int = 1

    @hookimpl
    def plugin_settings(self):  # type: ignore[no-untyped-def]
        return self.Settings

    @hookimpl
    def register_tools(self, register):  # type: ignore[no-untyped-def]
        def greet(name: str, ctx: ToolContext) -> str:
            return " ".join([f"{ctx.settings.greeting} {name}"] * ctx.settings.times)

        register(greet)


async def test_plugin_settings_come_from_its_own_table(db_url):
    cfg = parse_config({"database": {"url": db_url}, "plugins": {"greeter": {"greeting": "hi", "times": 2}}})
    host = PluginHost(cfg, entry_points=False, plugins={"greeter": Greeter()})
    async with host.running():
        assert (await host.call_tool("greet", {"name": "ada"})).result == "hi ada hi ada"
    assert host.settings_for("greeter").times == 2


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"greting": "typo"}, "[plugins.greeter] greting: unknown key (the keys are: greeting, times)"),
        ({"times": "many"}, "[plugins.greeter] times: Input should be a valid integer, unable to parse string"),
    ],
)
def test_unknown_or_mistyped_settings_stop_loading_naming_table_key_and_rule(db_url, table, message):
    # The user's own configuration is wrong: serving without the plugin would make its tools unknown.
    cfg = parse_config({"database": {"url": db_url}, "plugins": {"greeter": table}})
    with pytest.raises(ConfigError) as caught:
        PluginHost(cfg, entry_points=False, plugins={"greeter": Greeter()}).load()
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_a_value_out_of_range_says_what_was_given():
    cfg = parse_config({"plugins": {"greeter": {"times": 0}}})

    class Bounded(Greeter):
        class Settings(BaseModel):
            times: int = Field(1, ge=1)

    with pytest.raises(
        ConfigError, match=r"\[plugins\.greeter\] times: Input should be greater than or equal to 1 \(got 0\)"
    ):
        PluginHost(cfg, entry_points=False, plugins={"greeter": Bounded()}).load()


def test_settings_for_a_plugin_that_declares_none_stop_loading(db_url):
    cfg = parse_config({"database": {"url": db_url}, "plugins": {"sample": {"color": "red"}}})
    with pytest.raises(ConfigError, match=r"\[plugins\.sample\] sets color, but plugin 'sample' has no settings"):
        PluginHost(cfg, entry_points=False, plugins={"sample": sample_plugin()}).load()


def test_the_plugin_list_shows_settings_with_defaults_and_secrets_masked():
    class Keyed(Greeter):
        class Settings(BaseModel):
            greeting: str = "hello"
            api_key: str = ""
            password: SecretStr = SecretStr("")
            headers: dict[str, str] = {}

    cfg = parse_config(
        {"plugins": {"greeter": {"api_key": "k-123", "password": "p-456", "headers": {"Authorization": "x", "A": "b"}}}}
    )
    info = PluginHost(cfg, entry_points=False, plugins={"greeter": Keyed()}).load().infos["greeter"]
    assert info.settings == {
        "greeting": "hello",
        "api_key": "***",
        "password": "***",
        "headers": {"Authorization": "***", "A": "b"},
    }
    assert "settings" not in info.as_dict(settings=False)


def test_a_plugin_that_fails_to_import_stays_isolated_even_with_settings(tmp_path, db_url):
    broken = tmp_path / "broken.py"
    broken.write_text("raise ImportError('no such dependency')\n", encoding="utf-8")
    cfg = parse_config({"database": {"url": db_url}, "plugins": {"modules": [str(broken)], "broken": {"anything": 1}}})
    host = PluginHost(cfg, entry_points=False, plugins={"greeter": Greeter()}).load()
    assert host.infos["broken"].status == "failed" and "no such dependency" in host.infos["broken"].error
    assert host.infos["greeter"].status == "loaded"


def test_a_plugin_whose_settings_hook_breaks_is_skipped_not_fatal(db_url):
    class Broken(Greeter):
        @hookimpl
        def plugin_settings(self):  # type: ignore[no-untyped-def]
            raise RuntimeError("bug in the plugin")

    cfg = parse_config({"database": {"url": db_url}})
    host = PluginHost(cfg, entry_points=False, plugins={"greeter": Broken()}).load()
    assert host.infos["greeter"].status == "failed" and "bug in the plugin" in host.infos["greeter"].error


class Lifecycle:
    def __init__(self) -> None:
        self.events: list[str] = []

    @hookimpl
    def startup(self, host):  # type: ignore[no-untyped-def]
        async def start() -> None:
            self.events.append("startup")
            host.start_background(self.tick)

        return start()

    async def tick(self) -> None:
        self.events.append("background")

    @hookimpl
    def shutdown(self):  # type: ignore[no-untyped-def]
        self.events.append("shutdown")


async def test_startup_and_shutdown_run_around_the_hosts_life(make_host):
    life = Lifecycle()
    host = make_host(extra={"life": life})
    async with host.running():
        await __import__("anyio").sleep(0.01)
        assert life.events == ["startup", "background"]
    assert life.events[-1] == "shutdown"


class BadStartup:
    @hookimpl
    def startup(self):  # type: ignore[no-untyped-def]
        raise RuntimeError("no licence")


async def test_a_failing_startup_is_reported_and_the_host_still_serves(make_host):
    host = make_host(extra={"bad": BadStartup()})
    async with host.running():
        assert (await host.call_tool("add", {"a": 1})).success
    assert "startup raised RuntimeError: no licence" in host.infos["bad"].error


def test_hosts_are_independent(make_host):
    first, second = make_host(), make_host()
    assert first.pm is not second.pm and first.tools is not second.tools


def test_a_table_naming_no_plugin_found_or_installed_is_an_error_when_strict(db_url):
    cfg = parse_config({"database": {"url": db_url}, "plugins": {"greter": {"greeting": "hi"}}})
    with pytest.raises(ConfigError) as caught:
        PluginHost(cfg, strict=True, entry_points=False, plugins={"greeter": Greeter()}).load()
    message = str(caught.value)
    assert "[plugins.greter] names no plugin found or installed; did you mean [plugins.greeter]?" in message
    assert "greeter" in message.partition("the plugins are: ")[2] and "\n" not in message
    # Without --strict: a warning, and the plugins load.
    assert PluginHost(cfg, entry_points=False, plugins={"greeter": Greeter()}).load().tools.get("greet") is not None


def test_a_table_for_an_installed_plugin_this_host_did_not_load_is_no_typo(db_url):
    # The test kit gives the recorder's table to hosts built with other plugins only.
    cfg = parse_config({"database": {"url": db_url}, "plugins": {"history": {"batch_size": 9}}})
    PluginHost(cfg, strict=True, entry_points=False, plugins={"greeter": Greeter()}).load()
