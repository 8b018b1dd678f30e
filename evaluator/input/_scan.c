/*
 * The fast path of the COCO results loader: a JSON array of
 * {"image_id": int, "category_id": int, "bbox": [4 numbers], "score": number, ...}
 * objects read straight into columns, with no Python object per result.
 *
 * It reads only what the strict typed decoder (msgspec, in coco_json.py) would read the
 * same way, and gives up (returns None) on anything else: another top-level shape, a
 * missing or repeated field, a field of another type, an integer outside int64, a
 * number strtod could round differently from a correctly rounded parser (more than 15
 * digits of integer for a float field), an escape in a key, a non-ASCII or control byte
 * in a string, deep nesting, trailing bytes. The caller then takes the general loader,
 * which accepts what this path does not and explains what it refuses.
 *
 * Floats are converted exactly: by Clinger's fast path where it is exact (up to 15
 * significant digits and a power of ten up to 22), else by strtod, which is correctly
 * rounded (as msgspec and Python's float() are), on a copy of the token validated
 * against JSON's number grammar.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SKIP_DEPTH 64
#define MAX_NUMBER_CHARS 64

typedef struct {
    const char *p, *end;
} Cursor;

static void skip_space(Cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\n' || *c->p == '\r' || *c->p == '\t'))
        c->p++;
}

static int expect(Cursor *c, char ch)
{
    skip_space(c);
    if (c->p >= c->end || *c->p != ch) return 0;
    c->p++;
    return 1;
}

/* A JSON number token, read in one pass: its grammar, and its value's parts for the
 * exact conversions of read_int and read_double. */
typedef struct {
    Py_ssize_t length; /* 0: not a number */
    int integral;      /* no fraction and no exponent */
    int negative;
    int digits;        /* significant digits: from the first non-zero one */
    uint64_t m;        /* those digits as an integer, while there are at most 19 */
    int exp10;         /* the value is m * 10^exp10 (when digits <= 19) */
    int huge_exponent; /* an exponent past 1000 digits-wise: never the fast path */
} Number;

static Number scan_number(const Cursor *c)
{
    static const Number not_a_number = {0};
    Number n = not_a_number;
    const char *q = c->p, *end = c->end;
    n.integral = 1;
    if (q < end && *q == '-') {
        n.negative = 1;
        q++;
    }
    if (q >= end) return not_a_number;
    if (*q == '0') {
        q++;
    } else if (*q >= '1' && *q <= '9') {
        for (; q < end && *q >= '0' && *q <= '9'; q++)
            if (++n.digits <= 19) n.m = n.m * 10 + (uint64_t)(*q - '0');
    } else {
        return not_a_number;
    }
    if (q < end && *q == '.') {
        n.integral = 0;
        q++;
        if (q >= end || *q < '0' || *q > '9') return not_a_number;
        for (; q < end && *q >= '0' && *q <= '9'; q++) {
            n.exp10--;
            if (n.digits == 0 && *q == '0') continue;
            if (++n.digits <= 19) n.m = n.m * 10 + (uint64_t)(*q - '0');
        }
    }
    if (q < end && (*q == 'e' || *q == 'E')) {
        int sign = 1, e = 0;
        n.integral = 0;
        q++;
        if (q < end && (*q == '+' || *q == '-')) sign = *q++ == '-' ? -1 : 1;
        if (q >= end || *q < '0' || *q > '9') return not_a_number;
        for (; q < end && *q >= '0' && *q <= '9'; q++) {
            if (e > 1000) n.huge_exponent = 1;
            else e = e * 10 + (*q - '0');
        }
        n.exp10 += sign * e;
    }
    n.length = q - c->p;
    return n;
}

static int read_int(Cursor *c, int64_t *out)
{
    skip_space(c);
    Number n = scan_number(c);
    if (n.length == 0 || !n.integral || n.length >= MAX_NUMBER_CHARS) return 0;
    if (n.digits <= 18) { /* below 10^18: fits in int64 */
        *out = n.negative ? -(int64_t)n.m : (int64_t)n.m;
    } else {
        char text[MAX_NUMBER_CHARS];
        memcpy(text, c->p, (size_t)n.length);
        text[n.length] = '\0';
        errno = 0;
        char *stop;
        long long v = strtoll(text, &stop, 10);
        if (errno == ERANGE || stop != text + n.length) return 0;
        *out = (int64_t)v;
    }
    c->p += n.length;
    return 1;
}

