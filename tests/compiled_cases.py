"""Cases for ``tests/test_compiled.py``, run in a fresh process in the pinned environment.

``python -m tests.compiled_cases GROUP`` runs every case of ``GROUP`` twice, with
``kernel="portable"`` (the NumPy reference) and ``kernel="compiled"``, and prints one JSON
list of the cases whose results differ in any byte (parameters, loss history or log,
predictions, accuracy, optimizer velocity, guard events). The parent test asserts the list
is empty. Bytes, not values: signed zeros count; NaNs are compared by position only (see
:func:`_bytes`).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from refnet import lab
from refnet.data import xor_easy
from refnet.guard import Guard
from refnet.network import mlp
from refnet.optim import SGD
from refnet.train import train

from tests.lab_transcription import CASES

Outcome = dict[str, Any]


def _bytes(a: Any) -> str:
    """The array's bytes, every NaN written as one canonical NaN: LLVM treats NaN sign and payload
    as unspecified (it may swap the operands of an add whose both inputs are NaN), so only where
    NaNs are is compared, not which NaN; every other value is compared bit for bit."""
    arr = np.array(np.asarray(a), copy=True, order="C")
    if arr.dtype.kind == "f":
        arr[np.isnan(arr)] = np.nan
    return f"{arr.dtype}{arr.shape}{arr.tobytes().hex()}"


def _lab_outcome(results: list[lab.Result]) -> Outcome:
    return {f"{i}.{k}": _bytes(v) for i, r in enumerate(results)
            for k, v in [("logged", r.logged), ("pred", r.predictions), ("acc", r.accuracy),
                         ("events", json.dumps([e.to_dict() for e in r.events])), *r.params.items()]}


# tests/test_lab.py's runs and one that saturates and blows up (page 16)
LAB_CASES = [*CASES, ("xor", "relu", "bce", (4, 4), 0.05, 5000, 21, 200, 0, True)]


def lab_cases(dtypes: tuple[str, ...] = ("float64", "float32")) -> Iterator[tuple[str, Callable[[str], Outcome]]]:
    for dtype in dtypes:
        for case in LAB_CASES:
            data, act, loss, hidden, lr, epochs, batch, every, seed, out = case
            cfg = lab.Config(data=data, activation=act, loss=loss, hidden=hidden, lr=lr, epochs=epochs,
                             batch_size=batch, log_every=every, output_sigmoid=out, dtype=dtype)
            name = f"lab-{dtype}-{data}-{act}-{loss}-B{batch}-seed{seed}-lr{lr}"
            yield name, lambda kern, cfg=cfg, seed=seed: _lab_outcome([lab.run(cfg.but(kernel=kern), seed)])
            # an ensemble: members sharing a seed share its draws, rates differ
            yield name + "-ensemble", lambda kern, cfg=cfg, seed=seed, lr=lr: _lab_outcome(lab.run_many(
                cfg.but(kernel=kern), [seed, seed, seed + 1], [lr, lr * 1.5, lr]))
    big = lab.Config(activation="relu", loss="bce", lr=0.01, epochs=300, batch_size=21, log_every=20)
    for dtype in dtypes:
        yield f"lab-ensemble-12-{dtype}", lambda kern, dtype=dtype: _lab_outcome(lab.run_many(
            big.but(kernel=kern, dtype=dtype), [0, 1, 2, 3] * 3, [0.01] * 4 + [0.0015] * 4 + [0.05] * 4))
        # one seed, ten rates: blocks of members sharing their batches
        scan = big.but(dtype=dtype, batch_size=5, log_every=7)
        yield f"lab-scan-10-{dtype}", lambda kern, scan=scan: _lab_outcome(lab.run_many(
            scan.but(kernel=kern), [3] * 10, [0.002 * (i + 1) for i in range(10)]))
    if "float64" not in dtypes:
        return
    div = lab.Config(data="xor", activation="none", output_sigmoid=False, hidden=(6, 4), lr=0.3, epochs=200,
                     batch_size=5, log_every=1)
    for mode in ("record", "warn-off"):
        guard = "record" if mode == "record" else "off"
        yield f"lab-guard-{mode}-diverging", lambda kern, g=guard: _lab_outcome([lab.run(div.but(kernel=kern), 0,
                                                                                         guard=g)])
    yield "lab-guard-record-clean", lambda kern: _lab_outcome([lab.run(
        lab.Config(epochs=50, lr=0.5, kernel=kern), 0, guard="record")])
    # what the compiled loop does not run itself: a trace between its pieces, and (through the NumPy
    # path) an observer and an early stop
    for every in (1, 7):
        yield f"lab-trace-every-{every}", lambda kern, every=every: _traced(
            lab.Config(epochs=30, batch_size=5, log_every=3, lr=0.3, kernel=kern), every)
    yield "lab-trace-blocks", lambda kern: _traced(lab.Config(activation="relu", loss="bce", lr=0.01, epochs=25,
                                                              batch_size=21, log_every=5, kernel=kern), 4, 9)
    yield "lab-stop-non-finite", lambda kern: _lab_outcome([lab.run(div.but(kernel=kern), 0, guard="record",
                                                                    stop="non-finite")])
    yield "lab-observer", lambda kern: _observed(div.but(kernel=kern, epochs=30))


def _traced(cfg: lab.Config, every: int, members: int = 3) -> Outcome:
    """``run_many`` with a trace: the results and the parameters each trace call saw."""
    seen: list[tuple[int, dict[str, Any]]] = []
    seeds = [0, 0, 1][:members] if members <= 3 else [2] * members
    results = lab.run_many(cfg, seeds, [cfg.lr * (1 + i / 10) for i in range(len(seeds))],
                           trace=lambda e, net: seen.append((e, net.get_params())), trace_every=every)
    out = _lab_outcome(results)
    out.update({f"trace.{i}.{e}.{k}": _bytes(v) for i, (e, params) in enumerate(seen) for k, v in params.items()})
    return out


class _Recorder:
    """An observer keeping every step it is told of and the bytes of every array it sees."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def at(self, epoch: int, step: int, batch: slice) -> None:
        self.seen.append(f"at {epoch} {step} {batch}")

    def observe(self, site: Any, array: Any, inputs: Any) -> None:
        self.seen.append(f"{site} {_bytes(array)}")


