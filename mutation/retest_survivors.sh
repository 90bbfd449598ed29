#!/usr/bin/env bash
# Re-test the survivors of the last mutation/run.sh against the current tests and code, one by one:
# each survivor's diff (from `mutmut show`) is applied to a scratch copy of the tree and the tests of
# its module run there (niced). Prints one line per survivor: killed, survived, or "code changed"
# (the mutated lines no longer exist: removed or rewritten since the run).
#
#   mutation/retest_survivors.sh            # every survivor in mutation/results.txt
#   RETEST_TESTS="tests/test_x.py::test_new" mutation/retest_survivors.sh
#                                           # only the tests written after the run (faster: the
#                                           # survivors passed every other test of the selection)
set -uo pipefail
cd "$(dirname "$0")/.."
MUTMUT=${MUTMUT:-$(command -v mutmut || echo "$(dirname "$(command -v python)")/mutmut")}
PYTHON=${PYTHON:-$(dirname "$MUTMUT")/python}
# the tests that hold each module's promises (fast; the full selection of run.sh is the final word)
declare -A TESTS=(
  [optim]="tests/test_optim.py tests/test_optimizer_state.py"
  [io]="tests/test_weight_files.py tests/test_io.py"
  [validation]="tests/test_output_paths.py tests/test_optimizer_state.py tests/test_input_data.py tests/test_argument_names.py"
  [losses]="tests/test_losses.py tests/test_argument_names.py"
  [layers]="tests/test_layers.py tests/test_network.py tests/test_conventions.py tests/test_gradcheck.py"
  [train]="tests/test_train.py tests/test_input_data.py tests/test_optimizer_state.py tests/test_network.py"
  [plan]="tests/test_plan.py tests/test_plan_guard_limit.py"
  [sweep]="tests/test_sweep.py tests/test_sweep_rounds.py tests/test_argument_names.py"
  [conventions]="tests/test_conventions.py tests/test_network.py tests/test_lab.py"
  [guard]="tests/test_guard.py tests/test_plan_guard_limit.py tests/test_plan.py"
)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
git ls-files -z | xargs -0 -I{} cp --parents {} "$scratch"/ 2>/dev/null
grep -E ": (survived|no tests)$" "${RESULTS:-mutation/results.txt}" | sed -E 's/^ *//; s/: (survived|no tests)$//' | while read -r name; do
  module=$(echo "$name" | cut -d. -f2)
  file="refnet/$module.py"
  cp "$file" "$scratch/$file"
  # the diff as the run saw it (mutation/survivors.txt; mutmut renumbers a changed function's
  # mutants when it regenerates them), else as mutmut shows it now
  awk -v n="=== $name" '$0 == n {on = 1; next} /^=== / {on = 0} on' "${SURVIVORS:-mutation/survivors.txt}" \
    > "$scratch/m.diff" 2>/dev/null || true
  [ -s "$scratch/m.diff" ] || "$MUTMUT" show "$name" 2>/dev/null | tr -cd '[:print:]\n\t' | sed -n '/^--- /,$p' > "$scratch/m.diff"
  if ! "$PYTHON" mutation/apply_diff.py "$scratch/m.diff" "$scratch/$file"; then
    echo "$name: code changed"; cp "$file" "$scratch/$file"; continue
  fi
  if (cd "$scratch" && MPLBACKEND=Agg nice -n 19 timeout 600 "$PYTHON" -m pytest -x -q -p no:cacheprovider \
        ${RETEST_TESTS:-${TESTS[$module]}} >/dev/null 2>&1); then
    echo "$name: survived"
  else
    echo "$name: killed"
  fi
  cp "$file" "$scratch/$file"
done
