// Element-wise kernels of compute/gpu: what cuBLAS and cuDNN do not do for Convas's ops.
//
// Compiled by scripts/cuda-kernels.sh (`go generate ./compute/gpu/`) into kernels.fatbin (SASS
// for sm_80 and sm_90, PTX for compute_90, which newer GPUs compile when they load it) and
// kernels.ptx (the same PTX, for reading). Nothing here is compiled when Go builds the package.
//
// Every kernel takes its element count and walks it with a grid-stride loop, so any grid size
// is correct; cuda.c launches ceil(n/256) blocks of 256 threads, at most 65535*32 blocks.
// Indices are 64-bit: a VGG activation at 1024x1024 has more than 2^31 elements in a batch.

typedef long long i64;

#define GRID_STRIDE(i, n) \
	for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (i64)blockDim.x * gridDim.x)

// cv_pad copies x (planes, h, w) into y (planes, h2, w2) at row top and column left, and fills
// the rest of y with fill: the explicit padding of a convolution or pooling whose padding cuDNN
// cannot express (cuDNN pads symmetrically; TF 'SAME' may pad one more on the bottom and right).
extern "C" __global__ void cv_pad(const float *__restrict__ x, float *__restrict__ y, i64 planes,
	int h, int w, int h2, int w2, int top, int left, float fill)
{
	GRID_STRIDE(i, planes * h2 * w2) {
		int c = (int)(i % w2);
		i64 t = i / w2;
		int r = (int)(t % h2);
		i64 p = t / h2;
		int sr = r - top, sc = c - left;
		y[i] = (sr >= 0 && sr < h && sc >= 0 && sc < w) ? x[(p * h + sr) * w + sc] : fill;
	}
}

// cv_crop is cv_pad's adjoint: y (planes, h, w) = the window of x (planes, h2, w2) at row top
// and column left. It turns the gradient of a padded input into the gradient of the input.
extern "C" __global__ void cv_crop(const float *__restrict__ x, float *__restrict__ y, i64 planes,
	int h, int w, int h2, int w2, int top, int left)
{
	GRID_STRIDE(i, planes * h * w) {
		int c = (int)(i % w);
		i64 t = i / w;
		int r = (int)(t % h);
		i64 p = t / h;
		y[i] = x[(p * h2 + r + top) * w2 + c + left];
	}
}

// cv_pool_rescale multiplies each cell of y (planes, oh, ow) by kh*kw / (the number of real,
// unpadded input cells under its window) for an input of h x w padded by top and left. cuDNN's
// average pooling over an explicitly padded input divides by kh*kw; TensorFlow's 'SAME' average
// divides by the real cells only. The same factor scales the output gradient before cuDNN's
// backward pass spreads it. x and y may be the same array (no __restrict__).
extern "C" __global__ void cv_pool_rescale(const float *x, float *y,
	i64 planes, int oh, int ow, int h, int w, int kh, int kw, int sh, int sw, int top, int left)
{
	GRID_STRIDE(i, planes * oh * ow) {
		int c = (int)(i % ow);
		int r = (int)((i / ow) % oh);
		int h0 = r * sh - top, w0 = c * sw - left;
		int h1 = min(h0 + kh, h), w1 = min(w0 + kw, w);
		h0 = max(h0, 0);
		w0 = max(w0, 0);
		y[i] = x[i] * ((float)(kh * kw) / (float)((h1 - h0) * (w1 - w0)));
	}
}

// cv_bias_add writes y = x + b[channel] for x (n, c, plane).
extern "C" __global__ void cv_bias_add(const float *__restrict__ x, const float *__restrict__ b,
	float *__restrict__ y, i64 total, int c, i64 plane)
{
	GRID_STRIDE(i, total) {
		y[i] = x[i] + b[(i / plane) % c];
	}
}

// cv_bias_grad writes db[ch] = the sum of dy (n, c, plane) over n and plane: one block of 256
// threads per channel, each thread summing a strided share, then a tree in shared memory.
extern "C" __global__ void cv_bias_grad(const float *__restrict__ dy, float *__restrict__ db,
	int n, int c, i64 plane)
{
	__shared__ float part[256];
	int ch = blockIdx.x;
	float s = 0;
	for (int b = 0; b < n; b++) {
		const float *p = dy + ((i64)b * c + ch) * plane;
		for (i64 j = threadIdx.x; j < plane; j += blockDim.x) s += p[j];
	}
	part[threadIdx.x] = s;
	__syncthreads();
	for (int k = blockDim.x / 2; k > 0; k /= 2) {
		if (threadIdx.x < k) part[threadIdx.x] += part[threadIdx.x + k];
		__syncthreads();
	}
	if (threadIdx.x == 0) db[ch] = part[0];
}

// cv_axpy writes y += a*x: gradient accumulation and the plain SGD step.
extern "C" __global__ void cv_axpy(float a, const float *__restrict__ x, float *__restrict__ y, i64 n)
{
	GRID_STRIDE(i, n) {
		y[i] += a * x[i];
	}
}
