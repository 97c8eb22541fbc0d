/* NMEA framing core for mista.ais._framing: plain C, no Python objects.
 *
 * It splits bytes into lines, parses tag blocks, prefixes and suffixes, checks checksums,
 * assembles multi-sentence messages and appends results to growable output buffers that
 * the Cython wrapper turns into numpy / Arrow arrays once per batch. Rules are described
 * in docs/ais-framing.md; keep the two in step.
 */
#ifndef MISTA_FRAMING_CORE_H
#define MISTA_FRAMING_CORE_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FR_MAX_LINE 4096      /* longer lines are rejected as too-long */
#define FR_RAW_KEEP_LONG 256  /* bytes kept of a too-long line */
#define FR_MAX_RECV 64        /* longest receiver id kept */
#define FR_MAX_FRAG 9         /* fragment count is one digit */
#define FR_MAX_KINDS 64       /* distinct nmea:XXX kinds counted per batch */
#define FR_MAX_COMMAS 8       /* more commas than this in a sentence: malformed */

enum { R_CHECKSUM = 0, R_MALFORMED, R_TAG_BLOCK, R_INCOMPLETE, R_ORPHAN, R_TOO_LONG, R_NCODES };
enum { K_BLANK = 0, K_COMMENT, K_TEXT, K_TAG_BLOCK, K_NMEA_OTHER, K_NFIXED };

typedef struct {
    char *p;
    size_t n, cap;
} fbuf;

typedef struct {
    int64_t line_no;
    int32_t reason;
    size_t detail_off, detail_len, raw_off, raw_len;
} fr_reject;

typedef struct {
    char addr[12];
    int len;
    int64_t count;
} fr_kind;

typedef struct {
    int active;
    /* key */
    int has_g;
    int64_t g_id;
    char key_recv[FR_MAX_RECV];
    int key_recv_len; /* -1: no own receiver */
    int seq;          /* -1: empty */
    char chan;        /* 0: empty */
    /* progress */
    int total, next, nfrag;
    int64_t last_sentence;
    /* message fields (from the first fragment unless it lacked them) */
    double t;
    char recv[FR_MAX_RECV];
    int recv_len; /* -1: null */
    char talker[2];
    int own_ship;
    int fill;
    fbuf payload, raw;
    int64_t last_raw_line;
    int64_t frag_line[FR_MAX_FRAG];
    size_t frag_raw_off[FR_MAX_FRAG], frag_raw_len[FR_MAX_FRAG];
} fr_group;

typedef struct {
    int max_pending;
    int oom;
    /* streaming state */
    int64_t line_no;
    int64_t sentences;
    fbuf pending;
    size_t pending_total;
    int ctx_valid;
    double ctx_t;
    char ctx_recv[FR_MAX_RECV];
    int ctx_recv_len;
    fr_group *groups;
    int ngroups, nopen;
    /* batch output */
    int64_t nmsg, batch_lines;
    fbuf payload, offsets, fill, line, time, own;
    fbuf recv_data, recv_off, recv_valid;
    fbuf raw_data, raw_off;
    fbuf talker;
    fbuf chan_data, chan_off, chan_valid;
    fbuf rejects, rej_text;
    int64_t nrej;
    int64_t kinds_fixed[K_NFIXED];
    fr_kind kinds[FR_MAX_KINDS];
    int nkinds;
} framer_t;

/* what a sentence's own line says about it */
typedef struct {
    double t_tag, t_prefix, t_suffix;
    const unsigned char *recv_tag;
    int recv_tag_len;
    const unsigned char *recv_suffix;
    int recv_suffix_len;
    int has_g, g_num, g_tot;
    int64_t g_id;
} fr_meta;

/* ------------------------------------------------------------------ buffers */

static int fb_grow(fbuf *b, size_t need) {
    size_t nc = b->cap ? b->cap : 256;
    while (nc < b->n + need) nc *= 2;
    char *q = (char *)realloc(b->p, nc);
    if (!q) return -1;
    b->p = q;
    b->cap = nc;
    return 0;
}

static inline void fb_put(framer_t *f, fbuf *b, const void *s, size_t len) {
    if (b->n + len > b->cap && fb_grow(b, len)) {
        f->oom = 1;
        return;
    }
    if (len) memcpy(b->p + b->n, s, len);
    b->n += len;
}

static inline void fb_i64(framer_t *f, fbuf *b, int64_t v) { fb_put(f, b, &v, 8); }
static inline void fb_i32(framer_t *f, fbuf *b, int32_t v) { fb_put(f, b, &v, 4); }
static inline void fb_u8(framer_t *f, fbuf *b, uint8_t v) { fb_put(f, b, &v, 1); }
static inline void fb_f64(framer_t *f, fbuf *b, double v) { fb_put(f, b, &v, 8); }
static void fb_free(fbuf *b) {
    free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}

/* ------------------------------------------------------------------ lifecycle */

static void fr_batch_reset(framer_t *f) {
    f->nmsg = f->batch_lines = f->nrej = 0;
    fbuf *bs[] = {&f->payload, &f->offsets, &f->fill, &f->line, &f->time,
                  &f->own, &f->recv_data, &f->recv_off, &f->recv_valid, &f->raw_data,
                  &f->raw_off, &f->talker, &f->chan_data, &f->chan_off, &f->chan_valid,
                  &f->rejects, &f->rej_text};
    for (size_t i = 0; i < sizeof(bs) / sizeof(bs[0]); i++) bs[i]->n = 0;
    fb_i64(f, &f->offsets, 0);
    fb_i32(f, &f->recv_off, 0);
    fb_i32(f, &f->raw_off, 0);
    fb_i32(f, &f->chan_off, 0);
    memset(f->kinds_fixed, 0, sizeof(f->kinds_fixed));
    f->nkinds = 0;
}

