/* The training loop: batches from the streaming loader, forward, backward,
 * regularised update with the scheduled rate, validation, early stopping,
 * and a checkpoint after every epoch that lets a run continue exactly. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

struct aug_trainer {
	aug_model *m;
	const aug_dataset *ds;
	const aug_pipeline *train_p;
	const aug_pipeline *eval_p;
	aug_train_options o;
	aug_loader *train_l;
	aug_loader *val_l;
	size_t ntrain;
	size_t nval;
	aug_optimizer *opt;
	uint8_t *mask;
	uint64_t steps_per_epoch;

	int epochs_done;
	aug_epoch_stats *history; /* o.epochs entries */
	/* early stopping */
	double best_value;
	int best_epoch;
	int bad_epochs;
	bool stopped;
	float *best_params;
	float *best_stats;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void aug_train_options_init(aug_train_options *o)
{
	memset(o, 0, sizeof(*o));
	o->epochs = 10;
	o->batch_size = 128;
	o->loader_threads = 1;
	o->prefetch = 4;
	aug_optim_options_init(&o->optim);
	o->schedule.kind = AUG_SCHED_CONSTANT;
	o->schedule.lr = 0.01;
	o->schedule.gamma = 0.1;
	o->restore_best = true;
	o->max_pixels = AUG_DEFAULT_MAX_PIXELS;
}

void aug_model_decay_mask(const aug_model *m, bool all, uint8_t *mask)
{
	memset(mask, all ? 1 : 0, aug_model_num_params(m));
	if (all)
		return;
	for (int i = 0; i < aug_model_num_tensors(m); i++) {
		const aug_tensor_info *t = aug_model_tensor(m, i);

		if (t->kind == AUG_TENSOR_WEIGHT)
			memset(mask + t->offset, 1, t->count);
	}
}

void aug_trainer_free(aug_trainer *t)
{
	if (!t)
		return;
	aug_loader_free(t->train_l);
	aug_loader_free(t->val_l);
	aug_optimizer_free(t->opt);
	free(t->mask);
	free(t->history);
	free(t->best_params);
	free(t->best_stats);
	free(t);
}

