"""Two promises of ``refnet.sweep`` that no other test held (issue 23's surviving mutants).

* Freezing diverged members in a *later* round of divergence: once a member is
  frozen, the survivors' positions in the training ensemble no longer equal their
  positions in the chunk, so a slip between the two indices stores another member's
  parameters (only a first round, where they coincide, was tested). Every frozen
  member must hold exactly the parameters of its run alone stopped at that epoch.
* The chunk-size bound: no ensemble holds more than ``chunk_size`` members (or
  :func:`default_chunk_size` of them), and consecutive members fill each chunk.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, TypeVar

import numpy as np
import pytest

from refnet.data import xor_easy
from refnet.sweep import Member, Setup, default_chunk_size, sweep
from refnet.train import train

T = TypeVar("T")
X, Y = xor_easy()
LINEAR = Setup(X, Y, epochs=12, activation="identity", output_activation="identity", loss="mse")
"""A linear network: too large a rate grows its weights geometrically until they overflow,
at an epoch set by the rate (seed 0: lr 1e3 at epoch 4, 0.17 at 8, 0.15 at 9; 0.05 never)."""


def bits(a: np.ndarray) -> bytes:
    out = np.array(a, copy=True)
    out[np.isnan(out)] = np.nan  # one NaN: sign and payload are unspecified
    return out.tobytes()


def alone(member: Member, epochs: int, setup: Setup = LINEAR) -> tuple[dict[str, np.ndarray], np.ndarray]:
    net = setup.build([member.seed], member.dtype, member.kernel)
    with np.errstate(all="ignore"):
        loss = train(net, setup.x, setup.y, lr=member.lr, epochs=epochs, guard="off").loss[:, 0]  # diverges on purpose
    return net.get_params(), loss


def test_members_frozen_in_second_and_third_rounds_hold_their_own_parameters() -> None:
    members = [Member(0, 1e3), Member(0, 0.05), Member(0, 0.17), Member(1, 0.2), Member(0, 0.15),
               Member(2, 0.03)]
    res = sweep(LINEAR, members, workers=0, chunk_size=len(members), stop_diverged=True, check_every=2)
    stops = [r.nonfinite.stopped_epoch for r in res]
    assert stops == [4, None, 8, 8, 10, None]  # three rounds: 4, then 8 (two at once), then 10
    for r in res:
        epochs = LINEAR.epochs if r.nonfinite.stopped_epoch is None else r.nonfinite.stopped_epoch
        params, loss = alone(r.member, epochs)
        assert set(params) == set(r.params)
        for name in params:
            assert bits(params[name]) == bits(r.params[name]), (r.index, name)
        assert bits(r.loss[:epochs]) == bits(loss)
        assert np.all(np.isnan(r.loss[epochs:]))
    # a slip between the ensemble position and the chunk index would show: at epoch 8 the
    # ensemble is members 1..5, and position 3 (chunk index 3's slot under the slip) holds
    # member 4, still finite, where member 3's own parameters are NaN
    assert np.all(np.isnan(res[3].flat)) and res[4].nonfinite.stopped_epoch == 10


class RecordingExecutor(Executor):
    """Runs each chunk at once, in this process, and records how many members it held."""

    def __init__(self) -> None:
        self.sizes: list[int] = []

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        self.sizes.append(len(args[1]))
        future: Future[T] = Future()
        future.set_result(fn(*args, **kwargs))
        return future


@pytest.mark.parametrize("chunk_size, sizes", [(1, [1] * 7), (2, [2, 2, 2, 1]), (3, [3, 3, 1]), (7, [7]),
                                               (8, [7])])
def test_no_chunk_holds_more_than_chunk_size_members(chunk_size: int, sizes: list[int]) -> None:
    setup = Setup(X, Y, epochs=1)
    members = [Member(s, 0.5) for s in range(7)]
    pool = RecordingExecutor()
    res = sweep(setup, members, executor=pool, chunk_size=chunk_size)
    assert pool.sizes == sizes
    assert [r.index for r in res] == list(range(7))


def test_groups_cut_chunks_and_the_default_size_bounds_them() -> None:
    setup = Setup(X, Y, epochs=1, hidden=(128, 128))
    limit = default_chunk_size(setup)
    assert 1 < limit < 40
    members = [Member(s, 0.5) for s in range(limit + 1)] + [Member(0, 0.5, "float32"), Member(1, 0.5)]
    pool = RecordingExecutor()
    sweep(setup, members, executor=pool)
    assert pool.sizes == [limit, 1, 1, 1]


def test_checkpoints_judge_each_member_as_a_run_stopped_there_and_change_no_bit() -> None:
    """``checkpoints``: after each epoch strictly inside the run, every member is judged as a run
    of that many epochs alone would be, and cutting the training there changes no bit of the
    final parameters, losses or readouts. A checkpoint at or after the last epoch is not one."""
    from refnet.outcomes import Criteria
    setup = Setup(X, Y, epochs=30, criteria=Criteria(window=4))
    members = [Member(0, 1.0), Member(1, 8.0), Member(2, 0.5), Member(3, 1e8)]
    with np.errstate(all="ignore"):
        plain = sweep(setup, members, workers=0, check_every=7)
        cut = sweep(setup, members, workers=0, check_every=7, checkpoints=(30, 9, 1, 20, 45))
    for p, c in zip(plain, cut):
        assert sorted(c.checkpoints) == [1, 9, 20] and p.checkpoints == {}
        assert bits(c.loss) == bits(p.loss) and c.readout == p.readout
        assert all(bits(c.params[name]) == bits(p.params[name]) for name in p.params)
        for then in (1, 9, 20):
            short = Setup(X, Y, epochs=then, criteria=setup.criteria)
            with np.errstate(all="ignore"):
                alone = sweep(short, [c.member], workers=0)[0]
            assert c.checkpoints[then] == alone.readout, (c.member, then)


def _nonfinite_of(loss: np.ndarray) -> tuple[int | None, int]:
    bad = ~np.isfinite(loss)
    return (int(np.argmax(bad)) if bad.any() else None), int(bad.sum())


@pytest.mark.parametrize("check_every", [1, 4, 5])
def test_nonfinite_counts_span_every_block_and_nothing_stops_unless_asked(check_every: int) -> None:
    """Without ``stop_diverged`` every member runs to the end (no stopped epoch) and its
    ``nonfinite`` record counts the non-finite losses of all blocks, the first one kept
    from the block it fell in, epoch 0 included (data of 1e200: the first loss overflows)."""
    huge = Setup(X * 1e200, Y, epochs=12, activation="identity", output_activation="identity", loss="mse")
    for setup, members in ((LINEAR, [Member(0, 1e3), Member(0, 0.15), Member(0, 0.05)]), (huge, [Member(0, 0.01)])):
        res = sweep(setup, members, workers=0, chunk_size=len(members), check_every=check_every)
        for r in res:
            loss = alone(r.member, setup.epochs, setup)[1]
            assert bits(r.loss) == bits(loss)
            first, count = _nonfinite_of(loss)
            assert (r.nonfinite.first_loss_epoch, r.nonfinite.loss_epochs) == (first, count)
            assert r.nonfinite.stopped_epoch is None
    assert (res[0].nonfinite.first_loss_epoch, res[0].nonfinite.loss_epochs) == (0, 12)


def test_a_member_that_dies_in_the_last_block_was_not_stopped() -> None:
    """Seed 0 at lr 0.15 has non-finite parameters after epoch 9 or 10 (alive after 8): with checks
    after epochs 4 and 8 of a 10-epoch run it trains to the end, so it was not stopped early,
    though its final parameters are not finite."""
    setup = Setup(X, Y, epochs=10, activation="identity", output_activation="identity", loss="mse")
    res = sweep(setup, [Member(0, 0.15), Member(0, 1e3)], workers=0, stop_diverged=True, check_every=4)
    assert res[0].nonfinite.stopped_epoch is None and not res[0].nonfinite.params_finite
    assert res[1].nonfinite.stopped_epoch == 4


@pytest.mark.parametrize("check_every", [3, 5])
def test_when_every_member_is_frozen_the_rest_is_nan_and_the_readouts_are_unchanged(check_every: int) -> None:
    """Once every member is frozen nothing more is trained: the losses left are NaN, exactly
    ``epochs`` of them, and each readout is the one of the same sweep without freezing."""
    members = [Member(0, 1e3), Member(1, 1e3), Member(2, 1e3)]
    frozen = sweep(LINEAR, members, workers=0, stop_diverged=True, check_every=check_every)
    plain = sweep(LINEAR, members, workers=0, check_every=check_every)
    for f, p in zip(frozen, plain):
        assert f.nonfinite.stopped_epoch is not None and f.loss.shape == (LINEAR.epochs,)
        assert np.all(np.isnan(f.loss[f.nonfinite.stopped_epoch:]))
        assert f.readout.outcome == p.readout.outcome and f.readout.decided_epoch == p.readout.decided_epoch


def test_the_setups_criteria_judge_the_checkpoints_and_the_end() -> None:
    """The setup's loss threshold (0.002 here, not the default 0.01) decides both the final
    readouts and those at the checkpoints: seed 1 at lr 5 ends at a loss of 0.003 with every
    point right, and seed 2 at lr 10 has 0.005 after 200 epochs; both are stalled, not converged."""
    from refnet.data import linear
    from refnet.outcomes import Criteria
    x, y = linear(20, 0)
    setup = Setup(x, y, epochs=400, loss="bce", criteria=Criteria(window=4, loss_threshold=0.002))
    res = sweep(setup, [Member(1, 5.0), Member(2, 10.0)], workers=0, checkpoints=(200,))
    assert res[0].readout.accuracy == 100.0 and 0.002 < res[0].readout.final_loss < 0.01
    assert res[0].readout.outcome == "stalled"
    assert res[1].checkpoints[200].accuracy == 100.0 and 0.002 < res[1].checkpoints[200].final_loss < 0.01
    assert res[1].checkpoints[200].outcome == "stalled" and res[1].readout.outcome == "converged"
