/* The pipeline spec language.
 *
 *   spec    := stmt { (';' | newline) stmt }
 *   stmt    := stage-name { value | key '=' value }     '#' starts a comment
 *
 * A bare value is allowed once per stage, for its positional parameter
 * (crop 32 means crop size=32x32). Numbers may be written as fractions
 * (ratio=3/4:4/3). Errors name source:line:column and what was expected. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct cursor {
	const char *source;
	int line;
	int col;
};

static aug_status spec_error(const struct cursor *c, int col, const char *fmt, ...) AUG__PRINTF(3, 4);

static aug_status spec_error(const struct cursor *c, int col, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return aug__fail(AUG_ESPEC, "aug_pipeline_parse", "%s:%d:%d: %s", c->source, c->line, col, msg);
}

/* Levenshtein distance, for "did you mean" suggestions. */
static int edit_distance(const char *a, const char *b)
{
	int la = (int)strlen(a), lb = (int)strlen(b);
	int row[64];

	if (la > 60 || lb > 60)
		return 99;
	for (int j = 0; j <= lb; j++)
		row[j] = j;
	for (int i = 1; i <= la; i++) {
		int prev = row[0];

		row[0] = i;
		for (int j = 1; j <= lb; j++) {
			int cur = row[j];
			int sub = prev + (a[i - 1] != b[j - 1]);
			int best = row[j] + 1 < row[j - 1] + 1 ? row[j] + 1 : row[j - 1] + 1;

			row[j] = sub < best ? sub : best;
			prev = cur;
		}
	}
	return row[lb];
}

/* The closest of `names` to `word`, if close enough to be a likely typo. */
static const char *nearest(const char *word, const char *const *names, int n)
{
	const char *best = NULL;
	int bestd = 99;

	for (int i = 0; i < n; i++) {
		int d = edit_distance(word, names[i]);

		if (d < bestd) {
			bestd = d;
			best = names[i];
		}
	}
	if (best && (bestd <= 2 || bestd * 3 <= (int)strlen(best)))
		return best;
	return NULL;
}

static bool parse_number(const char *s, double *out)
{
	char *end;
	double a, b;

	errno = 0;
	a = strtod(s, &end);
	if (end == s || errno)
		return false;
	if (*end == '/') {
		const char *t = end + 1;

		b = strtod(t, &end);
		if (end == t || errno || b == 0)
			return false;
		a /= b;
	}
	if (*end || !isfinite(a))
		return false;
	*out = a;
	return true;
}

static bool parse_int(const char *s, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (end == s || *end || errno || v < -2147483647L || v > 2147483647L)
		return false;
	*out = (int)v;
	return true;
}

/* The parameter table entry named `name` for a stage kind, or -1. */
static int param_index(enum stage_kind kind, const char *name)
{
	const aug_stage_info *info = aug_stage_info_at((int)kind);

	for (int i = 0; i < info->param_count; i++)
		if (strcmp(info->params[i].name, name) == 0)
			return i;
	return -1;
}

/* Which parameter a bare value sets: size, where the stage has one. */
static int positional_index(enum stage_kind kind)
{
	return param_index(kind, "size");
}

static aug_status out_of_range(const struct cursor *c, int col, const aug_param_info *pi, const char *v)
{
	if (pi->max >= 1e6)
		return spec_error(c, col, "%s=%s is out of range (at least %g)", pi->name, v, pi->min);
	return spec_error(c, col, "%s=%s is out of range %g..%g", pi->name, v, pi->min, pi->max);
}

