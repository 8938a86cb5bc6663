/* A column scanner for CloudTrail log files: the loader's fast path.
 *
 * A delivered log file is one JSON object, {"Records": [record, ...]}. scan() walks it
 * once and, for each field it is asked for, gives every record a code for that field's
 * raw JSON text (0 when the field is absent or null) and the distinct texts in first-seen
 * order. Python then decodes each distinct text once, however many records repeat it:
 * the same principal, region, user agent or key comes back thousands of times a file.
 *
 * The input is untrusted. Every read is bounds-checked, nesting is limited, and the
 * whole text is checked as strict JSON (strings, escapes, UTF-8, numbers, literals).
 * Anything unusual (a record that is not an object, an escaped field name, a field
 * inside one that is not an object, input over 4 GB) makes scan() return None, and
 * the caller decodes the file the general way, which knows how to say what is wrong.
 *
 * Asked to, it also resolves the commonest principal itself: an assumed-role session
 * (userIdentity.type "AssumedRole" with an ARN arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION
 * of its own account), whose short form "role/ROLE (SESSION)" it gives as one more column.
 * Such a principal is new on nearly every record of a busy trail (a session per job, a key
 * per session): building it here spares Python decoding its ARN and principal id and
 * working the short form out, once per record. The fields that only served to work it out
 * are then left out for those records (code 0); every other shape keeps them all, and
 * Python resolves it the general way.
 *
 * Asked to, it also reads the distinct texts of one field, the request's encryption context,
 * into pairs: each text that is an object of plain strings becomes codes into the distinct
 * keys and values met in the file, which Python takes in bulk (contexts.py) instead of
 * decoding every context (nearly one per record where S3 names an object in it). Any other
 * shape (escapes, other values, a key twice) is left to Python, which reads it as ever.
 *
 * Asked to, it also gives two fields unique to each record without interning them: the time
 * as int64 seconds since the epoch when it is CloudTrail's plain "YYYY-MM-DDTHH:MM:SSZ" (a
 * valid date and time: timeutil.parse_event_time's answer), and the event id as 36 bytes
 * when it is plain printable ASCII that fits (batch.EVENT_ID_WIDTH: decode._event_id_column's
 * answer). Any other text of those fields (escapes, offsets, fractions, out of range, longer,
 * not ASCII, not a string) gets a code into the distinct texts as every field does, for
 * Python to read the general way; absent or null, NO_TIME and 36 zero bytes.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define MAX_DEPTH 64
#define MAX_FIELDS 64
#define NAME_BUCKETS 64 /* field names are shorter than this */
#define MAX_KEPT 16
#define ID_WIDTH 36                    /* batch.EVENT_ID_WIDTH */
#define NO_TIME (-(INT64_C(1) << 62)) /* timeutil.NO_TIME */

#if defined(__GNUC__) || defined(__clang__)
#define ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define ALWAYS_INLINE inline
#endif

typedef const unsigned char *pos;

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL
#define HAS_ZERO(w) (((w) - ONES) & ~(w))  /* its high bits: set for a zero byte (and maybe above it) */

/* ------------------------------------------------------------------ JSON */

/* 1 for bytes that can stand in a string as they are: printable ASCII but " and \ */
static unsigned char plain[256];

static void init_tables(void) {
    for (int c = 0x20; c < 0x80; c++)
        plain[c] = 1;
    plain['"'] = 0;
    plain['\\'] = 0;
}

static ALWAYS_INLINE pos skip_ws(pos p, pos end) {
    if (p < end && *p > ' ')
        return p;
    if (end - p >= 2 && *p == ' ' && p[1] > ' ') /* json.dumps's ", " and ": ": one space, without the loop */
        return p + 1;
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    return p;
}

/* After a member or an element: 1 at the closing bracket (*p moves past it), 0 at a comma
 * (*p moves to what follows it), -1 at anything else. */
static ALWAYS_INLINE int next_item(pos *p, pos end, unsigned char close) {
    pos q = skip_ws(*p, end);
    if (q < end && *q == close) {
        *p = q + 1;
        return 1;
    }
    if (q >= end || *q != ',')
        return -1;
    *p = skip_ws(q + 1, end);
    return 0;
}

static inline int is_hex(unsigned char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* One UTF-8 sequence of two to four bytes starting at p (its lead byte is >= 0x80):
 * the position after it, or NULL if it is not well-formed (overlong, surrogate, too big). */
static pos utf8_end(pos p, pos end) {
    unsigned char c = p[0];
    int n;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 2;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 3;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        return NULL;
    }
    if (end - p <= n)
        return NULL;
    if (p[1] < lo || p[1] > hi)
        return NULL;
    for (int i = 2; i <= n; i++)
        if (p[i] < 0x80 || p[i] > 0xBF)
            return NULL;
    return p + n + 1;
}

#ifdef __SSE2__
/* The bytes of [p, p + 16) that are special in a string (", \, a control character, non-ASCII:
 * as signed bytes, both are below 0x20) as a bit each. */
static ALWAYS_INLINE uint32_t special16(pos p) {
    __m128i v = _mm_loadu_si128((const __m128i *)p);
    __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))),
                               _mm_cmplt_epi8(v, _mm_set1_epi8(0x20)));
    return (uint32_t)_mm_movemask_epi8(hit);
}
#endif

/* What string_end adds to *escaped: the string holds an escape (its raw bytes are then not its
 * value); one of them is a lone surrogate (sources.repair_surrogates would change the text). */
#define ESCAPED 1
#define LONE_SURROGATE 4

/* Whether the escape at u (a backslash, "u", four hex digits) is a high surrogate, D800 to DBFF */
static inline int is_high_surrogate(pos u) {
    return (u[2] == 'd' || u[2] == 'D') && (u[3] == '8' || u[3] == '9' || (u[3] | 0x20) == 'a' || (u[3] | 0x20) == 'b');
}

/* Whether the escape at u is a surrogate, D800 to DFFF */
static inline int is_surrogate(pos u) {
    return (u[2] == 'd' || u[2] == 'D') && (u[3] == '8' || u[3] == '9' || ((u[3] | 0x20) >= 'a' && (u[3] | 0x20) <= 'f'));
}

/* A surrogate escape at p (its hex checked): the position after it, or after the low half
 * that follows it to make a pair; else it is lone, and LONE_SURROGATE is added to *escaped.
 * The test sources._ESCAPE makes, escape after escape, so that the repair runs only on the
 * texts it changes. */
static pos surrogate_end(pos p, pos end, int *escaped) {
    if (is_high_surrogate(p) && end - p >= 12 && p[6] == '\\' && p[7] == 'u' && (p[8] == 'd' || p[8] == 'D') &&
        (p[9] | 0x20) >= 'c' && (p[9] | 0x20) <= 'f' && is_hex(p[10]) && is_hex(p[11]))
        return p + 12;
    *escaped |= LONE_SURROGATE;
    return p + 6;
}

/* p is at an opening quote: the position after the closing one, or NULL. Adds ESCAPED to
 * *escaped when the string holds an escape, and LONE_SURROGATE when one is a lone surrogate. */
static ALWAYS_INLINE pos string_end(pos p, pos end, int *escaped) {
    p++;
    for (;;) {
#ifdef __SSE2__
        /* sixteen bytes at a time while none is special, then straight to the special one
         * (measured: two blocks a step are slower, most names and values being shorter than
         * sixteen bytes; telling the closing quote from the masks gains nothing) */
        while (end - p >= 16) {
            uint32_t mask = special16(p);
            if (mask) {
                p += __builtin_ctz(mask);
                goto special;
            }
            p += 16;
        }
#else
        /* eight bytes at a time while none is special: ", \, a control character, non-ASCII.
         * The lowest flagged byte is exact (a borrow only runs upwards): go straight to it. */
        while (end - p >= 8) {
            uint64_t w;
            memcpy(&w, p, 8);
            uint64_t special = (((w - ONES * 0x20) & ~w) | HAS_ZERO(w ^ (ONES * '"')) | HAS_ZERO(w ^ (ONES * '\\')) | w) & HIGHS;
            if (special) {
                p += __builtin_ctzll(special) >> 3;
                break;
            }
            p += 8;
        }
#endif
        while (p < end && plain[*p])
            p++;
        if (p >= end)
            return NULL;
#ifdef __SSE2__
    special:;
#endif
        unsigned char c = *p;
        if (c == '"')
            return p + 1;
        if (c == '\\') {
            *escaped |= ESCAPED;
            if (end - p < 2)
                return NULL;
            c = p[1];
            if (c == 'u') {
                if (end - p < 6 || !is_hex(p[2]) || !is_hex(p[3]) || !is_hex(p[4]) || !is_hex(p[5]))
                    return NULL;
                p = is_surrogate(p) ? surrogate_end(p, end, escaped) : p + 6;
            } else if (c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' || c == 'r' || c == 't') {
                p += 2;
            } else {
                return NULL;
            }
        } else if (c >= 0x80) {
            p = utf8_end(p, end);
            if (p == NULL)
                return NULL;
        } else {
            return NULL; /* a control character */
        }
    }
}

static pos digits_end(pos p, pos end) {
    pos start = p;
    while (p < end && *p >= '0' && *p <= '9')
        p++;
    return p > start ? p : NULL;
}

static pos number_end(pos p, pos end) {
    if (p < end && *p == '-')
        p++;
    if (p >= end)
        return NULL;
    if (*p == '0')
        p++;
    else if (*p >= '1' && *p <= '9')
        p = digits_end(p, end);
    else
        return NULL;
    if (p < end && *p == '.') {
        p = digits_end(p + 1, end);
        if (p == NULL)
            return NULL;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        p = digits_end(p, end);
    }
    return p;
}

static pos literal_end(pos p, pos end, const char *word, Py_ssize_t len) {
    return (end - p >= len && memcmp(p, word, len) == 0) ? p + len : NULL;
}

static pos value_end(pos p, pos end, int depth, int *seen);

/* A member's `"name":` at p: the position of its value, or NULL if it is not one. The name
 * is [*name, *name + *len); *name is NULL when it holds an escape (its bytes are not it).
 * Adds string_end's flags of the name to *seen (as value_end and container_end do for every
 * string they pass). */
static ALWAYS_INLINE pos member_name(pos p, pos end, pos *name, Py_ssize_t *len, int *seen) {
    int escaped = 0;
    if (p >= end || *p != '"')
        return NULL;
    pos start = p + 1;
    p = string_end(p, end, &escaped);
    if (p == NULL)
        return NULL;
    *name = start;
    if (escaped) { /* rare: *seen is not written for every name */
        *seen |= escaped;
        *name = NULL;
    }
    *len = p - 1 - start;
    p = skip_ws(p, end);
    if (p >= end || *p != ':')
        return NULL;
    return skip_ws(p + 1, end);
}

/* p is just inside an object or array; the position after its closing bracket, or NULL. */
static pos container_end(pos p, pos end, int depth, int object, int *seen) {
    unsigned char close = object ? '}' : ']';
    p = skip_ws(p, end);
    if (p < end && *p == close)
        return p + 1;
    for (;;) {
        if (object) {
            pos name;
            Py_ssize_t len;
            p = member_name(p, end, &name, &len, seen);
            if (p == NULL)
                return NULL;
        }
        if (p < end && *p == '"') /* the commonest value, without a call */
            p = string_end(p, end, seen);
        else
            p = value_end(p, end, depth + 1, seen);
        if (p == NULL)
            return NULL;
        int next = next_item(&p, end, close);
        if (next != 0)
            return next > 0 ? p : NULL;
    }
}

/* p is at the first byte of a value: the position after it, or NULL if it is not JSON. */
static pos value_end(pos p, pos end, int depth, int *seen) {
    if (p >= end)
        return NULL;
    switch (*p) {
    case '"':
        return string_end(p, end, seen);
    case '{':
    case '[':
        return depth >= MAX_DEPTH ? NULL : container_end(p + 1, end, depth, *p == '{', seen);
    case 't':
        return literal_end(p, end, "true", 4);
    case 'f':
        return literal_end(p, end, "false", 5);
    case 'n':
        return literal_end(p, end, "null", 4);
    default:
        return number_end(p, end);
    }
}

static ALWAYS_INLINE uint64_t load64(const unsigned char *p) {
    uint64_t w;
    memcpy(&w, p, 8);
    return w;
}

static ALWAYS_INLINE uint32_t load32(const unsigned char *p) {
    uint32_t w;
    memcpy(&w, p, 4);
    return w;
}

/* Whether [a, a + n) and [b, b + n) hold the same bytes: memcmp without a call, for the short
 * texts compared most (field names, a column's values), eight bytes at a time and the last
 * eight (or four) overlapping, so without a loop over the odd bytes. */
static ALWAYS_INLINE int same_bytes(const void *a, const void *b, size_t n) {
    const unsigned char *x = a, *y = b;
    if (n >= 8) {
        for (size_t i = 0; i + 8 < n; i += 8)
            if (load64(x + i) != load64(y + i))
                return 0;
        return load64(x + n - 8) == load64(y + n - 8);
    }
    if (n >= 4)
        return load32(x) == load32(y) && load32(x + n - 4) == load32(y + n - 4);
    for (size_t i = 0; i < n; i++)
        if (x[i] != y[i])
            return 0;
    return 1;
}

/* ------------------------------------------------------------------ columns */

#define NOT_STRING 2 /* Column.escaped for a value that is not a string */

/* A distinct value in a column's table: enough to compare a new value with it without reading
 * the column's lists (one cache line, not three): its hash's low half (the table is indexed
 * by its low bits), and where it was last seen, which is nearer than where it was first seen
 * (and more likely in the cache) when a value repeats. */
typedef struct {
    uint32_t hash;
    uint32_t code; /* 0: an empty slot */
    uint32_t start, len;
} Slot;

typedef struct {
    const char *name;
    Py_ssize_t name_len;
    int parent;   /* -1: a field of the record; else the field it lies in */
    int children; /* fields inside this one: it is scanned into, not kept */
    int first_child; /* where they are listed in Scan.children */
    /* this record's value: [start, start + len), len 0 when absent or null; whether it is a
     * string with an escape (1), without (0), or not a string (NOT_STRING) */
    uint32_t start, len;
    unsigned char escaped;
    /* distinct values, code = index + 1 */
    Slot *slots;
    uint32_t mask, count, capacity;
    uint32_t *starts, *lens;
    uint32_t *codes; /* one per record */
} Column;

/* The assumed-role shortcut: which fields it reads, which it leaves out when it applies. */
typedef struct {
    int on;
    int type, arn, account;
    int nclear;
    int clear[MAX_FIELDS];
    Column sessions; /* keyed by the ARN's text inside its quotes; values built at the end */
} Roles;

/* The encryption-context shortcut: each distinct text of one field read, when it is an object
 * of plain strings (no escape, no key twice, at most MAX_PAIRS), as pairs of codes into the
 * distinct keys and values met; any other text is NOT_PLAIN, left to Python. */
#define NOT_PLAIN 0xFFFFFFFFu
#define MAX_PAIRS 64
typedef struct {
    int field; /* -1: off */
    Column keys, values; /* spans with their quotes: an empty string is a key or a value too */
    uint32_t *counts; /* per distinct text of the field: its pairs, or NOT_PLAIN */
    uint32_t *pair_keys, *pair_values; /* the pairs of each text in turn, codes from 1 */
    uint32_t npairs, pair_capacity;
    /* CreateGrant's constraints: each distinct text of this field (-1: off) read too, into the
     * pairs of its encryptionContextSubset, then of its encryptionContextEquals: two counts
     * per text (NOT_PLAIN first for one left to Python), its pairs after the contexts' */
    int grant_field;
    uint32_t *grants;
} Contexts;

