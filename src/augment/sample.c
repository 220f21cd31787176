/* Sampling: what each stage draws for one image, knowing only its size.
 *
 * Stage s of the sample keyed (seed, epoch, index) draws from
 * aug_rng_stream(seed, epoch, index, s), first one Bernoulli draw for p
 * (always, so a stage's numbers do not depend on whether an earlier one
 * applied), then its own parameters. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

double aug__round_even(double x)
{
	/* nearbyint() in the default rounding mode rounds half to even. */
	return nearbyint(x);
}

aug_status aug_sample_new(aug_sample **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? AUG_OK : aug__fail(AUG_ENOMEM, __func__, "no memory");
}

void aug_sample_free(aug_sample *s)
{
	free(s);
}

void aug_sample_output(const aug_sample *s, int *width, int *height, int *channels)
{
	*width = s->out_w;
	*height = s->out_h;
	*channels = s->out_c;
}

/* torchvision RandomResizedCrop.get_params (transforms.py), with Python's
 * round() and torch.randint(0, n + 1) as uniform integers on [0, n]. */
static void draw_rrc(const struct stage *st, aug_rng *r, int W, int H, struct draw *d)
{
	double area = (double)W * H;
	double lr0 = log(st->ratio[0]), lr1 = log(st->ratio[1]);
	double in_ratio, rmin = st->ratio[0], rmax = st->ratio[1];
	int w, h;

	for (int tries = 0; tries < 10; tries++) {
		double target = area * aug_rng_range(r, st->scale[0], st->scale[1]);
		double ar = exp(aug_rng_range(r, lr0, lr1));

		w = (int)aug__round_even(sqrt(target * ar));
		h = (int)aug__round_even(sqrt(target / ar));
		if (w > 0 && w <= W && h > 0 && h <= H) {
			d->by = (int)aug_rng_below(r, (uint64_t)(H - h + 1));
			d->bx = (int)aug_rng_below(r, (uint64_t)(W - w + 1));
			d->bw = w;
			d->bh = h;
			return;
		}
	}
	/* Fallback: a centre crop with the aspect ratio clamped to the range. */
	in_ratio = (double)W / H;
	if (in_ratio < rmin) {
		w = W;
		h = (int)aug__round_even(w / rmin);
	} else if (in_ratio > rmax) {
		h = H;
		w = (int)aug__round_even(h * rmax);
	} else {
		w = W;
		h = H;
	}
	if (w < 1)
		w = 1;
	if (h < 1)
		h = 1;
	d->bx = (W - w) / 2;
	d->by = (H - h) / 2;
	d->bw = w;
	d->bh = h;
}

static void draw_cutout(const struct stage *st, aug_rng *r, int W, int H, struct draw *d)
{
	d->nholes = 0;
	for (int k = 0; k < st->holes; k++) {
		struct hole *ho = &d->holes[d->nholes];

		if (st->erasing) {
			/* torchvision RandomErasing.get_params: 10 tries; no hole if
			 * none fits. Note h uses the ratio and w its inverse. */
			double area = (double)W * H;
			double lr0 = log(st->ratio[0]), lr1 = log(st->ratio[1]);
			bool found = false;

			for (int t = 0; t < 10 && !found; t++) {
				double ea = area * aug_rng_range(r, st->scale[0], st->scale[1]);
				double ar = exp(aug_rng_range(r, lr0, lr1));
				int eh = (int)aug__round_even(sqrt(ea * ar));
				int ew = (int)aug__round_even(sqrt(ea / ar));

				if (!(eh < H && ew < W) || eh < 1 || ew < 1)
					continue;
				ho->y = (int)aug_rng_below(r, (uint64_t)(H - eh + 1));
				ho->x = (int)aug_rng_below(r, (uint64_t)(W - ew + 1));
				ho->w = ew;
				ho->h = eh;
				found = true;
			}
			if (found)
				d->nholes++;
		} else if (st->inside) {
			/* albumentations CoarseDropout: the hole lies wholly inside. */
			int hw = st->hole_w < W ? st->hole_w : W;
			int hh = st->hole_h < H ? st->hole_h : H;

			ho->x = (int)aug_rng_below(r, (uint64_t)(W - hw + 1));
			ho->y = (int)aug_rng_below(r, (uint64_t)(H - hh + 1));
			ho->w = hw;
			ho->h = hh;
			d->nholes++;
		} else {
			/* DeVries & Taylor 2017: the centre is any pixel; the square
			 * is clipped by the image edges. */
			int cy = (int)aug_rng_below(r, (uint64_t)H);
			int cx = (int)aug_rng_below(r, (uint64_t)W);
			int x0 = cx - st->hole_w / 2, y0 = cy - st->hole_h / 2;
			int x1 = x0 + st->hole_w, y1 = y0 + st->hole_h;

			x0 = x0 < 0 ? 0 : x0;
			y0 = y0 < 0 ? 0 : y0;
			x1 = x1 > W ? W : x1;
			y1 = y1 > H ? H : y1;
			ho->x = x0;
			ho->y = y0;
			ho->w = x1 - x0;
			ho->h = y1 - y0;
			d->nholes++;
		}
	}
}

