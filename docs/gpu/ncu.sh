#!/usr/bin/env bash
# (Run on the GPU machine as .gpu-carry/ncu.sh; bin/gpu-check prepare puts it there.)
# Kernel times of one decode step and one 2048-token prefill of the 1B model, by ncu.
set -u
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
jre=/tmp/baton-jre
[[ -x $jre/jre/bin/java ]] || { mkdir -p $jre && tar -C $jre -xJf "$root/.gpu-carry/jre.tar.xz"; }
export BATON_CUDA_CACHE=/tmp/baton-cuda-cache
run() { /usr/local/cuda/bin/ncu --metrics gpu__time_duration.sum,dram__bytes_read.sum,dram__bytes_write.sum --csv \
  "$jre/jre/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx32g \
  -cp "$root/.gpu-carry/lib/*" dev.baton.cuda.check.KernelProfile /tmp/kp "$1"; }
run decode > "${OUT:-/tmp}/ncu-decode.csv" 2>"${OUT:-/tmp}/ncu-decode.err"
run prefill > "${OUT:-/tmp}/ncu-prefill.csv" 2>"${OUT:-/tmp}/ncu-prefill.err"
python3 "$root/.gpu-carry/ncu_summary.py" "${OUT:-/tmp}/ncu-decode.csv" 4
python3 "$root/.gpu-carry/ncu_summary.py" "${OUT:-/tmp}/ncu-prefill.csv" 1
tail -3 "${OUT:-/tmp}/ncu-decode.err"
