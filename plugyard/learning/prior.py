"""How much a user's posterior leans on everyone's: pool while users look alike, learn per user once they differ.

A user's posterior for a tool is ``Beta(k' m + s, k' (1 - m) + f)``: ``m`` the other users' posterior mean,
``s, f`` the user's own (discounted) successes and failures, ``k'`` the pooling strength.

**Do the users differ?** Per intent, over all its tools (a tool the users call a lot says how alike they are
for the tools they call little), the users' rates are tested against "every user has the tool's pooled rate
``p``". With the intra-class correlation ``rho`` of a beta-binomial, a user with ``n_u`` calls has
``Var(r_u) = p q (1 + (n_u - 1) rho) / n_u``; weighting each user by their calls (the method of moments of
Kleinman, 1973), per tool:

    X = sum min(9, n_u (r_u - p)^2 / (p q)) - (sum c_u - sum n_u c_u / N)      about rho * D; 0 when alike
    D = sum d_u - sum n_u d_u / N                                       what the data can say about rho
    V = 2 (sum c_u - sum n_u c_u / N)                                   Var(X) when alike (chi-square)

where ``c_u = min(n_u, 1)`` and ``d_u = max(n_u - 1, 0)`` (discounted counts may be fractional: a user with
one stale call adds only noise). Summed over the intent's tools, the lower bound of ``X`` is
``X - Z * sqrt(V)``:

- not above zero: as far as the data can tell the users are alike, and ``k`` is infinite. A user's
  posterior is then everyone's, ``Beta(1 + S, 1 + F)`` (``k'`` is capped by the evidence behind ``m``:
  ``k' = min(k, N_o + 2)``), and Thompson sampling on it explores for everyone at once. This is the
  default: a change of pooling needs evidence, and a fresh install has none.
- above zero: the users differ, at least by ``rho_low = (X - Z sqrt(V)) / D``, and
  ``k = TEMPER / rho_low - 1``. ``1 / rho - 1`` would match the beta-binomial's moments; the others'
  experience is tempered to a tenth of that (a power prior) because a beta prior matched to users whose
  best tools differ holds each user at the others' mean for dozens of calls (bench/contest.py, scenario e:
  a moment-matched strength of about 30 regrets as much as choosing at random over 40 calls a user).

**Does this user differ?** One user unlike the others barely moves the intent's test. Per (user, tool),
when the user's own record rejects the others' rate (a Bayes factor above 100, see ``departs``: tested at
each of the user's calls, a user like the others crosses it with probability at most 1% ever), the user
learns mostly on their own: ``k' = min(k', KAPPA_DEPARTED)``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

KAPPA_MIN = 1.0
KAPPA_MAX = math.inf
"""The default cap on the pooling strength: none (``prior_cap`` sets one)."""
KAPPA_DEFAULT = math.inf
"""The strength while the users look alike (and before anything is known): full pooling."""
KAPPA_DEPARTED = 2.0
"""The strength for a user whose own record rejects the others' rate."""
Z = 2.0
"""How many standard deviations of noise the users' excess spread must clear before they count as different."""
TEMPER = 0.1
CELL_CAP = 9.0
"""No user's cell adds more than three standard deviations to the spread: one user unlike the rest is the
per-user test's business, not evidence that every user differs."""
DEPART_NATS = math.log(100.0)
OUTAGE_NATS = math.log(100_000.0)
"""The evidence a run of failures needs before the tool counts as changed (an outage); see ``breaks_down``."""
OUTAGE_REPEAT_NATS = math.log(10.0)
"""Each outage a tool has had divides the evidence its next run of failures needs by this factor (down to the
departure test's 100): outages that recur are likelier than a first one."""


def spread_terms(counts: Iterable[tuple[float, float]]) -> tuple[float, float, float]:
    """(X, D, V) of one tool from each user's (successes, failures) (see the module docstring)."""
    cells = [(s, s + f) for s, f in counts if s + f > 0]
    big_n = sum(n for _, n in cells)
    if big_n <= 0 or len(cells) < 2:
        return 0.0, 0.0, 0.0
    p = sum(s for s, _ in cells) / big_n
    pq = p * (1.0 - p)
    if pq <= 1e-9:
        # Everyone always succeeds (or fails): no spread to read; the rates agree as far as we can tell.
        return 0.0, 0.0, 0.0
    spread = sum(min(CELL_CAP, n * (s / n - p) ** 2 / pq) for s, n in cells)
    noise = sum(min(n, 1.0) for _, n in cells) - sum(n * min(n, 1.0) for _, n in cells) / big_n
    info = sum(max(n - 1.0, 0.0) for _, n in cells) - sum(n * max(n - 1.0, 0.0) for _, n in cells) / big_n
    return spread - noise, max(info, 0.0), 2.0 * max(noise, 0.0)


