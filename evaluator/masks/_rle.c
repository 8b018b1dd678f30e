/*
 * Compiled kernels of evaluator.masks: COCO run-length encoded masks, with the
 * algorithms of cocoapi's maskApi.c (as pycocotools 2.0.11 ships it) so that every count,
 * box and IoU is the same, bit for bit.
 *
 * A batch of n masks is three columns: counts (uint32, all masks' runs one after the
 * other, background first, column-major pixels), offsets (int64 (n + 1,): mask i's runs
 * are counts[offsets[i]:offsets[i + 1]]), and its heights and widths (int64 (n,)). The
 * Python wrappers (evaluator/masks/runs.py) validate the columns once; these kernels
 * trust them: every mask's counts sum to height * width < 2**32.
 *
 * Arrays arrive through the buffer protocol, so the module needs no NumPy headers.
 * Unsigned 32-bit arithmetic is kept wherever maskApi.c uses `uint`, so that its
 * wrap-arounds are reproduced too (they occur only for images of 2**31 pixels or more).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include "../_engine.h"
#include "_rle_string.h"
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#ifdef __clang__ /* GCC ignores the pragma; -ffp-contract=off (setup.py) covers it */
#pragma STDC FP_CONTRACT OFF
#endif

/* ------------------------------------------------------------------------------------ */
/* A growable uint32 array.                                                              */

typedef struct {
    uint32_t *data;
    size_t n, cap;
} Runs;

/* Make room for `more` items; 0, or -1 when memory runs out. */
static int reserve(Runs *r, size_t more)
{
    if (r->n + more <= r->cap) return 0;
    size_t cap = r->cap ? r->cap : 64;
    while (cap < r->n + more) {
        if (cap > SIZE_MAX / 2 / sizeof(uint32_t)) return -1;
        cap *= 2;
    }
    uint32_t *grown = realloc(r->data, cap * sizeof(uint32_t));
    if (grown == NULL) return -1;
    r->data = grown;
    r->cap = cap;
    return 0;
}

static int push(Runs *r, uint32_t value)
{
    if (reserve(r, 1)) return -1;
    r->data[r->n++] = value;
    return 0;
}

/* ------------------------------------------------------------------------------------ */
/* Batches of masks (the buffer helpers are evaluator/_engine.h's).                      */

/* The number of masks of (counts, offsets), after checking that the offsets are
 * non-decreasing from 0 to the number of counts; -1 with an error set otherwise. */
static Py_ssize_t batch_size(const Py_buffer *counts, const Py_buffer *offsets)
{
    Py_ssize_t n_counts = items(counts, 4, "counts"), n = items(offsets, 8, "offsets");
    if (n_counts < 0 || n < 0) return -1;
    if (n < 1) {
        PyErr_SetString(PyExc_ValueError, "offsets: empty");
        return -1;
    }
    const int64_t *o = offsets->buf;
    if (o[0] != 0 || o[n - 1] != n_counts) {
        PyErr_SetString(PyExc_ValueError, "offsets: must run from 0 to the number of counts");
        return -1;
    }
    for (Py_ssize_t i = 0; i + 1 < n; i++) {
        if (o[i] > o[i + 1]) {
            PyErr_SetString(PyExc_ValueError, "offsets: must not decrease");
            return -1;
        }
    }
    return n - 1;
}

/* A new bytearray holding a copy of `n` items of `size` bytes at `data`. */
static PyObject *bytearray_of(const void *data, size_t n, size_t size)
{
    return PyByteArray_FromStringAndSize(n ? (const char *)data : "", (Py_ssize_t)(n * size));
}

/* The bytearray pair (counts, offsets) of a batch built in `runs` and `offsets`. */
static PyObject *batch_of(const Runs *runs, const int64_t *offsets, Py_ssize_t n)
{
    PyObject *counts = bytearray_of(runs->data, runs->n, sizeof(uint32_t));
    PyObject *starts = bytearray_of(offsets, (size_t)n + 1, sizeof(int64_t));
    PyObject *result = NULL;
    if (counts != NULL && starts != NULL) result = PyTuple_Pack(2, counts, starts);
    Py_XDECREF(counts);
    Py_XDECREF(starts);
    return result;
}

/* Raise ValueError(index, problem): the Python wrapper turns it into a located error. */
static PyObject *located(Py_ssize_t index, const char *problem)
{
    PyObject *value = Py_BuildValue("(ns)", index, problem);
    if (value != NULL) {
        PyErr_SetObject(PyExc_ValueError, value);
        Py_DECREF(value);
    }
    return NULL;
}

/* ------------------------------------------------------------------------------------ */
/* Compressed strings: maskApi.c's rleToString / rleFrString, a LEB128-like code of 6   */
/* bits per character (ASCII 48..111): 5 value bits, 0x20 = more characters follow, and  */
/* 0x10 in the last character = negative. Counts from the fourth on are stored as the   */
/* difference to the count two before.                                                   */

/* Write the code of counts[0:m] to s (at most 7 characters a count); its length. */
static size_t to_string(const uint32_t *counts, int64_t m, char *s)
{
    size_t p = 0;
    for (int64_t i = 0; i < m; i++) {
        int64_t x = (int64_t)counts[i];
        if (i > 2) x -= (int64_t)counts[i - 2];
        int more = 1;
        while (more) {
            int64_t c = x & 0x1f;
            x = (x - c) / 32; /* maskApi.c's arithmetic x >>= 5, portably */
            more = (c & 0x10) ? x != -1 : x != 0;
            if (more) c |= 0x20;
            s[p++] = (char)(c + 48);
        }
    }
    return p;
}

/* next_count and next_count_fast: evaluator/masks/_rle_string.h. */

/* Why string s[0:len] does not decode into `m` counts (NULL when it does), the counts
 * written to counts (NULL: only count them) and their number to *m. */
static const char *from_string(const char *s, Py_ssize_t len, uint32_t *counts, int64_t *m)
{
    uint64_t total;
    if (decode_fast(s, len, counts, m, &total)) return NULL;
    int64_t k = 0;
    Py_ssize_t p = 0;
    while (p < len) {
        int64_t x;
        const char *problem = next_count_fast(s, len, &p, &x);
        if (problem != NULL) return problem;
        if (counts != NULL) {
            if (k > 2) x += (int64_t)counts[k - 2];
            if (x < 0 || x > UINT32_MAX) return RLE_COUNT_OUT_OF_RANGE;
            counts[k] = (uint32_t)x;
        }
        k++;
    }
    *m = k;
    return NULL;
}

/* Whether counts[0:m] sum to exactly area. */
static int sums_to(const uint32_t *counts, int64_t m, uint64_t area)
{
    uint64_t total = 0;
    for (int64_t j = 0; j < m; j++) total += counts[j];
    return total == area;
}

PyDoc_STRVAR(decode_strings_doc,
"decode_strings(strings, heights, widths) -> (counts, offsets)\n"
"--\n\n"
"Decode a sequence of compressed COCO RLE strings (bytes or ASCII str) into a batch:\n"
"counts uint32 and offsets int64 (n + 1,), as bytearrays. heights, widths: int64 (n,).\n"
"A string that does not decode, or whose counts do not sum to height * width, raises\n"
"ValueError(index, problem). Releases the GIL while it decodes.");

static PyObject *decode_strings(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *sequence;
    Py_buffer b[2];
    memset(b, 0, sizeof b);
    if (!PyArg_ParseTuple(args, "Oy*y*", &sequence, &b[0], &b[1])) return NULL;
    PyObject *result = NULL, *strings = PySequence_Tuple(sequence); /* holds the strings */
    const char **text = NULL;
    Py_ssize_t *length = NULL;
    int64_t *offsets = NULL;
    Runs runs = {0};
    if (strings == NULL) goto done;
    Py_ssize_t n = PyTuple_GET_SIZE(strings);
    if (check_items(&b[0], 8, n, "heights") || check_items(&b[1], 8, n, "widths")) goto done;
    text = malloc(sizeof(char *) * (size_t)(n ? n : 1));
    length = malloc(sizeof(Py_ssize_t) * (size_t)(n ? n : 1));
    offsets = malloc(sizeof(int64_t) * (size_t)(n + 1));
    if (text == NULL || length == NULL || offsets == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyTuple_GET_ITEM(strings, i);
        if (PyBytes_Check(item)) {
            text[i] = PyBytes_AS_STRING(item);
            length[i] = PyBytes_GET_SIZE(item);
        } else if (PyUnicode_Check(item)) {
            text[i] = PyUnicode_AsUTF8AndSize(item, &length[i]);
            if (text[i] == NULL) {
                PyErr_Clear();
                located(i, "a string that is not valid UTF-8");
                goto done;
            }
        } else {
            located(i, "expected a str or bytes string");
            goto done;
        }
    }
    const int64_t *heights = b[0].buf, *widths = b[1].buf;
    const char *problem = NULL;
    Py_ssize_t bad = -1;
    int no_memory = 0;
    Py_BEGIN_ALLOW_THREADS
    offsets[0] = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t m;
        problem = from_string(text[i], length[i], NULL, &m); /* first count, then decode */
        if (problem == NULL && reserve(&runs, (size_t)m)) {
            no_memory = 1;
            break;
        }
        if (problem == NULL) problem = from_string(text[i], length[i], runs.data + runs.n, &m);
        if (problem == NULL &&
            !sums_to(runs.data + runs.n, m, (uint64_t)heights[i] * (uint64_t)widths[i]))
            problem = RLE_WRONG_SUM;
        if (problem != NULL) {
            bad = i;
            break;
        }
        runs.n += (size_t)m;
        offsets[i + 1] = (int64_t)runs.n;
    }
    Py_END_ALLOW_THREADS
    if (no_memory) PyErr_NoMemory();
    else if (problem != NULL) located(bad, problem);
    else result = batch_of(&runs, offsets, n);
done:
    Py_XDECREF(strings);
    free(text);
    free(length);
    free(offsets);
    free(runs.data);
    release(b, 2);
    return result;
}

PyDoc_STRVAR(encode_strings_doc,
"encode_strings(counts, offsets) -> list[bytes]\n"
"--\n\n"
"The compressed COCO RLE string of each mask of a batch, as maskApi.c's rleToString.");

