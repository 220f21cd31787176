/* Internals of src/nn; not installed.
 *
 * Two halves. The first is type-free: the GEMM seam, the layer catalogue
 * and the parsed spec. The second is written once over `real` and compiled
 * twice: as float (names aug__nn_*) into the library, and as double (names
 * aug__nnd_*, -DAUG_NN_DOUBLE) into the tests, which check every backward
 * pass by central differences on the double build of the same code.
 *
 * Layout. Inside a model every activation is channel-major: a batch of n
 * samples of C x H x W is stored (C, N, H, W), and a flat batch of F
 * features is (F, N). So a convolution is one GEMM over the whole batch,
 * weight (K, C*R*S) x columns (C*R*S, N*P*Q), whose result is already the
 * next layer's (K, N, P, Q) input with no transpose, and each BatchNorm
 * channel is one contiguous run. The model converts from NCHW at its input
 * and back to (N, outputs) at its output.
 */
#ifndef AUG_NN_INTERNAL_H
#define AUG_NN_INTERNAL_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "augment/nn.h"
#include "core/internal.h"

/* ---- the GEMM seam ------------------------------------------------------
 *
 * C (m x n) = alpha * op(A) * op(B) + beta * C, all row-major, op(X) = X or
 * X^T, leading dimensions as in CBLAS. With beta == 0, C is written without
 * being read (NaNs in it do not leak). aug__sgemm is cblas_sgemm from
 * OpenBLAS; the _ref kernels are plain loops that accumulate in double, kept
 * as the second opinion tests compare against. */
void aug__sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float *a,
		int lda, const float *b, int ldb, float beta, float *c, int ldc);
void aug__sgemm_ref(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float *a,
		    int lda, const float *b, int ldb, float beta, float *c, int ldc);
void aug__dgemm(bool trans_a, bool trans_b, int m, int n, int k, double alpha, const double *a,
		int lda, const double *b, int ldb, double beta, double *c, int ldc);
void aug__dgemm_ref(bool trans_a, bool trans_b, int m, int n, int k, double alpha, const double *a,
		    int lda, const double *b, int ldb, double beta, double *c, int ldc);

/* sgemm_avx512.c: the product in our own AVX-512 kernel when it takes it
 * (alpha 1, beta 0 or 1, k >= 16 unless B is transposed, not both
 * transposed, sizes up to 2^24) and the CPU has AVX-512; false, with C
 * untouched, otherwise. */
bool aug__sgemm_own(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float *a, int lda,
		    const float *b, int ldb, float beta, float *c, int ldc);
/* Whether aug__sgemm_own can run here (AVX-512, and AUG_GEMM is not "blas"). */
bool aug__sgemm_own_available(void);

/* Name of the BLAS core in use ("Haswell"), for benchmarks. */
const char *aug__blas_core(void);

/* ---- the layer catalogue and the parsed spec ---------------------------- */

typedef enum aug__layer_kind {
	AUG__L_CONV = 0,
	AUG__L_BN,
	AUG__L_RELU,
	AUG__L_MAXPOOL,
	AUG__L_AVGPOOL,
	AUG__L_GAP,
	AUG__L_LINEAR,
	AUG__L_FLATTEN,
	AUG__L_DROPOUT,
	AUG__L_RESBLOCK,
	AUG__L_COUNT
} aug__layer_kind;

/* Parameter slots of each kind, in the catalogue's order. */
enum { AUG__CONV_OUT, AUG__CONV_K, AUG__CONV_STRIDE, AUG__CONV_PAD, AUG__CONV_BIAS };
enum { AUG__POOL_K, AUG__POOL_STRIDE };
enum { AUG__LINEAR_OUT, AUG__LINEAR_BIAS };
enum { AUG__DROPOUT_P };
enum { AUG__RES_OUT, AUG__RES_STRIDE, AUG__RES_SURVIVE };

#define AUG__MAX_ARGS 5
#define AUG__MAX_LAYERS 1000
/* `linear classes`: the value stands for the model's class count. */
#define AUG__CLASSES (-1.0)

