#!/usr/bin/env bash
# gpu-check.sh: the GPU check of issue 8, in two halves.
#
#   scripts/gpu-check.sh build   here (Go, gcc, pip; no GPU): the CUDA headers from NVIDIA's wheels
#                                and the linked test binaries, in out/cuda/gpu-tests/
#   scripts/gpu-check.sh run     on the GPU machine (no Go needed): finds the driver, cuBLAS and
#                                cuDNN, runs the GPU-vs-CPU tests and the benchmarks, and writes
#                                the results under $OUT (default out/cuda/results)
#
# The run half needs only what it carries (out/cuda/gpu-tests/, about 45 MB gzipped) and the machine's
# libraries: the NVIDIA driver, cuBLAS 12 or 13 and cuDNN 9, found in a PyTorch install's
# nvidia/*/lib and torch/lib folders, a CUDA toolkit, the system's library folders, or
# $CONVAS_CUDA_LIB. With the device tool:
#
#   scripts/gpu-check.sh build
#   run(command="bash scripts/gpu-check.sh run", carry=["out/cuda/gpu-tests"], timeout_s=540)
#
# Exit status of run: 0 all passed; 1 a test failed; 3 no GPU here (the message says why); 4 a
# GPU but no cuBLAS or cuDNN found.
set -uo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
bins=$here/out/cuda/gpu-tests

log() { printf 'gpu-check: %s\n' "$*" >&2; }

build() {
	set -e
	"$here/scripts/cuda-build.sh" fetch
	"$here/scripts/cuda-build.sh" tests
	ls -la "$bins" >&2
	log "built; carry out/cuda/gpu-tests to the GPU machine and run: bash scripts/gpu-check.sh run"
}

# libdirs prints the folders that hold cuBLAS or cuDNN on this machine, best first.
libdirs() {
	local py d
	[ -n "${CONVAS_CUDA_LIB:-}" ] && echo "$CONVAS_CUDA_LIB"
	for py in python3 python; do
		command -v "$py" >/dev/null || continue
		"$py" - <<-'EOF' 2>/dev/null
		import glob, os, site, sys
		roots = set(site.getsitepackages() + [site.getusersitepackages()] + [p for p in sys.path if p])
		for r in sorted(roots):
		    for d in glob.glob(os.path.join(r, "nvidia", "*", "lib")) + glob.glob(os.path.join(r, "nvidia", "cu*", "lib")) + [os.path.join(r, "torch", "lib")]:
		        if os.path.isdir(d):
		            print(d)
		EOF
		break
	done
	for d in /usr/local/cuda/lib64 /usr/local/cuda-*/lib64 /usr/local/cuda/targets/x86_64-linux/lib \
		/usr/lib/x86_64-linux-gnu /usr/lib64 /opt/conda/lib; do
		[ -d "$d" ] && echo "$d"
	done
}

find_lib() { # find_lib pattern...: the first folder of libdirs holding one of the patterns
	local d p
	while read -r d; do
		for p in "$@"; do
			compgen -G "$d/$p" >/dev/null && { echo "$d"; return 0; }
		done
	done < <(libdirs)
	return 1
}