/*
 * Floats. Clinger's exact fast path: a decimal with at most 15 significant digits m and
 * a power of ten 10^e with |e| <= 22 are both exact doubles, so m * 10^e (or m / 10^-e)
 * is one correctly rounded operation, the value a correctly rounded parser gives.
 * Other tokens go to strtod.
 */
static int read_double(Cursor *c, double *out)
{
    static const double pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    skip_space(c);
    Number n = scan_number(c);
    if (n.length == 0 || n.length >= MAX_NUMBER_CHARS) return 0;
    if (n.integral && n.length > 15 + n.negative) return 0; /* int -> float: the decoder's */
    if (n.digits <= 15 && !n.huge_exponent && (n.m == 0 || (n.exp10 >= -22 && n.exp10 <= 22))) {
        double v = n.m == 0        ? 0.0
                   : n.exp10 >= 0 ? (double)n.m * pow10[n.exp10]
                                  : (double)n.m / pow10[-n.exp10];
        *out = n.negative ? -v : v;
    } else {
        char text[MAX_NUMBER_CHARS];
        memcpy(text, c->p, (size_t)n.length);
        text[n.length] = '\0';
        errno = 0;
        char *stop;
        double v = strtod(text, &stop);
        /* Overflow or underflow, or a locale whose decimal point is not '.': the decoder's. */
        if (errno == ERANGE || stop != text + n.length) return 0;
        *out = v;
    }
    c->p += n.length;
    return 1;
}

/* A string at c->p (after optional space): plain ASCII, escapes allowed only if `escapes`. */
static int skip_string(Cursor *c, int escapes, const char **start, Py_ssize_t *len)
{
    skip_space(c);
    if (c->p >= c->end || *c->p != '"') return 0;
    const char *s = ++c->p;
    while (c->p < c->end && *c->p != '"') {
        unsigned char ch = (unsigned char)*c->p;
        if (ch < 0x20 || ch >= 0x80) return 0;
        if (ch == '\\') {
            if (!escapes || c->p + 1 >= c->end) return 0;
            c->p++; /* the escaped character; \uXXXX's digits are plain ASCII */
        }
        c->p++;
    }
    if (c->p >= c->end) return 0;
    if (start) *start = s;
    if (len) *len = c->p - s;
    c->p++;
    return 1;
}

/* Any JSON value, without recursion; arrays and objects to MAX_SKIP_DEPTH. */
static int skip_value(Cursor *c)
{
    char stack[MAX_SKIP_DEPTH];
    int depth = 0;
    for (;;) {
        skip_space(c);
        if (c->p >= c->end) return 0;
        char ch = *c->p;
        if (ch == '"') {
            if (!skip_string(c, 1, NULL, NULL)) return 0;
        } else if (ch == '[' || ch == '{') {
            if (depth == MAX_SKIP_DEPTH) return 0;
            stack[depth++] = ch == '[' ? ']' : '}';
            c->p++;
            skip_space(c);
            if (c->p < c->end && *c->p == stack[depth - 1]) { c->p++; depth--; goto after; }
            if (ch == '{') {
                if (!skip_string(c, 1, NULL, NULL) || !expect(c, ':')) return 0;
            }
            continue;
        } else if (ch == 't' && c->end - c->p >= 4 && memcmp(c->p, "true", 4) == 0) {
            c->p += 4;
        } else if (ch == 'f' && c->end - c->p >= 5 && memcmp(c->p, "false", 5) == 0) {
            c->p += 5;
        } else if (ch == 'n' && c->end - c->p >= 4 && memcmp(c->p, "null", 4) == 0) {
            c->p += 4;
        } else {
            Py_ssize_t n = scan_number(c).length;
            if (n == 0) return 0;
            c->p += n;
        }
    after:
        while (depth > 0) {
            skip_space(c);
            if (c->p >= c->end) return 0;
            if (*c->p == ',') {
                c->p++;
                if (stack[depth - 1] == '}' && (!skip_string(c, 1, NULL, NULL) || !expect(c, ':')))
                    return 0;
                break; /* the next value */
            }
            if (*c->p != stack[depth - 1]) return 0;
            c->p++;
            depth--;
        }
        if (depth == 0) return 1;
    }
}