static double factor(aug_rng *r, double v)
{
	double lo = 1 - v < 0 ? 0 : 1 - v;

	return v > 0 ? aug_rng_range(r, lo, 1 + v) : 1;
}

/* The size a stage passes on, from its drawn parameters. */
static void finish_draw(const struct stage *st, struct draw *d)
{
	d->out_w = d->in_w;
	d->out_h = d->in_h;
	d->out_c = d->in_c;
	if (!d->applied)
		return;
	switch (st->kind) {
	case ST_CROP:
	case ST_CENTER_CROP:
		d->out_w = d->bw;
		d->out_h = d->bh;
		break;
	case ST_RANDOM_RESIZED_CROP:
		d->out_w = st->width;
		d->out_h = st->height;
		break;
	case ST_RESIZE: {
		int w = d->in_w, h = d->in_h;

		if (st->resize_mode == RESIZE_SIZE) {
			d->out_w = st->width;
			d->out_h = st->height;
		} else {
			/* torchvision: the other side is int(N * long / short), truncated. */
			bool wide = w >= h;
			int sh = wide ? h : w, lg = wide ? w : h, ns, nl;

			/* The long side may come out beyond int: such a size is
			 * cut to just over AUG__MAX_SIDE, which the caller refuses. */
			if (st->resize_mode == RESIZE_SHORT) {
				ns = st->side;
				nl = (int)fmin((double)st->side * lg / sh, AUG__MAX_SIDE + 1.0);
			} else {
				nl = st->side;
				ns = (int)((double)st->side * sh / lg);
			}
			ns = ns < 1 ? 1 : ns;
			nl = nl < 1 ? 1 : nl;
			d->out_w = wide ? nl : ns;
			d->out_h = wide ? ns : nl;
		}
		break;
	}
	case ST_GRAYSCALE:
		d->out_c = st->gray_channels;
		break;
	default:
		break;
	}
}

