"""The planned step (refnet.plan) gives the unplanned step's bits, and the guard's reports.

The reference is the same ``train`` call with the plan switched off
(``Plan.supports`` patched to refuse), which runs :func:`refnet.train.step`
operation by operation. Equality is bitwise (``tobytes``), NaN payloads and
signed zeros included: the plan claims the same operations on the same values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import refnet
from refnet import plan as plan_module
from refnet.conventions import sigmoid_of
from refnet.data import xor_easy
from refnet.guard import Guard
from refnet.network import Network
from refnet.optim import SGD


@contextmanager
def unplanned() -> Iterator[None]:
    mp = pytest.MonkeyPatch()
    mp.setattr(plan_module.Plan, "supports", staticmethod(lambda net, convention=None: False))
    try:
        yield
    finally:
        mp.undo()


def _state(net: Network) -> bytes:
    return b"".join(np.ascontiguousarray(v).tobytes() for v in net.named_params().values())


def _pair(build: Callable[[], Network], **kw: object) -> tuple[tuple[bytes, bytes], tuple[bytes, bytes]]:
    x, y = kw.pop("data", xor_easy())  # type: ignore[misc]
    planned_net, plain_net = build(), build()
    kw.setdefault("guard", "off")  # runs that diverge on purpose: compared by their bits
    h1 = refnet.train(planned_net, x, y, **kw)  # type: ignore[arg-type]
    with unplanned():
        h2 = refnet.train(plain_net, x, y, **kw)  # type: ignore[arg-type]
    return (h1.loss.tobytes(), _state(planned_net)), (h2.loss.tobytes(), _state(plain_net))


CASES = [
    ("sigmoid", "sigmoid", "mse"), ("relu", "sigmoid", "bce"), ("tanh", "sigmoid", "bce-logits"),
    ("relu", "identity", "mse"), ("identity", "sigmoid", "bce"),
]
CONVENTIONS = ["default", "lab-evidence", "lab-sum", "lab[gradient=sum,mse=(y-t),log=2,sigmoid=stable,batch=full]",
               "lab[gradient=mean,mse=(y-t),log=2,sigmoid=naive,batch=5]"]


@pytest.mark.parametrize("kernel", ["blas", "portable"])
@pytest.mark.parametrize("members", [1, 3, 9])
@pytest.mark.parametrize("convention", CONVENTIONS)
@pytest.mark.parametrize("case", CASES)
def test_planned_training_is_the_unplanned_bit_for_bit(kernel: str, members: int, convention: str,
                                                       case: tuple[str, str, str]) -> None:
    activation, output, loss = case
    seeds = list(range(members))

    def build() -> Network:
        return refnet.mlp(activation=activation, output_activation=output, loss=loss,  # type: ignore[arg-type]
                          seed=seeds, kernel=kernel, sigmoid=sigmoid_of(convention))  # type: ignore[arg-type]

    lr = np.geomspace(0.05, 2.0, members)
    a, b = _pair(build, lr=lr, epochs=40, convention=convention)
    assert a == b


@pytest.mark.parametrize("kernel", ["blas", "portable"])
@pytest.mark.parametrize("members", [1, 9])
def test_the_lab_relu_formula_plans_to_the_same_bits(kernel: str, members: int) -> None:
    """``relu="mask"`` (the lab's: +0 where x <= 0, a NaN passes its gradient) planned as unplanned,
    through a run that goes non-finite (lr 40: NaN reaches the masks)."""
    def build() -> Network:
        return refnet.mlp(activation="relu", relu="mask", seed=list(range(members)), kernel=kernel)  # type: ignore[arg-type]

    for lr in (0.5, 40.0):
        a, b = _pair(build, lr=lr, epochs=60, convention="default")
        assert a == b


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kernel", ["blas", "portable"])
def test_momentum_minibatches_and_both_dtypes(dtype: str, kernel: str) -> None:
    def build() -> Network:
        return refnet.mlp(seed=list(range(10)), dtype=dtype, kernel=kernel)  # type: ignore[arg-type]

    a, b = _pair(build, lr=0.5, momentum=0.9, epochs=30, batch_size=4)
    assert a == b


def test_velocity_carries_over_between_planned_and_unplanned_calls() -> None:
    x, y = xor_easy()
    nets = [refnet.mlp(seed=1), refnet.mlp(seed=1)]
    opts = [SGD(0.3, 0.8), SGD(0.3, 0.8)]
    refnet.train(nets[0], x, y, optimizer=opts[0], epochs=20)
    with unplanned():
        refnet.train(nets[0], x, y, optimizer=opts[0], epochs=20)
    refnet.train(nets[0], x, y, optimizer=opts[0], epochs=20)
    with unplanned():
        refnet.train(nets[1], x, y, optimizer=opts[1], epochs=60)
    assert _state(nets[0]) == _state(nets[1])


def test_the_plan_is_what_runs() -> None:
    """Without an observer the arena owns the parameters afterwards (views into one array)."""
    net = refnet.mlp(seed=0)
    x, y = xor_easy()
    refnet.train(net, x, y, lr=0.1, epochs=2)
    params = list(net.named_params().values())
    assert all(p.base is not None for p in params) and len({id(p.base) for p in params}) == 1
    with unplanned():
        refnet.train(net, x, y, lr=0.1, epochs=2)
    assert all(p.base is None for p in net.named_params().values())


def test_non_finite_values_keep_their_bits() -> None:
    """A diverging run (no activation, lr far too large): inf and NaN where the unplanned run has them."""
    def build() -> Network:
        return refnet.mlp(activation="identity", output_activation="identity", seed=[0, 1, 2, 3, 4, 5, 6, 7, 8])

    a, b = _pair(build, lr=5.0, epochs=60)
    assert a == b
    assert not np.isfinite(np.frombuffer(a[0])).all()


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), members=st.integers(1, 12), lr=st.floats(1e-3, 50.0),
       kernel=st.sampled_from(["blas", "portable"]), convention=st.sampled_from(CONVENTIONS),
       case=st.sampled_from(CASES), rows=st.integers(1, 9))
def test_random_networks_and_data(seed: int, members: int, lr: float, kernel: str, convention: str,
                                  case: tuple[str, str, str], rows: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, 3)) * 4
    y = (rng.random((rows, 2)) > 0.5).astype(float)
    activation, output, loss = case

    def build() -> Network:
        return refnet.mlp(3, (5,), 2, activation=activation, output_activation=output,  # type: ignore[arg-type]
                          loss=loss, seed=list(range(seed, seed + members)),  # type: ignore[arg-type]
                          kernel=kernel, sigmoid=sigmoid_of(convention))  # type: ignore[arg-type]

    a, b = _pair(build, lr=lr, epochs=12, convention=convention, data=(x, y))
    assert a == b


# -- the guard on the planned path ---------------------------------------------------------
def _guarded(mode: str, build: Callable[[], Network], **kw: object) -> tuple[list[dict[str, object]], bytes, str]:
    net = build()
    guard = Guard(net, mode)  # type: ignore[arg-type]
    x, y = xor_easy()
    error = ""
    try:
        refnet.train(net, x, y, guard=guard, **kw)  # type: ignore[arg-type]
    except refnet.NumericalError as exc:
        error = str(exc)
    return [e.to_dict() for e in guard.log], _state(net), error


def _both(mode: str, build: Callable[[], Network], **kw: object) -> None:
    planned = _guarded(mode, build, **kw)
    with unplanned():
        plain = _guarded(mode, build, **kw)
    assert planned == plain


@pytest.mark.parametrize("mode", ["raise", "record"])
@pytest.mark.parametrize("convention", ["default", "lab-evidence"])
def test_guard_reports_the_same_first_event_and_leaves_the_same_state(mode: str, convention: str) -> None:
    def build() -> Network:
        return refnet.mlp(activation="identity", output_activation="identity", seed=[0, 1, 2],
                          sigmoid=sigmoid_of(convention))

    planned = _guarded(mode, build, lr=5.0, epochs=80, convention=convention)
    assert planned[0], "the run must produce events for this test to mean anything"
    _both(mode, build, lr=5.0, epochs=80, convention=convention)


def test_guard_early_warnings_match() -> None:
    """Weights growing past sqrt(max) on their way to inf: early warnings, flags whose result
    ended finite, then non-finite events."""
    def build() -> Network:
        return refnet.mlp(activation="identity", output_activation="identity", seed=[3, 4, 5])

    planned = _guarded("record", build, lr=0.5, epochs=200)
    kinds = {e["kind"] for e in planned[0]}
    assert {"early-warning", "flag", "non-finite"} <= kinds, kinds
    _both("record", build, lr=0.5, epochs=200)


def test_a_flag_inside_a_planned_step_is_replayed_and_judged_as_without_the_plan(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The naive sigmoid's exp overflows (its result, 0, is finite): the planned step sees a
    flag and replays; the unplanned sigmoid silences that overflow, so nothing is logged."""
    def build() -> Network:
        net = refnet.mlp(activation="identity", seed=[0, 1], sigmoid="naive")
        net.set_params({"output.W": np.full((2, 4, 1), -400.0)})
        return net

    replays = []
    adopt = plan_module.Plan._adopt
    monkeypatch.setattr(plan_module.Plan, "_adopt", lambda self: (replays.append(1), adopt(self))[1])
    planned = _guarded("raise", build, lr=1e-6, epochs=5, convention="lab-evidence")
    assert len(replays) >= 5 and planned[0] == [] and planned[2] == ""
    _both("raise", build, lr=1e-6, epochs=5, convention="lab-evidence")


def test_guard_quiet_run_is_identical_and_logs_nothing() -> None:
    def build() -> Network:
        return refnet.mlp(seed=[0, 1])

    planned = _guarded("raise", build, lr=0.5, momentum=0.5, epochs=50)
    assert planned[0] == [] and planned[2] == ""
    _both("raise", build, lr=0.5, momentum=0.5, epochs=50)


def test_a_replayed_step_hands_its_momentum_velocity_back_to_the_plan() -> None:
    """Weights growing past sqrt(max) with momentum: the steps in doubt are replayed unplanned, and
    the planned steps after a replay go on from the velocity the replay left (a plan that kept its
    own older velocity, or trusted a velocity it does not have, gives other bits)."""
    def build() -> Network:
        return refnet.mlp(activation="identity", output_activation="identity", seed=[3, 4, 5])

    planned = _guarded("record", build, lr=0.2, momentum=0.5, epochs=120)
    assert "early-warning" in {e["kind"] for e in planned[0]}
    _both("record", build, lr=0.2, momentum=0.5, epochs=120)


def test_a_plan_without_a_guard_refuses_a_guarded_step() -> None:
    from refnet.train import prepare_data
    net = refnet.mlp(seed=0)
    x, t = prepare_data(net, *xor_easy())
    plan = plan_module.Plan(net, None, SGD(0.5), [(x, t)])
    out = np.empty(1)
    with pytest.raises(RuntimeError) as info:
        plan.guarded_step(0, out, 0, 0, slice(None), x, t)
    assert str(info.value) == "guarded_step: this plan was built without a guard and a replay"


def test_only_refnets_own_parts_under_a_reading_are_planned() -> None:
    """A plan knows the buffers of refnet's own layers, losses and kernels under the default
    convention or a Reading; anything else (a subclass of a layer or loss, a kernel object that
    is not the registered one, the lab's published arithmetic) runs unplanned."""
    from refnet.conventions import Published, reading
    from refnet.kernels import BlasKernel
    from refnet.layers import Sigmoid
    from refnet.losses import MSE

    class MySigmoid(Sigmoid):
        pass

    class MyMSE(MSE):
        pass

    def net(**changes: object) -> Network:
        base = refnet.mlp(seed=0, sigmoid="naive")
        layers = [MySigmoid(layer.name, "naive") if changes.get("layer") and isinstance(layer, Sigmoid) else layer
                  for layer in base.layers]
        made = Network(layers, MyMSE() if changes.get("loss") else base.loss, base.precision)
        if changes.get("kernel"):
            for linear in made.linears:
                linear.kernel = BlasKernel()  # a kernel of the right kind, not the registered one
        return made

    Supports = plan_module.Plan.supports
    assert Supports(net()) and Supports(net(), reading("lab-sum")) and Supports(net(), None)
    assert not Supports(net(), Published())
    for change in ("layer", "loss", "kernel"):
        assert not Supports(net(**{change: True})), change
        assert not Supports(net(**{change: True}), reading("lab-sum")), change


def test_a_training_hands_numpys_error_callback_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """The plan takes NumPy's floating-point callback for its steps and gives back whatever was
    there before, when training ends normally and when a step raises."""
    def mine(err: str, flag: int) -> None:
        pass

    x, y = xor_easy()
    previous = np.seterrcall(mine)
    try:
        refnet.train(refnet.mlp(seed=0), x, y, lr=0.5, epochs=3)
        assert np.geterrcall() is mine
        with pytest.raises(refnet.NumericalError):
            refnet.train(refnet.mlp(seed=0, activation="identity", output_activation="identity"),
                         x * 1e200, y, lr=1e300, epochs=3, guard="raise")
        assert np.geterrcall() is mine
    finally:
        np.seterrcall(previous)


def test_a_momentum_optimizer_gets_no_velocity_from_a_training_of_no_epochs() -> None:
    x, y = xor_easy()
    opt = SGD(0.5, momentum=0.9)
    net = refnet.mlp(seed=0)
    refnet.train(net, x, y, optimizer=opt, epochs=0)
    assert all(opt.velocity((i, name)) is None for i, layer in enumerate(net.layers) for name in layer.params)
    refnet.train(net, x, y, optimizer=opt, epochs=1)
    assert opt.velocity((0, "W")) is not None


@pytest.mark.parametrize("kernel", ["blas", "portable"])
def test_momentum_with_updates_inside_the_backward_pass_plans_to_the_same_bits(kernel: str) -> None:
    """A reading updates each layer inside the backward pass; with momentum the plan's first step
    starts the velocity and every later step adds to it, as the unplanned step does."""
    def build() -> Network:
        return refnet.mlp(seed=[0, 1, 2], kernel=kernel, sigmoid="naive")  # type: ignore[arg-type]

    a, b = _pair(build, lr=[0.1, 0.5, 1.0], momentum=0.9, epochs=20, convention="lab-evidence")
    assert a == b


def test_the_plans_layout_and_single_network_path() -> None:
    """Members last (each elementwise loop over the members innermost) for ensembles of at least
    MEMBER_LAST members on the portable or compiled kernel; members first otherwise. One blas
    network drops its member axis (one loop level less in every NumPy call)."""
    from refnet.kernels import MEMBER_LAST
    from refnet.train import prepare_data

    def plan(members: int, kernel: str) -> plan_module.Plan:
        net = refnet.mlp(seed=list(range(members)), kernel=kernel)  # type: ignore[arg-type]
        x, t = prepare_data(net, *xor_easy())
        return plan_module.Plan(net, None, SGD(0.5), [(x, t)])

    assert plan(MEMBER_LAST, "portable").layout == "members-last"
    assert plan(MEMBER_LAST - 1, "portable").layout == "members-first"
    assert plan(MEMBER_LAST, "blas").layout == "members-first"
    assert [plan(1, k).single for k in ("blas", "portable")] == [True, False]
    assert not plan(2, "blas").single


def test_a_velocity_for_only_some_parameters_is_refused() -> None:
    x, y = xor_easy()
    net = refnet.mlp(seed=0)
    opt = SGD(0.5, momentum=0.9)
    opt.set_velocity((0, "W"), np.zeros_like(net.layers[0].params["W"]))
    with pytest.raises(ValueError) as info:
        refnet.train(net, x, y, optimizer=opt, epochs=1)
    assert str(info.value) == "optimizer: its momentum velocity covers only some parameters"


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_a_network_with_one_parameter_plans_to_the_same_bits(momentum: float) -> None:
    """A single bias-free linear layer (one parameter array, so one velocity) under momentum."""
    from refnet.layers import Linear
    from refnet.losses import MSE

    def build() -> Network:
        return Network([Linear(np.full((1, 2, 1), 0.25), name="only")], MSE(), "float64")

    a, b = _pair(build, lr=0.1, epochs=5, momentum=momentum)
    assert a == b
