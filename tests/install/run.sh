#!/usr/bin/env bash
# Installs the build in $1 into a scratch prefix, then builds and runs a consumer with
# find_package(gilfree) and with pkg-config; and, when the build has the Python module,
# an extension using <gilfree/python.hpp>, imported beside the installed gilfree module.
set -euo pipefail
build=$1; src=$(cd "$(dirname "$0")" && pwd)
scratch=$(mktemp -d); trap 'rm -rf "$scratch"' EXIT
python=$(sed -n 's/^Python3_EXECUTABLE:[A-Z]*=//p' "$build/CMakeCache.txt")
cmake --install "$build" --prefix "$scratch/prefix" >/dev/null
cmake -S "$src" -B "$scratch/cmake" -DCMAKE_PREFIX_PATH="$scratch/prefix" \
  ${python:+-DPython3_EXECUTABLE="$python"} >/dev/null
cmake --build "$scratch/cmake" >/dev/null
"$scratch/cmake/consumer"
PKG_CONFIG_PATH="$scratch/prefix/lib/pkgconfig" \
  c++ "$src/main.cpp" $(PKG_CONFIG_PATH="$scratch/prefix/lib/pkgconfig" pkg-config --cflags --libs gilfree) \
  -o "$scratch/pc-consumer"
"$scratch/pc-consumer"
ext=$(ls "$scratch"/cmake/consumer_ext*.so 2>/dev/null || true)
site=$(ls -d "$scratch"/prefix/lib/python3*/site-packages 2>/dev/null || true)
if [ -n "$ext" ] && [ -n "$site" ] && [ -n "$python" ]; then
  PYTHONPATH="$site:$scratch/cmake" "$python" - <<'PY'
import gilfree, consumer_ext
inq, outq, done = gilfree.Queue(), gilfree.Queue(), gilfree.Event()
item = object()
inq.put(item)
consumer_ext.pass_through(inq, outq, done)
assert done.is_set() and outq.get_nowait() is item
assert type(consumer_ext.make_event()) is gilfree.Event
libs = {l.split()[-1] for l in open("/proc/self/maps") if "libgilfree_shared" in l}
assert len(libs) == 1 and "/prefix/lib/" in next(iter(libs)), libs
print("installed python.hpp extension works:", next(iter(libs)).rsplit("/", 1)[-1])
PY
else
  echo "install test: no Python module in this build, python.hpp extension skipped"
fi
