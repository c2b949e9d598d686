//go:build cgo && !noonednn

package onednn

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <dnnl.h>

// The functions used, resolved with dlsym; dnnl.h gives their types.
#define ONEDNN_FUNCS(X) X(dnnl_engine_create) X(dnnl_stream_create) \
	X(dnnl_memory_desc_init_by_strides) X(dnnl_memory_desc_init_by_tag) \
	X(dnnl_dilated_convolution_forward_desc_init) \
	X(dnnl_dilated_convolution_backward_weights_desc_init) \
	X(dnnl_dilated_convolution_backward_data_desc_init) X(dnnl_primitive_desc_create) \
	X(dnnl_primitive_desc_query) X(dnnl_primitive_desc_query_md) \
	X(dnnl_primitive_desc_destroy) X(dnnl_primitive_create) X(dnnl_primitive_destroy) \
	X(dnnl_reorder_primitive_desc_create) X(dnnl_memory_create) X(dnnl_memory_destroy) \
	X(dnnl_memory_set_data_handle) X(dnnl_primitive_execute) X(dnnl_stream_wait) \
	X(dnnl_memory_desc_equal) X(dnnl_memory_desc_get_size) X(dnnl_version)

#define DECLARE(f) static __typeof__(&f) p_##f;
ONEDNN_FUNCS(DECLARE)

static dnnl_engine_t engine;
static dnnl_stream_t stream;
static char version[64];

// load opens the library and makes the engine and stream; it returns NULL
// or what failed.
static const char *load(const char *name) {
	void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
	if (!h) return dlerror();
#define RESOLVE(f) if (!(p_##f = (__typeof__(&f))dlsym(h, #f))) return "no symbol " #f;
	ONEDNN_FUNCS(RESOLVE)
	if (p_dnnl_engine_create(&engine, dnnl_cpu, 0) != dnnl_success) return "no CPU engine";
	if (p_dnnl_stream_create(&stream, engine, dnnl_stream_default_flags) != dnnl_success)
		return "no stream";
	const dnnl_version_t *v = p_dnnl_version();
	snprintf(version, sizeof version, "%d.%d.%d", v->major, v->minor, v->patch);
	return NULL;
}

static const char *loaded_version(void) { return version; }

// A convolution (kind 0) or the gradient of one with respect to its
// weights (kind 1) or source (kind 2): the operands as the caller lays them
// out (user), as the primitive wants them (inner, NULL where the same), and
// the reorders between them (NULL where none is needed). Operands 0 and 1
// are read, 2 written: the source, weights and destination of a
// convolution; the source, destination gradient and weights gradient of a
// weights gradient; the destination gradient, weights and source gradient
// of a source gradient.
typedef struct {
	int kind;
	dnnl_primitive_t conv;
	dnnl_memory_t user[3], inner[3];
	size_t inner_size[3];
	dnnl_primitive_t reorder[3];
} conv_t;

// The inner operands' memory, shared by every convolution (they run one at
// a time, on one thread) and grown as needed, so that it is as large as the
// largest convolution's, not the sum of all of theirs.
static void *work[3];
static size_t work_size[3];

static dnnl_status_t grow_work(int i, size_t size) {
	if (work_size[i] >= size) return dnnl_success;
	free(work[i]);
	size = (size + 63) / 64 * 64;
	work[i] = aligned_alloc(64, size);
	work_size[i] = work[i] ? size : 0;
	return work[i] ? dnnl_success : dnnl_out_of_memory;
}

static const dnnl_query_t operand_query[3][3] = {
	{dnnl_query_src_md, dnnl_query_weights_md, dnnl_query_dst_md},
	{dnnl_query_src_md, dnnl_query_diff_dst_md, dnnl_query_diff_weights_md},
	{dnnl_query_diff_dst_md, dnnl_query_weights_md, dnnl_query_diff_src_md}};
static const int operand_arg[3][3] = {{DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST},
	{DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_WEIGHTS},
	{DNNL_ARG_DIFF_DST, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_SRC}};
// The operands that are the convolution's source, weights and destination.
static const int conv_role[3][3] = {{0, 1, 2}, {0, 2, 1}, {2, 1, 0}};

static void conv_destroy(conv_t *c) {
	for (int i = 0; i < 3; i++) {
		if (c->reorder[i]) p_dnnl_primitive_destroy(c->reorder[i]);
		if (c->inner[i]) p_dnnl_memory_destroy(c->inner[i]);
		if (c->user[i]) p_dnnl_memory_destroy(c->user[i]);
	}
	if (c->conv) p_dnnl_primitive_destroy(c->conv);
	free(c);
}

// reorder_between makes the reorder from one layout to the other.
static dnnl_status_t reorder_between(dnnl_primitive_t *r, const dnnl_memory_desc_t *from,
		const dnnl_memory_desc_t *to) {
	dnnl_primitive_desc_t pd;
	dnnl_status_t s = p_dnnl_reorder_primitive_desc_create(&pd, from, engine, to, engine, NULL);
	if (s != dnnl_success) return s;
	s = p_dnnl_primitive_create(r, pd);
	p_dnnl_primitive_desc_destroy(pd);
	return s;
}