static void draw_stage(const struct stage *st, aug_rng *r, struct draw *d)
{
	int W = d->in_w, H = d->in_h;

	d->bx = 0;
	d->by = 0;
	d->bw = W;
	d->bh = H;
	d->f_bright = d->f_contrast = d->f_sat = 1;
	d->f_hue = 0;
	for (int i = 0; i < 4; i++)
		d->order[i] = i;
	d->hsl_hue = 0;
	d->hsl_sat = d->hsl_light = 1;
	d->nholes = 0;
	if (!d->applied)
		return;
	switch (st->kind) {
	case ST_CROP: {
		/* torchvision RandomCrop with pad_if_needed: pad, then pad more
		 * (evenly) if still smaller than the crop, then a uniform position. */
		int pw = W + 2 * st->pad, ph = H + 2 * st->pad;
		int lx = st->pad, ly = st->pad;

		if (pw < st->width) {
			lx += (st->width - pw) / 2;
			pw = st->width;
		}
		if (ph < st->height) {
			ly += (st->height - ph) / 2;
			ph = st->height;
		}
		/* Random draws happen whatever the position, so streams stay
		 * aligned; a fixed position then overrides them. */
		d->by = (int)aug_rng_below(r, (uint64_t)(ph - st->height + 1));
		d->bx = (int)aug_rng_below(r, (uint64_t)(pw - st->width + 1));
		if (st->position == 1) {
			d->bx = (pw - st->width) / 2;
			d->by = (ph - st->height) / 2;
		} else if (st->position >= 2) {
			d->bx = st->position == 3 || st->position == 5 ? pw - st->width : 0;
			d->by = st->position >= 4 ? ph - st->height : 0;
		}
		d->by -= ly;
		d->bx -= lx;
		d->bw = st->width;
		d->bh = st->height;
		break;
	}
	case ST_CENTER_CROP:
		/* torchvision center_crop: pad symmetrically ((c - i) // 2 on the
		 * left/top) when larger, else offset int(round((i - c) / 2)). */
		d->bw = st->width;
		d->bh = st->height;
		d->bx = st->width > W ? -((st->width - W) / 2) : (int)aug__round_even((W - st->width) / 2.0);
		d->by = st->height > H ? -((st->height - H) / 2) : (int)aug__round_even((H - st->height) / 2.0);
		break;
	case ST_RANDOM_RESIZED_CROP:
		draw_rrc(st, r, W, H, d);
		break;
	case ST_CUTOUT:
		draw_cutout(st, r, W, H, d);
		break;
	case ST_COLOR_JITTER:
		/* torchvision ColorJitter.get_params: a permutation, then the factors. */
		if (st->random_order) {
			for (int i = 3; i > 0; i--) {
				int j = (int)aug_rng_below(r, (uint64_t)i + 1);
				int t = d->order[i];

				d->order[i] = d->order[j];
				d->order[j] = t;
			}
		}
		d->f_bright = factor(r, st->brightness);
		d->f_contrast = factor(r, st->contrast);
		d->f_sat = factor(r, st->saturation);
		d->f_hue = st->hue > 0 ? aug_rng_range(r, -st->hue, st->hue) : 0;
		break;
	case ST_HSL_JITTER:
		d->hsl_hue = st->hue_deg > 0 ? aug_rng_range(r, -st->hue_deg, st->hue_deg) : 0;
		d->hsl_sat = st->sat_range > 0 ? aug_rng_range(r, 1 - st->sat_range, 1 + st->sat_range) : 1;
		d->hsl_light = st->light_range > 0 ? aug_rng_range(r, 1 - st->light_range, 1 + st->light_range) : 1;
		break;
	default:
		break;
	}
}

aug_status aug_pipeline_sample(const aug_pipeline *p, int width, int height, int channels, aug_key key,
			       aug_sample *s)
{
	int w = width, h = height, c = channels;

	if (width <= 0 || height <= 0 || (channels != 1 && channels != 3))
		return aug__fail(AUG_EINVAL, __func__, "bad input %dx%dx%d", width, height, channels);
	if (width > AUG__MAX_SIDE || height > AUG__MAX_SIDE)
		return aug__fail(AUG_ELIMIT, __func__, "a %dx%d image: sides over %d pixels are not supported",
				 width, height, AUG__MAX_SIDE);
	s->key = key;
	s->in_w = width;
	s->in_h = height;
	s->in_c = channels;
	s->count = p->count;
	for (int i = 0; i < p->count; i++) {
		const struct stage *st = &p->stages[i];
		struct draw *d = &s->draws[i];
		aug_rng r = aug_rng_stream(key.seed, key.epoch, key.index, (uint64_t)i);

		s->kinds[i] = st->kind;
		d->in_w = w;
		d->in_h = h;
		d->in_c = c;
		d->applied = aug_rng_bernoulli(&r, st->p);
		draw_stage(st, &r, d);
		finish_draw(st, d);
		if (d->out_w > AUG__MAX_SIDE || d->out_h > AUG__MAX_SIDE)
			return aug__fail(AUG_ELIMIT, __func__,
					 "stage %d (%s) would make a %dx%d image into one with a side over %d pixels",
					 i + 1, aug__stage_name(st->kind), w, h, AUG__MAX_SIDE);
		w = d->out_w;
		h = d->out_h;
		c = d->out_c;
	}
	s->out_w = w;
	s->out_h = h;
	s->out_c = c;
	return AUG_OK;
}

