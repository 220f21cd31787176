/* The GEMM seam: OpenBLAS (aug__sgemm, aug__dgemm) against the reference
 * kernels, every transpose combination, odd sizes, padded leading
 * dimensions, alpha and beta. */
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

/* Max |blas - ref| / (|ref| + 1) over C, with op(A) m x k, op(B) k x n. */
static double compare_s(bool ta, bool tb, int m, int n, int k, float alpha, float beta, int pad)
{
	const int lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
	const int arows = ta ? k : m, brows = tb ? n : k;
	float *a = malloc(sizeof(float) * arows * lda);
	float *b = malloc(sizeof(float) * brows * ldb);
	float *c1 = malloc(sizeof(float) * m * ldc);
	float *c2 = malloc(sizeof(float) * m * ldc);
	double worst = 0;

	for (int i = 0; i < arows * lda; i++)
		a[i] = frand();
	for (int i = 0; i < brows * ldb; i++)
		b[i] = frand();
	for (int i = 0; i < m * ldc; i++)
		c1[i] = c2[i] = beta == 0 ? NAN : frand();
	aug__sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c1, ldc);
	aug__sgemm_ref(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c2, ldc);
	for (int i = 0; i < m; i++) {
		for (int j = 0; j < ldc; j++) {
			double d;

			if (j >= n) {
				/* padding columns are never written */
				cr_assert(c1[i * ldc + j] == c2[i * ldc + j] ||
					  (isnan(c1[i * ldc + j]) && isnan(c2[i * ldc + j])));
				continue;
			}
			cr_assert(isfinite(c1[i * ldc + j]), "NaN leaked through beta=0");
			d = fabs((double)c1[i * ldc + j] - c2[i * ldc + j]) / (fabs(c2[i * ldc + j]) + 1);
			if (d > worst)
				worst = d;
		}
	}
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
					double e = compare_s(t & 1, t >> 1, sizes[s][0], sizes[s][1],
							     sizes[s][2], ab[q][0], ab[q][1], pad);

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

/* From OpenBLAS: 0 sequential, 1 pthreads, 2 OpenMP. */
int openblas_get_parallel(void);

Test(gemm, blas_is_the_openmp_build)
{
	/* The rpath must win over the libopenblas.so.0 alternative. */
	cr_assert_eq(openblas_get_parallel(), 2, "OpenBLAS parallel mode %d, expected 2 (OpenMP)",
		     openblas_get_parallel());
	cr_assert_not_null(aug__blas_core());
}
