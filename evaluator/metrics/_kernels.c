/*
 * Compiled kernels of the COCO engine: the greedy matching of pycocotools' evaluate(),
 * group by group, with the GIL released so that Python threads can run chunks of groups
 * on every core.
 *
 * Arrays arrive through the buffer protocol (C-contiguous, dtypes checked by the Python
 * wrapper in matching.py), so the module needs no NumPy headers to build.
 *
 * Floating point: every IoU is computed with the operations, in the order, of bbIou in
 * cocoapi's maskApi.c, and this file must be compiled without contraction of a*b+c into
 * fused multiply-adds (-ffp-contract=off, set in setup.py) so that the doubles are the
 * same as pycocotools' on every platform.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* IoU of detection box d with ground-truth box g (xywh), as maskApi.c's bbIou. */
static double box_iou(const double *d, const double *g, int crowd)
{
    double w = fmin(d[2] + d[0], g[2] + g[0]) - fmax(d[0], g[0]);
    if (w <= 0) return 0.0;
    double h = fmin(d[3] + d[1], g[3] + g[1]) - fmax(d[1], g[1]);
    if (h <= 0) return 0.0;
    double i = w * h;
    double da = d[2] * d[3];
    double u = crowd ? da : da + g[2] * g[3] - i;
    return i / u;
}

typedef struct {
    Py_ssize_t n_groups, n_det, n_gt, n_area, n_thr;
    const int64_t *det_start;  /* (n_groups + 1,) detections of group k: [det_start[k], det_start[k+1]) */
    const int64_t *gt_start;   /* (n_groups + 1,) likewise for ground truths */
    const double *det_box;     /* (n_det, 4) xywh, each group's detections by rank */
    const double *gt_box;      /* (n_gt, 4) xywh, each group's ground truths in list order */
    const uint8_t *gt_crowd;   /* (n_gt,) */
    const uint8_t *gt_ignored; /* (n_area, n_gt) */
    const double *thresholds;  /* (n_thr,) already capped at 1 - 1e-10 */
    int32_t *matched;          /* (n_area, n_thr, n_det) out: ground-truth index or -1 */
} Problem;

/*
 * Match the groups [first, last). pycocotools' rule for one detection at one threshold,
 * its ground truths sorted non-ignored first (stable): among the free ones (a crowd is
 * never used up) with IoU >= threshold, the non-ignored one with the highest IoU, else
 * the ignored one with the highest IoU; on equal IoU the later one in list order wins.
 * Returns 0, or -1 when a work buffer cannot be allocated.
 */
static int match_groups(const Problem *p, Py_ssize_t first, Py_ssize_t last)
{
    double *iou = NULL;    /* (n_d, n_g) of the current group */
    uint8_t *used = NULL;  /* (n_g,) taken at the current area and threshold */
    size_t iou_cap = 0, used_cap = 0;
    for (Py_ssize_t k = first; k < last; k++) {
        int64_t d0 = p->det_start[k], nd = p->det_start[k + 1] - d0;
        int64_t g0 = p->gt_start[k], ng = p->gt_start[k + 1] - g0;
        if (nd == 0) continue;
        if (ng == 0) {  /* nothing to match: every entry stays -1 */
            for (Py_ssize_t at = 0; at < p->n_area * p->n_thr; at++)
                for (int64_t d = 0; d < nd; d++) p->matched[at * p->n_det + d0 + d] = -1;
            continue;
        }
        size_t need = (size_t)nd * (size_t)ng;
        if (need > iou_cap) {
            double *grown = realloc(iou, need * sizeof(double));
            if (grown == NULL) goto fail;
            iou = grown;
            iou_cap = need;
        }
        if ((size_t)ng > used_cap) {
            uint8_t *grown = realloc(used, (size_t)ng);
            if (grown == NULL) goto fail;
            used = grown;
            used_cap = (size_t)ng;
        }
        for (int64_t d = 0; d < nd; d++)
            for (int64_t g = 0; g < ng; g++)
                iou[d * ng + g] = box_iou(p->det_box + 4 * (d0 + d), p->gt_box + 4 * (g0 + g),
                                          p->gt_crowd[g0 + g]);
        for (Py_ssize_t a = 0; a < p->n_area; a++) {
            const uint8_t *ignored = p->gt_ignored + a * p->n_gt + g0;
            for (Py_ssize_t t = 0; t < p->n_thr; t++) {
                double threshold = p->thresholds[t];
                int32_t *out = p->matched + (a * p->n_thr + t) * p->n_det + d0;
                memset(used, 0, (size_t)ng);
                for (int64_t d = 0; d < nd; d++) {
                    const double *row = iou + d * ng;
                    int64_t best_regular = -1, best_ignored = -1;
                    double regular_iou = threshold, ignored_iou = threshold;
                    for (int64_t g = 0; g < ng; g++) {
                        if (used[g] || row[g] < threshold) continue;
                        if (ignored[g]) {
                            if (row[g] >= ignored_iou) { ignored_iou = row[g]; best_ignored = g; }
                        } else if (row[g] >= regular_iou) {
                            regular_iou = row[g];
                            best_regular = g;
                        }
                    }
                    int64_t m = best_regular >= 0 ? best_regular : best_ignored;
                    out[d] = m >= 0 ? (int32_t)(g0 + m) : -1;
                    if (m >= 0 && !p->gt_crowd[g0 + m]) used[m] = 1;
                }
            }
        }
    }
    free(iou);
    free(used);
    return 0;
fail:
    free(iou);
    free(used);
    return -1;
}

