/* Our own single-precision GEMM for the trainer's products.
 *
 * The Winograd convolution multiplies, 16 times per slice of images,
 * matrices of a few dozen rows by a few hundred columns with an inner
 * dimension of 32 to 256 (K x C by C x T, C x K by K x T, K x T by T x C);
 * the linear layers multiply 128 x 3136 by 3136 x 128 and the like.
 * OpenBLAS, with the Haswell (AVX2) kernels this environment pins it to,
 * runs these at ~100 GFLOP/s a core; this file's AVX-512 kernel runs the
 * Winograd ones at ~230 (bench/nn_bench.md).
 *
 * One kernel: a block of up to MR rows of C by NR = 32 columns (two
 * vectors of 16) held in 24 registers, over the whole inner dimension; each
 * step loads one row of B's panel and broadcasts one element of A per row.
 * B's panel (k x 32 floats) stays in L1 while the row blocks go by when k
 * is up to a few hundred, in L2 beyond. A may be given transposed (its
 * element is a broadcast either way). A transposed B (C = A B^T, the
 * weight gradients) is first transposed into a stack scratch, a strip of
 * C's columns and a chunk of the inner dimension at a time.
 *
 * Every element of C is one chain of fused multiply-adds in the order of
 * the inner index, then beta * C added (for A B^T past 256 inner
 * elements, one chain per chunk of 256, each added to C in turn): the same
 * bits whatever the threads, the blocking or the alignment. Only alpha 1
 * and beta 0 or 1, and sizes up to 2^24; everything else, and any CPU
 * without AVX-512, goes to OpenBLAS (gemm.c).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#include <omp.h>

#define MR 12
#define NR 32
#define OWN_KMAX 256 /* inner dimension of one chunk of transposed B */
#define OWN_KMIN 16 /* below, C's stores dominate: OpenBLAS does better */
#define OWN_PAR_WORK (1 << 20) /* multiply-adds worth sharing among threads */
#define OWN_TSCRATCH 16384 /* floats of transposed B on the stack: 64 KB */
#define OWN_DIM_MAX (1 << 24) /* m, n, k: far past any layer, and no int overflows */

/* C[r][0..NR) for r < mr (+)= sum over p of A(r, p) B[p][0..NR), columns
 * masked by m0, m1. */
__attribute__((target("avx512f"), always_inline)) static inline void
block(const int mr, const bool ta, int k, const float *a, int lda, const float *b, int ldb, float *c, int ldc,
      bool add_c, __mmask16 m0, __mmask16 m1)
{
	__m512 acc0[MR], acc1[MR];

#pragma GCC unroll 12
	for (int r = 0; r < mr; r++) {
		acc0[r] = _mm512_setzero_ps();
		acc1[r] = _mm512_setzero_ps();
	}
	for (int p = 0; p < k; p++) {
		const float *bp = b + (size_t)p * (size_t)ldb;
		const __m512 b0 = _mm512_maskz_loadu_ps(m0, bp);
		const __m512 b1 = _mm512_maskz_loadu_ps(m1, bp + 16);

#pragma GCC unroll 12
		for (int r = 0; r < mr; r++) {
			const __m512 x = _mm512_set1_ps(ta ? a[(size_t)p * (size_t)lda + (size_t)r]
							   : a[(size_t)r * (size_t)lda + (size_t)p]);

			acc0[r] = _mm512_fmadd_ps(x, b0, acc0[r]);
			acc1[r] = _mm512_fmadd_ps(x, b1, acc1[r]);
		}
	}
#pragma GCC unroll 12
	for (int r = 0; r < mr; r++) {
		float *cr = c + (size_t)r * (size_t)ldc;

		if (add_c) {
			acc0[r] = _mm512_add_ps(_mm512_maskz_loadu_ps(m0, cr), acc0[r]);
			acc1[r] = _mm512_add_ps(_mm512_maskz_loadu_ps(m1, cr + 16), acc1[r]);
		}
		_mm512_mask_storeu_ps(cr, m0, acc0[r]);
		_mm512_mask_storeu_ps(cr + 16, m1, acc1[r]);
	}
}

