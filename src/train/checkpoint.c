/* Checkpoints: one file holding everything a run needs to continue
 * exactly, or a model needs to predict.
 *
 *   "AUGCKPT\n" (8 bytes), version (u32 LE)
 *   sections: tag (4 bytes), length (u64 LE), bytes
 *   "END!" tag, length 4, CRC-32 (zlib's) of every byte before it
 *
 * Floats are stored as IEEE-754 little-endian, as they are in memory on the
 * machines we build for (checked at build time). The file is read whole,
 * its CRC checked, and every section's length checked against what the
 * model says before anything is copied. Writes are atomic. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "internal.h"

_Static_assert(sizeof(float) == 4 && sizeof(double) == 8, "IEEE-754 floats expected");
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "checkpoints store little-endian floats as they are in memory"
#endif

#define MAGIC "AUGCKPT\n"
#define VERSION 1u
#define MAX_CKPT ((size_t)2 << 30)

void aug__wbuf_put(struct wbuf *b, const void *data, size_t len)
{
	if (b->failed)
		return;
	if (b->n + len > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		uint8_t *p;

		while (cap < b->n + len)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p) {
			b->failed = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	if (len)
		memcpy(b->p + b->n, data, len);
	b->n += len;
}

void aug__wbuf_u32(struct wbuf *b, uint32_t v)
{
	uint8_t x[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };

	aug__wbuf_put(b, x, 4);
}

void aug__wbuf_u64(struct wbuf *b, uint64_t v)
{
	aug__wbuf_u32(b, (uint32_t)v);
	aug__wbuf_u32(b, (uint32_t)(v >> 32));
}

void aug__wbuf_f64(struct wbuf *b, double v)
{
	uint64_t u;

	memcpy(&u, &v, 8);
	aug__wbuf_u64(b, u);
}

double aug__rd_f64(const uint8_t *p)
{
	uint64_t u = aug__rd_u64(p);
	double v;

	memcpy(&v, &u, 8);
	return v;
}

void aug__wbuf_section(struct wbuf *b, const char tag[4], const void *data, size_t len)
{
	aug__wbuf_put(b, tag, 4);
	aug__wbuf_u64(b, (uint64_t)len);
	aug__wbuf_put(b, data, len);
}

aug_status aug__ckpt_write(const char *path, struct wbuf *body)
{
	struct wbuf f = { 0 };
	uLong crc;
	aug_status st;

	if (body->failed)
		return aug__fail(AUG_ENOMEM, "aug_checkpoint_write", "%s: no memory", path);
	aug__wbuf_put(&f, MAGIC, 8);
	aug__wbuf_u32(&f, VERSION);
	aug__wbuf_put(&f, body->p, body->n);
	aug__wbuf_put(&f, "END!", 4);
	aug__wbuf_u64(&f, 4);
	if (f.failed) {
		free(f.p);
		return aug__fail(AUG_ENOMEM, "aug_checkpoint_write", "%s: no memory", path);
	}
	crc = crc32(0L, Z_NULL, 0);
	/* zlib takes uInt lengths: feed it in pieces. */
	for (size_t off = 0; off < f.n;) {
		size_t k = f.n - off > (1u << 30) ? (1u << 30) : f.n - off;

		crc = crc32(crc, f.p + off, (uInt)k);
		off += k;
	}
	aug__wbuf_u32(&f, (uint32_t)crc);
	st = f.failed ? aug__fail(AUG_ENOMEM, "aug_checkpoint_write", "%s: no memory", path)
		      : aug_file_write_atomic(path, f.p, f.n);
	free(f.p);
	return st;
}

aug_status aug__ckpt_read(const char *path, struct ckpt *c)
{
	uLong crc;
	size_t off;
	aug_status st;

	memset(c, 0, sizeof(*c));
	c->path = path;
	st = aug_file_read(path, MAX_CKPT, &c->data, &c->len);
	if (st)
		return st;
	if (c->len < 8 + 4 + 16 || memcmp(c->data, MAGIC, 8) != 0) {
		st = aug__fail(AUG_ECORRUPT, "aug_checkpoint_load", "%s: not an augment checkpoint", path);
		goto fail;
	}
	if (aug__rd_u32(c->data + 8) != VERSION) {
		st = aug__fail(AUG_EUNSUPPORTED, "aug_checkpoint_load", "%s: checkpoint version %u; this build reads %u",
			       path, aug__rd_u32(c->data + 8), VERSION);
		goto fail;
	}
	if (memcmp(c->data + c->len - 16, "END!", 4) != 0 || aug__rd_u64(c->data + c->len - 12) != 4) {
		st = aug__fail(AUG_ETRUNCATED, "aug_checkpoint_load", "%s: the checkpoint ends early", path);
		goto fail;
	}
	crc = crc32(0L, Z_NULL, 0);
	for (off = 0; off < c->len - 4;) {
		size_t k = c->len - 4 - off > (1u << 30) ? (1u << 30) : c->len - 4 - off;

		crc = crc32(crc, c->data + off, (uInt)k);
		off += k;
	}
	if ((uint32_t)crc != aug__rd_u32(c->data + c->len - 4)) {
		st = aug__fail(AUG_ECORRUPT, "aug_checkpoint_load", "%s: CRC-32 mismatch: the file is damaged", path);
		goto fail;
	}
	/* Walk the sections once, so that lookups can trust the lengths. */
	for (off = 12; off < c->len - 16;) {
		uint64_t l;

		if (c->len - 16 - off < 12) {
			st = aug__fail(AUG_ECORRUPT, "aug_checkpoint_load", "%s: a section header is cut", path);
			goto fail;
		}
		l = aug__rd_u64(c->data + off + 4);
		if (l > c->len - 16 - off - 12) {
			st = aug__fail(AUG_ECORRUPT, "aug_checkpoint_load", "%s: a section runs past the end", path);
			goto fail;
		}
		off += 12 + (size_t)l;
	}
	return AUG_OK;
fail:
	aug__ckpt_free(c);
	return st;
}