def pooling_strength(terms: Iterable[tuple[float, float, float]], cap: float = KAPPA_MAX) -> float:
    """The pooling strength ``k`` from the (X, D, V) of an intent's tools (see the module docstring)."""
    x = d = v = 0.0
    for tx, td, tv in terms:
        x, d, v = x + tx, d + td, v + tv
    low = x - Z * math.sqrt(v)
    if low <= 0.0 or d <= 0.0:
        return max(KAPPA_MIN, min(cap, KAPPA_DEFAULT))
    rho_low = min(1.0, low / d)
    return max(KAPPA_MIN, min(cap, TEMPER / rho_low - 1.0))


def estimate_strength(counts: Iterable[tuple[float, float]], cap: float = KAPPA_MAX) -> float:
    """The pooling strength from one tool's users alone (an intent with one tool)."""
    return pooling_strength([spread_terms(counts)], cap)


def effective_strength(k: float, others_calls: float) -> float:
    """``k`` capped by the evidence behind the others' mean: two calls by others never weigh like a hundred."""
    return max(KAPPA_MIN, min(k, others_calls + 2.0))


def departs(successes: float, failures: float, others_successes: float, others_failures: float) -> bool:
    """Whether a user's own record rejects the others' rate: the Bayes factor of "the user has a rate of
    their own, ``Beta(KAPPA_DEPARTED m, KAPPA_DEPARTED (1 - m))`` a priori" against "the user's rate is the
    others', ``Beta(1 + S_o, 1 + F_o)``" exceeds ``e^DEPART_NATS`` (``m`` the others' mean). Under the null
    that factor is a martingale of mean 1, so a user like the others ever crosses it, however often it is
    looked at, with probability at most ``e^-DEPART_NATS`` (Ville's inequality): 1%. The others' own
    uncertainty is in the null, so a tool the others barely know sends no one away."""
    if successes + failures <= 0.0:
        return False
    a0, b0 = 1.0 + others_successes, 1.0 + others_failures
    m = a0 / (a0 + b0)
    a, b = KAPPA_DEPARTED * m, KAPPA_DEPARTED * (1.0 - m)
    return _log_marginal(a, b, successes, failures) - _log_marginal(a0, b0, successes, failures) > DEPART_NATS


def breaks_down(run: float, successes: float, failures: float, outages: int = 0) -> bool:
    """Whether ``run`` failures in a row reject the tool's record before them (``successes``, ``failures``):
    the Bayes factor of "the run has a rate of its own, ``Beta(KAPPA_DEPARTED m, KAPPA_DEPARTED (1 - m))``"
    against "the run's rate is the record's, ``Beta(1 + S, 1 + F)``" exceeds ``e^OUTAGE_NATS``. Each run is
    a fresh test (Ville: a run of a steady tool crosses with probability at most ``e^-OUTAGE_NATS``), and a
    tool at 80% starts about 2,000 runs of failures in 10,000 calls: hence a threshold of 100,000, about
    0.02 false alarms in 10,000 calls (1,000 raised two in ten 10,000-call runs of bench/contest.py's d and
    h, costing 13 and 100 regret). At 72% fourteen failures in a row suffice, at 85% ten, at 90% nine.
    Each of the tool's ``outages`` so far divides the threshold by 10 (``OUTAGE_REPEAT_NATS``), down to the
    departure test's 100: against 90 / 10, 9 failures, then 8, 6, 5 (bench/contest.py's j, an outage one day
    in five: 174 -> 154 regret at 2,000 decisions x 20 seeds)."""
    a0, b0 = 1.0 + successes, 1.0 + failures
    m = a0 / (a0 + b0)
    a, b = KAPPA_DEPARTED * m, KAPPA_DEPARTED * (1.0 - m)
    nats = max(DEPART_NATS, OUTAGE_NATS - outages * OUTAGE_REPEAT_NATS)
    return _log_marginal(a, b, 0.0, run) - _log_marginal(a0, b0, 0.0, run) > nats


def _log_marginal(a: float, b: float, s: float, f: float) -> float:
    """log P(s successes, f failures in a given order | rate ~ Beta(a, b))."""
    lgamma = math.lgamma
    return lgamma(a + s) + lgamma(b + f) - lgamma(a + b + s + f) - lgamma(a) - lgamma(b) + lgamma(a + b)
