/* Planning: the geometric stages of a sample composed into one mapping per
 * axis, and the taps that realise it in one resampling pass.
 *
 * Every geometric stage is axis-aligned, so the whole chain is, per axis, an
 * affine map from output pixel centres to source coordinates
 * (u = a * (i + 0.5) + b; a < 0 after a flip) plus three intervals that say
 * what is real: the window (source pixels still visible, before any resize;
 * outside it is padding), the extent (the input box of the last resize: its
 * taps stay inside, as when the reference resizes a materialised crop) and
 * the frame (output pixels that the last resize produced; outside it is
 * padding added after the resize). A sample the plan cannot express (edge
 * or reflect padding, two different fill colours, padding between two
 * resizes) is marked fallback, and runs on the reference path. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct axis_state {
	double a, b;       /* source = a * v + b for virtual coordinate v */
	int n;             /* the virtual image's size */
	double win_lo, win_hi;
	double ext_lo, ext_hi;
	double frame_lo, frame_hi; /* in virtual coordinates */
	bool resampled;
};

static void axis_init(struct axis_state *s, int n)
{
	s->a = 1;
	s->b = 0;
	s->n = n;
	s->win_lo = 0;
	s->win_hi = n;
	s->ext_lo = 0;
	s->ext_hi = n;
	s->frame_lo = 0;
	s->frame_hi = n;
	s->resampled = false;
}

static void axis_flip(struct axis_state *s)
{
	double lo = s->frame_lo;

	s->b = s->a * s->n + s->b;
	s->a = -s->a;
	s->frame_lo = s->n - s->frame_hi;
	s->frame_hi = s->n - lo;
}

/* Source interval of virtual [v0, v1), sorted. */
static void to_source(const struct axis_state *s, double v0, double v1, double *lo, double *hi)
{
	double u0 = s->a * v0 + s->b, u1 = s->a * v1 + s->b;

	*lo = u0 < u1 ? u0 : u1;
	*hi = u0 < u1 ? u1 : u0;
}

/* Crop to [x, x + w) of the virtual image; true when it pads. */
static bool axis_crop(struct axis_state *s, int x, int w)
{
	bool pads = x < 0 || x + w > s->n;

	if (!s->resampled) {
		double lo, hi;

		to_source(s, x, (double)x + w, &lo, &hi);
		s->win_lo = fmax(s->win_lo, lo);
		s->win_hi = fmin(s->win_hi, hi);
		s->ext_lo = s->win_lo;
		s->ext_hi = s->win_hi;
	}
	s->b += s->a * x;
	s->frame_lo -= x;
	s->frame_hi -= x;
	s->n = w;
	return pads;
}

/* Resize the box [x, x + w) to n_out; false when the plan cannot express it. */
static bool axis_resize(struct axis_state *s, int x, int w, int n_out)
{
	if (s->resampled && (s->frame_lo > x || s->frame_hi < x + w))
		return false; /* padding between two resizes */
	to_source(s, x, (double)x + w, &s->ext_lo, &s->ext_hi);
	s->b += s->a * x;
	s->a *= (double)w / n_out;
	s->n = n_out;
	s->frame_lo = 0;
	s->frame_hi = n_out;
	s->resampled = true;
	return true;
}

static bool set_fill(bool *set, uint8_t dst[3], const struct fill *f)
{
	if (f->mode != FILL_CONSTANT)
		return false;
	if (*set && memcmp(dst, f->rgb, 3) != 0)
		return false;
	memcpy(dst, f->rgb, 3);
	*set = true;
	return true;
}

static void axis_finish(const struct axis_state *s, struct axis_plan *ax)
{
	ax->a = s->a;
	ax->b = s->b;
	ax->n_out = s->n;
	ax->resampled = s->resampled;
	ax->ext_lo = s->resampled ? s->ext_lo : s->win_lo;
	ax->ext_hi = s->resampled ? s->ext_hi : s->win_hi;
	ax->win_lo = s->win_lo;
	ax->win_hi = s->win_hi;
	ax->frame_lo = (int)fmax(0, ceil(s->frame_lo - 1e-9));
	ax->frame_hi = (int)fmin(s->n, floor(s->frame_hi + 1e-9));
	if (!s->resampled) {
		ax->frame_lo = 0;
		ax->frame_hi = s->n;
	}
}

