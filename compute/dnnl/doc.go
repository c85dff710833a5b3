// Package dnnl runs float32 convolutions through oneDNN (the 2.x C API of Debian's
// libdnnl-dev 2.6), the CPU counterpart of cuDNN.
//
// An Engine owns one OS thread: a goroutine locked to it (runtime.LockOSThread) creates and
// executes every oneDNN object, and callers on any goroutine hand it requests over a channel.
// Two properties of oneDNN make that necessary: its default scratchpad belongs to the thread
// that created a primitive (Go moves goroutines between threads, and calls from the wrong one
// crashed), and its OpenMP thread team belongs to the thread that calls it. Primitives are made
// with the user scratchpad mode and run on a scratchpad the engine owns. Default returns the
// process's shared engine; the convolution ops of compute/nn use it.
//
// Callers keep the plain layouts (NCHW activations, OIHW filters); each pass reorders them into
// and out of the layouts the primitive prefers (dnnl_format_tag_any: nChw8c and OIhw8i8o on
// AVX2 machines, nChw16c and OIhw16i16o on AVX-512 ones), because oneDNN's fast kernels need
// them. An engine caches one primitive per shape and pass, with its reorders (creating them
// costs about a millisecond and a half), at most DefaultCacheSize of them, least recently used
// dropped first; its work buffers (one per argument, in the primitives' layouts) and its
// scratchpad are shared by all its primitives, grow to the largest shape seen and are kept.
// A call allocates nothing.
//
// The header comes from libdnnl-dev at build time, but the library itself (libdnnl.so.2) is
// opened with dlopen when the first engine starts, for two reasons. libgomp, which oneDNN runs
// its threads on, reads its settings once, when it is loaded; loading it late lets the package
// ask it for passive waiting (OMP_WAIT_POLICY=passive, unless the environment sets
// OMP_WAIT_POLICY or GOMP_SPINCOUNT) so that its idle threads do not spin for milliseconds after
// each call on cores that Go, OpenBLAS and other processes need. And a binary runs where the
// library is missing: NewEngine then fails with ErrUnavailable and compute/nn uses its GEMM
// kernels. OMP_NUM_THREADS, as usual, sets the number of threads (by default one per core).
//
// The package is empty in builds without cgo or with the purego tag.
package dnnl