/* Parse one value by the parameter's type and store it in the stage. */
static aug_status set_param(const struct cursor *c, int col, struct stage *st, int pidx, const char *v)
{
	const aug_param_info *pi = &aug_stage_info_at((int)st->kind)->params[pidx];
	const char *name = pi->name;
	double d, lo, hi;
	int n, w, h;

	if (strlen(v) >= AUG__VALUE_LEN)
		return spec_error(c, col, "value of %s is too long", name);
	switch (pi->type) {
	case AUG_PARAM_PROB:
	case AUG_PARAM_NUMBER:
		if (!parse_number(v, &d))
			return spec_error(c, col, "expected a number for %s, found '%s'", name, v);
		if (d < pi->min || d > pi->max)
			return out_of_range(c, col, pi, v);
		if (strcmp(name, "p") == 0)
			st->p = d;
		else if (strcmp(name, "brightness") == 0)
			st->brightness = d;
		else if (strcmp(name, "contrast") == 0)
			st->contrast = d;
		else if (strcmp(name, "saturation") == 0 && st->kind == ST_COLOR_JITTER)
			st->saturation = d;
		else if (strcmp(name, "hue") == 0 && st->kind == ST_COLOR_JITTER)
			st->hue = d;
		else if (strcmp(name, "hue") == 0)
			st->hue_deg = d;
		else if (strcmp(name, "saturation") == 0)
			st->sat_range = d;
		else if (strcmp(name, "lightness") == 0)
			st->light_range = d;
		break;
	case AUG_PARAM_INT:
		if (!parse_int(v, &n))
			return spec_error(c, col, "expected a whole number for %s, found '%s'", name, v);
		if (n < pi->min || n > pi->max)
			return out_of_range(c, col, pi, v);
		if (strcmp(name, "pad") == 0)
			st->pad = n;
		else if (strcmp(name, "holes") == 0)
			st->holes = n;
		else if (strcmp(name, "short") == 0 || strcmp(name, "long") == 0)
			st->side = n;
		break;
	case AUG_PARAM_SIZE: {
		const char *x = strchr(v, 'x');
		char a[AUG__VALUE_LEN];

		if (x) {
			memcpy(a, v, (size_t)(x - v));
			a[x - v] = '\0';
			if (!parse_int(a, &w) || !parse_int(x + 1, &h))
				return spec_error(c, col, "expected a size WxH or N for %s, found '%s'", name, v);
		} else {
			if (!parse_int(v, &w))
				return spec_error(c, col, "expected a size WxH or N for %s, found '%s'", name, v);
			h = w;
		}
		if (w < pi->min || w > pi->max || h < pi->min || h > pi->max)
			return out_of_range(c, col, pi, v);
		if (st->kind == ST_CUTOUT) {
			st->hole_w = w;
			st->hole_h = h;
		} else {
			st->width = w;
			st->height = h;
		}
		break;
	}
	case AUG_PARAM_RANGE: {
		const char *colon = strchr(v, ':');
		char a[AUG__VALUE_LEN];

		if (colon) {
			memcpy(a, v, (size_t)(colon - v));
			a[colon - v] = '\0';
			if (!parse_number(a, &lo) || !parse_number(colon + 1, &hi))
				return spec_error(c, col, "expected a range a:b for %s, found '%s'", name, v);
		} else {
			if (!parse_number(v, &lo))
				return spec_error(c, col, "expected a range a:b for %s, found '%s'", name, v);
			hi = lo;
		}
		if (lo > hi)
			return spec_error(c, col, "%s=%s: the range is empty (%g > %g)", name, v, lo, hi);
		if (lo < pi->min || hi > pi->max || (strcmp(name, "ratio") == 0 && lo <= 0))
			return out_of_range(c, col, pi, v);
		if (strcmp(name, "scale") == 0) {
			st->scale[0] = lo;
			st->scale[1] = hi;
		} else {
			st->ratio[0] = lo;
			st->ratio[1] = hi;
		}
		break;
	}
	case AUG_PARAM_CHOICE: {
		char choices[128];
		int k = 0;
		bool found = false;

		snprintf(choices, sizeof(choices), "%s", pi->choices);
		for (char *tok = strtok(choices, "|"); tok; tok = strtok(NULL, "|"), k++) {
			if (strcmp(tok, v) == 0) {
				found = true;
				break;
			}
		}
		if (!found)
			return spec_error(c, col, "expected one of %s for %s, found '%s'", pi->choices, name, v);
		if (strcmp(name, "filter") == 0)
			st->filter = (enum filter)k;
		else if (strcmp(name, "inside") == 0)
			st->inside = k == 1;
		else if (strcmp(name, "order") == 0)
			st->random_order = k == 0;
		else if (strcmp(name, "channels") == 0)
			st->gray_channels = k == 0 ? 1 : 3;
		else if (strcmp(name, "position") == 0)
			st->position = k;
		break;
	}
	case AUG_PARAM_FILL: {
		int rgb[3], cnt = 0;
		char buf[AUG__VALUE_LEN], *save = NULL;

		if (strcmp(v, "edge") == 0 && st->kind == ST_CROP) {
			st->fill.mode = FILL_EDGE;
			break;
		}
		if (strcmp(v, "reflect") == 0 && st->kind == ST_CROP) {
			st->fill.mode = FILL_REFLECT;
			break;
		}
		if (strcmp(v, "mean") == 0 && st->kind == ST_CUTOUT) {
			st->fill.mode = FILL_MEAN;
			break;
		}
		if (strcmp(v, "random") == 0 && st->kind == ST_CUTOUT) {
			st->fill.mode = FILL_RANDOM;
			break;
		}
		snprintf(buf, sizeof(buf), "%s", v);
		for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			if (cnt == 3 || !parse_int(tok, &rgb[cnt]) || rgb[cnt] < 0 || rgb[cnt] > 255) {
				cnt = -1;
				break;
			}
			cnt++;
		}
		if (cnt != 1 && cnt != 3)
			return spec_error(c, col, "expected %s, a grey level 0..255 or R,G,B for %s, found '%s'",
					  pi->choices, name, v);
		st->fill.mode = FILL_CONSTANT;
		for (int i = 0; i < 3; i++)
			st->fill.rgb[i] = (uint8_t)rgb[cnt == 1 ? 0 : i];
		break;
	}
	case AUG_PARAM_LIST: {
		static const float imagenet_mean[3] = { 0.485f, 0.456f, 0.406f };
		static const float imagenet_std[3] = { 0.229f, 0.224f, 0.225f };
		float *dst = strcmp(name, "mean") == 0 ? st->mean : st->std;
		double vals[3];
		int cnt = 0;
		char buf[AUG__VALUE_LEN], *save = NULL;

		if (strcmp(v, "imagenet") == 0) {
			memcpy(dst, dst == st->mean ? imagenet_mean : imagenet_std, sizeof(imagenet_mean));
			break;
		}
		snprintf(buf, sizeof(buf), "%s", v);
		for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			if (cnt == 3 || !parse_number(tok, &vals[cnt])) {
				cnt = -1;
				break;
			}
			if (vals[cnt] < pi->min || vals[cnt] > pi->max)
				return out_of_range(c, col, pi, tok);
			cnt++;
		}
		if (cnt != 1 && cnt != 3)
			return spec_error(c, col, "expected imagenet, one number or three (a,b,c) for %s, found '%s'",
					  name, v);
		for (int i = 0; i < 3; i++)
			dst[i] = (float)vals[cnt == 1 ? 0 : i];
		break;
	}
	}
	snprintf(st->text[pidx], AUG__VALUE_LEN, "%s", v);
	return AUG_OK;
}

