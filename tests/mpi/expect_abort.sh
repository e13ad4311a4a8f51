#!/bin/bash
# Usage: expect_abort.sh SECONDS REGEX command...
# Runs the command (mpirun ..., or a program in spawn mode) under `timeout` and passes when
# it ends by itself (before the limit) with a non-zero status and output matching REGEX:
# how gilfree::mpi jobs end when a rank dies or ranks run different binaries (Open MPI
# aborts the job; there is no ULFM).
limit=$1 regex=$2; shift 2
start=$SECONDS
out=$(timeout -k 5 "$limit" "$@" 2>&1); rc=$?
elapsed=$((SECONDS - start))
echo "$out"
echo "expect_abort: exited with status $rc after ${elapsed}s"
if [ "$elapsed" -ge "$limit" ]; then echo "FAIL: the job hung (timeout)"; exit 1; fi
if [ "$rc" -eq 0 ]; then echo "FAIL: the job succeeded"; exit 1; fi
if ! grep -Eq "$regex" <<<"$out"; then echo "FAIL: no message matching /$regex/"; exit 1; fi
if grep -q "unreachable" <<<"$out"; then echo "FAIL: rank 0 went on"; exit 1; fi
echo "PASS"