static PyObject *encode_strings(PyObject *self, PyObject *args)
{
    (void)self;
    Py_buffer b[2];
    memset(b, 0, sizeof b);
    if (!PyArg_ParseTuple(args, "y*y*", &b[0], &b[1])) return NULL;
    PyObject *result = NULL;
    char *text = NULL;
    size_t *ends = NULL;
    Py_ssize_t n = batch_size(&b[0], &b[1]);
    if (n < 0) goto done;
    const uint32_t *counts = b[0].buf;
    const int64_t *offsets = b[1].buf;
    size_t n_counts = (size_t)offsets[n];
    text = malloc(7 * n_counts + 1);
    ends = malloc(sizeof(size_t) * (size_t)(n ? n : 1));
    if (text == NULL || ends == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    size_t p = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        p += to_string(counts + offsets[i], offsets[i + 1] - offsets[i], text + p);
        ends[i] = p;
    }
    Py_END_ALLOW_THREADS
    result = PyList_New(n);
    if (result == NULL) goto done;
    for (Py_ssize_t i = 0; i < n; i++) {
        size_t start = i ? ends[i - 1] : 0;
        PyObject *s = PyBytes_FromStringAndSize(text + start, (Py_ssize_t)(ends[i] - start));
        if (s == NULL) {
            Py_CLEAR(result);
            goto done;
        }
        PyList_SET_ITEM(result, i, s);
    }
done:
    free(text);
    free(ends);
    release(b, 2);
    return result;
}

/* ------------------------------------------------------------------------------------ */
/* Bitmaps: rleEncode / rleDecode.                                                       */

PyDoc_STRVAR(encode_masks_doc,
"encode_masks(masks, area, n) -> (counts, offsets)\n"
"--\n\n"
"Run lengths of n masks of `area` pixels each, laid out one after the other, each in\n"
"column-major order (uint8 (n * area,)), as maskApi.c's rleEncode: a run ends where\n"
"the byte value changes. Returns bytearrays (uint32 counts, int64 (n + 1,) offsets).");

static PyObject *encode_masks(PyObject *self, PyObject *args)
{
    (void)self;
    Py_buffer b;
    Py_ssize_t area, n;
    memset(&b, 0, sizeof b);
    if (!PyArg_ParseTuple(args, "y*nn", &b, &area, &n)) return NULL;
    PyObject *result = NULL;
    int64_t *offsets = NULL;
    Runs runs = {0};
    if (area < 0 || n < 0 || area > UINT32_MAX || check_items(&b, 1, area * n, "masks")) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "area, n: out of range");
        goto done;
    }
    offsets = malloc(sizeof(int64_t) * (size_t)(n + 1));
    if (offsets == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    const uint8_t *pixels = b.buf;
    int no_memory = 0;
    Py_BEGIN_ALLOW_THREADS
    offsets[0] = 0;
    for (Py_ssize_t i = 0; i < n && !no_memory; i++) {
        const uint8_t *t = pixels + (size_t)area * (size_t)i;
        uint8_t previous = 0;
        uint32_t c = 0;
        for (Py_ssize_t j = 0; j < area; j++) {
            if (t[j] != previous) {
                if (push(&runs, c)) { no_memory = 1; break; }
                c = 0;
                previous = t[j];
            }
            c++;
        }
        if (!no_memory && push(&runs, c)) no_memory = 1;
        offsets[i + 1] = (int64_t)runs.n;
    }
    Py_END_ALLOW_THREADS
    if (no_memory) PyErr_NoMemory();
    else result = batch_of(&runs, offsets, n);
done:
    free(offsets);
    free(runs.data);
    release(&b, 1);
    return result;
}

PyDoc_STRVAR(decode_masks_doc,
"decode_masks(counts, offsets, area, out)\n"
"--\n\n"
"Write the n masks of a batch, each of `area` pixels in column-major order, into out\n"
"(uint8 (n * area,)), as maskApi.c's rleDecode. Every mask's counts must sum to area.");

static PyObject *decode_masks(PyObject *self, PyObject *args)
{
    (void)self;
    Py_buffer b[3];
    Py_ssize_t area;
    memset(b, 0, sizeof b);
    if (!PyArg_ParseTuple(args, "y*y*nw*", &b[0], &b[1], &area, &b[2])) return NULL;
    PyObject *result = NULL;
    Py_ssize_t n = batch_size(&b[0], &b[1]);
    if (n < 0 || area < 0 || check_items(&b[2], 1, area * n, "out")) goto done;
    const uint32_t *counts = b[0].buf;
    const int64_t *offsets = b[1].buf;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!sums_to(counts + offsets[i], offsets[i + 1] - offsets[i], (uint64_t)area)) {
            PyErr_Format(PyExc_ValueError, "mask %zd: the counts do not sum to %zd", i, area);
            goto done;
        }
    }
    uint8_t *out = b[2].buf;
    Py_BEGIN_ALLOW_THREADS
    size_t p = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        uint8_t v = 0;
        for (int64_t j = offsets[i]; j < offsets[i + 1]; j++) {
            memset(out + p, v, counts[j]);
            p += counts[j];
            v = !v;
        }
    }
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    release(b, 3);
    return result;
}

/* ------------------------------------------------------------------------------------ */
/* Area, boxes, merge and IoU: rleArea, rleToBbox, rleMerge, bbIou and rleIou.           */

/* The area of counts[0:m] as maskApi.c's rleArea (uint32, wrapping as it does). */
static uint32_t area_of(const uint32_t *counts, int64_t m)
{
    uint32_t a = 0;
    for (int64_t j = 1; j < m; j += 2) a += counts[j];
    return a;
}

/* Move pixel (column, row) of an h-row mask forward by `by` pixels, down the columns. */
static inline void advance(uint32_t *column, uint32_t *row, uint32_t by, uint32_t h)
{
    if (by == 0) return; /* also keeps a 0-row mask (all runs empty) from dividing by 0 */
    uint64_t down = (uint64_t)*row + by;
    if (down < h) {
        *row = (uint32_t)down;
    } else if (down < 2 * (uint64_t)h) {
        *row = (uint32_t)(down - h);
        *column += 1;
    } else {
        *row = (uint32_t)(down % h);
        *column += (uint32_t)(down / h);
    }
}

/* The extent of a mask's pixels, followed run by run, as rleToBbox in pycocotools 2.0.11
 * (which fixed cocoapi's box of runs that wrap to the next column). */
typedef struct {
    uint32_t h, column, row, xs, ys, xe, ye; /* (column, row) of the next pixel */
} Extent;

static inline void extent_start(Extent *e, uint32_t h, uint32_t w)
{
    e->h = h;
    e->column = e->row = 0;
    e->xs = w;
    e->ys = h;
    e->xe = e->ye = 0;
}

/* Run j (background when j is even) of `count` pixels, without a division for the runs
 * shorter than a column (most of them): pixel p is (p / h, p % h). */
static inline void extent_run(Extent *e, int64_t j, uint32_t count)
{
    if (j % 2 == 0 || count == 0) { /* background, or an empty run */
        advance(&e->column, &e->row, count, e->h);
        return;
    }
    if ((uint64_t)e->row + count <= e->h) { /* within its column, as most are */
        uint32_t y_end = e->row + count - 1;
        if (e->column < e->xs) e->xs = e->column;
        if (e->column > e->xe) e->xe = e->column;
        if (e->row < e->ys) e->ys = e->row;
        if (y_end > e->ye) e->ye = y_end;
        e->row = y_end + 1;
        if (e->row == e->h) {
            e->row = 0;
            e->column++;
        }
        return;
    }
    uint32_t x_start = e->column, y_start = e->row;
    advance(&e->column, &e->row, count - 1, e->h); /* the run's last pixel */
    uint32_t x_end = e->column, y_end = e->row;
    advance(&e->column, &e->row, 1, e->h);
    if (x_start < e->xs) e->xs = x_start;
    if (x_end > e->xe) e->xe = x_end;
    if (x_start < x_end) { /* the run wraps to the next column: all rows */
        e->ys = 0;
        e->ye = e->h - 1;
    } else {
        if (y_start < e->ys) e->ys = y_start;
        if (y_end > e->ye) e->ye = y_end;
    }
}

/* The xywh box of a mask of m runs whose runs went through extent_run, into bb. */
static inline void extent_box(const Extent *e, int64_t m, double *bb)
{
    if (m < 2) { /* rleToBbox reads whole (background, foreground) pairs: none */
        bb[0] = bb[1] = bb[2] = bb[3] = 0;
        return;
    }
    /* unsigned, as maskApi.c: a mask with no pixel but an even number of runs gets the
     * wrapped widths it gets */
    bb[0] = e->xs;
    bb[2] = (uint32_t)(e->xe - e->xs + 1);
    bb[1] = e->ys;
    bb[3] = (uint32_t)(e->ye - e->ys + 1);
}

/* The xywh box of counts[0:m] of an h x w mask into bb, as rleToBbox (its last run,
 * background when m is odd, changes nothing). */
static void bbox_of(const uint32_t *counts, int64_t m, uint32_t h, uint32_t w, double *bb)
{
    Extent e;
    extent_start(&e, h, w);
    for (int64_t j = 0; j < m; j++) extent_run(&e, j, counts[j]);
    extent_box(&e, m, bb);
}

/* Decode string s[0:len] of an h x w mask without keeping its counts: NULL and its area
 * (as rleArea) and box (as rleToBbox), or why it does not decode or its counts do not
 * sum to h * w (from_string's problems first, in its order). */
static const char *measure_string(const char *s, Py_ssize_t len, uint32_t h, uint32_t w,
                                  uint32_t *area, double *bb)
{
    Extent e;
    extent_start(&e, h, w);
    int64_t k = 0, before = 0, last = 0;
    uint64_t total = 0;
    uint32_t a = 0;
    Py_ssize_t p = 0;
    for (; p < len; k++) {
        uint32_t count;
        const char *problem = next_run(s, len, &p, k, &before, &last, &count);
        if (problem != NULL) return problem;
        total += count;
        if (k % 2) a += count;
        if (h) extent_run(&e, k, count); /* 0 rows: every count of a valid mask is 0 */
    }
    if (total != (uint64_t)h * (uint64_t)w) return RLE_WRONG_SUM;
    *area = a;
    extent_box(&e, k, bb);
    return NULL;
}

PyDoc_STRVAR(area_doc,
"area(counts, offsets, out)\n"
"--\n\n"
"Write each mask's area (number of pixels; uint32, as rleArea) into out (uint32 (n,)).");

