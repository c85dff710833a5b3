//go:build cgo && !purego

package dnnl

// The C half of the binding: one convolution pass with its reorders, built and run by a few
// static functions so that one execution costs one cgo call. Everything here runs on the
// engine's locked OS thread (engine.go).
//
// A cv_conv holds, for each of its three arguments (0: src or diff_src, 1: weights or
// diff_weights, 2: dst or diff_dst), a memory object in the caller's plain layout (nchw or
// oihw) whose data handle is set to the caller's buffer for the length of one cv_exec call, and,
// where the primitive prefers another layout, a memory object in that layout over one of the
// engine's work buffers plus the reorder between the two. Work buffers and the scratchpad
// belong to the engine and are shared by all its primitives: only one runs at a time.

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dnnl.h>

// oneDNN is loaded with dlopen when the first engine starts, not linked: libgomp, which
// libdnnl pulls in, reads its settings once, when it is loaded, and a link-time dependency
// would load it before any code of ours runs. Loading it late lets cv_load ask for passive
// waiting first (see cv_load), and lets a binary run, on the GEMM path, where libdnnl is
// missing.
#define CV_FUNCS(X) \
	X(dnnl_version) \
	X(dnnl_engine_create) X(dnnl_engine_destroy) \
	X(dnnl_stream_create) X(dnnl_stream_destroy) X(dnnl_stream_wait) \
	X(dnnl_memory_desc_init_by_tag) X(dnnl_memory_desc_equal) X(dnnl_memory_desc_get_size) \
	X(dnnl_memory_create) X(dnnl_memory_destroy) X(dnnl_memory_set_data_handle) \
	X(dnnl_primitive_attr_create) X(dnnl_primitive_attr_destroy) \
	X(dnnl_primitive_attr_set_scratchpad_mode) X(dnnl_primitive_attr_set_post_ops) \
	X(dnnl_post_ops_create) X(dnnl_post_ops_destroy) X(dnnl_post_ops_append_eltwise) \
	X(dnnl_convolution_forward_desc_init) X(dnnl_convolution_backward_data_desc_init) \
	X(dnnl_convolution_backward_weights_desc_init) \
	X(dnnl_primitive_desc_create) X(dnnl_primitive_desc_destroy) \
	X(dnnl_primitive_desc_query) X(dnnl_primitive_desc_query_md) \
	X(dnnl_primitive_create) X(dnnl_primitive_destroy) X(dnnl_primitive_execute) \
	X(dnnl_reorder_primitive_desc_create)

#define CV_DECLARE(f) static __typeof__(&f) p_##f;
CV_FUNCS(CV_DECLARE)

static char cv_load_error[256];

static const char *cv_load_message(void) { return cv_load_error; }

