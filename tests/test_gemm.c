/* The GEMM seam: aug__sgemm (our AVX-512 kernel where it applies, OpenBLAS
 * otherwise) and aug__dgemm against the reference kernels, every transpose
 * combination, odd sizes, padded leading dimensions, alpha and beta; our
 * kernel alone against the same reference and against a chain of fmaf(). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/internal.h"

static uint64_t lcg = 12345;

static float frand(void)
{
	lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
	return (float)((lcg >> 40) / (double)(1 << 24)) * 2.0f - 1.0f;
}

typedef bool gemm_fn(bool ta, bool tb, int m, int n, int k, float alpha, const float *a, int lda, const float *b,
		     int ldb, float beta, float *c, int ldc);

/* The seam as a gemm_fn: it takes every product. */
static bool seam(bool ta, bool tb, int m, int n, int k, float alpha, const float *a, int lda, const float *b,
		 int ldb, float beta, float *c, int ldc)
{
	aug__sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
	return true;
}

/* f against the reference on random operands, op(A) m x k, op(B) k x n,
 * leading dimensions padded by `pad`: max |f - ref| / (|ref| + 1) over C,
 * 0 when f declined (*took false, if given). C's padding columns must be
 * left alone, and with beta 0 the NaNs C starts with must not leak. */
static double versus_ref(gemm_fn *f, bool ta, bool tb, int m, int n, int k, float alpha, float beta, int pad,
			 bool *took)
{
	const int lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
	const int arows = ta ? k : m, brows = tb ? n : k;
	float *a = malloc(sizeof(float) * arows * lda);
	float *b = malloc(sizeof(float) * brows * ldb);
	float *c1 = malloc(sizeof(float) * m * ldc);
	float *c2 = malloc(sizeof(float) * m * ldc);
	double worst = 0;
	bool done;

	for (int i = 0; i < arows * lda; i++)
		a[i] = frand();
	for (int i = 0; i < brows * ldb; i++)
		b[i] = frand();
	for (int i = 0; i < m * ldc; i++)
		c1[i] = c2[i] = beta == 0 ? NAN : frand();
	done = f(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c1, ldc);
	aug__sgemm_ref(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c2, ldc);
	for (int i = 0; done && i < m; i++) {
		for (int j = 0; j < ldc; j++) {
			float x = c1[i * ldc + j], y = c2[i * ldc + j];
			double d;

			if (j >= n) {
				cr_assert(x == y || (isnan(x) && isnan(y)), "padding column %d written", j);
				continue;
			}
			cr_assert(isfinite(x), "NaN leaked through beta=0 at %d,%d", i, j);
			d = fabs((double)x - y) / (fabs(y) + 1);
			if (d > worst)
				worst = d;
		}
	}
	if (took)
		*took = done;
	free(a);
	free(b);
	free(c1);
	free(c2);
	return worst;
}

Test(gemm, all_transposes_odd_sizes_alpha_beta)
{
	static const int sizes[][3] = { { 1, 1, 1 }, { 3, 5, 7 }, { 17, 1, 9 }, { 1, 13, 31 },
					{ 33, 29, 65 }, { 64, 100, 288 }, { 127, 63, 5 } };
	static const float ab[][2] = { { 1, 0 }, { 1, 1 }, { -0.5f, 2 }, { 2.5f, -1 } };
	int cases = 0;

	for (int t = 0; t < 4; t++)
		for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
			for (size_t q = 0; q < sizeof(ab) / sizeof(ab[0]); q++)
				for (int pad = 0; pad <= 3; pad += 3) {
					double e = versus_ref(seam, t & 1, t >> 1, sizes[s][0], sizes[s][1],
							      sizes[s][2], ab[q][0], ab[q][1], pad, NULL);

					cr_assert_lt(e, 1e-5, "ta=%d tb=%d %dx%dx%d alpha=%g beta=%g pad=%d: %g",
						     t & 1, t >> 1, sizes[s][0], sizes[s][1], sizes[s][2],
						     ab[q][0], ab[q][1], pad, e);
					cases++;
				}
	cr_assert_eq(cases, 4 * 7 * 4 * 2);
}

