#!/usr/bin/env bash
# Installs the Debian packages gilfree builds, tests and benchmarks with, when missing.
# Quiet and fast (one dpkg query) when everything is present.
set -euo pipefail
PACKAGES=(
  build-essential cmake pkg-config
  libgtest-dev libgmock-dev libbenchmark-dev   # tests and benchmarks
  libcereal-dev                                 # values crossing a process boundary
  pybind11-dev python3-dev                      # the Python module
  libtbb-dev libconcurrentqueue-dev libboost-dev libatomic-queue-dev  # benchmark peers
  libcpp-httplib-dev                            # the flag server of the seed programs
  gnuplot-nox                                   # BENCHMARKS.md plots
  libssl-dev                                    # multiprocessing: HMAC of the authkey handshake
  openmpi-bin libopenmpi-dev python3-mpi4py     # gilfree::mpi and its peer, mpi4py.futures
  clang libclang-rt-14-dev                      # multiprocessing: the libFuzzer target
  python3-numpy                                 # the vecmath extension (seed 000) compares with NumPy
  python3-irc ngircd irssi tmux                 # the IRC example's tests against real IRC software
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
