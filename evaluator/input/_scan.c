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
 *
 * Also the lookup of the ids read in the ground truth's sorted ids (positions).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../masks/_rle_string.h"

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

/* The token of `length` (< MAX_NUMBER_CHARS) bytes at c->p, NUL-terminated into `text`,
 * for the C library's converters. */
static void copy_token(const Cursor *c, Py_ssize_t length, char *text)
{
    memcpy(text, c->p, (size_t)length);
    text[length] = '\0';
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
        copy_token(c, n.length, text);
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
 * The float token files hold most, -?(0|[1-9][0-9]*)(.[0-9]+)? with at most 15 digits (7
 * before the point, 8 after: "401.93", "0.897"), read with no Number on the way: into
 * *out as read_double would convert it (m / 10^decimals, the same operands), c->p moved
 * past it. 0, c->p unmoved, for any other token (read_double's general path takes it).
 */
static int read_short_decimal(Cursor *c, double *out)
{
    static const double pow10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8};
    const char *q = c->p, *end = c->end;
    if (end - q < 18) return 0; /* room for the longest such token and what follows it */
    const int negative = *q == '-';
    q += negative;
    uint64_t m = 0;
    int whole = 0, decimals = 0;
    if (*q == '0') {
        q++;
        whole = 1;
    } else {
        for (; *q >= '0' && *q <= '9' && whole < 8; q++, whole++) m = m * 10 + (uint64_t)(*q - '0');
        if (whole == 0 || whole > 7) return 0;
    }
    if (*q == '.') {
        for (q++; q[decimals] >= '0' && q[decimals] <= '9' && decimals < 9; decimals++)
            m = m * 10 + (uint64_t)(q[decimals] - '0');
        if (decimals == 0 || decimals > 8) return 0;
        q += decimals;
    }
    if ((*q >= '0' && *q <= '9') || *q == '.' || *q == 'e' || *q == 'E') return 0;
    const double v = m == 0 ? 0.0 : decimals ? (double)m / pow10[decimals] : (double)m * pow10[0];
    *out = negative && (m != 0 || decimals) ? -v : v; /* "-0" is the integer 0, "-0.0" is -0.0 */
    c->p = q;
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
    if (read_short_decimal(c, out)) return 1;
    Number n = scan_number(c);
    if (n.length == 0 || n.length >= MAX_NUMBER_CHARS) return 0;
    if (n.integral && n.length > 15 + n.negative) return 0; /* int -> float: the decoder's */
    if (n.digits <= 15 && !n.huge_exponent && (n.m == 0 || (n.exp10 >= -22 && n.exp10 <= 22))) {
        double v = n.m == 0        ? 0.0
                   : n.exp10 >= 0 ? (double)n.m * pow10[n.exp10]
                                  : (double)n.m / pow10[-n.exp10];
        *out = n.negative && !(n.integral && n.m == 0) ? -v : v; /* "-0": the integer 0 */
    } else {
        char text[MAX_NUMBER_CHARS];
        copy_token(c, n.length, text);
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

/* ------------------------------------------------------------------------------------ */
/* Results read in parts, one per thread: the array is cut after a "}," near each even   */
/* share of the bytes, and each part fills its own rows of columns the caller allocated. */

/* The box a result without one gets in loadRes: the extent of all its nk keypoints. */
static void keypoint_extent(const double *keypoints, Py_ssize_t nk, double *box)
{
    double x0 = INFINITY, y0 = INFINITY, x1 = -INFINITY, y1 = -INFINITY;
    for (Py_ssize_t k = 0; k < nk; k++) {
        double x = keypoints[3 * k], y = keypoints[3 * k + 1];
        x0 = x < x0 ? x : x0;
        x1 = x > x1 ? x : x1;
        y0 = y < y0 ? y : y0;
        y1 = y > y1 ? y : y1;
    }
    box[0] = x0;
    box[1] = y0;
    box[2] = x1 - x0;
    box[3] = y1 - y0;
}

enum { PART_FAILED = 0, PART_AT_STOP = 1, PART_AT_END = 2, PART_PAST_STOP = 3, PART_GO_ON = 4 };

/* A part's start: the document's '[' when `first` (an empty array is the whole document:
 * PART_AT_END, or PART_FAILED with anything after it), then PART_GO_ON to the results. */
static int part_start(Cursor *c, int first)
{
    if (!first) return PART_GO_ON;
    if (!expect(c, '[')) return PART_FAILED;
    skip_space(c);
    if (c->p < c->end && *c->p == ']') {
        c->p++;
        skip_space(c);
        return c->p == c->end ? PART_AT_END : PART_FAILED;
    }
    return PART_GO_ON;
}

/* After a result that ends at c->p: PART_AT_STOP at `stop`, PART_PAST_STOP beyond it,
 * PART_GO_ON past a ',' to the next result, else the closing ']' and the document's end
 * (PART_AT_END) or PART_FAILED. */
static int part_after_result(Cursor *c, const char *stop)
{
    if (stop != NULL && c->p == stop) return PART_AT_STOP;
    if (stop != NULL && c->p > stop) return PART_PAST_STOP;
    skip_space(c);
    if (c->p < c->end && *c->p == ',') {
        c->p++;
        return PART_GO_ON;
    }
    if (!expect(c, ']')) return PART_FAILED;
    skip_space(c);
    return c->p == c->end ? PART_AT_END : PART_FAILED;
}

typedef struct {
    int64_t *image, *category;
    double *box, *score, *keypoints;
    Py_ssize_t cap, n;
    int boxed; /* -1 until the part's first result says */
} PartColumns;

/*
 * The results from c->p on: after the opening '[' when `first`, else where a result
 * starts. Stops after the result that ends at `stop` (the ',' that follows it; NULL: no
 * stop) or after the closing ']' and trailing space. Returns PART_AT_STOP, PART_AT_END,
 * PART_PAST_STOP (a result ran past `stop`: it was not between two results), or
 * PART_FAILED (not the plain shape, or more results than rows).
 */
static int scan_part(Cursor *c, const char *stop, int first, Py_ssize_t nk, PartColumns *out)
{
    out->n = 0;
    out->boxed = -1;
    int status = part_start(c, first);
    for (Py_ssize_t i = 0; status == PART_GO_ON; i++) {
        if (i == out->cap) return PART_FAILED;
        int seen = 0;
        double *box = out->box + 4 * i, *keypoints = nk ? out->keypoints + 3 * nk * i : NULL;
        memset(box, 0, 4 * sizeof(double));
        if (!read_result(c, out->image + i, out->category + i, box, out->score + i, keypoints,
                         nk, &seen))
            return PART_FAILED;
        int has_box = (seen & BBOX) != 0;
        if (out->boxed == -1) out->boxed = has_box;
        else if (has_box != out->boxed) return PART_FAILED;
        if (nk && !has_box) keypoint_extent(keypoints, nk, box);
        out->n = i + 1;
        status = part_after_result(c, stop);
    }
    return status;
}

/* Writable C-contiguous buffer of `rows` items of `size` bytes, or -1 (error set). */
static Py_ssize_t rows_of(Py_buffer *view, Py_ssize_t size, const char *name)
{
    if (!PyBuffer_IsContiguous(view, 'C') || view->len % size != 0) {
        PyErr_Format(PyExc_ValueError, "%s: expected a C-contiguous buffer of %zd-byte rows",
                     name, size);
        return -1;
    }
    return view->len / size;
}

PyDoc_STRVAR(scan_results_part_doc,
"scan_results_part(data, n_keypoints, start, stop, image_id, category_id, bbox, score,\n"
"                  keypoints)\n"
"--\n\n"
"One part of a COCO results JSON array of plain result objects, into given rows.\n\n"
"Reads from byte `start` (0: the document's start, its '[' included; else where a\n"
"result starts, after a ',') to the result that ends at byte `stop`, a ',' (-1: to the\n"
"closing ']' and the document's end). The columns are writable C-contiguous buffers of\n"
"the same row count: int64 (R,), int64 (R,), float64 (R, 4), float64 (R,) and, with\n"
"n_keypoints K > 0, float64 (R, K, 3) (ignored when K = 0). With K > 0 a result without\n"
"a bbox gets the box spanned by its K keypoints [x0, y0, x1 - x0, y1 - y0], as loadRes\n"
"gives it; with K = 0 every result needs a bbox.\n\n"
"Returns (n, boxed, status): the results read, whether they carry a bbox (-1: none\n"
"read), and 1 (stopped at `stop`), 2 (read to the end), 3 (a result ran past `stop`,\n"
"which is then not between two results) or 0 (not the plain shape, or more than R\n"
"results). Releases the GIL while it reads.");

static PyObject *scan_results_part(PyObject *self, PyObject *args)
{
    (void)self;
    Py_buffer data, image, category, box, score, keypoints;
    Py_ssize_t nk, start, stop;
    if (!PyArg_ParseTuple(args, "y*nnnw*w*w*w*w*", &data, &nk, &start, &stop, &image, &category,
                          &box, &score, &keypoints))
        return NULL;
    PyObject *result = NULL;
    Py_ssize_t rows = rows_of(&image, 8, "image_id");
    if (rows < 0) goto done;
    if (nk < 0 || nk > 100000 || start < 0 || start > data.len || stop < -1 || stop > data.len) {
        PyErr_SetString(PyExc_ValueError, "n_keypoints, start or stop out of range");
        goto done;
    }
    if (rows_of(&category, 8, "category_id") != rows || rows_of(&box, 32, "bbox") != rows ||
        rows_of(&score, 8, "score") != rows ||
        (nk && rows_of(&keypoints, 24 * nk, "keypoints") != rows)) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "columns of unequal rows");
        goto done;
    }
    PartColumns out = {image.buf, category.buf, box.buf, score.buf, keypoints.buf, rows, 0, -1};
    const char *text = data.buf;
    Cursor c = {text + start, text + data.len};
    int status;
    Py_BEGIN_ALLOW_THREADS
    status = scan_part(&c, stop < 0 ? NULL : text + stop, start == 0, nk, &out);
    Py_END_ALLOW_THREADS
    result = Py_BuildValue("nii", out.n, out.boxed, status);
done:
    PyBuffer_Release(&data);
    PyBuffer_Release(&image);
    PyBuffer_Release(&category);
    PyBuffer_Release(&box);
    PyBuffer_Release(&score);
    PyBuffer_Release(&keypoints);
    return result;
}

PyDoc_STRVAR(count_byte_doc,
"count_byte(data, byte, start, stop)\n"
"--\n\n"
"How many times `byte` occurs in data[start:stop] (a bound on the results there: each\n"
"is one '{...}').");

static PyObject *count_byte(PyObject *self, PyObject *args)
{
    (void)self;
    Py_buffer data;
    int byte;
    Py_ssize_t start, stop;
    if (!PyArg_ParseTuple(args, "y*inn", &data, &byte, &start, &stop)) return NULL;
    if (start < 0 || stop > data.len || start > stop) {
        PyBuffer_Release(&data);
        PyErr_SetString(PyExc_ValueError, "start, stop out of range");
        return NULL;
    }
    const char *p = (const char *)data.buf + start, *end = (const char *)data.buf + stop;
    Py_ssize_t count = 0;
    Py_BEGIN_ALLOW_THREADS
    while ((p = memchr(p, byte, (size_t)(end - p))) != NULL) {
        count++;
        p++;
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&data);
    return PyLong_FromSsize_t(count);
}

/* ------------------------------------------------------------------------------------ */
/* Rows of numbers: the ground truth's keypoints, each annotation's array or null.        */

/* "[" then R items "null" or "[n numbers]", comma-separated, then "]" and the end. */
static int scan_rows(Cursor *c, Py_ssize_t n, Py_ssize_t rows, double *values, char *present)
{
    if (!expect(c, '[')) return 0;
    for (Py_ssize_t i = 0; i < rows; i++) {
        if (i && !expect(c, ',')) return 0;
        skip_space(c);
        if (c->end - c->p >= 4 && memcmp(c->p, "null", 4) == 0) {
            c->p += 4;
            present[i] = 0;
            memset(values + n * i, 0, (size_t)n * sizeof(double));
        } else {
            if (!read_numbers(c, values + n * i, n)) return 0;
            present[i] = 1;
        }
    }
    if (!expect(c, ']')) return 0;
    skip_space(c);
    return c->p == c->end;
}

PyDoc_STRVAR(scan_number_rows_doc,
"scan_number_rows(data, n, values, present)\n"
"--\n\n"
"A JSON array of R items, each null or an array of exactly n numbers, into values, a\n"
"writable float64 (R, n) buffer (zeros for null), and present, a writable (R,) buffer of\n"
"bytes (1: an array, 0: null). Numbers as the results are read (finite, exact).\n"
"Returns whether the document was of that shape (else the buffers hold anything).\n"
"Releases the GIL while it reads.");

static PyObject *scan_number_rows(PyObject *self, PyObject *args)
{
    (void)self;
    Py_buffer data, values, present;
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "y*nw*w*", &data, &n, &values, &present)) return NULL;
    PyObject *result = NULL;
    Py_ssize_t rows = present.len;
    if (n < 1 || !PyBuffer_IsContiguous(&values, 'C') || !PyBuffer_IsContiguous(&present, 'C') ||
        values.len != rows * n * (Py_ssize_t)sizeof(double)) {
        PyErr_SetString(PyExc_ValueError, "values, present: not (R, n) float64 and (R,) bytes");
        goto done;
    }
    Cursor c = {data.buf, (const char *)data.buf + data.len};
    int ok;
    Py_BEGIN_ALLOW_THREADS
    ok = scan_rows(&c, n, rows, values.buf, present.buf);
    Py_END_ALLOW_THREADS
    result = PyBool_FromLong(ok);