Test(gemm, reference_kernel_matches_a_hand_product)
{
	/* [1 2 3; 4 5 6] x [7 8; 9 10; 11 12] = [58 64; 139 154] */
	const float a[] = { 1, 2, 3, 4, 5, 6 };
	const float b[] = { 7, 8, 9, 10, 11, 12 };
	const float at[] = { 1, 4, 2, 5, 3, 6 };
	float c[4] = { 1, 1, 1, 1 };

	aug__sgemm_ref(false, false, 2, 2, 3, 1, a, 3, b, 2, 0, c, 2);
	cr_assert_float_eq(c[0], 58, 0);
	cr_assert_float_eq(c[1], 64, 0);
	cr_assert_float_eq(c[2], 139, 0);
	cr_assert_float_eq(c[3], 154, 0);
	/* alpha 2, beta -1, A given transposed */
	aug__sgemm_ref(true, false, 2, 2, 3, 2, at, 2, b, 2, -1, c, 2);
	cr_assert_float_eq(c[0], 58, 0);
	cr_assert_float_eq(c[3], 154, 0);
	aug__sgemm(true, false, 2, 2, 3, 2, at, 2, b, 2, -1, c, 2);
	cr_assert_float_eq(c[0], 58, 0);
	cr_assert_float_eq(c[3], 154, 0);
}

Test(gemm, double_seam_matches_reference)
{
	const int m = 19, n = 23, k = 37;
	double *a = malloc(sizeof(double) * k * m), *b = malloc(sizeof(double) * n * k);
	double *c1 = malloc(sizeof(double) * m * n), *c2 = malloc(sizeof(double) * m * n);

	for (int i = 0; i < k * m; i++)
		a[i] = frand();
	for (int i = 0; i < n * k; i++)
		b[i] = frand();
	for (int i = 0; i < m * n; i++)
		c1[i] = c2[i] = frand();
	aug__dgemm(true, true, m, n, k, 0.75, a, m, b, k, 0.5, c1, n);
	aug__dgemm_ref(true, true, m, n, k, 0.75, a, m, b, k, 0.5, c2, n);
	for (int i = 0; i < m * n; i++)
		cr_assert_lt(fabs(c1[i] - c2[i]), 1e-12, "%d: %g vs %g", i, c1[i], c2[i]);
	free(a);
	free(b);
	free(c1);
	free(c2);
}

Test(gemm, empty_products_leave_c_alone_or_scale_it)
{
	float c[4] = { 1, 2, 3, 4 };
	const float a[1] = { 5 }, b[1] = { 7 };

	aug__sgemm(false, false, 0, 2, 1, 1, a, 1, b, 2, 0, c, 2); /* m = 0: nothing */
	cr_assert_float_eq(c[0], 1, 0);
	aug__sgemm(false, false, 2, 2, 0, 1, a, 1, b, 2, 2, c, 2); /* k = 0: C = beta C */
	cr_assert_float_eq(c[3], 8, 0);
	aug__sgemm_ref(false, false, 2, 2, 0, 1, a, 1, b, 2, 2, c, 2);
	cr_assert_float_eq(c[3], 16, 0);
}

/* aug__sgemm_own on one shape: true when it took the product; *err as
 * versus_ref() gives it. */
static bool own_vs_ref(bool ta, bool tb, int m, int n, int k, float beta, int pad, double *err)
{
	bool took;

	*err = versus_ref(aug__sgemm_own, ta, tb, m, n, k, 1, beta, pad, &took);
	return took;
}

Test(gemm, own_kernel_matches_reference_on_every_edge)
{
	/* m around the 12-row block, n around the 16- and 32-column vectors,
	 * k from 16 to past one chunk of the transposed scratch (256). */
	static const int ms[] = { 1, 11, 12, 13, 25, 64 };
	static const int ns[] = { 1, 15, 16, 17, 33, 100, 147 };
	static const int ks[] = { 16, 17, 64, 147, 256, 300 };
	int taken = 0;

	if (!aug__sgemm_own_available())
		cr_skip_test("no AVX-512 here (or AUG_GEMM=blas): OpenBLAS does every product");
	for (int t = 0; t < 3; t++) {
		const bool ta = t == 1, tb = t == 2;

		for (size_t mi = 0; mi < sizeof(ms) / sizeof(ms[0]); mi++)
			for (size_t ni = 0; ni < sizeof(ns) / sizeof(ns[0]); ni++)
				for (size_t ki = 0; ki < sizeof(ks) / sizeof(ks[0]); ki++)
					for (int beta = 0; beta <= 1; beta++) {
						const int pad = (int)((mi + ni + ki) % 2) * 3;
						double e;
						bool took = own_vs_ref(ta, tb, ms[mi], ns[ni], ks[ki], (float)beta,
								       pad, &e);

						cr_assert(took, "ta=%d tb=%d k=%d declined", ta, tb, ks[ki]);
						cr_assert_lt(e, 1e-5, "ta=%d tb=%d %dx%dx%d beta=%d: %g", ta, tb,
							     ms[mi], ns[ni], ks[ki], beta, e);
						taken += took;
					}
	}
	cr_assert_eq(taken, 3 * 6 * 7 * 6 * 2);
}

