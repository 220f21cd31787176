/* The streaming loader: background threads run the planned path straight
 * into a ring of preallocated float batches, ahead of the consumer.
 *
 * Batch b of an epoch holds items perm[b*B .. b*B + B) of that epoch's
 * order, and is made whole by one worker, in slot b % K of the ring. A
 * worker claims the next batch number, waits for its slot to be released by
 * the consumer, fills it and marks it ready; the consumer takes batches in
 * order. Which worker makes a batch changes nothing in it: every sample's
 * randomness is keyed (seed, epoch, item). */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "augment/data.h"
#include "core/internal.h"

/* The stream of the epoch's shuffle: an index no sample uses. */
#define SHUFFLE_INDEX UINT64_MAX
#define SPLIT_INDEX (UINT64_MAX - 1)

void aug_loader_options_init(aug_loader_options *o)
{
	memset(o, 0, sizeof(*o));
	o->batch_size = 128;
	o->threads = 2;
	o->prefetch = 4;
	o->seed = 0;
	o->shuffle = true;
	o->drop_last = false;
	o->channels = 3;
	o->fail_on_error = false;
	aug_decode_options_init(&o->decode);
}

static int cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

aug_status aug_dataset_split(const aug_dataset *ds, double frac, uint64_t seed, size_t **train, size_t *ntrain,
			     size_t **val, size_t *nval)
{
	size_t n = aug_dataset_count(ds), nt = 0, nv = 0;
	size_t *t = malloc((n ? n : 1) * sizeof(size_t)), *v = malloc((n ? n : 1) * sizeof(size_t));
	size_t *cls = malloc((n ? n : 1) * sizeof(size_t));

	*train = *val = NULL;
	*ntrain = *nval = 0;
	if (!t || !v || !cls) {
		free(t);
		free(v);
		free(cls);
		return aug__fail(AUG_ENOMEM, __func__, "no memory");
	}
	if (frac < 0 || frac > 1) {
		free(t);
		free(v);
		free(cls);
		return aug__fail(AUG_EINVAL, __func__, "validation fraction %g is not in 0..1", frac);
	}
	for (int c = 0; c < aug_dataset_class_count(ds); c++) {
		size_t m = 0, take;
		aug_rng r = aug_rng_stream(seed, 0, SPLIT_INDEX, (uint64_t)c);

		for (size_t i = 0; i < n; i++)
			if (aug_dataset_item_at(ds, i)->label == c)
				cls[m++] = i;
		/* Fisher-Yates from the class's own stream. */
		for (size_t i = m; i > 1; i--) {
			size_t j = (size_t)aug_rng_below(&r, i), tmp = cls[i - 1];

			cls[i - 1] = cls[j];
			cls[j] = tmp;
		}
		take = (size_t)llround(frac * (double)m);
		for (size_t i = 0; i < m; i++) {
			if (i < take)
				v[nv++] = cls[i];
			else
				t[nt++] = cls[i];
		}
	}
	free(cls);
	qsort(t, nt, sizeof(size_t), cmp_size);
	qsort(v, nv, sizeof(size_t), cmp_size);
	*train = t;
	*ntrain = nt;
	*val = v;
	*nval = nv;
	return AUG_OK;
}

enum slot_state { SLOT_FREE, SLOT_BUSY, SLOT_READY };

struct slot {
	enum slot_state state;
	size_t batch;        /* the batch number it is for */
	aug_status status;   /* a failure in fail_on_error mode */
	char *error;
	aug_batch b;
	size_t *items;
	int *labels;
	float *data;
};

struct worker {
	struct aug_loader *l;
	pthread_t thread;
	aug_executor *ex;
	uint8_t *buf;        /* file bytes, grown, reused */
	size_t cap;
};

struct aug_loader {
	const aug_dataset *ds;
	const aug_pipeline *p;
	aug_loader_options o;
	size_t *items;       /* the loader's items */
	size_t nitems;
	size_t *order;       /* this epoch's order */
	size_t nbatches;
	int c, h, w;
	size_t sample_floats;

	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool quit;
	uint64_t epoch;
	uint64_t generation;  /* bumped by every start, so stale work is dropped */
	size_t next_claim;    /* next batch number to make */
	size_t next_take;     /* next batch number to hand out */
	bool holding;         /* the consumer holds slot (next_take - 1) % K */
	struct slot *slots;
	int nworkers;
	struct worker *workers;