aug_status aug_trainer_new(aug_model *m, const aug_dataset *ds, const size_t *train, size_t ntrain,
			   const size_t *val, size_t nval, const aug_pipeline *train_p, const aug_pipeline *eval_p,
			   const aug_train_options *opts, aug_trainer **out)
{
	aug_trainer *t;
	aug_loader_options lo;
	aug_status st;
	int c, h, w;

	*out = NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return aug__fail(AUG_ENOMEM, __func__, "no memory");
	t->m = m;
	t->ds = ds;
	t->train_p = train_p;
	t->eval_p = eval_p;
	if (opts)
		t->o = *opts;
	else
		aug_train_options_init(&t->o);
	if (t->o.epochs < 1 || t->o.batch_size < 2 || ntrain == 0) {
		st = aug__fail(AUG_EINVAL, __func__, "need epochs >= 1, a batch of at least 2 and training images");
		goto fail;
	}
	aug_model_input_shape(m, &c, &h, &w);
	aug_loader_options_init(&lo);
	lo.batch_size = t->o.batch_size;
	lo.threads = t->o.loader_threads > 0 ? t->o.loader_threads : 1;
	lo.prefetch = t->o.prefetch > 0 ? t->o.prefetch : 4;
	lo.seed = t->o.seed;
	lo.channels = c;
	lo.fail_on_error = t->o.fail_on_error;
	lo.decode.max_pixels = t->o.max_pixels;
	/* A last batch of one would leave BatchNorm a single value per channel. */
	lo.drop_last = ntrain % (size_t)t->o.batch_size == 1;
	st = aug_loader_new(ds, train, ntrain, train_p, &lo, &t->train_l);
	if (st)
		goto fail;
	{
		int pw, ph;

		if (!aug_pipeline_fixed_size(train_p, &pw, &ph) || pw != w || ph != h) {
			st = aug__fail(AUG_EINVAL, __func__,
				       "the training pipeline makes %dx%d images; the model takes %dx%d", pw, ph, w, h);
			goto fail;
		}
	}
	if (nval) {
		lo.shuffle = false;
		lo.drop_last = false;
		st = aug_loader_new(ds, val, nval, eval_p, &lo, &t->val_l);
		if (st)
			goto fail;
	}
	t->ntrain = ntrain;
	t->nval = nval;
	t->steps_per_epoch = aug_loader_batch_count(t->train_l);
	/* The schedule in steps: warm-up and step size given in epochs. */
	t->o.schedule.total = (uint64_t)t->o.epochs * t->steps_per_epoch;
	t->o.schedule.warmup = (uint64_t)llround(t->o.warmup_epochs * (double)t->steps_per_epoch);
	if (t->o.schedule.kind == AUG_SCHED_STEP) {
		double se = t->o.step_epochs > 0 ? t->o.step_epochs : fmax(1.0, t->o.epochs / 3.0);

		t->o.schedule.step_size = (uint64_t)llround(se * (double)t->steps_per_epoch);
	}
	t->mask = malloc(aug_model_num_params(m) ? aug_model_num_params(m) : 1);
	t->history = calloc((size_t)t->o.epochs, sizeof(*t->history));
	t->best_params = malloc((aug_model_num_params(m) + 1) * sizeof(float));
	t->best_stats = malloc((aug_model_num_stats(m) + 1) * sizeof(float));
	if (!t->mask || !t->history || !t->best_params || !t->best_stats) {
		st = aug__fail(AUG_ENOMEM, __func__, "no memory");
		goto fail;
	}
	aug_model_decay_mask(m, t->o.decay_all, t->mask);
	st = aug_optimizer_new(&t->o.optim, aug_model_num_params(m), t->mask, &t->opt);
	if (st)
		goto fail;
	st = aug_model_reserve(m, t->o.batch_size);
	if (st)
		goto fail;
	aug_model_set_rng(m, t->o.seed, 0);
	t->best_value = NAN;
	*out = t;
	return AUG_OK;
fail:
	aug_trainer_free(t);
	return st;
}

int aug_trainer_epochs_done(const aug_trainer *t)
{
	return t->epochs_done;
}

const aug_epoch_stats *aug_trainer_history(const aug_trainer *t, int i)
{
	return i >= 0 && i < t->epochs_done ? &t->history[i] : NULL;
}

int aug_trainer_best_epoch(const aug_trainer *t)
{
	return t->best_epoch;
}

bool aug_trainer_stopped_early(const aug_trainer *t)
{
	return t->stopped;
}

size_t aug_trainer_failure_count(const aug_trainer *t)
{
	return aug_loader_failure_count(t->train_l) + (t->val_l ? aug_loader_failure_count(t->val_l) : 0);
}

const char *aug_trainer_failure_at(const aug_trainer *t, size_t i)
{
	size_t n = aug_loader_failure_count(t->train_l);

	return i < n ? aug_loader_failure_at(t->train_l, i) : aug_loader_failure_at(t->val_l, i - n);
}

static int argmax(const float *v, int n)
{
	int best = 0;

	for (int k = 1; k < n; k++)
		if (v[k] > v[best])
			best = k;
	return best;
}