done:
    PyBuffer_Release(&data);
    PyBuffer_Release(&values);
    PyBuffer_Release(&present);
    return result;
}

/* ------------------------------------------------------------------------------------ */
/* Mask results: {"image_id", "category_id", "score", "segmentation": {"size": [h, w],    */
/* "counts": "compressed RLE"}, "bbox" optional}; the strings land in one blob.           */

/* The masks' strings one after the other, in a block of `cap` bytes the caller gives.
   Unescaped, a string is no longer than its text: a block as long as the text read holds
   them all. */
typedef struct {
    char *data;
    size_t n, cap;
    int full; /* a string did not fit */
} Blob;

/* A JSON string of printable ASCII onto the blob; the escapes \\ and \/ only (RLE strings
 * hold backslashes). 0 on anything else, or when it does not fit (b->full set). */
static int read_blob_string(Cursor *c, Blob *b)
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
    if ((size_t)(q - s) > b->cap - b->n) {
        b->full = 1;
        return 0;
    }
    int escaped = backslashes != 0;
    if (!escaped) {
        memmove(b->data + b->n, s, (size_t)(q - s));
        b->n += (size_t)(q - s);
    } else { /* runs between escapes copied whole; only \\ and \/ (a \" ended it early) */
        const char *r = s;
        while (r < q) {
            const char *slash = memchr(r, '\\', (size_t)(q - r));
            const char *stop = slash != NULL ? slash : q;
            memmove(b->data + b->n, r, (size_t)(stop - r));
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
static int read_segmentation(Cursor *c, int64_t *size, Blob *b)
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
            if (!read_blob_string(c, b)) return 0;
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
    int64_t *totals;                  /* the sum of a string's counts, or -(problem code) */
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
    int64_t *u2 = s2 ? realloc(m->totals, (size_t)cap * 8) : NULL;
    if (u2) m->totals = u2;
    int64_t *t2 = u2 ? realloc(m->starts, (size_t)(cap + 1) * 8) : NULL;
    if (t2) m->starts = t2;
    if (!t2) return 0;
    m->cap = cap;
    return 1;
}

/* One mask result into row n; the fields it had in *seen_out. */
static int read_mask_result(Cursor *c, MaskColumns *m, int *seen_out)
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
        else if (field == M_SEGMENTATION) ok = read_segmentation(c, m->size + 2 * i, &m->blob);
        else ok = skip_value(c);
        if (!ok) return 0;
        skip_space(c);
        if (c->p < c->end && *c->p == ',') { c->p++; continue; }
        if (!expect(c, '}')) return 0;
        *seen_out = seen;
        return (seen | M_BBOX) == (M_IMAGE_ID | M_CATEGORY_ID | M_BBOX | M_SCORE | M_SEGMENTATION);
    }
}

