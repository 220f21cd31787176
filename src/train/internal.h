/* What the files of src/train/ share. */
#ifndef AUG_TRAIN_INTERNAL_H
#define AUG_TRAIN_INTERNAL_H

#include "augment/train.h"
#include "core/internal.h"

/* A growable byte buffer for writing checkpoints. */
struct wbuf {
	uint8_t *p;
	size_t n;
	size_t cap;
	bool failed;
};

void aug__wbuf_put(struct wbuf *b, const void *data, size_t len);
void aug__wbuf_u32(struct wbuf *b, uint32_t v);
void aug__wbuf_u64(struct wbuf *b, uint64_t v);
void aug__wbuf_f64(struct wbuf *b, double v);
/* A section: 4-byte tag, 8-byte length, then the bytes. */
void aug__wbuf_section(struct wbuf *b, const char tag[4], const void *data, size_t len);

/* A checkpoint read into memory and checked (magic, version, CRC-32). */
struct ckpt {
	uint8_t *data;
	size_t len;
	const char *path;
};

aug_status aug__ckpt_read(const char *path, struct ckpt *c);
void aug__ckpt_free(struct ckpt *c);

/* The bytes of section `tag`, or NULL (len 0) when absent. */
const uint8_t *aug__ckpt_section(const struct ckpt *c, const char tag[4], size_t *len);

/* Write a checkpoint: magic, version, the sections in `b`, CRC-32. */
aug_status aug__ckpt_write(const char *path, struct wbuf *b);

/* Little-endian readers over a section. */
static inline uint32_t aug__rd_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t aug__rd_u64(const uint8_t *p)
{
	return (uint64_t)aug__rd_u32(p) | (uint64_t)aug__rd_u32(p + 4) << 32;
}

double aug__rd_f64(const uint8_t *p);

#endif