// operands sets up operand i of c for the primitive pd.
static dnnl_status_t operands(conv_t *c, int i, const_dnnl_primitive_desc_t pd,
		const dnnl_memory_desc_t *user) {
	dnnl_status_t s = p_dnnl_memory_create(&c->user[i], user, engine, DNNL_MEMORY_NONE);
	if (s != dnnl_success) return s;
	const dnnl_memory_desc_t *inner =
		p_dnnl_primitive_desc_query_md(pd, operand_query[c->kind][i], 0);
	if (p_dnnl_memory_desc_equal(inner, user)) return dnnl_success;
	c->inner_size[i] = p_dnnl_memory_desc_get_size(inner);
	s = p_dnnl_memory_create(&c->inner[i], inner, engine, DNNL_MEMORY_NONE);
	if (s != dnnl_success) return s;
	return i < 2 ? reorder_between(&c->reorder[i], user, inner)
	             : reorder_between(&c->reorder[i], inner, user);
}

// describe finds the primitive descriptor of a convolution of kind from
// the operand descriptors md (in the order of conv_t's operands) and
// params: strides, dilations, low and high paddings, two each.
static dnnl_status_t describe(dnnl_primitive_desc_t *pd, int kind,
		const dnnl_memory_desc_t *md, const int64_t *params, int *failed) {
	const int64_t *st = params, *dil = params + 2, *lo = params + 4, *hi = params + 6;
	dnnl_convolution_desc_t cd;
	dnnl_status_t s;
	*failed = 1;
	if (kind == 0) {
		s = p_dnnl_dilated_convolution_forward_desc_init(&cd, dnnl_forward_inference,
			dnnl_convolution_direct, &md[0], &md[1], NULL, &md[2], st, dil, lo, hi);
		if (s != dnnl_success) return s;
		*failed = 2;
		return p_dnnl_primitive_desc_create(pd, &cd, NULL, engine, NULL);
	}
	// A backward primitive takes the forward one it belongs to as a hint.
	const dnnl_memory_desc_t *src = &md[conv_role[kind][0]], *w = &md[conv_role[kind][1]],
		*dst = &md[conv_role[kind][2]];
	s = p_dnnl_dilated_convolution_forward_desc_init(&cd, dnnl_forward_training,
		dnnl_convolution_direct, src, w, NULL, dst, st, dil, lo, hi);
	if (s != dnnl_success) return s;
	*failed = 2;
	dnnl_primitive_desc_t hint;
	s = p_dnnl_primitive_desc_create(&hint, &cd, NULL, engine, NULL);
	if (s != dnnl_success) return s;
	*failed = 1;
	if (kind == 1)
		s = p_dnnl_dilated_convolution_backward_weights_desc_init(&cd, dnnl_convolution_direct,
			src, w, NULL, dst, st, dil, lo, hi);
	else
		s = p_dnnl_dilated_convolution_backward_data_desc_init(&cd, dnnl_convolution_direct,
			src, w, dst, st, dil, lo, hi);
	if (s == dnnl_success) {
		*failed = 2;
		s = p_dnnl_primitive_desc_create(pd, &cd, NULL, engine, hint);
	}
	p_dnnl_primitive_desc_destroy(hint);
	return s;
}

// conv_create prepares a convolution of kind: dims and strides hold the
// three operands' four each, in conv_t's order; params as describe's.
// impl receives the name of the implementation chosen; failed, on failure,
// what was being done.
static dnnl_status_t conv_create(conv_t **out, int kind, const int64_t *dims,
		const int64_t *strides, const int64_t *params, char *impl, size_t implSize,
		int *failed) {
	dnnl_memory_desc_t user[3], any[3];
	dnnl_status_t s;
	*failed = 0;
	for (int i = 0; i < 3; i++) {
		s = p_dnnl_memory_desc_init_by_strides(&user[i], 4, dims + 4 * i, dnnl_f32,
			strides + 4 * i);
		if (s != dnnl_success) return s;
		s = p_dnnl_memory_desc_init_by_tag(&any[i], 4, dims + 4 * i, dnnl_f32,
			dnnl_format_tag_any);
		if (s != dnnl_success) return s;
	}
	dnnl_primitive_desc_t pd;
	s = describe(&pd, kind, any, params, failed);
	if (s != dnnl_success) return s;
	*failed = 3;
	conv_t *c = calloc(1, sizeof *c);
	if (!c) {
		p_dnnl_primitive_desc_destroy(pd);
		return dnnl_out_of_memory;
	}
	c->kind = kind;
	s = p_dnnl_primitive_create(&c->conv, pd);
	for (int i = 0; i < 3 && s == dnnl_success; i++) s = operands(c, i, pd, &user[i]);
	const char *name = NULL;
	p_dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, (void *)&name);
	snprintf(impl, implSize, "%s", name ? name : "");
	p_dnnl_primitive_desc_destroy(pd);
	if (s != dnnl_success) {
		conv_destroy(c);
		return s;
	}
	*out = c;
	return dnnl_success;
}