/* A field's name in find_field's table: its length and its bytes as two words (see
 * name_words), which alone tell two names of up to 16 bytes apart; field -1 for an empty slot. */
#define NAME_SLOTS 128 /* a power of two, at least twice MAX_FIELDS */
typedef struct {
    uint64_t first, last;
    signed char len, parent, field;
} Name;

typedef struct {
    pos data;
    Column columns[MAX_FIELDS];
    Roles roles;
    Contexts contexts;
    int ncolumns;
    /* the fields by name and parent, open addressing: see find_field */
    Name names[NAME_SLOTS];
    /* the fields inside each holder: children[columns[f].first_child] onwards */
    signed char children[MAX_FIELDS];
    uint32_t records, record_capacity;
    uint32_t *spans; /* start and end of each record */
    /* the fields given per record rather than interned (-1: off): see plain_time, plain_id */
    int time_field, id_field;
    int64_t *times;     /* one per record: seconds, NO_TIME, or 0 where its code says "read in Python" */
    int object_field;       /* a field holding others whose text's span is given per record (-1: off) */
    uint32_t *object_spans; /* its start and end in each record, 0 and 0 when absent or null */
    unsigned char *ids; /* ID_WIDTH bytes per record, zero-padded */
    int escapes; /* string_end's flags of every string walked: LONE_SURROGATE is the one told */
    /* records whose field `keep` has none of these raw texts get a code for that field only */
    int keep;
    int whole_walk; /* 1: the record's members are all read, even after a `keep` that says not to */
    uint64_t holder_lengths; /* bit n: a field of the record holding others has a name of n bytes */
    Py_ssize_t nkept;
    const char *kept[MAX_KEPT];
    Py_ssize_t kept_len[MAX_KEPT];
} Scan;

/* A hash of [p, p + len) for the interning tables: sixteen bytes a step in two independent
 * lanes, the last sixteen (or eight, or four) bytes loaded overlapping rather than byte by byte.
 * Equal hashes are only a hint: intern compares the bytes. */
static ALWAYS_INLINE uint64_t hash_bytes(pos p, uint32_t len) {
    uint64_t h1 = 0x9E3779B97F4A7C15ULL ^ len, h2 = 0xC2B2AE3D27D4EB4FULL, a, b;
    if (len > 16) {
        pos last = p + len - 16;
        for (; p < last; p += 16) {
            h1 = (h1 ^ load64(p)) * 0xFF51AFD7ED558CCDULL;
            h2 = (h2 ^ load64(p + 8)) * 0xC4CEB9FE1A85EC53ULL;
            h1 ^= h1 >> 32;
            h2 ^= h2 >> 29;
        }
        a = load64(last);
        b = load64(last + 8);
    } else if (len >= 8) {
        a = load64(p);
        b = load64(p + len - 8);
    } else if (len >= 4) {
        a = load32(p);
        b = load32(p + len - 4);
    } else {
        a = len ? (uint64_t)p[0] | (uint64_t)p[len >> 1] << 8 | (uint64_t)p[len - 1] << 16 : 0;
        b = 0;
    }
    h1 = (h1 ^ a) * 0xFF51AFD7ED558CCDULL;
    h2 = (h2 ^ b) * 0xC4CEB9FE1A85EC53ULL;
    uint64_t h = h1 ^ (h2 >> 31 | h2 << 33);
    h ^= h >> 32;
    h *= 0x9E3779B97F4A7C15ULL;
    return h ^ (h >> 29);
}

/* The code of the column's current value, adding it if it is new; 0 for none. */
static int intern(Scan *scan, Column *col, uint32_t *code) {
    if (col->len == 0) {
        *code = 0;
        return 0;
    }
    pos value = scan->data + col->start;
    uint32_t h = (uint32_t)hash_bytes(value, col->len);
    uint32_t i = h & col->mask;
    for (;;) {
        Slot *slot = &col->slots[i];
        if (slot->code == 0)
            break;
        if (slot->hash == h && slot->len == col->len && same_bytes(scan->data + slot->start, value, col->len)) {
            slot->start = col->start;
            *code = slot->code;
            return 0;
        }
        i = (i + 1) & col->mask;
    }
    if (col->count == col->capacity) {
        uint32_t capacity = col->capacity ? col->capacity * 2 : 64;
        uint32_t *starts = realloc(col->starts, capacity * sizeof(uint32_t));
        if (starts == NULL)
            return -1;
        col->starts = starts;
        uint32_t *lens = realloc(col->lens, capacity * sizeof(uint32_t));
        if (lens == NULL)
            return -1;
        col->lens = lens;
        col->capacity = capacity;
    }
    col->starts[col->count] = col->start;
    col->lens[col->count] = col->len;
    col->count++;
    col->slots[i] = (Slot){h, col->count, col->start, col->len};
    *code = col->count;
    if ((uint64_t)col->count * 2 > col->mask) { /* keep the table at most half full */
        uint32_t size = (col->mask + 1) * 2;
        Slot *slots = calloc(size, sizeof(Slot));
        if (slots == NULL)
            return -1;
        for (uint32_t j = 0; j <= col->mask; j++) {
            Slot old = col->slots[j];
            if (old.code) {
                uint32_t at = old.hash & (size - 1);
                while (slots[at].code)
                    at = (at + 1) & (size - 1);
                slots[at] = old;
            }
        }
        free(col->slots);
        col->slots = slots;
        col->mask = size - 1;
    }
    return 0;
}

static void scan_free(Scan *scan) {
    for (int f = 0; f < scan->ncolumns; f++) {
        Column *col = &scan->columns[f];
        free(col->slots);
        free(col->starts);
        free(col->lens);
        free(col->codes);
    }
    free(scan->roles.sessions.slots);
    free(scan->roles.sessions.starts);
    free(scan->roles.sessions.lens);
    free(scan->roles.sessions.codes);
    Column *texts[2] = {&scan->contexts.keys, &scan->contexts.values};
    for (int i = 0; i < 2; i++) {
        free(texts[i]->slots);
        free(texts[i]->starts);
        free(texts[i]->lens);
    }
    free(scan->contexts.counts);
    free(scan->contexts.grants);
    free(scan->contexts.pair_keys);
    free(scan->contexts.pair_values);
    free(scan->spans);
    free(scan->times);
    free(scan->ids);
    free(scan->object_spans);
}

/* A name [k, k + len) of a member (so that k[len], its closing quote, is readable) as two
 * words: for up to 16 bytes, two names of the same length with the same words are the same
 * name. Unaligned loads that overlap cover every byte, without a loop or a branch per byte. */
static ALWAYS_INLINE void name_words(const unsigned char *k, size_t len, uint64_t *first, uint64_t *last) {
    if (len >= 8) {
        memcpy(first, k, 8);
        memcpy(last, k + len - 8, 8);
    } else if (len >= 4) {
        uint32_t a, b;
        memcpy(&a, k, 4);
        memcpy(&b, k + len - 4, 4);
        *first = a | (uint64_t)b << 32;
        *last = 0;
    } else {
        *first = len ? (uint64_t)k[0] | (uint64_t)k[len >> 1] << 8 | (uint64_t)k[len - 1] << 16 : 0;
        *last = 0;
    }
}

static ALWAYS_INLINE uint32_t name_slot(uint64_t first, uint64_t last, size_t len, int parent) {
    uint64_t h = (first ^ (last * 0x9E3779B97F4A7C15ULL) ^ ((uint64_t)len << 40) ^ (uint64_t)(parent + 1)) *
                 0xFF51AFD7ED558CCDULL;
    return (uint32_t)(h >> 57) & (NAME_SLOTS - 1);
}

/* The field named by the key [k, k + len) among those whose parent is `parent`, or -1: one
 * probe of a table of the fields' names (index_names), most often, whatever the order of a
 * record's members or how many names share a length. */
static ALWAYS_INLINE int find_field(Scan *scan, int parent, pos k, Py_ssize_t len) {
    if (len >= NAME_BUCKETS)
        return -1;
    uint64_t first, last;
    name_words(k, (size_t)len, &first, &last);
    for (uint32_t i = name_slot(first, last, (size_t)len, parent);; i = (i + 1) & (NAME_SLOTS - 1)) {
        const Name *n = &scan->names[i];
        if (n->field < 0)
            return -1;
        if (n->first == first && n->last == last && n->len == len && n->parent == parent &&
            (len <= 16 || same_bytes(scan->columns[n->field].name + 8, k + 8, (size_t)len - 16)))
            return n->field;
    }
}

/* The fields' names in find_field's table, and each holder's fields listed (after the fields
 * are read). A name given twice finds the first field of that name, as it is met first. */
static void index_names(Scan *scan) {
    for (int i = 0; i < NAME_SLOTS; i++)
        scan->names[i].field = -1;
    int listed = 0;
    for (int f = 0; f < scan->ncolumns; f++) {
        Column *col = &scan->columns[f];
        uint64_t first, last;
        name_words((const unsigned char *)col->name, (size_t)col->name_len, &first, &last);
        uint32_t i = name_slot(first, last, (size_t)col->name_len, col->parent);
        while (scan->names[i].field >= 0)
            i = (i + 1) & (NAME_SLOTS - 1);
        scan->names[i] = (Name){first, last, (signed char)col->name_len, (signed char)col->parent, (signed char)f};
        col->first_child = listed;
        if (col->children)
            scan->holder_lengths |= (uint64_t)1 << col->name_len;
        for (int c = f + 1; c < scan->ncolumns; c++)
            if (scan->columns[c].parent == f)
                scan->children[listed++] = (signed char)c;
    }
}

/* RECHECK: the record is to be walked again whole (records), never seen outside it */
typedef enum { OK, UNUSUAL, NO_MEMORY, RECHECK } Outcome;

/* Whether the record read so far is read whole: its field `keep` (when one is given) is one of
 * the kept texts, or holds an escape, or is not a string with a backslash in it (Python judges
 * those); else only `keep` gets a code. */
static int kept_whole(const Scan *scan) {
    if (scan->keep < 0)
        return 1;
    const Column *col = &scan->columns[scan->keep];
    pos value = scan->data + col->start;
    if (col->len == 0)
        return 0;
    if (col->escaped == NOT_STRING ? memchr(value, '\\', col->len) != NULL : col->escaped)
        return 1; /* escaped: let Python judge it */
    for (Py_ssize_t i = 0; i < scan->nkept; i++)
        if (col->len == scan->kept_len[i] && memcmp(value, scan->kept[i], col->len) == 0)
            return 1;
    return 0;
}

/* The rest of a record's members once its `keep` field has said it is not read whole (p after
 * that field's value), or with `holder`, the members of a field holding others in such a
 * record (p after its "{"): each stepped over as members() steps over it, its name read but
 * looked up only where it could be a field holding others (their lengths tell), no value
 * kept. Every byte is checked as the whole walk checks it, and what it might decide otherwise
 * is left to it (RECHECK): another `keep` field (the last copy of a field wins), an escaped
 * name (it could spell one), a field holding others that is not an object or null, anything
 * that is not JSON (all UNUSUAL there but the first). */
static Outcome skipped(Scan *scan, pos p, pos end, int holder, pos *after) {
    const Column *keep = &scan->columns[scan->keep];
    int next;
    if (holder) {
        p = skip_ws(p, end);
        next = p < end && *p == '}' ? (p++, 1) : 0;
    } else {
        next = next_item(&p, end, '}');
    }
    while (next == 0) {
        pos name;
        Py_ssize_t len;
        int seen = 0;
        p = member_name(p, end, &name, &len, &seen);
        if (p == NULL || name == NULL || (!holder && len == keep->name_len && same_bytes(name, keep->name, (size_t)len)))
            return RECHECK;
        int f = !holder && len < NAME_BUCKETS && (scan->holder_lengths >> len & 1) ? find_field(scan, -1, name, len) : -1;
        if (f >= 0 && scan->columns[f].children) {
            if (p < end && *p == '{') {
                Outcome outcome = skipped(scan, p + 1, end, 1, &p);
                if (outcome != OK)
                    return outcome;
            } else if ((p = literal_end(p, end, "null", 4)) == NULL) {
                return RECHECK;
            }
        } else {
            if (p < end && *p == '"') /* the commonest value, without a call */
                p = string_end(p, end, &seen);
            else
                p = value_end(p, end, 2, &seen);
            if (p == NULL)
                return RECHECK;
            if (__builtin_expect(seen & LONE_SURROGATE, 0))
                scan->escapes |= LONE_SURROGATE;
        }
        next = next_item(&p, end, '}');
    }
    *after = p;
    return next > 0 ? OK : RECHECK;
}

/* The members of the object whose first byte is p (after "{"); keeps the spans of the
 * fields whose parent is `parent`. Sets *after to the position after "}". */
static Outcome members(Scan *scan, pos p, pos end, int parent, pos *after) {
    p = skip_ws(p, end);
    if (p < end && *p == '}') {
        *after = p + 1;
        return OK;
    }
    for (;;) {
        pos name;
        Py_ssize_t len;
        p = member_name(p, end, &name, &len, &scan->escapes);
        if (p == NULL || name == NULL) /* an escaped name could spell a field: let the general path judge */
            return UNUSUAL;
        int f = find_field(scan, parent, name, len);
        pos value = p;
        if (f >= 0 && scan->columns[f].children) {
            Column *holder = &scan->columns[f];
            for (int c = 0; c < holder->children; c++) /* the last copy of a field wins, whole */
                scan->columns[scan->children[holder->first_child + c]].len = 0;
            if (p < end && *p == '{') {
                Outcome outcome = members(scan, p + 1, end, f, &p);
                if (outcome != OK)
                    return outcome;
                holder->start = (uint32_t)(value - scan->data); /* its span, for object_field */
                holder->len = (uint32_t)(p - value);
            } else if ((p = literal_end(p, end, "null", 4)) == NULL) {
                return UNUSUAL; /* fields asked for inside something that is not an object */
            } else {
                holder->len = 0;
            }
        } else {
            int escaped = NOT_STRING, seen = 0;
            if (p < end && *p == '"') {
                escaped = 0;
                p = string_end(p, end, &escaped);
                seen = escaped;
                escaped &= ESCAPED;
            } else {
                p = value_end(p, end, 2, &seen);
            }
            if (p == NULL)
                return UNUSUAL;
            if (__builtin_expect(seen & LONE_SURROGATE, 0))
                scan->escapes |= LONE_SURROGATE;
            if (f >= 0) {
                Column *col = &scan->columns[f];
                int null = (p - value == 4 && memcmp(value, "null", 4) == 0);
                col->start = (uint32_t)(value - scan->data);
                col->len = null ? 0 : (uint32_t)(p - value);
                col->escaped = (unsigned char)escaped;
                if (f == scan->keep && !scan->whole_walk && !kept_whole(scan))
                    return skipped(scan, p, end, 0, after);
            }
        }
        int next = next_item(&p, end, '}');
        if (next != 0) {
            *after = p;
            return next > 0 ? OK : UNUSUAL;
        }
    }
}

/* The raw text [start, start + len) of a column's value: a plain string (quoted, no escape)
 * not holding `unwanted`? */
static int plain_string(Scan *scan, Column *col, int unwanted) {
    pos value = scan->data + col->start;
    if (col->len < 2 || col->escaped != 0)
        return 0;
    for (uint32_t i = 1; unwanted >= 0 && i < col->len - 1; i++)
        if (value[i] == unwanted)
            return 0;
    return 1;
}