// cv_load opens libdnnl and resolves the functions above; it returns 0 on success and -1 with
// cv_load_error set otherwise. It runs once per process (engine.go makes sure).
//
// By default libgomp's idle threads spin (300000 rounds of a pause loop) after every parallel
// region before they sleep. On two cores shared with Go's goroutines, OpenBLAS's threads and
// other processes, that spinning took a core from whatever ran between oneDNN calls: the MNIST
// training step took 1.5 to 2 times as long as with passive waiting. So unless the user chose a
// policy (OMP_WAIT_POLICY or GOMP_SPINCOUNT), oneDNN's threads wait passively. The setting
// reaches libgomp only if nothing loaded it earlier.
static int cv_load(void) {
	if (!getenv("OMP_WAIT_POLICY") && !getenv("GOMP_SPINCOUNT")) setenv("OMP_WAIT_POLICY", "passive", 0);
	void *h = dlopen("libdnnl.so.2", RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		snprintf(cv_load_error, sizeof cv_load_error, "%s", dlerror());
		return -1;
	}
#define CV_RESOLVE(f) \
	p_##f = (__typeof__(p_##f))dlsym(h, #f); \
	if (!p_##f) { snprintf(cv_load_error, sizeof cv_load_error, "libdnnl.so.2 lacks %s", #f); return -1; }
	CV_FUNCS(CV_RESOLVE)
	return 0;
}

// From here on, every dnnl_* call goes through the resolved pointers.
#define dnnl_version (*p_dnnl_version)
#define dnnl_engine_create (*p_dnnl_engine_create)
#define dnnl_engine_destroy (*p_dnnl_engine_destroy)
#define dnnl_stream_create (*p_dnnl_stream_create)
#define dnnl_stream_destroy (*p_dnnl_stream_destroy)
#define dnnl_stream_wait (*p_dnnl_stream_wait)
#define dnnl_memory_desc_init_by_tag (*p_dnnl_memory_desc_init_by_tag)
#define dnnl_memory_desc_equal (*p_dnnl_memory_desc_equal)
#define dnnl_memory_desc_get_size (*p_dnnl_memory_desc_get_size)
#define dnnl_memory_create (*p_dnnl_memory_create)
#define dnnl_memory_destroy (*p_dnnl_memory_destroy)
#define dnnl_memory_set_data_handle (*p_dnnl_memory_set_data_handle)
#define dnnl_primitive_attr_create (*p_dnnl_primitive_attr_create)
#define dnnl_primitive_attr_destroy (*p_dnnl_primitive_attr_destroy)
#define dnnl_primitive_attr_set_scratchpad_mode (*p_dnnl_primitive_attr_set_scratchpad_mode)
#define dnnl_primitive_attr_set_post_ops (*p_dnnl_primitive_attr_set_post_ops)
#define dnnl_post_ops_create (*p_dnnl_post_ops_create)
#define dnnl_post_ops_destroy (*p_dnnl_post_ops_destroy)
#define dnnl_post_ops_append_eltwise (*p_dnnl_post_ops_append_eltwise)
#define dnnl_convolution_forward_desc_init (*p_dnnl_convolution_forward_desc_init)
#define dnnl_convolution_backward_data_desc_init (*p_dnnl_convolution_backward_data_desc_init)
#define dnnl_convolution_backward_weights_desc_init (*p_dnnl_convolution_backward_weights_desc_init)
#define dnnl_primitive_desc_create (*p_dnnl_primitive_desc_create)
#define dnnl_primitive_desc_destroy (*p_dnnl_primitive_desc_destroy)
#define dnnl_primitive_desc_query (*p_dnnl_primitive_desc_query)
#define dnnl_primitive_desc_query_md (*p_dnnl_primitive_desc_query_md)
#define dnnl_primitive_create (*p_dnnl_primitive_create)
#define dnnl_primitive_destroy (*p_dnnl_primitive_destroy)
#define dnnl_primitive_execute (*p_dnnl_primitive_execute)
#define dnnl_reorder_primitive_desc_create (*p_dnnl_reorder_primitive_desc_create)

// cv_version describes the loaded library.
static void cv_version(char *buf, size_t len) {
	const dnnl_version_t *v = dnnl_version();
	snprintf(buf, len, "oneDNN %d.%d.%d (cpu runtime %s)", v->major, v->minor, v->patch,
		v->cpu_runtime == DNNL_RUNTIME_OMP ? "OpenMP" : v->cpu_runtime == DNNL_RUNTIME_TBB ? "TBB" : "other");
}

enum { CV_FWD = 0, CV_BWD_DATA = 1, CV_BWD_WEIGHTS = 2 };

typedef struct {
	int64_t n, c, h, w, o, kh, kw, oh, ow, sh, sw, pt, pb, pl, pr;
	int winograd;
	int bias; // forward only: add a bias (O) to every output channel
	int relu; // forward only: max(0, ·) of the output, as a post-op of the convolution
} cv_shape;

typedef struct {
	dnnl_engine_t eng;
	dnnl_stream_t stream;
	// work[0..2]: buffers for the arguments in the primitives' layouts; work[3]: scratchpad.
	void *work[4];
	size_t work_size[4];
} cv_engine;

typedef struct {
	dnnl_primitive_t prim;
	int out;                   // which argument the pass writes
	int arg[3];                // DNNL_ARG_* of each argument
	dnnl_memory_t user[3];     // plain layout, handle set per call
	dnnl_memory_t inner[3];    // the primitive's layout over work[i]; NULL when plain
	dnnl_primitive_t reorder[3];
	dnnl_memory_t reorder_scratch[3];
	dnnl_memory_t scratch;     // over work[3]; NULL when the primitive needs none
	dnnl_memory_t bias;        // the bias (plain, handle set per call); NULL without one
	size_t need[4];            // bytes of work[i] this pass needs
	char impl[96];
	char layout[3][24];
} cv_conv;

// cv_where names the step that failed last on this thread.
static __thread const char *cv_where;

static const char *cv_last_where(void) { return cv_where; }

#define CV_CHECK(call, what) do { dnnl_status_t st_ = (call); if (st_ != dnnl_success) { cv_where = (what); return st_; } } while (0)

static dnnl_status_t cv_engine_create(cv_engine **out) {
	cv_engine *e = calloc(1, sizeof *e);
	if (!e) { cv_where = "calloc"; return dnnl_out_of_memory; }
	dnnl_status_t st = dnnl_engine_create(&e->eng, dnnl_cpu, 0);
	if (st != dnnl_success) { cv_where = "dnnl_engine_create"; free(e); return st; }
	st = dnnl_stream_create(&e->stream, e->eng, dnnl_stream_default_flags);
	if (st != dnnl_success) { cv_where = "dnnl_stream_create"; dnnl_engine_destroy(e->eng); free(e); return st; }
	*out = e;
	return dnnl_success;
}

static void cv_engine_destroy(cv_engine *e) {
	for (int i = 0; i < 4; i++) free(e->work[i]);
	dnnl_stream_destroy(e->stream);
	dnnl_engine_destroy(e->eng);
	free(e);
}

// cv_layout names the layout of md: the first of a few candidate tags that describes it.
static void cv_layout(const dnnl_memory_desc_t *md, int weights, char *buf, size_t len) {
	static const dnnl_format_tag_t acts[] = {dnnl_nchw, dnnl_nhwc, dnnl_nChw8c, dnnl_nChw16c};
	static const char *act_names[] = {"nchw", "nhwc", "nChw8c", "nChw16c"};
	static const dnnl_format_tag_t wei[] = {dnnl_oihw, dnnl_ohwi, dnnl_hwio, dnnl_OIhw8i8o,
		dnnl_OIhw16i16o, dnnl_OIhw8o8i, dnnl_OIhw16o16i, dnnl_Ohwi8o, dnnl_Ohwi16o,
		dnnl_Oihw16o, dnnl_IOhw16o16i, dnnl_OIhw4i16o4i};
	static const char *wei_names[] = {"oihw", "ohwi", "hwio", "OIhw8i8o", "OIhw16i16o",
		"OIhw8o8i", "OIhw16o16i", "Ohwi8o", "Ohwi16o", "Oihw16o", "IOhw16o16i", "OIhw4i16o4i"};
	const dnnl_format_tag_t *tags = weights ? wei : acts;
	const char **names = weights ? wei_names : act_names;
	int n = weights ? (int)(sizeof wei / sizeof wei[0]) : (int)(sizeof acts / sizeof acts[0]);
	for (int i = 0; i < n; i++) {
		dnnl_memory_desc_t t;
		if (dnnl_memory_desc_init_by_tag(&t, md->ndims, md->dims, md->data_type, tags[i]) != dnnl_success) continue;
		if (dnnl_memory_desc_equal(&t, md)) {
			snprintf(buf, len, "%s", names[i]);
			return;
		}
	}
	snprintf(buf, len, "other");
}

// cv_attr makes attributes that ask for a scratchpad of the caller's.
static dnnl_status_t cv_attr(dnnl_primitive_attr_t *attr) {
	CV_CHECK(dnnl_primitive_attr_create(attr), "dnnl_primitive_attr_create");
	dnnl_status_t st = dnnl_primitive_attr_set_scratchpad_mode(*attr, dnnl_scratchpad_mode_user);
	if (st != dnnl_success) { cv_where = "dnnl_primitive_attr_set_scratchpad_mode"; dnnl_primitive_attr_destroy(*attr); }
	return st;
}

// cv_relu_attr makes cv_attr's attributes with a ReLU post-op (an eltwise relu of slope 0 and
// scale 1 applied to the convolution's output in its own loop).
static dnnl_status_t cv_relu_attr(dnnl_primitive_attr_t *attr) {
	CV_CHECK(cv_attr(attr), "attributes");
	dnnl_post_ops_t po;
	dnnl_status_t st = dnnl_post_ops_create(&po);
	if (st != dnnl_success) { cv_where = "dnnl_post_ops_create"; dnnl_primitive_attr_destroy(*attr); return st; }
	st = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f);
	if (st != dnnl_success) {
		cv_where = "dnnl_post_ops_append_eltwise";
	} else {
		st = dnnl_primitive_attr_set_post_ops(*attr, po);
		if (st != dnnl_success) cv_where = "dnnl_primitive_attr_set_post_ops";
	}
	dnnl_post_ops_destroy(po);
	if (st != dnnl_success) dnnl_primitive_attr_destroy(*attr);
	return st;
}

