#!/bin/bash
# CI-like runs, as the GitHub Action does them (cache and signing key in the runner's temp folder,
# restored with actions/cache):
#   job 1  = fresh clone of the default branch, empty cache: a cold run, whose cache is saved;
#   job 2  = another fresh clone of the same commit with job 1's cache and key restored;
#   job 3  = a fresh clone of a branch that changed 5 Python files (a line inserted in the middle
#            of each, committed) with job 1's cache and key restored: a pull request's run;
#   job 2b = job 2 with the cache folder restored but not the key (every entry is refused).
# Usage: bench/ci_cache.sh PATH-TO-GIT-REPO [RUNS]   (MLAUDIT=path/to/mlaudit to choose the build)
repo=${1:?path of a git repository}; runs=${2:-3}; ML=${MLAUDIT:-mlaudit}
T="/usr/bin/time -f %e_wall_%U_user_%S_sys"
for i in $(seq "$runs"); do
  work=${TMPDIR:-/tmp}/mlaudit_ci_$i
  rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 2
  git clone -q "$repo" a && git clone -q "$repo" b && git clone -q "$repo" c && git clone -q "$repo" d
  (cd d && git checkout -q -b feature && for f in $(git ls-files '*.py' | head -5); do
     awk -v m=$(( $(wc -l < "$f") / 2 )) '{print} NR==m {print "# changed on the branch"}' "$f" > "$f.new" && mv "$f.new" "$f"
   done && git -c user.name=ci -c user.email=ci@localhost commit -qam "change five files")
  job() {  # job NAME CLONE TEMP: mlaudit check as the action runs it, timed
    (cd "$2" && XDG_CACHE_HOME="$work/$3/home" $T $ML check . --cache-dir "$work/$3/cache" \
      --output-format sarif -o "$work/$1.sarif" --exit-zero -v > /dev/null 2> "$work/$1.err")
  }
  mkdir -p t1
  job cold a t1
  for t in t2 t3; do cp -r t1 $t; done
  mkdir -p t4 && cp -r t1/cache t4/
  job restored b t2
  job branch d t3
  job nokey c t4
  cached() { grep -o '[0-9]* cached' "$work/$1.err"; }
  echo "run $i cold $(tail -1 cold.err) | restored $(tail -1 restored.err), $(cached restored)" \
       "| branch, 5 files changed $(tail -1 branch.err), $(cached branch)" \
       "| restored without the key $(tail -1 nokey.err), $(cached nokey)"
done