static int holds(pos text, size_t len, const char *part) {
    size_t n = strlen(part);
    for (size_t i = 0; i + n <= len; i++)
        if (text[i] == (unsigned char)part[0] && memcmp(text + i, part, n) == 0)
            return 1;
    return 0;
}

#define STS_PREFIX "\"arn:aws:sts::"
#define ROLE_PART ":assumed-role/"

/* For the record just read: whether its principal is an assumed-role session of the
 * commonest shape, the one principals._principal gives "role/ROLE (SESSION)" and no ARN (the
 * short form and the account rebuild it). Then sets the sessions column's span to the ARN
 * inside its quotes and returns its length; else 0. Every condition mirrors the Python:
 * a type of "AssumedRole"; an account, plain, without ':' (so that the first
 * ":assumed-role/" follows it); an ARN, plain, of exactly STS_PREFIX ACCOUNT ROLE_PART ROLE
 * "/" SESSION with a role that is neither empty nor holds " (" and a session not empty. */
static uint32_t assumed_role(Scan *scan) {
    Roles *roles = &scan->roles;
    Column *type = &scan->columns[roles->type], *arn = &scan->columns[roles->arn];
    Column *account = &scan->columns[roles->account];
    if (type->len != 13 || memcmp(scan->data + type->start, "\"AssumedRole\"", 13) != 0)
        return 0;
    if (!plain_string(scan, account, ':') || account->len < 3 || !plain_string(scan, arn, -1))
        return 0;
    pos text = scan->data + arn->start, end = text + arn->len - 1; /* end: the closing quote */
    size_t prefix = sizeof(STS_PREFIX) - 1, role_part = sizeof(ROLE_PART) - 1, digits = account->len - 2;
    if ((size_t)(end - text) < prefix + digits + role_part + 3 || memcmp(text, STS_PREFIX, prefix) != 0)
        return 0;
    pos p = text + prefix;
    if (memcmp(p, scan->data + account->start + 1, digits) != 0 || memcmp(p + digits, ROLE_PART, role_part) != 0)
        return 0;
    pos role = p + digits + role_part;
    pos slash = memchr(role, '/', (size_t)(end - role));
    if (slash == NULL || slash == role || slash + 1 >= end || holds(role, (size_t)(slash - role), " ("))
        return 0;
    roles->sessions.start = arn->start + 1; /* inside the quotes */
    return arn->len - 2;
}

/* Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* The value of ASCII digits [p, p + n), or -1 if one of them is not a digit. */
static inline int digits_value(pos p, int n) {
    int value = 0;
    for (int i = 0; i < n; i++) {
        unsigned d = (unsigned)p[i] - '0';
        if (d > 9)
            return -1;
        value = value * 10 + (int)d;
    }
    return value;
}

/* A raw text "YYYY-MM-DDTHH:MM:SSZ" (with its quotes) that is a valid date and time, as
 * seconds since the epoch in *seconds: 1. Anything else (for Python to judge): 0. */
static int plain_time(pos v, uint32_t len, int64_t *seconds) {
    if (len != 22 || v[0] != '"' || v[21] != '"' || v[20] != 'Z' || v[5] != '-' || v[8] != '-' || v[11] != 'T' ||
        v[14] != ':' || v[17] != ':')
        return 0;
    int year = digits_value(v + 1, 4), month = digits_value(v + 6, 2), day = digits_value(v + 9, 2);
    int hour = digits_value(v + 12, 2), minute = digits_value(v + 15, 2), second = digits_value(v + 18, 2);
    if (year < 1 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59 ||
        second < 0 || second > 59)
        return 0;
    static const unsigned char month_days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (day > month_days[month - 1] + (month == 2 && leap))
        return 0;
    *seconds = days_from_civil(year, (unsigned)month, (unsigned)day) * 86400 + hour * 3600 + minute * 60 + second;
    return 1;
}

/* A raw text that is a string of at most ID_WIDTH printable ASCII characters without an
 * escape: its characters copied to `out` (zero-padded, as numpy's S36 holds them): 1. Else 0. */
static int plain_id(pos v, uint32_t len, unsigned char *out) {
    if (len < 2 || len - 2 > ID_WIDTH || v[0] != '"')
        return 0;
    for (uint32_t i = 1; i < len - 1; i++)
        if (!plain[v[i]]) /* an escape, or not ASCII */
            return 0;
    memcpy(out, v + 1, len - 2);
    return 1;
}

static Outcome add_record(Scan *scan) {
    if (scan->records == scan->record_capacity) {
        uint32_t capacity = scan->record_capacity ? scan->record_capacity * 2 : 1024;
        if (capacity > UINT32_MAX / 2)
            return NO_MEMORY;
        uint32_t *spans = realloc(scan->spans, (size_t)capacity * 2 * sizeof(uint32_t));
        if (spans == NULL)
            return NO_MEMORY;
        scan->spans = spans;
        for (int f = 0; f < scan->ncolumns; f++) {
            Column *col = &scan->columns[f];
            if (col->children)
                continue;
            uint32_t *codes = realloc(col->codes, (size_t)capacity * sizeof(uint32_t));
            if (codes == NULL)
                return NO_MEMORY;
            col->codes = codes;
        }
        if (scan->time_field >= 0) {
            int64_t *times = realloc(scan->times, (size_t)capacity * sizeof(int64_t));
            if (times == NULL)
                return NO_MEMORY;
            scan->times = times;
        }
        if (scan->object_field >= 0) {
            uint32_t *spans = realloc(scan->object_spans, (size_t)capacity * 2 * sizeof(uint32_t));
            if (spans == NULL)
                return NO_MEMORY;
            scan->object_spans = spans;
        }
        if (scan->id_field >= 0) {
            unsigned char *ids = realloc(scan->ids, (size_t)capacity * ID_WIDTH);
            if (ids == NULL)
                return NO_MEMORY;
            scan->ids = ids;
        }
        if (scan->roles.on) {
            uint32_t *codes = realloc(scan->roles.sessions.codes, (size_t)capacity * sizeof(uint32_t));
            if (codes == NULL)
                return NO_MEMORY;
            scan->roles.sessions.codes = codes;
        }
        scan->record_capacity = capacity;
    }
    int whole = kept_whole(scan);
    if (scan->roles.on) {
        Column *sessions = &scan->roles.sessions;
        sessions->len = whole ? assumed_role(scan) : 0;
        if (sessions->len)
            for (int i = 0; i < scan->roles.nclear; i++)
                scan->columns[scan->roles.clear[i]].len = 0;
        if (intern(scan, sessions, &sessions->codes[scan->records]) < 0)
            return NO_MEMORY;
    }
    if (scan->object_field >= 0) { /* none where not read whole: it may come after `keep`, not read */
        Column *col = &scan->columns[scan->object_field];
        scan->object_spans[2 * scan->records] = whole && col->len ? col->start : 0;
        scan->object_spans[2 * scan->records + 1] = whole && col->len ? col->start + col->len : 0;
    }
    if (scan->time_field >= 0) {
        Column *col = &scan->columns[scan->time_field];
        int64_t *seconds = &scan->times[scan->records];
        *seconds = !whole || col->len == 0 ? NO_TIME : 0;
        if (whole && col->len && plain_time(scan->data + col->start, col->len, seconds))
            col->len = 0; /* given: no code */
    }
    if (scan->id_field >= 0) {
        Column *col = &scan->columns[scan->id_field];
        unsigned char *id = scan->ids + (size_t)scan->records * ID_WIDTH;
        memset(id, 0, ID_WIDTH);
        if (whole && col->len && plain_id(scan->data + col->start, col->len, id))
            col->len = 0;
    }
    for (int f = 0; f < scan->ncolumns; f++) {
        Column *col = &scan->columns[f];
        if (col->children)
            continue;
        if ((!whole && f != scan->keep) || col->len == 0)
            col->codes[scan->records] = 0;
        else if (intern(scan, col, &col->codes[scan->records]) < 0)
            return NO_MEMORY;
    }
    scan->records++;
    return OK;
}

/* The array of records whose first byte is p (after "["). */
static Outcome records(Scan *scan, pos p, pos end, pos *after) {
    p = skip_ws(p, end);
    if (p < end && *p == ']') {
        *after = p + 1;
        return OK;
    }
    for (;;) {
        if (p >= end || *p != '{')
            return UNUSUAL;
        for (int f = 0; f < scan->ncolumns; f++)
            scan->columns[f].len = 0;
        pos start = p;
        Outcome outcome = members(scan, p + 1, end, -1, &p);
        if (outcome == RECHECK) { /* rare: walked again whole, as it was before it was skipped */
            for (int f = 0; f < scan->ncolumns; f++)
                scan->columns[f].len = 0;
            scan->whole_walk = 1;
            outcome = members(scan, start + 1, end, -1, &p);
            scan->whole_walk = 0;
        }
        if (outcome != OK)
            return outcome;
        outcome = add_record(scan);
        if (outcome != OK)
            return outcome;
        scan->spans[2 * (scan->records - 1)] = (uint32_t)(start - scan->data);
        scan->spans[2 * (scan->records - 1) + 1] = (uint32_t)(p - scan->data);
        int next = next_item(&p, end, ']');
        if (next != 0) {
            *after = p;
            return next > 0 ? OK : UNUSUAL;
        }
    }
}

/* The whole file: {"Records": [...]} with any other members skipped. */
static Outcome scan_file(Scan *scan, pos p, pos end) {
    int seen = 0;
    p = skip_ws(p, end);
    if (p >= end || *p != '{')
        return UNUSUAL;
    p = skip_ws(p + 1, end);
    if (p < end && *p == '}')
        return UNUSUAL;
    for (;;) {
        pos name;
        Py_ssize_t len;
        p = member_name(p, end, &name, &len, &scan->escapes);
        if (p == NULL || name == NULL)
            return UNUSUAL;
        int is_records = (len == 7 && memcmp(name, "Records", 7) == 0);
        if (is_records) {
            if (seen || p >= end || *p != '[')
                return UNUSUAL;
            seen = 1;
            Outcome outcome = records(scan, p + 1, end, &p);
            if (outcome != OK)
                return outcome;
        } else {
            p = value_end(p, end, 1, &scan->escapes);
            if (p == NULL)
                return UNUSUAL;
        }
        int next = next_item(&p, end, '}');
        if (next < 0)
            return UNUSUAL;
        if (next > 0) /* a lone surrogate escape: for the caller to repair first (scan's doc) */
            return (seen && skip_ws(p, end) == end && !(scan->escapes & LONE_SURROGATE)) ? OK : UNUSUAL;
    }
}

/* The pairs of one distinct text [p, end) of the contexts field, appended; *count is how many,
 * or NOT_PLAIN (and none appended) when the text is not an object of plain strings. */
static Outcome context_pairs(Scan *scan, pos p, pos end, uint32_t *count) {
    Contexts *ctx = &scan->contexts;
    uint32_t first = ctx->npairs;
    *count = NOT_PLAIN;
    if (p >= end || *p != '{')
        return OK;
    p = skip_ws(p + 1, end);
    if (p < end && *p == '}') {
        if (p + 1 == end)
            *count = 0;
        return OK;
    }
    for (;;) {
        int escaped = 0;
        pos key = p, value;
        if (p >= end || *p != '"' || (p = string_end(p, end, &escaped)) == NULL || escaped)
            goto not_plain;
        ctx->keys.start = (uint32_t)(key - scan->data);
        ctx->keys.len = (uint32_t)(p - key);
        p = skip_ws(p, end);
        if (p >= end || *p != ':')
            goto not_plain;
        value = p = skip_ws(p + 1, end);
        if (p >= end || *p != '"' || (p = string_end(p, end, &escaped)) == NULL || escaped)
            goto not_plain;
        ctx->values.start = (uint32_t)(value - scan->data);
        ctx->values.len = (uint32_t)(p - value);
        if (ctx->npairs - first >= MAX_PAIRS)
            goto not_plain;
        if (ctx->npairs == ctx->pair_capacity) {
            uint32_t capacity = ctx->pair_capacity ? ctx->pair_capacity * 2 : 256;
            if (capacity > UINT32_MAX / 2)
                return NO_MEMORY;
            uint32_t *keys = realloc(ctx->pair_keys, (size_t)capacity * sizeof(uint32_t));
            if (keys == NULL)
                return NO_MEMORY;
            ctx->pair_keys = keys;
            uint32_t *values = realloc(ctx->pair_values, (size_t)capacity * sizeof(uint32_t));
            if (values == NULL)
                return NO_MEMORY;
            ctx->pair_values = values;
            ctx->pair_capacity = capacity;
        }
        uint32_t key_code, value_code;
        if (intern(scan, &ctx->keys, &key_code) < 0 || intern(scan, &ctx->values, &value_code) < 0)
            return NO_MEMORY;
        for (uint32_t i = first; i < ctx->npairs; i++)
            if (ctx->pair_keys[i] == key_code) /* a key twice: which value wins is the decoder's to say */
                goto not_plain;
        ctx->pair_keys[ctx->npairs] = key_code;
        ctx->pair_values[ctx->npairs] = value_code;
        ctx->npairs++;
        int next = next_item(&p, end, '}');
        if (next < 0 || (next > 0 && p != end))
            goto not_plain;
        if (next > 0) {
            *count = ctx->npairs - first;
            return OK;
        }
    }
not_plain:
    ctx->npairs = first; /* what it interned stays, unused: harmless */
    return OK;
}

#define SUBSET "encryptionContextSubset"
#define EQUALS "encryptionContextEquals"

/* The pairs of one distinct text [p, end) of the grants field, a constraints object, appended:
 * those of its encryptionContextSubset, then of its encryptionContextEquals (as
 * contexts.of_parts orders them, whatever the text's order), their counts in counts[0] and
 * counts[1]. A member that is absent, null or not an object holds none (of_parts ignores
 * it), other members are skipped. NOT_PLAIN in counts[0] (and none appended) when the text
 * is not an object, a name is escaped or there twice, or a context is not plain. */
static Outcome grant_pairs(Scan *scan, pos p, pos end, uint32_t *counts) {
    Contexts *ctx = &scan->contexts;
    uint32_t first = ctx->npairs;
    pos spans[2][2] = {{NULL, NULL}, {NULL, NULL}};
    counts[0] = NOT_PLAIN;
    counts[1] = 0;
    if (p >= end || *p != '{')
        return OK;
    p = skip_ws(p + 1, end);
    if (p < end && *p == '}') {
        if (p + 1 == end)
            counts[0] = 0;
        return OK;
    }
    for (;;) {
        pos name, value;
        Py_ssize_t len;
        int seen = 0; /* the walk has told */
        p = member_name(p, end, &name, &len, &seen);
        if (p == NULL || name == NULL)
            return OK;
        value = p;
        p = value_end(p, end, 2, &seen);
        if (p == NULL)
            return OK;
        int which = -1;
        if (len == sizeof(SUBSET) - 1 && same_bytes(name, SUBSET, (size_t)len))
            which = 0;
        else if (len == sizeof(EQUALS) - 1 && same_bytes(name, EQUALS, (size_t)len))
            which = 1;
        if (which >= 0) {
            if (spans[which][0] != NULL)
                return OK; /* twice: which one wins is the decoder's to say */
            spans[which][0] = value;
            spans[which][1] = p;
        }
        int next = next_item(&p, end, '}');
        if (next < 0 || (next > 0 && p != end))
            return OK;
        if (next > 0)
            break;
    }
    uint32_t found[2] = {0, 0};
    for (int i = 0; i < 2; i++) {
        if (spans[i][0] == NULL || *spans[i][0] != '{')
            continue;
        Outcome outcome = context_pairs(scan, spans[i][0], spans[i][1], &found[i]);
        if (outcome != OK)
            return outcome;
        if (found[i] == NOT_PLAIN) {
            ctx->npairs = first;
            return OK;
        }
    }
    counts[0] = found[0];
    counts[1] = found[1];
    return OK;
}