/* Why a string does not decode, by code (the scanner's totals hold -code): index 0 is
   no problem. Exposed to Python as STRING_PROBLEMS. */
static const char *const string_problems[] = {
    "", RLE_BAD_CHARACTER, RLE_ENDS_INSIDE_COUNT, RLE_COUNT_TOO_LONG, RLE_COUNT_OUT_OF_RANGE,
};
#define N_STRING_PROBLEMS ((int)(sizeof string_problems / sizeof string_problems[0]))

/* The sum of the counts of string s[0:len], or -(code of its problem). Checked as it is
   read, while the string is in the cache: no second pass over the strings. */
static int64_t checked_total(const char *s, Py_ssize_t len)
{
    uint64_t total = 0;
    const char *problem = string_total(s, len, &total);
    if (problem == NULL) return (int64_t)total; /* under 2**32 counts of under 2**32 */
    for (int code = 1; code < N_STRING_PROBLEMS; code++)
        if (strcmp(problem, string_problems[code]) == 0) return -code;
    return -1;
}

enum { PART_NO_MEMORY = -1 };

/*
 * The mask results from c->p on, as scan_part reads a part of box results (after the
 * opening '[' when `first`, else where a result starts; to the result that ends at
 * `stop`, or to the closing ']' and the end with `stop` NULL), into columns that grow as
 * they fill; *boxed as scan_part's. Returns a PART_ status, or PART_NO_MEMORY. A part
 * whose strings overflow the blob read past `stop` (the blob is as long as the text to
 * `stop`): PART_PAST_STOP.
 */