static PyObject *area(PyObject *self, PyObject *args)
{
    (void)self;
    Py_buffer b[3];
    memset(b, 0, sizeof b);
    if (!PyArg_ParseTuple(args, "y*y*w*", &b[0], &b[1], &b[2])) return NULL;
    PyObject *result = NULL;
    Py_ssize_t n = batch_size(&b[0], &b[1]);
    if (n < 0 || check_items(&b[2], 4, n, "out")) goto done;
    const uint32_t *counts = b[0].buf;
    const int64_t *offsets = b[1].buf;
    uint32_t *out = b[2].buf;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++)
        out[i] = area_of(counts + offsets[i], offsets[i + 1] - offsets[i]);
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    release(b, 3);
    return result;
}

PyDoc_STRVAR(to_bbox_doc,
"to_bbox(counts, offsets, heights, widths, out)\n"
"--\n\n"
"Write each mask's bounding box (xywh, as rleToBbox) into out (float64 (n, 4)).\n"
"heights, widths: int64 (n,).");

static PyObject *to_bbox(PyObject *self, PyObject *args)
{
    (void)self;
    Py_buffer b[5];
    memset(b, 0, sizeof b);
    if (!PyArg_ParseTuple(args, "y*y*y*y*w*", &b[0], &b[1], &b[2], &b[3], &b[4])) return NULL;
    PyObject *result = NULL;
    Py_ssize_t n = batch_size(&b[0], &b[1]);
    if (n < 0 || check_items(&b[2], 8, n, "heights") || check_items(&b[3], 8, n, "widths") ||
        check_items(&b[4], 32, n, "out"))
        goto done;
    const uint32_t *counts = b[0].buf;
    const int64_t *offsets = b[1].buf, *heights = b[2].buf, *widths = b[3].buf;
    double *out = b[4].buf;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++)
        bbox_of(counts + offsets[i], offsets[i + 1] - offsets[i], (uint32_t)heights[i],
                (uint32_t)widths[i], out + 4 * i);
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    release(b, 5);
    return result;
}

/* Union (or intersection) of a[0:ma] and b[0:mb] into out (room for ma + mb + 1), as one
 * step of rleMerge; the number of counts written. Both sum to the same area. */
static int64_t merge_two(const uint32_t *a, int64_t ma, const uint32_t *b, int64_t mb,
                         int intersect, uint32_t *out)
{
    uint32_t ca = ma ? a[0] : 0, cb = mb ? b[0] : 0, cc = 0, ct = 1;
    int v = 0, va = 0, vb = 0;
    int64_t m = 0, ia = 1, ib = 1;
    while (ct > 0) {
        uint32_t c = ca < cb ? ca : cb;
        cc += c;
        ct = 0;
        ca -= c;
        if (!ca && ia < ma) { ca = a[ia++]; va = !va; }
        ct += ca;
        cb -= c;
        if (!cb && ib < mb) { cb = b[ib++]; vb = !vb; }
        ct += cb;
        int previous = v;
        v = intersect ? (va && vb) : (va || vb);
        if (v != previous || ct == 0) { out[m++] = cc; cc = 0; }
    }
    return m;
}

/* Fold the masks first..last-1 of a batch into one, as rleMerge (all of one size): the
 * result is appended to `runs`. 0, or -1 when memory runs out. */
static int merge_range(const uint32_t *counts, const int64_t *offsets, int64_t first,
                       int64_t last, int intersect, Runs *runs)
{
    if (last == first) return 0;
    int64_t m = offsets[first + 1] - offsets[first], total = m;
    for (int64_t i = first + 1; i < last; i++) total += offsets[i + 1] - offsets[i];
    size_t room = (size_t)total + 1;
    uint32_t *acc = malloc(room * sizeof(uint32_t)), *tmp = malloc(room * sizeof(uint32_t));
    if (acc == NULL || tmp == NULL || reserve(runs, room)) {
        free(acc);
        free(tmp);
        return -1;
    }
    if (m) memcpy(acc, counts + offsets[first], (size_t)m * sizeof(uint32_t));
    for (int64_t i = first + 1; i < last; i++) {
        m = merge_two(acc, m, counts + offsets[i], offsets[i + 1] - offsets[i], intersect, tmp);
        uint32_t *swap = acc;
        acc = tmp;
        tmp = swap;
    }
    if (m) memcpy(runs->data + runs->n, acc, (size_t)m * sizeof(uint32_t));
    runs->n += (size_t)m;
    free(acc);
    free(tmp);
    return 0;
}

PyDoc_STRVAR(merge_doc,
"merge(counts, offsets, groups, intersect) -> (counts, offsets)\n"
"--\n\n"
"Union (intersect=0) or intersection (1) of the masks of each group, as maskApi.c's\n"
"rleMerge. groups: int64 (k + 1,), group g is masks [groups[g], groups[g + 1]), all of\n"
"one size, at least one. Returns a batch of k masks as bytearrays. Releases the GIL.");

static PyObject *merge(PyObject *self, PyObject *args)
{
    (void)self;
    Py_buffer b[3];
    int intersect;
    memset(b, 0, sizeof b);
    if (!PyArg_ParseTuple(args, "y*y*y*p", &b[0], &b[1], &b[2], &intersect)) return NULL;
    PyObject *result = NULL;
    int64_t *offsets = NULL;
    Runs runs = {0};
    Py_ssize_t n = batch_size(&b[0], &b[1]), k = items(&b[2], 8, "groups") - 1;
    if (n < 0 || k < 0) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "groups: empty");
        goto done;
    }
    const int64_t *groups = b[2].buf;
    for (Py_ssize_t g = 0; g < k; g++) {
        if (groups[g] < 0 || groups[g] >= groups[g + 1] || groups[g + 1] > n) {
            PyErr_SetString(PyExc_ValueError, "groups: each must hold masks of the batch");
            goto done;
        }
    }
    offsets = malloc(sizeof(int64_t) * (size_t)(k + 1));
    if (offsets == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    const uint32_t *counts = b[0].buf;
    const int64_t *starts = b[1].buf;
    int status = 0;
    Py_BEGIN_ALLOW_THREADS
    offsets[0] = 0;
    for (Py_ssize_t g = 0; g < k && status == 0; g++) {
        status = merge_range(counts, starts, groups[g], groups[g + 1], intersect, &runs);
        offsets[g + 1] = (int64_t)runs.n;
    }
    Py_END_ALLOW_THREADS
    if (status) PyErr_NoMemory();
    else result = batch_of(&runs, offsets, k);
done:
    free(offsets);
    free(runs.data);
    release(b, 3);
    return result;
}

/* IoU of two masks of one size from their runs, as the inner loop of rleIou. */
static double runs_iou(const uint32_t *a, int64_t ka, const uint32_t *b, int64_t kb, int crowd)
{
    uint32_t ca = ka ? a[0] : 0, cb = kb ? b[0] : 0, i = 0, u = 0, ct = 1;
    int va = 0, vb = 0;
    int64_t ia = 1, ib = 1;
    while (ct > 0) {
        uint32_t c = ca < cb ? ca : cb;
        if (va || vb) {
            u += c;
            if (va && vb) i += c;
        }
        ct = 0;
        ca -= c;
        if (!ca && ia < ka) { ca = a[ia++]; va = !va; }
        ct += ca;
        cb -= c;
        if (!cb && ib < kb) { cb = b[ib++]; vb = !vb; }
        ct += cb;
    }
    if (i == 0) u = 1;
    else if (crowd) u = area_of(a, ka);
    return (double)i / (double)u;
}

enum { DT_COUNTS, DT_OFFSETS, DT_BOX, GT_COUNTS, GT_OFFSETS, GT_BOX, CROWD, OUT, N_IOU };

PyDoc_STRVAR(iou_doc,
"iou(dt_counts, dt_offsets, dt_box, gt_counts, gt_offsets, gt_box, crowd, out, d0, d1)\n"
"--\n\n"
"Rows d0..d1-1 of the IoU of D detection masks with G ground-truth masks, all of one\n"
"size, as maskApi.c's rleIou: the box IoU (dt_box float64 (D, 4), gt_box (G, 4), from\n"
"to_bbox), then, where it is positive, the masks' IoU from their runs; for a crowd\n"
"ground truth (crowd uint8 (G,)) the intersection over the detection's area.\n"
"out: float64 (D, G). Releases the GIL.");

static PyObject *iou(PyObject *self, PyObject *args)
{
    (void)self;
    Py_buffer b[N_IOU];
    Py_ssize_t d0, d1;
    memset(b, 0, sizeof b);
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*y*y*w*nn", &b[DT_COUNTS], &b[DT_OFFSETS],
                          &b[DT_BOX], &b[GT_COUNTS], &b[GT_OFFSETS], &b[GT_BOX], &b[CROWD],
                          &b[OUT], &d0, &d1))
        return NULL;
    PyObject *result = NULL;
    Py_ssize_t nd = batch_size(&b[DT_COUNTS], &b[DT_OFFSETS]);
    Py_ssize_t ng = nd < 0 ? -1 : batch_size(&b[GT_COUNTS], &b[GT_OFFSETS]);
    if (ng < 0 || check_items(&b[DT_BOX], 32, nd, "dt_box") ||
        check_items(&b[GT_BOX], 32, ng, "gt_box") || check_items(&b[CROWD], 1, ng, "crowd") ||
        check_items(&b[OUT], 8, nd * ng, "out"))
        goto done;
    if (d0 < 0 || d1 > nd || d0 > d1) {
        PyErr_SetString(PyExc_ValueError, "d0, d1: outside the detections");
        goto done;
    }
    const uint32_t *dc = b[DT_COUNTS].buf, *gc = b[GT_COUNTS].buf;
    const int64_t *dof = b[DT_OFFSETS].buf, *gof = b[GT_OFFSETS].buf;
    const double *db = b[DT_BOX].buf, *gb = b[GT_BOX].buf;
    const uint8_t *crowd = b[CROWD].buf;
    double *out = b[OUT].buf;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t d = d0; d < d1; d++) {
        for (Py_ssize_t g = 0; g < ng; g++) {
            double o = box_iou(db + 4 * d, gb + 4 * g, crowd[g]);
            if (o > 0)
                o = runs_iou(dc + dof[d], dof[d + 1] - dof[d], gc + gof[g], gof[g + 1] - gof[g],
                             crowd[g]);
            out[d * ng + g] = o;
        }
    }
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    release(b, N_IOU);
    return result;
}

/* The IoU of two masks of h rows as runs_iou computes it, from their intersection in the
 * columns both boxes span (positions lo to hi - 1; the runs before are skipped, those after
 * never read) and their areas: the union that rleIou counts along the runs is area_a +
 * area_b - i (in uint32, as it counts). */
