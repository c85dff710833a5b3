// Package gpu runs Convas's float32 kernels on NVIDIA GPUs: GEMM through cuBLAS; convolution
// (forward and both backward passes), max and average pooling, LRN and ReLU through cuDNN 9;
// bias, padding and update kernels of its own, compiled ahead of time to SASS for sm_80 and
// sm_90 and to PTX for newer GPUs (kernels.cu, kernels.fatbin).
//
// The GPU code is built only with the `convas_cuda` build tag (and cgo). The tag is not plain
// `cuda` because that one switches Gorgonia v0.9.18 into its own CUDA mode, which needs
// gorgonia.org/cu v0.9.4 (it does not compile against CUDA 12's cuda.h), links libcuda at link
// time and places Gorgonia's own ops on device 0; Convas keeps Gorgonia on the CPU and runs its
// GPU ops here, behind compute/nn's seam (docs/GPU.md). Without the tag the package still
// compiles, Devices reports ErrNotBuilt and Open fails with it, so callers need no build tags of
// their own: they ask for a device and fall back to the CPU on any error.
//
// A cuda build opens the driver (libcuda.so.1), cuBLAS (libcublas.so.12) and cuDNN
// (libcudnn.so.9) with dlopen when first asked, not at link time: the same binary starts on a
// machine without the NVIDIA driver, where Devices returns ErrNoDriver, and on one without
// cuDNN, where Open returns ErrNoLibrary. Nothing here panics on a missing library or GPU.
//
// A Device owns one OS thread: a goroutine locked to it (runtime.LockOSThread) holds the
// device's primary CUDA context, its cuBLAS and cuDNN handles and the kernels' module, and runs
// every call, which callers on any goroutine hand it over a channel (as compute/dnnl's engine
// does for oneDNN). Calls run in order on the device's default stream; a Download waits for
// what came before it. Buffers are float32 arrays in device memory that stay there until
// freed: weights uploaded once serve every iteration, and Stats counts each transfer between
// host and device so that a caller can check none happen where none should.
//
// Shapes follow compute/nn: NCHW activations, OIHW filters, row-major matrices, and padding
// that may be asymmetric (TensorFlow's 'SAME' pads the bottom and right one more than the top
// and left when the total is odd). cuDNN pads symmetrically, so the package pads the input
// explicitly by the difference and crops the gradient back, as TensorFlow's own cuDNN path
// does. LRN takes TensorFlow's parameters (compute/nn.LRN) and converts alpha to cuDNN's
// convention, which divides it by the window size.
//
// By default every computation is plain float32 (cuDNN's FMA math, cuBLAS's default math): the
// results match the CPU kernels of compute/nn within float32 rounding. Options.TF32 lets both
// libraries use TF32 tensor cores on Ampere and newer GPUs, faster and with about 1e-3 relative
// error.
package gpu

//go:generate ../../scripts/cuda-kernels.sh
