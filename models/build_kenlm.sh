#!/usr/bin/env bash
# Builds KenLM's trainer (lmplz) and its binary-format converter (build_binary) from the kenlm sdist on PyPI, once,
# into DEST (default .venv/kenlm/bin). No Debian package ships them and the PyPI wheel-less sdist builds only the
# Python query module, so the `train_kenlm` node needs this step (../shared/corpus/SOURCES.md, "KenLM tooling").
#
# Needs cmake, a C++ compiler, Boost (program-options, system, thread, test: all four are required by KenLM's
# CMakeLists) and zlib/bz2/lzma headers; as root, missing Debian packages are installed (a few minutes with
# apt-get on a new machine). Compiling the two targets takes about a minute on 2 cores.
set -euo pipefail
KENLM_VERSION=0.3.0
DEST=${1:-.venv/kenlm/bin}
PIP=${PIP:-pip}
if [ -x "$DEST/lmplz" ] && [ -x "$DEST/build_binary" ]; then
  echo "KenLM tools already built in $DEST"
  exit 0
fi
packages="build-essential cmake libboost-program-options-dev libboost-system-dev libboost-thread-dev
  libboost-test-dev zlib1g-dev libbz2-dev liblzma-dev"
missing=""
for package in $packages; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing="$missing $package"
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing build dependencies: $missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq $missing >/dev/null
  else
    echo "KenLM needs these Debian packages: $missing (sudo apt-get install $missing), then run this again" >&2
    exit 1
  fi
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# --no-binary for kenlm alone: ":all:" would also refuse wheels for its build requirements (cmake), and pip would
# compile CMake from source first (about 40 minutes on 2 cores).
echo "fetching the kenlm $KENLM_VERSION sdist"
"$PIP" download -q --no-deps --no-binary kenlm "kenlm==$KENLM_VERSION" -d "$work"
tar -xzf "$work"/kenlm-*.tar.gz -C "$work"
src=$(find "$work" -maxdepth 1 -type d -name 'kenlm-*' | head -n 1)
mkdir -p "$work/build"
cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release >"$work/cmake.log" 2>&1 \
  || { tail -n 30 "$work/cmake.log" >&2; exit 1; }
echo "compiling lmplz and build_binary (about a minute on 2 cores)"
make -C "$work/build" -j"$(nproc)" lmplz build_binary >"$work/make.log" 2>&1 \
  || { tail -n 30 "$work/make.log" >&2; exit 1; }
mkdir -p "$DEST"
cp "$work/build/bin/lmplz" "$work/build/bin/build_binary" "$DEST/"
echo "built KenLM $KENLM_VERSION lmplz and build_binary into $DEST"