void aug__plan_build(const aug_pipeline *p, const aug_sample *s, struct plan *pl)
{
	static const struct fill zero = { FILL_CONSTANT, { 0, 0, 0 } };
	struct axis_state X, Y;
	double ax_at[AUG_MAX_STAGES][4];
	bool before_set = false, after_set = false;

	memset(pl, 0, sizeof(*pl));
	pl->in_w = s->in_w;
	pl->in_h = s->in_h;
	pl->in_c = s->in_c;
	pl->filter = FILTER_BILINEAR;
	axis_init(&X, s->in_w);
	axis_init(&Y, s->in_h);
	for (int i = 0; i < s->count && !pl->fallback; i++) {
		const struct stage *st = &p->stages[i];
		const struct draw *d = &s->draws[i];

		if (!d->applied)
			continue;
		switch (st->kind) {
		case ST_HFLIP:
			axis_flip(&X);
			break;
		case ST_VFLIP:
			axis_flip(&Y);
			break;
		case ST_CROP:
		case ST_CENTER_CROP: {
			const struct fill *f = st->kind == ST_CROP ? &st->fill : &zero;
			bool resampled = X.resampled || Y.resampled;
			bool px = axis_crop(&X, d->bx, d->bw);
			bool py = axis_crop(&Y, d->by, d->bh);

			if (px || py) {
				bool ok = resampled ? set_fill(&after_set, pl->fill_after, f)
						    : set_fill(&before_set, pl->fill_before, f);

				if (!ok)
					pl->fallback = true;
			}
			break;
		}
		case ST_RANDOM_RESIZED_CROP:
		case ST_RESIZE:
			if (!axis_resize(&X, d->bx, d->bw, d->out_w) || !axis_resize(&Y, d->by, d->bh, d->out_h))
				pl->fallback = true;
			pl->filter = st->filter;
			break;
		case ST_NORMALIZE:
			break;
		default: {
			struct post_op *op = &pl->post[pl->npost++];

			op->stage = i;
			op->draw = *d;
			ax_at[i][0] = X.a;
			ax_at[i][1] = X.b;
			ax_at[i][2] = Y.a;
			ax_at[i][3] = Y.b;
			break;
		}
		}
	}
	axis_finish(&X, &pl->x);
	axis_finish(&Y, &pl->y);
	pl->out_w = X.n;
	pl->out_h = Y.n;
	/* Holes drawn before later geometry move with it into output pixels. */
	for (int k = 0; k < pl->npost && !pl->fallback; k++) {
		struct post_op *op = &pl->post[k];
		const double *m = ax_at[op->stage];

		if (s->kinds[op->stage] != ST_CUTOUT)
			continue;
		for (int h = 0; h < op->draw.nholes; h++) {
			struct hole *ho = &op->draw.holes[h];
			double x0 = ((m[0] * ho->x + m[1]) - X.b) / X.a;
			double x1 = ((m[0] * (ho->x + ho->w) + m[1]) - X.b) / X.a;
			double y0 = ((m[2] * ho->y + m[3]) - Y.b) / Y.a;
			double y1 = ((m[2] * (ho->y + ho->h) + m[3]) - Y.b) / Y.a;
			long ix0 = lround(fmin(x0, x1)), ix1 = lround(fmax(x0, x1));
			long iy0 = lround(fmin(y0, y1)), iy1 = lround(fmax(y0, y1));

			ix0 = ix0 < 0 ? 0 : ix0 > X.n ? X.n : ix0;
			ix1 = ix1 < 0 ? 0 : ix1 > X.n ? X.n : ix1;
			iy0 = iy0 < 0 ? 0 : iy0 > Y.n ? Y.n : iy0;
			iy1 = iy1 < 0 ? 0 : iy1 > Y.n ? Y.n : iy1;
			ho->x = (int)ix0;
			ho->y = (int)iy0;
			ho->w = (int)(ix1 - ix0);
			ho->h = (int)(iy1 - iy0);
		}
	}
}

/* ---- Taps --------------------------------------------------------------- */

static double kernel(enum filter f, double x)
{
	x = fabs(x);
	if (f == FILTER_AREA)
		return x < 0.5 ? 1.0 : (x == 0.5 ? 0.5 : 0.0);
	return x < 1.0 ? 1.0 - x : 0.0;
}

static double support_of(const struct axis_plan *ax, enum filter f, double scale)
{
	double fs = fabs(ax->a) / scale;

	fs = fs > 1 ? fs : 1;
	return (f == FILTER_AREA ? 0.5 : 1.0) * fs;
}

void aug__taps_free(struct taps *t)
{
	free(t->first);
	free(t->count);
	free(t->w);
	free(t->wfill);
	free(t->fill_all);
	free(t->bbase);
	free(t->bntaps);
	free(t->bidx);
	free(t->bw);
	free(t->bwfill);
	memset(t, 0, sizeof(*t));
}

