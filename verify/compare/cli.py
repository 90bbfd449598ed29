"""The command line of ``python -m verify.compare``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, get_args

import numpy as np
import numpy.typing as npt

from refnet.data import linear, xor_easy

from . import onestep, run, selfcheck
from .adapter import AdapterError, load, recognise
from .report import CheckResult, Report, as_json, render

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
    """Run the three checks on ``path.py:ClassName``; raises AdapterError when it does not fit."""
    student = recognise(load(spec), spec)
    x, t = _data(data)
    if student.layers[0].width_in != x.shape[1] or student.layers[-1].width_out != t.shape[1]:
        raise AdapterError(f"the network maps {student.layers[0].width_in} -> {student.layers[-1].width_out} "
                           f"features; the {data} data needs {x.shape[1]} -> {t.shape[1]}")
    first, reading = selfcheck.run(student, intent=gradient, seed=seed)
    step = onestep.run(student, x, t, lr, gradient_intent=gradient, update_intent=update)
    checks: list[CheckResult] = [first, step.result]
    checks.append(run.run(student, x, t, lr, epochs, step.gradient, step.update, step.change_bounds,
                          step.loss_bound))
    count = int(t.size)
    g_name = {"mean": "mean (d mean loss / dy)", "summed": f"summed (N = {count} x the mean's)"}
    u_name = {"inside": "inside backward, before the gradient is sent down (the lab's order)",
              "after": "after the gradient is sent down"}
    convention = {"loss gradient": g_name[step.gradient] + (" [detected]" if gradient == "detect" else " [asked]"),
                  "update": u_name[step.update] + (" [detected]" if update == "detect" else " [asked]")}
    conv, lr_ref = run.refnet_setting(step.gradient, step.update, lr, count, student.sigmoid)
    notes: list[str] = []
    if gradient == "detect" and reading == "summed" and student.loss.reduction == "mean":
        notes.append("loss_func.forward returns the mean but backward the gradient of the sum "
                     f"(N = {count} x): the lab's convention. If you meant the mean's gradient, the division "
                     "by N is missing; pass --gradient mean to make that a failure.")
    if update == "detect" and step.update == "inside":
        notes.append("the Linear layers update w before sending the gradient down (the lab's order). "
                     "If you meant the textbook order, pass --update after to make that a failure.")
    settings: dict[str, object] = {"data": data, "N": int(x.shape[0]), "lr": lr, "epochs": epochs,
                                   "refnet": f"convention={run.convention_name(conv)!r}, lr {lr_ref:.6g}"}
    return Report(spec, tuple(student.describe()), settings, convention, tuple(checks), tuple(notes))


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
                   help="the loss gradient you meant: mean, summed (the lab's), or detect from the numbers "
                        "(default detect: both are accepted and named)")
    p.add_argument("--update", choices=get_args(onestep.UpdateIntent), default="detect",
                   help="when you meant w to change: inside backward before the gradient is sent down "
                        "(the lab's order), after, or detect (default: either is accepted and named)")
    p.add_argument("--json", metavar="PATH", type=Path, help="also write the report as JSON to PATH")
    p.add_argument("--quiet", action="store_true", help="print only the verdicts and the first failure")
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