def _observed(cfg: lab.Config) -> Outcome:
    rec = _Recorder()
    out = _lab_outcome([lab.run(cfg, 0, guard="record", observer=rec)])
    out["observed"] = "\n".join(rec.seen)
    return out


def _train_outcome(kern: str, *, hidden: tuple[int, ...] = (4, 4), activation: str = "sigmoid",
                   output_activation: str = "sigmoid", loss: str = "mse", convention: str = "default",
                   dtype: str = "float64", lr: float | list[float] = 0.5, epochs: int = 40,
                   batch_size: int | None = None, momentum: float = 0.0, seeds: tuple[int, ...] = (0,),
                   sigmoid: str = "stable", relu: str = "max", guard: str = "off", twice: bool = False,
                   bias: list[bool] | None = None, x: Any = None, y: Any = None) -> Outcome:
    net = mlp(2, hidden, 1, activation=activation, output_activation=output_activation,  # type: ignore[arg-type]
              loss=loss, dtype=dtype, seed=list(seeds), kernel=kern, sigmoid=sigmoid,  # type: ignore[arg-type]
              relu=relu, bias=bias)  # type: ignore[arg-type]
    if x is None:
        x, y = xor_easy()
    opt = SGD(lr, momentum)
    out: Outcome = {}
    for call in range(2 if twice else 1):
        g = Guard(net, "record") if guard == "record" else guard
        try:
            h = train(net, x, y, optimizer=opt, epochs=epochs, batch_size=batch_size,
                      convention=convention, guard=g)  # type: ignore[arg-type]
            out[f"{call}.loss"] = _bytes(h.loss)
            out[f"{call}.acc"] = _bytes(h.accuracy)
        except Exception as exc:  # raise mode: the same error, the same message
            out[f"{call}.error"] = f"{type(exc).__name__}: {exc}"
        if isinstance(g, Guard):
            out[f"{call}.events"] = g.to_json()
        for k, v in net.get_params().items():
            out[f"{call}.{k}"] = _bytes(v)
        for i, layer in enumerate(net.layers):
            for p in layer.params:
                vel = opt.velocity((i, p))
                out[f"{call}.v.{i}.{p}"] = None if vel is None else _bytes(vel)
    return out


