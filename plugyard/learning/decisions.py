"""What a choice leaves behind: each candidate's score and reason, the decision with its propensity."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence


@dataclasses.dataclass(frozen=True, slots=True)
class ToolScore:
    """Why a candidate scored what it did."""

    tool: str
    expected: float
    """Posterior mean - latency penalty + satisfaction reward: the ranking key without sampling."""
    sample: float | None
    """The Thompson draw's score, in a choice; None in a ranking."""
    alpha: float
    beta: float
    success_mean: float
    user_calls: float
    """The user's discounted calls of the tool."""
    global_calls: float
    prior_strength: float
    latency_ms: float | None
    latency_penalty: float
    satisfaction: float
    satisfaction_reward: float
    circuit: str
    eligible: bool

    def reason(self) -> str:
        parts = [
            f"success {self.success_mean:.0%} (Beta({self.alpha:.2f}, {self.beta:.2f}) from "
            f"{self.user_calls:.1f} recent calls of yours, shrunk toward the typical rate with strength "
            f"{self.prior_strength:.1f})"
        ]
        if self.latency_penalty:
            parts.append(f"latency {self.latency_ms:.0f} ms costs {self.latency_penalty:.3f}")
        if self.satisfaction_reward:
            parts.append(f"satisfaction {self.satisfaction:.2f}/5 adds {self.satisfaction_reward:+.3f}")
        if self.circuit != "closed":
            parts.append(f"circuit {self.circuit.replace('_', '-')}" + ("" if self.eligible else ": skipped"))
        return "; ".join(parts)

    def as_dict(self) -> dict[str, object]:
        data = dataclasses.asdict(self)
        data["reason"] = self.reason()
        return data


@dataclasses.dataclass(frozen=True, slots=True)
class Decision:
    """One choice among candidates, with everything needed to explain and evaluate it offline."""

    decision_id: str
    user_id: str
    intent: str | None
    capability: str | None
    chosen: str
    propensity: float
    policy_version: str
    scores: tuple[ToolScore, ...]
    at: float

    def explain(self) -> str:
        chosen = next(s for s in self.scores if s.tool == self.chosen)
        others = [s for s in self.scores if s.tool != self.chosen]
        lines = [
            f"chose {self.chosen!r} for user {self.user_id!r}"
            + (f", intent {self.intent!r}" if self.intent else "")
            + (f", capability {self.capability!r}" if self.capability else "")
            + f" by Thompson sampling (draw {chosen.sample:.3f}; chosen with probability {self.propensity:.2f};"
            f" policy {self.policy_version})",
            f"  {self.chosen}: {chosen.reason()}",
        ]
        lines += [f"  {s.tool}: draw {s.sample:.3f}; {s.reason()}" for s in others if s.sample is not None]
        lines += [f"  {s.tool}: {s.reason()}" for s in others if s.sample is None]
        return "\n".join(lines)

    def as_log(self) -> dict[str, object]:
        return {
            "decision_id": self.decision_id,
            "at": self.at,
            "user_id": self.user_id,
            "intent": self.intent,
            "capability": self.capability,
            "chosen": self.chosen,
            "propensity": round(self.propensity, 6),
            "policy_version": self.policy_version,
            "candidates": {
                s.tool: {"expected": round(s.expected, 6), "sample": s.sample, "eligible": s.eligible}
                for s in self.scores
            },
        }


def propensity_of(chosen: ToolScore, eligible: Sequence[ToolScore], exploration: float = 1.0) -> float:
    """P(chosen has the highest draw), each score's posterior taken as normal (its spread times
    ``exploration``): Simpson's rule over ``pdf_chosen(x) * prod(cdf_other(x))`` where that product
    is not negligible."""
    others = [s for s in eligible if s is not chosen]
    if not others:
        return 1.0

    def spread(s: ToolScore) -> tuple[float, float]:
        n = s.alpha + s.beta
        return s.expected, max(exploration * math.sqrt(s.alpha * s.beta / (n * n * (n + 1.0))), 1e-9)

    mu, sd = spread(chosen)
    rivals = [spread(s) for s in others]
    # Below any rival's mean - 5 sd that rival almost surely wins: the integrand is ~0 there.
    lo = max(mu - 5.0 * sd, max(m - 5.0 * d for m, d in rivals))
    hi = mu + 5.0 * sd
    if lo >= hi:
        return 0.0
    # Rivals that almost surely stay below the whole range multiply by ~1: skip them.
    near = [(m, 1.0 / (d * math.sqrt(2.0))) for m, d in rivals if m + 5.0 * d > lo]
    erf, exp = math.erf, math.exp
    points = 17  # Simpson's rule: plenty for a smooth, unimodal integrand
    step = (hi - lo) / (points - 1)
    norm = 1.0 / (sd * math.sqrt(2.0 * math.pi))
    total = 0.0
    for i in range(points):
        x = lo + i * step
        z = (x - mu) / sd
        prob = norm * exp(-0.5 * z * z)
        for m, inv in near:
            prob *= 0.5 * (1.0 + erf((x - m) * inv))
            if prob < 1e-300:
                break
        total += (1.0 if i in (0, points - 1) else 4.0 if i % 2 else 2.0) * prob
    return min(1.0, max(0.0, total * step / 3.0))
