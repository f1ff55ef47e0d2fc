"""The scenarios of the router contest (bench/contest.py): who asks, which tools are offered, how each
tool serves each user at each moment.

One utility for every scenario, the router's stated objective: ``P(success) - 0.3 * min(1, latency /
timeout) + 0.4 * (mean rating - 3) / 2`` (the rating term only where ratings are given). Regret of a
decision = the best offered tool's utility for that user at that moment minus the chosen one's.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable

TIMEOUT_MS = 30_000.0
LATENCY_WEIGHT = 0.3
RATING_WEIGHT = 0.4
USERS = 50
FAST_MS = 150.0

Rate = Callable[[int, int, float], float]
"""(user, tool, progress in [0, 1)) -> success probability."""


@dataclasses.dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    tools: int
    rate: Rate
    days: float = 50.0
    latency_ms: tuple[float, ...] = ()
    ratings: tuple[float, ...] = ()
    """Each tool's mean rating (1-5), given on every call; empty: no ratings."""
    available: Callable[[int, float], bool] = lambda tool, x: True
    user_of: Callable[[random.Random, float], int] = lambda rng, x: rng.randrange(USERS)

    def latency(self, tool: int) -> float:
        return self.latency_ms[tool] if self.latency_ms else FAST_MS

    def utility(self, user: int, tool: int, x: float) -> float:
        value = self.rate(user, tool, x) - LATENCY_WEIGHT * min(1.0, self.latency(tool) / TIMEOUT_MS)
        if self.ratings:
            value += RATING_WEIGHT * (self.ratings[tool] - 3.0) / 2.0
        return value

    def offered(self, x: float) -> list[int]:
        return [t for t in range(self.tools) if self.available(t, x)]

    def rating(self, rng: random.Random, tool: int) -> int:
        """A rating around the tool's mean, exactly that mean on average (floor or ceiling)."""
        mean = self.ratings[tool]
        low = int(mean)
        return min(5, low + (1 if rng.random() < mean - low else 0))


def _fixed(*rates: float) -> Rate:
    return lambda user, tool, x: rates[tool]


def _from_half(before: tuple[float, ...], tool: int, after: float) -> Rate:
    return lambda user, t, x: after if (t == tool and x >= 0.5) else before[t]


def _gradual(user: int, tool: int, x: float) -> float:
    if tool == 0:
        return 0.90 - 0.40 * x
    if tool == 1:
        return 0.60 + 0.25 * x
    return (0.70, 0.65, 0.60)[tool - 2]


def _per_user_best(seed: int) -> Rate:
    best = [random.Random(seed * 7919 + u).randrange(5) for u in range(USERS)]
    return lambda user, tool, x: 0.85 if tool == best[user] else 0.65


NEWCOMER = USERS  # the user who arrives half-way in f and f2


def _newcomer(rng: random.Random, x: float) -> int:
    """Half-way a newcomer arrives and makes a fifth of the calls from then on."""
    if x >= 0.5 and rng.random() < 0.2:
        return NEWCOMER
    return rng.randrange(USERS)


def _opposite(user: int, tool: int, x: float) -> float:
    everyone = (0.85, 0.80, 0.75, 0.70, 0.60)
    if user == NEWCOMER:
        return (0.50, 0.60, 0.65, 0.70, 0.90)[tool]
    return everyone[tool]


MANY = (0.85, *(0.80,) * 3, *(0.75,) * 3, *(0.70,) * 3, 0.65, 0.65, 0.60, 0.60, 0.55, 0.55, 0.50, 0.50, 0.45, 0.40)


def _outages(user: int, tool: int, x: float) -> float:
    """The best (0.90) is down (fails every call) one day in every five; the others are steady."""
    if tool == 0:
        return 0.0 if (x * 50.0) % 5.0 >= 4.0 else 0.90
    return (0.90, 0.80, 0.75, 0.70, 0.65)[tool]


GROUPS = 5


def _groups(seed: int) -> Rate:
    """Users in five groups of ten; each group has its own best tool (0.85; the others 0.70)."""
    order = list(range(5))
    random.Random(seed * 104_729 + 3).shuffle(order)
    return lambda user, tool, x: 0.85 if tool == order[user % GROUPS] else 0.70


STATIONARY = (0.85, 0.80, 0.80, 0.75, 0.70)
B_BEFORE = (0.90, 0.80, 0.75, 0.70, 0.65)


def scenarios(seed: int) -> list[Scenario]:
    """Every scenario; ``seed`` draws what differs between runs of a scenario (e's users' best tools)."""
    return [
        Scenario("a", "stationary, 5 tools 0.85/0.80/0.80/0.75/0.70", 5, _fixed(*STATIONARY)),
        Scenario("b", "the best (0.90) fails totally from T/2", 5, _from_half(B_BEFORE, 0, 0.0)),
        Scenario("b2", "the best (0.90) degrades to 0.55 from T/2", 5, _from_half(B_BEFORE, 0, 0.55)),
        Scenario("bbusy", "b within one day", 5, _from_half(B_BEFORE, 0, 0.0), days=1.0),
        Scenario("c", "gradual drift: A 0.90->0.50 while B 0.60->0.85", 5, _gradual),
        Scenario(
            "d",
            "a 0.92 tool appears at T/2 among 4 (best 0.80)",
            5,
            _fixed(0.80, 0.75, 0.70, 0.65, 0.92),
            available=lambda tool, x: tool != 4 or x >= 0.5,
        ),
        Scenario("e", "each user's best tool differs (0.85 vs 0.65)", 5, _per_user_best(seed)),
        Scenario(
            "f", "a cold-start user among experienced ones (a's tools)", 5, _fixed(*STATIONARY), user_of=_newcomer
        ),
        Scenario("f2", "a newcomer whose best tool is everyone else's worst", 5, _opposite, user_of=_newcomer),
        Scenario(
            "g",
            "equally reliable (0.85), one 10x slower (15 s vs 1.5 s, timeout 30 s)",
            3,
            _fixed(0.85, 0.85, 0.85),
            latency_ms=(15_000.0, 1_500.0, 1_500.0),
        ),
        Scenario(
            "h",
            "ratings disagree with success: 0.90 rated 2, 0.80 rated 4.5, 0.75 rated 3",
            3,
            _fixed(0.90, 0.80, 0.75),
            ratings=(2.0, 4.5, 3.0),
        ),
        Scenario("i", "20 tools, stationary: one 0.85, three 0.80, the rest 0.40-0.75", 20, _fixed(*MANY)),
        Scenario("j", "recurring outages: the best (0.90) fails every call one day in five", 5, _outages),
        Scenario("k", "five groups of ten users, each group's best tool differs (0.85 vs 0.70)", 5, _groups(seed)),
    ]