aug_status aug__sample_check_size(const aug_sample *s, uint64_t max_pixels, bool reference, const char *func,
				  const char *name)
{
	for (int i = 0; i < s->count; i++) {
		const struct draw *d = &s->draws[i];
		uint64_t out = (uint64_t)d->out_w * (uint64_t)d->out_h, mid = 0;

		if (!d->applied)
			continue;
		/* The reference resize makes its output width at its input
		 * height first (rows, then columns). */
		if (reference && s->kinds[i] == ST_RESIZE)
			mid = (uint64_t)d->out_w * (uint64_t)d->in_h;
		else if (reference && s->kinds[i] == ST_RANDOM_RESIZED_CROP)
			mid = (uint64_t)d->out_w * (uint64_t)d->bh;
		if (out > max_pixels)
			return aug__fail(AUG_ELIMIT, func,
					 "%s%sstage %d (%s) would make the %dx%d image %dx%d, over the limit of %llu pixels",
					 name ? name : "", name ? ": " : "", i + 1, aug__stage_name(s->kinds[i]), d->in_w, d->in_h, d->out_w,
					 d->out_h, (unsigned long long)max_pixels);
		if (mid > max_pixels)
			return aug__fail(AUG_ELIMIT, func,
					 "%s%sstage %d (%s) would resize the %dx%d image through %dx%d, over the limit "
					 "of %llu pixels",
					 name ? name : "", name ? ": " : "", i + 1, aug__stage_name(s->kinds[i]), d->in_w, d->in_h, d->out_w,
					 s->kinds[i] == ST_RESIZE ? d->in_h : d->bh, (unsigned long long)max_pixels);
	}
	return AUG_OK;
}

/* ---- JSON --------------------------------------------------------------- */

struct sbuf {
	char *buf;
	size_t size;
	size_t n;
};

static void put(struct sbuf *b, const char *fmt, ...) AUG__PRINTF(2, 3);

static void put(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int w;

	va_start(ap, fmt);
	w = vsnprintf(b->n < b->size ? b->buf + b->n : NULL, b->n < b->size ? b->size - b->n : 0, fmt, ap);
	va_end(ap);
	if (w > 0)
		b->n += (size_t)w;
}

size_t aug_sample_to_json(const aug_sample *s, char *buf, size_t size)
{
	struct sbuf b = { buf, size, 0 };

	if (size)
		buf[0] = '\0';
	put(&b, "{\"seed\":%llu,\"epoch\":%llu,\"index\":%llu,\"in\":[%d,%d,%d],\"out\":[%d,%d,%d],\"stages\":[",
	    (unsigned long long)s->key.seed, (unsigned long long)s->key.epoch, (unsigned long long)s->key.index,
	    s->in_w, s->in_h, s->in_c, s->out_w, s->out_h, s->out_c);
	for (int i = 0; i < s->count; i++) {
		const struct draw *d = &s->draws[i];

		put(&b, "%s{\"stage\":\"%s\",\"applied\":%s", i ? "," : "", aug__stage_name(s->kinds[i]),
		    d->applied ? "true" : "false");
		if (d->applied) {
			switch (s->kinds[i]) {
			case ST_CROP:
			case ST_CENTER_CROP:
			case ST_RANDOM_RESIZED_CROP:
				put(&b, ",\"box\":[%d,%d,%d,%d]", d->bx, d->by, d->bw, d->bh);
				break;
			case ST_CUTOUT:
				put(&b, ",\"holes\":[");
				for (int k = 0; k < d->nholes; k++)
					put(&b, "%s[%d,%d,%d,%d]", k ? "," : "", d->holes[k].x, d->holes[k].y,
					    d->holes[k].w, d->holes[k].h);
				put(&b, "]");
				break;
			case ST_COLOR_JITTER:
				put(&b, ",\"order\":[%d,%d,%d,%d],\"brightness\":%.17g,\"contrast\":%.17g,"
					"\"saturation\":%.17g,\"hue\":%.17g",
				    d->order[0], d->order[1], d->order[2], d->order[3], d->f_bright, d->f_contrast,
				    d->f_sat, d->f_hue);
				break;
			case ST_HSL_JITTER:
				put(&b, ",\"hue\":%.17g,\"saturation\":%.17g,\"lightness\":%.17g", d->hsl_hue,
				    d->hsl_sat, d->hsl_light);
				break;
			default:
				break;
			}
		}
		put(&b, ",\"out\":[%d,%d]}", d->out_w, d->out_h);
	}
	put(&b, "]}");
	return b.n + 1;
}

/* The text right after "key": within [from, to), or NULL. */
static const char *find_key(const char *from, const char *to, const char *key)
{
	size_t kl = strlen(key);

	for (const char *q = from; q && q + kl + 3 <= to; q++) {
		q = memchr(q, '"', (size_t)(to - q));
		if (!q || q + kl + 2 > to)
			return NULL;
		if (strncmp(q + 1, key, kl) == 0 && q[kl + 1] == '"') {
			const char *v = q + kl + 2;

			while (v < to && (*v == ' ' || *v == ':'))
				v++;
			return v;
		}
	}
	return NULL;
}

