/* Fixed-width vectors for the engine's data-movement kernels (winograd.c,
 * bn_relu_pool.c): VL lanes of `real` as GCC vector types, which the
 * AUG__HOT clones compile to AVX2 or AVX-512 and the baseline to pairs of
 * SSE registers. A fixed width, not the machine's, so that the lanes a sum
 * is split into are the same on every machine. */
#ifndef AUG_NN_VEC_H
#define AUG_NN_VEC_H

#include <string.h>

#include "internal.h"

/* vreal crosses only static functions, inlined: the note that passing it
 * changes the ABI without AVX concerns no caller elsewhere (GCC and clang
 * both know the warning) */
#if defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

#define VL 8
typedef real vreal __attribute__((vector_size(VL * sizeof(real))));
#ifdef AUG_NN_DOUBLE
typedef int64_t vbits __attribute__((vector_size(VL * sizeof(real))));
#else
typedef int32_t vbits __attribute__((vector_size(VL * sizeof(real))));
#endif
typedef int32_t vi32 __attribute__((vector_size(VL * sizeof(int32_t))));
typedef double vdouble __attribute__((vector_size(VL * sizeof(double))));

#if defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 12)
#define SHUF(a, b, ...) __builtin_shufflevector(a, b, __VA_ARGS__)
#else
#define SHUF(a, b, ...) __builtin_shuffle(a, b, (vbits){ __VA_ARGS__ })
#endif
#define EVEN(lo, hi) SHUF(lo, hi, 0, 2, 4, 6, 8, 10, 12, 14)
#define ODD(lo, hi) SHUF(lo, hi, 1, 3, 5, 7, 9, 11, 13, 15)
#define ZIP_LO(a, b) SHUF(a, b, 0, 8, 1, 9, 2, 10, 3, 11)
#define ZIP_HI(a, b) SHUF(a, b, 4, 12, 5, 13, 6, 14, 7, 15)
/* {p[7], c[0], ..., c[6]}: each lane's left neighbour */
#define FROM_LEFT(p, c) SHUF(p, c, 7, 8, 9, 10, 11, 12, 13, 14)

static inline vreal vload(const real *p)
{
	vreal v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline void vstore(real *p, vreal v)
{
	memcpy(p, &v, sizeof(v));
}

/* Lanes [0, nl) only: loads leave the rest zero. */
static inline vreal vload_part(const real *p, int nl)
{
	vreal v = { 0 };

	for (int l = 0; l < nl; l++)
		v[l] = p[l];
	return v;
}

static inline void vstore_part(real *p, vreal v, int nl)
{
	for (int l = 0; l < nl; l++)
		p[l] = v[l];
}

/* Lane l of the mask is all ones where l < nl. */
static inline vbits lanes_below(int nl)
{
	const vbits lane = { 0, 1, 2, 3, 4, 5, 6, 7 };

	return lane < nl;
}

/* Where m (all ones or zero per lane) is set, b; elsewhere a. */
static inline vbits vselect(vbits m, vbits a, vbits b)
{
	return (a & ~m) | (b & m);
}

#endif /* AUG_NN_VEC_H */
