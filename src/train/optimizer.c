/* Optimizers: flat loops over the parameter buffer (llm.c's gpt2_update).
 * The formulas are PyTorch's (torch.optim, 1.13), cited per kind below. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "augment/train.h"
#include "core/internal.h"

static const char *const optim_names[AUG_OPTIM_COUNT] = {
	"sgd", "momentum", "adagrad", "rmsprop", "adam", "adamw",
};

struct aug_optimizer {
	aug_optim_options o;
	size_t n;
	uint8_t *mask;    /* NULL: regularise everything */
	uint64_t steps;
	size_t state_n;
	float *state;     /* kind-specific: v; G; s; m then v */
};

const char *aug_optim_name(aug_optim_kind kind)
{
	return (unsigned)kind < AUG_OPTIM_COUNT ? optim_names[kind] : "?";
}

aug_optim_kind aug_optim_from_name(const char *name)
{
	for (int k = 0; k < AUG_OPTIM_COUNT; k++)
		if (strcmp(name, optim_names[k]) == 0)
			return (aug_optim_kind)k;
	return AUG_OPTIM_COUNT;
}

void aug_optim_options_init(aug_optim_options *o)
{
	memset(o, 0, sizeof(*o));
	o->kind = AUG_OPTIM_SGD;
	o->momentum = 0.9f;
	o->alpha = 0.99f;
	o->beta1 = 0.9f;
	o->beta2 = 0.999f;
}

static size_t state_per_param(aug_optim_kind k)
{
	switch (k) {
	case AUG_OPTIM_SGD:
		return 0;
	case AUG_OPTIM_ADAM:
	case AUG_OPTIM_ADAMW:
		return 2;
	default:
		return 1;
	}
}

aug_status aug_optimizer_new(const aug_optim_options *opts, size_t n, const uint8_t *decay_mask,
			     aug_optimizer **out)
{
	aug_optimizer *o;

	*out = NULL;
	if ((unsigned)opts->kind >= AUG_OPTIM_COUNT)
		return aug__fail(AUG_EINVAL, __func__, "unknown optimizer %d", (int)opts->kind);
	if (opts->l1 < 0 || opts->l2 < 0 || opts->momentum < 0 || opts->beta1 < 0 || opts->beta1 >= 1 ||
	    opts->beta2 < 0 || opts->beta2 >= 1 || opts->alpha < 0 || opts->alpha >= 1 || opts->eps < 0)
		return aug__fail(AUG_EINVAL, __func__, "optimizer settings out of range");
	o = calloc(1, sizeof(*o));
	if (!o)
		return aug__fail(AUG_ENOMEM, __func__, "no memory");
	o->o = *opts;
	if (o->o.eps == 0)
		o->o.eps = opts->kind == AUG_OPTIM_ADAGRAD ? 1e-10f : 1e-8f;
	o->n = n;
	if (!aug__mul(n, state_per_param(opts->kind), &o->state_n))
		goto nomem;
	if (o->state_n) {
		o->state = calloc(o->state_n, sizeof(float));
		if (!o->state)
			goto nomem;
	}
	if (decay_mask) {
		o->mask = malloc(n ? n : 1);
		if (!o->mask)
			goto nomem;
		memcpy(o->mask, decay_mask, n);
	}
	*out = o;
	return AUG_OK;
nomem:
	aug_optimizer_free(o);
	return aug__fail(AUG_ENOMEM, __func__, "no memory for the state of %zu parameters", n);
}

void aug_optimizer_free(aug_optimizer *o)
{
	if (!o)
		return;
	free(o->state);
	free(o->mask);
	free(o);
}

uint64_t aug_optimizer_steps(const aug_optimizer *o)
{
	return o->steps;
}

void aug_optimizer_set_steps(aug_optimizer *o, uint64_t steps)
{
	o->steps = steps;
}

size_t aug_optimizer_state_size(const aug_optimizer *o)
{
	return o->state_n;
}

float *aug_optimizer_state(aug_optimizer *o)
{
	return o->state;
}

static inline float sign(float x)
{
	return (float)((x > 0) - (x < 0));
}

void aug_optimizer_step(aug_optimizer *o, float *params, float *grads, float lr)
{
	const aug_optim_options *p = &o->o;
	size_t n = o->n;
	float l2 = p->kind == AUG_OPTIM_ADAMW ? 0.0f : p->l2;
	float *s = o->state;

	o->steps++;
	/* Coupled regularisation: L2 adds λ2 θ, L1 adds λ1 sign(θ). */
	if (l2 > 0 || p->l1 > 0) {
#pragma omp parallel for schedule(static) if (n > 65536)
		for (size_t i = 0; i < n; i++)
			if (!o->mask || o->mask[i])
				grads[i] += l2 * params[i] + p->l1 * sign(params[i]);
	}
	switch (p->kind) {
	case AUG_OPTIM_SGD:
#pragma omp parallel for schedule(static) if (n > 65536)
		for (size_t i = 0; i < n; i++)
			params[i] -= lr * grads[i];
		break;
	case AUG_OPTIM_MOMENTUM: {
		/* torch.optim.SGD, dampening 0: the first step sets v = g. */
		float mu = p->momentum;
		bool first = o->steps == 1;

#pragma omp parallel for schedule(static) if (n > 65536)
		for (size_t i = 0; i < n; i++) {
			float v = first ? grads[i] : mu * s[i] + grads[i];

			s[i] = v;
			params[i] -= lr * (p->nesterov ? grads[i] + mu * v : v);
		}
		break;
	}
	case AUG_OPTIM_ADAGRAD:
		/* torch.optim.Adagrad, lr_decay 0, initial accumulator 0. */
#pragma omp parallel for schedule(static) if (n > 65536)
		for (size_t i = 0; i < n; i++) {
			s[i] += grads[i] * grads[i];
			params[i] -= lr * grads[i] / (sqrtf(s[i]) + p->eps);
		}
		break;
	case AUG_OPTIM_RMSPROP:
		/* torch.optim.RMSprop, not centered, no momentum. */
#pragma omp parallel for schedule(static) if (n > 65536)
		for (size_t i = 0; i < n; i++) {
			s[i] = p->alpha * s[i] + (1 - p->alpha) * grads[i] * grads[i];
			params[i] -= lr * grads[i] / (sqrtf(s[i]) + p->eps);
		}
		break;
	case AUG_OPTIM_ADAM:
	case AUG_OPTIM_ADAMW: {
		/* torch.optim.Adam/AdamW: m̂ = m / (1 − β1^t), v̂ = v / (1 − β2^t),
		 * θ −= γ m̂ / (√v̂ + ε); AdamW first decays θ by γ λ. */
		float *m = s, *v = s + n;
		double bc1 = 1 - pow(p->beta1, (double)o->steps), bc2 = 1 - pow(p->beta2, (double)o->steps);
		float step = (float)(lr / bc1), rbc2 = (float)(1 / sqrt(bc2));
		float decay = p->kind == AUG_OPTIM_ADAMW ? lr * p->l2 : 0.0f;

#pragma omp parallel for schedule(static) if (n > 65536)
		for (size_t i = 0; i < n; i++) {
			float g = grads[i];

			if (decay > 0 && (!o->mask || o->mask[i]))
				params[i] -= decay * params[i];
			m[i] = p->beta1 * m[i] + (1 - p->beta1) * g;
			v[i] = p->beta2 * v[i] + (1 - p->beta2) * g * g;
			params[i] -= step * m[i] / (sqrtf(v[i]) * rbc2 + p->eps);
		}
		break;
	}
	case AUG_OPTIM_COUNT:
		break;
	}
}
