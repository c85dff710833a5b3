//go:build convas_cuda && cgo

// The C half of compute/gpu; see cgpu.h. The three libraries are opened with dlopen, not linked:
// a binary built with the cuda tag then starts on a machine without the NVIDIA driver (the
// dynamic loader would refuse to start it if libcuda.so.1 were a link-time dependency) and
// reports, as an error, that no GPU can be used. Each function is declared by the library's own
// header and called through a pointer of the header's type, so a changed signature fails the
// build.

#include <dlfcn.h>
#include <float.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda.h>
#include <cublas_v2.h>
#include <cudnn.h>

#include "cgpu.h"

// The driver API, by the symbols cuda.h's macros resolve to (the _v2 entry points take 64-bit
// sizes and pointers; the unsuffixed ones are the old 32-bit API).
#define CG_DRIVER(X) \
	X(cuInit) X(cuDriverGetVersion) X(cuGetErrorName) X(cuGetErrorString) \
	X(cuDeviceGetCount) X(cuDeviceGet) X(cuDeviceGetName) X(cuDeviceTotalMem_v2) \
	X(cuDeviceGetAttribute) X(cuDevicePrimaryCtxRetain) X(cuDevicePrimaryCtxRelease_v2) \
	X(cuCtxSetCurrent) X(cuCtxPushCurrent_v2) X(cuCtxPopCurrent_v2) X(cuCtxSynchronize) \
	X(cuMemGetInfo_v2) X(cuMemAlloc_v2) X(cuMemFree_v2) X(cuMemcpyHtoD_v2) X(cuMemcpyDtoH_v2) \
	X(cuMemcpyDtoD_v2) X(cuMemsetD32_v2) X(cuModuleLoadData) X(cuModuleUnload) \
	X(cuModuleGetFunction) X(cuLaunchKernel)

#define CG_CUBLAS(X) \
	X(cublasCreate_v2) X(cublasDestroy_v2) X(cublasSetMathMode) X(cublasSgemm_v2) \
	X(cublasGetVersion_v2)

#define CG_CUDNN(X) \
	X(cudnnGetVersion) X(cudnnGetErrorString) X(cudnnCreate) X(cudnnDestroy) \
	X(cudnnCreateTensorDescriptor) X(cudnnSetTensor4dDescriptor) X(cudnnDestroyTensorDescriptor) \
	X(cudnnCreateFilterDescriptor) X(cudnnSetFilter4dDescriptor) X(cudnnDestroyFilterDescriptor) \
	X(cudnnCreateConvolutionDescriptor) X(cudnnSetConvolution2dDescriptor) \
	X(cudnnSetConvolutionMathType) X(cudnnDestroyConvolutionDescriptor) \
	X(cudnnGetConvolutionForwardAlgorithm_v7) X(cudnnGetConvolutionBackwardDataAlgorithm_v7) \
	X(cudnnGetConvolutionBackwardFilterAlgorithm_v7) \
	X(cudnnGetConvolutionForwardWorkspaceSize) X(cudnnGetConvolutionBackwardDataWorkspaceSize) \
	X(cudnnGetConvolutionBackwardFilterWorkspaceSize) \
	X(cudnnConvolutionForward) X(cudnnConvolutionBackwardData) X(cudnnConvolutionBackwardFilter) \
	X(cudnnCreatePoolingDescriptor) X(cudnnSetPooling2dDescriptor) X(cudnnDestroyPoolingDescriptor) \
	X(cudnnPoolingForward) X(cudnnPoolingBackward) \
	X(cudnnCreateLRNDescriptor) X(cudnnSetLRNDescriptor) X(cudnnDestroyLRNDescriptor) \
	X(cudnnLRNCrossChannelForward) X(cudnnLRNCrossChannelBackward) \
	X(cudnnCreateActivationDescriptor) X(cudnnSetActivationDescriptor) \
	X(cudnnDestroyActivationDescriptor) X(cudnnActivationForward) X(cudnnActivationBackward)

#define CG_DECLARE(f) static __typeof__(&f) p_##f;
CG_DRIVER(CG_DECLARE)
CG_CUBLAS(CG_DECLARE)
CG_CUDNN(CG_DECLARE)