static size_t cv_max(size_t a, size_t b) { return a > b ? a : b; }

void cv_conv_destroy(cv_conv *cv);

// cv_scratch_of creates a memory object (without a buffer) for the scratchpad pd asks for, or
// leaves *mem NULL when it asks for none; *need grows to the scratchpad's size.
static dnnl_status_t cv_scratch_of(cv_engine *e, const_dnnl_primitive_desc_t pd, dnnl_memory_t *mem, size_t *need) {
	const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
	size_t sz = md ? dnnl_memory_desc_get_size(md) : 0;
	if (sz == 0) return dnnl_success;
	CV_CHECK(dnnl_memory_create(mem, md, e->eng, DNNL_MEMORY_NONE), "dnnl_memory_create(scratchpad)");
	*need = cv_max(*need, sz);
	return dnnl_success;
}

// cv_conv_init fills cv; on failure the caller destroys the partial cv.
static dnnl_status_t cv_conv_init(cv_engine *e, int pass, const cv_shape *s, cv_conv *cv) {
	dnnl_dims_t xd = {s->n, s->c, s->h, s->w};
	dnnl_dims_t wd = {s->o, s->c, s->kh, s->kw};
	dnnl_dims_t yd = {s->n, s->o, s->oh, s->ow};
	dnnl_dims_t strides = {s->sh, s->sw};
	dnnl_dims_t pad_l = {s->pt, s->pl};
	dnnl_dims_t pad_r = {s->pb, s->pr};
	dnnl_memory_desc_t plain[3], any[3];
	CV_CHECK(dnnl_memory_desc_init_by_tag(&plain[0], 4, xd, dnnl_f32, dnnl_nchw), "memory desc (src)");
	CV_CHECK(dnnl_memory_desc_init_by_tag(&plain[1], 4, wd, dnnl_f32, dnnl_oihw), "memory desc (weights)");
	CV_CHECK(dnnl_memory_desc_init_by_tag(&plain[2], 4, yd, dnnl_f32, dnnl_nchw), "memory desc (dst)");
	CV_CHECK(dnnl_memory_desc_init_by_tag(&any[0], 4, xd, dnnl_f32, dnnl_format_tag_any), "memory desc (src, any)");
	CV_CHECK(dnnl_memory_desc_init_by_tag(&any[1], 4, wd, dnnl_f32, dnnl_format_tag_any), "memory desc (weights, any)");
	CV_CHECK(dnnl_memory_desc_init_by_tag(&any[2], 4, yd, dnnl_f32, dnnl_format_tag_any), "memory desc (dst, any)");
	dnnl_alg_kind_t alg = s->winograd ? dnnl_convolution_winograd : dnnl_convolution_direct;
	dnnl_dims_t bdims = {s->o};
	dnnl_memory_desc_t bmd;
	CV_CHECK(dnnl_memory_desc_init_by_tag(&bmd, 1, bdims, dnnl_f32, dnnl_a), "memory desc (bias)");
	int with_bias = s->bias && pass == CV_FWD;

	dnnl_primitive_attr_t attr, fattr = NULL;
	CV_CHECK(cv_attr(&attr), "attributes");
	dnnl_status_t st;
	if (pass == CV_FWD && s->relu) {
		st = cv_relu_attr(&fattr);
		if (st != dnnl_success) { fattr = NULL; goto done; }
	}
	dnnl_convolution_desc_t fd, bd;
	dnnl_primitive_desc_t fpd = NULL, pd = NULL;
	st = dnnl_convolution_forward_desc_init(&fd, dnnl_forward_training, alg, &any[0], &any[1], with_bias ? &bmd : NULL, &any[2], strides, pad_l, pad_r);
	if (st != dnnl_success) { cv_where = "dnnl_convolution_forward_desc_init"; goto done; }
	st = dnnl_primitive_desc_create(&fpd, &fd, fattr ? fattr : attr, e->eng, NULL);
	if (st != dnnl_success) { cv_where = "dnnl_primitive_desc_create(forward)"; goto done; }
	dnnl_query_t q[3];
	switch (pass) {
	case CV_FWD:
		pd = fpd; fpd = NULL;
		cv->out = 2;
		cv->arg[0] = DNNL_ARG_SRC; cv->arg[1] = DNNL_ARG_WEIGHTS; cv->arg[2] = DNNL_ARG_DST;
		q[0] = dnnl_query_src_md; q[1] = dnnl_query_weights_md; q[2] = dnnl_query_dst_md;
		break;
	case CV_BWD_DATA:
		// With fewer channels than a block (8 or 16), a blocked diff_src is mostly padding:
		// for one channel, oneDNN's jit kernel computes eight and took 4.5 times as long as
		// its GEMM-based kernel on nchw (2.2 against 9.8 ms on the MNIST recipe's first layer
		// at batch 100; 7.2 against 8.4 with three channels).
		st = dnnl_convolution_backward_data_desc_init(&bd, alg, s->c < 8 ? &plain[0] : &any[0], &any[1], &any[2], strides, pad_l, pad_r);
		if (st != dnnl_success) { cv_where = "dnnl_convolution_backward_data_desc_init"; goto done; }
		st = dnnl_primitive_desc_create(&pd, &bd, attr, e->eng, fpd);
		if (st != dnnl_success) { cv_where = "dnnl_primitive_desc_create(backward data)"; goto done; }
		cv->out = 0;
		cv->arg[0] = DNNL_ARG_DIFF_SRC; cv->arg[1] = DNNL_ARG_WEIGHTS; cv->arg[2] = DNNL_ARG_DIFF_DST;
		q[0] = dnnl_query_diff_src_md; q[1] = dnnl_query_weights_md; q[2] = dnnl_query_diff_dst_md;
		break;
	case CV_BWD_WEIGHTS:
		st = dnnl_convolution_backward_weights_desc_init(&bd, alg, &any[0], &any[1], NULL, &any[2], strides, pad_l, pad_r);
		if (st != dnnl_success) { cv_where = "dnnl_convolution_backward_weights_desc_init"; goto done; }
		st = dnnl_primitive_desc_create(&pd, &bd, attr, e->eng, fpd);
		if (st != dnnl_success) { cv_where = "dnnl_primitive_desc_create(backward weights)"; goto done; }
		cv->out = 1;
		cv->arg[0] = DNNL_ARG_SRC; cv->arg[1] = DNNL_ARG_DIFF_WEIGHTS; cv->arg[2] = DNNL_ARG_DIFF_DST;
		q[0] = dnnl_query_src_md; q[1] = dnnl_query_diff_weights_md; q[2] = dnnl_query_diff_dst_md;
		break;
	default:
		st = dnnl_invalid_arguments; cv_where = "pass"; goto done;
	}
	const char *impl = NULL;
	if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success && impl)
		snprintf(cv->impl, sizeof cv->impl, "%s", impl);
	st = dnnl_primitive_create(&cv->prim, pd);
	if (st != dnnl_success) { cv_where = "dnnl_primitive_create"; goto done; }
	st = cv_scratch_of(e, pd, &cv->scratch, &cv->need[3]);
	if (st != dnnl_success) goto done;
	if (with_bias) {
		st = dnnl_memory_create(&cv->bias, &bmd, e->eng, DNNL_MEMORY_NONE);
		if (st != dnnl_success) { cv_where = "dnnl_memory_create(bias)"; goto done; }
	}

	for (int i = 0; i < 3; i++) {
		const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, q[i], 0);
		if (!md) { st = dnnl_runtime_error; cv_where = "query memory desc"; goto done; }
		cv_layout(md, i == 1, cv->layout[i], sizeof cv->layout[i]);
		st = dnnl_memory_create(&cv->user[i], &plain[i], e->eng, DNNL_MEMORY_NONE);
		if (st != dnnl_success) { cv_where = "dnnl_memory_create(user)"; goto done; }
		if (dnnl_memory_desc_equal(md, &plain[i])) continue;
		st = dnnl_memory_create(&cv->inner[i], md, e->eng, DNNL_MEMORY_NONE);
		if (st != dnnl_success) { cv_where = "dnnl_memory_create(inner)"; goto done; }
		cv->need[i] = dnnl_memory_desc_get_size(md);
		dnnl_primitive_desc_t rpd = NULL;
		if (i == cv->out)
			st = dnnl_reorder_primitive_desc_create(&rpd, md, e->eng, &plain[i], e->eng, attr);
		else
			st = dnnl_reorder_primitive_desc_create(&rpd, &plain[i], e->eng, md, e->eng, attr);
		if (st != dnnl_success) { cv_where = "dnnl_reorder_primitive_desc_create"; goto done; }
		st = dnnl_primitive_create(&cv->reorder[i], rpd);
		if (st == dnnl_success) st = cv_scratch_of(e, rpd, &cv->reorder_scratch[i], &cv->need[3]);
		else cv_where = "dnnl_primitive_create(reorder)";
		dnnl_primitive_desc_destroy(rpd);
		if (st != dnnl_success) goto done;
	}