static double window_iou(const uint32_t *a, int64_t ka, const uint32_t *b, int64_t kb,
                         uint64_t lo, uint64_t hi, uint32_t area_a, uint32_t area_b, int crowd)
{
    uint32_t i = 0;
    if (area_a && area_b) {
        int64_t ia = 0, ib = 0;
        uint64_t pa = 0, pb = 0; /* where runs ia and ib start */
        while (ia < ka && pa + a[ia] <= lo) pa += a[ia++];
        while (ib < kb && pb + b[ib] <= lo) pb += b[ib++];
        while (ia < ka && ib < kb && pa < hi && pb < hi) {
            uint64_t ea = pa + a[ia], eb = pb + b[ib];
            if (ia & ib & 1) { /* both foreground (odd runs) */
                uint64_t start = pa > pb ? pa : pb, end = ea < eb ? ea : eb;
                if (end > start) i += (uint32_t)(end - start);
            }
            if (ea <= eb) { pa = ea; ia++; }
            else { pb = eb; ib++; }
        }
    }
    uint32_t u = i == 0 ? 1 : crowd ? area_a : area_a + area_b - i;
    return (double)i / (double)u;
}

/* window_iou of two masks of h rows whose boxes (xywh, as to_bbox gives them) overlap:
 * only the columns both boxes span can hold shared pixels. */
static double boxed_iou(const uint32_t *a, int64_t ka, const double *box_a, uint32_t area_a,
                        const uint32_t *b, int64_t kb, const double *box_b, uint32_t area_b,
                        uint64_t h, int crowd)
{
    uint64_t x0 = (uint64_t)(box_a[0] > box_b[0] ? box_a[0] : box_b[0]) * h;
    double end_a = box_a[0] + box_a[2], end_b = box_b[0] + box_b[2];
    uint64_t x1 = (uint64_t)(end_a < end_b ? end_a : end_b) * h;
    return window_iou(a, ka, b, kb, x0, x1, area_a, area_b, crowd);
}

enum { PD_COUNTS, PD_OFFSETS, PD_BOX, PD_AREA, PG_COUNTS, PG_OFFSETS, PG_BOX, PG_AREA,
       PG_HEIGHT, P_CROWD, P_DT, P_GT, P_OUT, N_PAIR_IOU };

PyDoc_STRVAR(pair_iou_doc,
"pair_iou(dt_counts, dt_offsets, dt_box, dt_area, gt_counts, gt_offsets, gt_box, gt_area,\n"
"         gt_height, crowd, pair_dt, pair_gt, out)\n"
"--\n\n"
"The IoU of listed (detection, ground truth) pairs of masks, each as iou computes it\n"
"(rleIou): out[p] for masks pair_dt[p] of the D detections and pair_gt[p] of the G\n"
"ground truths (int64 (P,)); crowd uint8 (G,); dt_box (D, 4) and gt_box (G, 4) their\n"
"to_bbox boxes, dt_area uint32 (D,) and gt_area (G,) their areas, gt_height int64 (G,);\n"
"out float64 (P,). The two masks of a pair must be of one size (the caller checks); their\n"
"runs are compared only in the columns both boxes span. Releases the GIL.");

static PyObject *pair_iou(PyObject *self, PyObject *args)
{
    (void)self;
    Py_buffer b[N_PAIR_IOU];
    memset(b, 0, sizeof b);
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*y*y*y*y*y*y*y*w*", &b[PD_COUNTS], &b[PD_OFFSETS],
                          &b[PD_BOX], &b[PD_AREA], &b[PG_COUNTS], &b[PG_OFFSETS], &b[PG_BOX],
                          &b[PG_AREA], &b[PG_HEIGHT], &b[P_CROWD], &b[P_DT], &b[P_GT],
                          &b[P_OUT]))
        return NULL;
    PyObject *result = NULL;
    Py_ssize_t nd = batch_size(&b[PD_COUNTS], &b[PD_OFFSETS]);
    Py_ssize_t ng = nd < 0 ? -1 : batch_size(&b[PG_COUNTS], &b[PG_OFFSETS]);
    Py_ssize_t np_ = ng < 0 ? -1 : items(&b[P_DT], 8, "pair_dt");
    if (np_ < 0 || check_items(&b[PD_BOX], 32, nd, "dt_box") ||
        check_items(&b[PD_AREA], 4, nd, "dt_area") || check_items(&b[PG_BOX], 32, ng, "gt_box") ||
        check_items(&b[PG_AREA], 4, ng, "gt_area") ||
        check_items(&b[PG_HEIGHT], 8, ng, "gt_height") ||
        check_items(&b[P_CROWD], 1, ng, "crowd") || check_items(&b[P_GT], 8, np_, "pair_gt") ||
        check_items(&b[P_OUT], 8, np_, "out"))
        goto done;
    const int64_t *pd = b[P_DT].buf, *pg = b[P_GT].buf;
    for (Py_ssize_t p = 0; p < np_; p++) {
        if (pd[p] < 0 || pd[p] >= nd || pg[p] < 0 || pg[p] >= ng) {
            PyErr_Format(PyExc_ValueError, "pair %zd: mask outside the batches", p);
            goto done;
        }
    }
    const uint32_t *dc = b[PD_COUNTS].buf, *gc = b[PG_COUNTS].buf;
    const int64_t *dof = b[PD_OFFSETS].buf, *gof = b[PG_OFFSETS].buf;
    const double *db = b[PD_BOX].buf, *gb = b[PG_BOX].buf;
    const uint32_t *da = b[PD_AREA].buf, *ga = b[PG_AREA].buf;
    const int64_t *gh = b[PG_HEIGHT].buf;
    const uint8_t *crowd = b[P_CROWD].buf;
    double *out = b[P_OUT].buf;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t p = 0; p < np_; p++) {
        const int64_t d = pd[p], g = pg[p];
        double o = box_iou(db + 4 * d, gb + 4 * g, crowd[g]);
        if (o > 0)
            o = boxed_iou(dc + dof[d], dof[d + 1] - dof[d], db + 4 * d, da[d], gc + gof[g],
                          gof[g + 1] - gof[g], gb + 4 * g, ga[g], (uint64_t)gh[g], crowd[g]);
        out[p] = o;
    }
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    release(b, N_PAIR_IOU);
    return result;
}

/* ------------------------------------------------------------------------------------ */
/* Masks kept as compressed strings: measured once, decoded again only where a pair's     */
/* boxes overlap, so that a results file's masks never sit decoded in memory all at once. */

/* Check the strings' span of a blob: starts int64 (n + 1,) non-decreasing within it. */
static Py_ssize_t string_batch(const Py_buffer *blob, const Py_buffer *starts)
{
    Py_ssize_t n = items(starts, 8, "starts");
    if (n < 0) return -1;
    if (n < 1) {
        PyErr_SetString(PyExc_ValueError, "starts: empty");
        return -1;
    }
    const int64_t *s = starts->buf;
    if (s[0] != 0 || s[n - 1] != blob->len) {
        PyErr_SetString(PyExc_ValueError, "starts: must run from 0 to the blob's length");
        return -1;
    }
    for (Py_ssize_t i = 0; i + 1 < n; i++) {
        if (s[i] > s[i + 1]) {
            PyErr_SetString(PyExc_ValueError, "starts: decreasing");
            return -1;
        }
    }
    return n - 1;
}

/* Decode string s[0:len] into *scratch (grown to one count per character); the problem
 * or NULL, the count in *m; "" when memory runs out. */
static const char *decode_into(const char *s, Py_ssize_t len, uint32_t **scratch, size_t *cap,
                               int64_t *m)
{
    if ((size_t)len > *cap) {
        size_t grown = (size_t)len < 64 ? 64 : (size_t)len;
        uint32_t *more = realloc(*scratch, grown * sizeof(uint32_t));
        if (more == NULL) return "";
        *scratch = more;
        *cap = grown;
    }
    return from_string(s, len, *scratch, m);
}

PyDoc_STRVAR(measure_strings_doc,
"measure_strings(blob, starts, heights, widths, areas, boxes)\n"
"--\n\n"
"Check n compressed RLE strings, blob[starts[i]:starts[i + 1]] (starts int64 (n + 1,)),\n"
"against their sizes (heights, widths int64 (n,)) and write each mask's area (uint32\n"
"(n,), as rleArea) and box (float64 (n, 4), as rleToBbox). A string that does not\n"
"decode, or whose counts do not sum to height * width, raises ValueError(index,\n"
"problem). Releases the GIL.");

static PyObject *measure_strings(PyObject *self, PyObject *args)
{
    (void)self;
    Py_buffer b[6];
    memset(b, 0, sizeof b);
    if (!PyArg_ParseTuple(args, "y*y*y*y*w*w*", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]))
        return NULL;
    PyObject *result = NULL;
    Py_ssize_t n = string_batch(&b[0], &b[1]);
    if (n < 0 || check_items(&b[2], 8, n, "heights") || check_items(&b[3], 8, n, "widths") ||
        check_items(&b[4], 4, n, "areas") || check_items(&b[5], 32, n, "boxes"))
        goto done;
    const char *blob = b[0].buf;
    const int64_t *starts = b[1].buf, *heights = b[2].buf, *widths = b[3].buf;
    uint32_t *areas = b[4].buf;
    double *boxes = b[5].buf;
    const char *problem = NULL;
    Py_ssize_t bad = -1;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        problem = measure_string(blob + starts[i], starts[i + 1] - starts[i],
                                 (uint32_t)heights[i], (uint32_t)widths[i], areas + i,
                                 boxes + 4 * i);
        if (problem != NULL) {
            bad = i;
            break;
        }
    }
    Py_END_ALLOW_THREADS
    if (problem != NULL) located(bad, problem);
    else result = Py_NewRef(Py_None);
done:
    release(b, 6);
    return result;
}

enum { SD_BLOB, SD_STARTS, SD_BOX, SD_AREA, SG_COUNTS, SG_OFFSETS, SG_BOX, SG_AREA, SG_HEIGHT,
       S_CROWD, S_DT, S_GT, S_OUT, N_STRING_IOU };

PyDoc_STRVAR(pair_iou_strings_doc,
"pair_iou_strings(dt_blob, dt_starts, dt_box, dt_area, gt_counts, gt_offsets, gt_box,\n"
"                 gt_area, gt_height, crowd, pair_dt, pair_gt, out)\n"
"--\n\n"
"pair_iou with the detections' masks as checked compressed strings (measure_strings):\n"
"each is decoded where its box overlaps the ground truth's, once for a run of pairs of\n"
"the same detection. Releases the GIL.");