/* Loss and accuracy of the model, in evaluation mode, on a loader's epoch 0. */
static aug_status validate(aug_trainer *t, double *loss, double *acc)
{
	const aug_batch *b;
	double sum = 0;
	size_t n = 0, right = 0;
	int k = aug_model_num_outputs(t->m);
	aug_status st = aug_loader_start(t->val_l, 0);

	aug_model_set_training(t->m, false);
	while (!st && !(st = aug_loader_next(t->val_l, &b)) && b) {
		const float *logits;
		float l;

		if (b->n == 0)
			continue;
		st = aug_model_forward(t->m, b->data, b->n, &logits);
		if (!st)
			st = aug_model_loss(t->m, b->labels, 0.0f, &l);
		if (st)
			break;
		sum += (double)l * b->n;
		for (int i = 0; i < b->n; i++)
			right += argmax(logits + (size_t)i * (size_t)k, k) == b->labels[i];
		n += (size_t)b->n;
	}
	aug_model_set_training(t->m, true);
	*loss = n ? sum / (double)n : NAN;
	*acc = n ? (double)right / (double)n : NAN;
	return st;
}

/* ---- Checkpoints ---------------------------------------------------------------- */

aug_status aug_trainer_save(aug_trainer *t, const char *path)
{
	struct wbuf b = { 0 };
	char *tp = NULL, *ep = NULL, *names = NULL;
	size_t n, nn = 0;
	int c, h, w;
	aug_status st;

	aug_model_input_shape(t->m, &c, &h, &w);
	aug__wbuf_section(&b, "SPEC", aug_model_spec(t->m), strlen(aug_model_spec(t->m)));
	aug__wbuf_put(&b, "SHAP", 4);
	aug__wbuf_u64(&b, 16);
	aug__wbuf_u32(&b, (uint32_t)c);
	aug__wbuf_u32(&b, (uint32_t)h);
	aug__wbuf_u32(&b, (uint32_t)w);
	aug__wbuf_u32(&b, (uint32_t)aug_model_num_outputs(t->m));
	for (int k = 0; k < aug_dataset_class_count(t->ds); k++)
		nn += strlen(aug_dataset_class_name(t->ds, k)) + 1;
	names = malloc(nn + 1);
	if (names) {
		size_t off = 0;

		for (int k = 0; k < aug_dataset_class_count(t->ds); k++) {
			size_t l = strlen(aug_dataset_class_name(t->ds, k));

			memcpy(names + off, aug_dataset_class_name(t->ds, k), l);
			names[off + l] = '\n';
			off += l + 1;
		}
		aug__wbuf_section(&b, "CLAS", names, off);
	}
	n = aug_pipeline_describe(t->train_p, NULL, 0);
	tp = malloc(n);
	if (tp) {
		aug_pipeline_describe(t->train_p, tp, n);
		aug__wbuf_section(&b, "TPIP", tp, strlen(tp));
	}
	n = aug_pipeline_describe(t->eval_p, NULL, 0);
	ep = malloc(n);
	if (ep) {
		aug_pipeline_describe(t->eval_p, ep, n);
		aug__wbuf_section(&b, "EPIP", ep, strlen(ep));
	}
	aug__wbuf_section(&b, "PARM", aug_model_params(t->m), aug_model_num_params(t->m) * sizeof(float));
	aug__wbuf_section(&b, "STAT", aug_model_stats(t->m), aug_model_num_stats(t->m) * sizeof(float));
	/* Optimizer: kind, steps, state. */
	aug__wbuf_put(&b, "OPTI", 4);
	aug__wbuf_u64(&b, 12 + aug_optimizer_state_size(t->opt) * sizeof(float));
	aug__wbuf_u32(&b, (uint32_t)t->o.optim.kind);
	aug__wbuf_u64(&b, aug_optimizer_steps(t->opt));
	aug__wbuf_put(&b, aug_optimizer_state(t->opt), aug_optimizer_state_size(t->opt) * sizeof(float));
	/* Progress: epochs done, best epoch, bad epochs, stopped, model rng
	 * step, seed, best value, what the run was (to refuse a mismatched
	 * resume). */
	aug__wbuf_put(&b, "PROG", 4);
	aug__wbuf_u64(&b, 4 * 4 + 8 * 6);
	aug__wbuf_u32(&b, (uint32_t)t->epochs_done);
	aug__wbuf_u32(&b, (uint32_t)t->best_epoch);
	aug__wbuf_u32(&b, (uint32_t)t->bad_epochs);
	aug__wbuf_u32(&b, t->stopped ? 1u : 0u);
	aug__wbuf_u64(&b, aug_model_rng_step(t->m));
	aug__wbuf_u64(&b, t->o.seed);
	aug__wbuf_f64(&b, t->best_value);
	aug__wbuf_u64(&b, (uint64_t)t->o.batch_size);
	aug__wbuf_u64(&b, (uint64_t)t->ntrain);
	aug__wbuf_u64(&b, (uint64_t)t->nval);
	if (t->best_epoch > 0) {
		aug__wbuf_section(&b, "BPAR", t->best_params, aug_model_num_params(t->m) * sizeof(float));
		aug__wbuf_section(&b, "BSTA", t->best_stats, aug_model_num_stats(t->m) * sizeof(float));
	}
	aug__wbuf_put(&b, "HIST", 4);
	aug__wbuf_u64(&b, (uint64_t)t->epochs_done * 8 * 8);
	for (int e = 0; e < t->epochs_done; e++) {
		const aug_epoch_stats *s = &t->history[e];

		aug__wbuf_f64(&b, s->epoch);
		aug__wbuf_f64(&b, s->train_loss);
		aug__wbuf_f64(&b, s->train_acc);
		aug__wbuf_f64(&b, s->val_loss);
		aug__wbuf_f64(&b, s->val_acc);
		aug__wbuf_f64(&b, s->lr);
		aug__wbuf_f64(&b, s->seconds);
		aug__wbuf_f64(&b, s->images_per_second + (s->best ? 1e12 : 0));
	}
	st = aug__ckpt_write(path, &b);
	free(b.p);
	free(tp);
	free(ep);
	free(names);
	return st;
}

