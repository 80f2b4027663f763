#!/usr/bin/env bash
# Build one variant of llama.cpp's CPU backend (libggml-cpu.so) from the sources of the pinned
# llama-cpp-python, for `benchmarks/bench_generation.py --builds`: the speed of the Makefile's portable build
# against what other instruction sets would give, on the same machine and prompts.
#
#   benchmarks/build_ggml_cpu.sh native    /tmp/ggml/native      # what pip's default build makes (-march=native:
#                                                               # AMX where /proc/cpuinfo reports it)
#   benchmarks/build_ggml_cpu.sh avx512    /tmp/ggml/avx512      # every x86 extension up to AVX-512 BF16, no AMX
#   benchmarks/build_ggml_cpu.sh x86-64-v4 /tmp/ggml/x86-64-v4   # the Makefile's LLAMA_ISA=x86-64-v4
#   benchmarks/build_ggml_cpu.sh x86-64-v3 /tmp/ggml/x86-64-v3   # the Makefile's default LLAMA_ISA
#
# Prints how many AMX instructions (ldtilecfg) the library holds. Needs cmake and a C++ compiler; builds only the
# ggml-cpu target (a few minutes on 2 cores).
set -euo pipefail
variant=${1:?variant: native, avx512, x86-64-v4 or x86-64-v3}
out=${2:?output directory}
version=${LLAMA_CPP_VERSION:-0.3.36}
portable="-DGGML_NATIVE=OFF -DGGML_SSE42=ON -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON"
case $variant in
  native)    flags="-DGGML_NATIVE=ON" ;;
  avx512)    flags="$portable -DGGML_AVX_VNNI=ON -DGGML_AVX512=ON -DGGML_AVX512_VBMI=ON -DGGML_AVX512_VNNI=ON -DGGML_AVX512_BF16=ON" ;;
  x86-64-v4) flags="$portable -DGGML_AVX512=ON" ;;
  x86-64-v3) flags="$portable" ;;
  *) echo "unknown variant $variant (native, avx512, x86-64-v4, x86-64-v3)" >&2; exit 2 ;;
esac
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m pip download --quiet --no-deps --no-binary :all: "llama-cpp-python==$version" -d "$work" 2>/dev/null
tar xzf "$work"/llama_cpp_python-*.tar.gz -C "$work"
src=$(echo "$work"/llama_cpp_python-*/vendor/llama.cpp)
# shellcheck disable=SC2086
cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON -DLLAMA_CURL=OFF \
  -DGGML_BACKEND_DL=OFF -DGGML_CPU_ALL_VARIANTS=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
  -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF $flags >"$work/configure.log" 2>&1 \
  || { tail -20 "$work/configure.log"; exit 1; }
cmake --build "$work/build" --target ggml-cpu -j "$(nproc)" >"$work/build.log" 2>&1 \
  || { grep -E "error|Error" "$work/build.log" | head -20; exit 1; }
mkdir -p "$out"
lib=$(find "$work/build" -name 'libggml-cpu.so*' | head -1)
[ -n "$lib" ] || { echo "no libggml-cpu.so built" >&2; exit 1; }
cp -L "$lib" "$out/libggml-cpu.so"
echo "$out/libggml-cpu.so ($variant): $(objdump -d --no-show-raw-insn "$out/libggml-cpu.so" | grep -c ldtilecfg || true) ldtilecfg"
