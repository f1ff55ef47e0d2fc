"""What the host itself offers beside its plugins: read-only resources and one prompt per workflow.

Registered under the reserved plugin name ``plugyard`` after every plugin registered, so they
see the final state (a plugin registering the same URI or prompt name keeps it; the built-in is
skipped with a warning).

- ``plugyard://plugins``: every plugin with its origin, status, load error and what it registered.
- one prompt per registered workflow, named after it (``run_<workflow>``), taking ``message``: the
  user's request, phrased so the client's model hands it to the tool that runs workflows (the first
  registered tool declaring the capability ``run_workflow``, taking the request as ``message``).
  Without such a tool there are no workflow prompts: nothing could run them.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

from plugyard.core.errors import PluginError
from plugyard.core.prompts import build_prompt
from plugyard.core.resources import build_resource

if TYPE_CHECKING:
    from plugyard.core.host import PluginHost
    from plugyard.core.tools import Tool
    from plugyard.core.workflows import RegisteredWorkflow

log = logging.getLogger("plugyard.host")

BUILTIN = "plugyard"
PLUGINS_URI = "plugyard://plugins"
RUN_WORKFLOW = "run_workflow"
"""The capability of a tool that runs a workflow for a request given as ``message``."""


def add_builtins(host: PluginHost) -> None:
    def plugins() -> list[dict[str, Any]]:
        # Settings stay with the operator (`plugyard plugins`): they name folders and hosts of this machine.
        return [info.as_dict(settings=False) for info in host.infos.values()]

    _add(
        host,
        lambda: host.resources.add(
            build_resource(
                plugins,
                plugin=BUILTIN,
                uri=PLUGINS_URI,
                name="plugins",
                title="Plugins",
                description="Every plugin plugyard found: origin, version, status, load error, what it registered.",
                mime_type="application/json",
            )
        ),
    )
    runners = host.tools.with_capability(RUN_WORKFLOW)
    if not runners:
        return
    for workflow in host.workflows:
        _add(host, lambda w=workflow: host.prompts.add(workflow_prompt(w, runners[0])))


def _add(host: PluginHost, add: Any) -> None:
    try:
        add()
    except PluginError as exc:
        log.warning("built-in skipped: %s", exc)


def workflow_prompt(workflow: RegisteredWorkflow, runner: Tool) -> Any:
    doc = (type(workflow.workflow).__doc__ or "").strip()
    summary = doc.splitlines()[0] if doc else f"Run the {workflow.name} workflow."
    intents = ", ".join(workflow.intents) or "any"
    name = "run_" + re.sub(r"[^a-zA-Z0-9_.-]+", "_", workflow.name).strip("_").lower()

    def render(message: str) -> str:
        return (
            f"{message}\n\n"
            f"(Handle this with plugyard's `{runner.name}` tool, passing the request above as `message`: "
            f"it runs the {workflow.name} workflow for intents {intents} and ends with action cards.)"
        )

    return build_prompt(
        render,
        plugin=BUILTIN,
        name=name,
        title=workflow.name,
        description=f"{summary} (workflow of plugin {workflow.plugin!r}; intents: {intents})",
        arguments={"message": "What you want help with, in your own words"},
    )
