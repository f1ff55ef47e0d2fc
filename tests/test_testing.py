"""The test kit for plugin authors (plugyard.testing), used as docs/plugins.md says: async tests marked for
anyio, the author's plugin named in `plugyard_plugins` or loaded through its installed entry point, settings
as plugins.toml-shaped `{"plugins": {"<name>": {...}}}`."""

from __future__ import annotations

import pytest

from plugyard.plugins import calculator

pytestmark = pytest.mark.anyio


@pytest.fixture
def plugyard_plugins():
    return {"my_calculator": calculator}


async def test_by_default_only_the_recorder_and_the_named_plugins_load(plugyard_host, plugyard_client):
    assert set(plugyard_host.infos) == {"history", "my_calculator"}
    result = await plugyard_client.call_tool("calculate", {"expression": "6*7"})
    assert not result.is_error


async def test_a_named_plugin_is_recorded_under_the_name_given(plugyard_client, plugyard_history):
    await plugyard_client.call_tool("calculate", {"expression": "1+1"})
    call = await plugyard_history.last()
    assert (call["tool_name"], call["plugin_name"], call["success"]) == ("calculate", "my_calculator", True)


class TestThroughEntryPoints:
    @pytest.fixture
    def plugyard_plugins(self):
        return {}

    @pytest.fixture
    def plugyard_entry_points(self):
        return True

    @pytest.fixture
    def plugyard_settings(self, tmp_path):
        (tmp_path / "notes").mkdir()
        (tmp_path / "notes" / "hello.md").write_text("# hello\n", encoding="utf-8")
        return {"plugins": {"notes": {"root": str(tmp_path / "notes")}}}

    async def test_installed_plugins_load_under_their_entry_point_names_with_their_settings(
        self, plugyard_host, plugyard_client, plugyard_history, tmp_path
    ):
        assert {"history", "notes", "calculator"} <= set(plugyard_host.infos)
        assert plugyard_host.settings_for("notes").root == str(tmp_path / "notes")
        result = await plugyard_client.call_tool("list_notes", {})
        assert not result.is_error and "hello.md" in str(result.content[0].text)
        assert (await plugyard_history.last())["plugin_name"] == "notes"


@pytest.mark.parametrize("plugyard_settings", [{"plugins": {"my_calculator": {"precision": 1}}}])
async def test_a_setting_the_plugin_does_not_declare_fails_the_test_at_start(plugyard_settings, tmp_path):
    from plugyard.core.errors import ConfigError
    from plugyard.core.host import PluginHost
    from plugyard.testing import kit_config

    config = kit_config(tmp_path, plugyard_settings)
    host = PluginHost(config, entry_points=False, plugins={"my_calculator": calculator})
    with pytest.raises(ConfigError, match=r"\[plugins.my_calculator\]"):
        host.load()
