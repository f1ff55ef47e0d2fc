"""The intents plugin keeps its settings on its instance: two hosts side by side (a live reload's old
and new host) each classify with their own model."""

from __future__ import annotations

from pathlib import Path

import pytest

from plugyard.core import intents
from plugyard.core.config import parse_config
from plugyard.core.host import PluginHost
from plugyard.plugins import intents as offline
from plugyard.plugins.intents.model import NgramIntentModel

pytestmark = pytest.mark.anyio

UNRULED = "zxqv blorp"  # no rule fires: the model answers, with a score per label it knows


def tiny_model(path: Path) -> Path:
    texts = ["exam on friday", "明天考试", "convert 5 km", "换算一下"] * 3
    labels = ["exam_preparation", "exam_preparation", "quick_task", "quick_task"] * 3
    NgramIntentModel.fit(texts, labels, epochs=3).save(path)
    return path


def host_with_model(model: Path | None) -> PluginHost:
    settings = {"model": str(model)} if model is not None else {}
    config = parse_config({"plugins": {"offline_intents": settings}})
    # Loaded under a name of the test's choosing: the plugin asks the host which settings are its own.
    return PluginHost(config, entry_points=False, plugins={"offline_intents": offline.IntentsPlugin}, strict=True)


async def labels_seen(host: PluginHost) -> set[str]:
    verdict = await intents.classify(host.classifiers, UNRULED)
    [vote] = verdict.votes
    assert vote["classifier"] == "offline"
    return set(verdict.scores)


async def test_two_hosts_side_by_side_keep_their_own_settings(tmp_path):
    old, new = host_with_model(tiny_model(tmp_path / "tiny.json")), host_with_model(offline.SHIPPED_MODEL)
    async with old.running():
        # The reload's new host starts while the old one still serves, before the old one classified.
        async with new.running():
            assert await labels_seen(old) == {"exam_preparation", "quick_task"}
            assert await labels_seen(new) == set(intents.INTENTS)


async def test_each_host_gets_its_own_plugin_instance():
    first, second = host_with_model(None).load(), host_with_model(None).load()
    assert first.get_plugin("offline_intents") is not second.get_plugin("offline_intents")
    assert first.classifiers[0].classifier is not second.classifiers[0].classifier