enum { IMAGE_ID = 1, CATEGORY_ID = 2, BBOX = 4, SCORE = 8, ALL = 15, KEYPOINTS = 16 };

/* Reads a JSON array of exactly n numbers into out; 0 when it is anything else. */
static int read_numbers(Cursor *c, double *out, Py_ssize_t n)
{
    if (!expect(c, '[')) return 0;
    for (Py_ssize_t j = 0; j < n; j++)
        if ((j && !expect(c, ',')) || !read_double(c, out + j)) return 0;
    return expect(c, ']');
}

/*
 * One result object into row i of the columns; 0 when it is not of the plain shape.
 * With nk > 0 (keypoint results) it also reads "keypoints", 3 * nk numbers, and the bbox
 * becomes optional; the fields it read are left in *seen.
 */
static int read_result(Cursor *c, int64_t *image, int64_t *category, double *box, double *score,
                       double *keypoints, Py_ssize_t nk, int *seen_out)
{
    if (!expect(c, '{')) return 0;
    int seen = 0;
    skip_space(c);
    if (c->p < c->end && *c->p == '}') return 0; /* no fields */
    for (;;) {
        const char *key;
        Py_ssize_t len;
        if (!skip_string(c, 0, &key, &len) || !expect(c, ':')) return 0;
        int field = 0;
        if (len == 8 && memcmp(key, "image_id", 8) == 0) field = IMAGE_ID;
        else if (len == 11 && memcmp(key, "category_id", 11) == 0) field = CATEGORY_ID;
        else if (len == 4 && memcmp(key, "bbox", 4) == 0) field = BBOX;
        else if (len == 5 && memcmp(key, "score", 5) == 0) field = SCORE;
        else if (nk && len == 9 && memcmp(key, "keypoints", 9) == 0) field = KEYPOINTS;
        if (field & seen) return 0; /* repeated */
        seen |= field;
        if (field == IMAGE_ID) {
            if (!read_int(c, image)) return 0;
        } else if (field == CATEGORY_ID) {
            if (!read_int(c, category)) return 0;
        } else if (field == BBOX) {
            if (!read_numbers(c, box, 4)) return 0;
        } else if (field == KEYPOINTS) {
            if (!read_numbers(c, keypoints, 3 * nk)) return 0;
        } else if (field == SCORE) {
            if (!read_double(c, score)) return 0;
        } else if (!skip_value(c)) {
            return 0;
        }
        skip_space(c);
        if (c->p < c->end && *c->p == ',') { c->p++; continue; }
        if (!expect(c, '}')) return 0;
        *seen_out = seen;
        if (nk) return (seen | BBOX) == (ALL | KEYPOINTS);
        return seen == ALL;
    }
}

/*
 * Results into growing columns; returns the count, or -1 (not plain), or -2 (no memory).
 * With nk > 0, keypoints too, and every result must have a bbox or none may (*boxed says
 * which): loadRes reads the first one's choice for all, and the loader explains a mix.
 */
