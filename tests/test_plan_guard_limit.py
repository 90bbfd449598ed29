"""The guarded planned step at its limit: a sum of squares *equal* to the guard's limit is doubtful.

Decision (documented in :mod:`refnet.plan`): a planned step is clean only when
``sum(work**2) + sum(checked**2) < L^2``, strictly, the same rule as
:meth:`refnet.guard.Guard.check`; the early warning fires at ``|a| >= L``, and one value
exactly ``L`` with the others 0 sums to exactly ``L^2``. At equality the step is undone
and replayed unplanned, which gives the same bits. The test measures the step's own sum,
then sets the limit to exactly that sum (replayed) and to the next float above (not).
"""

from __future__ import annotations

from typing import Any, Literal, cast

import numpy as np
import pytest

import refnet
from refnet.data import xor_easy
from refnet.guard import Guard
from refnet.optim import SGD
from refnet.plan import Plan
from refnet.train import prepare_data, step

X, Y = xor_easy()


def _guarded_step(dtype: Literal["float32", "float64"], limit: np.floating | None) -> tuple[np.floating, int, bytes, bytes]:
    """One guarded planned step; returns the step's sum of squares, the replays, the state and the loss."""
    net = refnet.mlp(seed=0, dtype=dtype)
    opt = SGD(0.5, momentum=0.5)
    xa, ya = prepare_data(net, X, Y)
    replays: list[int] = []

    def replay(x: np.ndarray, t: np.ndarray) -> np.ndarray:
        replays.append(1)
        return step(net, opt, x, t, None)

    plan = Plan(net, None, opt, [(xa, ya)], Guard(None, "record"), replay)
    if limit is not None:
        plan.limit = limit
    out = np.empty(net.members, dtype=net.precision.dtype)
    with np.errstate(all="ignore"):
        plan.guarded_step(0, out, 0, 0, slice(0, xa.shape[1]), xa, ya)
    plan.finish()
    batch, checked = plan.batches[0], plan.arena.checked
    total = batch.work.dot(batch.work) + checked.dot(checked)  # the step's own expression, on its own arrays
    state = b"".join(np.ascontiguousarray(v).tobytes() for v in net.get_params().values())
    return total, len(replays), state, out.tobytes()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_sum_equal_to_the_limit_is_replayed_and_just_below_is_not(dtype: Literal["float32", "float64"]) -> None:
    total, replays, state, loss = _guarded_step(dtype, np.dtype(dtype).type(np.inf))
    assert replays == 0 and np.isfinite(total) and total > 0
    at, replays_at, state_at, loss_at = _guarded_step(dtype, total)
    assert at == total and replays_at == 1  # equality: doubtful, replayed unplanned
    above = np.nextafter(total, np.dtype(dtype).type(np.inf))
    _, replays_above, state_above, loss_above = _guarded_step(dtype, above)
    assert replays_above == 0  # strictly below the limit: clean, planned
    below = np.nextafter(total, np.dtype(dtype).type(0))
    assert _guarded_step(dtype, below)[1] == 1
    assert state_at == state_above == state and loss_at == loss_above == loss  # a replay changes no bit


def test_the_plan_takes_the_guards_own_limit() -> None:
    net = refnet.mlp(seed=0)
    guard = Guard(None, "record")
    xa, ya = prepare_data(net, X, Y)
    plan = Plan(net, None, SGD(0.5), [(xa, ya)], guard, lambda x, t: step(net, SGD(0.5), x, t, None))
    assert plan.limit == guard.square_limit(cast("np.dtype[np.floating[Any]]", net.precision.dtype))
    assert Plan(net, None, SGD(0.5), [(xa, ya)]).limit == np.inf
