/* The one seam for matrix products.
 *
 * Every GEMM in the trainer goes through aug__sgemm: the products our own
 * AVX-512 kernel takes (sgemm_avx512.c: alpha 1, beta 0 or 1, a short inner
 * dimension or a narrow transposed B, a CPU with AVX-512) run there, the
 * rest is cblas_sgemm from OpenBLAS. AUG_GEMM=blas in the environment sends
 * everything to OpenBLAS (benchmarks compare the two that way). We link Debian's OpenMP flavour of OpenBLAS
 * (libopenblas-openmp-dev, see meson.build): our own loops are OpenMP, and
 * with that flavour the library and OpenBLAS share one libgomp thread pool
 * and one thread count (omp_set_num_threads), and a GEMM called inside one
 * of our parallel regions runs on the calling thread instead of waking a
 * second pool that would fight ours for the cores.
 *
 * OpenBLAS chooses its kernels from the CPU at load time, and the
 * OPENBLAS_CORETYPE environment variable overrides the choice; we leave
 * both alone (bench/nn_bench.md measures the effect on this model).
 *
 * The reference kernels are the plain definition with a double accumulator,
 * slow and obviously right; tests hold the BLAS to them (all transpose
 * combinations, odd sizes, alpha and beta).
 */
#include <cblas.h>

#include "internal.h"

static CBLAS_TRANSPOSE tr(bool t)
{
	return t ? CblasTrans : CblasNoTrans;
}

void aug__sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float *a,
		int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
	if (m <= 0 || n <= 0)
		return;
	if (aug__sgemm_own(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc))
		return;
	cblas_sgemm(CblasRowMajor, tr(trans_a), tr(trans_b), m, n, k, alpha, a, lda, b, ldb,
		    beta, c, ldc);
}

void aug__dgemm(bool trans_a, bool trans_b, int m, int n, int k, double alpha, const double *a,
		int lda, const double *b, int ldb, double beta, double *c, int ldc)
{
	if (m <= 0 || n <= 0)
		return;
	cblas_dgemm(CblasRowMajor, tr(trans_a), tr(trans_b), m, n, k, alpha, a, lda, b, ldb,
		    beta, c, ldc);
}

/* op(A)[i][p] and op(B)[p][j] in row-major storage. */
#define REF_GEMM(NAME, T)                                                                  \
	void NAME(bool trans_a, bool trans_b, int m, int n, int k, T alpha, const T *a,     \
		  int lda, const T *b, int ldb, T beta, T *c, int ldc)                      \
	{                                                                                   \
		for (int i = 0; i < m; i++) {                                               \
			for (int j = 0; j < n; j++) {                                       \
				double acc = 0;                                             \
				T *cij = c + (size_t)i * ldc + j;                           \
				for (int p = 0; p < k; p++) {                               \
					T x = trans_a ? a[(size_t)p * lda + i]              \
						      : a[(size_t)i * lda + p];             \
					T y = trans_b ? b[(size_t)j * ldb + p]              \
						      : b[(size_t)p * ldb + j];             \
					acc += (double)x * (double)y;                       \
				}                                                           \
				acc *= alpha;                                               \
				if (beta != 0)                                              \
					acc += (double)beta * (double)*cij;                 \
				*cij = (T)acc;                                              \
			}                                                                   \
		}                                                                           \
	}

REF_GEMM(aug__sgemm_ref, float)
REF_GEMM(aug__dgemm_ref, double)

const char *aug__blas_core(void)
{
	return openblas_get_corename();
}
