#!/usr/bin/env bash
# Mutation testing of refnet's core modules with mutmut (configured in pyproject.toml, [tool.mutmut]).
#
#   mutation/run.sh                       # the default subset: optim, io, validation, losses
#   mutation/run.sh sweep plan            # other core modules (any of those listed in only_mutate)
#   MUTMUT=/path/to/mutmut mutation/run.sh
#
# Per-mutant test selection: mutmut first runs the selected tests once, recording which tests
# call each function; each mutant then runs only the tests of its function, fastest first, and
# stops at the first failure. The run is niced (nice -n 19) and uses one worker process by
# default (MUTATION_JOBS to change it): the machine is shared. Not part of CI.
#
# Output: mutants/ (mutmut's working copy, git-ignored), mutation/results.txt (every mutant and
# its status), mutation/survivors.txt (the diff of each surviving mutant). Record the score and
# each survivor, killed or justified, in docs/mutation.md.
set -euo pipefail
cd "$(dirname "$0")/.."
MUTMUT=${MUTMUT:-$(command -v mutmut || echo "$(dirname "$(command -v python)")/mutmut")}
JOBS=${MUTATION_JOBS:-1}
modules=("$@")
[ ${#modules[@]} -eq 0 ] && modules=(optim io validation losses)
patterns=()
for m in "${modules[@]}"; do patterns+=("refnet.${m}.*"); done
start=$(date +%s)
# MPLBACKEND/PYTHONHASHSEED as tox sets them; MUTMUT_RUN tells nothing to the code under test
MPLBACKEND=Agg PYTHONHASHSEED=0 nice -n 19 "$MUTMUT" run --max-children "$JOBS" "${patterns[@]}" || true
echo "wall time: $(( $(date +%s) - start )) s for modules: ${modules[*]}"
"$MUTMUT" results --all true > mutation/results.txt 2>&1 || true
: > mutation/survivors.txt
for m in "${modules[@]}"; do
  grep -E "^ *refnet\.${m}\..*: survived" mutation/results.txt | sed -E 's/^ *//; s/: survived$//' |
    while read -r name; do
      echo "=== $name" >> mutation/survivors.txt
      "$MUTMUT" show "$name" >> mutation/survivors.txt 2>&1 || true
    done
done
for status in killed survived timeout suspicious "no tests" skipped; do
  printf '%-10s %s\n' "$status" "$(grep -cE ": ${status}\$" mutation/results.txt || true)"
done
