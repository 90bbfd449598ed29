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
# default (MUTATION_JOBS to change it) for at most MUTATION_MINUTES (40): the machine is shared.
# Not part of CI. mutation/retest_survivors.sh re-tests the survivors after new tests are written.
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
# MPLBACKEND/PYTHONHASHSEED as tox sets them. The run stops after MUTATION_MINUTES (default 40) of wall
# time: mutmut tries the cheapest mutants first, so a stopped run leaves the costliest "not checked".
MPLBACKEND=Agg PYTHONHASHSEED=0 timeout -k 60 --signal=INT "${MUTATION_MINUTES:-40}m" \
  nice -n 19 "$MUTMUT" run --max-children "$JOBS" "${patterns[@]}" || true
echo "wall time: $(( $(date +%s) - start )) s for modules: ${modules[*]}"
: > mutation/survivors.txt
"$MUTMUT" results --all true > mutation/results.txt 2>&1 || true
grep -E ": survived$" mutation/results.txt | sed -E 's/^ *//; s/: survived$//' | while read -r name; do
  echo "=== $name" >> mutation/survivors.txt
  "$MUTMUT" show "$name" 2>/dev/null | tr -cd '[:print:]\n\t' | sed -n '/^--- /,$p' >> mutation/survivors.txt || true
done
for m in "${modules[@]}"; do  # "not checked": not reached (the run was stopped, or not selected)
  echo "$m: $(grep -E "^ *refnet\.${m}\." mutation/results.txt | sed -E 's/.*: //' | sort | uniq -c | tr '\n' ' ')"
done