typedef struct aug__layer_desc {
	aug__layer_kind kind;
	int line, col;               /* where the layer's name is, from 1 */
	double arg[AUG__MAX_ARGS];   /* every slot: given or the default */
	bool given[AUG__MAX_ARGS];
	int arg_line[AUG__MAX_ARGS]; /* where a given value is */
	int arg_col[AUG__MAX_ARGS];
} aug__layer_desc;

typedef struct aug__spec {
	aug__layer_desc *layers;
	int count;
	size_t max_params; /* refuse larger models before allocating; 0: the built-in limit */
} aug__spec;

/* Parse a model spec. Errors are AUG_ESPEC with "line L:C: ..." and, for an
 * unknown layer or parameter name, the nearest known name. */
aug_status aug__spec_parse(const char *text, aug__spec *out);
void aug__spec_free(aug__spec *spec);

/* The layer's name in specs ("conv"). */
const char *aug__layer_name(aug__layer_kind kind);

/* The layer in canonical form ("conv 32 k=3 pad=1"), for summaries. */
void aug__layer_describe(const aug__layer_desc *d, char *buf, size_t len);

/* Levenshtein distance (insertions, deletions, substitutions) where
 * swapping two adjacent letters also counts as one edit (the "optimal
 * string alignment" distance), so 'cnov' is one typo from 'conv'. For
 * "did you mean" suggestions. */
size_t aug__edit_distance(const char *a, size_t alen, const char *b, size_t blen);

/* ---- geometry, shared by both builds ------------------------------------ */

/* A convolution: input C x H x W, output K x P x Q, square kernel. */
typedef struct aug__conv_geom {
	int c, h, w;
	int k, p, q;
	int ks, stride, pad;
	bool wino; /* runs as Winograd F(2x2,3x3): set by aug__conv_choose() */
} aug__conv_geom;

/* Output size of a window of `k` at `stride` with `pad` over `in`, or 0. */
static inline int aug__out_size(int in, int k, int stride, int pad)
{
	long span = (long)in + 2L * pad - k;

	return span < 0 ? 0 : (int)(span / stride + 1);
}

/* True when the convolution reads its input as is (1x1, stride 1, no
 * padding): the (C, N*H*W) input is then its own column matrix. */
static inline bool aug__conv_is_pointwise(const aug__conv_geom *g)
{
	return g->ks == 1 && g->stride == 1 && g->pad == 0;
}

/* im2col works on chunks of whole images: at most this many elements of
 * columns at a time (the model's col_budget), but at least one image. 4M
 * floats is 16 MB: large enough that the GEMM sees thousands of columns,
 * small enough to stay near the caches (bench/nn_bench.md). */
#define AUG__COL_BUDGET ((size_t)4 << 20)

/* Whether the convolution runs as Winograd F(2x2, 3x3) (winograd.c): 3x3,
 * stride 1, and channels enough on both sides for the 16 GEMMs to be real
 * matrix products (the first layer of an image model, 1 or 3 channels in,
 * stays with im2col). */
#define AUG__WINO_MIN_CHANNELS 16
static inline void aug__conv_choose(aug__conv_geom *g)
{
	g->wino = g->ks == 3 && g->stride == 1 && g->c >= AUG__WINO_MIN_CHANNELS &&
		  g->k >= AUG__WINO_MIN_CHANNELS;
}

static inline bool aug__conv_is_winograd(const aug__conv_geom *g)
{
	return g->wino;
}

/* Winograd workspace per image: V (16 C) and M (16 K) per 2x2 output tile. */
static inline size_t aug__wino_per_image(const aug__conv_geom *g)
{
	return (size_t)16 * ((g->p + 1) / 2) * ((g->q + 1) / 2) * ((size_t)g->c + g->k);
}