static Py_ssize_t scan(Cursor *c, int64_t **image, int64_t **category, double **box,
                       double **score, double **keypoints, Py_ssize_t nk, int *boxed)
{
    Py_ssize_t n = 0, cap = 0;
    *boxed = 1;
    if (!expect(c, '[')) return -1;
    skip_space(c);
    if (c->p < c->end && *c->p == ']') { c->p++; goto end; }
    for (;;) {
        if (n == cap) {
            Py_ssize_t grown = cap ? 2 * cap : 1024;
            int64_t *i2 = realloc(*image, (size_t)grown * sizeof(int64_t));
            if (i2) *image = i2;
            int64_t *c2 = i2 ? realloc(*category, (size_t)grown * sizeof(int64_t)) : NULL;
            if (c2) *category = c2;
            double *b2 = c2 ? realloc(*box, (size_t)grown * 4 * sizeof(double)) : NULL;
            if (b2) *box = b2;
            double *s2 = b2 ? realloc(*score, (size_t)grown * sizeof(double)) : NULL;
            if (s2) *score = s2;
            double *k2 = s2 && nk ? realloc(*keypoints, (size_t)grown * 3 * (size_t)nk * 8) : NULL;
            if (k2) *keypoints = k2;
            if (!s2 || (nk && !k2)) return -2;
            cap = grown;
        }
        int seen = 0;
        memset(*box + 4 * n, 0, 4 * sizeof(double));
        if (!read_result(c, *image + n, *category + n, *box + 4 * n, *score + n,
                         nk ? *keypoints + 3 * nk * n : NULL, nk, &seen))
            return -1;
        int has_box = (seen & BBOX) != 0;
        if (n == 0) *boxed = has_box;
        else if (has_box != *boxed) return -1;
        n++;
        skip_space(c);
        if (c->p < c->end && *c->p == ',') { c->p++; continue; }
        if (!expect(c, ']')) return -1;
        break;
    }
end:
    skip_space(c);
    return c->p == c->end ? n : -1;
}

/* ------------------------------------------------------------------------------------ */
/* Mask results: {"image_id", "category_id", "score", "segmentation": {"size": [h, w],    */
/* "counts": "compressed RLE"}, "bbox" optional}; the strings land in one blob.           */

typedef struct {
    char *data;
    size_t n, cap;
} Blob;

/* Room for `more` bytes in the blob; 0 when memory runs out. */
static int blob_reserve(Blob *b, size_t more)
{
    if (b->n + more <= b->cap) return 1;
    size_t cap = b->cap ? b->cap : 1 << 16;
    while (cap < b->n + more) cap *= 2;
    char *grown = realloc(b->data, cap);
    if (grown == NULL) return 0;
    b->data = grown;
    b->cap = cap;
    return 1;
}

/* A JSON string of printable ASCII into the blob; the escapes \\ and \/ only (RLE strings
 * hold backslashes). 0 on anything else, or when memory runs out (*no_memory set). */
static int read_blob_string(Cursor *c, Blob *b, int *no_memory)
{
    skip_space(c);
    if (c->p >= c->end || *c->p != '"') return 0;
    const char *s = ++c->p, *q = s;
    /* The closing quote: the first '"' not escaped (an escaped one is refused below). */
    q = memchr(s, '"', (size_t)(c->end - s));
    if (q == NULL) return 0;
    /* Branch-free checks over the whole string (the compiler vectorises them). */
    unsigned char outside = 0, backslashes = 0;
    for (const char *r = s; r < q; r++) {
        unsigned char ch = (unsigned char)*r;
        outside |= (unsigned char)((ch < 0x20) | (ch >= 0x80));
        backslashes |= (unsigned char)(ch == '\\');
    }
    if (outside) return 0;
    int escaped = backslashes != 0;
    if (!blob_reserve(b, (size_t)(q - s))) {
        *no_memory = 1;
        return 0;
    }
    if (!escaped) {
        memcpy(b->data + b->n, s, (size_t)(q - s));
        b->n += (size_t)(q - s);
    } else { /* runs between escapes copied whole; only \\ and \/ (a \" ended it early) */
        const char *r = s;
        while (r < q) {
            const char *slash = memchr(r, '\\', (size_t)(q - r));
            const char *stop = slash != NULL ? slash : q;
            memcpy(b->data + b->n, r, (size_t)(stop - r));
            b->n += (size_t)(stop - r);
            if (slash == NULL) break;
            if (slash + 1 >= q || (slash[1] != '\\' && slash[1] != '/')) return 0;
            b->data[b->n++] = slash[1];
            r = slash + 2;
        }
    }
    c->p = q + 1;
    return 1;
}

enum { SEG_SIZE = 1, SEG_COUNTS = 2 };