/* Every distinct text of the contexts field, then of the grants field, read into pairs (after
 * the scan). */
static Outcome resolve_contexts(Scan *scan) {
    Contexts *ctx = &scan->contexts;
    if (ctx->field < 0)
        return OK;
    Column *col = &scan->columns[ctx->field];
    ctx->counts = malloc(((size_t)col->count + 1) * sizeof(uint32_t));
    if (ctx->counts == NULL)
        return NO_MEMORY;
    for (uint32_t k = 0; k < col->count; k++) {
        pos text = scan->data + col->starts[k];
        Outcome outcome = context_pairs(scan, text, text + col->lens[k], &ctx->counts[k]);
        if (outcome != OK)
            return outcome;
    }
    if (ctx->grant_field < 0)
        return OK;
    col = &scan->columns[ctx->grant_field];
    ctx->grants = malloc(((size_t)col->count + 1) * 2 * sizeof(uint32_t));
    if (ctx->grants == NULL)
        return NO_MEMORY;
    for (uint32_t k = 0; k < col->count; k++) {
        pos text = scan->data + col->starts[k];
        Outcome outcome = grant_pairs(scan, text, text + col->lens[k], &ctx->grants[2 * k]);
        if (outcome != OK)
            return outcome;
    }
    return OK;
}

/* ------------------------------------------------------------------ Python */

static PyObject *as_bytes(const void *data, size_t size) {
    return PyBytes_FromStringAndSize((const char *)data, (Py_ssize_t)size);
}

/* "role/ROLE (SESSION)" for an ARN assumed_role() accepted (its text inside the quotes):
 * valid UTF-8, as the scanner checked every string. */
static PyObject *session_short(pos arn, uint32_t len) {
    size_t prefix = sizeof(STS_PREFIX) - 2; /* without its quote */
    pos end = arn + len;
    pos p = (pos)memchr(arn + prefix, ':', len - prefix) + sizeof(ROLE_PART) - 1; /* the account holds no ':' */
    pos slash = memchr(p, '/', (size_t)(end - p));
    size_t role = (size_t)(slash - p), session = (size_t)(end - slash - 1);
    size_t size = 5 + role + 2 + session + 1;
    char stack[512];
    char *text = size <= sizeof(stack) ? stack : malloc(size);
    if (text == NULL)
        return PyErr_NoMemory();
    memcpy(text, "role/", 5);
    memcpy(text + 5, p, role);
    memcpy(text + 5 + role, " (", 2);
    memcpy(text + 7 + role, slash + 1, session);
    text[size - 1] = ')';
    PyObject *value = PyUnicode_DecodeUTF8(text, (Py_ssize_t)size, "strict");
    if (text != stack)
        free(text);
    return value;
}

/* A column's distinct values as Python objects, made by `value` from each one's text. */
typedef PyObject *(*Maker)(pos text, uint32_t len);

static PyObject *raw_text(pos text, uint32_t len) {
    return as_bytes(text, len);
}

static PyObject *distinct(Scan *scan, Column *col, Maker value) {
    PyObject *values = PyList_New(col->count);
    if (values == NULL)
        return NULL;
    for (uint32_t k = 0; k < col->count; k++) {
        PyObject *item = value(scan->data + col->starts[k], col->lens[k]);
        if (item == NULL) {
            Py_DECREF(values);
            return NULL;
        }
        PyList_SET_ITEM(values, k, item);
    }
    return values;
}

/* Appends (codes, distinct values) for a column to `columns`: 0, or -1 with an exception set. */
static int append_column(PyObject *columns, Scan *scan, Column *col, Maker value) {
    PyObject *values = distinct(scan, col, value);
    if (values == NULL)
        return -1;
    PyObject *column = Py_BuildValue("(NN)", as_bytes(col->codes, (size_t)scan->records * sizeof(uint32_t)), values);
    if (column == NULL)
        return -1;
    int failed = PyList_Append(columns, column);
    Py_DECREF(column);
    return failed;
}

/* A plain string's value from its text with quotes (valid UTF-8: the scanner checked it). */
static PyObject *quoted_text(pos text, uint32_t len) {
    return PyUnicode_DecodeUTF8((const char *)text + 1, (Py_ssize_t)len - 2, "strict");
}

/* (counts, pair keys, pair values, keys, values) for the contexts field, or None. */
static PyObject *context_result(Scan *scan) {
    Contexts *ctx = &scan->contexts;
    if (ctx->field < 0)
        return Py_NewRef(Py_None);
    PyObject *keys = distinct(scan, &ctx->keys, quoted_text);
    PyObject *values = keys == NULL ? NULL : distinct(scan, &ctx->values, quoted_text);
    if (values == NULL) {
        Py_XDECREF(keys);
        return NULL;
    }
    size_t pairs = (size_t)ctx->npairs * sizeof(uint32_t);
    PyObject *grants = ctx->grant_field < 0
                           ? Py_NewRef(Py_None)
                           : as_bytes(ctx->grants, (size_t)scan->columns[ctx->grant_field].count * 2 * sizeof(uint32_t));
    return Py_BuildValue("(NNNNNN)", as_bytes(ctx->counts, (size_t)scan->columns[ctx->field].count * sizeof(uint32_t)),
                         as_bytes(ctx->pair_keys, pairs), as_bytes(ctx->pair_values, pairs), keys, values, grants);
}

static PyObject *scan_result(Scan *scan) {
    PyObject *columns = PyList_New(0);
    if (columns == NULL)
        return NULL;
    for (int f = 0; f < scan->ncolumns; f++) {
        Column *col = &scan->columns[f];
        if (col->children ? PyList_Append(columns, Py_None) < 0 : append_column(columns, scan, col, raw_text) < 0)
            goto fail;
    }
    if (scan->roles.on && append_column(columns, scan, &scan->roles.sessions, session_short) < 0)
        goto fail;
    PyObject *pairs = context_result(scan);
    if (pairs == NULL)
        goto fail;
    PyObject *times = scan->time_field < 0 ? Py_NewRef(Py_None) : as_bytes(scan->times, (size_t)scan->records * sizeof(int64_t));
    PyObject *ids = scan->id_field < 0 ? Py_NewRef(Py_None) : as_bytes(scan->ids, (size_t)scan->records * ID_WIDTH);
    PyObject *objects = scan->object_field < 0 ? Py_NewRef(Py_None)
                                               : as_bytes(scan->object_spans, (size_t)scan->records * 2 * sizeof(uint32_t));
    return Py_BuildValue("(INNNNNN)", scan->records, as_bytes(scan->spans, (size_t)scan->records * 2 * sizeof(uint32_t)),
                         columns, pairs, times, ids, objects);
fail:
    Py_DECREF(columns);
    return NULL;
}

PyDoc_STRVAR(scan_doc,
"scan(data, fields, keep=None, roles=None, contexts=-1, times=-1, ids=-1, objects=-1, grants=-1)\n"
"    -> (count, spans, columns, pairs, times, ids, objects) or None\n\n"
"Walk a CloudTrail log file ({\"Records\": [...]}) once. ``fields`` is a sequence of\n"
"(name: bytes, parent: int): parent -1 for a field of the record, else the index of the\n"
"field it lies in (which is scanned into, not kept). ``spans`` holds each record's start\n"
"and end offsets, native uint32. Each column is (codes, values): a native uint32 code per\n"
"record (0: absent or null) and the distinct raw JSON texts, code 1 first; None for a\n"
"field that holds others. ``keep`` is (field index, raw texts): a record whose field has\n"
"none of those texts (and no escape) gets a code for that field alone, 0 for the rest\n"
"(and none in ``times``, ``ids`` and ``objects``): its members after that field are\n"
"checked as JSON and not read.\n"
"``roles`` is (type, arn, account, fields to leave out), fields of userIdentity: a record\n"
"whose principal is an assumed-role session of the plain shape (see assumed_role in\n"
"_scan.c) gets a code into one more column, appended last, of short forms\n"
"'role/ROLE (SESSION)' (str), and code 0 for the fields left out; any other record code 0\n"
"there and its fields as ever.\n"
"``contexts`` is the index of a kept field whose values are encryption contexts: ``pairs``\n"
"is then (counts, keys, values, key texts, value texts): for each distinct text of that\n"
"field (code 1 first) a native uint32 count of its pairs, or 0xFFFFFFFF for a text that is\n"
"not an object of plain strings (escapes, other values, a key twice, over 64 pairs: for\n"
"the caller to read); the pairs of every text in turn as native uint32 codes (from 1) into\n"
"the distinct key and value texts (str), in the order they are written; with ``grants``\n"
"(the index of another kept field, CreateGrant's constraints) a sixth item, two native\n"
"uint32 counts per distinct text of that field, the pairs of its encryptionContextSubset and\n"
"of its encryptionContextEquals (0xFFFFFFFF first: left to the caller), whose pairs follow\n"
"the contexts' in the same arrays, subset first; else None there. Else None.\n"
"``times`` and ``ids`` are indexes of kept fields given per record (else -1, and None):\n"
"``times`` then holds a native int64 per record, the seconds since the epoch of a plain\n"
"\"YYYY-MM-DDTHH:MM:SSZ\" (a valid date and time), -2**62 for none (absent or null), and\n"
"0 where the field has a code: any other text, for the caller to read; ``ids`` 36 bytes per\n"
"record, a plain string of at most 36 printable ASCII characters zero-padded, zeros for\n"
"none or where the field has a code. Those fields' columns hold only such other texts.\n"
"``objects`` is the index of a field holding others (else -1, and None): the start and\n"
"end of its text in each record, native uint32, 0 and 0 where it is absent or null.\n"
"None when the text is anything but plain, strict JSON of that shape: the caller then\n"
"decodes it the general way; and when a string holds a lone surrogate escape (a \\ud800\n"
"not paired), the one thing sources.repair_surrogates changes: the caller then repairs the\n"
"text and scans it again (a text it reads needs no repair).");

/* The assumed-role shortcut's fields: (type, arn, account, fields to leave out), all kept
 * fields (not holders) of one object. 0, or -1 with an exception set. */
static int parse_roles(Scan *scan, PyObject *spec) {
    Roles *roles = &scan->roles;
    PyObject *clear;
    if (!PyArg_ParseTuple(spec, "iiiO", &roles->type, &roles->arn, &roles->account, &clear))
        return -1;
    PyObject *items = PySequence_Fast(clear, "the fields to leave out must be a sequence");
    if (items == NULL)
        return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(items);
    int bad = n > MAX_FIELDS;
    for (Py_ssize_t i = 0; i < n && !bad; i++) {
        long f = PyLong_AsLong(PySequence_Fast_GET_ITEM(items, i));
        if (f == -1 && PyErr_Occurred()) {
            Py_DECREF(items);
            return -1;
        }
        bad = f < 0 || f >= scan->ncolumns;
        roles->clear[i] = (int)f;
    }
    Py_DECREF(items);
    int used[3] = {roles->type, roles->arn, roles->account};
    for (int i = 0; i < 3 && !bad; i++)
        bad = used[i] < 0 || used[i] >= scan->ncolumns;
    for (int i = 0; i < 3 && !bad; i++)
        bad = scan->columns[used[i]].children || scan->columns[used[i]].parent != scan->columns[roles->type].parent;
    for (Py_ssize_t i = 0; i < n && !bad; i++)
        bad = scan->columns[roles->clear[i]].children || roles->clear[i] == roles->account;
    if (bad) {
        PyErr_SetString(PyExc_ValueError, "roles must name fields of one object, the account not among those left out");
        return -1;
    }
    roles->nclear = (int)n;
    roles->sessions.slots = calloc(128, sizeof(Slot));
    if (roles->sessions.slots == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    roles->sessions.mask = 127;
    roles->on = 1;
    return 0;
}

static PyObject *scan(PyObject *Py_UNUSED(module), PyObject *args) {
    Py_buffer buffer;
    PyObject *fields, *keep = Py_None, *kept = NULL, *roles = Py_None;
    int contexts = -1;
    Scan scan;
    memset(&scan, 0, sizeof(scan));
    scan.keep = -1;
    scan.contexts.field = -1;
    scan.time_field = scan.id_field = scan.object_field = scan.contexts.grant_field = -1;
    int grants = -1;
    if (!PyArg_ParseTuple(args, "y*O|OOiiiii:scan", &buffer, &fields, &keep, &roles, &contexts, &scan.time_field,
                          &scan.id_field, &scan.object_field, &grants))
        return NULL;
    PyObject *result = NULL;
    PyObject *items = PySequence_Fast(fields, "fields must be a sequence");
    if (items == NULL)
        goto done;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(items);
    if (n > MAX_FIELDS) {
        PyErr_SetString(PyExc_ValueError, "too many fields");
        goto done;
    }
    for (Py_ssize_t f = 0; f < n; f++) {
        Column *col = &scan.columns[f];
        const char *name;
        Py_ssize_t name_len;
        int parent;
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(items, f), "y#i", &name, &name_len, &parent))
            goto done;
        if (name_len >= NAME_BUCKETS) {
            PyErr_SetString(PyExc_ValueError, "field name too long");
            goto done;
        }
        if (parent < -1 || parent >= f || (parent >= 0 && scan.columns[parent].parent != -1)) {
            PyErr_SetString(PyExc_ValueError, "a field's parent must be an earlier field of the record");
            goto done;
        }
        col->name = name; /* borrowed: `items` keeps the bytes alive */
        col->name_len = name_len;
        col->parent = parent;
        if (parent >= 0)
            scan.columns[parent].children++;
        scan.ncolumns++;
    }
    index_names(&scan);
    if (keep != Py_None) {
        PyObject *texts;
        if (!PyArg_ParseTuple(keep, "iO", &scan.keep, &texts))
            goto done;
        kept = PySequence_Fast(texts, "keep's texts must be a sequence");
        if (kept == NULL)
            goto done;
        scan.nkept = PySequence_Fast_GET_SIZE(kept);
        if (scan.keep < 0 || scan.keep >= scan.ncolumns || scan.columns[scan.keep].parent != -1 || scan.nkept > MAX_KEPT) {
            PyErr_SetString(PyExc_ValueError, "keep must name a field of the record, with at most 16 texts");
            goto done;
        }
        for (Py_ssize_t i = 0; i < scan.nkept; i++) {
            char *text;
            if (PyBytes_AsStringAndSize(PySequence_Fast_GET_ITEM(kept, i), &text, &scan.kept_len[i]) < 0)
                goto done;
            scan.kept[i] = text; /* borrowed: `kept` keeps the bytes alive */
        }
    }
    if (roles != Py_None && parse_roles(&scan, roles) < 0)
        goto done;
    if (contexts != -1) {
        if (contexts < 0 || contexts >= scan.ncolumns || scan.columns[contexts].children) {
            PyErr_SetString(PyExc_ValueError, "contexts must name a kept field");
            goto done;
        }
        Column *texts[2] = {&scan.contexts.keys, &scan.contexts.values};
        for (int i = 0; i < 2; i++) {
            texts[i]->slots = calloc(128, sizeof(Slot));
            if (texts[i]->slots == NULL) {
                PyErr_NoMemory();
                goto done;
            }
            texts[i]->mask = 127;
        }
        scan.contexts.field = contexts;
    }
    if (grants != -1) {
        if (contexts == -1 || grants < 0 || grants >= scan.ncolumns || scan.columns[grants].children ||
            grants == contexts) {
            PyErr_SetString(PyExc_ValueError, "grants must name another kept field, with contexts");
            goto done;
        }
        scan.contexts.grant_field = grants;
    }
    if (scan.object_field < -1 || scan.object_field >= scan.ncolumns ||
        (scan.object_field >= 0 && !scan.columns[scan.object_field].children)) {
        PyErr_SetString(PyExc_ValueError, "objects must name a field holding others");
        goto done;
    }
    int unique[2] = {scan.time_field, scan.id_field};
    for (int i = 0; i < 2; i++) {
        if (unique[i] < -1 || unique[i] >= scan.ncolumns || (unique[i] >= 0 && scan.columns[unique[i]].children) ||
            (unique[i] >= 0 && (unique[i] == scan.keep || unique[i] == contexts || unique[1 - i] == unique[i]))) {
            PyErr_SetString(PyExc_ValueError, "times and ids must name two other kept fields");
            goto done;
        }
    }
    if (scan.roles.on && (unique[0] >= 0 || unique[1] >= 0)) {
        Roles *r = &scan.roles;
        int bad = unique[0] == r->type || unique[0] == r->arn || unique[0] == r->account || unique[1] == r->type ||
                  unique[1] == r->arn || unique[1] == r->account;
        for (int i = 0; i < r->nclear && !bad; i++)
            bad = r->clear[i] >= 0 && (r->clear[i] == unique[0] || r->clear[i] == unique[1]);
        if (bad) {
            PyErr_SetString(PyExc_ValueError, "times and ids must not be fields the roles read");
            goto done;
        }
    }
    for (int f = 0; f < scan.ncolumns; f++) {
        Column *col = &scan.columns[f];
        if (col->children)
            continue;
        col->slots = calloc(128, sizeof(Slot));
        if (col->slots == NULL) {
            PyErr_NoMemory();
            goto done;
        }
        col->mask = 127;
    }
    if (buffer.len >= (Py_ssize_t)UINT32_MAX) { /* offsets are 32-bit */
        result = Py_NewRef(Py_None);
        goto done;
    }
    scan.data = buffer.buf;
    Outcome outcome;
    Py_BEGIN_ALLOW_THREADS
    outcome = scan_file(&scan, scan.data, scan.data + buffer.len);
    if (outcome == OK)
        outcome = resolve_contexts(&scan);
    Py_END_ALLOW_THREADS
    if (outcome == NO_MEMORY)
        PyErr_NoMemory();
    else if (outcome == UNUSUAL)
        result = Py_NewRef(Py_None);
    else
        result = scan_result(&scan);