/* Winograd runs the images in AUG__WINO_GROUPS fixed groups (fewer when
 * the batch is smaller), one task each, and a group in slices of nb
 * images: transform, 16 GEMMs and transform back, one slice at a time, so
 * that a slice's V and M stay near the core (AUG__WINO_SLICE elements,
 * 1 MB, a core's L2 here, unless one image needs more; 2 to 4 images
 * measured alike on the reference model, 1 was 5% slower). Workspace: U (16 K C), then per
 * group one slice's V and M and the group's part of dU (16 K C). */
#define AUG__WINO_GROUPS 8
#define AUG__WINO_SLICE ((size_t)256 << 10)
static inline size_t aug__wino_cols(const aug__conv_geom *g, int nb)
{
	const size_t kc16 = (size_t)16 * g->k * g->c;

	return (size_t)AUG__WINO_GROUPS * (aug__wino_per_image(g) * (size_t)nb + kc16) + kc16;
}

/* Images per chunk for `n` images, and the column buffer that needs. */
static inline int aug__conv_chunk(const aug__conv_geom *g, int n, size_t budget)
{
	size_t per = aug__conv_is_winograd(g) ? aug__wino_per_image(g)
					       : (size_t)g->c * g->ks * g->ks * g->p * g->q;
	size_t nb;

	if (aug__conv_is_winograd(g) && budget > AUG__WINO_SLICE)
		budget = AUG__WINO_SLICE;
	nb = per ? budget / per : (size_t)n;

	if (nb < 1)
		nb = 1;
	return nb > (size_t)n ? n : (int)nb;
}

/* A weight gradient this small (K*C*R*S values) against thousands of
 * columns is a GEMM with a tiny output and a huge inner dimension, which
 * OpenBLAS splits across threads badly (the first conv of the reference
 * model: 32 x 9 outputs over N*784 columns ran slower on 2 threads than on
 * 1). Such products are cut into AUG__DW_SLICES column slices instead, one
 * single-threaded GEMM each into its own partial sum, added in slice order:
 * the result does not depend on the thread count. */
#define AUG__DW_SMALL 8192
#define AUG__DW_SLICES 8

/* Elements of the columns of one chunk of images (none when pointwise). */
static inline size_t aug__conv_cols(const aug__conv_geom *g, int n, size_t budget)
{
	if (aug__conv_is_pointwise(g))
		return 0;
	if (aug__conv_is_winograd(g))
		return aug__wino_cols(g, aug__conv_chunk(g, n, budget));
	return (size_t)g->c * g->ks * g->ks * g->p * g->q * (size_t)aug__conv_chunk(g, n, budget);
}

/* Workspace of a convolution: the columns, then the partial weight
 * gradients when they are sliced (weights of at most dw_small values). */
static inline size_t aug__conv_col_size(const aug__conv_geom *g, int n, size_t budget,
					size_t dw_small)
{
	const size_t kcrs = (size_t)g->k * g->c * g->ks * g->ks;

	return aug__conv_cols(g, n, budget) + (kcrs <= dw_small ? AUG__DW_SLICES * kcrs : 0);
}

/* ---- the generic half ---------------------------------------------------- */

#ifdef AUG_NN_DOUBLE
typedef double real;
#define NN(x) aug__nnd_##x
#define nn_gemm aug__dgemm
#define nn_model aug__nnd_model
#else
typedef float real;
#define NN(x) aug__nn_##x
#define nn_gemm aug__sgemm
#define nn_model aug_model
#endif

/* PyTorch's BatchNorm constants (torch.nn.BatchNorm2d defaults). */
#define AUG__BN_EPS 1e-5
#define AUG__BN_MOMENTUM 0.1

/* conv2d.c. in (C,N,H,W), weight (K,C,R,S), bias (K) or NULL,
 * out (K,N,P,Q); im2col in chunks of nb images, col holds nb images'
 * columns (nothing for a pointwise convolution). */
void NN(im2col)(const aug__conv_geom *g, int n, int n0, int nb, const real *in, real *col);
void NN(col2im)(const aug__conv_geom *g, int n, int n0, int nb, const real *col, real *in);
void NN(conv2d_forward)(const aug__conv_geom *g, int n, int nb, real *out, const real *in,
			const real *weight, const real *bias, real *col);