def train_cases(dtypes: tuple[str, ...] = ("float64", "float32")) -> Iterator[tuple[str, Callable[[str], Outcome]]]:
    combos: list[dict[str, Any]] = []
    for dtype in dtypes:
        for act, formula in (("sigmoid", "stable"), ("sigmoid", "naive"), ("relu", "max"), ("relu", "mask"),
                             ("tanh", "stable"), ("identity", "stable")):
            for loss in ("mse", "bce", "bce-logits"):
                kw: dict[str, Any] = {"activation": act, "loss": loss, "dtype": dtype,
                                      "lr": 0.5 if loss == "mse" else 0.1}
                if act == "sigmoid":
                    kw["sigmoid"] = formula
                if act == "relu":
                    kw["relu"] = formula
                combos.append(kw)
        for conv in ("lab", "lab-page14", "lab-evidence", "lab-sum",
                     "lab[gradient=sum,mse=(y-t),log=2,sigmoid=naive,batch=4]",
                     "lab[gradient=mean,mse=(y-t),log=2,sigmoid=stable,batch=full]"):
            for loss in ("mse", "bce"):
                sig = "naive" if conv.startswith("lab") and ("naive" in conv or conv in ("lab", "lab-page14",
                                                                                         "lab-evidence")) else "stable"
                relu = "mask" if conv in ("lab", "lab-page14") else "max"
                for act in ("sigmoid", "relu"):
                    combos.append({"convention": conv, "loss": loss, "dtype": dtype, "sigmoid": sig, "relu": relu,
                                   "activation": act, "lr": 0.05})
        combos += [
            {"dtype": dtype, "batch_size": 5, "momentum": 0.9, "lr": 0.3, "seeds": (0, 1, 2)},
            {"dtype": dtype, "batch_size": 5, "momentum": 0.5, "lr": [0.3, 0.1, 0.2], "seeds": (3, 4, 5),
             "twice": True, "convention": "lab-sum", "activation": "relu"},
            {"dtype": dtype, "seeds": tuple(range(10)), "lr": [0.1 * (i + 1) for i in range(10)],
             "loss": "bce", "batch_size": 8, "momentum": 0.3, "twice": True},
            {"dtype": dtype, "hidden": (3, 5, 2), "activation": "tanh", "bias": [True, False, True, False]},
            {"dtype": dtype, "activation": "identity", "output_activation": "identity", "hidden": (6, 4),
             "lr": 0.9, "epochs": 200},  # diverges to inf, then NaN
            {"dtype": dtype, "activation": "identity", "output_activation": "identity", "hidden": (6, 4),
             "lr": 0.9, "epochs": 200, "guard": "record", "seeds": (0, 1)},
            {"dtype": dtype, "activation": "identity", "output_activation": "identity", "hidden": (6, 4),
             "lr": 0.9, "epochs": 200, "guard": "raise"},
            {"dtype": dtype, "activation": "identity", "output_activation": "identity", "hidden": (6, 4),
             "lr": [0.05 * (i + 1) for i in range(9)], "epochs": 200, "guard": "record", "seeds": tuple(range(9))},
            {"dtype": dtype, "seeds": tuple(range(20)), "lr": 0.7, "batch_size": 5, "momentum": 0.9,
             "activation": "relu", "relu": "mask", "convention": "lab", "sigmoid": "naive", "loss": "bce"},
            {"dtype": dtype, "seeds": tuple(range(150)), "lr": 0.2, "loss": "bce-logits", "activation": "tanh",
             "epochs": 20},
            {"dtype": dtype, "guard": "record", "epochs": 30},
            {"dtype": dtype, "guard": "warn", "epochs": 30, "sigmoid": "naive", "convention": "lab-evidence",
             "lr": 40.0},
        ]
    for i, kw in enumerate(combos):
        label = ",".join(f"{k}={v}" for k, v in kw.items())
        yield f"train-{i}-{label}", lambda kern, kw=kw: _train_outcome(kern, **kw)