/* Checks that involve more than one parameter. */
static aug_status check_stage(const struct cursor *c, struct stage *st, const bool *given)
{
	const int size_i = param_index(st->kind, "size");

	switch (st->kind) {
	case ST_CROP:
	case ST_CENTER_CROP:
	case ST_RANDOM_RESIZED_CROP:
		if (!given[size_i])
			return spec_error(c, st->col, "%s needs size=WxH", aug__stage_name(st->kind));
		break;
	case ST_RESIZE: {
		int n = given[size_i] + given[param_index(ST_RESIZE, "short")] + given[param_index(ST_RESIZE, "long")];

		if (n != 1)
			return spec_error(c, st->col, "resize needs exactly one of size=, short= and long=");
		st->resize_mode = given[size_i] ? RESIZE_SIZE
				  : given[param_index(ST_RESIZE, "short")] ? RESIZE_SHORT
									   : RESIZE_LONG;
		break;
	}
	case ST_CUTOUT: {
		bool sz = given[size_i], sc = given[param_index(ST_CUTOUT, "scale")];

		if (sz == sc)
			return spec_error(c, st->col, "cutout needs either size= (cutout) or scale= (random erasing)");
		st->erasing = sc;
		if (sc && st->scale[1] <= 0)
			return spec_error(c, st->col, "cutout scale= must allow a positive area");
		break;
	}
	case ST_GRAYSCALE:
		if (st->gray_channels == 1 && st->p < 1)
			return spec_error(c, st->col,
					  "grayscale channels=1 needs p=1: the channel count must not depend on chance");
		break;
	default:
		break;
	}
	return AUG_OK;
}