static PyObject *pair_iou_strings(PyObject *self, PyObject *args)
{
    (void)self;
    Py_buffer b[N_STRING_IOU];
    memset(b, 0, sizeof b);
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*y*y*y*y*y*y*y*w*", &b[SD_BLOB], &b[SD_STARTS],
                          &b[SD_BOX], &b[SD_AREA], &b[SG_COUNTS], &b[SG_OFFSETS], &b[SG_BOX],
                          &b[SG_AREA], &b[SG_HEIGHT], &b[S_CROWD], &b[S_DT], &b[S_GT],
                          &b[S_OUT]))
        return NULL;
    PyObject *result = NULL;
    Py_ssize_t nd = string_batch(&b[SD_BLOB], &b[SD_STARTS]);
    Py_ssize_t ng = nd < 0 ? -1 : batch_size(&b[SG_COUNTS], &b[SG_OFFSETS]);
    Py_ssize_t np_ = ng < 0 ? -1 : items(&b[S_DT], 8, "pair_dt");
    if (np_ < 0 || check_items(&b[SD_BOX], 32, nd, "dt_box") ||
        check_items(&b[SD_AREA], 4, nd, "dt_area") || check_items(&b[SG_BOX], 32, ng, "gt_box") ||
        check_items(&b[SG_AREA], 4, ng, "gt_area") ||
        check_items(&b[SG_HEIGHT], 8, ng, "gt_height") ||
        check_items(&b[S_CROWD], 1, ng, "crowd") || check_items(&b[S_GT], 8, np_, "pair_gt") ||
        check_items(&b[S_OUT], 8, np_, "out"))
        goto done;
    const int64_t *pd = b[S_DT].buf, *pg = b[S_GT].buf;
    for (Py_ssize_t p = 0; p < np_; p++) {
        if (pd[p] < 0 || pd[p] >= nd || pg[p] < 0 || pg[p] >= ng) {
            PyErr_Format(PyExc_ValueError, "pair %zd: mask outside the batches", p);
            goto done;
        }
    }
    const char *blob = b[SD_BLOB].buf;
    const int64_t *starts = b[SD_STARTS].buf, *gof = b[SG_OFFSETS].buf;
    const uint32_t *gc = b[SG_COUNTS].buf;
    const double *db = b[SD_BOX].buf, *gb = b[SG_BOX].buf;
    const uint32_t *da = b[SD_AREA].buf, *ga = b[SG_AREA].buf;
    const int64_t *gh = b[SG_HEIGHT].buf;
    const uint8_t *crowd = b[S_CROWD].buf;
    double *out = b[S_OUT].buf;
    const char *problem = NULL;
    uint32_t *scratch = NULL;
    size_t cap = 0;
    Py_BEGIN_ALLOW_THREADS
    int64_t decoded = -1, m = 0;
    for (Py_ssize_t p = 0; p < np_ && problem == NULL; p++) {
        const int64_t d = pd[p], g = pg[p];
        double o = box_iou(db + 4 * d, gb + 4 * g, crowd[g]);
        if (o > 0) {
            if (d != decoded) {
                problem = decode_into(blob + starts[d], starts[d + 1] - starts[d], &scratch,
                                      &cap, &m);
                decoded = d;
            }
            if (problem == NULL)
                o = boxed_iou(scratch, m, db + 4 * d, da[d], gc + gof[g], gof[g + 1] - gof[g],
                              gb + 4 * g, ga[g], (uint64_t)gh[g], crowd[g]);
        }
        out[p] = o;
    }
    Py_END_ALLOW_THREADS
    free(scratch);
    if (problem != NULL && problem[0] == '\0') PyErr_NoMemory();
    else if (problem != NULL) PyErr_Format(PyExc_ValueError, "a detection's mask: %s", problem);
    else result = Py_NewRef(Py_None);
done:
    release(b, N_STRING_IOU);
    return result;
}

enum { GD_DATA, GD_STARTS, GD_BOX, GD_AREA, GG_COUNTS, GG_OFFSETS, GG_BOX, GG_AREA, GG_HEIGHT,
       GG_WIDTH, G_CROWD, G_DET_ROWS, G_GT_ROWS, G_DET_START, G_GT_LO, G_GT_HI, G_BLOCK_START, G_OUT,
       N_GROUP_IOU };

/* Check the groups k0..k1-1 of group_iou against the sizes of their arrays; 0, or -1 with
 * an error set. */
static int check_groups(Py_buffer *b, Py_ssize_t nd, Py_ssize_t ng, Py_ssize_t k0, Py_ssize_t k1)
{
    Py_ssize_t n_det_rows = items(&b[G_DET_ROWS], 8, "det_rows");
    Py_ssize_t n_gt_rows = items(&b[G_GT_ROWS], 8, "gt_rows");
    Py_ssize_t k = items(&b[G_GT_LO], 8, "gt_lo"), n_out = items(&b[G_OUT], 8, "out");
    if (n_det_rows < 0 || n_gt_rows < 0 || k < 0 || n_out < 0 ||
        check_items(&b[G_DET_START], 8, k + 1, "det_start") ||
        check_items(&b[G_GT_HI], 8, k, "gt_hi") ||
        check_items(&b[G_BLOCK_START], 8, k, "block_start"))
        return -1;
    if (k0 < 0 || k1 > k || k0 > k1) {
        PyErr_SetString(PyExc_ValueError, "k0, k1: outside the groups");
        return -1;
    }
    const int64_t *det_rows = b[G_DET_ROWS].buf, *gt_rows = b[G_GT_ROWS].buf;
    const int64_t *det_start = b[G_DET_START].buf, *lo = b[G_GT_LO].buf, *hi = b[G_GT_HI].buf;
    const int64_t *block = b[G_BLOCK_START].buf;
    for (Py_ssize_t g = k0; g < k1; g++) {
        int64_t d0 = det_start[g], d1 = det_start[g + 1];
        if (d0 < 0 || d0 > d1 || d1 > n_det_rows || lo[g] < 0 || lo[g] > hi[g] ||
            hi[g] > n_gt_rows || block[g] < 0 || block[g] + (d1 - d0) * (hi[g] - lo[g]) > n_out) {
            PyErr_Format(PyExc_ValueError, "group %zd: outside its arrays", g);
            return -1;
        }
        for (int64_t d = d0; d < d1; d++) {
            if (det_rows[d] < 0 || det_rows[d] >= nd) {
                PyErr_Format(PyExc_ValueError, "det_rows[%lld]: no such mask", (long long)d);
                return -1;
            }
        }
        for (int64_t j = lo[g]; j < hi[g]; j++) {
            if (gt_rows[j] < 0 || gt_rows[j] >= ng) {
                PyErr_Format(PyExc_ValueError, "gt_rows[%lld]: no such mask", (long long)j);
                return -1;
            }
        }
    }
    return 0;
}

/* The runs of detection `row`: decoded into *scratch from its string (compressed), or
 * where they are (counts, offsets); NULL, or why the string does not decode. */
static const char *runs_of(int compressed, const char *blob, const uint32_t *counts,
                           const int64_t *offsets, int64_t row, uint32_t **scratch, size_t *cap,
                           const uint32_t **runs, int64_t *m)
{
    if (!compressed) {
        *runs = counts + offsets[row];
        *m = offsets[row + 1] - offsets[row];
        return NULL;
    }
    const char *problem = decode_into(blob + offsets[row], offsets[row + 1] - offsets[row],
                                      scratch, cap, m);
    *runs = *scratch;
    return problem;
}

PyDoc_STRVAR(group_iou_doc,
"group_iou(dt_data, dt_starts, compressed, dt_box, dt_area, gt_counts, gt_offsets, gt_box,\n"
"          gt_area, gt_height, gt_width, crowd, det_rows, gt_rows, det_start, gt_lo, gt_hi,\n"
"          block_start, out, k0, k1)\n"
"--\n\n"
"The IoU of every (detection, ground truth) pair of groups k0..k1-1, as pair_iou\n"
"computes each (rleIou), each detection's mask decoded once for its group, only the\n"
"columns both boxes span walked. The detections' masks are compressed strings\n"
"(compressed=1: dt_data the blob, dt_starts int64 (D + 1,), checked as the results\n"
"scanner reads them or by measure_strings) or runs (0: counts uint32 and offsets int64 (D + 1,)); gt_counts,\n"
"gt_offsets the G ground-truth masks; dt_box (D, 4), gt_box (G, 4) their boxes, dt_area\n"
"uint32 (D,), gt_area (G,) their areas (dt_box and dt_area empty: each detection's are\n"
"taken from its runs where its group has ground truth), gt_height and gt_width int64\n"
"(G,) the ground truths' sizes (a pair's two masks are of one size); crowd uint8 (G,).\n"
"Group k pairs detections det_rows[det_start[k]:det_start[k + 1]] with ground truths\n"
"gt_rows[gt_lo[k]:gt_hi[k]] (int64 rows of the masks); its IoUs go to out (float64) from\n"
"block_start[k] on, detection-major. Releases the GIL.");