static int read_mask_part(Cursor *c, const char *stop, int first, MaskColumns *m, int *boxed)
{
    *boxed = -1;
    if (!grow_mask_columns(m)) return PART_NO_MEMORY;
    m->starts[0] = 0;
    int status = part_start(c, first);
    while (status == PART_GO_ON) {
        if (m->n == m->cap && !grow_mask_columns(m)) return PART_NO_MEMORY;
        int seen = 0;
        if (!read_mask_result(c, m, &seen)) return m->blob.full ? PART_PAST_STOP : PART_FAILED;
        int has_box = (seen & M_BBOX) != 0;
        if (*boxed == -1) *boxed = has_box;
        else if (has_box != *boxed) return PART_FAILED;
        Py_ssize_t start = (Py_ssize_t)m->starts[m->n];
        m->totals[m->n] = checked_total(m->blob.data + start, (Py_ssize_t)m->blob.n - start);
        m->n++;
        m->starts[m->n] = (int64_t)m->blob.n;
        status = part_after_result(c, stop);
    }
    return status;
}

/* ------------------------------------------------------------------------------------ */
/* A read-only buffer that owns a malloc'd block: a column handed to Python without a   */
/* copy (a part's columns run to megabytes).                                            */

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

PyDoc_STRVAR(scan_mask_part_doc,
"scan_mask_part(data, start, stop, strings)\n"
"--\n\n"
"One part of COCO segm results JSON (a top-level array of plain result objects whose\n"
"segmentation is {\"size\": [h, w], \"counts\": \"compressed RLE\"}), as columns.\n\n"
"Reads as scan_results_part does: from byte `start` (0: the document's start, its '['\n"
"included; else where a result starts) to the result that ends at byte `stop` (-1: to\n"
"the closing ']' and the document's end). The masks' strings are written one after the\n"
"other to the start of `strings`, a writable buffer at least as long as the text read\n"
"(stop - start, or to the end).\n\n"
"Returns (status, n, image_id, category_id, bbox, score, boxed, size, length, starts,\n"
"totals): scan_results_part's status (1 stopped at `stop`, 2 read to the end, 3 a result\n"
"ran past `stop`, 0 not the plain shape, a bbox on some results only included), the\n"
"count, read-only buffers of int64 (n,), int64 (n,), float64 (n, 4) (zeros without a\n"
"bbox) and float64 (n,), whether the results carry a bbox (-1: none read), the masks'\n"
"sizes int64 (n, 2), the length of their strings at the start of `strings`, int64\n"
"(n + 1,) where each starts there, and int64 (n,) the sum of each string's counts, or -k\n"
"where it does not decode, for the reason STRING_PROBLEMS[k]. Releases the GIL while it\n"
"reads.");

