/* Learning-rate schedules: pure functions of the step (llm.c's
 * llmc/schedulers.h), with an optional linear warm-up. */
#include <math.h>
#include <string.h>

#include "augment/train.h"

static const char *const sched_names[AUG_SCHED_COUNT] = {
	"constant", "step", "cosine", "linear", "invsqrt",
};

const char *aug_sched_name(aug_sched_kind kind)
{
	return (unsigned)kind < AUG_SCHED_COUNT ? sched_names[kind] : "?";
}

aug_sched_kind aug_sched_from_name(const char *name)
{
	for (int k = 0; k < AUG_SCHED_COUNT; k++)
		if (strcmp(name, sched_names[k]) == 0)
			return (aug_sched_kind)k;
	return AUG_SCHED_COUNT;
}

double aug_schedule_lr(const aug_schedule *s, uint64_t t)
{
	double a0 = s->lr, tt, TT;

	if (t < s->warmup)
		return a0 * (double)t / (double)s->warmup;
	if (s->kind == AUG_SCHED_INVSQRT) {
		/* Vaswani et al. 2017 after warm-up, scaled to be α0 at t = W. */
		double w = s->warmup > 0 ? (double)s->warmup : 1.0;

		return a0 * sqrt(w / (double)(t > 0 ? t : 1));
	}
	tt = (double)(t - s->warmup);
	TT = s->total > s->warmup ? (double)(s->total - s->warmup) : 1.0;
	if (tt > TT)
		tt = TT;
	switch (s->kind) {
	case AUG_SCHED_STEP:
		return a0 * pow(s->gamma, floor(tt / (double)(s->step_size ? s->step_size : 1)));
	case AUG_SCHED_COSINE:
		/* Loshchilov & Hutter 2017 (SGDR), one cycle without restarts. */
		return s->min_lr + 0.5 * (a0 - s->min_lr) * (1 + cos(M_PI * tt / TT));
	case AUG_SCHED_LINEAR:
		return a0 * (1 - tt / TT);
	default:
		return a0;
	}
}