/* Read up to n numbers from a JSON array starting at p, flattening nested
 * arrays ("[1,2]" or "[[1,2],[3,4]]"); -1 when it is not an array. */
static int read_numbers(const char *p, const char *to, double *out, int n)
{
	int k = 0, depth = 0;

	if (!p || p >= to || *p != '[')
		return -1;
	while (p < to) {
		if (*p == '[') {
			depth++;
			p++;
		} else if (*p == ']') {
			p++;
			if (--depth == 0)
				return k;
		} else if (*p == ',' || *p == ' ') {
			p++;
		} else {
			char *end;
			double v = strtod(p, &end);

			if (end == p || k == n)
				return -1;
			out[k++] = v;
			p = end;
		}
	}
	return -1;
}

static aug_status json_error(const char *what)
{
	return aug__fail(AUG_EINVAL, "aug_sample_from_json", "%s", what);
}

/* The numbers of a line are untrusted (a user pastes it): each must be an
 * integer within int's range before it is converted (a cast of anything
 * else is undefined), or a finite value within [lo, hi]. */
static bool json_int(double v, int *out)
{
	if (!(v >= INT_MIN && v <= INT_MAX) || v != floor(v))
		return false;
	*out = (int)v;
	return true;
}

static bool json_real(const char *q, double lo, double hi, double *out)
{
	double v = strtod(q, NULL);

	if (!(v >= lo && v <= hi))
		return false;
	*out = v;
	return true;
}

/* The range a jitter factor is drawn from (see factor()). */
static bool factor_ok(double f, double v)
{
	return v > 0 ? f >= (1 - v < 0 ? 0 : 1 - v) && f <= 1 + v : f == 1;
}

