/* The model spec language and the layer catalogue.
 *
 *     spec  := item { (';' | newline) item }
 *     item  := [ name { value | key=value } ]
 *     '#' starts a comment that runs to the end of the line.
 *
 * Values fill the layer's positional parameters in order; key=value sets a
 * parameter by name. Numbers are checked for kind (whole or real) and
 * range here; shapes are checked when the model is built. Every error names
 * the line and column, and an unknown layer or parameter name comes with
 * the nearest known one.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

enum ptype { P_INT, P_REAL, P_BOOL };

typedef struct param_def {
	const char *name;
	enum ptype type;
	bool positional;
	bool required;
	double def;
	double lo, hi;     /* inclusive, unless hi_open */
	bool hi_open;
	const char *what;  /* for "conv needs <what>" */
} param_def;

typedef struct layer_def {
	const char *name;
	int nparams;
	param_def params[AUG__MAX_ARGS];
} layer_def;

/* Indexed by aug__layer_kind; parameter order by the AUG__*_ slot enums. */
static const layer_def catalogue[AUG__L_COUNT] = {
	[AUG__L_CONV] = { "conv", 5, {
		{ "out", P_INT, true, true, 0, 1, 65536, false,
		  "the number of output channels, as in 'conv 32'" },
		{ "k", P_INT, false, false, 3, 1, 64, false, NULL },
		{ "stride", P_INT, false, false, 1, 1, 64, false, NULL },
		{ "pad", P_INT, false, false, 0, 0, 64, false, NULL },
		{ "bias", P_BOOL, false, false, 1, 0, 1, false, NULL } } },
	[AUG__L_BN] = { "bn", 0, { { 0 } } },
	[AUG__L_RELU] = { "relu", 0, { { 0 } } },
	[AUG__L_MAXPOOL] = { "maxpool", 2, {
		{ "k", P_INT, true, true, 0, 1, 64, false, "the window size, as in 'maxpool 2'" },
		{ "stride", P_INT, false, false, 0, 1, 64, false, NULL } } },
	[AUG__L_AVGPOOL] = { "avgpool", 2, {
		{ "k", P_INT, true, true, 0, 1, 64, false, "the window size, as in 'avgpool 2'" },
		{ "stride", P_INT, false, false, 0, 1, 64, false, NULL } } },
	[AUG__L_GAP] = { "gap", 0, { { 0 } } },
	[AUG__L_LINEAR] = { "linear", 2, {
		{ "out", P_INT, true, true, 0, 1, 1 << 20, false,
		  "the number of outputs, as in 'linear 128' or 'linear classes'" },
		{ "bias", P_BOOL, false, false, 1, 0, 1, false, NULL } } },
	[AUG__L_FLATTEN] = { "flatten", 0, { { 0 } } },
	[AUG__L_DROPOUT] = { "dropout", 1, {
		{ "p", P_REAL, true, false, 0.5, 0, 1, true, NULL } } },
	[AUG__L_RESBLOCK] = { "resblock", 3, {
		{ "out", P_INT, true, true, 0, 1, 65536, false,
		  "the number of output channels, as in 'resblock 64'" },
		{ "stride", P_INT, false, false, 1, 1, 8, false, NULL },
		{ "survive", P_REAL, false, false, 1, 0, 1, false, NULL } } },
};

const char *aug__layer_name(aug__layer_kind kind)
{
	return (unsigned)kind < AUG__L_COUNT ? catalogue[kind].name : "?";
}

size_t aug__edit_distance(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t rows[3][64];
	size_t *two_up = rows[0], *up = rows[1], *cur = rows[2];

	/* names are short; clip what we compare so the rows fit */
	if (alen > 63)
		alen = 63;
	if (blen > 63)
		blen = 63;
	for (size_t j = 0; j <= blen; j++)
		up[j] = j;
	for (size_t i = 1; i <= alen; i++) {
		size_t *t;

		cur[0] = i;
		for (size_t j = 1; j <= blen; j++) {
			size_t best = up[j - 1] + (a[i - 1] != b[j - 1]);

			if (up[j] + 1 < best)
				best = up[j] + 1;
			if (cur[j - 1] + 1 < best)
				best = cur[j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    two_up[j - 2] + 1 < best)
				best = two_up[j - 2] + 1;
			cur[j] = best;
		}
		t = two_up;
		two_up = up;
		up = cur;
		cur = t;
	}
	return up[blen];
}