Test(gemm, own_kernel_wide_transposed_b_in_strips_and_chunks)
{
	/* A B^T with n too wide for the scratch and k over one chunk: strips
	 * of 64 columns (the last of 24) by chunks of 256 (the last of 88). */
	double e;

	if (!aug__sgemm_own_available())
		cr_skip_test("no AVX-512 here (or AUG_GEMM=blas)");
	for (int beta = 0; beta <= 1; beta++) {
		cr_assert(own_vs_ref(false, true, 13, 600, 600, (float)beta, 1, &e));
		cr_assert_lt(e, 1e-5, "beta=%d: %g", beta, e);
	}
	/* a linear layer's weight gradient: strips of 128 columns, one chunk */
	cr_assert(own_vs_ref(false, true, 20, 700, 128, 1, 0, &e));
	cr_assert_lt(e, 1e-5, "%g", e);
}

Test(gemm, own_kernel_is_one_fma_chain_per_element)
{
	/* Each element of C is fmaf(a_p, b_p, ...) in the order of p, then C
	 * added: the bits can be worked out with fmaf() alone, whatever row
	 * block or column vector the element falls in. */
	enum { M = 14, N = 35, K = 40 };
	float a[M * K], b[K * N], c[M * N];

	if (!aug__sgemm_own_available())
		cr_skip_test("no AVX-512 here (or AUG_GEMM=blas)");
	for (int i = 0; i < M * K; i++)
		a[i] = frand();
	for (int i = 0; i < K * N; i++)
		b[i] = frand();
	for (int i = 0; i < M * N; i++)
		c[i] = frand();
	{
		float c0[M * N];

		memcpy(c0, c, sizeof(c));
		cr_assert(aug__sgemm_own(false, false, M, N, K, 1, a, K, b, N, 1, c, N));
		for (int i = 0; i < M; i++)
			for (int j = 0; j < N; j++) {
				float acc = 0;

				for (int p = 0; p < K; p++)
					acc = fmaf(a[i * K + p], b[p * N + j], acc);
				acc = c0[i * N + j] + acc;
				cr_assert(acc == c[i * N + j], "C[%d][%d] = %.9g, fmaf chain %.9g", i, j,
					  c[i * N + j], acc);
			}
	}
}

Test(gemm, own_kernel_declines_what_it_does_not_do)
{
	float a[40 * 300], b[300 * 8], c[40 * 8];

	for (size_t i = 0; i < sizeof(a) / sizeof(a[0]); i++)
		a[i] = 1;
	for (size_t i = 0; i < sizeof(b) / sizeof(b[0]); i++)
		b[i] = 1;
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		c[i] = 7;
	cr_assert_not(aug__sgemm_own(false, false, 4, 8, 20, 2, a, 20, b, 8, 0, c, 8), "alpha 2");
	cr_assert_not(aug__sgemm_own(false, false, 4, 8, 20, 1, a, 20, b, 8, 0.5f, c, 8), "beta 0.5");
	cr_assert_not(aug__sgemm_own(false, false, 4, 8, 9, 1, a, 9, b, 8, 0, c, 8), "k 9");
	cr_assert_not(aug__sgemm_own(true, true, 4, 8, 20, 1, a, 4, b, 20, 0, c, 8), "A^T B^T");
	/* past 2^24 in any dimension (n * 256 would overflow an int): declined
	 * before anything is read */
	cr_assert_not(aug__sgemm_own(false, true, 1, (1 << 24) + 1, 256, 1, a, 256, b, 256, 0, c, 8), "n 2^24+1");
	cr_assert_not(aug__sgemm_own(false, false, (1 << 24) + 1, 8, 20, 1, a, 20, b, 8, 0, c, 8), "m 2^24+1");
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		cr_assert_eq(c[i], 7, "C written by a product that was declined");
	/* and the seam still does them, through OpenBLAS */
	aug__sgemm(false, false, 4, 8, 300, 2, a, 300, b, 8, 0, c, 8);
	cr_assert_eq(c[0], 600);
}

/* From OpenBLAS: 0 sequential, 1 pthreads, 2 OpenMP. */
int openblas_get_parallel(void);

Test(gemm, blas_is_the_openmp_build)
{
	/* The rpath must win over the libopenblas.so.0 alternative. */
	cr_assert_eq(openblas_get_parallel(), 2, "OpenBLAS parallel mode %d, expected 2 (OpenMP)",
		     openblas_get_parallel());
	cr_assert_not_null(aug__blas_core());
}
