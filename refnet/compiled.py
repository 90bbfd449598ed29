"""The compiled twin of the ``portable`` kernel: whole training runs in one compiled loop.

``kernel="compiled"`` (``mlp(..., kernel="compiled")``, ``lab.Config(kernel="compiled")``)
builds a network whose per-call arithmetic is the :class:`refnet.kernels.PortableKernel`'s
(forward passes, predictions and any step taken through NumPy are the portable
kernel's own). :func:`refnet.train.train` and :mod:`refnet.lab` hand the *whole
run* of such a network to this module: every epoch and batch, the forward pass,
the loss of its convention, the backward pass, the update and the logged loss,
compiled with numba (an optional dependency: ``pip install refnet[fast]``).

Notes
-----
Bit for bit: each formula is written here as the NumPy reference computes it, one
rounded operation after the other, operands in the same order (IEEE-754 multiply
and add are commutative, but which NaN a two-NaN operation returns is not):

* products ``sum_j a_j b_j`` left to right from ``a_0 b_0``, as the portable kernel;
* reductions NumPy does pairwise (the loss terms' sum, the lab's epoch mean)
  with NumPy's pairwise order (8 accumulators, blocks of 128, halves on
  multiples of 8), added to ``+0`` as its reduction does;
* ``exp``, ``log``, ``log2``, ``log1p``, ``tanh`` are the C library's, which NumPy
  also calls once its CPU dispatch is disabled (the pinned environment of
  :mod:`refnet.reproducible`); with dispatch on, NumPy's SIMD versions may differ
  in the last bit, so the twin equals ``portable`` in the pinned environment;
* no fast-math (no reassociation, no fused multiply-add: numba leaves LLVM's
  ``contract`` flag off), ``cache=True``.

Every finite and infinite value, signed zeros included, is the reference's bit for bit.
A NaN is a NaN in the same place, but its sign and payload may differ: LLVM treats
them as unspecified (it may swap the operands of an addition whose inputs are both NaN,
and x86 returns the first one), so ``tests/test_compiled.py`` compares NaNs by position.

Members of an ensemble run in parallel over the cores (numba ``prange``); each
member's arithmetic is its own, so the bits do not depend on the thread count.
Members that share their batches (every ``train`` ensemble; a ``lab.run_many`` scan
of one seed) run in blocks of :data:`BLOCK`, the member axis innermost: the same
operations per member, in independent lanes the compiler may vectorise.

The loops are plain Python functions below; :func:`engine` compiles them
(``numba.njit(cache=True)``) and rebinds their module names to the compiled
functions, so that they call each other compiled. None of them recurses (numba's
cache cannot hold a recursive function: loading one crashed the process).

Guard modes: the compiled loop flags a member as soon as a value the guard
would look at is non-finite, reaches the guard's lowest early-warning level or
the naive sigmoid's ``exp`` overflows; the run is then replayed through the
NumPy path with the guard observing, so its events are exactly the reference's.

numba's decorators are applied here only, lazily (:func:`engine`): without numba
this module imports, and asking for the compiled kernel raises
:class:`CompiledUnavailableError` naming the extra.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from .conventions import Arithmetic, Published
from .guard import Guard
from .layers import Identity, Linear, ReLU, Sigmoid, Tanh
from .losses import BCE, MSE, BCEWithLogits
from .network import Network
from .optim import SGD
from .precision import FloatArray

__all__ = ["CompiledUnavailableError", "EXTRA", "available", "require", "supports", "train_run", "Batches",
           "lab_scalars", "Session", "guard_limit", "engine"]

EXTRA: Final = "pip install refnet[fast]"
"""How to install the compiled kernel's dependency (numba)."""

I64 = npt.NDArray[np.int64]


class CompiledUnavailableError(ImportError, ValueError):
    """``kernel="compiled"`` without numba: an ``ImportError`` (a dependency is missing)
    and a ``ValueError`` naming ``kernel`` (the argument that asked for it)."""


# -- codes shared by the facade and the compiled loop --------------------------------------
LINEAR, SIGMOID, SIGMOID_NAIVE, RELU_MAX, RELU_MASK, TANH, IDENTITY = range(7)
MSE_LOSS, BCE_LOSS, BCE_LOGITS = range(3)
CONV_DEFAULT, CONV_READING, CONV_PUBLISHED, CONV_PAGE14 = range(4)
# integer settings (ic)
IC_LOSS, IC_CONV, IC_MEAN, IC_HALVE, IC_LOG2, IC_MOMENTUM, IC_LOG_EVERY, IC_WATCH = range(8)
# float settings (fc), in the network's dtype
FC_ONE, FC_ZERO, FC_DELTA, FC_LOG2, FC_MU, FC_TWO, FC_LIMIT, FC_HALF, FC_ITERS = range(9)
# per-batch scalars (sc), in the network's dtype: 2/B, -1/B, B, B*out, the batch's weight in the epoch
SC_TWO_B, SC_MINUS_B, SC_ROWS, SC_COUNT, SC_WEIGHT = range(5)


# =====================================================================================
# The compiled loop. Plain Python functions: engine() compiles them (numba.njit) and
# rebinds these module names to the compiled functions, so they call each other compiled.
# Each line is one NumPy operation of the reference, in the reference's operand order.
# =====================================================================================