/* The nearest of `names` to the token, or NULL when none is close enough
 * to be a plausible typo (at most a third of the longer name, and at least
 * one edit allowed). */
static const char *nearest(const char *tok, size_t len, const char *const *names, int count)
{
	const char *best = NULL;
	size_t best_d = (size_t)-1;

	for (int i = 0; i < count; i++) {
		size_t nl = strlen(names[i]);
		size_t d = aug__edit_distance(tok, len, names[i], nl);
		size_t longer = nl > len ? nl : len;
		size_t allow = longer / 3 > 1 ? longer / 3 : 1;

		if (d <= allow && d < best_d) {
			best = names[i];
			best_d = d;
		}
	}
	return best;
}

/* A token: its text (not terminated) and where it starts. */
typedef struct token {
	const char *s;
	size_t len;
	int line, col;
} token;

static bool tok_is(const token *t, const char *word)
{
	return t->len == strlen(word) && memcmp(t->s, word, t->len) == 0;
}

/* Parse `t` as a value of parameter `pd` of layer `ld`. */
static aug_status parse_value(const layer_def *ld, const param_def *pd, int kind, const token *t,
			      double *out)
{
	char buf[64];
	char *end;
	double v;

	if (t->len == 0)
		return aug__fail(AUG_ESPEC, "aug_model_parse",
				 "line %d:%d: expected a value after '%s='", t->line, t->col, pd->name);
	if (pd->type == P_BOOL) {
		if (tok_is(t, "yes") || tok_is(t, "true") || tok_is(t, "1")) {
			*out = 1;
			return AUG_OK;
		}
		if (tok_is(t, "no") || tok_is(t, "false") || tok_is(t, "0")) {
			*out = 0;
			return AUG_OK;
		}
		return aug__fail(AUG_ESPEC, "aug_model_parse",
				 "line %d:%d: expected yes or no for %s %s, got '%.*s'", t->line,
				 t->col, ld->name, pd->name, (int)t->len, t->s);
	}
	if (kind == AUG__L_LINEAR && pd == &ld->params[AUG__LINEAR_OUT] && tok_is(t, "classes")) {
		*out = AUG__CLASSES;
		return AUG_OK;
	}
	if (t->len >= sizeof(buf))
		goto bad;
	memcpy(buf, t->s, t->len);
	buf[t->len] = '\0';
	errno = 0;
	if (pd->type == P_INT) {
		long x = strtol(buf, &end, 10);

		if (*end || end == buf || errno)
			goto bad;
		v = (double)x;
	} else {
		v = strtod(buf, &end);
		if (*end || end == buf || errno || !isfinite(v))
			goto bad;
	}
	if (v < pd->lo || v > pd->hi || (pd->hi_open && v >= pd->hi)) {
		if (pd->type == P_INT)
			return aug__fail(AUG_ESPEC, "aug_model_parse",
					 "line %d:%d: %s %s must be between %g and %g, got %s",
					 t->line, t->col, ld->name, pd->name, pd->lo, pd->hi, buf);
		return aug__fail(AUG_ESPEC, "aug_model_parse",
				 "line %d:%d: %s %s must be in [%g, %g%s, got %s", t->line, t->col,
				 ld->name, pd->name, pd->lo, pd->hi, pd->hi_open ? ")" : "]", buf);
	}
	*out = v;
	return AUG_OK;
bad:
	return aug__fail(AUG_ESPEC, "aug_model_parse", "line %d:%d: expected %s for %s %s, got '%.*s'",
			 t->line, t->col, pd->type == P_INT ? "a whole number" : "a number",
			 ld->name, pd->name, (int)t->len, t->s);
}