/* Bytes of a buffer as a count of items of `size` bytes, or -1 (with an error set). */
static Py_ssize_t items(const Py_buffer *b, Py_ssize_t size, const char *name)
{
    if (b->len % size != 0) {
        PyErr_Format(PyExc_ValueError, "%s: %zd bytes is not a whole number of items", name,
                     b->len);
        return -1;
    }
    return b->len / size;
}

PyDoc_STRVAR(match_doc,
"match(det_start, gt_start, det_box, gt_box, gt_crowd, gt_ignored, thresholds, matched,\n"
"      n_area, first, last)\n"
"--\n\n"
"Greedy COCO matching of the groups [first, last), written into `matched`.\n\n"
"det_start, gt_start: int64 (K + 1,); det_box: float64 (D, 4); gt_box: float64 (G, 4);\n"
"gt_crowd: uint8 (G,); gt_ignored: uint8 (n_area, G); thresholds: float64 (T,);\n"
"matched: int32 (n_area, T, D), written for the detections of those groups.\n"
"Releases the GIL while it works.");

static PyObject *match(PyObject *self, PyObject *args)
{
    (void)self;
    Py_buffer b[8];
    Py_ssize_t first, last;
    Problem p;
    memset(b, 0, sizeof b);
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*y*y*w*nnn", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
                          &b[6], &b[7], &p.n_area, &first, &last))
        return NULL;
    PyObject *result = NULL;
    Py_ssize_t starts = items(&b[0], 8, "det_start");
    if (starts < 0) goto done;
    if (starts < 1 || items(&b[1], 8, "gt_start") != starts) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "det_start, gt_start: empty or of different lengths");
        goto done;
    }
    p.n_groups = starts - 1;
    p.n_det = items(&b[2], 32, "det_box");
    p.n_gt = items(&b[3], 32, "gt_box");
    p.n_thr = items(&b[6], 8, "thresholds");
    if (p.n_det < 0 || p.n_gt < 0 || p.n_thr < 0) goto done;
    if (b[4].len != p.n_gt || b[5].len != p.n_area * p.n_gt) {
        PyErr_SetString(PyExc_ValueError, "gt_crowd, gt_ignored: shapes do not match gt_box");
        goto done;
    }
    if (p.n_area < 0 || b[7].len != 4 * p.n_area * p.n_thr * p.n_det) {
        PyErr_SetString(PyExc_ValueError, "matched: shape is not (n_area, T, D)");
        goto done;
    }
    if (first < 0 || last > p.n_groups || first > last) {
        PyErr_SetString(PyExc_ValueError, "first, last: outside the groups");
        goto done;
    }
    p.det_start = b[0].buf;
    p.gt_start = b[1].buf;
    p.det_box = b[2].buf;
    p.gt_box = b[3].buf;
    p.gt_crowd = b[4].buf;
    p.gt_ignored = b[5].buf;
    p.thresholds = b[6].buf;
    p.matched = b[7].buf;
    for (Py_ssize_t k = first; k < last; k++) {
        if (p.det_start[k] < 0 || p.det_start[k] > p.det_start[k + 1] || p.gt_start[k] < 0 ||
            p.gt_start[k] > p.gt_start[k + 1]) {
            PyErr_SetString(PyExc_ValueError, "group bounds must be ascending from 0");
            goto done;
        }
    }
    if (p.det_start[last] > p.n_det || p.gt_start[last] > p.n_gt) {
        PyErr_SetString(PyExc_ValueError, "group bounds outside the boxes");
        goto done;
    }
    int status;
    Py_BEGIN_ALLOW_THREADS
    status = match_groups(&p, first, last);
    Py_END_ALLOW_THREADS
    if (status < 0) {
        PyErr_NoMemory();
        goto done;
    }
    result = Py_NewRef(Py_None);
done:
    for (int i = 0; i < 8; i++)
        if (b[i].obj != NULL) PyBuffer_Release(&b[i]);
    return result;
}

static PyMethodDef methods[] = {
    {"match", match, METH_VARARGS, match_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_kernels", "Compiled kernels of the COCO engine.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__kernels(void) { return PyModule_Create(&module); }