aug_status aug__taps_blocks(struct taps *t)
{
	int nblk = (t->n + AUG__LANES - 1) / AUG__LANES, ntmax = 0, gmin = INT_MAX;
	size_t nw = (size_t)nblk * (size_t)t->max_taps * AUG__LANES;

	if ((size_t)nblk > t->cap_blk) {
		int *base = realloc(t->bbase, (size_t)nblk * sizeof(int));
		int *nt = base ? realloc(t->bntaps, (size_t)nblk * sizeof(int)) : NULL;
		float *wf = nt ? realloc(t->bwfill, (size_t)nblk * AUG__LANES * sizeof(float)) : NULL;

		if (base)
			t->bbase = base;
		if (nt)
			t->bntaps = nt;
		if (!wf)
			return aug__fail(AUG_ENOMEM, "aug__taps_build", "no memory");
		t->bwfill = wf;
		t->cap_blk = (size_t)nblk;
	}
	if (nw > t->cap_bw) {
		int32_t *idx = realloc(t->bidx, nw * sizeof(int32_t));
		float *w = idx ? realloc(t->bw, nw * sizeof(float)) : NULL;

		if (idx)
			t->bidx = idx;
		if (!w)
			return aug__fail(AUG_ENOMEM, "aug__taps_build", "no memory");
		t->bw = w;
		t->cap_bw = nw;
	}
	t->nblk = nblk;
	t->blocked = true;
	t->wide = false;
	/* Each block's window and tap count, then every block given the
	 * largest count: a tap loop whose trip count varies from block to
	 * block costs a mispredicted branch more often than the padded taps
	 * (weight 0) cost to run. A block with no taps (all padding) gets a
	 * window at the row's first pixel, which the row always holds. */
	for (int i = 0; i < t->n; i++)
		if (t->count[i] && t->first[i] < gmin)
			gmin = t->first[i];
	for (int b = 0; b < nblk; b++) {
		int i0 = b * AUG__LANES, lo = INT_MAX, hi = INT_MIN, nt = 0;

		for (int l = 0; l < AUG__LANES && i0 + l < t->n; l++) {
			int i = i0 + l;

			if (!t->count[i])
				continue;
			lo = t->first[i] < lo ? t->first[i] : lo;
			hi = t->first[i] + t->count[i] > hi ? t->first[i] + t->count[i] : hi;
			nt = t->count[i] > nt ? t->count[i] : nt;
		}
		if (nt == 0)
			lo = hi = gmin == INT_MAX ? 0 : gmin;
		if (hi - lo > AUG__BLOCK_SPAN)
			t->blocked = false;
		if (hi - lo > AUG__BLOCK_SPAN / 2)
			t->wide = true;
		t->bbase[b] = lo;
		t->bntaps[b] = nt;
		ntmax = nt > ntmax ? nt : ntmax;
	}
	for (int b = 0; b < nblk; b++) {
		int i0 = b * AUG__LANES, lo = t->bbase[b], nt = ntmax;
		int32_t *idx = t->bidx + (size_t)b * (size_t)t->max_taps * AUG__LANES;
		float *w = t->bw + (size_t)b * (size_t)t->max_taps * AUG__LANES;

		t->bntaps[b] = nt;
		for (int l = 0; l < AUG__LANES; l++) {
			int i = i0 + l;
			bool live = i < t->n && t->count[i] > 0;

			t->bwfill[(size_t)i0 + (size_t)l] = i < t->n ? t->wfill[i] : 0.0f;
			for (int k = 0; k < nt; k++) {
				size_t at = (size_t)k * AUG__LANES + (size_t)l;

				if (live && k < t->count[i]) {
					idx[at] = t->first[i] + k - lo;
					w[at] = t->w[(size_t)i * (size_t)t->max_taps + (size_t)k];
				} else {
					idx[at] = live ? t->first[i] - lo : 0;
					w[at] = 0.0f;
				}
			}
		}
	}
	return AUG_OK;
}

void aug__taps_shift(struct taps *t, int origin)
{
	for (int i = 0; i < t->n; i++)
		t->first[i] = t->count[i] ? t->first[i] - origin : 0;
	t->blocked = false; /* built again from the moved taps */
	t->nblk = 0;
}