/* winograd.c: the same contract as conv2d_forward/backward (without the
 * bias) for aug__conv_is_winograd() geometries; work holds
 * aug__wino_cols(g, nb) elements. */
void NN(wino_forward)(const aug__conv_geom *g, int n, int nb, real *out, const real *in, const real *weight,
		      real *work);
void NN(wino_backward)(const aug__conv_geom *g, int n, int nb, real *din, real *dweight, const real *dout,
		       const real *in, const real *weight, real *work);
/* dout (K,N,P,Q) -> dweight (K,C,R,S) +=, dbias (K) += (NULL: none),
 * din (C,N,H,W) overwritten (NULL: not wanted). part: NULL, or room for
 * AUG__DW_SLICES partial weight gradients to slice the weight GEMM. */
void NN(conv2d_backward)(const aug__conv_geom *g, int n, int nb, real *din, real *dweight,
			 real *dbias, const real *dout, const real *in, const real *weight,
			 real *col, real *part);

/* batchnorm.c. x (C,M) with M = N*H*W (2d) or N (1d); gamma, beta (C).
 * Training: normalise with the batch mean and biased variance, save mean
 * and 1/sqrt(var + eps), update the running statistics with the unbiased
 * variance. Evaluation: the running statistics. */
void NN(batchnorm_forward_train)(int c, size_t m, real *out, real *mean, real *invstd,
				 const real *x, const real *gamma, const real *beta,
				 real *run_mean, real *run_var);
void NN(batchnorm_forward_eval)(int c, size_t m, real *out, real *mean, real *invstd,
				const real *x, const real *gamma, const real *beta,
				const real *run_mean, const real *run_var);
/* dout (C,M) -> din (C,M) overwritten (may be dout itself; NULL: not
 * wanted), dgamma, dbeta (C) +=. `batch_stats` says which forward ran: the
 * training one (mean and invstd depend on x) or the evaluation one. */
void NN(batchnorm_backward)(int c, size_t m, real *din, real *dgamma, real *dbeta,
			    const real *dout, const real *x, const real *mean, const real *invstd,
			    const real *gamma, bool batch_stats);

/* The batch statistics of one channel's M values: mean and 1/sqrt(biased
 * var + eps) saved, the running statistics moved (batchnorm.c's rule).
 * One pass for the sum and the sum of squares, in double: the variance
 * sum(x^2)/M - mean^2 loses log10(mean^2/var) of double's 16 digits, which
 * leaves float's 7 for any activation short of |mean| ~ 1000 std. The
 * sums (batchnorm.c) run in 16 independent lanes added in a fixed order at
 * the end: deterministic, and not one chain of dependent adds, which left
 * these passes waiting on latency. bn_grad_sums gives sum(d) and
 * sum(d * (x - mu)) the same way, for backward. */
void NN(bn_sums)(const real *x, size_t m, double *sum, double *sq);
void NN(bn_grad_sums)(const real *d, const real *x, double mu, size_t m, double *sdy, double *sdyx);
static inline void NN(bn_channel_stats)(const real *xc, size_t m, real *mean, real *invstd,
					real *run_mean, real *run_var)
{
	double sum, sq, mu, var;

	NN(bn_sums)(xc, m, &sum, &sq);
	mu = sum / (double)m;
	var = sq / (double)m - mu * mu;
	if (var < 0)
		var = 0;
	*mean = (real)mu;
	*invstd = (real)(1.0 / sqrt(var + AUG__BN_EPS));
	*run_mean = (real)((1 - AUG__BN_MOMENTUM) * *run_mean + AUG__BN_MOMENTUM * mu);
	*run_var = (real)((1 - AUG__BN_MOMENTUM) * *run_var +
			  AUG__BN_MOMENTUM * (m > 1 ? var * (double)m / (double)(m - 1) : var));
}