static PyObject *group_iou(PyObject *self, PyObject *args)
{
    (void)self;
    Py_buffer b[N_GROUP_IOU];
    int compressed;
    Py_ssize_t k0, k1;
    memset(b, 0, sizeof b);
    if (!PyArg_ParseTuple(args, "y*y*py*y*y*y*y*y*y*y*y*y*y*y*y*y*y*w*nn", &b[GD_DATA],
                          &b[GD_STARTS], &compressed, &b[GD_BOX], &b[GD_AREA], &b[GG_COUNTS],
                          &b[GG_OFFSETS], &b[GG_BOX], &b[GG_AREA], &b[GG_HEIGHT], &b[GG_WIDTH],
                          &b[G_CROWD],
                          &b[G_DET_ROWS], &b[G_GT_ROWS], &b[G_DET_START], &b[G_GT_LO],
                          &b[G_GT_HI], &b[G_BLOCK_START], &b[G_OUT], &k0, &k1))
        return NULL;
    PyObject *result = NULL;
    Py_ssize_t nd = compressed ? string_batch(&b[GD_DATA], &b[GD_STARTS])
                               : batch_size(&b[GD_DATA], &b[GD_STARTS]);
    Py_ssize_t ng = nd < 0 ? -1 : batch_size(&b[GG_COUNTS], &b[GG_OFFSETS]);
    /* no boxes and areas of the detections: each is measured when its group has ground
     * truth (in its image: the ground truth's size) */
    int measured = b[GD_BOX].len != 0 || nd == 0;
    if (ng < 0 || check_items(&b[GD_BOX], 32, measured ? nd : 0, "dt_box") ||
        check_items(&b[GD_AREA], 4, measured ? nd : 0, "dt_area") ||
        check_items(&b[GG_BOX], 32, ng, "gt_box") || check_items(&b[GG_AREA], 4, ng, "gt_area") ||
        check_items(&b[GG_HEIGHT], 8, ng, "gt_height") ||
        check_items(&b[GG_WIDTH], 8, ng, "gt_width") ||
        check_items(&b[G_CROWD], 1, ng, "crowd") || check_groups(b, nd, ng, k0, k1))
        goto done;
    const char *blob = b[GD_DATA].buf;
    const uint32_t *dc = b[GD_DATA].buf, *gc = b[GG_COUNTS].buf;
    const int64_t *dof = b[GD_STARTS].buf, *gof = b[GG_OFFSETS].buf;
    const double *db = b[GD_BOX].buf, *gb = b[GG_BOX].buf;
    const uint32_t *dt_area = b[GD_AREA].buf, *gt_area = b[GG_AREA].buf;
    const int64_t *gt_height = b[GG_HEIGHT].buf, *gt_width = b[GG_WIDTH].buf;
    const uint8_t *crowd = b[G_CROWD].buf;
    const int64_t *det_rows = b[G_DET_ROWS].buf, *gt_rows = b[G_GT_ROWS].buf;
    const int64_t *det_start = b[G_DET_START].buf, *lo = b[G_GT_LO].buf, *hi = b[G_GT_HI].buf;
    const int64_t *block = b[G_BLOCK_START].buf;
    double *out = b[G_OUT].buf;
    const char *problem = NULL;
    uint32_t *scratch = NULL;
    size_t cap = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t k = k0; k < k1 && problem == NULL; k++) {
        double *o = out + block[k];
        if (lo[k] == hi[k]) continue; /* no pair */
        const int64_t first_gt = gt_rows[lo[k]];
        for (int64_t d = det_start[k]; d < det_start[k + 1] && problem == NULL; d++) {
            const int64_t row = det_rows[d];
            const uint32_t *runs = NULL;
            int64_t m = 0;
            double box[4];
            const double *dbox = box;
            uint32_t darea;
            if (measured) {
                dbox = db + 4 * row;
                darea = dt_area[row];
            } else {
                problem = runs_of(compressed, blob, dc, dof, row, &scratch, &cap, &runs, &m);
                if (problem != NULL) break;
                bbox_of(runs, m, (uint32_t)gt_height[first_gt], (uint32_t)gt_width[first_gt], box);
                darea = area_of(runs, m);
            }
            for (int64_t j = lo[k]; j < hi[k]; j++, o++) {
                const int64_t g = gt_rows[j];
                const double *t = gb + 4 * g;
                double iou = box_iou(dbox, t, crowd[g]);
                if (iou > 0) {
                    if (runs == NULL) {
                        problem = runs_of(compressed, blob, dc, dof, row, &scratch, &cap, &runs, &m);
                        if (problem != NULL) break;
                    }
                    iou = boxed_iou(runs, m, dbox, darea, gc + gof[g], gof[g + 1] - gof[g], t,
                                    gt_area[g], (uint64_t)gt_height[g], crowd[g]);
                }
                *o = iou;
            }
        }
    }
    Py_END_ALLOW_THREADS
    free(scratch);
    if (problem != NULL && problem[0] == '\0') PyErr_NoMemory();
    else if (problem != NULL) PyErr_Format(PyExc_ValueError, "a detection's mask: %s", problem);
    else result = Py_NewRef(Py_None);
done:
    release(b, N_GROUP_IOU);
    return result;
}

PyDoc_STRVAR(box_iou_doc,
"box_iou(dt_box, gt_box, crowd, out)\n"
"--\n\n"
"IoU of D detection boxes with G ground-truth boxes (xywh, float64 (D, 4) and (G, 4)),\n"
"as maskApi.c's bbIou, into out (float64 (D, G)); crowd: uint8 (G,).");

static PyObject *boxes_iou(PyObject *self, PyObject *args)
{
    (void)self;
    Py_buffer b[4];
    memset(b, 0, sizeof b);
    if (!PyArg_ParseTuple(args, "y*y*y*w*", &b[0], &b[1], &b[2], &b[3])) return NULL;
    PyObject *result = NULL;
    Py_ssize_t nd = items(&b[0], 32, "dt_box"), ng = items(&b[1], 32, "gt_box");
    if (nd < 0 || ng < 0 || check_items(&b[2], 1, ng, "crowd") ||
        check_items(&b[3], 8, nd * ng, "out"))
        goto done;
    const double *db = b[0].buf, *gb = b[1].buf;
    const uint8_t *crowd = b[2].buf;
    double *out = b[3].buf;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t d = 0; d < nd; d++)
        for (Py_ssize_t g = 0; g < ng; g++) out[d * ng + g] = box_iou(db + 4 * d, gb + 4 * g, crowd[g]);
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    release(b, 4);
    return result;
}

/* ------------------------------------------------------------------------------------ */
/* Polygons: rleFrPoly.                                                                  */

/* Insertion sort of a[0:n] ascending: quick on short or nearly sorted lists. */
static void insertion_sort(uint32_t *a, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        uint32_t value = a[i];
        size_t j = i;
        while (j > 0 && a[j - 1] > value) { a[j] = a[j - 1]; j--; }
        a[j] = value;
    }
}

/* Sort the boundary points x * h + y of an outline ascending, given the column x of each
 * (columns[i] for points[i]); `scratch` is scratch. 0, or -1 when memory runs out.
 *
 * A counting sort by column first: an outline spans few columns for its points (it
 * crosses each column of its extent at least twice), so the counts are short; the
 * insertion sort after it only moves values within a column. (A point x * h + h, a row
 * clamped to h, equals the point (x + 1) * h + 0 of the next column: in either bucket it
 * sorts the same.) */
static int sort_points(Runs *points, const Runs *columns, Runs *scratch)
{
    uint32_t *a = points->data;
    const uint32_t *x = columns->data;
    size_t n = points->n;
    if (n < 32) {
        insertion_sort(a, n);
        return 0;
    }
    uint32_t lo = x[0], hi = x[0];
    for (size_t i = 1; i < n; i++) {
        if (x[i] < lo) lo = x[i];
        if (x[i] > hi) hi = x[i];
    }
    size_t span = (size_t)(hi - lo) + 1;
    scratch->n = 0;
    if (reserve(scratch, n + span + 1)) return -1;
    uint32_t *sorted = scratch->data, *start = scratch->data + n;
    memset(start, 0, (span + 1) * sizeof(uint32_t));
    for (size_t i = 0; i < n; i++) start[x[i] - lo + 1]++;
    for (size_t c = 1; c <= span; c++) start[c] += start[c - 1];
    for (size_t i = 0; i < n; i++) sorted[start[x[i] - lo]++] = a[i];
    insertion_sort(sorted, n);
    memcpy(a, sorted, n * sizeof(uint32_t));
    return 0;
}

/* Whether rleFrPoly keeps a boundary point in upsampled column x of a w-column image:
 * when xd = (x + .5) / 5 - .5 is a whole number in [0, w - 1], exactly when x - 2 is a
 * multiple of 5 (xd is exact then, and at least .2 off a whole number otherwise, far above
 * the rounding for |x| <= 1e9). */
static inline int kept_column(int64_t x, int64_t w)
{
    return x >= 2 && (x - 2) % 5 == 0 && (x - 2) / 5 < w;
}

/* Append the boundary point of kept upsampled column x whose upsampled row is y, and its
 * column; 0, or -1 when memory runs out. Its row is ceil((y + .5) / 5 - .5) clamped to
 * [0, h], as rleFrPoly: as for x, ceil((y - 2) / 5) in whole numbers. */
static inline int keep_point(Runs *points, Runs *columns, int64_t x, int64_t y, int64_t h)
{
    int64_t row = y < 2 ? 0 : (y + 2) / 5;
    if (row > h) row = h;
    return push(points, (uint32_t)((x - 2) / 5 * h + row)) ||
           push(columns, (uint32_t)((x - 2) / 5));
}

/* Whole steps of `delta` (|delta| < 1, f's change per step) that f takes before it can
 * reach the next whole number in its direction, or fewer: never more. A margin of 1e-6
 * and 1e-14 of |f| covers the rounding of f as rleFrPoly computes it, xs + s * t + .5
 * with |xs| <= 1e9 (coordinates are at most 2e8, upsampled five times). */
static inline int steps_before_crossing(double f, double delta)
{
    if (delta == 0) return INT_MAX;
    double room = delta > 0 ? floor(f) + 1 - f : f - floor(f);
    room -= 1e-6 + 1e-14 * fabs(f);
    if (room <= 0) return 0;
    double steps = room / fabs(delta);
    return steps >= INT_MAX ? INT_MAX : (int)steps;
}

/* The counts of polygon xy[0:2k] (x0, y0, x1, y1, ...) rasterised on an h x w image,
 * as rleFrPoly, appended to `runs`; `points`, `columns` and `scratch` are scratch. 0, or
 * -1 when memory runs out.
 *
 * rleFrPoly walks the outline, upsampled 5 times, pixel by pixel (a DDA with rounding
 * by (int)(v + .5)); every step between two columns gives a point of the boundary in y,
 * kept when its column falls on a pixel centre inside the image, with its row clamped to
 * [0, h] and rounded up. The sorted boundary positions x * h + y, with h * w at the end,
 * become the counts by differences, dropping runs of length 0 as it does. It stores all
 * points of the outline first; this streams them, with the same arithmetic. */