static aug_status taps_reserve(struct taps *t, int n, int max_taps)
{
	size_t nw;

	if (!aug__mul((size_t)n, (size_t)max_taps, &nw))
		return aug__fail(AUG_ELIMIT, "aug__taps_build", "too many taps");
	if ((size_t)n > t->cap_n) {
		int *first = realloc(t->first, (size_t)n * sizeof(int));
		int *count = first ? realloc(t->count, (size_t)n * sizeof(int)) : NULL;
		float *wf = count ? realloc(t->wfill, (size_t)n * sizeof(float)) : NULL;
		uint8_t *fa = wf ? realloc(t->fill_all, (size_t)n) : NULL;

		if (first)
			t->first = first;
		if (count)
			t->count = count;
		if (wf)
			t->wfill = wf;
		if (!fa)
			return aug__fail(AUG_ENOMEM, "aug__taps_build", "no memory");
		t->fill_all = fa;
		t->cap_n = (size_t)n;
	}
	if (nw > t->cap_w) {
		float *w = realloc(t->w, nw * sizeof(float));

		if (!w)
			return aug__fail(AUG_ENOMEM, "aug__taps_build", "no memory");
		t->w = w;
		t->cap_w = nw;
	}
	t->n = n;
	t->max_taps = max_taps;
	return AUG_OK;
}

aug_status aug__taps_build(struct taps *t, const struct axis_plan *ax, enum filter f, const struct grid *g)
{
	double s = g->scale;
	double support = support_of(ax, f, s);
	/* The kernel's argument per source unit: a multiply in the loop, not
	 * a divide (a divide's latency was most of the time taps took). */
	double kscale = (f == FILTER_AREA ? 0.5 : 1.0) / support;
	int max_taps = ax->resampled ? (int)ceil(2 * support) + 3 : 1;
	/* The window of real source pixels and the extent, on this grid. */
	double ext_lo = (ax->ext_lo - g->origin) / s, ext_hi = (ax->ext_hi - g->origin) / s;
	double win_lo = (ax->win_lo - g->origin) / s, win_hi = (ax->win_hi - g->origin) / s;
	aug_status st = taps_reserve(t, ax->n_out, max_taps);

	if (st)
		return st;
	for (int i = 0; i < ax->n_out; i++) {
		float *w = t->w + (size_t)i * (size_t)max_taps;
		double u = ((ax->a * (i + 0.5) + ax->b) - g->origin) / s;
		double total = 0, fillw = 0;
		int first = -1, last = -1;

		t->fill_all[i] = i < ax->frame_lo || i >= ax->frame_hi;
		t->first[i] = 0;
		t->count[i] = 0;
		t->wfill[i] = 0;
		if (t->fill_all[i])
			continue;
		if (!ax->resampled || f == FILTER_NEAREST) {
			int k = (int)floor(u);

			if (ax->resampled) {
				/* Nearest: the pixel under the centre, inside the extent. */
				int lo = (int)ceil(ext_lo - 0.5), hi = (int)floor(ext_hi - 0.5);

				k = k < lo ? lo : k > hi ? hi : k;
			}
			if (k + 0.5 <= win_lo || k + 0.5 >= win_hi) {
				t->wfill[i] = 1;
				continue;
			}
			k = k < 0 ? 0 : k >= g->n ? g->n - 1 : k;
			t->first[i] = k;
			t->count[i] = 1;
			w[0] = 1;
			continue;
		}
		for (int k = (int)floor(u - support); k <= (int)ceil(u + support); k++) {
			double c = k + 0.5, wt;
			int kk;

			/* At full size a pixel belongs to the extent when its centre
			 * does; a DCT-scaled pixel when it overlaps it, since the
			 * extent's edge may cut through its block. */
			if (g->scale == 1 ? (c <= ext_lo || c >= ext_hi) : (k + 1 <= ext_lo || k >= ext_hi))
				continue;
			if (f == FILTER_AREA && g->scale > 1) {
				/* A scaled pixel stands for a block of s full-size
				 * pixels: weigh it by how much of it the box covers. */
				double lo = fmax(k, u - support), hi = fmin(k + 1.0, u + support);

				wt = hi > lo ? hi - lo : 0;
			} else {
				wt = kernel(f, (c - u) * kscale);
			}
			if (wt <= 0)
				continue;
			total += wt;
			if (c <= win_lo || c >= win_hi) {
				fillw += wt;
				continue;
			}
			/* Inside the image but outside the decoded region can only
			 * be a margin pixel: take the nearest decoded one. */
			kk = k < 0 ? 0 : k >= g->n ? g->n - 1 : k;
			if (first < 0) {
				first = kk;
				last = kk - 1;
			}
			/* kk never decreases: a new pixel is stored, not added to
			 * a zero just written (which the loop below compiles to a
			 * memset that store forwarding cannot follow). */
			if (kk > last) {
				for (int q = last + 1; q < kk; q++)
					w[q - first] = 0;
				w[kk - first] = (float)wt;
				last = kk;
			} else {
				w[kk - first] += (float)wt;
			}
		}
		if (total <= 0) {
			/* No tap inside the extent (a degenerate box): nearest. */
			int k = (int)floor(u);

			k = k < 0 ? 0 : k >= g->n ? g->n - 1 : k;
			t->first[i] = k;
			t->count[i] = 1;
			w[0] = 1;
			continue;
		}
		t->first[i] = first < 0 ? 0 : first;
		t->count[i] = first < 0 ? 0 : last - first + 1;
		total = 1 / total;
		for (int q = 0; q < t->count[i]; q++)
			w[q] = (float)(w[q] * total);
		t->wfill[i] = (float)(fillw * total);
	}
	t->fill_lo = ax->frame_lo < 0 ? 0 : ax->frame_lo > ax->n_out ? ax->n_out : ax->frame_lo;
	t->fill_hi = ax->frame_hi < t->fill_lo ? t->fill_lo : ax->frame_hi > ax->n_out ? ax->n_out : ax->frame_hi;
	t->blocked = false;
	t->nblk = 0;
	return AUG_OK;
}

