"""An optimizer's state against the network it is given: an ``SGD`` whose momentum
velocity belongs to another architecture is refused (``ValueError`` naming
``optimizer``) before any parameter or velocity changes; rates for another number of
members are refused naming ``lr``. Reuse on the same network continues, reuse after
``reset()`` starts afresh."""

from __future__ import annotations

import numpy as np
import pytest

from refnet import SGD, mlp, train
from refnet.data import xor_easy
from refnet.network import Network
from refnet.validation import check_state

X, Y = xor_easy()


def _bits(net: Network) -> bytes:
    return b"".join(v.tobytes() for v in net.get_params().values())


def _velocity_bits(opt: SGD, keys: list[tuple[int, str]]) -> list[bytes | None]:
    out = []
    for key in keys:
        v = opt.velocity(key)
        out.append(None if v is None else np.array(v).tobytes())
    return out


KEYS = [(i, name) for i in (0, 2, 4) for name in ("W", "b")]


@pytest.mark.parametrize("other, what", [
    ({"hidden": [8]}, r"\(0, 'W'\) is float64 \(1, 2, 4\), the network's parameter is float64 \(1, 2, 8\)"),
    ({"hidden": [4, 4, 4]}, r"\(4, 'W'\) is float64 \(1, 4, 1\), the network's parameter is float64 \(1, 4, 4\)"),
    ({"hidden": [4]}, r"\(2, 'W'\) is float64 \(1, 4, 4\), the network's parameter is float64 \(1, 4, 1\)"),
    ({"bias": (False, True, True)}, r"\(0, 'b'\), which this network does not have"),
    ({"dtype": "float32"}, r"\(0, 'W'\) is float64 \(1, 2, 4\), the network's parameter is float32"),
    ({"seed": [0, 1]}, r"\(0, 'W'\) is float64 \(3, 2, 4\), the network's parameter is float64 \(2, 2, 4\)"),
])
def test_momentum_reused_on_another_network_is_refused_before_anything_changes(
        other: dict[str, object], what: str) -> None:
    opt = SGD(0.5, momentum=0.9)
    first = mlp(seed=0)
    train(first, X, Y, optimizer=opt, epochs=3)
    if "seed" in other:  # a per-member rate, then an ensemble of another size
        opt = SGD([0.5, 0.5, 0.5], momentum=0.9)
        train(mlp(seed=[0, 1, 2]), X, Y, optimizer=opt, epochs=3)
    kwargs: dict[str, object] = {"seed": 0, **other}
    net = mlp(2, kwargs.pop("hidden", [4, 4]), 1, **kwargs)  # type: ignore[arg-type]
    before, state = _bits(net), _velocity_bits(opt, KEYS)
    start = "holds state for" if "does not have" in what else "its state for"
    with pytest.raises(ValueError, match=rf"^optimizer: {start} parameter {what}"):
        train(net, X, Y, optimizer=opt, epochs=2)
    assert _bits(net) == before
    assert _velocity_bits(opt, KEYS) == state


def test_the_same_network_continues_and_reset_frees_the_optimizer() -> None:
    opt = SGD(0.5, momentum=0.9)
    net = mlp(seed=0)
    train(net, X, Y, optimizer=opt, epochs=2)
    train(net, X, Y, optimizer=opt, epochs=2)  # same architecture: the velocity carries over
    once = mlp(seed=0)
    train(once, X, Y, lr=0.5, momentum=0.9, epochs=4)
    assert _bits(net) == _bits(once)
    opt.reset()
    wider = mlp(2, [8], 1, seed=0)
    train(wider, X, Y, optimizer=opt, epochs=2)
    alone = mlp(2, [8], 1, seed=0)
    train(alone, X, Y, lr=0.5, momentum=0.9, epochs=2)
    assert _bits(wider) == _bits(alone)


def test_plain_sgd_keeps_no_state_and_moves_between_networks() -> None:
    opt = SGD(0.5)
    train(mlp(seed=0), X, Y, optimizer=opt, epochs=2)
    wider = mlp(2, [8], 1, seed=0)
    train(wider, X, Y, optimizer=opt, epochs=2)
    alone = mlp(2, [8], 1, seed=0)
    train(alone, X, Y, lr=0.5, epochs=2)
    assert _bits(wider) == _bits(alone)


def test_check_state_names_its_argument() -> None:
    a = np.zeros((1, 2, 3))
    check_state("optimizer", {}, {"w": a})
    check_state("optimizer", {"w": a.copy()}, {"w": a, "v": a})
    with pytest.raises(ValueError) as info:
        check_state("opt", {"x": a}, {"w": a})
    assert str(info.value) == ("opt: holds state for parameter 'x', which this network does not have (it was used "
                               "on another architecture); use a new optimizer or call reset()")
    with pytest.raises(ValueError) as info:
        check_state("opt", {"w": a}, {"w": a.astype(np.float32)})
    assert str(info.value) == ("opt: its state for parameter 'w' is float64 (1, 2, 3), the network's parameter is "
                               "float32 (1, 2, 3) (it was used on another architecture); use a new optimizer or "
                               "call reset()")


def test_rates_for_another_number_of_members_name_lr() -> None:
    net = mlp(seed=[0, 1])
    before = _bits(net)
    with pytest.raises(ValueError, match=r"^lr: expected a scalar or shape \(2,\), got shape \(3,\)"):
        train(net, X, Y, optimizer=SGD([0.5, 0.5, 0.5]), epochs=1)
    assert _bits(net) == before
