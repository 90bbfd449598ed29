"""The command line of ``python -m verify.compare``."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from typing import Literal, get_args

import numpy as np
import numpy.typing as npt

from refnet.data import linear, xor_easy
from refnet.validation import output_file_argument

from . import onestep, run, selfcheck
from .adapter import AdapterError, load, recognise
from .report import CheckResult, Report, as_json, render
from .setting import Setting

__all__ = ["main", "check", "DataName", "EXIT_PASS", "EXIT_FAIL", "EXIT_USAGE"]

DataName = Literal["xor", "linear"]
EXIT_PASS, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
Arr = npt.NDArray[np.float64]

_DESCRIPTION = """\
Check a hand-written backprop implementation in the lab's structure against refnet,
layer by layer: (1) every layer's backward against finite differences of its own
forward, (2) one step against refnet in ulps, (3) a run of N epochs against refnet.
Exit 0 when all three pass, 1 when one fails, 2 on bad arguments or an object that
does not fit the lab's structure.

WARNING: importing the student's file runs their code (module level and the class's
__init__). Only check files you would run yourself."""


def _data(name: DataName) -> tuple[Arr, Arr]:
    return xor_easy() if name == "xor" else linear(100, 0)


def check(spec: str, *, data: DataName = "xor", epochs: int = 1000, lr: float = 0.1,
          gradient: selfcheck.GradientIntent = "detect", update: onestep.UpdateIntent = "detect",
          seed: int = 0) -> Report:
    """Run the three checks on ``path.py:ClassName``; raises AdapterError when it does not fit.

    ``gradient``: ``detect``, ``mean`` or ``sum`` (``summed``, the older spelling, too).
    """
    student = recognise(load(spec), spec)
    x, t = _data(data)
    if student.layers[0].width_in != x.shape[1] or student.layers[-1].width_out != t.shape[1]:
        raise AdapterError(f"the network maps {student.layers[0].width_in} -> {student.layers[-1].width_out} "
                           f"features; the {data} data needs {x.shape[1]} -> {t.shape[1]}")
    first, reading = selfcheck.run(student, intent=gradient, seed=seed)
    step = onestep.run(student, x, t, lr, gradient_intent=gradient, update_intent=update)
    setting = step.setting
    checks: list[CheckResult] = [first, step.result]
    checks.append(run.run(student, x, t, lr, epochs, setting, step.change_bounds, step.loss_bound))
    count = int(t.size)
    loss = student.loss
    bits = loss.kind == "bce" and loss.base == "2"
    nats = " in nats" if bits else ""
    g_name = {"mean": f"mean (d mean loss / dy){nats}", "summed": f"summed (N = {count} x the mean's){nats}",
              "page14": "the lab's page-14 form (y - t) / (y (1 - y) N): the mean's in nats, without the delta"}
    u_name = {"inside": "inside backward, before the gradient is sent down (the lab's order)",
              "after": "after the gradient is sent down"}
    unit = " in bits (log2)" if bits else " in nats" if loss.kind == "bce" else ""
    convention = {"loss reported": f"the batch {loss.reduction}{unit}",
                  "loss gradient": g_name[step.gradient] + (" [detected]" if gradient == "detect" else " [asked]"),
                  "update": u_name[step.update] + (" [detected]" if update == "detect" else " [asked]"),
                  "refnet": _refnet_text(setting)}
    notes: list[str] = []
    if setting.published:
        page14 = step.gradient == "page14"
        what = _PUBLISHED_TEXT["page14" if page14 else loss.kind]
        notes.append(f"these are the conventions of the lab's {'page-14' if page14 else 'published'} code ({what}, "
                     f"update inside backward, naive sigmoid): refnet runs under convention={setting.name!r} "
                     f"(refnet.conventions.Published{'(bce=' + repr('page14') + ')' if page14 else ''}), the lab's "
                     "arithmetic operation for operation.")
    if gradient == "detect" and reading == "summed" and loss.reduction == "mean":
        notes.append(f"loss_func.forward returns the mean{' in bits' if bits else ''} but backward the gradient "
                     f"of the sum{nats} (N = {count} x the mean's"
                     + (f"; {count} ln 2 = {count * math.log(2.0):.4g} x the reported loss's" if bits else "")
                     + "): the lab's convention. If you meant the mean's gradient, the division by N is missing; "
                     "pass --gradient mean to make that a failure.")
    if update == "detect" and step.update == "inside":
        notes.append("the Linear layers update w before sending the gradient down (the lab's order). "
                     "If you meant the textbook order, pass --update after to make that a failure.")
    settings: dict[str, object] = {"data": data, "N": int(x.shape[0]), "lr": lr, "epochs": epochs,
                                   "refnet": setting.describe()}
    return Report(spec, tuple(student.describe()), settings, convention, tuple(checks), tuple(notes),
                  _hazards(first, step.hazards))


_PUBLISHED_TEXT = {"mse": "MSE reported as the mean, with the mean's gradient",
                   "bce": "BCE reported as the mean in bits, with the gradient of the sum in nats",
                   "page14": "BCE reported as the mean in bits, with the gradient (y - t) / (y (1 - y) N) of commit "
                             "80a9728: the mean's in nats, without the delta"}


def _refnet_text(setting: Setting) -> str:
    if setting.published:
        return f"{setting.describe()}: the lab's published arithmetic (refnet.conventions.Published)"
    return setting.describe()


def _hazards(first: CheckResult, seen: tuple[str, ...]) -> tuple[str, ...]:
    """In-place writes seen in the student's own step (check 2), else in check 1's probes; one per site."""
    found: dict[str, str] = {}
    probes = first.data.get("hazards", [])
    for text in [*seen, *(probes if isinstance(probes, list) else [])]:
        found.setdefault(str(text).split(" writes into ")[0], str(text))
    return tuple(found.values())


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}") from None
    if not np.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m verify.compare", description=_DESCRIPTION,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("student", metavar="path/to/student.py:ClassName",
                   help="the student's file and network class (built with no arguments); importing it runs it")
    p.add_argument("--data", choices=get_args(DataName), default="xor",
                   help="training data: the 21-point XOR set or 100 linear points, seed 0 (default xor)")
    p.add_argument("--epochs", type=_positive_int, default=1000, help="epochs of check 3 (default 1000)")
    p.add_argument("--lr", type=_positive_float, default=0.1, help="learning rate passed to backward (default 0.1)")
    p.add_argument("--gradient", choices=get_args(selfcheck.GradientIntent), default="detect",
                   help="the loss gradient you meant: mean (divided by the batch size N), sum (not divided: "
                        "the lab's BCE; 'summed' is the same), or detect from the numbers "
                        "(default detect: both are accepted and named)")
    p.add_argument("--update", choices=get_args(onestep.UpdateIntent), default="detect",
                   help="when you meant w to change: inside backward before the gradient is sent down "
                        "(the lab's order), after, or detect (default: either is accepted and named)")
    p.add_argument("--json", metavar="PATH", type=output_file_argument, help="also write the report as JSON to PATH")
    p.add_argument("--quiet", action="store_true", help="print only the hazards, the verdicts and the first failure")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        report = check(args.student, data=args.data, epochs=args.epochs, lr=args.lr,
                       gradient=args.gradient, update=args.update)
    except AdapterError as exc:
        parser.print_usage(sys.stderr)
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    sys.stdout.write(render(report, quiet=args.quiet))
    if args.json is not None:
        try:
            args.json.write_text(json.dumps(as_json(report), indent=2, default=str) + "\n")
        except OSError as exc:
            print(f"{parser.prog}: error: --json {args.json}: {exc}", file=sys.stderr)
            return EXIT_USAGE
    return EXIT_PASS if report.passed else EXIT_FAIL