bool aug__plan_source_range(const struct axis_plan *ax, enum filter f, int image_n, struct taps *scratch, int *lo,
			    int *hi)
{
	struct grid g = { image_n, 0, 1, image_n };
	int mn = image_n, mx = -1;

	/* The taps on the full-size grid, in the caller's reusable storage. */
	if (aug__taps_build(scratch, ax, f, &g)) {
		scratch->n = 0; /* no taps to reuse */
		*lo = 0;
		*hi = image_n;
		return true;
	}
	for (int i = 0; i < scratch->n; i++) {
		if (!scratch->count[i])
			continue;
		if (scratch->first[i] < mn)
			mn = scratch->first[i];
		if (scratch->first[i] + scratch->count[i] - 1 > mx)
			mx = scratch->first[i] + scratch->count[i] - 1;
	}
	if (mx < mn)
		return false;
	*lo = mn;
	*hi = mx + 1;
	return true;
}

aug_status aug_planned_apply(const aug_pipeline *p, const aug_sample *s, const aug_image *src, aug_image **out)
{
	struct plan pl;
	struct taps tx = { 0 }, ty = { 0 };
	struct grid gx, gy;
	struct fplanes im = { 0 };
	aug_image *img = NULL;
	float *scratch = NULL;
	aug_status st;

	*out = NULL;
	if (s->count != p->count || s->in_w != src->width || s->in_h != src->height || s->in_c != src->channels)
		return aug__fail(AUG_EINVAL, __func__, "the sample was drawn for another pipeline or image");
	st = aug__sample_check_size(s, AUG_DEFAULT_MAX_PIXELS, false, __func__, NULL);
	if (st)
		return st;
	aug__plan_build(p, s, &pl);
	if (pl.fallback)
		return aug_reference_apply(p, s, src, out);
	gx = (struct grid){ src->width, 0, 1, src->width };
	gy = (struct grid){ src->height, 0, 1, src->height };
	st = aug__taps_build(&tx, &pl.x, pl.filter, &gx);
	if (!st)
		st = aug__taps_blocks(&tx);
	if (!st)
		st = aug__taps_build(&ty, &pl.y, pl.filter, &gy);
	if (!st) {
		im.p = malloc((size_t)3 * (size_t)pl.out_w * (size_t)pl.out_h * sizeof(float));
		scratch = malloc(aug__fplanes_scratch(src, &tx, &ty) * sizeof(float));
		if (!im.p || !scratch)
			st = aug__fail(AUG_ENOMEM, __func__, "no memory");
	}
	if (!st) {
		aug__resample_planes(src, &im, &tx, &ty, pl.fill_before, pl.fill_after, scratch);
		aug__planes_post(p, &pl, s->key, &im, NULL);
		st = aug__image_alloc(&img, im.w, im.h, im.c, UINT64_MAX);
	}
	if (!st)
		aug__planes_to_image(&im, img);
	free(im.p);
	free(scratch);
	aug__taps_free(&tx);
	aug__taps_free(&ty);
	if (st)
		return st;
	*out = img;
	return AUG_OK;
}