done:
	if (pd) dnnl_primitive_desc_destroy(pd);
	if (fpd) dnnl_primitive_desc_destroy(fpd);
	if (fattr) dnnl_primitive_attr_destroy(fattr);
	dnnl_primitive_attr_destroy(attr);
	return st;
}

static dnnl_status_t cv_conv_create(cv_engine *e, int pass, const cv_shape *s, cv_conv **out) {
	cv_conv *cv = calloc(1, sizeof *cv);
	if (!cv) { cv_where = "calloc"; return dnnl_out_of_memory; }
	dnnl_status_t st = cv_conv_init(e, pass, s, cv);
	if (st != dnnl_success) { cv_conv_destroy(cv); return st; }
	*out = cv;
	return dnnl_success;
}

void cv_conv_destroy(cv_conv *cv) {
	if (cv->prim) dnnl_primitive_destroy(cv->prim);
	if (cv->scratch) dnnl_memory_destroy(cv->scratch);
	if (cv->bias) dnnl_memory_destroy(cv->bias);
	for (int i = 0; i < 3; i++) {
		if (cv->user[i]) dnnl_memory_destroy(cv->user[i]);
		if (cv->inner[i]) dnnl_memory_destroy(cv->inner[i]);
		if (cv->reorder[i]) dnnl_primitive_destroy(cv->reorder[i]);
		if (cv->reorder_scratch[i]) dnnl_memory_destroy(cv->reorder_scratch[i]);
	}
	free(cv);
}