/* bn_relu_pool.c. BatchNorm (2d), ReLU and max-pooling as one pass over
 * each channel, for the conv-bn-relu-maxpool stages of the reference
 * model: out = maxpool(relu(bn(x))), x (C,N,H,W) -> out (C,N,P,Q) and
 * argmax, without writing the full-size BatchNorm and ReLU outputs. The
 * results equal the three layers run one by one (tests compare them).
 * Backward takes the pooled gradient (and the pooled output, whose sign is
 * the ReLU's mask at each maximum) and gives din (C,N,H,W). */
void NN(bn_relu_pool_forward)(int c, int n, int h, int w, int k, int stride, int p, int q,
			      real *out, int32_t *argmax, real *mean, real *invstd, const real *x,
			      const real *gamma, const real *beta, real *run_mean, real *run_var,
			      bool batch_stats);
void NN(bn_relu_pool_backward)(int c, int n, int h, int w, int p, int q, real *din,
			       real *dgamma, real *dbeta, const real *dout, const real *out,
			       const int32_t *argmax, const real *x, const real *mean,
			       const real *invstd, const real *gamma, bool batch_stats);

/* relu.c. Any layout, `len` elements; out may be in. Backward reads the
 * output: din = dout where out > 0, else 0; din may be dout. */
void NN(relu_forward)(size_t len, real *out, const real *in);
void NN(relu_backward)(size_t len, real *din, const real *dout, const real *out);

/* maxpool2d.c, avgpool2d.c. `planes` planes (C*N) of H x W -> P x Q.
 * Max-pool keeps the flat index of each maximum in its input plane (the
 * first one in scan order on ties, as PyTorch). din is overwritten. */
void NN(maxpool_forward)(int planes, int h, int w, int k, int stride, int p, int q, real *out,
			 int32_t *argmax, const real *in);
void NN(maxpool_backward)(int planes, int h, int w, int p, int q, real *din,
			  const real *dout, const int32_t *argmax);
void NN(avgpool_forward)(int planes, int h, int w, int k, int stride, int p, int q, real *out,
			 const real *in);
void NN(avgpool_backward)(int planes, int h, int w, int k, int stride, int p, int q, real *din,
			  const real *dout);

/* gap.c. in (C,N,H,W) -> out (C,N): the mean of each plane. */
void NN(gap_forward)(int planes, size_t hw, real *out, const real *in);
void NN(gap_backward)(int planes, size_t hw, real *din, const real *dout);

/* linear.c. in (I,N), weight (O,I), bias (O) or NULL, out (O,N). */
void NN(linear_forward)(int in_f, int out_f, int n, real *out, const real *in,
			const real *weight, const real *bias);
void NN(linear_backward)(int in_f, int out_f, int n, real *din, real *dweight, real *dbias,
			 const real *dout, const real *in, const real *weight);

/* flatten.c. in (C,N,S) -> out (C*S,N), and back. */
void NN(flatten_forward)(int c, int n, size_t s, real *out, const real *in);
void NN(flatten_backward)(int c, int n, size_t s, real *din, const real *dout);

/* dropout.c. in (C,N,S); sample j's element (c, s) is kept when draw
 * c*S + s of aug_rng_stream(seed, step, layer, j) is below 1 - p, and then
 * scaled by 1/(1-p) (inverted dropout). keep[] records the mask. */
void NN(dropout_forward)(int c, int n, size_t s, double p, uint64_t seed, uint64_t step,
			 uint64_t layer, real *out, uint8_t *keep, const real *in);
void NN(dropout_backward)(size_t len, double p, real *din, const real *dout, const uint8_t *keep);

/* softmax_xent.c. logits (N,K) row-major (the user's layout). Returns the
 * mean loss over the batch; probs (N,K) receives the softmax. */
double NN(xent_forward)(int n, int k, const real *logits, const int32_t *labels,
			double smoothing, real *probs);
/* dlogits (N,K) = (softmax - target) / N. */
void NN(xent_backward)(int n, int k, real *dlogits, const real *probs, const int32_t *labels,
		       double smoothing);

/* ---- layers in a model --------------------------------------------------- */

struct nn_model;

