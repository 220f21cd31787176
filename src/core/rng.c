/* Counter-based random streams.
 *
 * SplitMix64 (Steele, Lea, Flood 2014; the constants are those of
 * java.util.SplittableRandom and of Vigna's splitmix64.c). A stream is a key
 * and a counter; draw n is mix64(key + (n + 1) * GAMMA). The key is built by
 * folding each component of (seed, epoch, index, stage) through mix64, so
 * neighbouring keys give unrelated streams.
 */
#include "internal.h"

/* __extension__: 128-bit products are a GCC/Clang extension, not ISO C. */
__extension__ typedef unsigned __int128 u128;

#define GAMMA 0x9e3779b97f4a7c15ULL

static inline uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

aug_rng aug_rng_stream(uint64_t seed, uint64_t epoch, uint64_t index, uint64_t stage)
{
	aug_rng r;
	uint64_t k = mix64(seed + GAMMA);

	k = mix64(k ^ (epoch + 0x632be59bd9b4e019ULL));
	k = mix64(k ^ (index + 0x8cb92ba72f3d8dd7ULL));
	k = mix64(k ^ (stage + 0x4f1bbcdcbfa53e0bULL));
	r.key = k;
	r.counter = 0;
	return r;
}

uint64_t aug_rng_next(aug_rng *rng)
{
	rng->counter++;
	return mix64(rng->key + rng->counter * GAMMA);
}

double aug_rng_uniform(aug_rng *rng)
{
	return (double)(aug_rng_next(rng) >> 11) * 0x1.0p-53;
}

double aug_rng_range(aug_rng *rng, double lo, double hi)
{
	return lo + (hi - lo) * aug_rng_uniform(rng);
}

uint64_t aug_rng_below(aug_rng *rng, uint64_t n)
{
	/* Lemire, "Fast random integer generation in an interval", TOMACS 2019. */
	u128 m;
	uint64_t l, t;

	if (n == 0)
		return 0;
	m = (u128)aug_rng_next(rng) * n;
	l = (uint64_t)m;
	if (l < n) {
		t = -n % n;
		while (l < t) {
			m = (u128)aug_rng_next(rng) * n;
			l = (uint64_t)m;
		}
	}
	return (uint64_t)(m >> 64);
}

bool aug_rng_bernoulli(aug_rng *rng, double p)
{
	return aug_rng_uniform(rng) < p;
}
