//go:build convas_cuda && cgo

// The C half of compute/gpu (cgpu.c): the NVIDIA driver, cuBLAS and cuDNN 9 opened with dlopen,
// and one function per operation, so that one op costs one cgo call. Everything that takes a
// cg_dev runs on the device's locked OS thread (device.go), where its context is current.

#ifndef CONVAS_GPU_CGPU_H
#define CONVAS_GPU_CGPU_H

#include <stddef.h>
#include <stdint.h>

#define CG_ERRLEN 512

// Result codes of the cg_* functions; the message is in the cg_dev's err (or the err argument).
enum {
	CG_OK = 0,
	CG_NO_DRIVER = 1,  // libcuda could not be opened or lacks a function
	CG_NO_DEVICE = 2,  // the driver found no CUDA device (or not the one asked for)
	CG_NO_LIBRARY = 3, // cuBLAS or cuDNN could not be opened or is too old
	CG_OOM = 4,        // out of device memory
	CG_UNSUPPORTED = 5,// cuDNN has no implementation for the parameters
	CG_FAILED = 6,     // any other CUDA, cuBLAS or cuDNN error
};

typedef struct {
	int index, major, minor, multiprocessors;
	size_t total, free;
	char name[256];
} cg_info;

// A convolution: x (n, c, h, w), w (o, c, kh, kw), y (n, o, oh, ow); padding may be asymmetric.
// cuDNN pads symmetrically by ph and pw; the rest is explicit: x is copied into an h2 x w2
// buffer at row et and column el (Conv.split in gpu.go computes these).
typedef struct {
	int n, c, h, w, o, kh, kw, sh, sw, pt, pb, pl, pr, oh, ow;
	int ph, pw, et, el, h2, w2;
} cg_conv;

// A pooling of x (n, c, h, w) into y (n, c, oh, ow); mode 0 max, 1 average over real cells.
typedef struct {
	int n, c, h, w, kh, kw, sh, sw, pt, pb, pl, pr, oh, ow, mode;
} cg_pool;

enum { CG_FWD = 0, CG_BWD_DATA = 1, CG_BWD_FILTER = 2 };

typedef struct cg_dev cg_dev;

// Process-wide: open libcuda (name: a file name or path) and cuInit it. Idempotent after the
// first success; a failure may be retried with another name.
int cg_driver_open(const char *name, char *err);
// cg_driver_probe checks a driver library as cg_driver_open does (it opens, has every function
// and initialises) without making it the process's driver: for tests.
int cg_driver_probe(const char *name, char *err);
// cg_driver_version: the driver's CUDA version (13000 for 13.0); 0 before cg_driver_open.
int cg_driver_version(void);
int cg_device_count(int *count, char *err);
int cg_device_info(int index, cg_info *info, char *err);

// Per device. cg_open opens cuBLAS and cuDNN (once per process), retains the device's primary
// context and makes it current on the calling thread, loads the kernels (image: a fat binary)
// and creates the library handles. tf32 allows TF32 tensor cores in GEMM and convolutions. On
// failure it returns NULL with *code and err set.
cg_dev *cg_open(int index, const void *image, int tf32, int *code, char *err);
void cg_close(cg_dev *d);
const char *cg_err(cg_dev *d);
int cg_versions(cg_dev *d, int *cudnn, int *cublas);
int cg_meminfo(cg_dev *d, size_t *free, size_t *total);

int cg_alloc(cg_dev *d, uint64_t *ptr, size_t bytes);
int cg_free(cg_dev *d, uint64_t ptr);
int cg_upload(cg_dev *d, uint64_t dst, const void *src, size_t bytes);
int cg_download(cg_dev *d, void *dst, uint64_t src, size_t bytes);
int cg_copy(cg_dev *d, uint64_t dst, uint64_t src, size_t bytes);
int cg_zero(cg_dev *d, uint64_t ptr, size_t count);
int cg_sync(cg_dev *d);

// Row-major C (m x n) = alpha * op(A) op(B) + beta * C.
int cg_gemm(cg_dev *d, int transa, int transb, int m, int n, int k, float alpha, uint64_t a,
	uint64_t b, float beta, uint64_t c);
// cg_conv_algos lists cuDNN's candidate algorithms for a pass, best first by its heuristics
// (at most max, each needing at most 1 GiB of workspace); cg_conv_run runs one.
int cg_conv_algos(cg_dev *d, const cg_conv *s, int pass, int *algos, int max, int *count);
int cg_conv_run(cg_dev *d, const cg_conv *s, int pass, int algo, uint64_t x, uint64_t w, uint64_t y);
int cg_pool_fwd(cg_dev *d, const cg_pool *p, uint64_t x, uint64_t y);
int cg_pool_bwd(cg_dev *d, const cg_pool *p, uint64_t x, uint64_t y, uint64_t dy, uint64_t dx);
// LRN across channels in TensorFlow's terms (radius, bias, alpha, beta) on (n, c, h, w).
int cg_lrn(cg_dev *d, int n, int c, int h, int w, int radius, double bias, double alpha,
	double beta, int backward, uint64_t x, uint64_t y, uint64_t dy, uint64_t dx);
int cg_relu(cg_dev *d, size_t count, int backward, uint64_t x, uint64_t y, uint64_t dy, uint64_t dx);
int cg_bias_add(cg_dev *d, int n, int c, size_t plane, uint64_t x, uint64_t b, uint64_t y);
int cg_bias_grad(cg_dev *d, int n, int c, size_t plane, uint64_t dy, uint64_t db);
int cg_axpy(cg_dev *d, float a, uint64_t x, uint64_t y, size_t count);

#endif