static dnnl_status_t run_reorder(conv_t *c, int i) {
	dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, i < 2 ? c->user[i] : c->inner[i]},
		{DNNL_ARG_TO, i < 2 ? c->inner[i] : c->user[i]}};
	return p_dnnl_primitive_execute(c->reorder[i], stream, 2, args);
}

// conv_run computes operand 2 from 0 and 1, then forgets the pointers.
static dnnl_status_t conv_run(conv_t *c, void *in0, void *in1, void *out) {
	void *data[3] = {in0, in1, out};
	dnnl_status_t s = dnnl_success;
	for (int i = 0; i < 3 && s == dnnl_success; i++) {
		s = p_dnnl_memory_set_data_handle(c->user[i], data[i]);
		if (s != dnnl_success || !c->inner[i]) continue;
		s = grow_work(i, c->inner_size[i]);
		if (s == dnnl_success) s = p_dnnl_memory_set_data_handle(c->inner[i], work[i]);
	}
	for (int i = 0; i < 2 && s == dnnl_success; i++)
		if (c->reorder[i]) s = run_reorder(c, i);
	if (s == dnnl_success) {
		dnnl_memory_t m[3];
		for (int i = 0; i < 3; i++) m[i] = c->inner[i] ? c->inner[i] : c->user[i];
		const int *arg = operand_arg[c->kind];
		dnnl_exec_arg_t args[3] = {{arg[0], m[0]}, {arg[1], m[1]}, {arg[2], m[2]}};
		s = p_dnnl_primitive_execute(c->conv, stream, 3, args);
	}
	if (s == dnnl_success && c->reorder[2]) s = run_reorder(c, 2);
	dnnl_status_t w = p_dnnl_stream_wait(stream);
	if (s == dnnl_success) s = w;
	for (int i = 0; i < 3; i++) p_dnnl_memory_set_data_handle(c->user[i], DNNL_MEMORY_NONE);
	return s;
}
*/
import "C"

import (
	"fmt"
	"runtime"
	"unsafe"
)

// open dlopens the library called name and makes the engine and stream.
func open(name string) (version string, err error) {
	// dlerror's message belongs to the thread that made the failing call.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	if msg := C.load(cname); msg != nil {
		return "", fmt.Errorf("cannot load %s: %s", name, C.GoString(msg))
	}
	return C.GoString(C.loaded_version()), nil
}

// primitive is a conv_t.
type primitive struct{ c *C.conv_t }

// failedSteps names what conv_create was doing when it failed.
var failedSteps = [...]string{"describing the operands", "describing the convolution",
	"finding an implementation", "creating the primitive and reorders"}

// newPrimitive prepares a convolution of kind (0 for s, 1 and 2 for its
// gradients with respect to the weights and the source).
func newPrimitive(s ConvSpec, kind int) (*primitive, string, error) {
	var dims, strides [12]C.int64_t
	for i, t := range operandsOf(s, kind) {
		for j := range 4 {
			dims[4*i+j], strides[4*i+j] = C.int64_t(t.Dims[j]), C.int64_t(t.Strides[j])
		}
	}
	var params [8]C.int64_t
	for i, pair := range [][2]int{s.Strides, s.Dilations, s.PadLow, s.PadHigh} {
		params[2*i], params[2*i+1] = C.int64_t(pair[0]), C.int64_t(pair[1])
	}
	var c *C.conv_t
	var impl [64]C.char
	var failed C.int
	st := C.conv_create(&c, C.int(kind), &dims[0], &strides[0], &params[0], &impl[0],
		C.size_t(len(impl)), &failed)
	if st != C.dnnl_success {
		return nil, "", fmt.Errorf("%s: %s", failedSteps[failed], status(st))
	}
	return &primitive{c: c}, C.GoString(&impl[0]), nil
}

func (p *primitive) run(in0, in1, out []float32) error {
	st := C.conv_run(p.c, unsafe.Pointer(&in0[0]), unsafe.Pointer(&in1[0]),
		unsafe.Pointer(&out[0]))
	if st != C.dnnl_success {
		return fmt.Errorf("onednn: convolution: %s", status(st))
	}
	return nil
}

func (p *primitive) destroy() { C.conv_destroy(p.c) }

// status names a dnnl_status_t.
func status(s C.dnnl_status_t) string {
	switch s {
	case C.dnnl_out_of_memory:
		return "out of memory"
	case C.dnnl_invalid_arguments:
		return "invalid arguments"
	case C.dnnl_unimplemented:
		return "unimplemented"
	case C.dnnl_runtime_error:
		return "runtime error"
	}
	return fmt.Sprintf("status %d", int(s))
}
