"""The empirical-Bayes prior strength: how many calls' worth of everyone's experience a user starts with.

Users' success rates of one tool scatter around the pooled rate ``p`` for two reasons: the noise of
few calls, and real differences between users. With the intra-class correlation ``rho = 1 / (k + 1)``
of a beta-binomial, a user with ``n_u >= 1`` calls has ``Var(r_u) = p q (1 + (n_u - 1) rho) / n_u``.
Weighting each user by their calls (the method of moments of Kleinman, 1973), the expected weighted
spread ``sum n_u (r_u - p)^2`` is ``p q (X_noise + rho D)`` where ``D`` measures how much the data can say
about ``rho`` (calls beyond each user's first). Discounted counts may be fractional: a user with
``n_u < 1`` (one stale call) only adds noise (``c_u = min(n_u, 1)``, ``d_u = max(n_u - 1, 0)``):

    X = spread / (p q) - (sum c_u - sum n_u c_u / N)
    D = sum d_u - sum n_u d_u / N
    rho_hat = X / D (within [0, 1]); w = D / (D + PRIOR_INFO)
    rho = w rho_hat + (1 - w) rho_0       (shrunk toward the default strength, as much as D is small)
    k = 1 / rho - 1, clamped to [KAPPA_MIN, KAPPA_MAX]

Users who called once give ``D = 0``: the estimate stays at the default, however many there are.

A user's prior is then centred on the *other* users' posterior mean ``m`` (their ``N_o`` calls), and its
strength is capped by the evidence behind ``m``: ``k_eff = min(k, N_o + 2)`` (``Beta(1 + S_o, 1 + F_o)`` is
what the others know), so two calls by others never weigh like a hundred. (Adding the variance of ``m`` to
the users' spread instead halves the strength of users who agree, and every user explores on their own:
measured on bench/contest.py, scenario a, 72 regret against 51.)
"""

from __future__ import annotations

from collections.abc import Iterable

KAPPA_MIN = 1.0
KAPPA_MAX = 200.0
KAPPA_DEFAULT = 20.0
PRIOR_INFO = 20.0
"""Pseudo-information (in calls beyond a user's first) that holds the estimate at KAPPA_DEFAULT."""


def estimate_strength(counts: Iterable[tuple[float, float]], cap: float = KAPPA_MAX) -> float:
    """The prior strength ``k`` from each user's (successes, failures), discounted (see the module)."""
    cells = [(s, s + f) for s, f in counts if s + f > 0]
    big_n = sum(n for _, n in cells)
    if big_n <= 0:
        return KAPPA_DEFAULT
    p = sum(s for s, _ in cells) / big_n
    pq = p * (1.0 - p)
    rho0 = 1.0 / (KAPPA_DEFAULT + 1.0)
    if pq <= 1e-9:
        # Everyone always succeeds (or fails): no spread to read; the rates agree as far as we can tell.
        x = 0.0
    else:
        spread = sum(s * s / n for s, n in cells) - big_n * p * p
        noise = sum(min(n, 1.0) for _, n in cells) - sum(n * min(n, 1.0) for _, n in cells) / big_n
        x = max(spread, 0.0) / pq - noise
    info = sum(max(n - 1.0, 0.0) for _, n in cells) - sum(n * max(n - 1.0, 0.0) for _, n in cells) / big_n
    info = max(info, 0.0)
    rho_hat = min(1.0, max(0.0, x / info)) if info > 1e-9 else rho0
    w = info / (info + PRIOR_INFO)
    rho = w * rho_hat + (1.0 - w) * rho0
    rho = min(1.0 / (KAPPA_MIN + 1.0), max(1.0 / (cap + 1.0), rho))
    return 1.0 / rho - 1.0


def effective_strength(k: float, others_calls: float) -> float:
    """``k`` capped by the evidence behind the others' mean (see the module docstring)."""
    return max(KAPPA_MIN, min(k, others_calls + 2.0))