static bool is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r';
}

/* Parse one statement: text[0..len), starting at column col0. */
static aug_status parse_stmt(struct cursor *c, const char *text, size_t len, int col0, aug_pipeline *p)
{
	const aug_stage_info *info = NULL;
	struct stage *st;
	bool given[AUG__MAX_PARAMS] = { false };
	bool positional_used = false;
	size_t i = 0;
	char tok[256];
	int kind = -1;

	while (i < len) {
		size_t start, tlen;
		int col;
		char *eq;

		while (i < len && is_space(text[i]))
			i++;
		if (i >= len)
			break;
		start = i;
		while (i < len && !is_space(text[i]))
			i++;
		tlen = i - start;
		col = col0 + (int)start;
		if (tlen >= sizeof(tok))
			return spec_error(c, col, "token too long");
		memcpy(tok, text + start, tlen);
		tok[tlen] = '\0';

		if (kind < 0) {
			const char *names[ST_COUNT];
			const char *near;

			for (int k = 0; k < ST_COUNT; k++) {
				names[k] = aug_stage_info_at(k)->name;
				if (strcmp(names[k], tok) == 0)
					kind = k;
			}
			if (kind < 0) {
				near = nearest(tok, names, ST_COUNT);
				if (near)
					return spec_error(c, col, "unknown stage '%s'; did you mean '%s'?", tok, near);
				return spec_error(c, col, "unknown stage '%s' (augment stages lists them)", tok);
			}
			if (p->count == AUG_MAX_STAGES)
				return spec_error(c, col, "more than %d stages", AUG_MAX_STAGES);
			st = &p->stages[p->count];
			memset(st, 0, sizeof(*st));
			st->kind = (enum stage_kind)kind;
			st->line = c->line;
			st->col = col;
			st->p = 1;
			info = aug_stage_info_at(kind);
			continue;
		}
		st = &p->stages[p->count];
		eq = strchr(tok, '=');
		if (!eq) {
			int pi = positional_index(st->kind);
			aug_status s;

			if (param_index(st->kind, tok) >= 0)
				return spec_error(c, col + (int)tlen, "expected '=' after parameter '%s'", tok);
			if (pi < 0 || positional_used) {
				if (pi < 0)
					return spec_error(c, col, "expected key=value after %s, found '%s'", info->name, tok);
				return spec_error(c, col, "expected key=value, found '%s' (size is already given)", tok);
			}
			s = set_param(c, col, st, pi, tok);
			if (s)
				return s;
			positional_used = true;
			given[pi] = true;
			continue;
		}
		*eq = '\0';
		{
			int pi = param_index(st->kind, tok);
			aug_status s;

			if (pi < 0) {
				const char *names[AUG__MAX_PARAMS];
				const char *near;

				for (int k = 0; k < info->param_count; k++)
					names[k] = info->params[k].name;
				near = nearest(tok, names, info->param_count);
				if (near)
					return spec_error(c, col, "%s has no parameter '%s'; did you mean '%s'?",
							  info->name, tok, near);
				return spec_error(c, col, "%s has no parameter '%s' (it takes %s%s%s%s%s%s%s)",
						  info->name, tok, info->params[0].name,
						  info->param_count > 1 ? ", " : "",
						  info->param_count > 1 ? info->params[1].name : "",
						  info->param_count > 2 ? ", " : "",
						  info->param_count > 2 ? info->params[2].name : "",
						  info->param_count > 3 ? ", ..." : "", "");
			}
			if (given[pi])
				return spec_error(c, col, "%s is given twice", tok);
			if (eq[1] == '\0')
				return spec_error(c, col + (int)tlen, "expected a value after '%s='", tok);
			s = set_param(c, col + (int)(eq - tok) + 1, st, pi, eq + 1);
			if (s)
				return s;
			given[pi] = true;
		}
	}
	if (kind < 0)
		return AUG_OK; /* an empty statement */
	st = &p->stages[p->count];
	/* Defaults come from the catalogue's text, parsed like any value. */
	for (int k = 0; k < info->param_count; k++) {
		aug_status s;

		if (given[k] || !info->params[k].default_text)
			continue;
		s = set_param(c, st->col, st, k, info->params[k].default_text);
		if (s)
			return s;
	}
	{
		aug_status s = check_stage(c, st, given);

		if (s)
			return s;
	}
	p->count++;
	return AUG_OK;
}