// cv_grow makes the engine's work buffer i hold at least n bytes, 64-byte aligned.
static dnnl_status_t cv_grow(cv_engine *e, int i, size_t n) {
	if (n <= e->work_size[i]) return dnnl_success;
	n = (n + 63) & ~(size_t)63;
	void *p = aligned_alloc(64, n);
	if (!p) { cv_where = "aligned_alloc"; return dnnl_out_of_memory; }
	free(e->work[i]);
	e->work[i] = p;
	e->work_size[i] = n;
	return dnnl_success;
}

static dnnl_status_t cv_run(cv_engine *e, const_dnnl_primitive_t p, int nargs, const dnnl_exec_arg_t *args, const char *what) {
	CV_CHECK(dnnl_primitive_execute(p, e->stream, nargs, args), what);
	return dnnl_success;
}

// cv_exec runs one pass on the caller's plain buffers a0 (src or diff_src), a1 (weights or
// diff_weights) and a2 (dst or diff_dst), and b (the bias) when the pass has one. No pointer to
// them outlives the call.
static dnnl_status_t cv_exec_inner(cv_engine *e, cv_conv *cv, void *a0, void *a1, void *a2, void *b) {
	void *user[3] = {a0, a1, a2};
	for (int i = 0; i < 4; i++) CV_CHECK(cv_grow(e, i, cv->need[i]), "work buffer");
	for (int i = 0; i < 3; i++) {
		CV_CHECK(dnnl_memory_set_data_handle(cv->user[i], user[i]), "set handle (user)");
		if (cv->inner[i]) CV_CHECK(dnnl_memory_set_data_handle(cv->inner[i], e->work[i]), "set handle (inner)");
		if (cv->reorder_scratch[i]) CV_CHECK(dnnl_memory_set_data_handle(cv->reorder_scratch[i], e->work[3]), "set handle (scratchpad)");
	}
	if (cv->scratch) CV_CHECK(dnnl_memory_set_data_handle(cv->scratch, e->work[3]), "set handle (scratchpad)");
	if (cv->bias) CV_CHECK(dnnl_memory_set_data_handle(cv->bias, b), "set handle (bias)");

	for (int i = 0; i < 3; i++) {
		if (i == cv->out || !cv->reorder[i]) continue;
		dnnl_exec_arg_t args[3] = {{DNNL_ARG_FROM, cv->user[i]}, {DNNL_ARG_TO, cv->inner[i]}, {DNNL_ARG_SCRATCHPAD, cv->reorder_scratch[i]}};
		CV_CHECK(cv_run(e, cv->reorder[i], cv->reorder_scratch[i] ? 3 : 2, args, "reorder in"), cv_where);
	}
	dnnl_exec_arg_t args[5];
	int n = 0;
	for (int i = 0; i < 3; i++) {
		args[n].arg = cv->arg[i];
		args[n].memory = cv->inner[i] ? cv->inner[i] : cv->user[i];
		n++;
	}
	if (cv->scratch) { args[n].arg = DNNL_ARG_SCRATCHPAD; args[n].memory = cv->scratch; n++; }
	if (cv->bias) { args[n].arg = DNNL_ARG_BIAS; args[n].memory = cv->bias; n++; }
	CV_CHECK(cv_run(e, cv->prim, n, args, "convolution"), cv_where);
	int o = cv->out;
	if (cv->reorder[o]) {
		dnnl_exec_arg_t rargs[3] = {{DNNL_ARG_FROM, cv->inner[o]}, {DNNL_ARG_TO, cv->user[o]}, {DNNL_ARG_SCRATCHPAD, cv->reorder_scratch[o]}};
		CV_CHECK(cv_run(e, cv->reorder[o], cv->reorder_scratch[o] ? 3 : 2, rargs, "reorder out"), cv_where);
	}
	CV_CHECK(dnnl_stream_wait(e->stream), "dnnl_stream_wait");
	return dnnl_success;
}

