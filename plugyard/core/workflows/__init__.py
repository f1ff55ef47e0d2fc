"""Workflows: small state graphs the host runs for intents that need collaboration.

- ``definition``: what a workflow is (``Workflow``, ``WorkflowState``, ``@step``, ``branch``) and the
  graph check at registration (``build_graph``).
- ``run``: what a step sees (``Run``: tools by capability through the host and the pipeline,
  progress, the language model).
- ``engine``: ``execute`` (step limit, per-step timeout, progress, checkpoints, resume, finaliser)
  and the ``RunStore`` it writes to.

A round that stops to ask the client's model: see docs/architecture.md, "Input required".
"""

from plugyard.core.workflows.definition import (
    DEFAULT_MAX_STEPS,
    DEFAULT_STEP_TIMEOUT,
    END,
    INPUT_REQUIRED,
    Branch,
    Graph,
    RegisteredWorkflow,
    Status,
    StepSpec,
    Workflow,
    WorkflowDefinitionError,
    WorkflowRequest,
    WorkflowState,
    branch,
    build_graph,
    step,
)
from plugyard.core.workflows.engine import (
    RunResult,
    RunStore,
    StepFailed,
    StepTimeout,
    execute,
    record_input_required,
)
from plugyard.core.workflows.run import Run, ToolHost

__all__ = [
    "DEFAULT_MAX_STEPS",
    "DEFAULT_STEP_TIMEOUT",
    "END",
    "INPUT_REQUIRED",
    "Branch",
    "Graph",
    "RegisteredWorkflow",
    "Run",
    "RunResult",
    "RunStore",
    "Status",
    "StepFailed",
    "StepSpec",
    "StepTimeout",
    "ToolHost",
    "Workflow",
    "WorkflowDefinitionError",
    "WorkflowRequest",
    "WorkflowState",
    "branch",
    "build_graph",
    "execute",
    "record_input_required",
    "step",
]