/* One item's tokens -> a layer. */
static aug_status parse_item(const token *toks, int ntok, aug__layer_desc *d)
{
	const token *name = &toks[0];
	const layer_def *ld = NULL;
	int kind = -1, next_pos = 0;

	for (int k = 0; k < AUG__L_COUNT; k++) {
		if (tok_is(name, catalogue[k].name)) {
			kind = k;
			ld = &catalogue[k];
			break;
		}
	}
	if (!ld) {
		const char *names[AUG__L_COUNT];
		const char *sug;

		for (int k = 0; k < AUG__L_COUNT; k++)
			names[k] = catalogue[k].name;
		sug = nearest(name->s, name->len, names, AUG__L_COUNT);
		if (sug)
			return aug__fail(AUG_ESPEC, "aug_model_parse",
					 "line %d:%d: unknown layer '%.*s'; did you mean '%s'?",
					 name->line, name->col, (int)name->len, name->s, sug);
		return aug__fail(AUG_ESPEC, "aug_model_parse",
				 "line %d:%d: expected a layer (conv, bn, relu, maxpool, avgpool, "
				 "gap, flatten, linear, dropout, resblock), got '%.*s'",
				 name->line, name->col, (int)name->len, name->s);
	}
	memset(d, 0, sizeof(*d));
	d->kind = (aug__layer_kind)kind;
	d->line = name->line;
	d->col = name->col;
	for (int i = 0; i < ld->nparams; i++)
		d->arg[i] = ld->params[i].def;

	for (int t = 1; t < ntok; t++) {
		const token *tk = &toks[t];
		const char *eq = memchr(tk->s, '=', tk->len);
		token val = *tk;
		int slot = -1;
		aug_status st;

		if (eq) {
			size_t klen = (size_t)(eq - tk->s);

			if (klen == 0)
				return aug__fail(AUG_ESPEC, "aug_model_parse",
						 "line %d:%d: expected a parameter name before '='",
						 tk->line, tk->col);
			for (int i = 0; i < ld->nparams; i++) {
				if (strlen(ld->params[i].name) == klen &&
				    memcmp(ld->params[i].name, tk->s, klen) == 0)
					slot = i;
			}
			if (slot < 0) {
				const char *names[AUG__MAX_ARGS];
				const char *sug;

				for (int i = 0; i < ld->nparams; i++)
					names[i] = ld->params[i].name;
				sug = nearest(tk->s, klen, names, ld->nparams);
				if (ld->nparams == 0)
					return aug__fail(AUG_ESPEC, "aug_model_parse",
							 "line %d:%d: %s takes no parameters, "
							 "got '%.*s'", tk->line, tk->col, ld->name,
							 (int)klen, tk->s);
				if (sug)
					return aug__fail(AUG_ESPEC, "aug_model_parse",
							 "line %d:%d: unknown parameter '%.*s' for "
							 "%s; did you mean '%s'?", tk->line, tk->col,
							 (int)klen, tk->s, ld->name, sug);
				return aug__fail(AUG_ESPEC, "aug_model_parse",
						 "line %d:%d: unknown parameter '%.*s' for %s",
						 tk->line, tk->col, (int)klen, tk->s, ld->name);
			}
			val.s = eq + 1;
			val.len = tk->len - klen - 1;
			val.col = tk->col + (int)klen + 1;
		} else {
			while (next_pos < ld->nparams && !ld->params[next_pos].positional)
				next_pos++;
			if (next_pos >= ld->nparams)
				return aug__fail(AUG_ESPEC, "aug_model_parse",
						 "line %d:%d: %s takes no more values; got '%.*s'",
						 tk->line, tk->col, ld->name, (int)tk->len, tk->s);
			slot = next_pos++;
		}
		if (d->given[slot])
			return aug__fail(AUG_ESPEC, "aug_model_parse",
					 "line %d:%d: %s %s is given twice", tk->line, tk->col,
					 ld->name, ld->params[slot].name);
		st = parse_value(ld, &ld->params[slot], kind, &val, &d->arg[slot]);
		if (st)
			return st;
		d->given[slot] = true;
		d->arg_line[slot] = val.line;
		d->arg_col[slot] = val.col;
	}
	for (int i = 0; i < ld->nparams; i++) {
		if (ld->params[i].required && !d->given[i])
			return aug__fail(AUG_ESPEC, "aug_model_parse", "line %d:%d: %s needs %s",
					 d->line, d->col, ld->name, ld->params[i].what);
	}
	return AUG_OK;
}