#define CG_RESOLVE(f) \
	p_##f = (__typeof__(p_##f))dlsym(h, #f); \
	if (!p_##f) { snprintf(err, CG_ERRLEN, "%s lacks %s", lib, #f); return -1; }

static pthread_mutex_t cg_lock = PTHREAD_MUTEX_INITIALIZER;
static void *cg_driver, *cg_cublas, *cg_cudnn;
static int cg_driver_ver;

// cg_dlopen opens the first of names that loads; err tells why the last one did not.
static void *cg_dlopen(const char *const *names, const char **which, char *err) {
	for (; *names; names++) {
		void *h = dlopen(*names, RTLD_NOW | RTLD_LOCAL);
		if (h) {
			*which = *names;
			return h;
		}
		snprintf(err, CG_ERRLEN, "%s", dlerror());
	}
	return NULL;
}

static int cg_resolve_driver_all(void *h, const char *lib, char *err) {
	CG_DRIVER(CG_RESOLVE)
	return 0;
}

#define CG_CLEAR(f) p_##f = NULL;

// cg_resolve_driver points the p_cu* functions into h; on failure it leaves them all NULL, so
// that nothing calls into a library that is then closed.
static int cg_resolve_driver(void *h, const char *lib, char *err) {
	if (cg_resolve_driver_all(h, lib, err) != 0) {
		CG_DRIVER(CG_CLEAR)
		return -1;
	}
	return 0;
}

static int cg_resolve_cublas_all(void *h, const char *lib, char *err) {
	CG_CUBLAS(CG_RESOLVE)
	return 0;
}

static int cg_resolve_cudnn_all(void *h, const char *lib, char *err) {
	CG_CUDNN(CG_RESOLVE)
	return 0;
}

static int cg_resolve_cublas(void *h, const char *lib, char *err) {
	if (cg_resolve_cublas_all(h, lib, err) != 0) {
		CG_CUBLAS(CG_CLEAR)
		return -1;
	}
	return 0;
}

static int cg_resolve_cudnn(void *h, const char *lib, char *err) {
	if (cg_resolve_cudnn_all(h, lib, err) != 0) {
		CG_CUDNN(CG_CLEAR)
		return -1;
	}
	return 0;
}

// cu_msg formats a driver error.
static void cu_msg(CUresult r, const char *what, char *err) {
	const char *name = NULL, *desc = NULL;
	if (p_cuGetErrorName) p_cuGetErrorName(r, &name);
	if (p_cuGetErrorString) p_cuGetErrorString(r, &desc);
	snprintf(err, CG_ERRLEN, "%s: %s (%d): %s", what, name ? name : "CUDA error", (int)r,
		desc ? desc : "no description");
}

static int cu_code(CUresult r) {
	switch (r) {
	case CUDA_SUCCESS: return CG_OK;
	case CUDA_ERROR_OUT_OF_MEMORY: return CG_OOM;
	case CUDA_ERROR_NO_DEVICE:
	case CUDA_ERROR_INVALID_DEVICE: return CG_NO_DEVICE;
	default: return CG_FAILED;
	}
}

int cg_driver_open(const char *name, char *err) {
	pthread_mutex_lock(&cg_lock);
	if (cg_driver) {
		pthread_mutex_unlock(&cg_lock);
		return CG_OK;
	}
	const char *names[] = {name, NULL}, *which = name;
	void *h = cg_dlopen(names, &which, err);
	if (!h) {
		pthread_mutex_unlock(&cg_lock);
		return CG_NO_DRIVER;
	}
	if (cg_resolve_driver(h, which, err) != 0) {
		dlclose(h);
		pthread_mutex_unlock(&cg_lock);
		return CG_NO_DRIVER;
	}
	CUresult r = p_cuInit(0);
	if (r != CUDA_SUCCESS) {
		cu_msg(r, "cuInit", err);
		// Keep the library: cuInit's answer (no device, a driver too old for the GPU) stays.
		pthread_mutex_unlock(&cg_lock);
		return r == CUDA_ERROR_NO_DEVICE ? CG_NO_DEVICE : CG_NO_DRIVER;
	}
	p_cuDriverGetVersion(&cg_driver_ver);
	cg_driver = h;
	pthread_mutex_unlock(&cg_lock);
	return CG_OK;
}

#define CG_CHECK(f) \
	if (!dlsym(h, #f)) { snprintf(err, CG_ERRLEN, "%s lacks %s", name, #f); return CG_NO_DRIVER; }

int cg_driver_probe(const char *name, char *err) {
	void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		snprintf(err, CG_ERRLEN, "%s", dlerror());
		return CG_NO_DRIVER;
	}
	// The library stays open: a driver cannot be unloaded safely once initialised.
	CG_DRIVER(CG_CHECK)
	__typeof__(&cuInit) init = (__typeof__(init))dlsym(h, "cuInit");
	__typeof__(&cuGetErrorName) ename = (__typeof__(ename))dlsym(h, "cuGetErrorName");
	CUresult r = init(0);
	if (r != CUDA_SUCCESS) {
		const char *n = NULL;
		ename(r, &n);
		snprintf(err, CG_ERRLEN, "cuInit: %s (%d)", n ? n : "CUDA error", (int)r);
		return r == CUDA_ERROR_NO_DEVICE ? CG_NO_DEVICE : CG_NO_DRIVER;
	}
	return CG_OK;
}

int cg_driver_version(void) { return cg_driver ? cg_driver_ver : 0; }

int cg_device_count(int *count, char *err) {
	CUresult r = p_cuDeviceGetCount(count);
	if (r != CUDA_SUCCESS) {
		cu_msg(r, "cuDeviceGetCount", err);
		return cu_code(r);
	}
	return CG_OK;
}

int cg_device_info(int index, cg_info *info, char *err) {
	CUdevice dev;
	CUcontext ctx;
	CUresult r;
	memset(info, 0, sizeof *info);
	info->index = index;
	if ((r = p_cuDeviceGet(&dev, index)) != CUDA_SUCCESS) { cu_msg(r, "cuDeviceGet", err); return cu_code(r); }
	if ((r = p_cuDeviceGetName(info->name, sizeof info->name, dev)) != CUDA_SUCCESS) { cu_msg(r, "cuDeviceGetName", err); return cu_code(r); }
	if ((r = p_cuDeviceTotalMem_v2(&info->total, dev)) != CUDA_SUCCESS) { cu_msg(r, "cuDeviceTotalMem", err); return cu_code(r); }
	p_cuDeviceGetAttribute(&info->major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev);
	p_cuDeviceGetAttribute(&info->minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev);
	p_cuDeviceGetAttribute(&info->multiprocessors, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, dev);
	// Free memory needs a context: the primary one, pushed and popped within this call.
	if ((r = p_cuDevicePrimaryCtxRetain(&ctx, dev)) != CUDA_SUCCESS) { cu_msg(r, "cuDevicePrimaryCtxRetain", err); return cu_code(r); }
	if ((r = p_cuCtxPushCurrent_v2(ctx)) == CUDA_SUCCESS) {
		size_t total;
		r = p_cuMemGetInfo_v2(&info->free, &total);
		CUcontext popped;
		p_cuCtxPopCurrent_v2(&popped);
	}
	p_cuDevicePrimaryCtxRelease_v2(dev);
	if (r != CUDA_SUCCESS) { cu_msg(r, "cuMemGetInfo", err); return cu_code(r); }
	return CG_OK;
}

// cg_libs_open opens cuBLAS and cuDNN 9 once per process. cuBLAS 12 and 13 both serve: the
// few functions used here (cublasCreate_v2, cublasSgemm_v2, cublasSetMathMode) kept their
// signatures and enum values.
static int cg_libs_open(char *err) {
	int rc = CG_OK;
	pthread_mutex_lock(&cg_lock);
	if (!cg_cublas) {
		const char *names[] = {"libcublas.so.12", "libcublas.so.13", "libcublas.so", NULL}, *which = "libcublas.so.12";
		void *h = cg_dlopen(names, &which, err);
		if (!h || cg_resolve_cublas(h, which, err) != 0) {
			if (h) dlclose(h);
			rc = CG_NO_LIBRARY;
			goto out;
		}
		cg_cublas = h;
	}
	if (!cg_cudnn) {
		const char *names[] = {"libcudnn.so.9", "libcudnn.so", NULL}, *which = "libcudnn.so.9";
		void *h = cg_dlopen(names, &which, err);
		if (!h || cg_resolve_cudnn(h, which, err) != 0) {
			if (h) dlclose(h);
			rc = CG_NO_LIBRARY;
			goto out;
		}
		size_t v = p_cudnnGetVersion();
		if (v < 90000) {
			// cuDNN 8 numbers itself major*1000 + minor*100 + patch; 9 major*10000 + minor*100 + patch.
			snprintf(err, CG_ERRLEN, "%s is cuDNN %zu.%zu; Convas needs cuDNN 9", which, v / 1000, v / 100 % 10);
			CG_CUDNN(CG_CLEAR)
			dlclose(h);
			rc = CG_NO_LIBRARY;
			goto out;
		}
		cg_cudnn = h;
	}
out:
	pthread_mutex_unlock(&cg_lock);
	return rc;
}

enum { F_PAD, F_CROP, F_POOL_RESCALE, F_BIAS_ADD, F_BIAS_GRAD, F_AXPY, F_COUNT };
static const char *const cg_kernels[F_COUNT] = {
	"cv_pad", "cv_crop", "cv_pool_rescale", "cv_bias_add", "cv_bias_grad", "cv_axpy",
};

// Scratch buffers, grown on demand and kept: the padded input, the padded input gradient, a
// rescaled output gradient, and cuDNN's workspace.
enum { T_X, T_DX, T_DY, T_WS, T_COUNT };

struct cg_dev {
	CUdevice dev;
	CUcontext ctx;
	CUmodule mod;
	CUfunction fn[F_COUNT];
	cublasHandle_t blas;
	cudnnHandle_t dnn;
	int tf32;
	CUdeviceptr tmp[T_COUNT];
	size_t tmp_size[T_COUNT];
	char err[CG_ERRLEN];
};

const char *cg_err(cg_dev *d) { return d->err; }

#define CU(call, what) \
	do { CUresult r_ = (call); if (r_ != CUDA_SUCCESS) { cu_msg(r_, what, d->err); return cu_code(r_); } } while (0)

static int dnn_code(cudnnStatus_t s) {
	switch (s) {
	case CUDNN_STATUS_SUCCESS: return CG_OK;
	case CUDNN_STATUS_ALLOC_FAILED: return CG_OOM;
	case CUDNN_STATUS_NOT_SUPPORTED: return CG_UNSUPPORTED;
	default: return CG_FAILED;
	}
}

// DNN fails the enclosing function (with label cleanup) on a cuDNN error.
#define DNN(call, what) \
	do { cudnnStatus_t s_ = (call); if (s_ != CUDNN_STATUS_SUCCESS) { \
		snprintf(d->err, CG_ERRLEN, "%s: %s (%d)", what, p_cudnnGetErrorString(s_), (int)s_); \
		rc = dnn_code(s_); goto cleanup; } } while (0)

// RC fails the enclosing function (with label cleanup) when a cg_* call fails.
#define RC(call) do { if ((rc = (call)) != CG_OK) goto cleanup; } while (0)

cg_dev *cg_open(int index, const void *image, int tf32, int *code, char *err) {
	*code = CG_FAILED;
	if (!cg_driver) {
		*code = CG_NO_DRIVER;
		snprintf(err, CG_ERRLEN, "the CUDA driver is not open");
		return NULL;
	}
	if (cg_libs_open(err) != CG_OK) {
		*code = CG_NO_LIBRARY;
		return NULL;
	}
	cg_dev *d = calloc(1, sizeof *d);
	if (!d) {
		snprintf(err, CG_ERRLEN, "out of host memory");
		return NULL;
	}
	d->tf32 = tf32;
	CUresult r;
	const char *what = "cuDeviceGet";
	if ((r = p_cuDeviceGet(&d->dev, index)) != CUDA_SUCCESS) goto fail;
	what = "cuDevicePrimaryCtxRetain";
	if ((r = p_cuDevicePrimaryCtxRetain(&d->ctx, d->dev)) != CUDA_SUCCESS) goto fail;
	what = "cuCtxSetCurrent";
	if ((r = p_cuCtxSetCurrent(d->ctx)) != CUDA_SUCCESS) goto fail_ctx;
	what = "cuModuleLoadData (the kernels)";
	if ((r = p_cuModuleLoadData(&d->mod, image)) != CUDA_SUCCESS) goto fail_ctx;
	for (int i = 0; i < F_COUNT; i++) {
		what = cg_kernels[i];
		if ((r = p_cuModuleGetFunction(&d->fn[i], d->mod, cg_kernels[i])) != CUDA_SUCCESS) goto fail_mod;
	}
	cublasStatus_t bs = p_cublasCreate_v2(&d->blas);
	if (bs != CUBLAS_STATUS_SUCCESS) {
		snprintf(err, CG_ERRLEN, "cublasCreate: status %d", (int)bs);
		goto fail_mod_msg;
	}
	// Without TF32 cuBLAS computes in plain float32 (its default math mode since CUDA 11).
	p_cublasSetMathMode(d->blas, tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH);
	cudnnStatus_t ds = p_cudnnCreate(&d->dnn);
	if (ds != CUDNN_STATUS_SUCCESS) {
		snprintf(err, CG_ERRLEN, "cudnnCreate: %s (%d)", p_cudnnGetErrorString(ds), (int)ds);
		p_cublasDestroy_v2(d->blas);
		goto fail_mod_msg;
	}
	return d;
fail_mod:
	cu_msg(r, what, err);
	*code = cu_code(r);
fail_mod_msg:
	p_cuModuleUnload(d->mod);
	p_cuDevicePrimaryCtxRelease_v2(d->dev);
	free(d);
	return NULL;
fail_ctx:
	cu_msg(r, what, err);
	*code = cu_code(r);
	p_cuDevicePrimaryCtxRelease_v2(d->dev);
	free(d);
	return NULL;
fail:
	cu_msg(r, what, err);
	*code = cu_code(r);
	free(d);
	return NULL;
}

void cg_close(cg_dev *d) {
	if (!d) return;
	p_cuCtxSynchronize();
	for (int i = 0; i < T_COUNT; i++)
		if (d->tmp[i]) p_cuMemFree_v2(d->tmp[i]);
	p_cudnnDestroy(d->dnn);
	p_cublasDestroy_v2(d->blas);
	p_cuModuleUnload(d->mod);
	p_cuCtxSetCurrent(NULL);
	p_cuDevicePrimaryCtxRelease_v2(d->dev);
	free(d);
}

int cg_versions(cg_dev *d, int *cudnn, int *cublas) {
	*cudnn = (int)p_cudnnGetVersion();
	*cublas = 0;
	p_cublasGetVersion_v2(d->blas, cublas);
	return CG_OK;
}

int cg_meminfo(cg_dev *d, size_t *free, size_t *total) {
	CU(p_cuMemGetInfo_v2(free, total), "cuMemGetInfo");
	return CG_OK;
}

int cg_alloc(cg_dev *d, uint64_t *ptr, size_t bytes) {
	CUdeviceptr p = 0;
	CU(p_cuMemAlloc_v2(&p, bytes ? bytes : 4), "cuMemAlloc");
	*ptr = p;
	return CG_OK;
}

int cg_free(cg_dev *d, uint64_t ptr) {
	CU(p_cuMemFree_v2(ptr), "cuMemFree");
	return CG_OK;
}

int cg_upload(cg_dev *d, uint64_t dst, const void *src, size_t bytes) {
	CU(p_cuMemcpyHtoD_v2(dst, src, bytes), "cuMemcpyHtoD");
	return CG_OK;
}

int cg_download(cg_dev *d, void *dst, uint64_t src, size_t bytes) {
	CU(p_cuMemcpyDtoH_v2(dst, src, bytes), "cuMemcpyDtoH");
	return CG_OK;
}

int cg_copy(cg_dev *d, uint64_t dst, uint64_t src, size_t bytes) {
	CU(p_cuMemcpyDtoD_v2(dst, src, bytes), "cuMemcpyDtoD");
	return CG_OK;
}

int cg_zero(cg_dev *d, uint64_t ptr, size_t count) {
	CU(p_cuMemsetD32_v2(ptr, 0, count), "cuMemsetD32");
	return CG_OK;
}

int cg_sync(cg_dev *d) {
	CU(p_cuCtxSynchronize(), "cuCtxSynchronize");
	return CG_OK;
}

// tmp returns scratch buffer i of at least bytes, growing it.
static int tmp(cg_dev *d, int i, size_t bytes, CUdeviceptr *p) {
	if (d->tmp_size[i] < bytes) {
		if (d->tmp[i]) {
			CU(p_cuCtxSynchronize(), "cuCtxSynchronize");
			p_cuMemFree_v2(d->tmp[i]);
			d->tmp[i] = 0;
			d->tmp_size[i] = 0;
		}
		CU(p_cuMemAlloc_v2(&d->tmp[i], bytes), "cuMemAlloc (scratch)");
		d->tmp_size[i] = bytes;
	}
	*p = d->tmp[i];
	return CG_OK;
}

// launch runs kernel f over count elements (grid-stride kernels), or over blocks blocks when
// count is 0.
static int launch(cg_dev *d, int f, size_t count, unsigned blocks, void **args) {
	if (count) {
		size_t b = (count + 255) / 256;
		blocks = b > 65535u * 32 ? 65535u * 32 : (unsigned)b;
	}
	if (blocks == 0) return CG_OK;
	CU(p_cuLaunchKernel(d->fn[f], blocks, 1, 1, 256, 1, 1, 0, NULL, args, NULL), cg_kernels[f]);
	return CG_OK;
}

// pad copies x (planes, h, w) into y (planes, h2, w2) at (top, left), filling the rest.
static int pad(cg_dev *d, CUdeviceptr x, CUdeviceptr y, long long planes, int h, int w, int h2,
	int w2, int top, int left, float fill) {
	void *args[] = {&x, &y, &planes, &h, &w, &h2, &w2, &top, &left, &fill};
	return launch(d, F_PAD, (size_t)planes * h2 * w2, 0, args);
}

static int crop(cg_dev *d, CUdeviceptr x, CUdeviceptr y, long long planes, int h, int w, int h2,
	int w2, int top, int left) {
	void *args[] = {&x, &y, &planes, &h, &w, &h2, &w2, &top, &left};
	return launch(d, F_CROP, (size_t)planes * h * w, 0, args);
}

int cg_gemm(cg_dev *d, int transa, int transb, int m, int n, int k, float alpha, uint64_t a,
	uint64_t b, float beta, uint64_t c) {
	// cuBLAS is column-major: the row-major C = op(A) op(B) is the column-major
	// C^T = op(B)^T op(A)^T, with each matrix's row-major leading dimension.
	int lda = transa ? m : k, ldb = transb ? k : n;
	cublasStatus_t s = p_cublasSgemm_v2(d->blas, transb ? CUBLAS_OP_T : CUBLAS_OP_N,
		transa ? CUBLAS_OP_T : CUBLAS_OP_N, n, m, k, &alpha, (const float *)b, ldb,
		(const float *)a, lda, &beta, (float *)c, n);
	if (s != CUBLAS_STATUS_SUCCESS) {
		snprintf(d->err, CG_ERRLEN, "cublasSgemm (%d x %d x %d): status %d", m, n, k, (int)s);
		return s == CUBLAS_STATUS_ALLOC_FAILED ? CG_OOM : CG_FAILED;
	}
	return CG_OK;
}

// conv_split is the padding of a convolution as cg_conv carries it, split by Conv.split (gpu.go).
typedef struct {
	int ph, pw, et, el, h2, w2, explicit;
} conv_split;

static conv_split split(const cg_conv *s) {
	conv_split p = {s->ph, s->pw, s->et, s->el, s->h2, s->w2, s->h2 != s->h || s->w2 != s->w};
	return p;
}

typedef struct {
	cudnnTensorDescriptor_t x, y;
	cudnnFilterDescriptor_t w;
	cudnnConvolutionDescriptor_t conv;
} conv_descs;

static int conv_descs_make(cg_dev *d, const cg_conv *s, conv_descs *c) {
	int rc = CG_OK;
	conv_split p = split(s);
	memset(c, 0, sizeof *c);
	DNN(p_cudnnCreateTensorDescriptor(&c->x), "cudnnCreateTensorDescriptor");
	DNN(p_cudnnCreateTensorDescriptor(&c->y), "cudnnCreateTensorDescriptor");
	DNN(p_cudnnCreateFilterDescriptor(&c->w), "cudnnCreateFilterDescriptor");
	DNN(p_cudnnCreateConvolutionDescriptor(&c->conv), "cudnnCreateConvolutionDescriptor");
	DNN(p_cudnnSetTensor4dDescriptor(c->x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, s->n, s->c, p.h2, p.w2), "input descriptor");
	DNN(p_cudnnSetTensor4dDescriptor(c->y, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, s->n, s->o, s->oh, s->ow), "output descriptor");
	DNN(p_cudnnSetFilter4dDescriptor(c->w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, s->o, s->c, s->kh, s->kw), "filter descriptor");
	DNN(p_cudnnSetConvolution2dDescriptor(c->conv, p.ph, p.pw, s->sh, s->sw, 1, 1, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT), "convolution descriptor");
	// FMA math keeps cuDNN off TF32 tensor cores: results within float32 rounding.
	DNN(p_cudnnSetConvolutionMathType(c->conv, d->tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH), "cudnnSetConvolutionMathType");
	return CG_OK;
cleanup:
	return rc;
}

static void conv_descs_free(conv_descs *c) {
	if (c->x) p_cudnnDestroyTensorDescriptor(c->x);
	if (c->y) p_cudnnDestroyTensorDescriptor(c->y);
	if (c->w) p_cudnnDestroyFilterDescriptor(c->w);
	if (c->conv) p_cudnnDestroyConvolutionDescriptor(c->conv);
}

// The most workspace an algorithm may ask for.
#define CG_MAX_WORKSPACE ((size_t)1 << 30)

// CG_PICK appends the usable candidates of a perf array to algos.
#define CG_PICK(perf, got) \
	for (int i = 0; i < (got) && *count < max; i++) \
		if ((perf)[i].status == CUDNN_STATUS_SUCCESS && (perf)[i].memory <= CG_MAX_WORKSPACE) \
			algos[(*count)++] = (int)(perf)[i].algo;

int cg_conv_algos(cg_dev *d, const cg_conv *s, int pass, int *algos, int max, int *count) {
	conv_descs c;
	int rc = conv_descs_make(d, s, &c), got = 0;
	*count = 0;
	if (rc != CG_OK) goto cleanup;
	switch (pass) {
	case CG_FWD: {
		cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
		DNN(p_cudnnGetConvolutionForwardAlgorithm_v7(d->dnn, c.x, c.w, c.conv, c.y, CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &got, perf), "cudnnGetConvolutionForwardAlgorithm_v7");
		CG_PICK(perf, got)
		break;
	}
	case CG_BWD_DATA: {
		cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
		DNN(p_cudnnGetConvolutionBackwardDataAlgorithm_v7(d->dnn, c.w, c.y, c.conv, c.x, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &got, perf), "cudnnGetConvolutionBackwardDataAlgorithm_v7");
		CG_PICK(perf, got)
		break;
	}
	default: {
		cudnnConvolutionBwdFilterAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
		DNN(p_cudnnGetConvolutionBackwardFilterAlgorithm_v7(d->dnn, c.x, c.y, c.conv, c.w, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &got, perf), "cudnnGetConvolutionBackwardFilterAlgorithm_v7");
		CG_PICK(perf, got)
	}
	}
	if (*count == 0) {
		snprintf(d->err, CG_ERRLEN, "cuDNN has no algorithm for this convolution pass (%d candidates, none usable)", got);
		rc = CG_UNSUPPORTED;
	}
cleanup:
	conv_descs_free(&c);
	return rc;
}

int cg_conv_run(cg_dev *d, const cg_conv *s, int pass, int algo, uint64_t x, uint64_t w, uint64_t y) {
	conv_descs c;
	conv_split p = split(s);
	const float one = 1, zero = 0;
	CUdeviceptr xp = x, ws = 0;
	size_t wsz = 0;
	long long planes = (long long)s->n * s->c;
	int rc = conv_descs_make(d, s, &c);
	if (rc != CG_OK) goto cleanup;
	switch (pass) {
	case CG_FWD:
		DNN(p_cudnnGetConvolutionForwardWorkspaceSize(d->dnn, c.x, c.w, c.conv, c.y, algo, &wsz), "cudnnGetConvolutionForwardWorkspaceSize");
		break;
	case CG_BWD_DATA:
		DNN(p_cudnnGetConvolutionBackwardDataWorkspaceSize(d->dnn, c.w, c.y, c.conv, c.x, algo, &wsz), "cudnnGetConvolutionBackwardDataWorkspaceSize");
		break;
	default:
		DNN(p_cudnnGetConvolutionBackwardFilterWorkspaceSize(d->dnn, c.x, c.y, c.conv, c.w, algo, &wsz), "cudnnGetConvolutionBackwardFilterWorkspaceSize");
	}
	if (wsz) RC(tmp(d, T_WS, wsz, &ws));
	if (p.explicit) RC(tmp(d, T_X, (size_t)planes * p.h2 * p.w2 * sizeof(float), &xp));
	switch (pass) {
	case CG_FWD:
		if (p.explicit) RC(pad(d, x, xp, planes, s->h, s->w, p.h2, p.w2, p.et, p.el, 0));
		DNN(p_cudnnConvolutionForward(d->dnn, &one, c.x, (void *)xp, c.w, (void *)w, c.conv, algo, (void *)ws, wsz, &zero, c.y, (void *)y), "cudnnConvolutionForward");
		break;
	case CG_BWD_DATA:
		// The gradient of the padded input, then its window over the real input.
		DNN(p_cudnnConvolutionBackwardData(d->dnn, &one, c.w, (void *)w, c.y, (void *)y, c.conv, algo, (void *)ws, wsz, &zero, c.x, (void *)xp), "cudnnConvolutionBackwardData");
		if (p.explicit) RC(crop(d, xp, x, planes, s->h, s->w, p.h2, p.w2, p.et, p.el));
		break;
	default:
		if (p.explicit) RC(pad(d, x, xp, planes, s->h, s->w, p.h2, p.w2, p.et, p.el, 0));
		DNN(p_cudnnConvolutionBackwardFilter(d->dnn, &one, c.x, (void *)xp, c.y, (void *)y, c.conv, algo, (void *)ws, wsz, &zero, c.w, (void *)w), "cudnnConvolutionBackwardFilter");
	}
cleanup:
	conv_descs_free(&c);
	return rc;
}

// Pooling runs on an explicitly padded input (cuDNN's own padding is symmetric), filled with
// -FLT_MAX for max pooling (a padded cell never wins) and 0 for average pooling, whose result
// cv_pool_rescale then divides by the real cells instead of the window's size.
typedef struct {
	cudnnTensorDescriptor_t x, y;
	cudnnPoolingDescriptor_t pool;
} pool_descs;

static int pool_descs_make(cg_dev *d, const cg_pool *p, pool_descs *c) {
	int rc = CG_OK;
	memset(c, 0, sizeof *c);
	DNN(p_cudnnCreateTensorDescriptor(&c->x), "cudnnCreateTensorDescriptor");
	DNN(p_cudnnCreateTensorDescriptor(&c->y), "cudnnCreateTensorDescriptor");
	DNN(p_cudnnCreatePoolingDescriptor(&c->pool), "cudnnCreatePoolingDescriptor");
	DNN(p_cudnnSetTensor4dDescriptor(c->x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, p->n, p->c, p->h + p->pt + p->pb, p->w + p->pl + p->pr), "input descriptor");
	DNN(p_cudnnSetTensor4dDescriptor(c->y, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, p->n, p->c, p->oh, p->ow), "output descriptor");
	DNN(p_cudnnSetPooling2dDescriptor(c->pool, p->mode == 0 ? CUDNN_POOLING_MAX_DETERMINISTIC : CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING, CUDNN_NOT_PROPAGATE_NAN, p->kh, p->kw, 0, 0, p->sh, p->sw), "pooling descriptor");
	return CG_OK;
cleanup:
	return rc;
}

static void pool_descs_free(pool_descs *c) {
	if (c->x) p_cudnnDestroyTensorDescriptor(c->x);
	if (c->y) p_cudnnDestroyTensorDescriptor(c->y);
	if (c->pool) p_cudnnDestroyPoolingDescriptor(c->pool);
}

static int pool_rescale(cg_dev *d, const cg_pool *p, CUdeviceptr in, CUdeviceptr out) {
	long long planes = (long long)p->n * p->c;
	int oh = p->oh, ow = p->ow, h = p->h, w = p->w, kh = p->kh, kw = p->kw, sh = p->sh, sw = p->sw, top = p->pt, left = p->pl;
	void *args[] = {&in, &out, &planes, &oh, &ow, &h, &w, &kh, &kw, &sh, &sw, &top, &left};
	return launch(d, F_POOL_RESCALE, (size_t)planes * oh * ow, 0, args);
}

int cg_pool_fwd(cg_dev *d, const cg_pool *p, uint64_t x, uint64_t y) {
	pool_descs c;
	const float one = 1, zero = 0;
	int h2 = p->h + p->pt + p->pb, w2 = p->w + p->pl + p->pr;
	long long planes = (long long)p->n * p->c;
	CUdeviceptr xp = x;
	int rc = pool_descs_make(d, p, &c);
	if (rc != CG_OK) goto cleanup;
	if (h2 != p->h || w2 != p->w) {
		RC(tmp(d, T_X, (size_t)planes * h2 * w2 * sizeof(float), &xp));
		RC(pad(d, x, xp, planes, p->h, p->w, h2, w2, p->pt, p->pl, p->mode == 0 ? -FLT_MAX : 0));
	}
	DNN(p_cudnnPoolingForward(d->dnn, c.pool, &one, c.x, (void *)xp, &zero, c.y, (void *)y), "cudnnPoolingForward");
	if (p->mode != 0) RC(pool_rescale(d, p, y, y));
cleanup:
	pool_descs_free(&c);
	return rc;
}

int cg_pool_bwd(cg_dev *d, const cg_pool *p, uint64_t x, uint64_t y, uint64_t dy, uint64_t dx) {
	pool_descs c;
	const float one = 1, zero = 0;
	int h2 = p->h + p->pt + p->pb, w2 = p->w + p->pl + p->pr, padded = h2 != p->h || w2 != p->w;
	long long planes = (long long)p->n * p->c;
	CUdeviceptr xp = x, dxp = dx, dys = dy;
	int rc = pool_descs_make(d, p, &c);
	if (rc != CG_OK) goto cleanup;
	if (padded) {
		RC(tmp(d, T_X, (size_t)planes * h2 * w2 * sizeof(float), &xp));
		RC(tmp(d, T_DX, (size_t)planes * h2 * w2 * sizeof(float), &dxp));
		RC(pad(d, x, xp, planes, p->h, p->w, h2, w2, p->pt, p->pl, p->mode == 0 ? -FLT_MAX : 0));
	}
	if (p->mode != 0) {
		RC(tmp(d, T_DY, (size_t)planes * p->oh * p->ow * sizeof(float), &dys));
		RC(pool_rescale(d, p, dy, dys));
	}
	DNN(p_cudnnPoolingBackward(d->dnn, c.pool, &one, c.y, (void *)y, c.y, (void *)dys, c.x, (void *)xp, &zero, c.x, (void *)dxp), "cudnnPoolingBackward");
	if (padded) RC(crop(d, dxp, dx, planes, p->h, p->w, h2, w2, p->pt, p->pl));
cleanup:
	pool_descs_free(&c);
	return rc;
}

int cg_lrn(cg_dev *d, int n, int c, int h, int w, int radius, double bias, double alpha,
	double beta, int backward, uint64_t x, uint64_t y, uint64_t dy, uint64_t dx) {
	cudnnTensorDescriptor_t t = NULL;
	cudnnLRNDescriptor_t l = NULL;
	const float one = 1, zero = 0;
	// A window past the last channel on both sides sums every channel, as one of radius c-1
	// does: the same result, within cuDNN's limits on the window.
	if (radius > c - 1) radius = c - 1;
	unsigned size = 2 * radius + 1;
	int rc = CG_OK;
	DNN(p_cudnnCreateTensorDescriptor(&t), "cudnnCreateTensorDescriptor");
	DNN(p_cudnnSetTensor4dDescriptor(t, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, n, c, h, w), "LRN tensor descriptor");
	DNN(p_cudnnCreateLRNDescriptor(&l), "cudnnCreateLRNDescriptor");
	// cuDNN divides alpha by the window size (as Caffe and ONNX do); TensorFlow does not.
	DNN(p_cudnnSetLRNDescriptor(l, size, alpha * size, beta, bias), "cudnnSetLRNDescriptor");
	if (!backward)
		DNN(p_cudnnLRNCrossChannelForward(d->dnn, l, CUDNN_LRN_CROSS_CHANNEL_DIM1, &one, t, (void *)x, &zero, t, (void *)y), "cudnnLRNCrossChannelForward");
	else
		DNN(p_cudnnLRNCrossChannelBackward(d->dnn, l, CUDNN_LRN_CROSS_CHANNEL_DIM1, &one, t, (void *)y, t, (void *)dy, t, (void *)x, &zero, t, (void *)dx), "cudnnLRNCrossChannelBackward");
cleanup:
	if (l) p_cudnnDestroyLRNDescriptor(l);
	if (t) p_cudnnDestroyTensorDescriptor(t);
	return rc;
}

int cg_relu(cg_dev *d, size_t count, int backward, uint64_t x, uint64_t y, uint64_t dy, uint64_t dx) {
	cudnnTensorDescriptor_t t = NULL;
	cudnnActivationDescriptor_t a = NULL;
	const float one = 1, zero = 0;
	int rc = CG_OK;
	if (count > 0x7fffffff) {
		snprintf(d->err, CG_ERRLEN, "ReLU over %zu elements: more than cuDNN's 2^31-1", count);
		return CG_UNSUPPORTED;
	}
	DNN(p_cudnnCreateTensorDescriptor(&t), "cudnnCreateTensorDescriptor");
	DNN(p_cudnnSetTensor4dDescriptor(t, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, 1, 1, (int)count), "ReLU tensor descriptor");
	DNN(p_cudnnCreateActivationDescriptor(&a), "cudnnCreateActivationDescriptor");
	DNN(p_cudnnSetActivationDescriptor(a, CUDNN_ACTIVATION_RELU, CUDNN_NOT_PROPAGATE_NAN, 0), "cudnnSetActivationDescriptor");
	if (!backward)
		DNN(p_cudnnActivationForward(d->dnn, a, &one, t, (void *)x, &zero, t, (void *)y), "cudnnActivationForward");
	else
		DNN(p_cudnnActivationBackward(d->dnn, a, &one, t, (void *)y, t, (void *)dy, t, (void *)x, &zero, t, (void *)dx), "cudnnActivationBackward");
cleanup:
	if (a) p_cudnnDestroyActivationDescriptor(a);
	if (t) p_cudnnDestroyTensorDescriptor(t);
	return rc;
}

int cg_bias_add(cg_dev *d, int n, int c, size_t plane, uint64_t x, uint64_t b, uint64_t y) {
	long long total = (long long)n * c * plane, pl = (long long)plane;
	CUdeviceptr xx = x, bb = b, yy = y;
	void *args[] = {&xx, &bb, &yy, &total, &c, &pl};
	return launch(d, F_BIAS_ADD, (size_t)total, 0, args);
}

int cg_bias_grad(cg_dev *d, int n, int c, size_t plane, uint64_t dy, uint64_t db) {
	long long pl = (long long)plane;
	CUdeviceptr g = dy, out = db;
	void *args[] = {&g, &out, &n, &c, &pl};
	return launch(d, F_BIAS_GRAD, 0, (unsigned)c, args);
}

int cg_axpy(cg_dev *d, float a, uint64_t x, uint64_t y, size_t count) {
	long long n = (long long)count;
	CUdeviceptr xx = x, yy = y;
	void *args[] = {&a, &xx, &yy, &n};
	return launch(d, F_AXPY, count, 0, args);
}