static dnnl_status_t cv_exec(cv_engine *e, cv_conv *cv, void *a0, void *a1, void *a2, void *b) {
	dnnl_status_t st = cv_exec_inner(e, cv, a0, a1, a2, b);
	// Forget the caller's buffers, which may be Go memory: cgo lets no C object keep them.
	for (int i = 0; i < 3; i++) dnnl_memory_set_data_handle(cv->user[i], NULL);
	if (cv->bias) dnnl_memory_set_data_handle(cv->bias, NULL);
	return st;
}
*/
import "C"

import (
	"fmt"
	"sync"
	"unsafe"
)

// status turns a oneDNN status into an error naming the step that failed.
func status(st C.dnnl_status_t) error {
	if st == C.dnnl_success {
		return nil
	}
	where := "?"
	if w := C.cv_last_where(); w != nil {
		where = C.GoString(w)
	}
	err := ErrRuntime
	switch st {
	case C.dnnl_unimplemented:
		err = ErrUnimplemented
	case C.dnnl_out_of_memory:
		err = ErrOutOfMemory
	case C.dnnl_invalid_arguments:
		err = ErrInvalidArguments
	}
	return fmt.Errorf("dnnl: %s: %w", where, err)
}

var (
	loadOnce sync.Once
	loadErr  error
	version  string
)