typedef struct aug__shape {
	int c, h, w; /* flat: c features, h = w = 1 */
	bool flat;
} aug__shape;

static inline size_t aug__shape_size(aug__shape s)
{
	return (size_t)s.c * (size_t)s.h * (size_t)s.w;
}

/* Per-batch buffers come from one arena: a sizing pass with base == NULL
 * adds up the bytes, the real pass hands out 64-byte aligned pieces. */
typedef struct aug__arena {
	char *base;
	size_t used;
} aug__arena;

static inline void *aug__arena_take(aug__arena *a, size_t bytes)
{
	void *p = a->base ? a->base + a->used : NULL;

	a->used += (bytes + 63) & ~(size_t)63;
	/* Buffers of a page or more: 320 bytes of slack after each, so that
	 * the buffers of a layer (sized by powers of two as often as not)
	 * start at different offsets within a page. Where a kernel reads one
	 * and writes another at the same index, equal offsets make every
	 * store look like a hazard to the loads ("4K aliasing"). Without the
	 * slack an arena aligned to 2 MB ran the reference model at ~7,000
	 * images/s on two threads, ~7,950 with it (bench/nn_bench.md). */
	if (bytes >= 4096)
		a->used += 320;
	return p;
}

/* Room in a layer for per-batch buffers and parameter offsets: a resblock
 * needs the most (resblock.c names the slots). */
#define AUG__LAYER_BUFS 10
#define AUG__LAYER_PARAMS 9

typedef struct NN(layer) NN(layer);

typedef struct NN(layer_ops) {
	/* Shapes and parameters from the spec; may fail with AUG_ESPEC. */
	aug_status (*setup)(struct nn_model *m, NN(layer) *l, const aug__layer_desc *d);
	/* Take the per-batch buffers for batches of n. */
	void (*plan)(struct nn_model *m, NN(layer) *l, int n, aug__arena *a);
	/* Column workspace needed for a batch of n (shared by all layers). */
	size_t (*col_size)(const struct nn_model *m, const NN(layer) *l, int n);
	void (*forward)(struct nn_model *m, NN(layer) *l, const real *in, real *out, int n);
	/* din is NULL when the input's gradient is not wanted; din != dout. */
	void (*backward)(struct nn_model *m, NN(layer) *l, const real *in, const real *out,
			 const real *dout, real *din, int n);
	unsigned flags;
} NN(layer_ops);

#define AUG__NEEDS_OUTPUT 1u /* backward reads the layer's output */
#define AUG__INPLACE_OK 2u   /* forward may write over its input */

struct NN(layer) {
	const NN(layer_ops) *ops;
	aug__layer_kind kind;
	int index;
	aug__shape in, out;
	size_t in_size, out_size; /* per sample */
	bool inplace;             /* out aliases the input buffer */
	bool fused;               /* bn: runs relu and maxpool too (bn_relu_pool.c) */
	bool fused_away;          /* relu, maxpool: done by the bn before them */

	/* hyper-parameters */
	aug__conv_geom g[3];      /* conv: g[0]; resblock: conv1, conv2, projection */
	bool bias;
	bool proj;                /* resblock: 1x1 projection shortcut */
	int ks, stride;           /* pools */
	double p;                 /* dropout rate; resblock survival p_l */

	/* offsets into the parameter buffer ((size_t)-1: absent) and into the
	 * statistics buffer (one per BatchNorm: mean, then var at + C) */
	size_t poff[AUG__LAYER_PARAMS];
	size_t soff[3];

	/* per batch, from the model's arena */
	real *out_buf;
	real *buf[AUG__LAYER_BUFS];
	real *mean[3], *invstd[3];
	int32_t *argmax;
	uint8_t *keep;

	/* what the last forward pass did */
	bool batch_stats;         /* BatchNorm used batch statistics */
	bool live;                /* dropout applied a mask */
	bool dropped;
	double branch_scale;
};

extern const NN(layer_ops) *const NN(layer_ops_table)[AUG__L_COUNT];