/* {"size": [h, w], "counts": "..."} in either order, nothing else. */
static int read_segmentation(Cursor *c, int64_t *size, Blob *b, int *no_memory)
{
    if (!expect(c, '{')) return 0;
    int seen = 0;
    for (;;) {
        const char *key;
        Py_ssize_t len;
        if (!skip_string(c, 0, &key, &len) || !expect(c, ':')) return 0;
        if (len == 4 && memcmp(key, "size", 4) == 0 && !(seen & SEG_SIZE)) {
            if (!expect(c, '[') || !read_int(c, size) || !expect(c, ',') ||
                !read_int(c, size + 1) || !expect(c, ']'))
                return 0;
            seen |= SEG_SIZE;
        } else if (len == 6 && memcmp(key, "counts", 6) == 0 && !(seen & SEG_COUNTS)) {
            if (!read_blob_string(c, b, no_memory)) return 0;
            seen |= SEG_COUNTS;
        } else {
            return 0;
        }
        skip_space(c);
        if (c->p < c->end && *c->p == ',') { c->p++; continue; }
        return expect(c, '}') && seen == (SEG_SIZE | SEG_COUNTS);
    }
}

enum { M_IMAGE_ID = 1, M_CATEGORY_ID = 2, M_BBOX = 4, M_SCORE = 8, M_SEGMENTATION = 16 };

typedef struct {
    int64_t *image, *category, *size; /* size: (n, 2) */
    double *box, *score;
    int64_t *starts;                  /* (n + 1,) into the blob */
    Py_ssize_t n, cap;
    Blob blob;
} MaskColumns;

static int grow_mask_columns(MaskColumns *m)
{
    Py_ssize_t cap = m->cap ? 2 * m->cap : 1024;
    int64_t *i2 = realloc(m->image, (size_t)cap * 8);
    if (i2) m->image = i2;
    int64_t *c2 = i2 ? realloc(m->category, (size_t)cap * 8) : NULL;
    if (c2) m->category = c2;
    int64_t *z2 = c2 ? realloc(m->size, (size_t)cap * 16) : NULL;
    if (z2) m->size = z2;
    double *b2 = z2 ? realloc(m->box, (size_t)cap * 32) : NULL;
    if (b2) m->box = b2;
    double *s2 = b2 ? realloc(m->score, (size_t)cap * 8) : NULL;
    if (s2) m->score = s2;
    int64_t *t2 = s2 ? realloc(m->starts, (size_t)(cap + 1) * 8) : NULL;
    if (t2) m->starts = t2;
    if (!t2) return 0;
    m->cap = cap;
    return 1;
}

/* One mask result into row n; the fields it had in *seen_out. */
static int read_mask_result(Cursor *c, MaskColumns *m, int *seen_out, int *no_memory)
{
    const Py_ssize_t i = m->n;
    if (!expect(c, '{')) return 0;
    int seen = 0;
    memset(m->box + 4 * i, 0, 4 * sizeof(double));
    for (;;) {
        const char *key;
        Py_ssize_t len;
        if (!skip_string(c, 0, &key, &len) || !expect(c, ':')) return 0;
        int field = 0;
        if (len == 8 && memcmp(key, "image_id", 8) == 0) field = M_IMAGE_ID;
        else if (len == 11 && memcmp(key, "category_id", 11) == 0) field = M_CATEGORY_ID;
        else if (len == 4 && memcmp(key, "bbox", 4) == 0) field = M_BBOX;
        else if (len == 5 && memcmp(key, "score", 5) == 0) field = M_SCORE;
        else if (len == 12 && memcmp(key, "segmentation", 12) == 0) field = M_SEGMENTATION;
        if (field & seen) return 0;
        seen |= field;
        int ok;
        if (field == M_IMAGE_ID) ok = read_int(c, m->image + i);
        else if (field == M_CATEGORY_ID) ok = read_int(c, m->category + i);
        else if (field == M_BBOX) ok = read_numbers(c, m->box + 4 * i, 4);
        else if (field == M_SCORE) ok = read_double(c, m->score + i);
        else if (field == M_SEGMENTATION) ok = read_segmentation(c, m->size + 2 * i, &m->blob, no_memory);
        else ok = skip_value(c);
        if (!ok) return 0;
        skip_space(c);
        if (c->p < c->end && *c->p == ',') { c->p++; continue; }
        if (!expect(c, '}')) return 0;
        *seen_out = seen;
        return (seen | M_BBOX) == (M_IMAGE_ID | M_CATEGORY_ID | M_BBOX | M_SCORE | M_SEGMENTATION);
    }
}

