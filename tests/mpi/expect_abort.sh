#!/bin/bash
# Usage: expect_abort.sh SECONDS REGEX mpirun-args...
# Runs mpirun under `timeout` and passes when the job ends by itself (no timeout) with a
# non-zero status and output matching REGEX: how gilfree::mpi jobs end when a rank dies
# or ranks run different binaries (Open MPI aborts the job; there is no ULFM).
limit=$1 regex=$2; shift 2
out=$(timeout -k 5 "$limit" mpirun "$@" 2>&1); rc=$?
echo "$out"
echo "expect_abort: mpirun exited with status $rc"
if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then echo "FAIL: the job hung (timeout)"; exit 1; fi
if [ "$rc" -eq 0 ]; then echo "FAIL: the job succeeded"; exit 1; fi
if ! grep -Eq "$regex" <<<"$out"; then echo "FAIL: no message matching /$regex/"; exit 1; fi
if grep -q "unreachable" <<<"$out"; then echo "FAIL: rank 0 went on"; exit 1; fi
echo "PASS"