aug_status aug_trainer_resume(aug_trainer *t, const char *path)
{
	struct ckpt c;
	const uint8_t *prog, *parm, *stat, *opti, *bpar = NULL, *bsta = NULL, *hist, *p;
	size_t len, lstat, lopti, lbsta = 0, np = aug_model_num_params(t->m), ns = aug_model_num_stats(t->m);
	aug_status st = aug__ckpt_read(path, &c);
	uint32_t done, best, bad, stopped;

	if (st)
		return st;
	/* Everything is checked before anything of the trainer changes: a
	 * checkpoint that does not fit leaves the trainer as it was. */
	p = aug__ckpt_section(&c, "SPEC", &len);
	if (!p || len != strlen(aug_model_spec(t->m)) || memcmp(p, aug_model_spec(t->m), len) != 0) {
		st = aug__fail(AUG_EINVAL, __func__, "%s: the checkpoint holds another model", path);
		goto out;
	}
	prog = aug__ckpt_section(&c, "PROG", &len);
	if (!prog || len != 4 * 4 + 8 * 6) {
		st = aug__fail(AUG_ECORRUPT, __func__, "%s: no training progress in the checkpoint", path);
		goto out;
	}
	done = aug__rd_u32(prog);
	best = aug__rd_u32(prog + 4);
	bad = aug__rd_u32(prog + 8);
	stopped = aug__rd_u32(prog + 12);
	if (aug__rd_u64(prog + 24) != t->o.seed || aug__rd_u64(prog + 40) != (uint64_t)t->o.batch_size ||
	    aug__rd_u64(prog + 48) != (uint64_t)t->ntrain || aug__rd_u64(prog + 56) != (uint64_t)t->nval) {
		st = aug__fail(AUG_EINVAL, __func__,
			       "%s: written with another seed, batch size or data set: resuming would not continue "
			       "that run",
			       path);
		goto out;
	}
	if (done > (uint32_t)t->o.epochs) {
		st = aug__fail(AUG_EINVAL, __func__, "%s: %u epochs are done already, more than the %d asked", path,
			       done, t->o.epochs);
		goto out;
	}
	if (best > done || bad > done || stopped > 1) {
		st = aug__fail(AUG_ECORRUPT, __func__, "%s: the training progress does not add up", path);
		goto out;
	}
	parm = aug__ckpt_section(&c, "PARM", &len);
	if (!parm || len != np * sizeof(float)) {
		st = aug__fail(AUG_ECORRUPT, __func__, "%s: the parameters do not fit the model", path);
		goto out;
	}
	stat = aug__ckpt_section(&c, "STAT", &lstat);
	if (lstat != ns * sizeof(float) || (lstat && !stat)) {
		st = aug__fail(AUG_ECORRUPT, __func__, "%s: the statistics do not fit the model", path);
		goto out;
	}
	opti = aug__ckpt_section(&c, "OPTI", &lopti);
	if (!opti || lopti != 12 + aug_optimizer_state_size(t->opt) * sizeof(float) ||
	    aug__rd_u32(opti) != (uint32_t)t->o.optim.kind) {
		st = aug__fail(AUG_EINVAL, __func__, "%s: written with another optimizer", path);
		goto out;
	}
	if (best > 0) {
		bpar = aug__ckpt_section(&c, "BPAR", &len);
		bsta = aug__ckpt_section(&c, "BSTA", &lbsta);
		if (!bpar || len != np * sizeof(float) || lbsta != ns * sizeof(float) || (lbsta && !bsta)) {
			st = aug__fail(AUG_ECORRUPT, __func__, "%s: the best weights are missing", path);
			goto out;
		}
	}
	hist = aug__ckpt_section(&c, "HIST", &len);
	if (!hist || len != (size_t)done * 64) {
		st = aug__fail(AUG_ECORRUPT, __func__, "%s: the history does not match the epochs done", path);
		goto out;
	}
	for (uint32_t e = 0; e < done; e++) {
		if (aug__rd_f64(hist + (size_t)e * 64) != (double)(e + 1)) {
			st = aug__fail(AUG_ECORRUPT, __func__, "%s: the history does not match the epochs done", path);
			goto out;
		}
	}

	t->epochs_done = (int)done;
	t->best_epoch = (int)best;
	t->bad_epochs = (int)bad;
	t->stopped = stopped != 0;
	aug_model_set_rng(t->m, t->o.seed, aug__rd_u64(prog + 16));
	t->best_value = aug__rd_f64(prog + 32);
	memcpy(aug_model_params(t->m), parm, np * sizeof(float));
	if (lstat)
		memcpy(aug_model_stats(t->m), stat, lstat);
	aug_optimizer_set_steps(t->opt, aug__rd_u64(opti + 4));
	memcpy(aug_optimizer_state(t->opt), opti + 12, lopti - 12);
	if (best > 0) {
		memcpy(t->best_params, bpar, np * sizeof(float));
		if (lbsta)
			memcpy(t->best_stats, bsta, lbsta);
	}
	for (uint32_t e = 0; e < done; e++) {
		aug_epoch_stats *s = &t->history[e];
		const uint8_t *q = hist + (size_t)e * 64;
		double ips = aug__rd_f64(q + 56);

		s->epoch = (int)e + 1;
		s->train_loss = aug__rd_f64(q + 8);
		s->train_acc = aug__rd_f64(q + 16);
		s->val_loss = aug__rd_f64(q + 24);
		s->val_acc = aug__rd_f64(q + 32);
		s->lr = aug__rd_f64(q + 40);
		s->seconds = aug__rd_f64(q + 48);
		s->best = ips >= 1e12;
		s->images_per_second = s->best ? ips - 1e12 : ips;
	}
out:
	aug__ckpt_free(&c);
	return st;
}