#define MAX_TOKENS 16

aug_status aug__spec_parse(const char *text, aug__spec *out)
{
	aug__layer_desc *layers = NULL;
	int count = 0, cap = 0;
	token toks[MAX_TOKENS];
	int ntok = 0;
	int line = 1, col = 1;
	const char *p = text;
	aug_status st = AUG_OK;

	out->layers = NULL;
	out->count = 0;
	out->max_params = 0;
	if (!text)
		return aug__fail(AUG_EINVAL, "aug_model_parse", "the spec is NULL");
	for (;;) {
		const char c = *p;

		if (c == '\0' || c == ';' || c == '\n') {
			if (ntok > 0) {
				if (count == AUG__MAX_LAYERS) {
					st = aug__fail(AUG_ELIMIT, "aug_model_parse",
						       "line %d:%d: more than %d layers", toks[0].line,
						       toks[0].col, AUG__MAX_LAYERS);
					goto fail;
				}
				if (count == cap) {
					int ncap = cap ? cap * 2 : 16;
					void *nl = realloc(layers, sizeof(*layers) * ncap);

					if (!nl) {
						st = aug__fail(AUG_ENOMEM, "aug_model_parse",
							       "no memory for %d layers", ncap);
						goto fail;
					}
					layers = nl;
					cap = ncap;
				}
				st = parse_item(toks, ntok, &layers[count]);
				if (st)
					goto fail;
				count++;
				ntok = 0;
			}
			if (c == '\0')
				break;
			if (c == '\n') {
				line++;
				col = 1;
			} else {
				col++;
			}
			p++;
			continue;
		}
		if (c == '#') {
			while (*p && *p != '\n')
				p++;
			continue;
		}
		if (c == ' ' || c == '\t' || c == '\r') {
			p++;
			col++;
			continue;
		}
		/* a token runs to the next blank, separator or comment */
		{
			const char *s = p;
			int start = col;

			while (*p && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n' && *p != ';' &&
			       *p != '#') {
				p++;
				col++;
			}
			if (ntok == MAX_TOKENS) {
				st = aug__fail(AUG_ESPEC, "aug_model_parse",
					       "line %d:%d: too many values for one layer", line,
					       start);
				goto fail;
			}
			toks[ntok++] = (token){ s, (size_t)(p - s), line, start };
		}
	}
	if (count == 0) {
		st = aug__fail(AUG_ESPEC, "aug_model_parse",
			       "line %d:%d: expected a layer; the spec is empty", line, col);
		goto fail;
	}
	out->layers = layers;
	out->count = count;
	return AUG_OK;
fail:
	free(layers);
	return st;
}

void aug__spec_free(aug__spec *spec)
{
	if (!spec)
		return;
	free(spec->layers);
	spec->layers = NULL;
	spec->count = 0;
}

void aug__layer_describe(const aug__layer_desc *d, char *buf, size_t len)
{
	const layer_def *ld = &catalogue[d->kind];
	size_t used;

	snprintf(buf, len, "%s", ld->name);
	for (int i = 0; i < ld->nparams; i++) {
		const param_def *pd = &ld->params[i];
		char v[48];

		used = strlen(buf);
		if (!d->given[i] && !pd->required)
			continue;
		if (d->kind == AUG__L_LINEAR && i == AUG__LINEAR_OUT && d->arg[i] == AUG__CLASSES)
			snprintf(v, sizeof(v), "classes");
		else if (pd->type == P_BOOL)
			snprintf(v, sizeof(v), "%s", d->arg[i] ? "yes" : "no");
		else
			snprintf(v, sizeof(v), "%g", d->arg[i]);
		if (pd->positional && i == 0)
			snprintf(buf + used, len - used, " %s", v);
		else
			snprintf(buf + used, len - used, " %s=%s", pd->name, v);
	}
}
