#!/usr/bin/env bash
# cuda-build.sh: the GPU build of Convas (build tag convas_cuda) from NVIDIA's PyPI wheels,
# without a CUDA toolkit.
#
#   scripts/cuda-build.sh [step...]   steps: fetch env check link tests try-cu nvcc
#                                     (default: fetch check link tests)
#
#   fetch   pip download the wheels into $CONVAS_CUDA_CACHE/wheels (kept; pip reuses what is there)
#           and unpack their headers and libraries into $CONVAS_CUDA_CACHE/root
#   env     print the CGO_CFLAGS (and the library folder) a cuda build needs, as shell exports:
#           eval "$(scripts/cuda-build.sh env)"
#   check   go vet and go build, with -tags convas_cuda, every package that has files with that tag
#           or imports one; go test compute/gpu and compute/device with it (no GPU needed)
#   link    link the binary (out/cuda/convas-cuda) and print the libraries it needs at run time
#   tests   build the linked test binaries the GPU check runs (out/cuda/gpu-tests/*.test)
#   try-cu  compile gorgonia.org/cu (core, blas, dnn) against these headers and link it against a
#           libcuda stub: the experiment behind docs/GPU.md's choice of binding
#   nvcc    fetch the CUDA 13 compiler wheels and print nvcc's path (for scripts/cuda-kernels.sh)
#
# compute/gpu opens libcuda, cuBLAS and cuDNN with dlopen at run time, so compiling needs only
# their headers and linking needs no CUDA library at all (not even a libcuda stub): the binary
# starts on a machine without the driver and reports that no GPU can be used. At run time it
# needs the NVIDIA driver (libcuda.so.1), cuBLAS 12 or 13 (libcublas.so.12, libcublasLt.so.12) and
# cuDNN 9 (libcudnn.so.9 and its libcudnn_*.so.9 parts) on the loader's path: from a CUDA
# toolkit, from these wheels ($CONVAS_CUDA_CACHE/root/lib), or from a PyTorch install.
#
# Environment: CONVAS_CUDA_CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/convas/cuda),
# PIP (default pip). Needs Go, gcc, unzip and pip; no GPU.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cache=${CONVAS_CUDA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/convas/cuda}
pip=${PIP:-pip}
root=$cache/root

# The wheels a build needs: headers for the compile, libraries for the run. Versions are pinned so
# that a build is repeatable; any CUDA 12.x runtime and cuBLAS and any cuDNN 9.x work.
build_wheels=(
	nvidia-cuda-runtime-cu12==12.9.79 # cuda.h, cuda_runtime_api.h
	nvidia-cuda-nvcc-cu12==12.9.86    # crt/host_defines.h (cuda_runtime_api.h includes it), ptxas
	nvidia-cuda-cccl-cu12==12.9.27    # nv/target (cuda_fp16.h, which cublas_api.h includes)
	nvidia-cublas-cu12==12.6.4.1      # cublas_v2.h, libcublas.so.12, libcublasLt.so.12
	nvidia-cudnn-cu12==9.5.0.50       # cudnn.h, libcudnn*.so.9
)
# The kernel compiler, only for `go generate ./compute/gpu/` (the generated code is checked in):
# the CUDA 12 wheels carry ptxas but no nvcc; the CUDA 13 ones carry nvcc and its front end.
nvcc_wheels=(
	nvidia-cuda-nvcc==13.5.37
	nvidia-nvvm==13.5.37
	nvidia-cuda-crt==13.5.37
	nvidia-cuda-runtime==13.5.37
)

