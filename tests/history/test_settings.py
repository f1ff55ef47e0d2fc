"""The history plugin's settings are its own [plugins.<name>] table, validated against the model it
declares; [history], the table's old place, is still read with a warning naming the new place."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from plugyard.core.config import load_config, parse_config
from plugyard.core.errors import ConfigError
from plugyard.core.host import PluginHost
from plugyard.history.plugin import HistoryPlugin
from plugyard.history.settings import HistorySettings

pytestmark = pytest.mark.anyio


def test_the_old_history_table_is_read_with_a_warning_naming_the_new_place(tmp_path: Path, caplog):
    toml = tmp_path / "plugins.toml"
    toml.write_text("[history]\nbatch_size = 7\nflush_interval = 0.05\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="plugyard.config"):
        config = load_config(toml)
    assert config.plugins.settings["history"] == {"batch_size": 7, "flush_interval": 0.05}
    [record] = [r for r in caplog.records if r.name == "plugyard.config"]
    assert record.levelno == logging.WARNING
    assert "[history] is now [plugins.history]" in record.getMessage() and str(toml) in record.getMessage()


def test_the_new_place_reads_without_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="plugyard.config"):
        config = parse_config({"plugins": {"history": {"batch_size": 7}}})
    assert config.plugins.settings["history"] == {"batch_size": 7}
    assert [r for r in caplog.records if r.name == "plugyard.config"] == []


def test_both_places_at_once_are_a_clear_error():
    with pytest.raises(ConfigError, match=r"both \[history\] and \[plugins.history\] are set.*move its keys there"):
        parse_config({"history": {"batch_size": 7}, "plugins": {"history": {"batch_size": 8}}})


async def test_the_plugin_runs_with_its_settings_under_whatever_name_it_was_loaded(db_url, config):
    # Loaded as "recorder", it reads [plugins.recorder]: the plugin never assumes its name.
    data = config.model_dump()
    settings = {"recorder": {"batch_size": 3, "flush_interval": 0.05, "breaker_failures": 2}}
    cfg = parse_config({"database": data["database"], "plugins": settings})
    plugin = HistoryPlugin()
    host = PluginHost(cfg, entry_points=False, plugins={"recorder": plugin}, strict=True)
    async with host.running():
        assert plugin.name == "recorder"
        assert plugin.settings == HistorySettings(batch_size=3, flush_interval=0.05, breaker_failures=2)
        assert plugin.recorder is not None and plugin.recorder.batch_size == 3


def test_a_mistyped_key_stops_loading_naming_the_table_and_the_key():
    config = parse_config({"plugins": {"history": {"batch_sise": 3}}})
    for strict in (True, False):
        with pytest.raises(
            ConfigError, match=r"\[plugins.history\] batch_sise: unknown key \(the keys are: .*batch_size"
        ):
            PluginHost(config, entry_points=False, plugins={"history": HistoryPlugin()}, strict=strict).load()


def test_the_test_kit_puts_its_recorder_defaults_where_the_author_put_the_recorders_settings(tmp_path, caplog):
    from plugyard.testing import kit_config

    current = kit_config(tmp_path, {"plugins": {"history": {"batch_size": 9}}})
    assert current.plugins.settings["history"] == {
        "flush_interval": 0.02,
        "journal": str(tmp_path / "plugyard-test-journal.jsonl"),
        "batch_size": 9,
    }
    # A plugin's test suite written for the old place keeps working (with the warning), not a clash.
    with caplog.at_level(logging.WARNING, logger="plugyard.config"):
        old = kit_config(tmp_path, {"history": {"batch_size": 9}})
    assert old.plugins.settings["history"] == current.plugins.settings["history"]
    assert any("[plugins.history]" in r.getMessage() for r in caplog.records)