static PyObject *scan_mask_part(PyObject *self, PyObject *args)
{
    (void)self;
    Py_buffer data, strings;
    Py_ssize_t start, stop;
    if (!PyArg_ParseTuple(args, "y*nnw*", &data, &start, &stop, &strings)) return NULL;
    PyObject *result = NULL;
    MaskColumns m;
    memset(&m, 0, sizeof m);
    if (start < 0 || start > data.len || stop < -1 || stop > data.len ||
        (stop >= 0 && stop < start)) {
        PyErr_SetString(PyExc_ValueError, "start or stop out of range");
        goto done;
    }
    Py_ssize_t span = (stop < 0 ? data.len : stop) - start;
    if (strings.len < span) {
        PyErr_SetString(PyExc_ValueError, "strings: shorter than the text to read");
        goto done;
    }
    m.blob.data = strings.buf;
    m.blob.cap = (size_t)strings.len;
    const char *text = data.buf;
    Cursor c = {text + start, text + data.len};
    int boxed, status;
    Py_BEGIN_ALLOW_THREADS
    status = read_mask_part(&c, stop < 0 ? NULL : text + stop, start == 0, &m, &boxed);
    Py_END_ALLOW_THREADS
    if (status == PART_NO_MEMORY) {
        PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t n = m.n;
    result = Py_BuildValue("inNNNNiNnNN", status, n, owned_column(&m.image, n, 8),
                           owned_column(&m.category, n, 8), owned_column(&m.box, n, 32),
                           owned_column(&m.score, n, 8), boxed, owned_column(&m.size, n, 16),
                           (Py_ssize_t)m.blob.n, owned_column(&m.starts, n + 1, 8),
                           owned_column(&m.totals, n, 8));
done:
    PyBuffer_Release(&data);
    PyBuffer_Release(&strings);
    free(m.image);
    free(m.category);
    free(m.size);
    free(m.box);
    free(m.score);
    free(m.totals);
    free(m.starts);
    return result;
}

/* ------------------------------------------------------------------------------------ */
/* Looking ids up in a sorted list of ids.                                              */

/* The ids are looked up in a table of their range when it is at most TABLE_SPREAD times as
 * wide as there are ids to look up or to find them among (filling an entry costs far less
 * than a binary search's dozen steps through memory), and at most TABLE_WIDEST entries (16
 * MiB); else by binary search. COCO's image ids span 581,000 for 5,000 images. */
#define TABLE_SPREAD 32
#define TABLE_WIDEST ((uint64_t)1 << 22)

PyDoc_STRVAR(positions_doc,
"positions(sorted_ids, ids, position, found) -> int\n"
"--\n\n"
"For each id, its position in sorted_ids (int64 (m,), ascending, distinct) into position\n"
"(int64 (n,); 0 where it is absent) and whether it is there into found (uint8 (n,));\n"
"returns how many are. ids: int64 (n,). A table when the ids' range is at most\n"
"32 times max(m, n) and 2**22 wide, else a binary search. Releases the GIL.");

static PyObject *positions(PyObject *self, PyObject *args)
{
    (void)self;
    Py_buffer b[4];
    memset(b, 0, sizeof b);
    if (!PyArg_ParseTuple(args, "y*y*w*w*", &b[0], &b[1], &b[2], &b[3])) return NULL;
    PyObject *result = NULL;
    int32_t *table = NULL;
    Py_ssize_t m = b[0].len / 8, n = b[1].len / 8;
    if (b[0].len % 8 || b[1].len % 8 || b[2].len != b[1].len || b[3].len != n) {
        PyErr_SetString(PyExc_ValueError, "positions: arrays of the wrong sizes");
        goto done;
    }
    const int64_t *sorted = b[0].buf, *ids = b[1].buf;
    int64_t *out = b[2].buf;
    uint8_t *found = b[3].buf;
    for (Py_ssize_t j = 1; j < m; j++) {
        if (sorted[j] <= sorted[j - 1]) {
            PyErr_Format(PyExc_ValueError, "sorted_ids[%zd]: not above the one before", j);
            goto done;
        }
    }
    Py_ssize_t n_found = 0;
    /* Unsigned span: no overflow whatever the ids' signs. */
    uint64_t span = m ? (uint64_t)sorted[m - 1] - (uint64_t)sorted[0] : 0;
    uint64_t widest = (uint64_t)TABLE_SPREAD * (uint64_t)(m > n ? m : n);
    if (m > 0 && m < INT32_MAX && span < widest && span < TABLE_WIDEST) {
        table = malloc((size_t)(span + 1) * sizeof(int32_t));
        if (table == NULL) {
            PyErr_NoMemory();
            goto done;
        }
    }
    Py_BEGIN_ALLOW_THREADS
    if (table != NULL) {
        int64_t low = sorted[0];
        for (uint64_t v = 0; v <= span; v++) table[v] = -1;
        for (Py_ssize_t j = 0; j < m; j++) table[(uint64_t)sorted[j] - (uint64_t)low] = (int32_t)j;
        for (Py_ssize_t i = 0; i < n; i++) {
            uint64_t offset = (uint64_t)ids[i] - (uint64_t)low; /* below low wraps above span */
            int32_t at = offset <= span ? table[offset] : -1;
            out[i] = at < 0 ? 0 : at;
            found[i] = at >= 0;
            n_found += at >= 0;
        }
    } else {
        for (Py_ssize_t i = 0; i < n; i++) {
            Py_ssize_t lo = 0, hi = m; /* the first sorted id >= ids[i] is in [lo, hi] */
            while (lo < hi) {
                Py_ssize_t mid = lo + (hi - lo) / 2;
                if (sorted[mid] < ids[i]) lo = mid + 1;
                else hi = mid;
            }
            int hit = lo < m && sorted[lo] == ids[i];
            out[i] = hit ? lo : 0;
            found[i] = (uint8_t)hit;
            n_found += hit;
        }
    }
    Py_END_ALLOW_THREADS
    result = PyLong_FromSsize_t(n_found);
done:
    free(table);
    for (int i = 0; i < 4; i++)
        if (b[i].obj != NULL) PyBuffer_Release(&b[i]);
    return result;
}

static PyMethodDef methods[] = {
    {"scan_mask_part", scan_mask_part, METH_VARARGS, scan_mask_part_doc},
    {"scan_results_part", scan_results_part, METH_VARARGS, scan_results_part_doc},
    {"count_byte", count_byte, METH_VARARGS, count_byte_doc},
    {"positions", positions, METH_VARARGS, positions_doc},
    {"scan_number_rows", scan_number_rows, METH_VARARGS, scan_number_rows_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_scan", "The fast path of the COCO results loader.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__scan(void)
{
    if (PyType_Ready(&OwnedBufferType) < 0) return NULL;
    PyObject *made = PyModule_Create(&module);
    if (made == NULL) return NULL;
    PyObject *problems = PyTuple_New(N_STRING_PROBLEMS);
    for (int code = 0; problems != NULL && code < N_STRING_PROBLEMS; code++) {
        PyObject *text = PyUnicode_FromString(string_problems[code]);
        if (text == NULL) Py_CLEAR(problems);
        else PyTuple_SET_ITEM(problems, code, text);
    }
    if (problems == NULL || PyModule_AddObject(made, "STRING_PROBLEMS", problems) < 0) {
        Py_XDECREF(problems);
        Py_DECREF(made);
        return NULL;
    }
    return made;
}