done:
    Py_XDECREF(kept);
    Py_XDECREF(items);
    scan_free(&scan);
    PyBuffer_Release(&buffer);
    return result;
}

PyDoc_STRVAR(surrogate_escapes_doc,
"surrogate_escapes(data) -> bool\n\n"
"Whether the text holds \\ud or \\uD anywhere (a possible surrogate escape): the test\n"
"sources.repair_surrogates makes before it looks closely, at memchr's speed.");

static PyObject *surrogate_escapes(PyObject *Py_UNUSED(module), PyObject *args) {
    Py_buffer buffer;
    if (!PyArg_ParseTuple(args, "y*:surrogate_escapes", &buffer))
        return NULL;
    pos p = buffer.buf, end = p + buffer.len;
    int found = 0;
    Py_BEGIN_ALLOW_THREADS
    while (end - p >= 3) {
        pos slash = memchr(p, '\\', (size_t)(end - p - 2)); /* room for "ud" after it */
        if (slash == NULL)
            break;
        if (slash[1] == 'u' && (slash[2] == 'd' || slash[2] == 'D')) {
            found = 1;
            break;
        }
        p = slash + 1;
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&buffer);
    return PyBool_FromLong(found);
}

/* ---- After the scan: a file's encryption contexts into a batch's (contexts.py, of_scanned) ---- */

PyDoc_STRVAR(context_codes_doc,
"context_codes(known, keys, values, raws, used, counts, starts, pair_keys, pair_values,\n"
"              key_texts, value_texts, first, subsets, labels, /)\n"
"              -> (answers, sizes, pairs, key_codes, value_codes, left, added)\n\n"
"A file's encryption contexts (``used``: native int64 codes into ``raws``, the scanner's\n"
"distinct texts of the field, None first) as a batch's _ContextBuilder takes them, in one\n"
"pass. A context set is known by its pairs: ``known`` maps texts to context codes, each set's\n"
"identity (contexts.identity: its pairs sorted, as one JSON object; where ``subsets``, native\n"
"uint32 per text, else None, says how many of a grant's first pairs are its subset\n"
"constraint, b\"\\0\" and each group under its label, ``labels`` the subset's and the\n"
"equals'), and raw texts met before. A text not known that the scanner read into pairs\n"
"(``counts``: native uint32 per distinct text, 0xFFFFFFFF for one it did not; ``starts``:\n"
"native int64) is its identity's set: one met before keeps its code (and the text is known\n"
"from now on), a new one is numbered from ``first`` in order and its identity added (0 for\n"
"a text without pairs; the text of a new set that is not its identity is not kept: most are\n"
"met once). The pairs (``pair_keys``, ``pair_values``: native uint32 codes from 1\n"
"into ``key_texts`` and ``value_texts``, str) must be the scanner's reading of each raw text\n"
"(plain strings: a raw text in key order and of the compact size is its own identity). The\n"
"new sets' pairs' key and value texts are looked up in the ``keys`` and ``values`` vocabularies (text -> code from 0), each\n"
"distinct text once, the new ones added in the order of the texts. ``answers``: native\n"
"uint32, a code per used text (those in ``left`` still to be read by Python); ``sizes``:\n"
"native int64 pair counts of the sets added; ``pairs``: native int64, their pairs' places\n"
"among the scanner's, in the text's order; ``key_codes`` and ``value_codes``: native uint32,\n"
"their vocabulary codes; ``left``: the places in ``used`` of the new texts the scanner did\n"
"not read, in order; ``added``: how many sets it added. What contexts.py does in numpy and\n"
"Python (the reference, and the path without it).");

/* The code ``dict`` holds for ``key`` (a Python int from 0 to UINT32_MAX), else ``fresh``,
 * which it then holds (``*added`` set to 1): -1 with an exception set (``what`` for a code out
 * of range) when that fails. A batch vocabulary's get-or-add, as vocab_codes and session_codes
 * do it for each distinct text. */
static long code_of(PyObject *dict, PyObject *key, long fresh, int *added, const char *what) {
    *added = 0;
    PyObject *found = PyDict_GetItemWithError(dict, key);
    long code;
    if (found != NULL) {
        code = PyLong_AsLong(found);
        if (code == -1 && PyErr_Occurred())
            return -1;
    } else {
        if (PyErr_Occurred())
            return -1;
        PyObject *number = PyLong_FromLong(fresh);
        if (number == NULL)
            return -1;
        int failed = PyDict_SetItem(dict, key, number);
        Py_DECREF(number);
        if (failed)
            return -1;
        code = fresh;
        *added = 1;
    }
    if (code < 0 || code > (long)UINT32_MAX) {
        PyErr_SetString(PyExc_ValueError, what);
        return -1;
    }
    return code;
}

/* The vocabulary code of each distinct text ``codes`` name (code c is texts[c - shift], from 1,
 * 0 for none: checked by the caller), the new ones added to ``vocab`` in the order of the
 * texts; then each code replaced by its vocabulary code. */
static int vocab_codes(PyObject *vocab, PyObject *texts, Py_ssize_t shift, uint32_t *codes, Py_ssize_t count) {
    Py_ssize_t size = PyList_GET_SIZE(texts) - 1 + shift; /* the highest code */
    uint32_t *table = PyMem_Calloc((size_t)size + 1, sizeof(uint32_t));
    unsigned char *wanted = PyMem_Calloc((size_t)size + 1, 1);
    int ok = 0;
    if (table == NULL || wanted == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < count; i++)
        wanted[codes[i]] = 1;
    for (Py_ssize_t t = 1; t <= size; t++) {
        if (!wanted[t])
            continue;
        PyObject *text = PyList_GET_ITEM(texts, t - shift);
        int is_new;
        long code = code_of(vocab, text, (long)PyDict_GET_SIZE(vocab), &is_new, "a vocabulary code out of range");
        if (code < 0)
            goto done;
        table[t] = (uint32_t)code;
    }
    for (Py_ssize_t i = 0; i < count; i++)
        codes[i] = codes[i] ? table[codes[i]] : 0;
    ok = 1;
done:
    PyMem_Free(table);
    PyMem_Free(wanted);
    return ok;
}

typedef struct { /* a str's UTF-8 as context_identity writes it */
    const char *utf8;
    Py_ssize_t len;
    int escapes; /* holds a quote or a backslash (no plain text of the scanner's does); -1: not looked */
} Utf8;

/* Appends i to list as a Python int: 0, or -1 with an exception set. */
static int append_index(PyObject *list, Py_ssize_t i) {
    PyObject *at = PyLong_FromSsize_t(i);
    if (at == NULL)
        return -1;
    int failed = PyList_Append(list, at);
    Py_DECREF(at);
    return failed;
}

static PyObject *context_identity(PyObject *raw, PyObject *key_texts, PyObject *value_texts, Utf8 *keys_seen,
                                  const uint32_t *pair_key, const uint32_t *pair_value, int64_t start, uint32_t size,
                                  uint32_t subset, PyObject *labels);

static PyObject *context_codes(PyObject *Py_UNUSED(module), PyObject *args) {
    PyObject *known, *keys, *values, *raws, *key_texts, *value_texts, *subsets_given, *labels;
    Py_buffer used = {0}, counts = {0}, starts = {0}, pair_keys = {0}, pair_values = {0}, subsets = {0};
    Py_ssize_t first;
    PyObject *result = NULL, *left = NULL, *answers = NULL, *sizes = NULL, *pairs = NULL;
    PyObject *key_codes = NULL, *value_codes = NULL;
    unsigned char *fresh = NULL;
    Utf8 *keys_seen = NULL;
    if (!PyArg_ParseTuple(args, "O!O!O!O!y*y*y*y*y*O!O!nOO:context_codes", &PyDict_Type, &known, &PyDict_Type,
                          &keys, &PyDict_Type, &values, &PyList_Type, &raws, &used, &counts, &starts, &pair_keys,
                          &pair_values, &PyList_Type, &key_texts, &PyList_Type, &value_texts, &first, &subsets_given,
                          &labels))
        return NULL;
    if (subsets_given != Py_None && PyObject_GetBuffer(subsets_given, &subsets, PyBUF_SIMPLE) < 0)
        goto done;
    Py_ssize_t n = used.len / (Py_ssize_t)sizeof(int64_t), texts = counts.len / (Py_ssize_t)sizeof(uint32_t);
    Py_ssize_t all_pairs = pair_keys.len / (Py_ssize_t)sizeof(uint32_t);
    const int64_t *use = used.buf, *start = starts.buf;
    const uint32_t *count = counts.buf, *pair_key = pair_keys.buf, *pair_value = pair_values.buf;
    const uint32_t *subset = subsets_given != Py_None ? subsets.buf : NULL;
    if (used.len % (Py_ssize_t)sizeof(int64_t) || counts.len % (Py_ssize_t)sizeof(uint32_t) ||
        starts.len != texts * (Py_ssize_t)sizeof(int64_t) || pair_keys.len % (Py_ssize_t)sizeof(uint32_t) ||
        pair_values.len != pair_keys.len || PyList_GET_SIZE(raws) != texts + 1 || first < 1 ||
        first > (Py_ssize_t)UINT32_MAX ||
        (subset != NULL && (subsets.len != counts.len || !PyTuple_Check(labels) || PyTuple_GET_SIZE(labels) != 2)) ||
        (subset == NULL && labels != Py_None)) {
        PyErr_SetString(PyExc_ValueError, "context_codes: arguments of unequal or odd sizes");
        goto done;
    }
    left = PyList_New(0);
    answers = PyBytes_FromStringAndSize(NULL, n * (Py_ssize_t)sizeof(uint32_t));
    fresh = PyMem_Calloc((size_t)n + 1, 1);
    keys_seen = PyMem_Calloc((size_t)PyList_GET_SIZE(key_texts) + 1, sizeof(Utf8)); /* a few keys, many pairs */
    if (left == NULL || answers == NULL || fresh == NULL || keys_seen == NULL) {
        if (fresh == NULL || keys_seen == NULL)
            PyErr_NoMemory();
        goto done;
    }
    uint32_t *answer = (uint32_t *)PyBytes_AS_STRING(answers);
    Py_ssize_t next = first, total = 0, added = 0;
    for (Py_ssize_t i = 0; i < n; i++) { /* known, none, a set met before, or new: read by the scanner or left */
        int64_t code = use[i];
        answer[i] = 0;
        if (code < 0 || code > texts) {
            PyErr_SetString(PyExc_ValueError, "context_codes: a code out of range");
            goto done;
        }
        if (code == 0)
            continue;
        PyObject *raw = PyList_GET_ITEM(raws, code);
        PyObject *found = PyDict_GetItemWithError(known, raw);
        if (found != NULL) {
            long value = PyLong_AsLong(found);
            if (value == -1 && PyErr_Occurred())
                goto done;
            if (value < 0 || value > (long)UINT32_MAX) {
                PyErr_SetString(PyExc_ValueError, "context_codes: a known code out of range");
                goto done;
            }
            answer[i] = (uint32_t)value;
            continue;
        }
        if (PyErr_Occurred())
            goto done;
        uint32_t size = count[code - 1];
        if (size == 0xFFFFFFFFu) { /* not plain: Python's to read */
            if (append_index(left, i))
                goto done;
            continue;
        }
        if (start[code - 1] < 0 || start[code - 1] > all_pairs || (int64_t)size > all_pairs - start[code - 1] ||
            (subset != NULL && subset[code - 1] > size)) {
            PyErr_SetString(PyExc_ValueError, "context_codes: pairs out of range");
            goto done;
        }
        long set = 0;
        PyObject *identity = NULL, *number = NULL; /* the set's code, once made */
        if (size) { /* which set its pairs are: one met before, or a new one */
            if (next > (Py_ssize_t)UINT32_MAX) {
                PyErr_SetString(PyExc_ValueError, "context_codes: too many contexts");
                goto done;
            }
            identity = context_identity(raw, key_texts, value_texts, keys_seen, pair_key, pair_value, start[code - 1],
                                        size, subset != NULL ? subset[code - 1] : size, labels);
            if (identity == NULL) {
                if (!PyErr_ExceptionMatches(PyExc_UnicodeError))
                    goto done;
                PyErr_Clear(); /* text UTF-8 cannot hold (no plain text has it): Python's to read */
                if (append_index(left, i))
                    goto done;
                continue;
            }
            int is_new = 1;
            if (identity == raw) { /* not known, as looked up above: a new set */
                number = PyLong_FromSsize_t(next);
                set = number == NULL || PyDict_SetItem(known, raw, number) ? -1 : (long)next;
            } else {
                PyObject *fresh_number = PyLong_FromSsize_t(next);
                number = fresh_number == NULL ? NULL : PyDict_SetDefault(known, identity, fresh_number);
                Py_XINCREF(number);
                Py_XDECREF(fresh_number);
                set = number == NULL ? -1 : PyLong_AsLong(number);
                if (set == -1 && !PyErr_Occurred())
                    PyErr_SetString(PyExc_ValueError, "context_codes: a known code out of range");
                else if (set < 0 || set > (long)UINT32_MAX) {
                    PyErr_SetString(PyExc_ValueError, "context_codes: a known code out of range");
                    set = -1;
                }
                is_new = set == (long)next;
            }
            if (set < 0) {
                Py_DECREF(identity);
                Py_XDECREF(number);
                goto done;
            }
            if (is_new) {
                next++;
                fresh[i] = 1;
                added++;
                total += size;
            }
        }
        answer[i] = (uint32_t)set;
        if (identity != raw && !fresh[i]) { /* a set met before under another text: known from now on */
            if (number == NULL)
                number = PyLong_FromLong(set);
            int failed = number == NULL || PyDict_SetItem(known, raw, number);
            if (failed) {
                Py_XDECREF(number);
                Py_XDECREF(identity);
                goto done;
            }
        }
        Py_XDECREF(number);
        Py_XDECREF(identity);
    }
    sizes = PyBytes_FromStringAndSize(NULL, added * (Py_ssize_t)sizeof(int64_t));
    pairs = PyBytes_FromStringAndSize(NULL, total * (Py_ssize_t)sizeof(int64_t));
    key_codes = PyBytes_FromStringAndSize(NULL, total * (Py_ssize_t)sizeof(uint32_t));
    value_codes = PyBytes_FromStringAndSize(NULL, total * (Py_ssize_t)sizeof(uint32_t));
    if (sizes == NULL || pairs == NULL || key_codes == NULL || value_codes == NULL)
        goto done;
    int64_t *size_of = (int64_t *)PyBytes_AS_STRING(sizes), *pair = (int64_t *)PyBytes_AS_STRING(pairs);
    uint32_t *key_code = (uint32_t *)PyBytes_AS_STRING(key_codes);
    uint32_t *value_code = (uint32_t *)PyBytes_AS_STRING(value_codes);
    Py_ssize_t at = 0, context = 0;
    for (Py_ssize_t i = 0; i < n; i++) { /* the new sets' pairs gathered (their texts checked by context_identity) */
        if (!fresh[i])
            continue;
        int64_t code = use[i];
        uint32_t size = count[code - 1];
        size_of[context++] = size;
        for (int64_t p = start[code - 1]; p < start[code - 1] + (int64_t)size; p++, at++) {
            pair[at] = p;
            key_code[at] = pair_key[p];
            value_code[at] = pair_value[p];
        }
    }
    if (!vocab_codes(keys, key_texts, 1, key_code, total) || !vocab_codes(values, value_texts, 1, value_code, total))
        goto done;
    result = Py_BuildValue("(OOOOOOn)", answers, sizes, pairs, key_codes, value_codes, left, added);
done:
    PyMem_Free(fresh);
    PyMem_Free(keys_seen);
    Py_XDECREF(answers);
    Py_XDECREF(sizes);
    Py_XDECREF(pairs);
    Py_XDECREF(key_codes);
    Py_XDECREF(value_codes);
    Py_XDECREF(left);
    PyBuffer_Release(&used);
    PyBuffer_Release(&counts);
    PyBuffer_Release(&starts);
    PyBuffer_Release(&pair_keys);
    PyBuffer_Release(&pair_values);
    if (subsets.obj != NULL)
        PyBuffer_Release(&subsets);
    return result;
}