run() {
	local out=${OUT:-$here/out/cuda/results}
	mkdir -p "$out"
	[ -f "$bins/gpu.test.gz" ] || { log "no $bins/gpu.test.gz: run 'scripts/gpu-check.sh build' where Go is, and carry out/cuda/gpu-tests"; exit 2; }
	# Everything travels gzipped (the device tool carries 64 MiB); unpack it into a scratch
	# folder, not under $OUT, whose files travel back.
	local f rel unpacked
	unpacked=$(mktemp -d "${TMPDIR:-/tmp}/convas-gpu-check.XXXXXX")
	for f in "$bins"/*.gz "$bins"/lib/*.gz; do
		rel=${f#"$bins"/}
		mkdir -p "$unpacked/$(dirname "$rel")"
		gzip -dc "$f" >"$unpacked/${rel%.gz}" || { log "cannot unpack $f"; exit 2; }
		chmod +x "$unpacked/${rel%.gz}"
	done
	bins=$unpacked
	{
		echo "date: $(date -u +%FT%TZ)"
		echo "host: $(uname -srm)"
		echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //') ($(nproc) cores)"
		echo "glibc: $(ldd --version 2>&1 | head -1)"
		command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used --format=csv
	} >"$out/machine.txt" 2>&1
	cat "$out/machine.txt" >&2

	# The driver first: without it nothing else matters, and the message must say so plainly.
	local probe
	probe=$("$bins/gpu.test" -test.run '^TestDevicesListed$' -test.v 2>&1)
	if grep -q 'no GPU to test on' <<<"$probe"; then
		log "no GPU on this machine: $(grep -o 'no GPU to test on: .*' <<<"$probe" | head -1 | sed 's/^no GPU to test on: //')"
		log "nothing was measured; on a machine with an NVIDIA GPU and its driver this runs the GPU tests and benchmarks"
		echo "$probe" >"$out/probe.txt"
		exit 3
	fi

	local blas dnn
	blas=$(find_lib 'libcublas.so.12' 'libcublas.so.13' 'libcublas.so') || { log "a GPU, but no cuBLAS 12 or 13 found (set CONVAS_CUDA_LIB)"; exit 4; }
	dnn=$(find_lib 'libcudnn.so.9') || { log "a GPU, but no cuDNN 9 found (set CONVAS_CUDA_LIB)"; exit 4; }
	export LD_LIBRARY_PATH="$blas:$dnn${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
	# cuBLAS's own dependency (libcublasLt) and cuDNN's parts sit beside them; a pip install puts
	# the CUDA runtime and nvrtc in sibling folders, which cuDNN's runtime-compiled engines use.
	local d
	for d in "$blas/../../cuda_runtime/lib" "$blas/../../cuda_nvrtc/lib" "$dnn/../../cuda_nvrtc/lib"; do
		[ -d "$d" ] && LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$(cd "$d" && pwd)"
	done
	log "libraries: cuBLAS from $blas, cuDNN from $dnn"
	echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH" >>"$out/machine.txt"

	local rc=0
	log "tests (GPU against the CPU twins of compute/nn)"
	"$bins/gpu.test" -test.v -test.count=1 -test.timeout=300s >"$out/gpu-tests.txt" 2>&1 || rc=1
	"$bins/device.test" -test.v -test.count=1 >"$out/device-tests.txt" 2>&1 || rc=1
	grep -E '^(--- |ok|FAIL|PASS)|relative error|cuDNN [0-9]' "$out/gpu-tests.txt" | head -120 >&2
	log "benchmarks"
	"$bins/gpu.test" -test.run '^$' -test.bench . -test.benchtime 1s -test.timeout=300s >"$out/gpu-bench.txt" 2>&1 || rc=1
	grep -E 'Benchmark|^ok|FAIL' "$out/gpu-bench.txt" >&2

	# The recipes on the GPU, through compute/nn's seam: each placed test against the CPU, then
	# the recipes' benchmarks with -device cuda. They link OpenBLAS, carried in lib/.
	local rec=$bins t
	export LD_LIBRARY_PATH="$bins/lib:$LD_LIBRARY_PATH"
	log "recipes placed on the GPU against the CPU"
	for t in style dream train transfer; do
		(cd "$rec" && ./$t.test -test.run '^TestPlaced' -test.v -test.count=1 -test.timeout=120s -device cuda) \
			>"$out/$t-placed.txt" 2>&1 || rc=1
		grep -E '^(--- |ok|FAIL)|relative error|placed:' "$out/$t-placed.txt" >&2
	done
	log "recipe benchmarks on the GPU"
	bench() { # bench name binary pattern benchtime
		(cd "$rec" && ./$2.test -test.run '^$' -test.bench "$3" -test.benchtime "$4" -test.timeout=240s -device cuda) \
			>"$out/$1-bench.txt" 2>&1 || rc=1
		grep -E '^Benchmark|FAIL|panic' "$out/$1-bench.txt" >&2
	}
	bench style style 'StyleIteration/512$' 20x
	bench dream512 dream 'DreamSeedDefault$' 3x
	bench dream1024 dream 'DreamSeedDefault1024$' 2x
	bench mnist-step train 'MNISTStep$' 50x
	bench mnist-recipe train 'MNISTRecipe$' 1x
	bench extract transfer 'Extract/(googlenet|vgg19)' 5x
	{
		echo "tests and subtests: $(grep -cE '^\s*--- PASS' "$out/gpu-tests.txt") passed, $(grep -cE '^\s*--- FAIL' "$out/gpu-tests.txt") failed, $(grep -cE '^\s*--- SKIP' "$out/gpu-tests.txt") skipped"
		grep -m1 'cuDNN [0-9]' "$out/gpu-tests.txt"
		echo "exit: $rc"
	} >"$out/summary.txt"
	cat "$out/summary.txt" >&2
	exit $rc
}

case ${1:-} in
build) build ;;
run) run ;;
*)
	echo "usage: $0 build|run" >&2
	exit 2
	;;
esac
