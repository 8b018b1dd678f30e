/*
 * What the compiled engine's extensions share: reading NumPy arrays through the buffer
 * protocol (counts checked, released once), and COCO's box IoU. Included by
 * evaluator/metrics/_kernels.c and evaluator/masks/_rle.c; every function is static, so
 * each extension has its own copy and no symbol crosses between them.
 */
#ifndef DETEVAL_ENGINE_H
#define DETEVAL_ENGINE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>

#ifdef __clang__ /* GCC ignores the pragma; -ffp-contract=off (setup.py) covers it */
#pragma STDC FP_CONTRACT OFF
#endif

/* A buffer's item count for items of `size` bytes, or -1 with an error set. */
static Py_ssize_t items(const Py_buffer *b, Py_ssize_t size, const char *name)
{
    if (b->len % size != 0) {
        PyErr_Format(PyExc_ValueError, "%s: %zd bytes is not a whole number of items", name,
                     b->len);
        return -1;
    }
    return b->len / size;
}

/* Fail unless buffer `name` holds exactly `expected` items of `size` bytes. */
static int check_items(const Py_buffer *b, Py_ssize_t size, Py_ssize_t expected, const char *name)
{
    Py_ssize_t n = items(b, size, name);
    if (n < 0) return -1;
    if (n != expected) {
        PyErr_Format(PyExc_ValueError, "%s: %zd items, expected %zd", name, n, expected);
        return -1;
    }
    return 0;
}

/* Release the buffers a call acquired (those left zeroed were never acquired). */
static void release(Py_buffer *b, int n)
{
    for (int i = 0; i < n; i++)
        if (b[i].obj != NULL) PyBuffer_Release(&b[i]);
}

/* IoU of detection box d with ground-truth box g (xywh), as maskApi.c's bbIou; for a
 * crowd ground truth, the intersection over the detection's area. */
static double box_iou(const double *d, const double *g, int crowd)
{
    /* One operation per statement, as maskApi.c computes them, so that no compiler can
     * fuse a multiply and an add (also off by -ffp-contract=off, set in setup.py). */
    double w = fmin(d[2] + d[0], g[2] + g[0]) - fmax(d[0], g[0]);
    if (w <= 0) return 0.0;
    double h = fmin(d[3] + d[1], g[3] + g[1]) - fmax(d[1], g[1]);
    if (h <= 0) return 0.0;
    double i = w * h;
    double da = d[2] * d[3];
    double ga = g[2] * g[3];
    double u = crowd ? da : da + ga;
    if (!crowd) u = u - i;
    return i / u;
}

#endif