PyDoc_STRVAR(recode_doc,
"recode(vocab, values, codes, /) -> bytes\n\n"
"A column in a batch vocabulary's codes: ``codes`` (native uint32, one a row) index\n"
"``values`` (the file's distinct values, None first: code 0 is none, 0 in every batch\n"
"vocabulary); each value the rows use is looked up in ``vocab`` once, the new ones added\n"
"in the order of their codes. Native uint32, one a row: what decode._recode does with\n"
"_intern_many (the reference, and the way without it).");

static PyObject *recode(PyObject *Py_UNUSED(module), PyObject *args) {
    PyObject *vocab, *values, *result = NULL;
    Py_buffer codes = {0};
    if (!PyArg_ParseTuple(args, "O!O!y*:recode", &PyDict_Type, &vocab, &PyList_Type, &values, &codes))
        return NULL;
    Py_ssize_t count = codes.len / (Py_ssize_t)sizeof(uint32_t), size = PyList_GET_SIZE(values);
    const uint32_t *code = codes.buf;
    if (codes.len % (Py_ssize_t)sizeof(uint32_t) || size < 1) {
        PyErr_SetString(PyExc_ValueError, "recode: codes of an odd size, or no values");
        goto done;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        if (code[i] >= (uint64_t)size) {
            PyErr_SetString(PyExc_ValueError, "recode: a code past the values");
            goto done;
        }
    }
    result = PyBytes_FromStringAndSize(codes.buf, codes.len);
    if (result != NULL && !vocab_codes(vocab, values, 0, (uint32_t *)PyBytes_AS_STRING(result), count))
        Py_CLEAR(result);
done:
    PyBuffer_Release(&codes);
    return result;
}

/* ---- After the scan: a file's assumed-role sessions into a batch's principals (principals.py) ---- */

PyDoc_STRVAR(session_codes_doc,
"session_codes(known, shorts, kinds, codes, sessions, /) -> (principals, new_kinds)\n\n"
"A file's assumed-role sessions as a batch's PrincipalTable takes them, in one pass over\n"
"the rows: row i is the session ``sessions[codes[i]]`` (a str; ``codes``: native uint32, 0\n"
"for none, principal 0) of the kind ``kinds[i]`` (native uint32). Each distinct (session,\n"
"kind) is looked up once in ``known`` (kind -> {short form -> principal code}, the inner\n"
"dicts made as needed); a new one is numbered len(``shorts``), appended to ``shorts`` and\n"
"added to ``known``, in the order first met. ``principals``: native uint32, a code a row;\n"
"``new_kinds``: native uint32, the kind of each principal added, in order. What\n"
"PrincipalTable._sessions does in numpy and Python (the reference, and the way without it).");

static PyObject *session_codes(PyObject *Py_UNUSED(module), PyObject *args) {
    PyObject *known, *shorts, *sessions, *result = NULL, *out = NULL, *added = NULL;
    Py_buffer kinds = {0}, codes = {0};
    uint32_t *seen_kind = NULL, *seen_code = NULL, *new_kind = NULL;
    if (!PyArg_ParseTuple(args, "O!O!y*y*O!:session_codes", &PyDict_Type, &known, &PyList_Type, &shorts, &kinds,
                          &codes, &PyList_Type, &sessions))
        return NULL;
    Py_ssize_t n = codes.len / (Py_ssize_t)sizeof(uint32_t), texts = PyList_GET_SIZE(sessions);
    const uint32_t *kind = kinds.buf, *code = codes.buf;
    if (codes.len % (Py_ssize_t)sizeof(uint32_t) || kinds.len != codes.len || texts < 1) {
        PyErr_SetString(PyExc_ValueError, "session_codes: arguments of unequal or odd sizes");
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (code[i] >= (uint64_t)texts || (code[i] && !PyUnicode_CheckExact(PyList_GET_ITEM(sessions, code[i])))) {
            PyErr_SetString(PyExc_ValueError, "session_codes: a code past the sessions, or a session not a str");
            goto done;
        }
    }
    /* the first kind met with each session text (+1, 0 for none yet) and its principal: a
     * session comes back under the same kind, so the rest of its rows are answered here */
    seen_kind = PyMem_Calloc((size_t)texts, sizeof(uint32_t));
    seen_code = PyMem_Calloc((size_t)texts, sizeof(uint32_t));
    new_kind = PyMem_Malloc(((size_t)n + 1) * sizeof(uint32_t));
    out = PyBytes_FromStringAndSize(NULL, n * (Py_ssize_t)sizeof(uint32_t));
    if (seen_kind == NULL || seen_code == NULL || new_kind == NULL || out == NULL) {
        if (out != NULL)
            PyErr_NoMemory();
        goto done;
    }
    uint32_t *answer = (uint32_t *)PyBytes_AS_STRING(out);
    Py_ssize_t fresh = 0;
    PyObject *table = NULL; /* borrowed from known: the dict of the kind last asked for */
    uint32_t table_kind = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        uint32_t c = code[i], k = kind[i];
        if (c == 0) {
            answer[i] = 0;
            continue;
        }
        if (k == UINT32_MAX) {
            PyErr_SetString(PyExc_ValueError, "session_codes: a kind out of range");
            goto done;
        }
        if (seen_kind[c] == k + 1) {
            answer[i] = seen_code[c];
            continue;
        }
        if (table == NULL || table_kind != k) {
            PyObject *key = PyLong_FromUnsignedLong(k);
            if (key == NULL)
                goto done;
            table = PyDict_GetItemWithError(known, key);
            if (table == NULL && !PyErr_Occurred()) {
                PyObject *made = PyDict_New();
                if (made != NULL && PyDict_SetItem(known, key, made) == 0)
                    table = made; /* known holds it */
                Py_XDECREF(made);
            }
            Py_DECREF(key);
            if (table == NULL)
                goto done;
            if (!PyDict_Check(table)) {
                table = NULL;
                PyErr_SetString(PyExc_ValueError, "session_codes: a kind's principals not a dict");
                goto done;
            }
            table_kind = k;
        }
        PyObject *text = PyList_GET_ITEM(sessions, c);
        int is_new;
        long principal = code_of(table, text, (long)PyList_GET_SIZE(shorts), &is_new,
                                 "session_codes: a principal code out of range");
        if (principal < 0)
            goto done;
        if (is_new) {
            if (PyList_Append(shorts, text))
                goto done;
            new_kind[fresh++] = k;
        }
        answer[i] = (uint32_t)principal;
        if (seen_kind[c] == 0) {
            seen_kind[c] = k + 1;
            seen_code[c] = (uint32_t)principal;
        }
    }
    added = PyBytes_FromStringAndSize((const char *)new_kind, fresh * (Py_ssize_t)sizeof(uint32_t));
    if (added != NULL)
        result = PyTuple_Pack(2, out, added);
done:
    PyMem_Free(seen_kind);
    PyMem_Free(seen_code);
    PyMem_Free(new_kind);
    Py_XDECREF(out);
    Py_XDECREF(added);
    PyBuffer_Release(&kinds);
    PyBuffer_Release(&codes);
    return result;
}

/* ---- After the scan: rows grouped by the combination of their codes in several columns (decode.py) ---- */

PyDoc_STRVAR(group_rows_doc,
"group_rows(columns, rows, /) -> (group, firsts)\n\n"
"Rows grouped by the combination of their codes in ``columns`` (each native uint32, ``rows``\n"
"codes long), in one pass with a hash table: ``group``, native int64, each row's group,\n"
"groups numbered in the order they first occur; ``firsts``, native int64, the first row of\n"
"each group. What decode._combinations does in numpy (the reference, and the way without it).");

static PyObject *group_rows(PyObject *Py_UNUSED(module), PyObject *args) {
    PyObject *list, *result = NULL, *groups = NULL, *firsts = NULL;
    Py_ssize_t n;
    Py_buffer *views = NULL;
    Py_ssize_t held = 0, width = 0;
    int64_t *slots = NULL;
    if (!PyArg_ParseTuple(args, "O!n:group_rows", &PyList_Type, &list, &n))
        return NULL;
    width = PyList_GET_SIZE(list);
    if (n < 0 || n > (Py_ssize_t)(INT64_MAX / 4)) {
        PyErr_SetString(PyExc_ValueError, "group_rows: a row count out of range");
        return NULL;
    }
    views = PyMem_Calloc((size_t)width + 1, sizeof(Py_buffer));
    if (views == NULL)
        return PyErr_NoMemory();
    for (; held < width; held++) {
        if (PyObject_GetBuffer(PyList_GET_ITEM(list, held), &views[held], PyBUF_SIMPLE) < 0)
            goto done;
        if (views[held].len != n * (Py_ssize_t)sizeof(uint32_t)) {
            held++;
            PyErr_SetString(PyExc_ValueError, "group_rows: a column not of the rows' length");
            goto done;
        }
    }
    size_t size = 16;
    while (size < 2 * (size_t)n)
        size <<= 1;
    slots = PyMem_Malloc(size * sizeof(int64_t)); /* a group's number, -1 for an empty slot */
    groups = PyBytes_FromStringAndSize(NULL, n * (Py_ssize_t)sizeof(int64_t));
    firsts = PyBytes_FromStringAndSize(NULL, n * (Py_ssize_t)sizeof(int64_t));
    if (slots == NULL || groups == NULL || firsts == NULL) {
        if (slots == NULL)
            PyErr_NoMemory();
        goto done;
    }
    memset(slots, 0xFF, size * sizeof(int64_t));
    int64_t *group = (int64_t *)PyBytes_AS_STRING(groups), *first = (int64_t *)PyBytes_AS_STRING(firsts);
    int64_t count = 0;
    for (Py_ssize_t row = 0; row < n; row++) {
        uint64_t h = 0x9E3779B97F4A7C15ULL;
        for (Py_ssize_t c = 0; c < width; c++) {
            h ^= ((const uint32_t *)views[c].buf)[row];
            h *= 0xBF58476D1CE4E5B9ULL;
            h ^= h >> 29;
        }
        size_t at = (size_t)h & (size - 1);
        for (;;) {
            int64_t g = slots[at];
            if (g < 0) { /* a new combination */
                slots[at] = count;
                first[count] = row;
                group[row] = count++;
                break;
            }
            Py_ssize_t other = (Py_ssize_t)first[g], c = 0;
            while (c < width &&
                   ((const uint32_t *)views[c].buf)[row] == ((const uint32_t *)views[c].buf)[other])
                c++;
            if (c == width) {
                group[row] = g;
                break;
            }
            at = (at + 1) & (size - 1);
        }
    }
    PyObject *kept = PyBytes_FromStringAndSize(PyBytes_AS_STRING(firsts), count * (Py_ssize_t)sizeof(int64_t));
    if (kept != NULL) {
        result = PyTuple_Pack(2, groups, kept);
        Py_DECREF(kept);
    }
done:
    for (Py_ssize_t c = 0; c < held; c++)
        PyBuffer_Release(&views[c]);
    PyMem_Free(views);
    PyMem_Free(slots);
    Py_XDECREF(groups);
    Py_XDECREF(firsts);
    return result;
}

/* ---- A batch's texts as one blob (batch.Texts, PrincipalPart), with their digests (arena.text_digests) ---- */

PyDoc_STRVAR(encoded_texts_doc,
"encoded_texts(texts, digests, /) -> (blob, ends, digests) | None\n\n"
"``texts`` (a list of str) encoded in UTF-8 and joined, in one pass: ``ends``, native int64,\n"
"len(texts) + 1 of them from 0, where each text ends in ``blob``; with ``digests`` true, each\n"
"text's 64-bit digest as arena.text_digests computes it (native uint64: the sum of its bytes\n"
"times 0x100000001B3 to the power of their place, plus its length times 0x9E3779B97F4A7C15,\n"
"modulo 2**64), else None. None when a text is not a str or cannot be encoded so (a lone\n"
"surrogate): arena.encoded and text_digests then do it (the reference, and the way without it).");

#define DIGEST_MULTIPLIER 0x100000001B3ULL
#define DIGEST_LENGTH 0x9E3779B97F4A7C15ULL