log() { printf 'cuda-build: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# download dir wheel...: pip download (no dependencies, Linux x86-64 wheels) into dir.
download() {
	local dir=$1
	shift
	mkdir -p "$dir"
	"$pip" download --quiet --no-deps --only-binary=:all: --platform manylinux2014_x86_64 \
		--python-version 3.11 -d "$dir" "$@" || die "pip download $* failed"
}

# unpack_all dir dest: unzip every wheel of dir into dest (the nvidia/ trees only).
unpack_all() {
	local dir=$1 dest=$2 w
	mkdir -p "$dest"
	for w in "$dir"/*.whl; do
		unzip -q -o -d "$dest" "$w" 'nvidia/*' || die "unzip $w failed"
	done
}

fetch() {
	command -v unzip >/dev/null || die "unzip is missing (apt-get install unzip)"
	local spec name ver missing=()
	for spec in "${build_wheels[@]}"; do
		name=${spec%%==*}
		ver=${spec##*==}
		compgen -G "$cache/wheels/${name//-/_}-$ver-*.whl" >/dev/null || missing+=("$spec")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		log "fetching ${missing[*]} into $cache/wheels"
		download "$cache/wheels" "${missing[@]}"
	fi
	# Only the wheels named above: an older download of another version must not be unpacked.
	local keep=$cache/wheels-build
	rm -rf "$keep" "$root"
	mkdir -p "$keep" "$root/include" "$root/lib"
	for spec in "${build_wheels[@]}"; do
		name=${spec%%==*}
		ver=${spec##*==}
		ln -s "$cache/wheels/${name//-/_}-$ver-"*.whl "$keep/" || die "no wheel for $spec in $cache/wheels"
	done
	if [ "$(cat "$cache/unpacked/.wheels" 2>/dev/null)" != "${build_wheels[*]}" ]; then
		rm -rf "$cache/unpacked"
		unpack_all "$keep" "$cache/unpacked"
		echo "${build_wheels[*]}" >"$cache/unpacked/.wheels"
	fi
	# One include and one lib folder, as a toolkit would have them.
	local d
	for d in cuda_runtime cuda_nvcc cuda_cccl cublas cudnn; do
		cp -r "$cache/unpacked/nvidia/$d/include/." "$root/include/"
		if [ -d "$cache/unpacked/nvidia/$d/lib" ]; then
			find "$cache/unpacked/nvidia/$d/lib" -maxdepth 1 -name '*.so*' -exec ln -s {} "$root/lib/" \;
		fi
	done
	cp "$cache/unpacked/nvidia/cuda_nvcc/bin/ptxas" "$root/ptxas-12"
	log "headers in $root/include, libraries in $root/lib"
}

# fetch_nvcc: the CUDA 13 compiler wheels, unpacked into $cache/nvcc; prints nvcc's path.
fetch_nvcc() {
	download "$cache/wheels-nvcc" "${nvcc_wheels[@]}"
	if [ ! -x "$cache/nvcc/nvidia/cu13/bin/nvcc" ]; then
		unpack_all "$cache/wheels-nvcc" "$cache/nvcc"
	fi
	echo "$cache/nvcc/nvidia/cu13/bin/nvcc"
}

cflags() { echo "-I$root/include"; }

env_exports() {
	[ -f "$root/include/cudnn.h" ] || die "no headers in $root: run '$0 fetch' first"
	echo "export CGO_CFLAGS='$(cflags)'"
	echo "export CONVAS_CUDA_LIB='$root/lib'"
}

# cuda_packages: the packages (./dir/) that have a file with the convas_cuda build constraint,
# and every package that imports one of them (they compile differently with the tag).
cuda_packages() {
	(
		cd "$here"
		local tagged
		tagged=$(grep -rlE --include='*.go' '^//go:build .*\bconvas_cuda\b' . |
			grep -v '^./third_party/' | xargs -n1 dirname | sort -u | sed 's|^\.|convas|')
		go list -e -tags convas_cuda -f '{{.ImportPath}} {{join .Deps " "}}' ./... 2>/dev/null |
			while read -r pkg deps; do
				for t in $tagged; do
					if [ "$pkg" = "$t" ] || [[ " $deps " == *" $t "* ]]; then
						echo "./${pkg#convas/}/" | sed 's|^\./convas/$|./|'
						break
					fi
				done
			done | sort -u
	)
}

check() {
	export CGO_CFLAGS CGO_ENABLED=1
	CGO_CFLAGS=$(cflags)
	local pkgs
	mapfile -t pkgs < <(cuda_packages)
	[ ${#pkgs[@]} -gt 0 ] || die "no cuda-tagged packages found"
	log "go vet -tags convas_cuda ${pkgs[*]}"
	(cd "$here" && go vet -tags convas_cuda "${pkgs[@]}")
	log "go build -tags convas_cuda ${pkgs[*]}"
	(cd "$here" && go build -tags convas_cuda "${pkgs[@]}")
	# The GPU tests skip without a GPU; what runs here is the driver-less path and the CPU checks.
	log "go test -tags convas_cuda ./compute/gpu/ ./compute/device/"
	(cd "$here" && go test -tags convas_cuda ./compute/gpu/ ./compute/device/)
}

link() {
	export CGO_CFLAGS CGO_ENABLED=1
	CGO_CFLAGS=$(cflags)
	mkdir -p "$here/out/cuda"
	log "linking out/cuda/convas-cuda"
	(cd "$here" && go build -tags convas_cuda -o out/cuda/convas-cuda .)
	log "linked libraries (ELF NEEDED):"
	readelf -d "$here/out/cuda/convas-cuda" | awk '/NEEDED/ {gsub(/[][]/, "", $5); print "  " $5}' >&2
	log "opened with dlopen when a GPU is used: libcuda.so.1 (the driver), libcublas.so.12," \
		"libcublasLt.so.12, libcudnn.so.9 and its parts libcudnn_{graph,ops,cnn,engines_*,heuristic}.so.9"
	log "newest glibc symbol version it needs: $(objdump -T "$here/out/cuda/convas-cuda" |
		grep -oE 'GLIBC_[0-9.]+' | sort -uV | tail -1)"
}

# tests: the linked test binaries for scripts/gpu-check.sh. compute/gpu's and compute/device's are
# built with the purego tag, which keeps compute/nn (the CPU twins) on its pure-Go GEMM, so they
# need neither OpenBLAS nor oneDNN on the GPU machine, only libc and what compute/gpu opens. The
# recipes' (style, dream, train, transfer), whose benchmarks run on the GPU with the CPU doing
# the ops that have no GPU twin (Gram matrices, losses, dense layers), are built with OpenBLAS,
# which is carried beside them (lib/, with libgfortran and libquadmath); oneDNN is opened with
# dlopen and not carried, so their CPU comparisons take the GEMM path. All are stripped and
# gzipped, to fit the 64 MiB the device tool carries (gpu-check.sh run unpacks them).
tests() {
	export CGO_CFLAGS CGO_ENABLED=1
	CGO_CFLAGS=$(cflags)
	local dir=$here/out/cuda/gpu-tests t
	rm -rf "$dir"
	mkdir -p "$dir/lib"
	for t in gpu device; do
		log "go test -c -tags convas_cuda,purego ./compute/$t/ -> out/cuda/gpu-tests/$t.test"
		(cd "$here" && go test -c -tags convas_cuda,purego -ldflags='-s -w' -o "$dir/$t.test" "./compute/$t/")
	done
	for t in style dream train transfer; do
		log "go test -c -tags convas_cuda ./compute/$t/ -> out/cuda/gpu-tests/$t.test.gz"
		(cd "$here" && go test -c -tags convas_cuda -ldflags='-s -w' -o "$dir/$t.test" "./compute/$t/")
		gzip -9 -f "$dir/$t.test"
	done
	local lib
	for lib in libopenblas.so.0 libgfortran.so.5 libquadmath.so.0; do
		cp -L "$(ldconfig -p | awk -v l="$lib" '$1 == l && /x86-64/ {print $NF; exit}')" "$dir/lib/$lib" ||
			die "cannot find $lib to carry (apt-get install libopenblas0-pthread)"
	done
	for t in gpu device; do
		log "$t.test links: $(readelf -d "$dir/$t.test" | awk '/NEEDED/ {gsub(/[][]/, "", $5); printf "%s ", $5}')"
		gzip -9 -f "$dir/$t.test"
	done
	gzip -9 -f "$dir"/lib/*
	log "carried: $(du -sh "$dir" | cut -f1) in $dir"
}

# try_cu: the experiment. gorgonia.org/cu v0.9.6 against the CUDA 12 and cuDNN 9 headers, each
# package on its own, then a program using its core linked against a libcuda stub and run.
try_cu() {
	local t=$cache/try-cu
	rm -rf "$t"
	mkdir -p "$t/stub"
	# A stub libcuda: every cu* function cuda.h declares, as an empty function, under the
	# driver's soname. Linking needs it; running never uses it.
	gcc -E -I"$root/include" -x c - <<<'#include <cuda.h>' |
		grep -oE '\bcu[A-Z][A-Za-z0-9_]*[[:space:]]*\(' | tr -d '( \t' | sort -u |
		sed 's/.*/void &(void) {}/' >"$t/stub/libcuda.c"
	gcc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$t/stub/libcuda.so" "$t/stub/libcuda.c"
	cat >"$t/go.mod" <<-'EOF'
	module trycu
	go 1.26
	require gorgonia.org/cu v0.9.6
	EOF
	cat >"$t/main.go" <<-'EOF'
	package main

	import (
		"fmt"

		"gorgonia.org/cu"
	)

	func main() { fmt.Println(cu.NumDevices()) }
	EOF
	(
		cd "$t"
		export CGO_CFLAGS="-I$root/include" CGO_LDFLAGS="-L$t/stub -L$root/lib" GOFLAGS=-mod=mod
		go mod tidy >/dev/null 2>&1 || true
		local p
		for p in gorgonia.org/cu gorgonia.org/cu/blas gorgonia.org/cu/dnn; do
			if go build "$p" >"$t/build.log" 2>&1; then
				log "try-cu: $p compiles"
			else
				log "try-cu: $p does NOT compile; first errors:"
				grep -E 'could not determine|error:' "$t/build.log" | head -8 >&2
			fi
		done
		log "try-cu: cuDNN names that gorgonia.org/cu/dnn uses and cudnn.h 9 lacks:"
		local d
		d=$(go list -m -f '{{.Dir}}' gorgonia.org/cu)/dnn
		grep -ohE '\bcudnn[A-Za-z0-9_]+' "$d"/*.go "$d"/*.h | sort -u | while read -r s; do
			grep -qw "$s" "$root"/include/cudnn*.h || echo "  $s"
		done >&2
		if go build -o trycu . 2>"$t/link.log"; then
			log "try-cu: linked against the stub; NEEDED: $(readelf -d trycu | grep -o 'libcuda[^]]*')"
			log "try-cu: run on this machine (no driver):"
			./trycu 2>&1 | head -3 >&2 || true
		else
			log "try-cu: link failed:"
			head -5 "$t/link.log" >&2
		fi
	)
}

steps=("$@")
[ ${#steps[@]} -gt 0 ] || steps=(fetch check link tests)
for s in "${steps[@]}"; do
	case $s in
	fetch) fetch ;;
	env) env_exports ;;
	check) check ;;
	link) link ;;
	tests) tests ;;
	try-cu) try_cu ;;
	nvcc) fetch_nvcc ;;
	all) fetch; check; link; tests ;;
	*) die "unknown step $s (fetch env check link tests try-cu nvcc all)" ;;
	esac
done