/* ---- The loop --------------------------------------------------------------------- */

static bool improved(const aug_trainer *t, double v)
{
	if (isnan(v))
		return false;
	if (isnan(t->best_value))
		return true;
	return t->o.monitor_accuracy ? v > t->best_value + t->o.min_delta : v < t->best_value - t->o.min_delta;
}

aug_status aug_trainer_run(aug_trainer *t)
{
	int k = aug_model_num_outputs(t->m);
	size_t np = aug_model_num_params(t->m), ns = aug_model_num_stats(t->m);
	aug_status st = AUG_OK;

	aug_model_set_training(t->m, true);
	while (t->epochs_done < t->o.epochs && !t->stopped) {
		aug_epoch_stats s = { 0 };
		const aug_batch *b;
		double t0 = now(), t1, loss_sum = 0;
		size_t seen = 0, right = 0;
		uint64_t epoch = (uint64_t)t->epochs_done;
		double lr = 0;

		s.epoch = t->epochs_done + 1;
		st = aug_loader_start(t->train_l, epoch);
		while (!st && !(st = aug_loader_next(t->train_l, &b)) && b) {
			const float *logits;
			float loss;

			if (b->n < 2)
				continue; /* files failed: too few for BatchNorm */
			lr = aug_schedule_lr(&t->o.schedule, aug_optimizer_steps(t->opt));
			aug_model_zero_grad(t->m);
			st = aug_model_forward(t->m, b->data, b->n, &logits);
			if (st)
				break;
			for (int i = 0; i < b->n; i++)
				right += argmax(logits + (size_t)i * (size_t)k, k) == b->labels[i];
			st = aug_model_backward(t->m, b->labels, t->o.label_smoothing, &loss);
			if (st)
				break;
			if (!isfinite(loss)) {
				st = aug__fail(AUG_ESTATE, "aug_trainer_run",
					       "the loss is %f at epoch %d: the learning rate %g is too high", (double)loss,
					       s.epoch, lr);
				break;
			}
			aug_optimizer_step(t->opt, aug_model_params(t->m), aug_model_grads(t->m), (float)lr);
			loss_sum += (double)loss * b->n;
			seen += (size_t)b->n;
		}
		if (st)
			return st;
		t1 = now();
		s.train_loss = seen ? loss_sum / (double)seen : NAN;
		s.train_acc = seen ? (double)right / (double)seen : NAN;
		s.lr = lr;
		s.images_per_second = t1 > t0 ? (double)seen / (t1 - t0) : 0;
		s.val_loss = s.val_acc = NAN;
		if (t->val_l) {
			st = validate(t, &s.val_loss, &s.val_acc);
			if (st)
				return st;
		}
		s.seconds = now() - t0;
		/* Early stopping watches the validation value, or, without a
		 * validation set, the training loss. */
		{
			double v = t->o.monitor_accuracy ? (t->val_l ? s.val_acc : s.train_acc)
							 : (t->val_l ? s.val_loss : s.train_loss);

			if (improved(t, v)) {
				t->best_value = v;
				t->best_epoch = s.epoch;
				t->bad_epochs = 0;
				s.best = true;
				memcpy(t->best_params, aug_model_params(t->m), np * sizeof(float));
				memcpy(t->best_stats, aug_model_stats(t->m), ns * sizeof(float));
			} else {
				t->bad_epochs++;
				if (t->o.patience > 0 && t->bad_epochs >= t->o.patience)
					t->stopped = true;
			}
		}
		t->history[t->epochs_done++] = s;
		if (t->o.checkpoint) {
			st = aug_trainer_save(t, t->o.checkpoint);
			if (st)
				return st;
		}
		if (t->o.on_epoch)
			t->o.on_epoch(t->o.ctx, &s);
	}
	/* End with the best epoch's weights and BatchNorm statistics. */
	if (t->o.restore_best && t->o.patience > 0 && t->best_epoch > 0 && t->best_epoch != t->epochs_done) {
		memcpy(aug_model_params(t->m), t->best_params, np * sizeof(float));
		memcpy(aug_model_stats(t->m), t->best_stats, ns * sizeof(float));
	}
	aug_model_set_training(t->m, false);
	return AUG_OK;
}