def hypothesis_cases(dtypes: tuple[str, ...] = ("float64", "float32"), examples: int = 40) -> list[str]:
    """Random small networks of ``dtypes`` (hypothesis, derandomized); the names of those that differ."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    failures: list[str] = []

    @settings(max_examples=examples, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(hidden=st.lists(st.integers(1, 5), min_size=1, max_size=3), activation=st.sampled_from(
               ["sigmoid", "relu", "tanh", "identity"]), loss=st.sampled_from(["mse", "bce", "bce-logits"]),
           convention=st.sampled_from(["default", "lab-evidence", "lab-sum",
                                       "lab[gradient=sum,mse=(y-t),log=2,sigmoid=naive,batch=3]"]),
           dtype=st.sampled_from(dtypes), lr=st.floats(1e-3, 3.0),
           epochs=st.integers(0, 30), batch=st.one_of(st.none(), st.integers(1, 30)),
           momentum=st.sampled_from([0.0, 0.0, 0.5, 0.9]), seeds=st.lists(st.integers(0, 99), min_size=1,
                                                                             max_size=10))
    def check(hidden: list[int], activation: str, loss: str, convention: str, dtype: str, lr: float,
              epochs: int, batch: int | None, momentum: float, seeds: list[int]) -> None:
        naive = "naive" in convention or convention == "lab-evidence"
        kw: dict[str, Any] = {"hidden": tuple(hidden), "activation": activation, "loss": loss,
                              "convention": convention, "dtype": dtype, "lr": lr, "epochs": epochs,
                              "batch_size": batch, "momentum": momentum, "seeds": tuple(seeds),
                              "sigmoid": "naive" if naive else "stable"}
        if _train_outcome("portable", **kw) != _train_outcome("compiled", **kw):
            failures.append(repr(kw))

    check()
    return failures


GROUPS = {"lab": lab_cases, "train": train_cases}

LABEL_FIGURES = ("linear", "linear-snippet", "xor", "no-activation", "output-sigmoid-only", "sigmoid-mse",
                 "relu-mse", "bce-page14")
"""The figures whose seed distributions the experiments study runs on the compiled kernel (every
unseeded figure not run at lr 10: converging, going non-finite, MSE and BCE, 1 and 4 updates per
epoch), whose seeds' outcome labels :func:`label_cases` compares."""


def label_cases(seeds: int = 4) -> list[dict[str, Any]]:
    """The experiments study's outcome label of each seed (learned, stuck, above chance, non-finite) at
    its quick size, on ``blas`` and on ``compiled``: the figures whose labels differ (the study runs its
    seed distributions on the compiled kernel; its bits are portable's, not BLAS's)."""
    from verify.experiments.plan import SIZES
    from verify.experiments.study import Curves

    differ = []
    for name in LABEL_FIGURES:
        cfg = SIZES["quick"].cap(name, lab.EXPERIMENTS[name])
        labels = {}
        for kern in ("blas", "compiled"):
            res = lab.run_many(cfg.but(kernel=kern), list(range(seeds)))
            curves = Curves(cfg, tuple(range(seeds)), res[0].logged[:, 0], np.stack([r.logged[:, 1] for r in res]),
                            np.array([r.accuracy for r in res]))
            labels[kern] = curves.outcomes()
        if labels["blas"] != labels["compiled"]:
            differ.append({"figure": name, **labels})
    return differ


def _differing(cases: Iterator[tuple[str, Callable[[str], Outcome]]]) -> list[dict[str, Any]]:
    import warnings

    failures = []
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, run in cases:
            a, b = run("portable"), run("compiled")
            if a != b:
                failures.append({"case": name, "differ": sorted(k for k in a if a.get(k) != b.get(k))[:6]})
    return failures


def main(argv: list[str]) -> int:
    """``GROUP`` (``lab``, ``train``, ``hypothesis``): one JSON list of the differing cases; ``--dtype D``
    (``float64``, ``float32``): every group for that dtype only, one JSON object ``group -> list``
    (the tests run the two dtypes in two processes at once: each compiles its own loops), with
    ``float64`` also ``labels`` (:func:`label_cases`)."""
    if argv[0] == "--dtype":
        dtypes = (argv[1],)
        out: dict[str, Any] = {"lab": _differing(lab_cases(dtypes)), "train": _differing(train_cases(dtypes)),
                               "hypothesis": hypothesis_cases(dtypes, examples=20)}
        if dtypes == ("float64",):
            with np.errstate(all="ignore"):
                out["labels"] = label_cases()
        print(json.dumps(out))
        return 0
    group = argv[0]
    if group == "hypothesis":
        print(json.dumps(hypothesis_cases()))
        return 0
    print(json.dumps(_differing(GROUPS[group]())))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