aug_status aug_pipeline_parse(const char *text, const char *source, aug_pipeline **out)
{
	struct cursor c = { source ? source : "<spec>", 1, 1 };
	aug_pipeline *p;
	const char *line = text;
	aug_status st = AUG_OK;

	if (!out || !text)
		return aug__fail(AUG_EINVAL, __func__, "NULL argument");
	*out = NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return aug__fail(AUG_ENOMEM, __func__, "no memory");
	while (*line && !st) {
		const char *eol = strchr(line, '\n');
		size_t len = eol ? (size_t)(eol - line) : strlen(line);
		const char *hash = memchr(line, '#', len);
		size_t body = hash ? (size_t)(hash - line) : len;
		size_t s = 0;

		/* Statements of this line, split on ';'. */
		while (s <= body && !st) {
			const char *semi = memchr(line + s, ';', body - s);
			size_t e = semi ? (size_t)(semi - line) : body;

			st = parse_stmt(&c, line + s, e - s, (int)s + 1, p);
			s = e + 1;
		}
		if (!eol)
			break;
		line = eol + 1;
		c.line++;
	}
	for (int i = 0; i < p->count && !st; i++) {
		if (p->stages[i].kind == ST_NORMALIZE && i != p->count - 1) {
			c.line = p->stages[i].line;
			st = spec_error(&c, p->stages[i].col, "normalize must be the last stage (it makes float output)");
		}
	}
	if (!st && p->count == 0) {
		st = aug__fail(AUG_ESPEC, __func__, "%s: the spec holds no stages", c.source);
	}
	if (st) {
		free(p);
		return st;
	}
	*out = p;
	return AUG_OK;
}

void aug_pipeline_free(aug_pipeline *p)
{
	free(p);
}

int aug_pipeline_length(const aug_pipeline *p)
{
	return p->count;
}

const aug_stage_info *aug_pipeline_stage(const aug_pipeline *p, int i)
{
	return i >= 0 && i < p->count ? aug_stage_info_at((int)p->stages[i].kind) : NULL;
}

size_t aug_pipeline_describe(const aug_pipeline *p, char *buf, size_t size)
{
	size_t n = 0;

	if (size)
		buf[0] = '\0';
	for (int i = 0; i < p->count; i++) {
		const struct stage *st = &p->stages[i];
		const aug_stage_info *info = aug_stage_info_at((int)st->kind);
		int w = snprintf(n < size ? buf + n : NULL, n < size ? size - n : 0, "%s", info->name);

		n += (size_t)w;
		for (int k = 0; k < info->param_count; k++) {
			if (!st->text[k][0])
				continue;
			w = snprintf(n < size ? buf + n : NULL, n < size ? size - n : 0, " %s=%s",
				     info->params[k].name, st->text[k]);
			n += (size_t)w;
		}
		w = snprintf(n < size ? buf + n : NULL, n < size ? size - n : 0, "\n");
		n += (size_t)w;
	}
	return n + 1;
}

bool aug_pipeline_normalizes(const aug_pipeline *p)
{
	return p->count > 0 && p->stages[p->count - 1].kind == ST_NORMALIZE;
}

bool aug_pipeline_fixed_size(const aug_pipeline *p, int *width, int *height)
{
	/* Walk back to the last stage that surely sets the size; any stage after
	 * it that only may apply must set the same size, or the size depends on
	 * chance. Flips and pixel stages keep the size. */
	int maybe_w = 0, maybe_h = 0;

	for (int i = p->count - 1; i >= 0; i--) {
		const struct stage *st = &p->stages[i];

		switch (st->kind) {
		case ST_CROP:
		case ST_CENTER_CROP:
		case ST_RANDOM_RESIZED_CROP:
		case ST_RESIZE:
			if (st->kind == ST_RESIZE && st->resize_mode != RESIZE_SIZE)
				return false;
			if (maybe_w && (maybe_w != st->width || maybe_h != st->height))
				return false;
			if (st->p < 1) {
				maybe_w = st->width;
				maybe_h = st->height;
				continue;
			}
			*width = st->width;
			*height = st->height;
			return true;
		default:
			break;
		}
	}
	return false;
}