// load opens libdnnl once per process.
func load() error {
	loadOnce.Do(func() {
		if C.cv_load() != 0 {
			loadErr = fmt.Errorf("dnnl: loading oneDNN: %s: %w", C.GoString(C.cv_load_message()), ErrUnavailable)
			return
		}
		var buf [96]C.char
		C.cv_version(&buf[0], C.size_t(len(buf)))
		version = C.GoString(&buf[0])
	})
	return loadErr
}

// cEngine is the C engine state: oneDNN engine, stream, work buffers and scratchpad.
type cEngine struct{ p *C.cv_engine }

func newCEngine() (cEngine, error) {
	if err := load(); err != nil {
		return cEngine{}, err
	}
	var p *C.cv_engine
	if err := status(C.cv_engine_create(&p)); err != nil {
		return cEngine{}, err
	}
	return cEngine{p}, nil
}

func (e cEngine) destroy() { C.cv_engine_destroy(e.p) }

// cConv is one convolution pass with its reorders.
type cConv struct{ p *C.cv_conv }

func (e cEngine) newConv(c Conv, pass Pass) (cConv, error) {
	oh, ow := c.OutSize()
	s := C.cv_shape{
		n: C.int64_t(c.N), c: C.int64_t(c.C), h: C.int64_t(c.H), w: C.int64_t(c.W),
		o: C.int64_t(c.O), kh: C.int64_t(c.KH), kw: C.int64_t(c.KW), oh: C.int64_t(oh), ow: C.int64_t(ow),
		sh: C.int64_t(c.StrideH), sw: C.int64_t(c.StrideW),
		pt: C.int64_t(c.PadTop), pb: C.int64_t(c.PadBottom), pl: C.int64_t(c.PadLeft), pr: C.int64_t(c.PadRight),
	}
	if c.Algorithm == Winograd {
		s.winograd = 1
	}
	if c.Bias && pass == Forward {
		s.bias = 1
	}
	if c.ReLU && pass == Forward {
		s.relu = 1
	}
	var p *C.cv_conv
	if err := status(C.cv_conv_create(e.p, C.int(pass), &s, &p)); err != nil {
		return cConv{}, err
	}
	return cConv{p}, nil
}

func (cv cConv) destroy() { C.cv_conv_destroy(cv.p) }

// info describes the implementation oneDNN chose and the layouts of the three arguments.
func (cv cConv) info() Info {
	return Info{
		Impl: C.GoString(&cv.p.impl[0]),
		Layouts: [3]string{
			C.GoString(&cv.p.layout[0][0]), C.GoString(&cv.p.layout[1][0]), C.GoString(&cv.p.layout[2][0]),
		},
	}
}

// exec runs the pass on the three plain buffers and the bias b (nil without one).
func (e cEngine) exec(cv cConv, a0, a1, a2, b []float32) error {
	var bp unsafe.Pointer
	if b != nil {
		bp = unsafe.Pointer(&b[0])
	}
	return status(C.cv_exec(e.p, cv.p, unsafe.Pointer(&a0[0]), unsafe.Pointer(&a1[0]), unsafe.Pointer(&a2[0]), bp))
}