/* One instance per row count, so that the accumulators stay in registers. */
#define BLOCK_FN(R)                                                                                      \
	__attribute__((target("avx512f"))) static void block##R(bool ta, int k, const float *a, int lda,  \
								 const float *b, int ldb, float *c, int ldc, \
								 bool add_c, __mmask16 m0, __mmask16 m1)     \
	{                                                                                                \
		if (ta)                                                                                  \
			block(R, true, k, a, lda, b, ldb, c, ldc, add_c, m0, m1);                        \
		else                                                                                     \
			block(R, false, k, a, lda, b, ldb, c, ldc, add_c, m0, m1);                       \
	}
BLOCK_FN(1)
BLOCK_FN(2)
BLOCK_FN(3)
BLOCK_FN(4)
BLOCK_FN(5)
BLOCK_FN(6)
BLOCK_FN(7)
BLOCK_FN(8)
BLOCK_FN(9)
BLOCK_FN(10)
BLOCK_FN(11)
BLOCK_FN(12)

typedef void block_fn(bool, int, const float *, int, const float *, int, float *, int, bool, __mmask16, __mmask16);

static block_fn *const blocks[MR + 1] = { NULL,	  block1, block2, block3,  block4,  block5, block6,
					  block7, block8, block9, block10, block11, block12 };

static __mmask16 lanes(int w)
{
	return w >= 16 ? (__mmask16)0xffff : w <= 0 ? (__mmask16)0 : (__mmask16)((1u << w) - 1);
}

/* C (m x n) (+)= op(A) (m x k) B (k x n), B row-major.
 * Blocks column panel by column panel, so that a thread's consecutive
 * blocks share B's panel; called outside a parallel region with enough
 * work, the blocks are handed out to the threads two at a time, so that a
 * thread the machine slows down takes fewer (each element is still made by
 * one block, in the same order: the same bits). */
static void gemm_nn(bool ta, int m, int n, int k, const float *a, int lda, const float *b, int ldb, bool add_c,
		    float *c, int ldc)
{
	const int ni = (m + MR - 1) / MR, nj = (n + NR - 1) / NR;
	const long nblocks = (long)ni * nj;
	const bool par = (double)m * n * k >= OWN_PAR_WORK && nblocks > 1 && !omp_in_parallel();

#pragma omp parallel for schedule(dynamic, 2) if (par)
	for (long bi = 0; bi < nblocks; bi++) {
		const int i = (int)(bi % ni) * MR, j = (int)(bi / ni) * NR;
		const int mr = m - i < MR ? m - i : MR;
		const float *ai = ta ? a + i : a + (size_t)i * (size_t)lda;

		blocks[mr](ta, k, ai, lda, b + j, ldb, c + (size_t)i * (size_t)ldc + j, ldc, add_c, lanes(n - j),
			   lanes(n - j - 16));
	}
}

/* t[c][r] = s[r][c] for an 8 x 8 block, t's rows ldt apart. */
__attribute__((target("avx512f"), always_inline)) static inline void transpose8(const float *s, size_t lds, float *t,
										 size_t ldt)
{
	__m256 x[8], u[8], v[8];

	for (int r = 0; r < 8; r++)
		x[r] = _mm256_loadu_ps(s + (size_t)r * lds);
	for (int r = 0; r < 8; r += 2) {
		u[r] = _mm256_unpacklo_ps(x[r], x[r + 1]);     /* r0 r1 r0 r1 | ... columns 0 1, 4 5 */
		u[r + 1] = _mm256_unpackhi_ps(x[r], x[r + 1]); /* columns 2 3, 6 7 */
	}
	for (int r = 0; r < 8; r += 4) {
		v[r] = _mm256_shuffle_ps(u[r], u[r + 2], 0x44);	    /* column 0 (and 4) of rows r..r+3 */
		v[r + 1] = _mm256_shuffle_ps(u[r], u[r + 2], 0xEE); /* column 1 (5) */
		v[r + 2] = _mm256_shuffle_ps(u[r + 1], u[r + 3], 0x44);
		v[r + 3] = _mm256_shuffle_ps(u[r + 1], u[r + 3], 0xEE);
	}
	for (int c = 0; c < 4; c++) {
		_mm256_storeu_ps(t + (size_t)c * ldt, _mm256_permute2f128_ps(v[c], v[c + 4], 0x20));
		_mm256_storeu_ps(t + (size_t)(c + 4) * ldt, _mm256_permute2f128_ps(v[c], v[c + 4], 0x31));
	}
}