/* The results; the count, or -1 (not plain: a bbox on some results only too), -2 (memory). */
static Py_ssize_t scan_masks(Cursor *c, MaskColumns *m, int *boxed)
{
    int no_memory = 0;
    *boxed = 1;
    if (!grow_mask_columns(m)) return -2;
    m->starts[0] = 0;
    if (!expect(c, '[')) return -1;
    skip_space(c);
    if (c->p < c->end && *c->p == ']') { c->p++; goto end; }
    for (;;) {
        if (m->n == m->cap && !grow_mask_columns(m)) return -2;
        int seen = 0;
        if (!read_mask_result(c, m, &seen, &no_memory)) return no_memory ? -2 : -1;
        int has_box = (seen & M_BBOX) != 0;
        if (m->n == 0) *boxed = has_box;
        else if (has_box != *boxed) return -1;
        m->n++;
        m->starts[m->n] = (int64_t)m->blob.n;
        skip_space(c);
        if (c->p < c->end && *c->p == ',') { c->p++; continue; }
        if (!expect(c, ']')) return -1;
        break;
    }
end:
    skip_space(c);
    return c->p == c->end ? m->n : -1;
}

/* ------------------------------------------------------------------------------------ */
/* A read-only buffer that owns a malloc'd block: a column handed to Python without a   */
/* copy (the masks' strings of a results file run to hundreds of megabytes).            */

typedef struct {
    PyObject_HEAD
    char *data;
    Py_ssize_t len;
} OwnedBuffer;

static int owned_getbuffer(PyObject *self, Py_buffer *view, int flags)
{
    OwnedBuffer *owned = (OwnedBuffer *)self;
    return PyBuffer_FillInfo(view, self, owned->data, owned->len, 1, flags);
}

static void owned_dealloc(PyObject *self)
{
    free(((OwnedBuffer *)self)->data);
    Py_TYPE(self)->tp_free(self);
}

static PyBufferProcs owned_buffer_procs = {owned_getbuffer, NULL};

static PyTypeObject OwnedBufferType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "evaluator.input._scan.OwnedBuffer",
    .tp_basicsize = sizeof(OwnedBuffer),
    .tp_dealloc = owned_dealloc,
    .tp_as_buffer = &owned_buffer_procs,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A read-only block of memory the scanner filled, freed with this object.",
};

/* A buffer object taking ownership of data[0:len] (freed now if it cannot be made). */
static PyObject *owned(char *data, Py_ssize_t len)
{
    OwnedBuffer *made = PyObject_New(OwnedBuffer, &OwnedBufferType);
    if (made == NULL) {
        free(data);
        return NULL;
    }
    made->data = data;
    made->len = len;
    return (PyObject *)made;
}

/* A buffer object taking over the column *data of `n` items of `size` bytes, without a
   copy: the block is shrunk to those items and *data set to NULL (the caller no longer
   owns it). Copying into bytes instead would hold every column twice at the peak, and
   the freed blocks would stay in the process's heap. */
static PyObject *owned_column(void *data_ptr, Py_ssize_t n, Py_ssize_t size)
{
    void **data = data_ptr;
    size_t len = (size_t)n * (size_t)size;
    char *block = len && *data ? realloc(*data, len) : NULL;
    if (block == NULL) { /* nothing to keep, or the shrink failed: keep the block as is */
        block = *data ? *data : malloc(1);
        if (block == NULL) return PyErr_NoMemory();
    }
    *data = NULL;
    return owned(block, (Py_ssize_t)len);
}

PyDoc_STRVAR(scan_predictions_doc,
"scan_predictions(data, n_keypoints=0)\n"
"--\n\n"
"COCO results JSON (a top-level array of plain result objects) as columns, or None.\n\n"
"Returns (n, image_id, category_id, bbox, score, keypoints, boxed): the count, four\n"
"read-only buffers of int64 (n,), int64 (n,), float64 (n, 4) and float64 (n,) items, then\n"
"with n_keypoints K > 0 the keypoints, float64 (n, K, 3), and whether the results carry\n"
"a bbox (all do, or none: then bbox is zeros); with K = 0 keypoints is empty and boxed\n"
"1. None when the document is not of that plain shape, for the general loader to read\n"
"or explain. Releases the GIL while it reads.");