static framer_t *fr_new(int max_pending) {
    framer_t *f = (framer_t *)calloc(1, sizeof(framer_t));
    if (!f) return NULL;
    f->max_pending = max_pending;
    /* groups idle longer than max_pending sentences expire, so at most max_pending + 1
       are open at once; one spare slot keeps the arithmetic simple */
    f->ngroups = max_pending + 2;
    f->groups = (fr_group *)calloc((size_t)f->ngroups, sizeof(fr_group));
    if (!f->groups) {
        free(f);
        return NULL;
    }
    fr_batch_reset(f);
    if (f->oom) return NULL;
    return f;
}

static void fr_free(framer_t *f) {
    if (!f) return;
    for (int i = 0; i < f->ngroups; i++) {
        fb_free(&f->groups[i].payload);
        fb_free(&f->groups[i].raw);
    }
    free(f->groups);
    fbuf *bs[] = {&f->payload, &f->offsets, &f->fill, &f->line, &f->time,
                  &f->own, &f->recv_data, &f->recv_off, &f->recv_valid, &f->raw_data,
                  &f->raw_off, &f->talker, &f->chan_data, &f->chan_off, &f->chan_valid,
                  &f->rejects, &f->rej_text, &f->pending};
    for (size_t i = 0; i < sizeof(bs) / sizeof(bs[0]); i++) fb_free(bs[i]);
    free(f);
}

/* ------------------------------------------------------------------ outputs */

static void fr_reject_add(framer_t *f, int64_t line_no, int reason, const char *detail,
                          const unsigned char *raw, size_t raw_len) {
    fr_reject r;
    r.line_no = line_no;
    r.reason = reason;
    r.detail_off = f->rej_text.n;
    r.detail_len = strlen(detail);
    fb_put(f, &f->rej_text, detail, r.detail_len);
    r.raw_off = f->rej_text.n;
    r.raw_len = raw_len;
    fb_put(f, &f->rej_text, raw, raw_len);
    fb_put(f, &f->rejects, &r, sizeof(r));
    f->nrej++;
}

static void fr_skip_kind(framer_t *f, const unsigned char *addr, int len) {
    for (int i = 0; i < f->nkinds; i++) {
        if (f->kinds[i].len == len && memcmp(f->kinds[i].addr, addr, (size_t)len) == 0) {
            f->kinds[i].count++;
            return;
        }
    }
    if (f->nkinds == FR_MAX_KINDS) {
        f->kinds_fixed[K_NMEA_OTHER]++;
        return;
    }
    fr_kind *k = &f->kinds[f->nkinds++];
    memcpy(k->addr, addr, (size_t)len);
    k->len = len;
    k->count = 1;
}

static void fr_emit(framer_t *f, const unsigned char *payload, size_t plen, int fill,
                    int64_t line_no, double t, const char *recv, int recv_len,
                    const unsigned char *raw, size_t raw_len, const char *talker, int own,
                    char chan) {
    fb_put(f, &f->payload, payload, plen);
    fb_i64(f, &f->offsets, (int64_t)f->payload.n);
    fb_u8(f, &f->fill, (uint8_t)fill);
    fb_i64(f, &f->line, line_no);
    fb_f64(f, &f->time, t);
    fb_u8(f, &f->own, (uint8_t)own);
    if (recv_len >= 0) fb_put(f, &f->recv_data, recv, (size_t)recv_len);
    fb_i32(f, &f->recv_off, (int32_t)f->recv_data.n);
    fb_u8(f, &f->recv_valid, recv_len >= 0);
    fb_put(f, &f->raw_data, raw, raw_len);
    fb_i32(f, &f->raw_off, (int32_t)f->raw_data.n);
    fb_put(f, &f->talker, talker, 2);
    if (chan) fb_put(f, &f->chan_data, &chan, 1);
    fb_i32(f, &f->chan_off, (int32_t)f->chan_data.n);
    fb_u8(f, &f->chan_valid, chan != 0);
    f->nmsg++;
}

/* ------------------------------------------------------------------ small parsers */