def _block(a: Any, lo: Any, n: Any) -> Any:
    """NumPy's pairwise sum of ``a[lo:lo + n]`` for ``1 <= n <= 128``: 8 accumulators."""
    if n < 8:
        res = a[lo]
        for i in range(1, n):
            res = res + a[lo + i]
        return res
    r0 = a[lo]
    r1 = a[lo + 1]
    r2 = a[lo + 2]
    r3 = a[lo + 3]
    r4 = a[lo + 4]
    r5 = a[lo + 5]
    r6 = a[lo + 6]
    r7 = a[lo + 7]
    i = 8
    stop = n - n % 8
    while i < stop:
        r0 = r0 + a[lo + i]
        r1 = r1 + a[lo + i + 1]
        r2 = r2 + a[lo + i + 2]
        r3 = r3 + a[lo + i + 3]
        r4 = r4 + a[lo + i + 4]
        r5 = r5 + a[lo + i + 5]
        r6 = r6 + a[lo + i + 6]
        r7 = r7 + a[lo + i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res = res + a[lo + i]
        i += 1
    return res


def _pairwise(a: Any, lo: Any, n: Any) -> Any:
    """NumPy's pairwise sum of ``a[lo:lo + n]`` (``n >= 1``): blocks of at most 128, halves cut
    on multiples of 8, ``left + right``. Written without recursion (numba cannot cache it)."""
    if n <= 128:
        return _block(a, lo, n)
    los = np.empty(64, dtype=np.int64)
    ns = np.empty(64, dtype=np.int64)
    state = np.zeros(64, dtype=np.int64)  # 0: new, 1: left half running, 2: right half running
    left = np.empty(64, dtype=a.dtype)
    top = 0
    los[0] = lo
    ns[0] = n
    result = a[lo]
    while top >= 0:
        if ns[top] > 128 and state[top] == 0:
            half = ns[top] // 2
            half -= half % 8
            state[top] = 1
            los[top + 1] = los[top]
            ns[top + 1] = half
            state[top + 1] = 0
            top += 1
            continue
        result = _block(a, los[top], ns[top])
        top -= 1
        while top >= 0:  # hand the result up
            if state[top] == 1:
                left[top] = result
                state[top] = 2
                half = ns[top] // 2
                half -= half % 8
                los[top + 1] = los[top] + half
                ns[top + 1] = ns[top] - half
                state[top + 1] = 0
                top += 1
                break
            result = left[top] + result
            top -= 1
    return result


def _reduce(a: Any, lo: Any, n: Any, zero: Any) -> Any:
    """``np.add.reduce`` of a contiguous run: ``+0`` plus its pairwise sum."""
    return zero + _pairwise(a, lo, n)


def _bad(v: Any, limit: Any) -> Any:
    """Whether the guard could report ``v``: non-finite or at least its lowest early-warning level."""
    return not (abs(v) < limit)


def _stable_sigmoid(x: Any, one: Any, zero: Any) -> Any:
    z = math.exp(-abs(x))
    s = z / (one + z)
    return one - s if x >= zero else s


def _forward(p: Any, layers: Any, acts: Any, aoff: Any, rows: Any, fc: Any, watch: Any) -> Any:
    """Every layer's output into ``acts`` (layer ``i`` reads block ``i``, writes block ``i + 1``);
    returns whether the guard could report something.

    Activations and their gradients are stored a feature at a time (``(features, rows)``), so the
    loops over rows are long and independent (the compiler may run them in SIMD lanes); each
    element's own sum still runs over ``j`` in the portable kernel's order."""
    one = fc[FC_ONE]
    zero = fc[FC_ZERO]
    limit = fc[FC_LIMIT]
    bad = False
    for i in range(layers.shape[0]):
        kind = layers[i, 0]
        nin = layers[i, 1]
        nout = layers[i, 2]
        src = aoff[i]
        dst = aoff[i + 1]
        if kind == LINEAR:
            w = layers[i, 3]
            b = layers[i, 4]
            for o in range(nout):  # each output column: x_0 w_0o, then + x_j w_jo, then + b_o
                out = dst + o * rows
                w0 = p[w + o]
                for n in range(rows):
                    acts[out + n] = acts[src + n] * w0
                for j in range(1, nin):
                    wj = p[w + j * nout + o]
                    col = src + j * rows
                    for n in range(rows):
                        acts[out + n] = acts[out + n] + acts[col + n] * wj
                if b >= 0:
                    bo = p[b + o]
                    for n in range(rows):
                        acts[out + n] = acts[out + n] + bo
        elif kind == SIGMOID:
            for q in range(rows * nout):
                acts[dst + q] = _stable_sigmoid(acts[src + q], one, zero)
        elif kind == SIGMOID_NAIVE:
            for q in range(rows * nout):
                e = math.exp(-acts[src + q])
                if watch and e == np.inf:  # the overflow flag the guard would see
                    bad = True
                acts[dst + q] = one / (one + e)
        elif kind == RELU_MAX:
            for q in range(rows * nout):
                x = acts[src + q]
                acts[dst + q] = x if (x > zero or x != x) else zero
        elif kind == RELU_MASK:
            for q in range(rows * nout):
                x = acts[src + q]
                acts[dst + q] = zero if x <= zero else x
        elif kind == TANH:
            for q in range(rows * nout):
                acts[dst + q] = math.tanh(acts[src + q])
        else:
            for q in range(rows * nout):
                acts[dst + q] = acts[src + q]
        if watch:
            for q in range(rows * nout):
                if _bad(acts[dst + q], limit):
                    bad = True
    return bad


def _loss(acts: Any, yo: Any, tb: Any, rows: Any, nout: Any, terms: Any, dy: Any, ic: Any, fc: Any, sc: Any) -> Any:
    """The convention's reported loss of the batch; its terms into ``terms``, ``dL/dy`` into ``dy``."""
    one = fc[FC_ONE]
    zero = fc[FC_ZERO]
    delta = fc[FC_DELTA]
    m = rows * nout
    loss_kind = ic[IC_LOSS]
    conv = ic[IC_CONV]
    if conv >= CONV_PUBLISHED:
        if loss_kind == MSE_LOSS:
            c2 = sc[SC_TWO_B]
            for n in range(rows):
                for o in range(nout):
                    q = o * rows + n
                    diff = acts[yo + q] - tb[q]
                    terms[n * nout + o] = diff * diff
                    dy[q] = c2 * diff
            return _reduce(terms, 0, m, zero) / sc[SC_COUNT]
        for n in range(rows):
            for o in range(nout):
                q = o * rows + n
                y = acts[yo + q]
                t = tb[q]
                a = y + delta
                b = (one - y) + delta
                c = one - t
                terms[n * nout + o] = t * math.log2(a) + c * math.log2(b)
                if conv == CONV_PUBLISHED:
                    dy[q] = -(t / a - c / b)
                else:
                    dy[q] = (y - t) / ((y * (one - y)) * sc[SC_ROWS])
        total = _reduce(terms, 0, m, zero)
        if conv == CONV_PUBLISHED:
            return sc[SC_MINUS_B] * total
        return -total / sc[SC_ROWS]
    # default and readings: the loss's terms and term gradient, then the reduction
    for r in range(m):  # r: the row-major position of the term, q: feature-major
        q = (r % nout) * rows + r // nout
        y = acts[yo + q]
        t = tb[q]
        if loss_kind == MSE_LOSS:
            diff = y - t
            terms[r] = diff * diff
            g = fc[FC_TWO] * (y - t)
        elif loss_kind == BCE_LOSS:
            terms[r] = -(t * math.log(y + delta) + (one - t) * math.log((one - y) + delta))
            g = -(t / (y + delta) - (one - t) / ((one - y) + delta))
        else:
            mx = y if (y > zero or y != y) else zero
            terms[r] = (mx - y * t) + math.log1p(math.exp(-abs(y)))
            if t == one:
                g = -_stable_sigmoid(-y, one, zero)
            elif t == zero:
                g = _stable_sigmoid(y, one, zero)
            else:
                g = _stable_sigmoid(y, one, zero) - t
        if ic[IC_HALVE]:
            g = g * fc[FC_HALF]
        if ic[IC_MEAN]:
            g = g / sc[SC_COUNT]
        dy[q] = g
    loss = _reduce(terms, 0, m, zero) / sc[SC_COUNT]
    if ic[IC_LOG2]:
        loss = loss * fc[FC_LOG2]
    return loss


def _update(p: Any, v: Any, w: Any, n: Any, g: Any, lr: Any, hasv: Any, fc: Any, ic: Any) -> Any:
    """``p[w:w+n] <- SGD update with gradient g[0:n]``; returns whether the guard could report it."""
    limit = fc[FC_LIMIT]
    bad = False
    for q in range(n):
        step = lr * g[q]
        if ic[IC_MOMENTUM]:
            if hasv:
                step = step + fc[FC_MU] * v[w + q]
            v[w + q] = step
        new = p[w + q] - step
        p[w + q] = new
        if ic[IC_WATCH] and _bad(new, limit):
            bad = True
    return bad


def _linear_grads(p: Any, layers: Any, i: Any, acts: Any, aoff: Any, rows: Any, dy: Any, g: Any) -> Any:
    """``x^T dy`` into ``g[0:in*out]`` and ``sum(dy)`` after it (portable order)."""
    nin = layers[i, 1]
    nout = layers[i, 2]
    src = aoff[i]
    for j in range(nin):  # row 0, then + row n (x_nj dy_no), for every (j, o) at once
        x0 = acts[src + j * rows]
        for o in range(nout):
            g[j * nout + o] = x0 * dy[o * rows]
    for n in range(1, rows):
        for j in range(nin):
            xn = acts[src + j * rows + n]
            for o in range(nout):
                g[j * nout + o] = g[j * nout + o] + xn * dy[o * rows + n]
    if layers[i, 4] >= 0:
        base = nin * nout
        for o in range(nout):
            acc = dy[o * rows]
            for n in range(1, rows):
                acc = acc + dy[o * rows + n]
            g[base + o] = acc


def _input_grad(p: Any, layers: Any, i: Any, acts: Any, aoff: Any, rows: Any, dy: Any, dx: Any, fc: Any) -> Any:
    """The gradient with respect to layer ``i``'s input, from ``dy`` into ``dx``."""
    one = fc[FC_ONE]
    zero = fc[FC_ZERO]
    kind = layers[i, 0]
    nin = layers[i, 1]
    nout = layers[i, 2]
    src = aoff[i]
    dst = aoff[i + 1]
    if kind == LINEAR:
        w = layers[i, 3]
        for j in range(nin):  # each input column: dy_0 w_j0, then + dy_o w_jo
            col = j * rows
            w0 = p[w + j * nout]
            for n in range(rows):
                dx[col + n] = dy[n] * w0
            for o in range(1, nout):
                wo = p[w + j * nout + o]
                src_o = o * rows
                for n in range(rows):
                    dx[col + n] = dx[col + n] + dy[src_o + n] * wo
    elif kind == SIGMOID or kind == SIGMOID_NAIVE:
        for q in range(rows * nout):
            y = acts[dst + q]
            dx[q] = dy[q] * ((one - y) * y)
    elif kind == RELU_MAX:
        for q in range(rows * nout):
            dx[q] = dy[q] if acts[src + q] > zero else zero
    elif kind == RELU_MASK:
        for q in range(rows * nout):
            dx[q] = zero if acts[src + q] <= zero else dy[q]
    elif kind == TANH:
        for q in range(rows * nout):
            y = acts[dst + q]
            dx[q] = dy[q] * (one - y * y)
    else:
        for q in range(rows * nout):
            dx[q] = dy[q]


def _step(p: Any, v: Any, hasv: Any, lr: Any, layers: Any, acts: Any, aoff: Any, rows: Any, tb: Any,
          terms: Any, d0: Any, d1: Any, g: Any, ic: Any, fc: Any, sc: Any) -> Any:
    """One training step on the batch in ``acts`` block 0 and ``tb``; returns (loss, guard-relevant)."""
    watch = ic[IC_WATCH]
    limit = fc[FC_LIMIT]
    n_layers = layers.shape[0]
    bad = _forward(p, layers, acts, aoff, rows, fc, watch)
    nout = layers[n_layers - 1, 2]
    loss = _loss(acts, aoff[n_layers], tb, rows, nout, terms, d0, ic, fc, sc)
    if watch:
        if _bad(loss, limit):
            bad = True
        for q in range(rows * nout):
            if _bad(d0[q], limit):
                bad = True
    dy = d0
    dx = d1
    inside = ic[IC_CONV] != CONV_DEFAULT
    for i in range(n_layers - 1, -1, -1):
        if layers[i, 0] == LINEAR:
            nin = layers[i, 1]
            nout_i = layers[i, 2]
            size = nin * nout_i + (nout_i if layers[i, 4] >= 0 else 0)
            start = layers[i, 5]  # this layer's gradients in g (default) or at 0 (updated at once)
            gi = g[start:start + size] if not inside else g[0:size]
            _linear_grads(p, layers, i, acts, aoff, rows, dy, gi)
            if inside:
                if _update(p, v, layers[i, 3], size, gi, lr, hasv, fc, ic):
                    bad = True
        if i > 0:
            _input_grad(p, layers, i, acts, aoff, rows, dy, dx, fc)
            if watch:
                width = layers[i, 1]
                for q in range(rows * width):
                    if _bad(dx[q], limit):
                        bad = True
            tmp = dy
            dy = dx
            dx = tmp
    if not inside:
        # every gradient from the old parameters, then each parameter updated once
        if _update(p, v, 0, g.shape[0], g, lr, hasv, fc, ic):
            bad = True
    return loss, bad


def _member(m: Any, params: Any, vel: Any, hasv: Any, lrs: Any, layers: Any, aoff: Any, xs: Any, ts: Any,
            x_of: Any, t_of: Any, idx: Any, i_of: Any, sizes: Any, sc: Any, ic: Any, fc: Any, epoch0: Any,
            n_epochs: Any, history: Any, logged: Any, flagged: Any) -> Any:
    """``n_epochs`` epochs of member ``m`` (its parameters and velocity updated in place)."""
    p = params[m]
    v = vel[m]
    lr = lrs[m]
    n_in = layers[0, 1]
    n_layers = layers.shape[0]
    nout = layers[n_layers - 1, 2]
    iters = sizes.shape[0]
    bmax = idx.shape[3]
    acts = np.empty(aoff[n_layers] + bmax * nout, dtype=params.dtype)
    widest = 0
    for i in range(n_layers):
        widest = max(widest, layers[i, 1], layers[i, 2])
    d0 = np.empty(bmax * widest, dtype=params.dtype)
    d1 = np.empty(bmax * widest, dtype=params.dtype)
    g = np.empty(p.shape[0], dtype=params.dtype)
    terms = np.empty(bmax * nout, dtype=params.dtype)
    tb = np.empty(bmax * nout, dtype=params.dtype)
    losses = np.empty(iters, dtype=params.dtype)
    zero = fc[FC_ZERO]
    log_every = ic[IC_LOG_EVERY]
    x = xs[x_of[m]]
    t = ts[t_of[m]]
    batches = idx[i_of[m]]
    for e in range(n_epochs):
        epoch = epoch0 + e
        rows_of = batches[e if batches.shape[0] > 1 else 0]
        for j in range(iters):
            rows = sizes[j]
            for n in range(rows):
                r = rows_of[j, n]
                for c in range(n_in):
                    acts[c * rows + n] = x[r, c]
                for c in range(nout):
                    tb[c * rows + n] = t[r, c]
            loss, bad = _step(p, v, hasv[m], lr, layers, acts, aoff, rows, tb, terms, d0, d1, g, ic, fc, sc[j])
            if ic[IC_MOMENTUM]:
                hasv[m] = True
            losses[j] = loss
            if bad:
                flagged[m] = True
                return
        if log_every == 0:  # train(): the epoch's batch losses weighted by batch size
            if iters == 1:
                history[epoch, m] = losses[0]
            else:
                total = zero
                for j in range(iters):
                    total = total + sc[j, SC_WEIGHT] * losses[j]
                history[epoch, m] = total
        elif (epoch + 1) % log_every == 0:  # the lab: the mean of the epoch's iteration losses
            logged[(epoch + 1) // log_every - 1, m] = _reduce(losses, 0, iters, zero) / fc[FC_ITERS]


def _run(params: Any, vel: Any, hasv: Any, lrs: Any, layers: Any, aoff: Any, xs: Any, ts: Any, x_of: Any,
         t_of: Any, idx: Any, i_of: Any, sizes: Any, sc: Any, ic: Any, fc: Any, epoch0: Any, n_epochs: Any,
         history: Any, logged: Any, flagged: Any) -> Any:
    """Every member, one after the other."""
    for m in range(params.shape[0]):
        _member(m, params, vel, hasv, lrs, layers, aoff, xs, ts, x_of, t_of, idx, i_of, sizes, sc, ic, fc,
                epoch0, n_epochs, history, logged, flagged)


def _run_parallel(params: Any, vel: Any, hasv: Any, lrs: Any, layers: Any, aoff: Any, xs: Any, ts: Any,
                  x_of: Any, t_of: Any, idx: Any, i_of: Any, sizes: Any, sc: Any, ic: Any, fc: Any,
                  epoch0: Any, n_epochs: Any, history: Any, logged: Any, flagged: Any) -> Any:
    """Every member, in parallel over the cores."""
    for m in _prange(params.shape[0]):
        _member(m, params, vel, hasv, lrs, layers, aoff, xs, ts, x_of, t_of, idx, i_of, sizes, sc, ic, fc,
                epoch0, n_epochs, history, logged, flagged)


_prange: Callable[[int], range] = range


# -- the same loop for a block of members that share their batches, the member axis innermost:
#    every operation below is the one above, for each member k of the block (a contiguous,
#    independent innermost loop, which the compiler may run in SIMD lanes).

def _bsum(a: Any, lo: Any, n: Any, out: Any, left: Any, los: Any, ns: Any, state: Any, zero: Any) -> Any:
    """:func:`_reduce` of ``a[lo:lo + n, k]`` for every column ``k``, into ``out`` (``+0`` first)."""
    width = a.shape[1]
    top = 0
    los[0] = lo
    ns[0] = n
    state[0] = 0
    while top >= 0:
        if ns[top] > 128 and state[top] == 0:
            half = ns[top] // 2
            half -= half % 8
            state[top] = 1
            los[top + 1] = los[top]
            ns[top + 1] = half
            state[top + 1] = 0
            top += 1
            continue
        _bblock(a, los[top], ns[top], out, left, top)
        top -= 1
        while top >= 0:
            if state[top] == 1:
                for k in range(width):
                    left[top, k] = out[k]
                state[top] = 2
                half = ns[top] // 2
                half -= half % 8
                los[top + 1] = los[top] + half
                ns[top + 1] = ns[top] - half
                state[top + 1] = 0
                top += 1
                break
            for k in range(width):
                out[k] = left[top, k] + out[k]
            top -= 1
    for k in range(width):
        out[k] = zero + out[k]
    return out


def _bblock(a: Any, lo: Any, n: Any, out: Any, left: Any, level: Any) -> Any:
    """:func:`_block` of every column into ``out`` (8 accumulators per column)."""
    width = a.shape[1]
    if n < 8:
        for k in range(width):
            out[k] = a[lo, k]
        for i in range(1, n):
            for k in range(width):
                out[k] = out[k] + a[lo + i, k]
        return out
    stop = n - n % 8
    for k in range(width):
        r0 = a[lo, k]
        r1 = a[lo + 1, k]
        r2 = a[lo + 2, k]
        r3 = a[lo + 3, k]
        r4 = a[lo + 4, k]
        r5 = a[lo + 5, k]
        r6 = a[lo + 6, k]
        r7 = a[lo + 7, k]
        i = 8
        while i < stop:
            r0 = r0 + a[lo + i, k]
            r1 = r1 + a[lo + i + 1, k]
            r2 = r2 + a[lo + i + 2, k]
            r3 = r3 + a[lo + i + 3, k]
            r4 = r4 + a[lo + i + 4, k]
            r5 = r5 + a[lo + i + 5, k]
            r6 = r6 + a[lo + i + 6, k]
            r7 = r7 + a[lo + i + 7, k]
            i += 8
        res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
        while i < n:
            res = res + a[lo + i, k]
            i += 1
        out[k] = res
    return out


def _bforward(p: Any, layers: Any, acts: Any, aoff: Any, rows: Any, fc: Any, watch: Any) -> Any:
    """:func:`_forward` for every member of the block (``p (params, members)``)."""
    one = fc[FC_ONE]
    zero = fc[FC_ZERO]
    limit = fc[FC_LIMIT]
    width = p.shape[1]
    bad = False
    for i in range(layers.shape[0]):
        kind = layers[i, 0]
        nin = layers[i, 1]
        nout = layers[i, 2]
        src = aoff[i]
        dst = aoff[i + 1]
        if kind == LINEAR:
            w = layers[i, 3]
            b = layers[i, 4]
            for o in range(nout):
                out = dst + o * rows
                for n in range(rows):
                    for k in range(width):
                        acts[out + n, k] = acts[src + n, k] * p[w + o, k]
                for j in range(1, nin):
                    col = src + j * rows
                    wj = w + j * nout + o
                    for n in range(rows):
                        for k in range(width):
                            acts[out + n, k] = acts[out + n, k] + acts[col + n, k] * p[wj, k]
                if b >= 0:
                    for n in range(rows):
                        for k in range(width):
                            acts[out + n, k] = acts[out + n, k] + p[b + o, k]
        else:
            for q in range(rows * nout):
                for k in range(width):
                    x = acts[src + q, k]
                    if kind == SIGMOID:
                        y = _stable_sigmoid(x, one, zero)
                    elif kind == SIGMOID_NAIVE:
                        e = math.exp(-x)
                        if watch and e == np.inf:
                            bad = True
                        y = one / (one + e)
                    elif kind == RELU_MAX:
                        y = x if (x > zero or x != x) else zero
                    elif kind == RELU_MASK:
                        y = zero if x <= zero else x
                    elif kind == TANH:
                        y = math.tanh(x)
                    else:
                        y = x
                    acts[dst + q, k] = y
        if watch:
            for q in range(rows * nout):
                for k in range(width):
                    if _bad(acts[dst + q, k], limit):
                        bad = True
    return bad


def _bloss(acts: Any, yo: Any, tb: Any, rows: Any, nout: Any, terms: Any, dy: Any, ic: Any, fc: Any, sc: Any,
           loss: Any, left: Any, los: Any, ns: Any, state: Any) -> Any:
    """:func:`_loss` for every member of the block, the losses into ``loss``."""
    one = fc[FC_ONE]
    zero = fc[FC_ZERO]
    delta = fc[FC_DELTA]
    width = acts.shape[1]
    m = rows * nout
    loss_kind = ic[IC_LOSS]
    conv = ic[IC_CONV]
    for r in range(m):
        q = (r % nout) * rows + r // nout
        for k in range(width):
            y = acts[yo + q, k]
            t = tb[q, k]
            if conv >= CONV_PUBLISHED:
                if loss_kind == MSE_LOSS:
                    diff = y - t
                    terms[r, k] = diff * diff
                    g = sc[SC_TWO_B] * diff
                else:
                    a = y + delta
                    b = (one - y) + delta
                    c = one - t
                    terms[r, k] = t * math.log2(a) + c * math.log2(b)
                    if conv == CONV_PUBLISHED:
                        g = -(t / a - c / b)
                    else:
                        g = (y - t) / ((y * (one - y)) * sc[SC_ROWS])
            else:
                if loss_kind == MSE_LOSS:
                    diff = y - t
                    terms[r, k] = diff * diff
                    g = fc[FC_TWO] * (y - t)
                elif loss_kind == BCE_LOSS:
                    terms[r, k] = -(t * math.log(y + delta) + (one - t) * math.log((one - y) + delta))
                    g = -(t / (y + delta) - (one - t) / ((one - y) + delta))
                else:
                    mx = y if (y > zero or y != y) else zero
                    terms[r, k] = (mx - y * t) + math.log1p(math.exp(-abs(y)))
                    if t == one:
                        g = -_stable_sigmoid(-y, one, zero)
                    elif t == zero:
                        g = _stable_sigmoid(y, one, zero)
                    else:
                        g = _stable_sigmoid(y, one, zero) - t
                if ic[IC_HALVE]:
                    g = g * fc[FC_HALF]
                if ic[IC_MEAN]:
                    g = g / sc[SC_COUNT]
            dy[q, k] = g
    _bsum(terms, 0, m, loss, left, los, ns, state, zero)
    for k in range(width):
        if conv == CONV_PUBLISHED and loss_kind != MSE_LOSS:
            loss[k] = sc[SC_MINUS_B] * loss[k]
        elif conv == CONV_PAGE14 and loss_kind != MSE_LOSS:
            loss[k] = -loss[k] / sc[SC_ROWS]
        else:
            loss[k] = loss[k] / sc[SC_COUNT]
            if conv < CONV_PUBLISHED and ic[IC_LOG2]:
                loss[k] = loss[k] * fc[FC_LOG2]
    return loss


def _bupdate(p: Any, v: Any, w: Any, n: Any, g: Any, gs: Any, lr: Any, hasv: Any, fc: Any, ic: Any) -> Any:
    """:func:`_update` for every member: ``p[w:w+n]`` with gradient ``g[gs:gs+n]``."""
    limit = fc[FC_LIMIT]
    width = p.shape[1]
    bad = False
    for q in range(n):
        for k in range(width):
            step = lr[k] * g[gs + q, k]
            if ic[IC_MOMENTUM]:
                if hasv:
                    step = step + fc[FC_MU] * v[w + q, k]
                v[w + q, k] = step
            new = p[w + q, k] - step
            p[w + q, k] = new
            if ic[IC_WATCH] and _bad(new, limit):
                bad = True
    return bad


def _bstep(p: Any, v: Any, hasv: Any, lr: Any, layers: Any, acts: Any, aoff: Any, rows: Any, tb: Any,
           terms: Any, d0: Any, d1: Any, g: Any, ic: Any, fc: Any, sc: Any, loss: Any, left: Any, los: Any,
           ns: Any, state: Any) -> Any:
    """:func:`_step` for every member of the block; the losses into ``loss``."""
    watch = ic[IC_WATCH]
    limit = fc[FC_LIMIT]
    width = p.shape[1]
    n_layers = layers.shape[0]
    bad = _bforward(p, layers, acts, aoff, rows, fc, watch)
    nout = layers[n_layers - 1, 2]
    _bloss(acts, aoff[n_layers], tb, rows, nout, terms, d0, ic, fc, sc, loss, left, los, ns, state)
    if watch:
        for k in range(width):
            if _bad(loss[k], limit):
                bad = True
        for q in range(rows * nout):
            for k in range(width):
                if _bad(d0[q, k], limit):
                    bad = True
    dy = d0
    dx = d1
    inside = ic[IC_CONV] != CONV_DEFAULT
    one = fc[FC_ONE]
    zero = fc[FC_ZERO]
    for i in range(n_layers - 1, -1, -1):
        kind = layers[i, 0]
        nin = layers[i, 1]
        nout_i = layers[i, 2]
        src = aoff[i]
        dst = aoff[i + 1]
        if kind == LINEAR:
            gs = 0 if inside else layers[i, 5]
            for j in range(nin):
                for o in range(nout_i):
                    for k in range(width):
                        g[gs + j * nout_i + o, k] = acts[src + j * rows, k] * dy[o * rows, k]
            for n in range(1, rows):
                for j in range(nin):
                    for o in range(nout_i):
                        for k in range(width):
                            g[gs + j * nout_i + o, k] = (g[gs + j * nout_i + o, k]
                                                         + acts[src + j * rows + n, k] * dy[o * rows + n, k])
            size = nin * nout_i
            if layers[i, 4] >= 0:
                for o in range(nout_i):
                    for k in range(width):
                        g[gs + size + o, k] = dy[o * rows, k]
                    for n in range(1, rows):
                        for k in range(width):
                            g[gs + size + o, k] = g[gs + size + o, k] + dy[o * rows + n, k]
                size += nout_i
            if inside:
                if _bupdate(p, v, layers[i, 3], size, g, 0, lr, hasv, fc, ic):
                    bad = True
        if i > 0:
            if kind == LINEAR:
                w = layers[i, 3]
                for j in range(nin):
                    col = j * rows
                    for n in range(rows):
                        for k in range(width):
                            dx[col + n, k] = dy[n, k] * p[w + j * nout_i, k]
                    for o in range(1, nout_i):
                        for n in range(rows):
                            for k in range(width):
                                dx[col + n, k] = dx[col + n, k] + dy[o * rows + n, k] * p[w + j * nout_i + o, k]
            else:
                for q in range(rows * nout_i):
                    for k in range(width):
                        if kind == SIGMOID or kind == SIGMOID_NAIVE:
                            y = acts[dst + q, k]
                            dx[q, k] = dy[q, k] * ((one - y) * y)
                        elif kind == RELU_MAX:
                            dx[q, k] = dy[q, k] if acts[src + q, k] > zero else zero
                        elif kind == RELU_MASK:
                            dx[q, k] = zero if acts[src + q, k] <= zero else dy[q, k]
                        elif kind == TANH:
                            y = acts[dst + q, k]
                            dx[q, k] = dy[q, k] * (one - y * y)
                        else:
                            dx[q, k] = dy[q, k]
            if watch:
                for q in range(rows * nin):
                    for k in range(width):
                        if _bad(dx[q, k], limit):
                            bad = True
            tmp = dy
            dy = dx
            dx = tmp
    if not inside:
        if _bupdate(p, v, 0, g.shape[0], g, 0, lr, hasv, fc, ic):
            bad = True
    return bad


def _bmember(b: Any, size: Any, params: Any, vel: Any, hasv: Any, lrs: Any, layers: Any, aoff: Any, xs: Any,
             ts: Any, x_of: Any, t_of: Any, idx: Any, i_of: Any, sizes: Any, sc: Any, ic: Any, fc: Any,
             epoch0: Any, n_epochs: Any, history: Any, logged: Any, flagged: Any) -> Any:
    """:func:`_member` for the members ``b * size ...`` (at most ``size``), which share their batches."""
    m0 = b * size
    m1 = min(m0 + size, params.shape[0])
    width = m1 - m0
    dtype = params.dtype
    p = np.ascontiguousarray(params[m0:m1].T)
    v = np.ascontiguousarray(vel[m0:m1].T)
    lr = lrs[m0:m1].copy()
    n_in = layers[0, 1]
    n_layers = layers.shape[0]
    nout = layers[n_layers - 1, 2]
    iters = sizes.shape[0]
    bmax = idx.shape[3]
    acts = np.empty((aoff[n_layers] + bmax * nout, width), dtype=dtype)
    widest = 0
    for i in range(n_layers):
        widest = max(widest, layers[i, 1], layers[i, 2])
    d0 = np.empty((bmax * widest, width), dtype=dtype)
    d1 = np.empty((bmax * widest, width), dtype=dtype)
    g = np.empty((p.shape[0], width), dtype=dtype)
    terms = np.empty((bmax * nout, width), dtype=dtype)
    tb = np.empty((bmax * nout, width), dtype=dtype)
    losses = np.empty((iters, width), dtype=dtype)
    loss = np.empty(width, dtype=dtype)
    left = np.empty((64, width), dtype=dtype)
    los = np.empty(64, dtype=np.int64)
    ns = np.empty(64, dtype=np.int64)
    state = np.zeros(64, dtype=np.int64)
    zero = fc[FC_ZERO]
    log_every = ic[IC_LOG_EVERY]
    batches = idx[i_of[m0]]
    done = True
    for e in range(n_epochs):
        epoch = epoch0 + e
        rows_of = batches[e if batches.shape[0] > 1 else 0]
        for j in range(iters):
            rows = sizes[j]
            for n in range(rows):
                r = rows_of[j, n]
                for k in range(width):
                    x = xs[x_of[m0 + k]]
                    t = ts[t_of[m0 + k]]
                    for c in range(n_in):
                        acts[c * rows + n, k] = x[r, c]
                    for c in range(nout):
                        tb[c * rows + n, k] = t[r, c]
            bad = _bstep(p, v, hasv[m0], lr, layers, acts, aoff, rows, tb, terms, d0, d1, g, ic, fc, sc[j], loss,
                         left, los, ns, state)
            if ic[IC_MOMENTUM]:
                for k in range(width):
                    hasv[m0 + k] = True
            for k in range(width):
                losses[j, k] = loss[k]
            if bad:
                for k in range(width):
                    flagged[m0 + k] = True
                done = False
                break
        if not done:
            break
        if log_every == 0:
            for k in range(width):
                if iters == 1:
                    history[epoch, m0 + k] = losses[0, k]
                else:
                    total = zero
                    for j in range(iters):
                        total = total + sc[j, SC_WEIGHT] * losses[j, k]
                    history[epoch, m0 + k] = total
        elif (epoch + 1) % log_every == 0:
            _bsum(losses, 0, iters, loss, left, los, ns, state, zero)
            for k in range(width):
                logged[(epoch + 1) // log_every - 1, m0 + k] = loss[k] / fc[FC_ITERS]
    for k in range(width):
        for q in range(p.shape[0]):
            params[m0 + k, q] = p[q, k]
            vel[m0 + k, q] = v[q, k]


def _brun_parallel(size: Any, params: Any, vel: Any, hasv: Any, lrs: Any, layers: Any, aoff: Any, xs: Any,
                   ts: Any, x_of: Any, t_of: Any, idx: Any, i_of: Any, sizes: Any, sc: Any, ic: Any, fc: Any,
                   epoch0: Any, n_epochs: Any, history: Any, logged: Any, flagged: Any) -> Any:
    """Blocks of ``size`` members that share their batches, in parallel over the cores."""
    blocks = (params.shape[0] + size - 1) // size
    for b in _prange(blocks):
        _bmember(b, size, params, vel, hasv, lrs, layers, aoff, xs, ts, x_of, t_of, idx, i_of, sizes, sc, ic, fc,
                 epoch0, n_epochs, history, logged, flagged)


_COMPILED: Final = ("_block", "_pairwise", "_reduce", "_bad", "_stable_sigmoid", "_forward", "_loss", "_update",
                    "_linear_grads", "_input_grad", "_step", "_member", "_run",
                    "_bsum", "_bblock", "_bforward", "_bloss", "_bupdate", "_bstep", "_bmember")


# =====================================================================================
# The typed facade
# =====================================================================================

Runner = Callable[..., None]
_ENGINE: dict[str, Runner] = {}
def available() -> bool:
    """Whether numba can be imported (the compiled kernel can run)."""
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def require() -> None:
    """Raise :class:`CompiledUnavailableError` (naming ``kernel`` and the extra) without numba."""
    if not available():
        raise CompiledUnavailableError(f"kernel: 'compiled' needs numba, which is not installed; {EXTRA}")


def engine(parallel: bool = False) -> Runner:
    """The compiled whole-run loop, members one after the other or (``parallel``) over the cores
    (compiled on first use, then loaded from numba's cache)."""
    key = "parallel" if parallel else "serial"
    if key in _ENGINE:
        return _ENGINE[key]
    require()
    import numba

    space = globals()
    if not _ENGINE:
        for name in _COMPILED:
            space[name] = numba.njit(cache=True)(space[name])
        space["_prange"] = numba.prange
        _ENGINE["serial"] = space["_run"]
    if parallel:
        _ENGINE["parallel"] = numba.njit(cache=True, parallel=True)(_run_parallel)
        _ENGINE["blocks"] = numba.njit(cache=True, parallel=True)(_brun_parallel)
    return _ENGINE[key]


BLOCK: Final = 64
"""Members computed together, the member axis innermost (when they share their batches)."""
BLOCK_FROM: Final = 8
"""Ensembles from this size whose members share their batches run in blocks."""


def _layer_table(net: Network) -> tuple[I64, I64] | None:
    """``(layers, act_offsets_per_row)``: per layer ``kind, in, out, W offset, b offset, grad offset``,
    offsets into the flat parameters (:meth:`Network.get_flat` order); ``None`` if a layer is unknown."""
    rows: list[list[int]] = []
    widths = [net.in_features]
    offset = 0
    for layer in net.layers:
        n_in = widths[-1]
        if isinstance(layer, Linear):
            n_out = layer.out_features
            w = offset
            offset += n_in * n_out
            b = -1
            if layer.has_bias:
                b = offset
                offset += n_out
            if list(layer.params) != (["W", "b"] if layer.has_bias else ["W"]):
                return None
            rows.append([LINEAR, n_in, n_out, w, b, w])
        else:
            n_out = n_in
            if type(layer) is Sigmoid:
                kind = SIGMOID if layer.formula == "stable" else SIGMOID_NAIVE
            elif type(layer) is ReLU:
                kind = RELU_MAX if layer.formula == "max" else RELU_MASK
            elif type(layer) is Tanh:
                kind = TANH
            elif type(layer) is Identity:
                kind = IDENTITY
            else:
                return None
            rows.append([kind, n_in, n_out, -1, -1, -1])
        widths.append(n_out)
    if offset != net.n_params:
        return None
    return np.asarray(rows, dtype=np.int64), np.cumsum([0, *widths], dtype=np.int64)


def _loss_code(net: Network) -> int | None:
    loss = net.loss
    if type(loss) is MSE:
        return MSE_LOSS
    if type(loss) is BCE:
        return BCE_LOSS
    if type(loss) is BCEWithLogits:
        return BCE_LOGITS
    return None


def supports(net: Network, arith: Arithmetic | None) -> bool:
    """Whether the compiled loop computes this network under this convention (refnet's own layers
    and losses; the lab's convention with MSE or BCE); otherwise the NumPy path runs."""
    code = _loss_code(net)
    if code is None or _layer_table(net) is None or net.precision.dtype not in (np.float32, np.float64):
        return False
    if isinstance(arith, Published):
        return code != BCE_LOGITS
    return True


@dataclass(frozen=True)
class Batches:
    """The rows of each step: ``idx (streams, epochs or 1, iterations, B)`` row indices
    (``epochs`` 1: the same batches every epoch), ``sizes (iterations,)`` rows used of each,
    ``of (K,)`` each member's stream."""

    idx: I64
    sizes: I64
    of: I64


def lab_scalars(dtype: np.dtype[Any], sizes: Sequence[int], out_features: int, n: int) -> FloatArray:
    """The per-batch scalars (``2/B``, ``-1/B``, ``B``, ``B*out``, ``B/n``), each computed in
    float64 and rounded once to ``dtype`` as the reference computes them."""
    sc = np.empty((len(sizes), 5), dtype=dtype)
    for j, b in enumerate(sizes):
        sc[j] = [dtype.type(2 / b), dtype.type(-1 / b), dtype.type(b), dtype.type(b * out_features),
                 dtype.type(b / n)]
    out: FloatArray = sc
    return out


class Session:
    """One network's state packed for the compiled loop (parameters, velocity), run in pieces."""

    def __init__(self, net: Network, opt: SGD, arith: Arithmetic | None, *, watch_limit: float | None,
                 iterations: int) -> None:
        table = _layer_table(net)
        code = _loss_code(net)
        if table is None or code is None:
            raise ValueError("net: the compiled kernel runs refnet's own layers and losses only")
        self.net = net
        self.opt = opt
        self.layers, self.aoff_rows = table
        dtype = net.precision.dtype
        self.dtype = dtype
        k = net.members
        self.params: FloatArray = np.ascontiguousarray(net.get_flat())
        self.keys = [(i, name) for i, layer in enumerate(net.layers) for name in layer.params]
        lr, mu = opt.rates_for(dtype)
        # writable, as every array handed to the loop: numba types a read-only array apart, and each
        # type is one more compile (a rate per member broadcasts to a read-only view)
        self.lrs: FloatArray = _owned(np.broadcast_to(np.asarray(lr).reshape(-1), (k,)))
        vel = [opt.velocity(key) for key in self.keys]
        self.vel: FloatArray = np.zeros_like(self.params)
        self.hasv = np.zeros(k, dtype=np.bool_)
        self.momentum = bool(opt.momentum)
        if self.momentum and all(v is not None for v in vel):
            self.vel = np.ascontiguousarray(np.concatenate(
                [np.broadcast_to(v, p.shape).reshape(k, -1) for v, p in  # type: ignore[arg-type]
                 zip(vel, net.named_params().values())], axis=1))
            self.hasv[:] = True
        elif self.momentum and any(v is not None for v in vel):
            raise ValueError("optimizer: its momentum velocity covers some parameters only")
        ic = np.zeros(8, dtype=np.int64)
        ic[IC_LOSS] = code
        half = False
        if arith is None:
            ic[IC_CONV] = CONV_DEFAULT
            ic[IC_MEAN] = net.loss.reduction == "mean"
        elif isinstance(arith, Published):
            ic[IC_CONV] = CONV_PUBLISHED if arith.bce == "published" else CONV_PAGE14
        else:
            ic[IC_CONV] = CONV_READING
            ic[IC_MEAN] = arith.gradient == "mean"
            half = arith.mse_derivative == "(y-t)" and code == MSE_LOSS
            ic[IC_LOG2] = arith.log_base == "2" and code != MSE_LOSS
        ic[IC_HALVE] = half
        ic[IC_MOMENTUM] = self.momentum
        ic[IC_WATCH] = watch_limit is not None
        self.ic = ic
        t = dtype.type
        delta = float(getattr(net.loss, "delta", 0.0))
        self.fc = np.array([t(1), t(0), t(delta), t(1 / math.log(2)), mu, t(2),
                            t(np.inf) if watch_limit is None else t(watch_limit), t(0.5), t(iterations)],
                           dtype=dtype)
        self.flagged = np.zeros(k, dtype=np.bool_)

    def run(self, xs: FloatArray, ts: FloatArray, x_of: I64, t_of: I64, batches: Batches, sc: FloatArray,
            epoch0: int, n_epochs: int, history: FloatArray, logged: FloatArray, log_every: int) -> bool:
        """``n_epochs`` epochs from ``epoch0``; ``False`` once a member was flagged for the guard."""
        self.ic[IC_LOG_EVERY] = log_every
        aoff = self.aoff_rows * batches.idx.shape[3]
        k = self.net.members
        args = (self.params, self.vel, self.hasv, self.lrs, self.layers, aoff, xs, ts, x_of, t_of, batches.idx,
                batches.of, batches.sizes, sc, self.ic, self.fc, epoch0, n_epochs, history, logged, self.flagged)
        if k >= BLOCK_FROM and bool(np.all(batches.of == batches.of[0])):
            engine(True)  # members that share their batches: blocks of them, the member axis innermost
            _ENGINE["blocks"](min(BLOCK, -(-k // 2)), *args)
        else:
            engine(k > 1)(*args)
        return not bool(self.flagged.any())

    def finish(self) -> None:
        """Put the parameters (and the momentum velocity) back into the network and optimizer."""
        self.net.set_flat(self.params)
        if self.momentum:
            start = 0
            k = self.net.members
            for key, p in zip(self.keys, self.net.named_params().values()):
                size = int(np.prod(p.shape[1:]))
                self.opt.set_velocity(key, self.vel[:, start:start + size].reshape((k, *p.shape[1:])).copy())
                start += size


def _owned(a: FloatArray) -> FloatArray:
    """``a`` C-contiguous and writable (a copy only when it is not)."""
    out: FloatArray = np.require(a, requirements=("C", "W"))
    return out


def _members_of(a: FloatArray, k: int) -> I64:
    return np.zeros(k, dtype=np.int64) if a.shape[0] == 1 else np.arange(k, dtype=np.int64)


def train_run(net: Network, opt: SGD, xa: FloatArray, ya: FloatArray, slices: Sequence[slice],
              history: FloatArray, arith: Arithmetic | None, watch_limit: float | None) -> bool:
    """:func:`refnet.train.train`'s epoch loop for ``history.shape[0]`` epochs on the consecutive
    batches ``slices``, into ``history``; ``False`` (network and optimizer untouched) when the guard
    must see the run (replay it through NumPy)."""
    k = net.members
    n = xa.shape[1]
    sizes = np.array([s.stop - s.start for s in slices], dtype=np.int64)
    idx = np.zeros((1, 1, len(slices), int(sizes.max())), dtype=np.int64)
    for j, s in enumerate(slices):
        idx[0, 0, j, :sizes[j]] = np.arange(s.start, s.stop)
    session = Session(net, opt, arith, watch_limit=watch_limit, iterations=len(slices))
    sc = lab_scalars(net.precision.dtype, sizes.tolist(), net.out_features, n)
    batches = Batches(idx, sizes, np.zeros(k, dtype=np.int64))
    logged = np.empty((0, k), dtype=net.precision.dtype)
    ok = session.run(_owned(xa), _owned(ya), _members_of(xa, k), _members_of(ya, k),
                     batches, sc, 0, history.shape[0], history, logged, 0)
    if ok:
        session.finish()
    return ok


def guard_limit(watch: Guard, net: Network) -> float | None:
    """The magnitude from which the compiled loop hands a run to the guard: ``None`` when the guard
    is off, else its lowest early-warning level (``inf``: non-finite values only)."""
    if watch.mode == "off":
        return None
    if not watch.levels:
        return math.inf
    dtype = net.precision.dtype
    return float(np.power(np.finfo(dtype).max, dtype.type(watch.levels[0])))