/* Shared by maxpool and avgpool (maxpool2d.c). */
aug_status NN(pool_setup)(struct nn_model *m, NN(layer) *l, const aug__layer_desc *d);

/* Layer-file entry points for their ops tables. */
extern const NN(layer_ops) NN(conv_ops), NN(bn_ops), NN(relu_ops), NN(maxpool_ops),
	NN(avgpool_ops), NN(gap_ops), NN(linear_ops), NN(flatten_ops), NN(dropout_ops),
	NN(resblock_ops);

struct nn_model {
	char *spec_text;
	aug__spec spec;
	aug__shape in;
	size_t in_size;
	int classes;
	aug__shape out;
	size_t out_size;

	int nlayers;
	NN(layer) *layers;
	int nresblocks;       /* resblocks set up so far */
	int total_resblocks;  /* L of stochastic depth's linear decay */

	real *params;
	real *grads;
	size_t nparams;
	real *stats;
	size_t nstats;
	aug_tensor_info *tensors;
	int ntensors;
	aug_tensor_info *stat_tensors;
	int nstat_tensors;

	bool training;
	uint64_t rng_seed;
	uint64_t rng_step;
	uint64_t fwd_step;   /* the step the last training forward used */

	/* per-batch workspace, sized for `cap` samples */
	int cap;
	void *arena;
	real *input;         /* (C,N,H,W) copy of the last input */
	real *gbuf[2];       /* backward ping-pong, max activation each */
	real *col;           /* im2col columns, shared */
	size_t col_size;
	size_t col_budget;   /* AUG__COL_BUDGET; tests lower it to force chunks */
	size_t dw_small;     /* AUG__DW_SMALL; tests set 0 to unslice */
	real *output;        /* (N, outputs), the user's layout */
	real *probs;         /* (N, outputs) */
	real *dinput;        /* (N,C,H,W) when want_input_grad */

	int batch;           /* samples in the last forward; 0: none yet */
	bool want_input_grad;
};

/* model.c, generic. */
aug_status NN(model_build)(struct nn_model **out, const aug__spec *spec, int c, int h, int w,
			   int classes);
/* The same, choosing whether bn-relu-maxpool runs fused (tests compare). */
aug_status NN(model_build_fused)(struct nn_model **out, const aug__spec *spec, int c, int h,
				 int w, int classes, bool fuse);
void NN(model_free)(struct nn_model *m);
aug_status NN(model_reserve)(struct nn_model *m, int n);
aug_status NN(model_init)(struct nn_model *m, uint64_t seed);
/* input (N,C,H,W); *output (N, outputs) in the user's layout. */
aug_status NN(model_forward)(struct nn_model *m, const real *input, int n, const real **output);
/* Backward from a gradient of the output, (N, outputs) user layout. When
 * m->want_input_grad, m->dinput receives the input's gradient (N,C,H,W). */
aug_status NN(model_backward_output)(struct nn_model *m, const real *doutput);
aug_status NN(model_loss)(struct nn_model *m, const int32_t *labels, double smoothing, double *loss,
			  bool backward);

/* Helpers for layer files (model.c). */
aug_status NN(model_add_param)(struct nn_model *m, const NN(layer) *l, const char *what,
			       aug_tensor_kind kind, int ndim, const int *shape, size_t *offset);
aug_status NN(model_add_bn)(struct nn_model *m, const NN(layer) *l, const char *prefix, int c,
			    size_t *gamma, size_t *stat);

/* A convolution's `part` for conv2d_backward: sliced when its weight has
 * at most m->dw_small values (conv2d.c). */
real *NN(conv_part)(const struct nn_model *m, const aug__conv_geom *g, int n);

/* Parameter pointers (NULL for an absent tensor). */
static inline real *NN(param)(struct nn_model *m, size_t off)
{
	return off == (size_t)-1 ? NULL : m->params + off;
}

static inline real *NN(grad)(struct nn_model *m, size_t off)
{
	return off == (size_t)-1 ? NULL : m->grads + off;
}

#endif /* AUG_NN_INTERNAL_H */