aug_status aug_sample_from_json(const aug_pipeline *p, const char *json, aug_sample *s)
{
	const char *end = json + strlen(json);
	const char *q, *stages;
	double v[4 * AUG__MAX_HOLES + 4];
	int w, h, c;

	memset(s, 0, sizeof(*s));
	q = find_key(json, end, "seed");
	if (!q)
		return json_error("no \"seed\"");
	s->key.seed = strtoull(q, NULL, 10);
	q = find_key(json, end, "epoch");
	s->key.epoch = q ? strtoull(q, NULL, 10) : 0;
	q = find_key(json, end, "index");
	s->key.index = q ? strtoull(q, NULL, 10) : 0;
	if (read_numbers(find_key(json, end, "in"), end, v, 3) != 3)
		return json_error("no \"in\":[w,h,c]");
	if (!json_int(v[0], &w) || !json_int(v[1], &h) || !json_int(v[2], &c) || w <= 0 || h <= 0 ||
	    w > AUG__MAX_SIDE || h > AUG__MAX_SIDE || (c != 1 && c != 3))
		return json_error("bad \"in\" size");
	s->in_w = w;
	s->in_h = h;
	s->in_c = c;
	stages = find_key(json, end, "stages");
	if (!stages)
		return json_error("no \"stages\"");
	s->count = p->count;
	for (int i = 0; i < p->count; i++) {
		const struct stage *st = &p->stages[i];
		struct draw *d = &s->draws[i];
		const char *o = strchr(stages, '{'), *oe;
		const char *name;

		if (!o)
			return json_error("fewer stages than the pipeline");
		oe = strchr(o, '}');
		if (!oe)
			return json_error("unterminated stage");
		name = find_key(o, oe, "stage");
		if (!name || strncmp(name + 1, aug__stage_name(st->kind), strlen(aug__stage_name(st->kind))) != 0)
			return json_error("stage names do not match the pipeline");
		s->kinds[i] = st->kind;
		d->in_w = w;
		d->in_h = h;
		d->in_c = c;
		q = find_key(o, oe, "applied");
		d->applied = q && strncmp(q, "true", 4) == 0;
		{
			/* Defaults for everything, then what the line says. */
			aug_rng none = { 0, 0 };
			bool applied = d->applied;

			d->applied = false;
			draw_stage(st, &none, d);
			d->applied = applied;
		}
		if (d->applied) {
			switch (st->kind) {
			case ST_CROP:
			case ST_CENTER_CROP:
			case ST_RANDOM_RESIZED_CROP:
				if (read_numbers(find_key(o, oe, "box"), oe, v, 4) != 4)
					return json_error("no \"box\"");
				if (!json_int(v[0], &d->bx) || !json_int(v[1], &d->by) || !json_int(v[2], &d->bw) ||
				    !json_int(v[3], &d->bh) || d->bw < 1 || d->bh < 1)
					return json_error("bad \"box\"");
				if (st->kind == ST_RANDOM_RESIZED_CROP) {
					/* A box of the image, as draw_rrc() draws it. */
					if (d->bw > w || d->bh > h || d->bx < 0 || d->by < 0 || d->bx > w - d->bw ||
					    d->by > h - d->bh)
						return json_error("\"box\" outside the image");
				} else if (d->bw != st->width || d->bh != st->height ||
					   d->bx < -(st->pad + st->width) || d->bx > w + st->pad ||
					   d->by < -(st->pad + st->height) || d->by > h + st->pad) {
					/* The stage's size, at most the padding (or the
					 * size) away from the image. */
					return json_error("\"box\" not one the stage could draw");
				}
				break;
			case ST_CUTOUT: {
				const char *hp = find_key(o, oe, "holes");
				int n = read_numbers(hp, end, v, 4 * AUG__MAX_HOLES);
				if (n < 0 || n % 4)
					return json_error("bad \"holes\"");
				d->nholes = n / 4;
				if (d->nholes > st->holes)
					return json_error("more \"holes\" than the stage makes");
				for (int k = 0; k < d->nholes; k++) {
					struct hole *ho = &d->holes[k];

					/* Holes lie in the image, as draw_cutout() clips them. */
					if (!json_int(v[4 * k], &ho->x) || !json_int(v[4 * k + 1], &ho->y) ||
					    !json_int(v[4 * k + 2], &ho->w) || !json_int(v[4 * k + 3], &ho->h) ||
					    ho->x < 0 || ho->y < 0 || ho->w < 0 || ho->h < 0 || ho->x > w - ho->w ||
					    ho->y > h - ho->h)
						return json_error("a hole outside the image");
				}
				break;
			}
			case ST_COLOR_JITTER: {
				int seen = 0;

				if (read_numbers(find_key(o, oe, "order"), oe, v, 4) != 4)
					return json_error("no \"order\"");
				for (int k = 0; k < 4; k++) {
					if (!json_int(v[k], &d->order[k]) || d->order[k] < 0 || d->order[k] > 3 ||
					    (seen & 1 << d->order[k]))
						return json_error("\"order\" is not an order of 0, 1, 2, 3");
					seen |= 1 << d->order[k];
				}
				/* Each factor within the range the stage draws from. */
				q = find_key(o, oe, "brightness");
				if (q && !json_real(q, 0, 1e9, &d->f_bright))
					return json_error("bad \"brightness\"");
				q = find_key(o, oe, "contrast");
				if (q && !json_real(q, 0, 1e9, &d->f_contrast))
					return json_error("bad \"contrast\"");
				q = find_key(o, oe, "saturation");
				if (q && !json_real(q, 0, 1e9, &d->f_sat))
					return json_error("bad \"saturation\"");
				q = find_key(o, oe, "hue");
				if (q && !json_real(q, -st->hue, st->hue, &d->f_hue))
					return json_error("bad \"hue\"");
				if (!factor_ok(d->f_bright, st->brightness) || !factor_ok(d->f_contrast, st->contrast) ||
				    !factor_ok(d->f_sat, st->saturation))
					return json_error("a factor outside the stage's range");
				break;
			}
			case ST_HSL_JITTER:
				q = find_key(o, oe, "hue");
				if (q && !json_real(q, -st->hue_deg, st->hue_deg, &d->hsl_hue))
					return json_error("bad \"hue\"");
				q = find_key(o, oe, "saturation");
				if (q && !json_real(q, 1 - st->sat_range, 1 + st->sat_range, &d->hsl_sat))
					return json_error("bad \"saturation\"");
				q = find_key(o, oe, "lightness");
				if (q && !json_real(q, 1 - st->light_range, 1 + st->light_range, &d->hsl_light))
					return json_error("bad \"lightness\"");
				break;
			default:
				break;
			}
		}
		finish_draw(st, d);
		if (d->out_w > AUG__MAX_SIDE || d->out_h > AUG__MAX_SIDE)
			return json_error("a stage's output too large");
		w = d->out_w;
		h = d->out_h;
		c = d->out_c;
		stages = oe + 1;
	}
	s->out_w = w;
	s->out_h = h;
	s->out_c = c;
	return AUG_OK;
}