	char **failures;      /* reported once each */
	size_t nfail;
	uint8_t *failed;      /* per data set item: already reported */
};

size_t aug_loader_batch_count(const aug_loader *l)
{
	return l->nbatches;
}

size_t aug_loader_failure_count(const aug_loader *l)
{
	return l->nfail;
}

const char *aug_loader_failure_at(const aug_loader *l, size_t i)
{
	return i < l->nfail ? l->failures[i] : NULL;
}

/* Read a file into the worker's buffer; no allocation once it is large enough. */
static aug_status read_file(struct worker *wk, const char *path, size_t *len)
{
	struct stat sb;
	size_t got = 0;
	int fd;
	aug_status st = aug__open_regular(path, "aug_loader_next", &fd, &sb);

	if (st)
		return st;
	if ((uint64_t)sb.st_size > (1u << 30)) {
		st = aug__fail(AUG_ELIMIT, "aug_loader_next", "%s: larger than 1 GiB", path);
		goto out;
	}
	if ((size_t)sb.st_size + 1 > wk->cap) {
		uint8_t *b = realloc(wk->buf, (size_t)sb.st_size + 1);

		if (!b) {
			st = aug__fail(AUG_ENOMEM, "aug_loader_next", "%s: no memory", path);
			goto out;
		}
		wk->buf = b;
		wk->cap = (size_t)sb.st_size + 1;
	}
	for (;;) {
		ssize_t n = read(fd, wk->buf + got, wk->cap - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			st = aug__fail(AUG_EIO, "aug_loader_next", "%s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
		if (got == wk->cap)
			break; /* grew while being read: decode what fits */
	}
	*len = got;
out:
	close(fd);
	return st;
}

static void record_failure(aug_loader *l, size_t item, const char *msg)
{
	char **f;

	if (l->failed[item])
		return;
	l->failed[item] = 1;
	f = realloc(l->failures, (l->nfail + 1) * sizeof(*f));
	if (!f)
		return;
	l->failures = f;
	l->failures[l->nfail] = strdup(msg);
	if (l->failures[l->nfail])
		l->nfail++;
}

/* Make batch `b` of `epoch` into slot `s`. Runs without the lock. */
static void fill(struct worker *wk, struct slot *s, size_t b, uint64_t epoch)
{
	aug_loader *l = wk->l;
	size_t first = b * (size_t)l->o.batch_size, end = first + (size_t)l->o.batch_size;
	int n = 0;

	if (end > l->nitems)
		end = l->nitems;
	s->status = AUG_OK;
	free(s->error);
	s->error = NULL;
	for (size_t k = first; k < end; k++) {
		size_t item = l->order[k];
		const aug_dataset_item *it = aug_dataset_item_at(l->ds, item);
		aug_key key = { l->o.seed, epoch, item };
		size_t len = 0;
		aug_status st = read_file(wk, it->path, &len);

		if (!st)
			st = aug_executor_run_f32(wk->ex, wk->buf, len, it->path, key,
						  s->data + (size_t)n * l->sample_floats, l->c, l->h, l->w);
		if (st) {
			pthread_mutex_lock(&l->mu);
			record_failure(l, item, aug_error_message());
			pthread_mutex_unlock(&l->mu);
			if (l->o.fail_on_error) {
				s->status = st;
				s->error = strdup(aug_error_message());
				break;
			}
			continue; /* left out: the batch is compacted */
		}
		s->items[n] = item;
		s->labels[n] = it->label;
		n++;
	}
	s->b.epoch = epoch;
	s->b.index = b;
	s->b.n = n;
}

static void *work(void *arg)
{
	struct worker *wk = arg;
	aug_loader *l = wk->l;
	int K = l->o.prefetch;

	pthread_mutex_lock(&l->mu);
	for (;;) {
		uint64_t gen, epoch;
		size_t b;
		struct slot *s;

		while (!l->quit && l->next_claim >= l->nbatches)
			pthread_cond_wait(&l->cv, &l->mu);
		if (l->quit)
			break;
		b = l->next_claim++;
		gen = l->generation;
		epoch = l->epoch;
		s = &l->slots[b % (size_t)K];
		/* Wait for the consumer to be done with the batch K before. */
		while (!l->quit && l->generation == gen && !(s->state == SLOT_FREE && s->batch == b))
			pthread_cond_wait(&l->cv, &l->mu);
		if (l->quit)
			break;
		if (l->generation != gen)
			continue;
		s->state = SLOT_BUSY;
		pthread_mutex_unlock(&l->mu);
		fill(wk, s, b, epoch);
		pthread_mutex_lock(&l->mu);
		if (l->generation == gen) {
			s->state = SLOT_READY;
		} else {
			s->state = SLOT_FREE; /* restarted meanwhile: the work is stale */
		}
		pthread_cond_broadcast(&l->cv);
	}
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

void aug_loader_free(aug_loader *l)
{
	if (!l)
		return;
	if (l->workers) {
		pthread_mutex_lock(&l->mu);
		l->quit = true;
		pthread_cond_broadcast(&l->cv);
		pthread_mutex_unlock(&l->mu);
		for (int i = 0; i < l->nworkers; i++) {
			pthread_join(l->workers[i].thread, NULL);
			aug_executor_free(l->workers[i].ex);
			free(l->workers[i].buf);
		}
		free(l->workers);
		pthread_mutex_destroy(&l->mu);
		pthread_cond_destroy(&l->cv);
	}
	for (int i = 0; l->slots && i < l->o.prefetch; i++) {
		free(l->slots[i].data);
		free(l->slots[i].items);
		free(l->slots[i].labels);
		free(l->slots[i].error);
	}
	for (size_t i = 0; i < l->nfail; i++)
		free(l->failures[i]);
	free(l->failures);
	free(l->failed);
	free(l->slots);
	free(l->items);
	free(l->order);
	free(l);
}

aug_status aug_loader_new(const aug_dataset *ds, const size_t *items, size_t nitems, const aug_pipeline *p,
			  const aug_loader_options *opts, aug_loader **out)
{
	aug_loader *l;
	aug_executor_options eo;
	aug_status st = AUG_OK;
	size_t floats;

	*out = NULL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return aug__fail(AUG_ENOMEM, __func__, "no memory");
	if (opts)
		l->o = *opts;
	else
		aug_loader_options_init(&l->o);
	l->ds = ds;
	l->p = p;
	if (l->o.batch_size < 1 || l->o.threads < 1 || l->o.prefetch < 1 ||
	    (l->o.channels != 1 && l->o.channels != 3)) {
		free(l);
		return aug__fail(AUG_EINVAL, __func__, "batch size, threads and prefetch must be >= 1, channels 1 or 3");
	}
	if (!aug_pipeline_fixed_size(p, &l->w, &l->h)) {
		free(l);
		return aug__fail(AUG_EINVAL, __func__,
				 "the pipeline's output size depends on the image: end it with a sized stage "
				 "(crop, center_crop, random_resized_crop or resize size=WxH)");
	}
	l->c = l->o.channels;
	l->o.decode.channels = l->c == 1 ? AUG_CHANNELS_GREY : AUG_CHANNELS_RGB;
	if (!aug__mul3((size_t)l->c, (size_t)l->h, (size_t)l->w, &l->sample_floats) ||
	    !aug__mul(l->sample_floats, (size_t)l->o.batch_size, &floats)) {
		free(l);
		return aug__fail(AUG_ELIMIT, __func__, "batch too large");
	}
	l->nitems = nitems;
	l->items = malloc((nitems ? nitems : 1) * sizeof(size_t));
	l->order = malloc((nitems ? nitems : 1) * sizeof(size_t));
	l->failed = calloc(aug_dataset_count(ds) + 1, 1);
	l->slots = calloc((size_t)l->o.prefetch, sizeof(*l->slots));
	if (!l->items || !l->order || !l->failed || !l->slots) {
		st = aug__fail(AUG_ENOMEM, __func__, "no memory");
		goto fail;
	}
	for (size_t i = 0; i < nitems; i++) {
		if (items[i] >= aug_dataset_count(ds)) {
			st = aug__fail(AUG_EINVAL, __func__, "item %zu is not in the data set", items[i]);
			goto fail;
		}
		l->items[i] = items[i];
	}
	l->nbatches = l->o.drop_last ? nitems / (size_t)l->o.batch_size
				     : (nitems + (size_t)l->o.batch_size - 1) / (size_t)l->o.batch_size;
	for (int i = 0; i < l->o.prefetch; i++) {
		struct slot *s = &l->slots[i];

		s->data = malloc(floats * sizeof(float));
		s->items = malloc((size_t)l->o.batch_size * sizeof(size_t));
		s->labels = malloc((size_t)l->o.batch_size * sizeof(int));
		if (!s->data || !s->items || !s->labels) {
			st = aug__fail(AUG_ENOMEM, __func__, "no memory for %d batches of %zu floats", l->o.prefetch,
				       floats);
			goto fail;
		}
		s->b.channels = l->c;
		s->b.height = l->h;
		s->b.width = l->w;
		s->b.data = s->data;
		s->b.labels = s->labels;
		s->b.items = s->items;
		s->state = SLOT_FREE;
		s->batch = (size_t)i;
	}
	l->next_claim = l->nbatches; /* nothing to do until a start */
	aug_executor_options_init(&eo);
	eo.decode = l->o.decode;
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->cv, NULL);
	l->workers = calloc((size_t)l->o.threads, sizeof(*l->workers));
	if (!l->workers) {
		pthread_mutex_destroy(&l->mu);
		pthread_cond_destroy(&l->cv);
		st = aug__fail(AUG_ENOMEM, __func__, "no memory");
		goto fail;
	}
	for (int i = 0; i < l->o.threads; i++) {
		struct worker *wk = &l->workers[i];

		wk->l = l;
		st = aug_executor_new(p, &eo, &wk->ex);
		if (!st && pthread_create(&wk->thread, NULL, work, wk) != 0) {
			aug_executor_free(wk->ex);
			wk->ex = NULL;
			st = aug__fail(AUG_ENOMEM, __func__, "cannot start a loader thread");
		}
		if (st)
			break;
		l->nworkers++;
	}
	if (st)
		goto fail;
	*out = l;
	return AUG_OK;
fail:
	aug_loader_free(l);
	return st;
}

aug_status aug_loader_start(aug_loader *l, uint64_t epoch)
{
	pthread_mutex_lock(&l->mu);
	/* Stop new claims and void the old ones first; then wait for workers
	 * still filling a slot of the old epoch, so no slot is written twice
	 * and nobody reads the order while it changes. */
	l->next_claim = l->nbatches;
	l->generation++;
	pthread_cond_broadcast(&l->cv);
	for (;;) {
		bool busy = false;

		for (int i = 0; i < l->o.prefetch; i++)
			busy |= l->slots[i].state == SLOT_BUSY;
		if (!busy)
			break;
		pthread_cond_wait(&l->cv, &l->mu);
	}
	l->epoch = epoch;
	memcpy(l->order, l->items, l->nitems * sizeof(size_t));
	if (l->o.shuffle) {
		aug_rng r = aug_rng_stream(l->o.seed, epoch, SHUFFLE_INDEX, 0);

		for (size_t i = l->nitems; i > 1; i--) {
			size_t j = (size_t)aug_rng_below(&r, i), t = l->order[i - 1];

			l->order[i - 1] = l->order[j];
			l->order[j] = t;
		}
	}
	for (int i = 0; i < l->o.prefetch; i++) {
		l->slots[i].state = SLOT_FREE;
		l->slots[i].batch = (size_t)i;
	}
	l->next_take = 0;
	l->holding = false;
	l->next_claim = 0;
	pthread_cond_broadcast(&l->cv);
	pthread_mutex_unlock(&l->mu);
	return AUG_OK;
}

aug_status aug_loader_next(aug_loader *l, const aug_batch **batch)
{
	size_t K = (size_t)l->o.prefetch;
	struct slot *s;
	aug_status st = AUG_OK;

	*batch = NULL;
	pthread_mutex_lock(&l->mu);
	if (l->holding) {
		/* Hand the previous slot back for the batch K later. */
		s = &l->slots[(l->next_take - 1) % K];
		s->state = SLOT_FREE;
		s->batch = l->next_take - 1 + K;
		l->holding = false;
		pthread_cond_broadcast(&l->cv);
	}
	if (l->next_take >= l->nbatches) {
		pthread_mutex_unlock(&l->mu);
		return AUG_OK;
	}
	s = &l->slots[l->next_take % K];
	while (!(s->state == SLOT_READY && s->batch == l->next_take))
		pthread_cond_wait(&l->cv, &l->mu);
	l->next_take++;
	l->holding = true;
	if (s->status) {
		st = aug__fail(s->status, __func__, "%s", s->error ? s->error : aug_strerror(s->status));
	} else {
		*batch = &s->b;
	}
	pthread_mutex_unlock(&l->mu);
	return st;
}
