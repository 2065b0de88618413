#!/bin/sh
# Builds the native kernel library (baton_kernels.c) into $1 with the machine's C compiler; run by
# the module's Maven build. Where it cannot (no compiler, not x86-64 Linux, BATON_NATIVE=off, a
# failed compile) it says why and succeeds without the library: the engine then runs its Vector
# API kernels (NativeKernels.available() is false).
set -u
out="$1"
src="$(dirname "$0")/baton_kernels.c"
lib="$out/libbaton_kernels.so"
cc="${CC:-cc}"
skip() { echo "baton native kernels: not built ($1); the Vector API kernels will run"; rm -f "$lib"; exit 0; }
[ "${BATON_NATIVE:-on}" = off ] && skip "BATON_NATIVE=off"
[ "$(uname -s)/$(uname -m)" = Linux/x86_64 ] || skip "$(uname -s)/$(uname -m) is not x86-64 Linux"
command -v "$cc" >/dev/null 2>&1 || skip "no C compiler '$cc'"
[ -f "$lib" ] && [ "$lib" -nt "$src" ] && [ "$lib" -nt "$0" ] && exit 0
mkdir -p "$out"
# No -march=native: the AVX-512 functions carry their own target attributes and the library
# checks the CPU at run time, so one build runs (or declines politely) on any x86-64 CPU.
if "$cc" -std=c11 -O3 -fPIC -shared -Wall -Wextra -Werror -o "$lib.tmp" "$src" -lpthread; then
  mv "$lib.tmp" "$lib"
else
  rm -f "$lib.tmp"
  skip "the compile failed"
fi