/* t (rows x n, rows n apart) = columns [p0, p0 + rows) of b (n rows, ldb
 * apart) transposed. */
__attribute__((target("avx512f"))) static void transpose(const float *restrict b, int ldb, int n, int p0, int rows,
							 float *restrict t)
{
	const size_t ldt = (size_t)n;
	int j = 0;

	b += p0;
	for (; j + 8 <= n; j += 8) {
		const float *bj = b + (size_t)j * (size_t)ldb;
		int p = 0;

		for (; p + 8 <= rows; p += 8)
			transpose8(bj + p, (size_t)ldb, t + (size_t)p * ldt + (size_t)j, ldt);
		for (; p < rows; p++)
			for (int r = 0; r < 8; r++)
				t[(size_t)p * ldt + (size_t)(j + r)] = bj[(size_t)r * (size_t)ldb + (size_t)p];
	}
	for (; j < n; j++)
		for (int p = 0; p < rows; p++)
			t[(size_t)p * ldt + (size_t)j] = b[(size_t)j * (size_t)ldb + (size_t)p];
}

bool aug__sgemm_own(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float *a, int lda,
		    const float *b, int ldb, float beta, float *c, int ldc)
{
	if (alpha != 1 || (beta != 0 && beta != 1) || m <= 0 || n <= 0 || k <= 0 || m > OWN_DIM_MAX ||
	    n > OWN_DIM_MAX || k > OWN_DIM_MAX || !aug__sgemm_own_available())
		return false;
	if (!trans_b) {
		if (k < OWN_KMIN)
			return false;
		gemm_nn(trans_a, m, n, k, a, lda, b, ldb, beta != 0, c, ldc);
		return true;
	}
	if (trans_a)
		return false;
	{
		/* C = A B^T: B^T a strip of C's columns and a chunk of the
		 * inner dimension at a time, as big as the scratch holds, each
		 * chunk's sums added to C after the first. */
		float t[OWN_TSCRATCH];
		const int kk = k < OWN_KMAX ? k : OWN_KMAX;
		const int ns = (size_t)n * (size_t)kk <= OWN_TSCRATCH ? n : OWN_TSCRATCH / kk / NR * NR;
		const int chunk = OWN_TSCRATCH / ns < OWN_KMAX ? OWN_TSCRATCH / ns : OWN_KMAX;

		for (int j0 = 0; j0 < n; j0 += ns) {
			const int w = n - j0 < ns ? n - j0 : ns;

			for (int p0 = 0; p0 < k; p0 += chunk) {
				const int rows = k - p0 < chunk ? k - p0 : chunk;

				transpose(b + (size_t)j0 * (size_t)ldb, ldb, w, p0, rows, t);
				gemm_nn(false, m, w, rows, a + p0, lda, t, w, beta != 0 || p0 > 0, c + j0, ldc);
			}
		}
	}
	return true;
}

bool aug__sgemm_own_available(void)
{
	static int state; /* 0 unknown, 1 yes, 2 no; races only store the same value */
	int s = __atomic_load_n(&state, __ATOMIC_RELAXED);

	if (!s) {
		const char *env = getenv("AUG_GEMM");

		s = __builtin_cpu_supports("avx512f") && !(env && strcmp(env, "blas") == 0) ? 1 : 2;
		__atomic_store_n(&state, s, __ATOMIC_RELAXED);
	}
	return s == 1;
}

#else

bool aug__sgemm_own(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float *a, int lda,
		    const float *b, int ldb, float beta, float *c, int ldc)
{
	return false;
}

bool aug__sgemm_own_available(void)
{
	return false;
}

#endif
