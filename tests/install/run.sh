#!/usr/bin/env bash
# Installs the build in $1 into a scratch prefix, then builds and runs a consumer with
# find_package(gilfree) and with pkg-config.
set -euo pipefail
build=$1; src=$(cd "$(dirname "$0")" && pwd)
scratch=$(mktemp -d); trap 'rm -rf "$scratch"' EXIT
cmake --install "$build" --prefix "$scratch/prefix" >/dev/null
cmake -S "$src" -B "$scratch/cmake" -DCMAKE_PREFIX_PATH="$scratch/prefix" >/dev/null
cmake --build "$scratch/cmake" >/dev/null
"$scratch/cmake/consumer"
PKG_CONFIG_PATH="$scratch/prefix/lib/pkgconfig" \
  c++ "$src/main.cpp" $(PKG_CONFIG_PATH="$scratch/prefix/lib/pkgconfig" pkg-config --cflags --libs gilfree) \
  -o "$scratch/pc-consumer"
"$scratch/pc-consumer"