static int polygon_runs(const double *xy, int64_t k, int64_t h, int64_t w, Runs *points,
                        Runs *columns, Runs *scratch, Runs *runs)
{
    const double scale = 5;
    points->n = columns->n = 0;
    int have_previous = 0;
    int pu = 0, pv = 0;
    for (int64_t j = 0; j < k; j++) {
        int64_t next = j + 1 < k ? j + 1 : 0;
        int xs = (int)(scale * xy[2 * j] + .5), xe = (int)(scale * xy[2 * next] + .5);
        int ys = (int)(scale * xy[2 * j + 1] + .5), ye = (int)(scale * xy[2 * next + 1] + .5);
        int dx = abs(xe - xs), dy = abs(ys - ye), t;
        int flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye);
        if (flip) {
            t = xs; xs = xe; xe = t;
            t = ys; ys = ye; ye = t;
        }
        /* dx == dy == 0 gives 0 / 0 in rleFrPoly, and a point whose row is never read:
         * its neighbours are in its own column */
        double s = dx >= dy ? (dx ? (double)(ye - ys) / dx : 0) : (double)(xe - xs) / dy;
        int steps = dx >= dy ? dx : dy;
        int steep = dx < dy && fabs(s) < .25; /* runs of 4 steps or more in one column */
        for (int d = 0; d <= steps; d++) {
            int u, v;
            t = flip ? steps - d : d;
            double f = 0; /* along y: u before truncation */
            if (dx >= dy) {
                u = t + xs;
                v = (int)(ys + s * t + .5);
            } else {
                v = t + ys;
                f = xs + s * t + .5;
                u = (int)f;
            }
            int64_t x = u < pu ? u : (int64_t)u - 1;
            if (have_previous && u != pu && kept_column(x, w) &&
                keep_point(points, columns, x, v < pv ? v : pv, h))
                return -1;
            pu = u;
            pv = v;
            have_previous = 1;
            if (dx >= dy && d == 0) break; /* the rest of a step along x below */
            if (!steep) continue;
            /* along a steep edge, u changes only where f crosses a whole number (one step
             * in |1 / s| or fewer): the steps before that are passed over, a whole step
             * short of it (f is computed afresh at each step taken, so rounding cannot
             * skip one) */
            int skip = steps_before_crossing(f, flip ? -s : s) - 1;
            if (skip > steps - d - 1) skip = steps - d - 1;
            if (skip > 0) {
                d += skip;
                pv = (flip ? steps - d : d) + ys; /* v of the last step passed over */
            }
        }
        if (dx >= dy) {
            /* along x, u moves by one at each step: each step after the first gives the
             * column min(u, pu), xs - 1 + d (or xs + steps - d, flipped), and the rows of
             * a step and the one before are worked out only where that column is kept:
             * one step in five, taken in strides of five */
            int first = flip ? xs + steps - 3 : 2 - xs; /* d that gives a column 2 mod 5 */
            for (int d = 1 + ((first % 5) + 5) % 5; d <= steps; d += 5) {
                int t1 = flip ? steps - d : d, t0 = flip ? t1 + 1 : t1 - 1;
                int64_t x = flip ? (int64_t)xs + steps - d : (int64_t)xs - 1 + d;
                if (kept_column(x, w)) {
                    int v1 = (int)(ys + s * t1 + .5), v0 = (int)(ys + s * t0 + .5);
                    if (keep_point(points, columns, x, v1 < v0 ? v1 : v0, h)) return -1;
                }
            }
            if (steps > 0) pu = flip ? xs : xs + steps;
            t = flip ? 0 : steps;
            pv = (int)(ys + s * t + .5);
        }
    }
    /* the boundary points ascending, then h * w (no point is above it) */
    if (sort_points(points, columns, scratch) || push(points, (uint32_t)(h * w))) return -1;
    uint32_t *a = points->data;
    size_t n = points->n;
    uint32_t previous = 0;
    for (size_t j = 0; j < n; j++) {
        uint32_t value = a[j];
        a[j] -= previous;
        previous = value;
    }
    if (reserve(runs, n)) return -1;
    uint32_t *b = runs->data + runs->n;
    size_t j = 0, m = 0;
    b[m++] = a[j++];
    while (j < n) {
        if (a[j] > 0) {
            b[m++] = a[j++];
        } else {
            j++;
            if (j < n) b[m - 1] += a[j++];
        }
    }
    runs->n += m;
    return 0;
}

enum { COORDS, POLY_START, OBJECT_START, HEIGHTS, WIDTHS, N_POLY };

PyDoc_STRVAR(polygons_doc,
"polygons(coords, poly_start, object_start, heights, widths) -> (counts, offsets)\n"
"--\n\n"
"Rasterise polygons as maskApi.c's rleFrPoly and merge each object's polygons (union,\n"
"as rleMerge). coords: float64 (2 * P_points,), x0, y0, x1, y1, ...; poly_start: int64\n"
"(P + 1,), polygon p is coords[poly_start[p]:poly_start[p + 1]] (at least 6 numbers, an\n"
"even count, finite, |v| <= 2e8); object_start: int64 (n + 1,), object i has polygons\n"
"[object_start[i], object_start[i + 1]) (at least one); heights, widths: int64 (n,),\n"
">= 1 with h * w < 2**32. Returns a batch of n masks as bytearrays. Releases the GIL.");

static PyObject *polygons(PyObject *self, PyObject *args)
{
    (void)self;
    Py_buffer b[N_POLY];
    memset(b, 0, sizeof b);
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*", &b[COORDS], &b[POLY_START], &b[OBJECT_START],
                          &b[HEIGHTS], &b[WIDTHS]))
        return NULL;
    PyObject *result = NULL;
    int64_t *offsets = NULL, *single = NULL;
    Runs runs = {0}, points = {0}, columns = {0}, parts = {0}, scratch = {0};
    Py_ssize_t n_coords = items(&b[COORDS], 8, "coords");
    Py_ssize_t n_poly = items(&b[POLY_START], 8, "poly_start") - 1;
    Py_ssize_t n = items(&b[OBJECT_START], 8, "object_start") - 1;
    if (n_coords < 0 || n_poly < 0 || n < 0 || check_items(&b[HEIGHTS], 8, n, "heights") ||
        check_items(&b[WIDTHS], 8, n, "widths")) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "poly_start, object_start: empty");
        goto done;
    }
    const double *coords = b[COORDS].buf;
    const int64_t *poly = b[POLY_START].buf, *object = b[OBJECT_START].buf;
    const int64_t *heights = b[HEIGHTS].buf, *widths = b[WIDTHS].buf;
    if (poly[0] != 0 || poly[n_poly] != n_coords || object[0] != 0 || object[n] != n_poly) {
        PyErr_SetString(PyExc_ValueError, "poly_start, object_start: must cover all items");
        goto done;
    }
    for (Py_ssize_t p = 0; p < n_poly; p++) {
        int64_t len = poly[p + 1] - poly[p];
        if (len < 6 || len % 2) {
            PyErr_Format(PyExc_ValueError, "polygon %zd: %lld numbers", p, (long long)len);
            goto done;
        }
    }
    for (Py_ssize_t j = 0; j < n_coords; j++) {
        if (!(fabs(coords[j]) <= 2e8)) {
            PyErr_Format(PyExc_ValueError, "coords[%zd]: not finite or beyond 2e8", j);
            goto done;
        }
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (object[i] >= object[i + 1] || heights[i] < 1 || widths[i] < 1 ||
            heights[i] * widths[i] > (int64_t)UINT32_MAX) {
            PyErr_Format(PyExc_ValueError, "object %zd: no polygon, or a bad size", i);
            goto done;
        }
    }
    offsets = malloc(sizeof(int64_t) * (size_t)(n + 1));
    single = malloc(sizeof(int64_t) * (size_t)(n_poly + 1));
    if (offsets == NULL || single == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    int status = 0;
    Py_BEGIN_ALLOW_THREADS
    offsets[0] = 0;
    for (Py_ssize_t i = 0; i < n && status == 0; i++) {
        /* each polygon's runs into `parts`, then their union into `runs` (frPyObjects and
         * merge, as pycocotools' annToRLE) */
        parts.n = 0;
        int64_t first = object[i], last = object[i + 1];
        single[0] = 0;
        for (int64_t p = first; p < last && status == 0; p++) {
            status = polygon_runs(coords + poly[p], (poly[p + 1] - poly[p]) / 2, heights[i],
                                  widths[i], &points, &columns, &scratch, &parts);
            single[p - first + 1] = (int64_t)parts.n;
        }
        if (status == 0)
            status = merge_range(parts.data, single, 0, last - first, 0, &runs);
        offsets[i + 1] = (int64_t)runs.n;
    }
    Py_END_ALLOW_THREADS
    if (status) PyErr_NoMemory();
    else result = batch_of(&runs, offsets, n);
done:
    free(offsets);
    free(single);
    free(runs.data);
    free(points.data);
    free(columns.data);
    free(parts.data);
    free(scratch.data);
    release(b, N_POLY);
    return result;
}

/* ------------------------------------------------------------------------------------ */
/* Polygons as JSON text, read to the doubles Python's JSON readers give.                 */

/* A growable array of items of one size. */
typedef struct {
    char *data;
    size_t n, cap;
} Items;

/* Append `size` bytes at `item`; 0, or -1 when memory runs out. */
static int append(Items *a, const void *item, size_t size)
{
    if (a->n + size > a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 4096;
        while (cap < a->n + size) cap *= 2;
        char *grown = realloc(a->data, cap);
        if (grown == NULL) return -1;
        a->data = grown;
        a->cap = cap;
    }
    memcpy(a->data + a->n, item, size);
    a->n += size;
    return 0;
}

typedef struct {
    const char *p, *end;
} Text;

static void skip_blanks(Text *t)
{
    while (t->p < t->end && (*t->p == ' ' || *t->p == '\t' || *t->p == '\n' || *t->p == '\r'))
        t->p++;
}

static int is_digit(const Text *t, const char *q) { return q < t->end && *q >= '0' && *q <= '9'; }

static const double POWERS_OF_TEN[16] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                         1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};

/* The JSON number at t->p, as json / msgspec and then float() read it (correctly rounded;
 * an integer as the float of the int, so -0 is 0.0): 1, or 0 when there is none. Takes
 * the GIL for the numbers of more than 15 digits or with an exponent (Python's
 * PyOS_string_to_double reads those), so that callers may run without it. */
