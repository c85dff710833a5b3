// The C kernels of compute/nn (pool_cgo.go, relu_cgo.go, lrn_cgo.go) are built twice with gcc's
// target_clones: for AVX2, and for the baseline x86-64 ISA, and the program picks one when it
// loads, so the binary still runs on CPUs without AVX2. Other compilers and CPUs get one build.
// (The name is unique because cgo compiles its probes of a preamble from the temporary
// directory, where a header of a common name may be found first.)
#ifndef CONVAS_CLONES_H
#define CONVAS_CLONES_H
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define CONVAS_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define CONVAS_CLONES
#endif
#endif
