#!/usr/bin/env bash
# Mutation testing of refnet's core modules with mutmut (configured in pyproject.toml, [tool.mutmut]).
#
#   mutation/run.sh                       # every core module (layers ... validation)
#   mutation/run.sh sweep plan            # some of them (any of those listed in only_mutate)
#   MUTMUT=/path/to/mutmut mutation/run.sh
#
# Three filters, cheapest first:
# 1. mypy --strict (the CI's type gate, with the project's config) on mutmut's mutants/ tree: a
#    mutant it rejects could never be merged, so it is counted "caught by mypy" and not run
#    (mutation/mypy_caught.py; MUTATION_MYPY=0 to skip this step, =reuse to keep the last
#    result). mypy takes 1 to 6 minutes.
# 2. Reviewed survivors (mutation/equivalent.txt, each with its reason): a mutant judged equivalent
#    (no behaviour tells it apart), or killed by a test mutmut cannot run (retest_survivors.sh runs
#    it), is not run again while its function's code and the mutant are unchanged
#    (mutation/equivalents.py checks a hash of both), nor, on a Python without numba, a mutant only
#    numba's tests could kill. These are the costliest mutants: a survivor runs every test of its
#    function.
# 3. Per-mutant test selection: mutmut first runs the selected tests once, recording which tests
#    call each function; each remaining mutant then runs only the tests of its function, fastest
#    first, and stops at the first failure (a mutant that makes them hang is stopped at 4x their
#    time: timeout_multiplier in pyproject.toml).
# The run is niced (nice -n 19), uses one worker per core (MUTATION_JOBS to change it) and stops
# after MUTATION_MINUTES (60) of mutmut's wall time; mutants that already have a result are not
# run again, so a second run takes up where a stopped one ended (delete mutants/ for a fresh
# run). Not part of CI. mutation/retest_survivors.sh re-tests the survivors after new tests.
#
# Output: mutants/ (mutmut's working copy, git-ignored), mutation/results.txt (every mutant and
# its status), mutation/mypy_caught.json (mutants mypy rejects, with its first message),
# mutation/equivalent_skipped.txt, killed_outside.txt and needs_numba.txt (the mutants not run),
# mutation/survivors.txt (the diff of each surviving mutant), and the score table on stdout
# (mutation/summarize.py). Record the score and each survivor, killed or justified, in
# docs/mutation.md.
set -euo pipefail
cd "$(dirname "$0")/.."
MUTMUT=${MUTMUT:-$(command -v mutmut || echo "$(dirname "$(command -v python)")/mutmut")}
BIN=$(dirname "$MUTMUT")
JOBS=${MUTATION_JOBS:-$(nproc)}
modules=("$@")
[ ${#modules[@]} -eq 0 ] && modules=(layers losses optim train plan sweep io conventions guard validation)
start=$(date +%s)
# Generate (or refresh) the mutants the way `mutmut run` does, without running anything yet.
nice -n 19 "$BIN/python" - <<'PY'
from mutmut.__main__ import copy_also_copy_files, copy_src_dir, create_mutants, set_mutant_under_test, setup_source_paths
from pathlib import Path
set_mutant_under_test("mutant_generation")
Path("mutants").mkdir(exist_ok=True)
copy_src_dir(); copy_also_copy_files(); setup_source_paths(); create_mutants(1)
PY
if [ "${MUTATION_MYPY:-1}" = reuse ] && [ -f mutation/mypy_caught.json ]; then
  echo "mypy: reusing mutation/mypy_caught.json"
elif [ "${MUTATION_MYPY:-1}" != 0 ]; then
  (cd mutants && nice -n 19 "$BIN/mypy" --config-file ../pyproject.toml refnet -O json > ../mutation/mypy.json 2>/dev/null || true
   "$BIN/python" ../mutation/mypy_caught.py ../mutation/mypy.json ../mutation/mypy_caught.json)
else
  echo '{}' > mutation/mypy_caught.json
fi
# Mutants not run (mutation/equivalent.txt, checked by mutation/equivalents.py: only while their
# function's code and the mutant are unchanged since the review): the equivalents, those killed by a
# test mutmut cannot run, and, when this Python has no numba, the compiled training loop's and those
# only numba's tests can kill (the tests that could kill them skip without numba).
"$BIN/python" mutation/equivalents.py list equivalent mutation/equivalent.txt > mutation/equivalent_skipped.txt
"$BIN/python" mutation/equivalents.py list outside mutation/equivalent.txt > mutation/killed_outside.txt
if ! "$BIN/python" -c "import numba" 2>/dev/null; then
  { grep -ho "refnet\.train\.x__compiled_run__mutmut_[0-9]*" mutants/refnet/train.py.meta | sort -u
    "$BIN/python" mutation/equivalents.py list numba mutation/equivalent.txt; } > mutation/needs_numba.txt
else
  : > mutation/needs_numba.txt
fi
# The mutants still to run: of the chosen modules, without a result, not caught by mypy, not skipped.
mapfile -t names < <("$BIN/python" - "${modules[@]}" <<'PY'
import json, sys
caught = json.load(open("mutation/mypy_caught.json"))
skipped = {name for listed in ("equivalent_skipped", "killed_outside", "needs_numba")
           for name in open(f"mutation/{listed}.txt").read().split()}
for m in sys.argv[1:]:
    for name, code in json.load(open(f"mutants/refnet/{m}.py.meta"))["exit_code_by_key"].items():
        if code is None and name not in caught and name not in skipped:
            print(name)
PY
)
echo "mutants to run: ${#names[@]} (mypy: $(( $(date +%s) - start )) s; not run: $(wc -l < mutation/equivalent_skipped.txt)" \
  "reviewed equivalents, $(wc -l < mutation/killed_outside.txt) killed outside the run, $(wc -l < mutation/needs_numba.txt) needing numba)"
# MPLBACKEND/PYTHONHASHSEED as tox sets them. The run stops after MUTATION_MINUTES (default 60) of wall
# time: mutmut tries the cheapest mutants first, so a stopped run leaves the costliest "not checked".
if [ ${#names[@]} -gt 0 ]; then
  MPLBACKEND=Agg PYTHONHASHSEED=0 timeout -k 60 --signal=INT "${MUTATION_MINUTES:-60}m" \
    nice -n 19 "$MUTMUT" run --max-children "$JOBS" "${names[@]}" || true
fi
echo "wall time: $(( $(date +%s) - start )) s for modules: ${modules[*]}"
: > mutation/survivors.txt
"$MUTMUT" results --all true > mutation/results.txt 2>&1 || true
mods=$(IFS='|'; echo "${modules[*]}")
{ grep -E "^ *refnet\.(${mods})\..*: (survived|no tests)$" mutation/results.txt || true; } | sed -E 's/^ *//; s/: (survived|no tests)$//' | while read -r name; do
  echo "=== $name" >> mutation/survivors.txt
  "$MUTMUT" show "$name" 2>/dev/null | tr -cd '[:print:]\n\t' | sed -n '/^--- /,$p' >> mutation/survivors.txt || true
done
"$BIN/python" mutation/summarize.py mutation/results.txt mutation/mypy_caught.json "${modules[@]}" \
  --equivalent mutation/equivalent_skipped.txt --killed-outside mutation/killed_outside.txt \
  --needs-numba mutation/needs_numba.txt