static PyObject *encoded_texts(PyObject *Py_UNUSED(module), PyObject *args) {
    PyObject *texts, *blob = NULL, *ends = NULL, *digests = NULL, *result = NULL;
    int with_digests;
    if (!PyArg_ParseTuple(args, "O!p:encoded_texts", &PyList_Type, &texts, &with_digests))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(texts), total = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *text = PyList_GET_ITEM(texts, i);
        Py_ssize_t size;
        if (!PyUnicode_Check(text))
            Py_RETURN_NONE;
        if (PyUnicode_AsUTF8AndSize(text, &size) == NULL) {
            if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError))
                return NULL;
            PyErr_Clear();
            Py_RETURN_NONE;
        }
        if (size > PY_SSIZE_T_MAX - total)
            return PyErr_NoMemory();
        total += size;
    }
    blob = PyBytes_FromStringAndSize(NULL, total);
    ends = PyBytes_FromStringAndSize(NULL, (n + 1) * (Py_ssize_t)sizeof(int64_t));
    digests = with_digests ? PyBytes_FromStringAndSize(NULL, n * (Py_ssize_t)sizeof(uint64_t)) : Py_NewRef(Py_None);
    if (blob == NULL || ends == NULL || digests == NULL)
        goto done;
    unsigned char *out = (unsigned char *)PyBytes_AS_STRING(blob);
    int64_t *end = (int64_t *)PyBytes_AS_STRING(ends);
    uint64_t *digest = with_digests ? (uint64_t *)PyBytes_AS_STRING(digests) : NULL;
    Py_ssize_t at = 0;
    end[0] = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_ssize_t size;
        const char *text = PyUnicode_AsUTF8AndSize(PyList_GET_ITEM(texts, i), &size); /* cached above */
        if (text == NULL || size > total - at) {
            if (text != NULL)
                PyErr_SetString(PyExc_ValueError, "encoded_texts: the texts changed");
            goto done;
        }
        memcpy(out + at, text, (size_t)size);
        if (digest != NULL) {
            uint64_t sum = 0, power = 1;
            const unsigned char *b = out + at;
            for (Py_ssize_t k = 0; k < size; k++) {
                sum += (uint64_t)b[k] * power;
                power *= DIGEST_MULTIPLIER;
            }
            digest[i] = sum + (uint64_t)size * DIGEST_LENGTH;
        }
        at += size;
        end[i + 1] = at;
    }
    result = PyTuple_Pack(3, blob, ends, digests);
done:
    Py_XDECREF(blob);
    Py_XDECREF(ends);
    Py_XDECREF(digests);
    return result;
}

/* ---- After the scan: a batch's event ids packed as the index keeps them (batch.packed_ids) ---- */

PyDoc_STRVAR(packed_ids_doc,
"packed_ids(ids, /) -> (packed, upper, odd)\n\n"
"Event ids, ``ids`` a buffer of 36-byte texts (numpy S36: an id zero-padded), packed as the\n"
"index keeps them: a UUID (its 32 hex digits all in one case, its four dashes in place, not\n"
"the nil UUID) as its 16 bytes, anything else as 16 zero bytes. ``packed``: a bytearray of\n"
"16 bytes an id; ``upper``: a byte an id, 1 where a UUID is written in upper case; ``odd``:\n"
"the positions, ascending, of the ids that are not UUIDs and not empty (their texts are\n"
"kept whole). What batch._packed_ids_numpy does (the reference, and the way without it).");

#define HEX_NOT 0x10
#define HEX_UPPER 0x20
#define HEX_LOWER 0x40

static unsigned char hex_digit[256]; /* a byte -> its value as a hex digit | HEX_UPPER/HEX_LOWER, or HEX_NOT */

static void init_hex_digits(void) {
    if (hex_digit[0] == HEX_NOT) /* done */
        return;
    for (int b = 0; b < 256; b++)
        hex_digit[b] = HEX_NOT;
    for (int b = '0'; b <= '9'; b++)
        hex_digit[b] = (unsigned char)(b - '0');
    for (int b = 'a'; b <= 'f'; b++)
        hex_digit[b] = (unsigned char)(b - 'a' + 10) | HEX_LOWER;
    for (int b = 'A'; b <= 'F'; b++)
        hex_digit[b] = (unsigned char)(b - 'A' + 10) | HEX_UPPER;
}

/* where a UUID's text has its 32 hex digits (dashes at 8, 13, 18 and 23) */
static const unsigned char id_digit_at[32] = {0,  1,  2,  3,  4,  5,  6,  7,  9,  10, 11, 12, 14, 15, 16, 17,
                                              19, 20, 21, 22, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35};

static PyObject *packed_ids(PyObject *Py_UNUSED(module), PyObject *args) {
    Py_buffer ids = {0};
    PyObject *packed = NULL, *upper = NULL, *odd = NULL, *result = NULL;
    if (!PyArg_ParseTuple(args, "y*:packed_ids", &ids))
        return NULL;
    init_hex_digits();
    if (ids.len % ID_WIDTH) {
        PyErr_SetString(PyExc_ValueError, "packed_ids: not a whole number of 36-byte ids");
        goto done;
    }
    Py_ssize_t n = ids.len / ID_WIDTH;
    packed = PyByteArray_FromStringAndSize(NULL, n * 16);
    upper = PyBytes_FromStringAndSize(NULL, n);
    odd = PyList_New(0);
    if (packed == NULL || upper == NULL || odd == NULL)
        goto done;
    const unsigned char *text = ids.buf;
    unsigned char *out = (unsigned char *)PyByteArray_AS_STRING(packed);
    unsigned char *case_of = (unsigned char *)PyBytes_AS_STRING(upper);
    for (Py_ssize_t i = 0; i < n; i++, text += ID_WIDTH, out += 16) {
        unsigned kinds = 0, any = 0;
        for (int k = 0; k < 16; k++) {
            unsigned high = hex_digit[text[id_digit_at[2 * k]]], low = hex_digit[text[id_digit_at[2 * k + 1]]];
            kinds |= high | low;
            out[k] = (unsigned char)(((high & 0xF) << 4) | (low & 0xF));
            any |= out[k];
        }
        int uuid = !(kinds & HEX_NOT) && (kinds & (HEX_UPPER | HEX_LOWER)) != (HEX_UPPER | HEX_LOWER) &&
                   text[8] == '-' && text[13] == '-' && text[18] == '-' && text[23] == '-' && any;
        case_of[i] = (unsigned char)(uuid && (kinds & HEX_UPPER));
        if (!uuid) {
            memset(out, 0, 16);
            if (text[0] != 0) {
                PyObject *row = PyLong_FromSsize_t(i);
                if (row == NULL || PyList_Append(odd, row) < 0) {
                    Py_XDECREF(row);
                    goto done;
                }
                Py_DECREF(row);
            }
        }
    }
    result = PyTuple_Pack(3, packed, upper, odd);
done:
    Py_XDECREF(packed);
    Py_XDECREF(upper);
    Py_XDECREF(odd);
    PyBuffer_Release(&ids);
    return result;
}

/* ---- contexts.identity in C, for context_codes ---- */

/* ``text``'s UTF-8 (a str's own bytes where it is ASCII); whether it holds a quote or a backslash is
 * left to escapes_of. -1 with an exception set when it is not a str (ValueError) or UTF-8 cannot
 * hold it (UnicodeError). */
static int utf8_of(PyObject *text, Utf8 *out) {
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_ValueError, "context_codes: a pair's text is not a str");
        return -1;
    }
    if (PyUnicode_IS_COMPACT_ASCII(text)) {
        out->utf8 = (const char *)PyUnicode_DATA(text);
        out->len = PyUnicode_GET_LENGTH(text);
    } else if ((out->utf8 = PyUnicode_AsUTF8AndSize(text, &out->len)) == NULL)
        return -1;
    out->escapes = -1;
    return 0;
}

static void escapes_of(Utf8 *text) {
    if (text->escapes < 0)
        text->escapes =
            memchr(text->utf8, '"', (size_t)text->len) != NULL || memchr(text->utf8, '\\', (size_t)text->len) != NULL;
}

/* Code point order (UTF-8's byte order): <0, 0 or >0. */
static int utf8_order(const Utf8 *a, const Utf8 *b) {
    int order = memcmp(a->utf8, b->utf8, (size_t)(a->len < b->len ? a->len : b->len));
    return order ? order : (a->len > b->len) - (a->len < b->len);
}

/* Sort ``count`` pairs (key and value side by side) by key, then value, in place: a few pairs a
 * context, an insertion sort. 1 when they were in order already, else 0. */
static int sort_pairs(Utf8 *pairs, uint32_t count) {
    if (count == 2) { /* the most common shape after one pair */
        int order = utf8_order(&pairs[0], &pairs[2]);
        if (order < 0 || (order == 0 && utf8_order(&pairs[1], &pairs[3]) <= 0))
            return 1;
        Utf8 key = pairs[0], value = pairs[1];
        pairs[0] = pairs[2];
        pairs[1] = pairs[3];
        pairs[2] = key;
        pairs[3] = value;
        return 0;
    }
    int sorted = 1;
    for (uint32_t i = 1; i < count; i++) {
        Utf8 key = pairs[2 * i], value = pairs[2 * i + 1];
        uint32_t j = i;
        while (j > 0) {
            int order = utf8_order(&key, &pairs[2 * (j - 1)]);
            if (order > 0 || (order == 0 && utf8_order(&value, &pairs[2 * (j - 1) + 1]) >= 0))
                break;
            pairs[2 * j] = pairs[2 * (j - 1)];
            pairs[2 * j + 1] = pairs[2 * (j - 1) + 1];
            j--;
            sorted = 0;
        }
        pairs[2 * j] = key;
        pairs[2 * j + 1] = value;
    }
    return sorted;
}

/* A text as contexts._quoted writes it: quoted, its quotes and backslashes escaped. Its size; written
 * to ``out`` where that is not NULL. */
static Py_ssize_t put_quoted(Utf8 *text, char *out) {
    Py_ssize_t size = text->len + 2;
    escapes_of(text);
    if (!text->escapes) {
        if (out != NULL) {
            out[0] = '"';
            memcpy(out + 1, text->utf8, (size_t)text->len);
            out[text->len + 1] = '"';
        }
        return size;
    }
    for (Py_ssize_t i = 0; i < text->len; i++)
        size += text->utf8[i] == '"' || text->utf8[i] == '\\';
    if (out != NULL) {
        *out++ = '"';
        for (Py_ssize_t i = 0; i < text->len; i++) {
            if (text->utf8[i] == '"' || text->utf8[i] == '\\')
                *out++ = '\\';
            *out++ = text->utf8[i];
        }
        *out = '"';
    }
    return size;
}

/* Sorted pairs as contexts._object writes them: {"key":"value",...}. Its size; written to ``out``
 * where that is not NULL. */
static Py_ssize_t put_object(Utf8 *pairs, uint32_t count, char *out) {
    Py_ssize_t size = 2 + (count ? (Py_ssize_t)count * 2 - 1 : 0); /* {}, a colon each, the commas */
    if (out != NULL)
        *out++ = '{';
    for (uint32_t i = 0; i < count; i++) {
        if (out != NULL && i)
            *out++ = ',';
        Py_ssize_t key = put_quoted(&pairs[2 * i], out);
        if (out != NULL) {
            out += key;
            *out++ = ':';
        }
        Py_ssize_t value = put_quoted(&pairs[2 * i + 1], out);
        if (out != NULL)
            out += value;
        size += key + value;
    }
    if (out != NULL)
        *out = '}';
    return size;
}

/* A context set's identity, as contexts.identity writes it, from ``size`` of the scanner's pairs
 * from ``start`` (codes from 1 into ``key_texts`` and ``value_texts``, which must be str: the
 * scanner's reading of ``raw``, plain texts without escapes; ``keys_seen``: the UTF-8 of the key
 * texts met so far in this call, zeroed where not): with ``labels`` None, its pairs sorted as one
 * JSON object (``raw`` itself, with a new reference, where the raw text is that object already:
 * in key order, and of the compact size, so without a space); else b"\0" and, for
 * each group that holds pairs, "label":{...}, comma-separated: its first ``subset`` pairs under
 * labels[0] and the rest under labels[1], each group sorted. NULL with an exception set when a
 * text is out of range or not a str (ValueError), or when UTF-8 cannot hold it (UnicodeError). */
static PyObject *context_identity(PyObject *raw, PyObject *key_texts, PyObject *value_texts, Utf8 *keys_seen,
                                  const uint32_t *pair_key, const uint32_t *pair_value, int64_t start, uint32_t size,
                                  uint32_t subset, PyObject *labels) {
    Utf8 local[2 * 16];
    Utf8 *pairs = size <= 16 ? local : PyMem_Malloc(2 * (size_t)size * sizeof(Utf8));
    PyObject *result = NULL;
    if (pairs == NULL)
        return PyErr_NoMemory();
    Py_ssize_t key_count = PyList_GET_SIZE(key_texts), value_count = PyList_GET_SIZE(value_texts);
    for (uint32_t i = 0; i < size; i++) {
        uint32_t k = pair_key[start + i], v = pair_value[start + i];
        if (k < 1 || k > (uint32_t)key_count || v < 1 || v > (uint32_t)value_count) {
            PyErr_SetString(PyExc_ValueError, "context_codes: a pair's text out of range");
            goto done;
        }
        if (keys_seen[k].utf8 == NULL && utf8_of(PyList_GET_ITEM(key_texts, k - 1), &keys_seen[k]) < 0) {
            keys_seen[k].utf8 = NULL;
            goto done;
        }
        pairs[2 * i] = keys_seen[k];
        if (utf8_of(PyList_GET_ITEM(value_texts, v - 1), &pairs[2 * i + 1]) < 0)
            goto done;
    }
    if (labels == Py_None) {
        int sorted = sort_pairs(pairs, size);
        Py_ssize_t compact = 1; /* {, and each pair with the comma or } after it */
        for (uint32_t i = 0; i < size; i++)
            compact += pairs[2 * i].len + pairs[2 * i + 1].len + 6;
        if (sorted && PyBytes_Check(raw) && PyBytes_GET_SIZE(raw) == compact) {
            /* the scanner read these pairs from ``raw``, in this order, with no escape: of the
             * compact size, it holds no space either; it is the object */
            Py_INCREF(raw);
            result = raw;
            goto done;
        }
        char buffer[512];
        if (compact <= (Py_ssize_t)sizeof(buffer) / 2) { /* escaped, it is at most twice as long */
            result = PyBytes_FromStringAndSize(buffer, put_object(pairs, size, buffer));
            goto done;
        }
        Py_ssize_t total = put_object(pairs, size, NULL);
        result = PyBytes_FromStringAndSize(NULL, total);
        if (result != NULL)
            put_object(pairs, size, PyBytes_AS_STRING(result));
        goto done;
    }
    Utf8 *groups[2] = {pairs, pairs + 2 * (size_t)subset}, names[2];
    uint32_t counts[2] = {subset, size - subset};
    Py_ssize_t total = 1; /* b"\0" */
    for (int g = 0; g < 2; g++) {
        if (!counts[g])
            continue;
        sort_pairs(groups[g], counts[g]);
        if (utf8_of(PyTuple_GET_ITEM(labels, g), &names[g]) < 0)
            goto done;
        total += put_quoted(&names[g], NULL) + 1 + put_object(groups[g], counts[g], NULL) + (total > 1);
    }
    result = PyBytes_FromStringAndSize(NULL, total);
    if (result == NULL)
        goto done;
    char *out = PyBytes_AS_STRING(result);
    *out++ = '\0';
    for (int g = 0; g < 2; g++) {
        if (!counts[g])
            continue;
        if (out != PyBytes_AS_STRING(result) + 1)
            *out++ = ',';
        out += put_quoted(&names[g], out);
        *out++ = ':';
        out += put_object(groups[g], counts[g], out);
    }
done:
    if (pairs != local)
        PyMem_Free(pairs);
    return result;
}