static int read_number(Text *t, double *out)
{
    const char *start = t->p, *q = t->p;
    int negative = q < t->end && *q == '-', integer = 1;
    q += negative;
    if (!is_digit(t, q)) return 0;
    uint64_t m = 0;
    int digits = 0, decimals = 0;
    if (*q == '0') {
        q++;
    } else {
        for (; is_digit(t, q); q++, digits++) m = digits < 16 ? 10 * m + (uint64_t)(*q - '0') : m;
    }
    if (q < t->end && *q == '.') {
        q++;
        if (!is_digit(t, q)) return 0;
        for (; is_digit(t, q); q++, decimals++, digits++)
            m = digits < 16 ? 10 * m + (uint64_t)(*q - '0') : m;
        integer = 0;
    }
    int exponent = q < t->end && (*q == 'e' || *q == 'E');
    if (exponent) {
        integer = 0;
        q++;
        if (q < t->end && (*q == '+' || *q == '-')) q++;
        if (!is_digit(t, q)) return 0;
        while (is_digit(t, q)) q++;
    }
    t->p = q;
    if (!exponent && digits <= 15) {
        /* m and 10^decimals are exact doubles: one correctly rounded division */
        double v = decimals ? (double)m / POWERS_OF_TEN[decimals] : (double)m;
        *out = negative && (m != 0 || !integer) ? -v : v;
        return 1;
    }
    char token[64];
    size_t len = (size_t)(q - start);
    if (len >= sizeof token) return 0; /* the caller takes the general path */
    memcpy(token, start, len);
    token[len] = '\0';
    PyGILState_STATE gil = PyGILState_Ensure();
    *out = PyOS_string_to_double(token, NULL, NULL);
    const int failed = *out == -1.0 && PyErr_Occurred();
    if (failed) PyErr_Clear();
    PyGILState_Release(gil);
    if (failed) return 0;
    if (integer && *out == 0.0) *out = 0.0; /* -0 as an int is 0 */
    return 1;
}

/* One object's text, [[x0, y0, ...], ...], appended to the columns: 1, 0 when it is not
 * a non-empty list of polygons of at least 6 numbers, an even count, each within 2e8 (the
 * general reader then explains), -1 when memory runs out. */
static int read_polygons(Text *t, Items *coords, Items *poly_start)
{
    skip_blanks(t);
    if (t->p >= t->end || *t->p != '[') return 0;
    t->p++;
    for (;;) {
        skip_blanks(t);
        if (t->p >= t->end || *t->p != '[') return 0;
        t->p++;
        size_t first = coords->n / sizeof(double);
        for (;;) {
            double v;
            skip_blanks(t);
            if (!read_number(t, &v) || !(fabs(v) <= 2e8)) return 0;
            if (append(coords, &v, sizeof v)) return -1;
            skip_blanks(t);
            if (t->p < t->end && *t->p == ',') { t->p++; continue; }
            if (t->p < t->end && *t->p == ']') { t->p++; break; }
            return 0;
        }
        int64_t end = (int64_t)(coords->n / sizeof(double)), count = end - (int64_t)first;
        if (count < 6 || count % 2) return 0;
        if (append(poly_start, &end, sizeof end)) return -1;
        skip_blanks(t);
        if (t->p < t->end && *t->p == ',') { t->p++; continue; }
        if (t->p < t->end && *t->p == ']') { t->p++; break; }
        return 0;
    }
    skip_blanks(t);
    return t->p == t->end;
}

PyDoc_STRVAR(parse_polygons_doc,
"parse_polygons(blob, starts) -> (coords, poly_start, object_start, is_polygons) or None\n"
"--\n\n"
"The polygons of n objects given as their JSON text, blob[starts[i]:starts[i + 1]] (starts\n"
"int64 (n + 1,)), as the columns polygons() takes (bytearrays of float64 and int64; an\n"
"object that is not a list has no polygons there, and is_polygons, uint8 (n,), says which\n"
"are lists); the numbers are the doubles Python's JSON readers give. None when a list is\n"
"not a non-empty list of polygons of at least 6 numbers, an even count, each within 2e8:\n"
"the general reader then says why. Releases the GIL.");

static PyObject *parse_polygons(PyObject *self, PyObject *args)
{
    (void)self;
    Py_buffer b[2];
    memset(b, 0, sizeof b);
    if (!PyArg_ParseTuple(args, "y*y*", &b[0], &b[1])) return NULL;
    PyObject *result = NULL;
    Items coords = {0}, poly_start = {0}, object_start = {0}, is_polygons = {0};
    Py_ssize_t n = string_batch(&b[0], &b[1]);
    if (n < 0) goto done;
    const char *blob = b[0].buf;
    const int64_t *starts = b[1].buf;
    int64_t zero = 0, status = 1;
    if (append(&poly_start, &zero, sizeof zero) || append(&object_start, &zero, sizeof zero))
        status = -1;
    Py_BEGIN_ALLOW_THREADS /* the text is read without the GIL, which other threads want */
    for (Py_ssize_t i = 0; i < n && status == 1; i++) {
        Text t = {blob + starts[i], blob + starts[i + 1]};
        skip_blanks(&t);
        uint8_t list = t.p < t.end && *t.p == '[';
        if (list) status = read_polygons(&t, &coords, &poly_start);
        int64_t polygons = (int64_t)(poly_start.n / sizeof(int64_t)) - 1;
        if (status == 1 && (append(&object_start, &polygons, sizeof polygons) ||
                            append(&is_polygons, &list, 1)))
            status = -1;
    }
    Py_END_ALLOW_THREADS
    if (status < 0) {
        PyErr_NoMemory();
    } else if (status == 0) {
        result = Py_NewRef(Py_None);
    } else {
        PyObject *c = bytearray_of(coords.data, coords.n, 1);
        PyObject *p = bytearray_of(poly_start.data, poly_start.n, 1);
        PyObject *o = bytearray_of(object_start.data, object_start.n, 1);
        PyObject *l = bytearray_of(is_polygons.data, is_polygons.n, 1);
        if (c != NULL && p != NULL && o != NULL && l != NULL) result = PyTuple_Pack(4, c, p, o, l);
        Py_XDECREF(c);
        Py_XDECREF(p);
        Py_XDECREF(o);
        Py_XDECREF(l);
    }
done:
    free(coords.data);
    free(poly_start.data);
    free(object_start.data);
    free(is_polygons.data);
    release(b, 2);
    return result;
}

PyDoc_STRVAR(place_doc,
"place(counts, offsets, at, out_offsets, out)\n"
"--\n\n"
"Copy mask j of a batch (counts uint32, offsets int64 (m + 1,)) into mask at[j] (int64\n"
"(m,)) of a batch out (uint32) whose masks start at out_offsets (int64 (n + 1,)); a mask\n"
"has as many counts in both. Releases the GIL.");

static PyObject *place(PyObject *self, PyObject *args)
{
    (void)self;
    Py_buffer b[5];
    memset(b, 0, sizeof b);
    if (!PyArg_ParseTuple(args, "y*y*y*y*w*", &b[0], &b[1], &b[2], &b[3], &b[4])) return NULL;
    PyObject *result = NULL;
    Py_ssize_t m = batch_size(&b[0], &b[1]);
    Py_ssize_t n = m < 0 ? -1 : batch_size(&b[4], &b[3]);
    if (n < 0 || check_items(&b[2], 8, m, "at")) goto done;
    const uint32_t *counts = b[0].buf;
    uint32_t *out = b[4].buf;
    const int64_t *offsets = b[1].buf, *at = b[2].buf, *to = b[3].buf;
    for (Py_ssize_t j = 0; j < m; j++) {
        if (at[j] < 0 || at[j] >= n || to[at[j] + 1] - to[at[j]] != offsets[j + 1] - offsets[j]) {
            PyErr_Format(PyExc_ValueError, "mask %zd: no mask of its length at its place", j);
            goto done;
        }
    }
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t j = 0; j < m; j++)
        memcpy(out + to[at[j]], counts + offsets[j],
               (size_t)(offsets[j + 1] - offsets[j]) * sizeof(uint32_t));
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    release(b, 5);
    return result;
}

/* ------------------------------------------------------------------------------------ */
/* The heap after a large load.                                                          */

PyDoc_STRVAR(release_freed_doc,
"release_freed()\n"
"--\n\n"
"Give the heap's free pages back to the OS (glibc's malloc_trim; nothing elsewhere).\n"
"Blocks of a few megabytes freed on worker threads stay in those threads' heaps\n"
"otherwise, counted in the process's memory for the rest of its life.");

static PyObject *release_freed(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
#ifdef __GLIBC__
    Py_BEGIN_ALLOW_THREADS
    malloc_trim(0);
    Py_END_ALLOW_THREADS
#endif
    Py_RETURN_NONE;
}

PyDoc_STRVAR(map_large_blocks_doc,
"map_large_blocks()\n"
"--\n\n"
"From now on, have the process's heap map blocks of 16 MiB or more from the OS and unmap\n"
"them when freed (glibc's M_MMAP_THRESHOLD, fixed; nothing elsewhere). By default glibc\n"
"raises that threshold up to 32 MiB, to the largest block freed so far, and keeps freed\n"
"blocks below it in the heap of the thread that made them: a segm evaluation passes\n"
"hundreds of megabytes through such blocks on worker threads, and about 80 MB of them\n"
"would stay with the process at COCO's scale. Smaller blocks stay in the heap, reused\n"
"without the OS zeroing fresh pages for them (a 1 MiB threshold doubles the system time).");

static PyObject *map_large_blocks(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
#ifdef __GLIBC__
    mallopt(M_MMAP_THRESHOLD, 16 << 20);
#endif
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"measure_strings", measure_strings, METH_VARARGS, measure_strings_doc},
    {"pair_iou_strings", pair_iou_strings, METH_VARARGS, pair_iou_strings_doc},
    {"pair_iou", pair_iou, METH_VARARGS, pair_iou_doc},
    {"group_iou", group_iou, METH_VARARGS, group_iou_doc},
    {"decode_strings", decode_strings, METH_VARARGS, decode_strings_doc},
    {"encode_strings", encode_strings, METH_VARARGS, encode_strings_doc},
    {"encode_masks", encode_masks, METH_VARARGS, encode_masks_doc},
    {"decode_masks", decode_masks, METH_VARARGS, decode_masks_doc},
    {"area", area, METH_VARARGS, area_doc},
    {"to_bbox", to_bbox, METH_VARARGS, to_bbox_doc},
    {"merge", merge, METH_VARARGS, merge_doc},
    {"iou", iou, METH_VARARGS, iou_doc},
    {"box_iou", boxes_iou, METH_VARARGS, box_iou_doc},
    {"polygons", polygons, METH_VARARGS, polygons_doc},
    {"parse_polygons", parse_polygons, METH_VARARGS, parse_polygons_doc},
    {"place", place, METH_VARARGS, place_doc},
    {"release_freed", release_freed, METH_NOARGS, release_freed_doc},
    {"map_large_blocks", map_large_blocks, METH_NOARGS, map_large_blocks_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_rle", "Compiled kernels of evaluator.masks (COCO RLE).", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__rle(void)
{
    PyObject *made = PyModule_Create(&module);
    /* The message of counts that do not sum to a mask's area, for the checks in Python. */
    if (made != NULL && PyModule_AddStringConstant(made, "WRONG_SUM", RLE_WRONG_SUM) < 0)
        Py_CLEAR(made);
    return made;
}