static inline int hexval(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

static inline int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static inline int is_talker(unsigned char c) { return is_digit(c) || (c >= 'A' && c <= 'Z'); }
static inline int is_alnum(unsigned char c) {
    return is_digit(c) || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* all digits, optionally one '.' followed by digits; returns 0 and the value, or -1 */
static int parse_decimal(const unsigned char *s, size_t n, double *out, int *int_digits) {
    size_t i = 0;
    double v = 0.0;
    while (i < n && is_digit(s[i])) v = v * 10.0 + (s[i++] - '0');
    if (i == 0 || i > 15) return -1;
    *int_digits = (int)i;
    if (i < n) {
        if (s[i] != '.' || i + 1 == n) return -1;
        double scale = 0.1;
        for (i++; i < n; i++) {
            if (!is_digit(s[i])) return -1;
            v += (s[i] - '0') * scale;
            scale *= 0.1;
        }
    }
    *out = v;
    return 0;
}

/* 0x80 in each byte of v equal to the byte of pat, exactly (no false positives) */
static inline uint64_t bytes_eq(uint64_t v, uint64_t pat) {
    uint64_t t = v ^ pat;
    return ~(((t & 0x7F7F7F7F7F7F7F7FULL) + 0x7F7F7F7F7F7F7F7FULL) | t) & 0x8080808080808080ULL;
}

/* index of the first byte outside 0x20..0x7E, or -1; eight bytes at a time */
static inline long first_unprintable(const unsigned char *s, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v;
        memcpy(&v, s + i, 8);
        /* a flag can only be set wrongly next to a truly bad byte: the byte loop decides */
        uint64_t lo = (v - 0x2020202020202020ULL) & ~v & 0x8080808080808080ULL;
        uint64_t hi = ((v + 0x0101010101010101ULL) | v) & 0x8080808080808080ULL;
        if (lo | hi) break;
    }
    for (; i < n; i++)
        if (s[i] < 0x20 || s[i] > 0x7e) return (long)i;
    return -1;
}

/* epoch from an integer of seconds (10 digits) or milliseconds (13 digits) */
static double epoch_from_digits(const unsigned char *s, size_t n) {
    double v;
    int nd;
    if (parse_decimal(s, n, &v, &nd) != 0) return NAN;
    if (nd >= 13) return v / 1000.0;
    return v;
}

static int64_t days_from_civil(int64_t y, int64_t m, int64_t d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* printable form of a field for a detail message (truncated, always NUL-terminated) */
static void show(char *dst, size_t cap, const unsigned char *s, size_t n) {
    size_t k = n < cap - 4 ? n : cap - 4;
    memcpy(dst, s, k);
    if (k < n) {
        memcpy(dst + k, "...", 3);
        k += 3;
    }
    dst[k] = 0;
}

/* ------------------------------------------------------------------ multipart groups */

static void group_reject_all(framer_t *f, fr_group *g, const char *why) {
    char detail[256];
    for (int i = 0; i < g->nfrag; i++) {
        if (g->has_g)
            snprintf(detail, sizeof detail, "fragment %d of %d (group %lld) %s", i + 1,
                     g->total, (long long)g->g_id, why);
        else if (g->seq >= 0)
            snprintf(detail, sizeof detail, "fragment %d of %d (sequence %d, channel %c) %s",
                     i + 1, g->total, g->seq, g->chan ? g->chan : '-', why);
        else
            snprintf(detail, sizeof detail, "fragment %d of %d (no sequence, channel %c) %s",
                     i + 1, g->total, g->chan ? g->chan : '-', why);
        fr_reject_add(f, g->frag_line[i], R_INCOMPLETE, detail,
                      (const unsigned char *)g->raw.p + g->frag_raw_off[i], g->frag_raw_len[i]);
    }
    g->active = 0;
    f->nopen--;
}

static void groups_expire_idle(framer_t *f) {
    char why[96];
    if (f->nopen == 0) return;
    for (int i = 0; i < f->ngroups; i++) {
        fr_group *g = &f->groups[i];
        if (g->active && f->sentences - g->last_sentence > f->max_pending) {
            snprintf(why, sizeof why, "was not completed within %d further sentences",
                     f->max_pending);
            group_reject_all(f, g, why);
        }
    }
}

static fr_group *group_find(framer_t *f, const fr_meta *m, const unsigned char *krecv,
                            int krecv_len, int seq, char chan) {
    if (f->nopen == 0) return NULL;
    for (int i = 0; i < f->ngroups; i++) {
        fr_group *g = &f->groups[i];
        if (!g->active) continue;
        if (m->has_g) {
            if (g->has_g && g->g_id == m->g_id) return g;
            continue;
        }
        if (g->has_g || g->seq != seq || g->chan != chan || g->key_recv_len != krecv_len)
            continue;
        if (krecv_len > 0 && memcmp(g->key_recv, krecv, (size_t)krecv_len) != 0) continue;
        return g;
    }
    return NULL;
}

static fr_group *group_slot(framer_t *f) {
    fr_group *oldest = NULL;
    for (int i = 0; i < f->ngroups; i++) {
        fr_group *g = &f->groups[i];
        if (!g->active) return g;
        if (!oldest || g->last_sentence < oldest->last_sentence) oldest = g;
    }
    group_reject_all(f, oldest, "was dropped: too many open groups");
    return oldest;
}

static void group_add_raw(framer_t *f, fr_group *g, int64_t line_no, const unsigned char *line,
                          size_t line_len) {
    int i = g->nfrag;
    if (i > 0 && g->last_raw_line == line_no) {
        /* several sentences of one message on one line: keep the line once */
        g->frag_raw_off[i] = g->frag_raw_off[i - 1];
        g->frag_raw_len[i] = g->frag_raw_len[i - 1];
    } else {
        if (g->raw.n) fb_put(f, &g->raw, "\n", 1);
        g->frag_raw_off[i] = g->raw.n;
        g->frag_raw_len[i] = line_len;
        fb_put(f, &g->raw, line, line_len);
        if (g->raw.n < g->frag_raw_off[i] + line_len) g->frag_raw_len[i] = 0; /* out of memory */
        g->last_raw_line = line_no;
    }
    g->frag_line[i] = line_no;
    g->nfrag = i + 1;
}

/* ------------------------------------------------------------------ one sentence */

typedef struct {
    const unsigned char *line;
    size_t line_len;
    int64_t line_no;
    double t_ctx;
    const char *recv_ctx;
    int recv_ctx_len;
} fr_linectx;

/* An AIS sentence: s[0] is '!' or '$', star points at '*'. Returns 0 or a reject. */
static void fr_sentence(framer_t *f, const fr_linectx *L, const unsigned char *s,
                        const unsigned char *star, const unsigned char *const *commas, int nc,
                        const fr_meta *m) {
    char detail[256], a[64];
    const unsigned char *fld[8];
    size_t flen[8];
    /* commas[0] ends the sentence name; field k runs from commas[k] to the next comma */
    int nf = nc;
    if (nf != 6 && nf != 7) {
        snprintf(detail, sizeof detail, "%d fields after the sentence name, expected 6", nf);
        fr_reject_add(f, L->line_no, R_MALFORMED, detail, L->line, L->line_len);
        return;
    }
    for (int k = 0; k < nf; k++) {
        fld[k] = commas[k] + 1;
        flen[k] = (size_t)((k + 1 < nf ? commas[k + 1] : star) - fld[k]);
    }
    if (flen[0] != 1 || fld[0][0] < '1' || fld[0][0] > '9') {
        show(a, sizeof a, fld[0], flen[0]);
        snprintf(detail, sizeof detail, "fragment count '%s' is not a digit 1-9", a);
        fr_reject_add(f, L->line_no, R_MALFORMED, detail, L->line, L->line_len);
        return;
    }
    int total = fld[0][0] - '0';
    if (flen[1] != 1 || fld[1][0] < '1' || fld[1][0] - '0' > total) {
        show(a, sizeof a, fld[1], flen[1]);
        snprintf(detail, sizeof detail, "fragment number '%s' is not a digit 1-%d", a, total);
        fr_reject_add(f, L->line_no, R_MALFORMED, detail, L->line, L->line_len);
        return;
    }
    int num = fld[1][0] - '0';
    int seq = -1;
    if (flen[2] > 0) {
        int ok = flen[2] <= 3;
        seq = 0;
        for (size_t i = 0; ok && i < flen[2]; i++) {
            if (!is_digit(fld[2][i])) ok = 0;
            else seq = seq * 10 + (fld[2][i] - '0');
        }
        if (!ok) {
            show(a, sizeof a, fld[2], flen[2]);
            snprintf(detail, sizeof detail, "sequential message id '%s' is not a number", a);
            fr_reject_add(f, L->line_no, R_MALFORMED, detail, L->line, L->line_len);
            return;
        }
    }
    char chan = 0;
    if (flen[3] > 1 || (flen[3] == 1 && !is_alnum(fld[3][0]))) {
        show(a, sizeof a, fld[3], flen[3]);
        snprintf(detail, sizeof detail, "channel '%s' is not one letter or digit", a);
        fr_reject_add(f, L->line_no, R_MALFORMED, detail, L->line, L->line_len);
        return;
    }
    if (flen[3] == 1) chan = (char)fld[3][0];
    const unsigned char *pl = fld[4];
    size_t plen = flen[4];
    if (plen == 0) {
        fr_reject_add(f, L->line_no, R_MALFORMED, "empty payload", L->line, L->line_len);
        return;
    }
    /* branch-free test first (the compiler vectorises it); locate the culprit only if bad */
    unsigned bad = 0;
    for (size_t i = 0; i < plen; i++) {
        unsigned char c = pl[i];
        bad |= ((unsigned char)(c - 0x30) >= 0x48) | ((unsigned char)(c - 0x58) < 8);
    }
    for (size_t i = 0; bad && i < plen; i++) {
        unsigned char c = pl[i];
        if (c < 0x30 || c > 0x77 || (c > 0x57 && c < 0x60)) {
            snprintf(detail, sizeof detail,
                     "payload character '%c' at position %zu is not AIS armouring", c, i + 1);
            fr_reject_add(f, L->line_no, R_MALFORMED, detail, L->line, L->line_len);
            return;
        }
    }
    int fi = nf - 1; /* fill bits are the last field (signalk logs add one before it) */
    if (flen[fi] != 1 || fld[fi][0] < '0' || fld[fi][0] > '5') {
        show(a, sizeof a, fld[fi], flen[fi]);
        snprintf(detail, sizeof detail, "fill bits '%s' are not a digit 0-5", a);
        fr_reject_add(f, L->line_no, R_MALFORMED, detail, L->line, L->line_len);
        return;
    }
    int fill = fld[fi][0] - '0';
    if (!is_talker(s[1]) || !is_talker(s[2])) {
        /* e.g. "!=IVDM" and "!--VDM" in the amsa and dma logs */
        show(a, sizeof a, s + 1, 2);
        snprintf(detail, sizeof detail, "talker '%s' is not two capital letters or digits", a);
        fr_reject_add(f, L->line_no, R_MALFORMED, detail, L->line, L->line_len);
        return;
    }
    int own = s[5] == 'O';
    char talker[2] = {(char)s[1], (char)s[2]};

    /* time and receiver: the sentence's own line first, then a preceding $PGHP */
    double t = !isnan(m->t_tag) ? m->t_tag : !isnan(m->t_prefix) ? m->t_prefix : m->t_suffix;
    if (isnan(t)) t = L->t_ctx;
    const unsigned char *krecv = m->recv_tag ? m->recv_tag : m->recv_suffix;
    int krecv_len = m->recv_tag ? m->recv_tag_len : m->recv_suffix ? m->recv_suffix_len : -1;
    const char *recv = krecv ? (const char *)krecv : L->recv_ctx;
    int recv_len = krecv ? krecv_len : L->recv_ctx_len;

    /* the sentence's own fragment fields decide; a g: tag only names the group */
    if (total == 1) {
        fr_emit(f, pl, plen, fill, L->line_no, t, recv, recv_len, L->line, L->line_len, talker,
                own, chan);
        return;
    }
    fr_group *g = group_find(f, m, krecv, krecv_len, seq, chan);
    if (num == 1) {
        if (g) {
            snprintf(a, sizeof a, "was superseded by a new fragment 1 on line %lld",
                     (long long)L->line_no);
            group_reject_all(f, g, a);
        }
        g = group_slot(f);
        g->active = 1;
        f->nopen++;
        g->has_g = m->has_g;
        g->g_id = m->g_id;
        g->key_recv_len = krecv_len;
        if (krecv_len > 0) memcpy(g->key_recv, krecv, (size_t)krecv_len);
        g->seq = seq;
        g->chan = chan;
        g->total = total;
        g->next = 2;
        g->nfrag = 0;
        g->t = t;
        g->recv_len = recv_len;
        if (recv_len > 0) memcpy(g->recv, recv, (size_t)recv_len);
        g->talker[0] = talker[0];
        g->talker[1] = talker[1];
        g->own_ship = own;
        g->payload.n = 0;
        g->raw.n = 0;
        g->last_raw_line = -1;
        fb_put(f, &g->payload, pl, plen);
        group_add_raw(f, g, L->line_no, L->line, L->line_len);
        g->last_sentence = f->sentences;
        return;
    }
    if (!g || g->total != total || g->next != num) {
        if (g) {
            snprintf(a, sizeof a, "was broken by fragment %d of %d on line %lld", num, total,
                     (long long)L->line_no);
            group_reject_all(f, g, a);
        }
        if (m->has_g)
            snprintf(detail, sizeof detail, "fragment %d of %d (group %lld) has no open group",
                     num, total, (long long)m->g_id);
        else
            snprintf(detail, sizeof detail,
                     "fragment %d of %d (sequence %s, channel %c) has no open group", num, total,
                     seq >= 0 ? (snprintf(a, sizeof a, "%d", seq), a) : "empty",
                     chan ? chan : '-');
        fr_reject_add(f, L->line_no, R_ORPHAN, detail, L->line, L->line_len);
        return;
    }
    fb_put(f, &g->payload, pl, plen);
    group_add_raw(f, g, L->line_no, L->line, L->line_len);
    if (isnan(g->t)) g->t = t;
    if (g->recv_len < 0 && recv_len > 0) {
        g->recv_len = recv_len;
        memcpy(g->recv, recv, (size_t)recv_len);
    }
    g->last_sentence = f->sentences;
    g->next = num + 1;
    if (num == total) {
        fr_emit(f, (const unsigned char *)g->payload.p, g->payload.n, fill, g->frag_line[0], g->t,
                g->recv, g->recv_len, (const unsigned char *)g->raw.p, g->raw.n, g->talker,
                g->own_ship, g->chan);
        g->active = 0;
        f->nopen--;
    }
}

/* ------------------------------------------------------------------ tag blocks, suffixes */

/* s[0] is '\\'; parses one tag block up to its closing '\\'. Returns the length consumed
   or -1 with detail filled. */
static long fr_tag_block(const unsigned char *s, size_t n, fr_meta *m, char *detail, size_t dcap) {
    char a[64];
    const unsigned char *close = (const unsigned char *)memchr(s + 1, '\\', n - 1);
    if (!close) {
        snprintf(detail, dcap, "tag block has no closing backslash");
        return -1;
    }
    const unsigned char *body = s + 1;
    size_t blen = (size_t)(close - body);
    if (blen < 3 || body[blen - 3] != '*') {
        show(a, sizeof a, body, blen);
        snprintf(detail, dcap, "tag block '%s' has no *hh checksum", a);
        return -1;
    }
    int h1 = hexval(body[blen - 2]), h2 = hexval(body[blen - 1]);
    if (h1 < 0 || h2 < 0) {
        snprintf(detail, dcap, "tag block checksum '%c%c' is not hexadecimal", body[blen - 2],
                 body[blen - 1]);
        return -1;
    }
    size_t flen_all = blen - 3;
    unsigned x = 0;
    for (size_t i = 0; i < flen_all; i++) x ^= body[i];
    unsigned want = (unsigned)(h1 * 16 + h2);
    if (x != want) {
        snprintf(detail, dcap, "tag block checksum %02X does not match computed %02X", want, x);
        return -1;
    }
    size_t i = 0;
    while (i < flen_all) {
        const unsigned char *fs = body + i;
        const unsigned char *c = (const unsigned char *)memchr(fs, ',', flen_all - i);
        size_t fl = c ? (size_t)(c - fs) : flen_all - i;
        const unsigned char *colon = (const unsigned char *)memchr(fs, ':', fl);
        if (!colon || colon == fs) {
            show(a, sizeof a, fs, fl);
            snprintf(detail, dcap, "tag block field '%s' is not key:value", a);
            return -1;
        }
        size_t kl = (size_t)(colon - fs);
        const unsigned char *v = colon + 1;
        size_t vl = fl - kl - 1;
        if (kl == 1 && fs[0] == 'c') {
            double t = epoch_from_digits(v, vl);
            int alldig = vl > 0;
            for (size_t k = 0; k < vl; k++) alldig &= is_digit(v[k]);
            if (!alldig || isnan(t)) {
                show(a, sizeof a, v, vl);
                snprintf(detail, dcap, "tag block time c:%s is not a number", a);
                return -1;
            }
            m->t_tag = t;
        } else if (kl == 1 && fs[0] == 's') {
            if (vl == 0 || vl > FR_MAX_RECV) {
                show(a, sizeof a, v, vl);
                snprintf(detail, dcap, "tag block source s:%s is empty or longer than %d", a,
                         FR_MAX_RECV);
                return -1;
            }
            m->recv_tag = v;
            m->recv_tag_len = (int)vl;
        } else if (kl == 1 && fs[0] == 'g') {
            /* g:<fragment>-<count>-<group id> */
            long long parts[3] = {0, 0, 0};
            int np = 0, nd = 0, ok = 1;
            for (size_t k = 0; k < vl && ok; k++) {
                if (v[k] == '-') {
                    if (nd == 0 || np == 2) ok = 0;
                    np++;
                    nd = 0;
                } else if (is_digit(v[k]) && nd < 12) {
                    parts[np] = parts[np] * 10 + (v[k] - '0');
                    nd++;
                } else {
                    ok = 0;
                }
            }
            if (!ok || np != 2 || nd == 0 || parts[1] < 1 || parts[1] > 9 || parts[0] < 1 ||
                parts[0] > parts[1]) {
                show(a, sizeof a, v, vl);
                snprintf(detail, dcap, "tag block group g:%s is not <n>-<m>-<id>", a);
                return -1;
            }
            m->has_g = 1;
            m->g_num = (int)parts[0];
            m->g_tot = (int)parts[1];
            m->g_id = parts[2];
        }
        i += fl + 1;
    }
    return (long)(close - s) + 1;
}

/* the comma-separated tokens after a sentence's checksum: station id (r.../b...) and
   epoch time (10 digits: seconds, 13 digits: milliseconds); the rest is ignored */
static void fr_suffix(const unsigned char *s, size_t n, fr_meta *m) {
    size_t i = 0;
    while (i < n) {
        const unsigned char *ts = s + i;
        const unsigned char *c = (const unsigned char *)memchr(ts, ',', n - i);
        size_t tl = c ? (size_t)(c - ts) : n - i;
        if (tl >= 2 && (ts[0] == 'r' || ts[0] == 'b') && tl <= FR_MAX_RECV && !m->recv_suffix) {
            int ok = 1;
            for (size_t k = 1; k < tl; k++) ok &= is_alnum(ts[k]);
            if (ok) {
                m->recv_suffix = ts;
                m->recv_suffix_len = (int)tl;
            }
        } else if (isnan(m->t_suffix) && tl >= 10 && is_digit(ts[0])) {
            double v;
            int nd;
            if (parse_decimal(ts, tl, &v, &nd) == 0 && (nd == 10 || nd == 13))
                m->t_suffix = nd == 13 ? v / 1000.0 : v;
        }
        i += tl + 1;
    }
}

/* ------------------------------------------------------------------ $PGHP */

static void fr_pghp(framer_t *f, const fr_linectx *L, const unsigned char *s, size_t n) {
    char detail[256];
    const unsigned char *star = (const unsigned char *)memchr(s, '*', n);
    if (!star || (size_t)(star - s) + 3 > n || hexval(star[1]) < 0 || hexval(star[2]) < 0) {
        fr_reject_add(f, L->line_no, R_MALFORMED, "$PGHP sentence has no *hh checksum", L->line,
                      L->line_len);
        return;
    }
    unsigned x = 0;
    for (const unsigned char *p = s + 1; p < star; p++) x ^= *p;
    unsigned want = (unsigned)(hexval(star[1]) * 16 + hexval(star[2]));
    if (x != want) {
        snprintf(detail, sizeof detail, "checksum %02X does not match computed %02X", want, x);
        fr_reject_add(f, L->line_no, R_CHECKSUM, detail, L->line, L->line_len);
        return;
    }
    /* $PGHP,1,year,month,day,hour,minute,second,millisecond,country,region,station,online,
       checksum of the sentence it describes */
    const unsigned char *fld[16];
    size_t flen[16];
    int nf = 0;
    const unsigned char *p = s + 6;
    while (nf < 16 && p <= star) {
        const unsigned char *c = (const unsigned char *)memchr(p, ',', (size_t)(star - p));
        fld[nf] = p;
        flen[nf] = c ? (size_t)(c - p) : (size_t)(star - p);
        nf++;
        if (!c) break;
        p = c + 1;
    }
    fr_skip_kind(f, s + 1, 4);
    if (nf < 8 || flen[0] != 1 || fld[0][0] != '1') return; /* not a time record */
    int64_t v[7];
    for (int k = 0; k < 7; k++) {
        double d;
        int nd;
        if (parse_decimal(fld[k + 1], flen[k + 1], &d, &nd) != 0 || nd > 5) return;
        v[k] = (int64_t)d;
    }
    if (v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31 || v[3] > 23 || v[4] > 59 || v[5] > 60 ||
        v[6] > 999)
        return;
    f->ctx_valid = 1;
    f->ctx_t = (double)(days_from_civil(v[0], v[1], v[2]) * 86400 + v[3] * 3600 + v[4] * 60 +
                        v[5]) +
               (double)v[6] / 1000.0;
    f->ctx_recv_len = -1;
    /* fld[0] is the record type, fld[10] the station (PSS MMSI), often empty */
    if (nf > 10 && flen[10] > 0 && flen[10] <= FR_MAX_RECV) {
        int ok = 1;
        for (size_t k = 0; k < flen[10]; k++) ok &= is_alnum(fld[10][k]);
        if (ok) {
            memcpy(f->ctx_recv, fld[10], flen[10]);
            f->ctx_recv_len = (int)flen[10];
        }
    }
}

/* ------------------------------------------------------------------ one line */

static void fr_line(framer_t *f, const unsigned char *s, size_t n, size_t total) {
    char detail[256];
    fr_linectx L;
    f->line_no++;
    f->batch_lines++;
    L.line_no = f->line_no;
    if (total > FR_MAX_LINE) {
        snprintf(detail, sizeof detail,
                 "line of %zu bytes exceeds the %d-byte limit (raw keeps its first %d bytes)",
                 total, FR_MAX_LINE, FR_RAW_KEEP_LONG);
        fr_reject_add(f, L.line_no, R_TOO_LONG, detail, s, n < FR_RAW_KEEP_LONG ? n : FR_RAW_KEEP_LONG);
        f->ctx_valid = 0;
        return;
    }
    while (n > 0 && (s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
    L.line = s;
    L.line_len = n;
    size_t pos = 0;
    while (pos < n && (s[pos] == ' ' || s[pos] == '\t')) pos++;
    if (pos == n) {
        f->kinds_fixed[K_BLANK]++;
        return;
    }
    if (s[pos] == '#') {
        f->kinds_fixed[K_COMMENT]++;
        return;
    }
    /* the context of a $PGHP applies to the next sentence line only */
    int had_ctx = f->ctx_valid;
    L.t_ctx = had_ctx ? f->ctx_t : NAN;
    L.recv_ctx = f->ctx_recv;
    L.recv_ctx_len = had_ctx ? f->ctx_recv_len : -1;
    f->ctx_valid = 0;
    long bad = first_unprintable(s, n);
    if (bad >= 0) {
        snprintf(detail, sizeof detail, "byte 0x%02X at column %ld is not printable ASCII",
                 s[bad], bad + 1);
        fr_reject_add(f, L.line_no, R_MALFORMED, detail, s, n);
        return;
    }
    double t_prefix = NAN;
    if (is_digit(s[pos])) {
        /* receiver time prefix: "1452468552.938 !AIVDM..." */
        size_t q = pos;
        while (q < n && (is_digit(s[q]) || s[q] == '.')) q++;
        size_t sp = q;
        while (sp < n && s[sp] == ' ') sp++;
        double v;
        int nd;
        if (sp > q && sp < n && (s[sp] == '!' || s[sp] == '\\' || s[sp] == '$') &&
            parse_decimal(s + pos, q - pos, &v, &nd) == 0) {
            t_prefix = nd >= 13 ? v / 1000.0 : v;
            pos = sp;
        }
    }
    if (s[pos] != '!' && s[pos] != '$' && s[pos] != '\\') {
        if (memchr(s + pos, '!', n - pos) || memchr(s + pos, '\\', n - pos)) {
            char a[64];
            show(a, sizeof a, s + pos, n - pos < 24 ? n - pos : 24);
            snprintf(detail, sizeof detail, "unexpected text '%s' before the sentence", a);
            fr_reject_add(f, L.line_no, R_MALFORMED, detail, s, n);
        } else {
            f->kinds_fixed[K_TEXT]++; /* banner or other free text */
        }
        return;
    }
    for (int unit = 0; pos < n; unit++) {
        fr_meta m;
        m.t_tag = NAN;
        m.t_prefix = unit == 0 ? t_prefix : NAN;
        m.t_suffix = NAN;
        m.recv_tag = m.recv_suffix = NULL;
        m.recv_tag_len = m.recv_suffix_len = -1;
        m.has_g = 0;
        m.g_id = 0;
        m.g_num = m.g_tot = 0;
        while (pos < n && s[pos] == '\\') {
            long used = fr_tag_block(s + pos, n - pos, &m, detail, sizeof detail);
            if (used < 0) {
                fr_reject_add(f, L.line_no, R_TAG_BLOCK, detail, s, n);
                return;
            }
            pos += (size_t)used;
        }
        if (pos == n) {
            if (unit == 0) {
                /* a tag block alone on its line (e.g. \si:AISD*3F\) describes the feed */
                f->kinds_fixed[K_TAG_BLOCK]++;
                f->ctx_valid = had_ctx;
            }
            return;
        }
        const unsigned char *u = s + pos;
        if (u[0] != '!' && u[0] != '$') {
            char a[64];
            show(a, sizeof a, u, n - pos < 24 ? n - pos : 24);
            snprintf(detail, sizeof detail, "unexpected text '%s' after a tag block", a);
            fr_reject_add(f, L.line_no, R_MALFORMED, detail, s, n);
            return;
        }
        size_t al = 0;
        while (pos + 1 + al < n && u[1 + al] != ',' && u[1 + al] != '*' && al < 12) al++;
        int is_ais = al == 5 && u[3] == 'V' && u[4] == 'D' && (u[5] == 'M' || u[5] == 'O') &&
                     pos + 6 < n && u[6] == ',';
        if (!is_ais) {
            if (al == 4 && memcmp(u + 1, "PGHP", 4) == 0) {
                fr_pghp(f, &L, u, n - pos);
            } else {
                int ok = al >= 1 && al <= 10;
                for (size_t k = 0; ok && k < al; k++) ok = is_alnum(u[1 + k]);
                if (ok) fr_skip_kind(f, u + 1, (int)al);
                else f->kinds_fixed[K_NMEA_OTHER]++;
            }
            return; /* the rest of a non-AIS line is not ours to read */
        }
        f->sentences++;
        groups_expire_idle(f);
        /* one pass to the '*': checksum and field boundaries together */
        const unsigned char *commas[FR_MAX_COMMAS];
        int nc = 0;
        unsigned x = 0;
        const unsigned char *p = u + 1, *e = s + n;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        {
            /* eight bytes at a time until the word holding the '*' */
            uint64_t acc = 0, v;
            while (p + 8 <= e) {
                memcpy(&v, p, 8);
                if (bytes_eq(v, 0x2A2A2A2A2A2A2A2AULL)) break;
                acc ^= v;
                uint64_t cm = bytes_eq(v, 0x2C2C2C2C2C2C2C2CULL);
                while (cm) {
                    if (nc < FR_MAX_COMMAS) commas[nc] = p + (__builtin_ctzll(cm) >> 3);
                    nc++;
                    cm &= cm - 1;
                }
                p += 8;
            }
            acc ^= acc >> 32;
            acc ^= acc >> 16;
            acc ^= acc >> 8;
            x = (unsigned)(acc & 0xFF);
        }
#endif
        while (p < e && *p != '*') {
            unsigned char c = *p++;
            x ^= c;
            if (c == ',') {
                if (nc < FR_MAX_COMMAS) commas[nc] = p - 1;
                nc++;
            }
        }
        const unsigned char *star = p;
        if (star + 3 > e) {
            fr_reject_add(f, L.line_no, R_MALFORMED, "sentence has no *hh checksum", s, n);
            return;
        }
        int h1 = hexval(star[1]), h2 = hexval(star[2]);
        if (h1 < 0 || h2 < 0) {
            snprintf(detail, sizeof detail, "checksum '%c%c' is not hexadecimal", star[1],
                     star[2]);
            fr_reject_add(f, L.line_no, R_MALFORMED, detail, s, n);
            return;
        }
        unsigned want = (unsigned)(h1 * 16 + h2);
        if (x != want) {
            snprintf(detail, sizeof detail, "checksum %02X does not match computed %02X", want, x);
            fr_reject_add(f, L.line_no, R_CHECKSUM, detail, s, n);
            return;
        }
        size_t end = (size_t)(star - s) + 3;
        size_t next = n;
        if (end < n) {
            if (s[end] == ',') {
                fr_suffix(s + end + 1, n - end - 1, &m);
            } else if (s[end] == '\\' || s[end] == '!') {
                next = end; /* another sentence follows on the same line */
            } else {
                char a[64];
                show(a, sizeof a, s + end, n - end < 24 ? n - end : 24);
                snprintf(detail, sizeof detail, "unexpected text '%s' after the checksum", a);
                fr_reject_add(f, L.line_no, R_MALFORMED, detail, s, n);
                return;
            }
        }
        fr_sentence(f, &L, u, star, commas, nc, &m);
        pos = next;
    }
}

/* ------------------------------------------------------------------ streaming */

static void fr_pending_add(framer_t *f, const unsigned char *d, size_t n) {
    /* keep at most FR_MAX_LINE + 1 bytes: a longer line is rejected whatever it holds */
    size_t room = f->pending.n <= FR_MAX_LINE ? FR_MAX_LINE + 1 - f->pending.n : 0;
    fb_put(f, &f->pending, d, n < room ? n : room);
    f->pending_total += n;
}

static void fr_feed(framer_t *f, const unsigned char *d, size_t n) {
    size_t i = 0;
    if (n == 0) return;
    if (f->pending_total > 0) {
        const unsigned char *nl = (const unsigned char *)memchr(d, '\n', n);
        size_t take = nl ? (size_t)(nl - d) : n;
        fr_pending_add(f, d, take);
        if (!nl) return;
        fr_line(f, (const unsigned char *)f->pending.p, f->pending.n, f->pending_total);
        f->pending.n = 0;
        f->pending_total = 0;
        i = take + 1;
    }
    while (i < n) {
        const unsigned char *nl = (const unsigned char *)memchr(d + i, '\n', n - i);
        if (!nl) {
            fr_pending_add(f, d + i, n - i);
            return;
        }
        size_t len = (size_t)(nl - (d + i));
        fr_line(f, d + i, len, len);
        i += len + 1;
    }
}

static void fr_finish(framer_t *f) {
    if (f->pending_total > 0) {
        fr_line(f, (const unsigned char *)f->pending.p, f->pending.n, f->pending_total);
        f->pending.n = 0;
        f->pending_total = 0;
    }
    for (int i = 0; i < f->ngroups; i++)
        if (f->groups[i].active) group_reject_all(f, &f->groups[i], "was open at the end of input");
    /* the framer starts afresh: the next input is a new stream */
    f->ctx_valid = 0;
    f->line_no = 0;
    f->sentences = 0;
}

#endif
