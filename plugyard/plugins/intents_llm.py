"""The language-model intent classifier: asks the host's model (Anthropic, or the MCP client's
model through sampling) when one is available, and has no opinion otherwise.

Registered as a fallback classifier: the host asks it only when the other classifiers together
are not confident enough, so the model is not paid for messages the offline cascade settles.

``ask_model`` may raise ``plugyard.InputRequired``: it is let through, and the prompt depends on the
message alone (see docs/architecture.md, "Input required").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, Field

from plugyard import INTENTS, IntentResult, ask_model, hookimpl

IntentName = Literal[
    "exam_preparation", "task_decomposition", "error_diagnosis", "deep_learning", "skill_building", "quick_task"
]
assert set(IntentName.__args__) == set(INTENTS)  # type: ignore[attr-defined]

PROMPT = """Classify a learner's message (English or Chinese) for a study assistant into exactly one intent:
- exam_preparation: preparing or revising for an exam, test or quiz
- task_decomposition: breaking a goal or project into steps, a plan or a schedule
- error_diagnosis: an error message, traceback, crash or bug to fix
- deep_learning: understanding a concept in depth (not the machine-learning field)
- skill_building: getting better at a skill through practice over time
- quick_task: a short factual question, a calculation, a conversion, a note lookup, a greeting

Message:
{message}"""


class Verdict(BaseModel):
    intent: IntentName
    confidence: float = Field(ge=0.0, le=1.0)


class ModelClassifier:
    name = "model"

    async def classify(self, message: str) -> IntentResult | None:
        verdict = await ask_model(PROMPT.format(message=message[:4000]), Verdict, name="intent")
        if verdict is None:
            return None
        return IntentResult(intent=verdict.intent, confidence=verdict.confidence, source="model")


@hookimpl
def register_intent_classifiers(register: Callable[..., None]) -> None:
    register(ModelClassifier(), name="model", fallback=True)