/* ---- The index's principal merge: a batch's principals matched by digest (arena.py) ---- */

/* The digest table: ``slots`` (a power of two of them) hold principal codes, 0 for none, by
 * open addressing from a digest's low bits; ``digests[code]`` is each code's digest. */
typedef struct {
    uint32_t *slots;
    size_t mask;
    int64_t *digests;
    size_t codes; /* entries of digests */
} DigestTable;

static int digest_table_of(Py_buffer *slots, Py_buffer *digests, DigestTable *table) {
    size_t count = (size_t)slots->len / sizeof(uint32_t);
    if (slots->len % (Py_ssize_t)sizeof(uint32_t) || digests->len % (Py_ssize_t)sizeof(int64_t) || count < 2 ||
        (count & (count - 1))) {
        PyErr_SetString(PyExc_ValueError, "digest table: slots not a power of two of uint32, or digests not int64");
        return -1;
    }
    table->slots = slots->buf;
    table->mask = count - 1;
    table->digests = digests->buf;
    table->codes = (size_t)digests->len / sizeof(int64_t);
    return 0;
}

/* The slot holding the code whose digest is ``digest``, or the empty slot where it would go;
 * NULL when the table is full of other digests, or holds a code past ``digests`` (refused). */
static uint32_t *digest_slot(const DigestTable *table, int64_t digest) {
    size_t at = (size_t)(uint64_t)digest & table->mask;
    for (size_t probes = 0; probes <= table->mask; probes++, at = (at + 1) & table->mask) {
        uint32_t code = table->slots[at];
        if (code == 0)
            return &table->slots[at];
        if (code >= table->codes)
            break;
        if (table->digests[code] == digest)
            return &table->slots[at];
    }
    PyErr_SetString(PyExc_ValueError, "digest table: full, or a code past its digests");
    return NULL;
}

PyDoc_STRVAR(digest_insert_doc,
"digest_insert(slots, digests, codes, new_digests, /) -> None\n\n"
"Add principal ``codes[i]`` (native uint32, not 0, not in the table) under ``new_digests[i]``\n"
"(int64) to the digest table: ``slots`` (uint32, a power of two of them, 0 for empty) and\n"
"``digests`` (int64 by code, written here). What the index's sorted digests (arena._merged)\n"
"do without the scanner.");

static PyObject *digest_insert(PyObject *Py_UNUSED(module), PyObject *args) {
    Py_buffer slots = {0}, digests = {0}, codes = {0}, added = {0};
    PyObject *result = NULL;
    DigestTable table;
    if (!PyArg_ParseTuple(args, "w*w*y*y*:digest_insert", &slots, &digests, &codes, &added))
        return NULL;
    if (digest_table_of(&slots, &digests, &table) < 0)
        goto done;
    size_t count = (size_t)codes.len / sizeof(uint32_t);
    if (codes.len % (Py_ssize_t)sizeof(uint32_t) || added.len != (Py_ssize_t)(count * sizeof(int64_t))) {
        PyErr_SetString(PyExc_ValueError, "digest_insert: codes and digests of different sizes");
        goto done;
    }
    const uint32_t *code = codes.buf;
    const int64_t *digest = added.buf;
    for (size_t i = 0; i < count; i++) {
        if (code[i] == 0 || code[i] >= table.codes) {
            PyErr_SetString(PyExc_ValueError, "digest_insert: code 0, or a code past the digests");
            goto done;
        }
        uint32_t *slot = digest_slot(&table, digest[i]);
        if (slot == NULL)
            goto done;
        if (*slot != 0) {
            PyErr_SetString(PyExc_ValueError, "digest_insert: a digest the table holds already");
            goto done;
        }
        table.digests[code[i]] = digest[i];
        *slot = code[i];
    }
    result = Py_NewRef(Py_None);
done:
    PyBuffer_Release(&slots);
    PyBuffer_Release(&digests);
    PyBuffer_Release(&codes);
    PyBuffer_Release(&added);
    return result;
}

PyDoc_STRVAR(digest_find_doc,
"digest_find(slots, digests, wanted, /) -> bytes\n\n"
"The code kept under each digest of ``wanted`` (int64) in the digest table, 0 where there is\n"
"none (native uint32, one a digest): not yet checked, a digest can be another principal's.\n"
"What arena._looked_up does in the sorted digests.");

static PyObject *digest_find(PyObject *Py_UNUSED(module), PyObject *args) {
    Py_buffer slots = {0}, digests = {0}, wanted = {0};
    PyObject *result = NULL;
    DigestTable table;
    if (!PyArg_ParseTuple(args, "y*y*y*:digest_find", &slots, &digests, &wanted))
        return NULL;
    if (digest_table_of(&slots, &digests, &table) < 0)
        goto done;
    size_t count = (size_t)wanted.len / sizeof(int64_t);
    if (wanted.len % (Py_ssize_t)sizeof(int64_t)) {
        PyErr_SetString(PyExc_ValueError, "digest_find: digests not int64");
        goto done;
    }
    result = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(count * sizeof(uint32_t)));
    if (result == NULL)
        goto done;
    uint32_t *out = (uint32_t *)PyBytes_AS_STRING(result);
    const int64_t *digest = wanted.buf;
    for (size_t i = 0; i < count; i++) {
        uint32_t *slot = digest_slot(&table, digest[i]);
        if (slot == NULL) {
            Py_CLEAR(result);
            goto done;
        }
        out[i] = *slot;
    }
done:
    PyBuffer_Release(&slots);
    PyBuffer_Release(&digests);
    PyBuffer_Release(&wanted);
    return result;
}

/* ``text`` (native uint32 or int64 offsets: ``wide``) as [start, end) of text ``i``; 0 when the
 * offsets are not in order or past ``size`` bytes. */
static int text_span(const void *ends, int wide, size_t i, size_t size, size_t *start, size_t *stop) {
    uint64_t a, b;
    if (wide) {
        int64_t x = ((const int64_t *)ends)[i], y = ((const int64_t *)ends)[i + 1];
        if (x < 0 || y < x)
            return 0;
        a = (uint64_t)x, b = (uint64_t)y;
    } else
        a = ((const uint32_t *)ends)[i], b = ((const uint32_t *)ends)[i + 1];
    if (b < a || b > size)
        return 0;
    *start = (size_t)a, *stop = (size_t)b;
    return 1;
}

/* Whether two principals' ARNs agree: the batch's principal ``position`` (a key of ``arns``,
 * or not) against ``other`` in ``other_arns``. Only a principal with an ARN is compared, as
 * arena.IdentityVocabulary._same does (their part says both have one). -1 on an error. */
static int same_arn(PyObject *arns, Py_ssize_t position, PyObject *other_arns, Py_ssize_t other) {
    if (PyDict_GET_SIZE(arns) == 0)
        return 1;
    PyObject *key = PyLong_FromSsize_t(position);
    if (key == NULL)
        return -1;
    PyObject *arn = PyDict_GetItemWithError(arns, key);
    Py_DECREF(key);
    if (arn == NULL)
        return PyErr_Occurred() ? -1 : 1;
    key = PyLong_FromSsize_t(other);
    if (key == NULL)
        return -1;
    PyObject *kept = PyDict_GetItemWithError(other_arns, key);
    Py_DECREF(key);
    if (kept == NULL)
        return PyErr_Occurred() ? -1 : 0;
    return PyObject_RichCompareBool(arn, kept, Py_EQ);
}

PyDoc_STRVAR(merge_principals_doc,
"merge_principals(slots, digests, base, shorts, short_ends, wide, part_codes, kept_arns,\n"
"                 data, ends, parts, batch_digests, arns, out, new, start, /) -> (stop, added)\n\n"
"A batch's principals matched against the index's (arena.IdentityVocabulary), from position\n"
"``start``, in order. Principal i of the batch is its short form ``data[ends[i]:ends[i + 1]]``\n"
"(``ends``: int64), its part code ``parts[i]`` (uint32), its digest ``batch_digests[i]`` (int64,\n"
"arena.principal_digests) and its ARN ``arns.get(i)``.\n"
"The index's principal c is ``shorts[short_ends[c]:short_ends[c + 1]]`` (uint32 offsets, int64\n"
"when ``wide``), ``part_codes[c]`` and ``kept_arns.get(c)``; codes from ``base`` are the ones\n"
"this batch adds. Each principal is looked up in the digest table (``slots``, ``digests``, as\n"
"digest_insert keeps them) and checked byte for byte: found, ``out[i + 1]`` is its code; new,\n"
"it gets the next code, goes into the table and its position into ``new``. A digest held by\n"
"another principal stops the pass: ``stop`` is its position (n when all are done) and\n"
"``added`` the principals this call added, for the caller to keep before it goes on. What\n"
"IdentityVocabulary._remap_numpy does in numpy (the reference, and the way without it).");

static PyObject *merge_principals(PyObject *Py_UNUSED(module), PyObject *args) {
    Py_buffer slots = {0}, digests = {0}, shorts = {0}, short_ends = {0}, part_codes = {0}, data = {0}, ends = {0},
              parts = {0}, batch_digests = {0}, out = {0}, new = {0};
    PyObject *kept_arns, *arns, *result = NULL;
    Py_ssize_t base_arg, start;
    int wide;
    DigestTable table;
    if (!PyArg_ParseTuple(args, "w*w*ny*y*py*O!y*y*y*y*O!w*w*n:merge_principals", &slots, &digests, &base_arg,
                          &shorts, &short_ends, &wide, &part_codes, &PyDict_Type, &kept_arns, &data, &ends, &parts,
                          &batch_digests, &PyDict_Type, &arns, &out, &new, &start))
        return NULL;
    if (digest_table_of(&slots, &digests, &table) < 0)
        goto done;
    size_t n = (size_t)parts.len / sizeof(uint32_t), base = (size_t)base_arg;
    size_t end_size = wide ? sizeof(int64_t) : sizeof(uint32_t);
    size_t kept = (size_t)short_ends.len / end_size; /* texts of the index, plus one */
    if (parts.len % (Py_ssize_t)sizeof(uint32_t) || ends.len != (Py_ssize_t)((n + 1) * sizeof(int64_t)) ||
        batch_digests.len != (Py_ssize_t)(n * sizeof(int64_t)) || out.len != (Py_ssize_t)((n + 1) * sizeof(uint32_t)) ||
        new.len != (Py_ssize_t)(n * sizeof(int64_t)) ||
        short_ends.len % (Py_ssize_t)end_size || base_arg < 1 || kept != base + 1 ||
        part_codes.len != (Py_ssize_t)(base * sizeof(uint32_t)) || start < 0 || (size_t)start > n ||
        base + (n - (size_t)start) > table.codes || base + n >= UINT32_MAX || base + (n - (size_t)start) > table.mask) {
        PyErr_SetString(PyExc_ValueError, "merge_principals: arrays of sizes that do not fit together");
        goto done;
    }
    const int64_t *end = ends.buf;
    const uint32_t *part = parts.buf, *kept_part = part_codes.buf;
    const unsigned char *bytes = data.buf, *kept_bytes = shorts.buf;
    uint32_t *code_of = out.buf;
    int64_t *added_at = new.buf;
    const int64_t *digest_of = batch_digests.buf;
    size_t added = 0, i = (size_t)start;
    for (; i < n; i++) {
        size_t from = 0, to = 0;
        if (end[i] < 0 || end[i + 1] < end[i] || (uint64_t)end[i + 1] > (uint64_t)data.len) {
            PyErr_SetString(PyExc_ValueError, "merge_principals: a short form past the batch's bytes");
            goto done;
        }
        from = (size_t)end[i], to = (size_t)end[i + 1];
        int64_t digest = digest_of[i];
        uint32_t *slot = digest_slot(&table, digest);
        if (slot == NULL)
            goto done;
        uint32_t code = *slot;
        if (code == 0) { /* new: the next code */
            code = (uint32_t)(base + added);
            table.digests[code] = digest;
            *slot = code;
            added_at[added++] = (int64_t)i;
            code_of[i + 1] = code;
            continue;
        }
        int same;
        if (code >= base) { /* added by this batch: compared with the batch's own principal */
            if ((size_t)(code - base) >= added) {
                PyErr_SetString(PyExc_ValueError, "merge_principals: the table holds a code not yet added");
                goto done;
            }
            size_t other = (size_t)added_at[code - base];
            size_t other_from = (size_t)end[other], other_to = (size_t)end[other + 1];
            same = part[other] == part[i] && other_to - other_from == to - from &&
                   memcmp(bytes + other_from, bytes + from, to - from) == 0;
            if (same && (same = same_arn(arns, (Py_ssize_t)i, arns, (Py_ssize_t)other)) < 0)
                goto done;
        } else {
            size_t kept_from, kept_to;
            if (!text_span(short_ends.buf, wide, code, (size_t)shorts.len, &kept_from, &kept_to)) {
                PyErr_SetString(PyExc_ValueError, "merge_principals: a short form past the index's bytes");
                goto done;
            }
            same = kept_part[code] == part[i] && kept_to - kept_from == to - from &&
                   memcmp(kept_bytes + kept_from, bytes + from, to - from) == 0;
            if (same && (same = same_arn(arns, (Py_ssize_t)i, kept_arns, (Py_ssize_t)code)) < 0)
                goto done;
        }
        if (!same)
            break; /* a digest another principal has: the caller's, one at a time */
        code_of[i + 1] = code;
    }
    result = Py_BuildValue("nn", (Py_ssize_t)i, (Py_ssize_t)added);
done:
    PyBuffer_Release(&slots);
    PyBuffer_Release(&digests);
    PyBuffer_Release(&shorts);
    PyBuffer_Release(&short_ends);
    PyBuffer_Release(&part_codes);
    PyBuffer_Release(&data);
    PyBuffer_Release(&ends);
    PyBuffer_Release(&parts);
    PyBuffer_Release(&out);
    PyBuffer_Release(&new);
    PyBuffer_Release(&batch_digests);
    return result;
}

/* ------------------------------------------------------------------ the module */

static PyMethodDef methods[] = {
    {"scan", scan, METH_VARARGS, scan_doc},
    {"surrogate_escapes", surrogate_escapes, METH_VARARGS, surrogate_escapes_doc},
    {"context_codes", context_codes, METH_VARARGS, context_codes_doc},
    {"recode", recode, METH_VARARGS, recode_doc},
    {"session_codes", session_codes, METH_VARARGS, session_codes_doc},
    {"group_rows", group_rows, METH_VARARGS, group_rows_doc},
    {"encoded_texts", encoded_texts, METH_VARARGS, encoded_texts_doc},
    {"packed_ids", packed_ids, METH_VARARGS, packed_ids_doc},
    {"digest_insert", digest_insert, METH_VARARGS, digest_insert_doc},
    {"digest_find", digest_find, METH_VARARGS, digest_find_doc},
    {"merge_principals", merge_principals, METH_VARARGS, merge_principals_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_scan", "A column scanner for CloudTrail log files.", -1, methods,
};

PyMODINIT_FUNC PyInit__scan(void) {
    init_tables();
    return PyModule_Create(&module);
}