void aug__ckpt_free(struct ckpt *c)
{
	aug_free(c->data);
	c->data = NULL;
	c->len = 0;
}

const uint8_t *aug__ckpt_section(const struct ckpt *c, const char tag[4], size_t *len)
{
	for (size_t off = 12; off + 12 <= c->len - 16;) {
		uint64_t l = aug__rd_u64(c->data + off + 4);

		if (memcmp(c->data + off, tag, 4) == 0) {
			*len = (size_t)l;
			return c->data + off + 12;
		}
		off += 12 + (size_t)l;
	}
	*len = 0;
	return NULL;
}

void aug_checkpoint_info_free(aug_checkpoint_info *info)
{
	if (!info)
		return;
	for (int i = 0; info->class_names && i < info->classes; i++)
		free(info->class_names[i]);
	free(info->class_names);
	free(info->train_pipeline);
	free(info->eval_pipeline);
	memset(info, 0, sizeof(*info));
}

static char *section_string(const struct ckpt *c, const char tag[4])
{
	size_t len;
	const uint8_t *p = aug__ckpt_section(c, tag, &len);
	char *s;

	if (!p)
		return NULL;
	s = malloc(len + 1);
	if (s) {
		memcpy(s, p, len);
		s[len] = '\0';
	}
	return s;
}

aug_status aug_checkpoint_load_model(const char *path, aug_model **model, aug_checkpoint_info *info)
{
	struct ckpt c;
	aug_checkpoint_info in = { 0 };
	aug_model *m = NULL;
	const uint8_t *p;
	size_t len;
	char *spec = NULL, *names = NULL;
	aug_status st = aug__ckpt_read(path, &c);

	*model = NULL;
	if (st)
		return st;
	p = aug__ckpt_section(&c, "SHAP", &len);
	spec = section_string(&c, "SPEC");
	if (!p || len != 16 || !spec) {
		st = aug__fail(AUG_ECORRUPT, __func__, "%s: no model in the checkpoint", path);
		goto out;
	}
	in.channels = (int)aug__rd_u32(p);
	in.height = (int)aug__rd_u32(p + 4);
	in.width = (int)aug__rd_u32(p + 8);
	in.classes = (int)aug__rd_u32(p + 12);
	if (in.channels < 1 || in.channels > 3 || in.height < 1 || in.width < 1 || in.height > 65536 ||
	    in.width > 65536 || in.classes < 1 || in.classes > 1000000) {
		st = aug__fail(AUG_ECORRUPT, __func__, "%s: bad model shape in the checkpoint", path);
		goto out;
	}
	/* The parameters the file holds bound the model it may build: a
	 * 2 KB checkpoint declaring a million classes asked for 2 GB. */
	p = aug__ckpt_section(&c, "PARM", &len);
	if (!p || len % sizeof(float) != 0) {
		st = aug__fail(AUG_ECORRUPT, __func__, "%s: the parameters do not fit the model", path);
		goto out;
	}
	st = aug_model_parse_limited(&m, spec, in.channels, in.height, in.width, in.classes,
				     len / sizeof(float) ? len / sizeof(float) : 1);
	if (st == AUG_ELIMIT) {
		char why[256];

		snprintf(why, sizeof(why), "%s", aug_error_message());
		st = aug__fail(AUG_ECORRUPT, __func__, "%s: the parameters do not fit the model (%s)", path, why);
		goto out;
	}
	if (st)
		goto out;
	if (len != aug_model_num_params(m) * sizeof(float)) {
		st = aug__fail(AUG_ECORRUPT, __func__, "%s: the parameters do not fit the model", path);
		goto out;
	}
	memcpy(aug_model_params(m), p, len);
	p = aug__ckpt_section(&c, "STAT", &len);
	if (len != aug_model_num_stats(m) * sizeof(float) || (len && !p)) {
		st = aug__fail(AUG_ECORRUPT, __func__, "%s: the BatchNorm statistics do not fit the model", path);
		goto out;
	}
	if (len)
		memcpy(aug_model_stats(m), p, len);
	aug_model_set_training(m, false);
	if (info) {
		char *save = NULL;
		int k = 0;

		p = aug__ckpt_section(&c, "PROG", &len);
		if (p && len >= 16) {
			in.epochs_done = (int)aug__rd_u32(p);
			in.best_epoch = (int)aug__rd_u32(p + 4);
		}
		in.train_pipeline = section_string(&c, "TPIP");
		in.eval_pipeline = section_string(&c, "EPIP");
		names = section_string(&c, "CLAS");
		in.class_names = calloc((size_t)in.classes, sizeof(char *));
		if (!in.class_names) {
			st = aug__fail(AUG_ENOMEM, __func__, "no memory");
			goto out;
		}
		for (char *tok = names ? strtok_r(names, "\n", &save) : NULL; tok && k < in.classes;
		     tok = strtok_r(NULL, "\n", &save))
			in.class_names[k++] = strdup(tok);
		for (; k < in.classes; k++) {
			char num[16];

			snprintf(num, sizeof(num), "%d", k);
			in.class_names[k] = strdup(num);
		}
		*info = in;
		memset(&in, 0, sizeof(in));
	}
	*model = m;
	m = NULL;
out:
	aug_checkpoint_info_free(&in);
	aug_model_free(m);
	free(spec);
	free(names);
	aug__ckpt_free(&c);
	return st;
}