static PyObject *scan_predictions(PyObject *self, PyObject *args)
{
    (void)self;
    Py_buffer data;
    Py_ssize_t nk = 0;
    if (!PyArg_ParseTuple(args, "y*|n", &data, &nk)) return NULL;
    if (nk < 0 || nk > 100000) {
        PyBuffer_Release(&data);
        PyErr_SetString(PyExc_ValueError, "n_keypoints: expected 0 to 100000");
        return NULL;
    }
    int64_t *image = NULL, *category = NULL;
    double *box = NULL, *score = NULL, *keypoints = NULL;
    Py_ssize_t n;
    int boxed;
    Cursor c = {data.buf, (const char *)data.buf + data.len};
    Py_BEGIN_ALLOW_THREADS
    n = scan(&c, &image, &category, &box, &score, &keypoints, nk, &boxed);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&data);
    PyObject *result = NULL;
    if (n == -2) {
        PyErr_NoMemory();
    } else if (n == -1) {
        result = Py_NewRef(Py_None);
    } else {
        result = Py_BuildValue("nNNNNNi", n, owned_column(&image, n, 8),
                               owned_column(&category, n, 8), owned_column(&box, n, 32),
                               owned_column(&score, n, 8),
                               owned_column(&keypoints, nk ? n : 0, 24 * nk), boxed);
    }
    free(keypoints);
    free(image);
    free(category);
    free(box);
    free(score);
    return result;
}

PyDoc_STRVAR(scan_mask_results_doc,
"scan_mask_results(data)\n"
"--\n\n"
"COCO segm results JSON (a top-level array of plain result objects whose segmentation\n"
"is {\"size\": [h, w], \"counts\": \"compressed RLE\"}) as columns, or None.\n\n"
"Returns (n, image_id, category_id, bbox, score, boxed, size, blob, starts): the count,\n"
"read-only buffers of int64 (n,), int64 (n,), float64 (n, 4) (zeros without a bbox) and\n"
"float64 (n,), whether the results carry a bbox (all do, or none), the masks' sizes int64\n"
"(n, 2), their strings one after the other and int64 (n + 1,) where each starts. None\n"
"when the document is not of that shape. Releases the GIL while it reads.");

static PyObject *scan_mask_results(PyObject *self, PyObject *args)
{
    (void)self;
    Py_buffer data;
    if (!PyArg_ParseTuple(args, "y*", &data)) return NULL;
    MaskColumns m;
    memset(&m, 0, sizeof m);
    Py_ssize_t n;
    int boxed;
    Cursor c = {data.buf, (const char *)data.buf + data.len};
    Py_BEGIN_ALLOW_THREADS
    n = scan_masks(&c, &m, &boxed);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&data);
    PyObject *result = NULL;
    if (n == -2) {
        PyErr_NoMemory();
    } else if (n == -1) {
        result = Py_NewRef(Py_None);
    } else {
        /* The strings change hands without a copy; an empty blob still gets a block. */
        char *strings = m.blob.data != NULL ? m.blob.data : malloc(1);
        m.blob.data = NULL;
        result = Py_BuildValue("nNNNNiNNN", n, owned_column(&m.image, n, 8),
                               owned_column(&m.category, n, 8), owned_column(&m.box, n, 32),
                               owned_column(&m.score, n, 8), boxed, owned_column(&m.size, n, 16),
                               owned(strings, (Py_ssize_t)m.blob.n),
                               owned_column(&m.starts, n + 1, 8));
    }
    free(m.image);
    free(m.category);
    free(m.size);
    free(m.box);
    free(m.score);
    free(m.starts);
    free(m.blob.data);
    return result;
}

static PyMethodDef methods[] = {
    {"scan_predictions", scan_predictions, METH_VARARGS, scan_predictions_doc},
    {"scan_mask_results", scan_mask_results, METH_VARARGS, scan_mask_results_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_scan", "The fast path of the COCO results loader.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__scan(void)
{
    if (PyType_Ready(&OwnedBufferType) < 0) return NULL;
    return PyModule_Create(&module);
}
