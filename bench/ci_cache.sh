#!/bin/bash
# CI-like run: job 1 = fresh clone, fresh HOME cache, cold run; job 2 = another fresh clone with job 1's
# .mlaudit_cache (and the signing key) restored as actions/cache would; job 2b = restored cache without the key.
repo=${1:?path of a git repository}; ML=${MLAUDIT:-mlaudit}; T="/usr/bin/time -f %e_wall_%U_user_%S_sys"
for i in 1 2 3; do
  rm -rf ${TMPDIR:-/tmp}/mlaudit_ci_$i && mkdir -p ${TMPDIR:-/tmp}/mlaudit_ci_$i && cd ${TMPDIR:-/tmp}/mlaudit_ci_$i
  git clone -q "$repo" a && git clone -q "$repo" b && git clone -q "$repo" c
  mkdir -p home1/mlaudit home2/mlaudit home3
  (cd a && XDG_CACHE_HOME=${TMPDIR:-/tmp}/mlaudit_ci_$i/home1 $T $ML check . --output-format json > /dev/null 2> ../cold.err)
  cp -r a/.mlaudit_cache b/; cp -r a/.mlaudit_cache c/; cp home1/mlaudit/key home2/mlaudit/key
  (cd b && XDG_CACHE_HOME=${TMPDIR:-/tmp}/mlaudit_ci_$i/home2 $T $ML check . --output-format json -v > /dev/null 2> ../restored.err)
  (cd c && XDG_CACHE_HOME=${TMPDIR:-/tmp}/mlaudit_ci_$i/home3 $T $ML check . --output-format json -v > /dev/null 2> ../nokey.err)
  echo "run $i cold $(tail -1 ../cold.err 2>/dev/null || tail -1 cold.err) | restored $(tail -1 restored.err) | $(grep -o '[0-9]* cached' restored.err) | restored-without-key $(tail -1 nokey.err) | $(grep -o '[0-9]* cached' nokey.err)"
done
