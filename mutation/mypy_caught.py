"""The mutants that ``mypy --strict`` (a CI gate) rejects, from mypy's JSON report on mutants/.

    python mutation/mypy_caught.py REPORT.json OUT.json     (run from mutants/)

mutmut puts every mutant of a function beside the original in mutants/refnet/*.py, as functions
named ``...__mutmut_N`` and ``...__mutmut_orig``. A mutant is caught when mypy reports, inside
its function, a message that the original function's copy does not get (the copies share the
project's own ``type: ignore`` comments, which mypy reports as unused in the copies).
Writes {mutant name: first new message}; prints the count per module.
"""
import ast
import collections
import glob
import json
import re
import sys

errs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
spans = {}
for f in glob.glob('refnet/*.py'):
    tree = ast.parse(open(f).read())
    out = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and re.search(r'__mutmut_(\d+|orig)$', node.name):
            out.append((node.lineno, node.end_lineno, node.name))
    spans[f] = sorted(out)
by_fn = collections.defaultdict(list); outside = []
for e in errs:
    hit = [(a, n) for a, b, n in spans.get(e['file'], []) if a <= e['line'] <= b]
    if hit:
        a, n = hit[-1]
        by_fn[(e['file'], n)].append((e['line'] - a, e['message']))
    else:
        outside.append(e)
caught = {}
for (f, n), es in by_fn.items():
    if n.endswith('__mutmut_orig'):
        continue
    base = n.rsplit('__mutmut_', 1)[0] + '__mutmut_orig'
    orig_msgs = {m for _, m in by_fn.get((f, base), [])}
    new = [m for _, m in es if m not in orig_msgs]
    if new:
        mod = f[:-3].replace('/', '.')
        caught[f"{mod}.{n}"] = new[0]
json.dump(caught, open(sys.argv[2], 'w'), indent=0, ensure_ascii=False)
cnt = collections.Counter(k.split('.')[1] for k in caught)
print(dict(cnt)); print('errors outside mutants:', len(outside))
print(collections.Counter(e['message'][:60] for e in outside).most_common(8))
