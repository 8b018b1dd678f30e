/*
 * Compiled kernels of the COCO engine: the greedy matching of pycocotools' evaluate(),
 * group by group, and its accumulate(), class by class, with the GIL released so that
 * Python threads can run chunks of them on every core.
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
#include "../_engine.h"
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef __clang__ /* GCC ignores the pragma; -ffp-contract=off (setup.py) covers it */
#pragma STDC FP_CONTRACT OFF
#endif

/* A hint to start loading an address that is read soon (a no-op where unsupported). */
#if defined(__GNUC__) || defined(__clang__)
#define PREFETCH(address) __builtin_prefetch(address)
#else
#define PREFETCH(address) ((void)(address))
#endif

/* How many detections ahead the matching asks for the rows it will read: each group's
 * rows lie elsewhere in the results (their file order), so every read misses the cache. */
#define ROWS_AHEAD 16

/* A detection's outcome at one area range and threshold: a false positive is 0. The
 * matching writes one of the two; the accumulation also takes them as bits, both set
 * counting as a true positive. */
#define OUTCOME_TRUE_POSITIVE 1
#define OUTCOME_IGNORED 2

typedef struct {
    Py_ssize_t n_groups, n_det, n_rows, n_gt, n_area, n_thr;
    const int64_t *det_start;  /* (K + 1,) detections of group k: [det_start[k], det_start[k+1]) */
    const int64_t *gt_lo;      /* (K,) ground truths of group k: [gt_lo[k], gt_hi[k]) */
    const int64_t *gt_hi;      /* (K,) */
    const int64_t *det_row;    /* (D,) row of each detection (each group's by rank) below */
    const double *det_box;     /* (N, 4) xywh */
    const double *det_area;    /* (N,), or NULL: w * h of the box */
    const int64_t *position;   /* (D,) column of each detection in the outputs */
    const double *gt_box;      /* (G, 4) xywh, each group's ground truths in list order */
    const uint8_t *gt_crowd;   /* (G,) */
    const uint8_t *gt_counts;  /* (G,) 0: a match on it reads as no match (annotation id 0) */
    const uint8_t *gt_ignored; /* (A, G) */
    const double *area_range;  /* (A, 2) lo, hi */
    const double *thresholds;  /* (T,) already capped at 1 - 1e-10 */
    const double *similarity;  /* given IoU/OKS blocks, or NULL: box IoU computed here */
    const int64_t *sim_start;  /* (K,) group k's (n_d, n_g) block starts here */
    int32_t *matched;          /* (T, D) out: ground truth matched in area range 0, or -1;
                                  NULL: not asked for */
    uint8_t *outcome;          /* (A, T, D) out: 0, OUTCOME_TRUE_POSITIVE or OUTCOME_IGNORED */
} Problem;

/* The output column and judged area of one detection of the group being matched. */
typedef struct {
    int64_t column;
    double area;
} Detection;

/* A group without ground truth: nothing matches, and a detection is ignored in the area
 * ranges its area is outside (a false positive in the others, which is left as zero). */
static void mark_unmatched(const Problem *p, const Detection *det, int64_t nd)
{
    const Py_ssize_t plane = p->n_thr * p->n_det;
    for (Py_ssize_t a = 0; a < p->n_area; a++) {
        const double lo = p->area_range[2 * a], hi = p->area_range[2 * a + 1];
        uint8_t *outcome = p->outcome + a * plane;
        for (int64_t d = 0; d < nd; d++) {
            if (!(det[d].area < lo || det[d].area > hi)) continue;
            for (Py_ssize_t t = 0; t < p->n_thr; t++)
                outcome[t * p->n_det + det[d].column] = OUTCOME_IGNORED;
        }
    }
}

/*
 * Match the groups [first, last) and write what pycocotools derives from the matches,
 * into outputs that arrive zeroed (matched: -1), so that only the ones are written.
 *
 * The rule for one detection at one threshold, its ground truths sorted non-ignored
 * first (stable): among the free ones (a crowd is never used up) with IoU >= threshold,
 * the non-ignored one with the highest IoU, else the ignored one with the highest IoU;
 * on equal IoU the later one in list order wins. Then, as in evaluateImg/accumulate: a
 * detection matched to an ignored ground truth is ignored; one matched to a ground truth
 * that does not count (dtm == 0) or unmatched is ignored when its area is outside the
 * range, else a false positive; the others are true positives.
 * Returns 0, or -1 when a work buffer cannot be allocated.
 */
static int match_groups(const Problem *p, Py_ssize_t first, Py_ssize_t last)
{
    double *iou = NULL;    /* (n_d, n_g) of the current group */
    uint8_t *used = NULL;  /* (n_g,) taken at the current area and threshold */
    Detection *det = NULL; /* (n_d,) of the current group, read once */
    size_t iou_cap = 0, used_cap = 0, det_cap = 0;
    const Py_ssize_t plane = p->n_thr * p->n_det;
    for (Py_ssize_t k = first; k < last; k++) {
        int64_t d0 = p->det_start[k], nd = p->det_start[k + 1] - d0;
        int64_t g0 = p->gt_lo[k], ng = p->gt_hi[k] - g0;
        if ((size_t)nd > det_cap) {
            Detection *grown = realloc(det, (size_t)nd * sizeof(Detection));
            if (grown == NULL) goto fail;
            det = grown;
            det_cap = (size_t)nd;
        }
        for (int64_t d = 0; d < nd; d++) {
            if (d0 + d + ROWS_AHEAD < p->n_det) {
                const int64_t ahead = p->det_row[d0 + d + ROWS_AHEAD];
                if (p->det_area != NULL) PREFETCH(p->det_area + ahead);
                if (p->similarity == NULL || p->det_area == NULL)
                    PREFETCH(p->det_box + 4 * ahead);
            }
            det[d].column = p->position[d0 + d];
            const int64_t row = p->det_row[d0 + d];
            /* loadRes' area of a box result: w * h (inf past the float range, as NumPy) */
            det[d].area = p->det_area != NULL ? p->det_area[row]
                                               : p->det_box[4 * row + 2] * p->det_box[4 * row + 3];
        }
        if (ng == 0) {
            mark_unmatched(p, det, nd);
            continue;
        }
        if ((size_t)ng > used_cap) {
            uint8_t *grown = realloc(used, (size_t)ng);
            if (grown == NULL) goto fail;
            used = grown;
            used_cap = (size_t)ng;
        }
        const double *block;
        if (p->similarity != NULL) {
            block = p->similarity + p->sim_start[k];
        } else {
            if ((size_t)nd > SIZE_MAX / sizeof(double) / (size_t)ng) goto fail;
            size_t need = (size_t)nd * (size_t)ng;
            if (need > iou_cap) {
                double *grown = realloc(iou, need * sizeof(double));
                if (grown == NULL) goto fail;
                iou = grown;
                iou_cap = need;
            }
            for (int64_t d = 0; d < nd; d++)
                for (int64_t g = 0; g < ng; g++)
                    iou[d * ng + g] = box_iou(p->det_box + 4 * p->det_row[d0 + d],
                                              p->gt_box + 4 * (g0 + g), p->gt_crowd[g0 + g]);
            block = iou;
        }
        for (Py_ssize_t a = 0; a < p->n_area; a++) {
            const uint8_t *gt_ignored = p->gt_ignored + a * p->n_gt + g0;
            const double lo = p->area_range[2 * a], hi = p->area_range[2 * a + 1];
            for (Py_ssize_t t = 0; t < p->n_thr; t++) {
                const double threshold = p->thresholds[t];
                uint8_t *outcome = p->outcome + a * plane + t * p->n_det;
                int32_t *matched =
                    a == 0 && p->matched != NULL ? p->matched + t * p->n_det : NULL;
                memset(used, 0, (size_t)ng);
                for (int64_t d = 0; d < nd; d++) {
                    const double *row = block + d * ng;
                    int64_t best_regular = -1, best_ignored = -1;
                    double regular_iou = threshold, ignored_iou = threshold;
                    /* pycocotools skips a candidate when iou < best (best starts at the
                     * threshold): written as !(x < best), a NaN IoU (from boxes so large
                     * that their sums overflow) is taken as it takes it. */
                    for (int64_t g = 0; g < ng; g++) {
                        if (used[g]) continue;
                        const double x = row[g];
                        if (gt_ignored[g]) {
                            if (!(x < ignored_iou)) { ignored_iou = x; best_ignored = g; }
                        } else if (!(x < regular_iou)) {
                            regular_iou = x;
                            best_regular = g;
                        }
                    }
                    const int64_t m = best_regular >= 0 ? best_regular : best_ignored;
                    const int outside = det[d].area < lo || det[d].area > hi;
                    int counted = 0, ignore;
                    if (m >= 0) {
                        if (!p->gt_crowd[g0 + m]) used[m] = 1;
                        counted = p->gt_counts[g0 + m];
                        ignore = gt_ignored[m] || (!counted && outside);
                        if (matched != NULL) matched[det[d].column] = (int32_t)(g0 + m);
                    } else {
                        ignore = outside;
                    }
                    if (ignore)
                        outcome[det[d].column] = OUTCOME_IGNORED;
                    else if (counted)
                        outcome[det[d].column] = OUTCOME_TRUE_POSITIVE;
                }
            }
        }
    }
    free(iou);
    free(used);
    free(det);
    return 0;
fail:
    free(iou);
    free(used);
    free(det);
    return -1;
}

enum {
    DET_START, GT_LO, GT_HI, DET_ROW, DET_BOX, DET_AREA, POSITION, GT_BOX, GT_CROWD, GT_COUNTS,
    GT_IGNORED, AREA_RANGE, THRESHOLDS, SIMILARITY, SIM_START, MATCHED, OUTCOME, N_BUFFERS
};

PyDoc_STRVAR(match_doc,
"match(det_start, gt_lo, gt_hi, det_row, det_box, det_area, position, gt_box, gt_crowd,\n"
"      gt_counts, gt_ignored, area_range, thresholds, similarity, sim_start, matched,\n"
"      outcome, first, last)\n"
"--\n\n"
"Greedy COCO matching of the groups [first, last) and its outcome per detection.\n\n"
"det_start: int64 (K + 1,); gt_lo, gt_hi: int64 (K,); det_row: int64 (D,), the row of\n"
"each detection in det_box: float64 (N, 4) and det_area: float64 (N,) (empty: w * h of\n"
"the box); position: int64\n"
"(D,), the output column of each detection;\n"
"gt_box: float64 (G, 4); gt_crowd, gt_counts: uint8 (G,); gt_ignored: uint8 (A, G);\n"
"area_range: float64 (A, 2); thresholds: float64 (T,); similarity: float64, the\n"
"(n_d, n_g) IoU or OKS block of group k from sim_start[k] (int64 (K,)), or both empty:\n"
"then the box IoU of det_box and gt_box. Written, into outputs that arrive zeroed\n"
"(matched: -1): matched int32 (T, D) (area range 0; empty: not written), and outcome\n"
"uint8 (A, T, D), 1 for a true positive and 2 for an ignored detection, at the columns\n"
"of the detections of those groups.\n"
"Releases the GIL while it works.");

static PyObject *match(PyObject *self, PyObject *args)
{
    (void)self;
    Py_buffer b[N_BUFFERS];
    Py_ssize_t first, last;
    Problem p;
    memset(b, 0, sizeof b);
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*y*y*y*y*y*y*y*y*y*y*w*w*nn", &b[DET_START],
                          &b[GT_LO], &b[GT_HI], &b[DET_ROW], &b[DET_BOX], &b[DET_AREA], &b[POSITION], &b[GT_BOX],
                          &b[GT_CROWD], &b[GT_COUNTS], &b[GT_IGNORED], &b[AREA_RANGE],
                          &b[THRESHOLDS], &b[SIMILARITY], &b[SIM_START], &b[MATCHED],
                          &b[OUTCOME], &first, &last))
        return NULL;
    PyObject *result = NULL;
    Py_ssize_t starts = items(&b[DET_START], 8, "det_start");
    if (starts < 0) goto done;
    if (starts < 1) {
        PyErr_SetString(PyExc_ValueError, "det_start: empty");
        goto done;
    }
    p.n_groups = starts - 1;
    Py_ssize_t n_similarity = items(&b[SIMILARITY], 8, "similarity");
    Py_ssize_t n_sim_start = items(&b[SIM_START], 8, "sim_start");
    if (n_similarity < 0 || n_sim_start < 0) goto done;
    const int given = n_sim_start > 0 || n_similarity > 0;
    if (given && n_sim_start != p.n_groups) {
        PyErr_Format(PyExc_ValueError, "sim_start: %zd items, expected %zd", n_sim_start,
                     p.n_groups);
        goto done;
    }
    /* The boxes are read for their IoU (no similarities given) or their areas (none
     * given); otherwise N comes from the areas and G from the other columns. */
    const int has_area = b[DET_AREA].len > 0;
    const int reads_boxes = !given || !has_area;
    p.n_det = items(&b[POSITION], 8, "position");
    p.n_rows = has_area ? items(&b[DET_AREA], 8, "det_area") : items(&b[DET_BOX], 32, "det_box");
    p.n_gt = given ? items(&b[GT_CROWD], 1, "gt_crowd") : items(&b[GT_BOX], 32, "gt_box");
    p.n_area = items(&b[AREA_RANGE], 16, "area_range");
    p.n_thr = items(&b[THRESHOLDS], 8, "thresholds");
    Py_ssize_t n_matched = items(&b[MATCHED], 4, "matched");
    if (p.n_det < 0 || p.n_rows < 0 || p.n_gt < 0 || p.n_area < 0 || p.n_thr < 0 ||
        n_matched < 0)
        goto done;
    if (check_items(&b[GT_LO], 8, p.n_groups, "gt_lo") || check_items(&b[GT_HI], 8, p.n_groups, "gt_hi") ||
        check_items(&b[DET_ROW], 8, p.n_det, "det_row") ||
        (reads_boxes && check_items(&b[DET_BOX], 32, p.n_rows, "det_box")) ||
        check_items(&b[GT_CROWD], 1, p.n_gt, "gt_crowd") ||
        check_items(&b[GT_COUNTS], 1, p.n_gt, "gt_counts") ||
        check_items(&b[GT_IGNORED], 1, p.n_area * p.n_gt, "gt_ignored") ||
        (n_matched && check_items(&b[MATCHED], 4, p.n_thr * p.n_det, "matched")) ||
        check_items(&b[OUTCOME], 1, p.n_area * p.n_thr * p.n_det, "outcome"))
        goto done;
    if (first < 0 || last > p.n_groups || first > last) {
        PyErr_SetString(PyExc_ValueError, "first, last: outside the groups");
        goto done;
    }
    p.det_start = b[DET_START].buf;
    p.gt_lo = b[GT_LO].buf;
    p.gt_hi = b[GT_HI].buf;
    p.det_row = b[DET_ROW].buf;
    p.det_box = b[DET_BOX].buf;
    p.det_area = has_area ? b[DET_AREA].buf : NULL;
    p.position = b[POSITION].buf;
    p.gt_box = b[GT_BOX].buf;
    p.gt_crowd = b[GT_CROWD].buf;
    p.gt_counts = b[GT_COUNTS].buf;
    p.gt_ignored = b[GT_IGNORED].buf;
    p.area_range = b[AREA_RANGE].buf;
    p.thresholds = b[THRESHOLDS].buf;
    p.similarity = given ? b[SIMILARITY].buf : NULL;
    p.sim_start = given ? b[SIM_START].buf : NULL;
    p.matched = n_matched ? b[MATCHED].buf : NULL;
    p.outcome = b[OUTCOME].buf;
    for (Py_ssize_t k = first; k < last; k++) {
        if (p.det_start[k] < 0 || p.det_start[k] > p.det_start[k + 1] ||
            p.det_start[k + 1] > p.n_det || p.gt_lo[k] < 0 || p.gt_lo[k] > p.gt_hi[k] ||
            p.gt_hi[k] > p.n_gt) {
            PyErr_Format(PyExc_ValueError, "group %zd: bounds outside the boxes", k);
            goto done;
        }
        if (given) {
            int64_t nd = p.det_start[k + 1] - p.det_start[k], ng = p.gt_hi[k] - p.gt_lo[k];
            if (p.sim_start[k] < 0 || p.sim_start[k] > n_similarity ||
                (ng && nd > (n_similarity - p.sim_start[k]) / ng)) {
                PyErr_Format(PyExc_ValueError, "group %zd: similarity block outside the array", k);
                goto done;
            }
        }
        for (int64_t d = p.det_start[k]; d < p.det_start[k + 1]; d++) {
            if (p.position[d] < 0 || p.position[d] >= p.n_det) {
                PyErr_Format(PyExc_ValueError, "position[%lld]: outside the columns", (long long)d);
                goto done;
            }
            if (p.det_row[d] < 0 || p.det_row[d] >= p.n_rows) {
                PyErr_Format(PyExc_ValueError, "det_row[%lld]: outside the rows", (long long)d);
                goto done;
            }
        }
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
    release(b, N_BUFFERS);
    return result;
}

/* ------------------------------------------------------------------------------------ */
/* OKS of every (detection, ground truth) pair of a range of groups, in two steps around */
/* NumPy's exp: oks_group_terms writes the terms -e of computeOks, oks_group_means adds  */
/* up each pair's exp(-e) as np.sum does and divides by their count.                     */

/* exp(-e) is +0.0 for e beyond this in any double exp (exp underflows below -745.14):
 * such terms skip NumPy's exp, whose underflow path is slow, and count as 0. */
#define OKS_ZERO_BEYOND 750.0

/* The labelled keypoints (v > 0) of a ground truth; its terms are those, or all k. */
static Py_ssize_t oks_labelled(const double *g, Py_ssize_t k)
{
    Py_ssize_t labelled = 0;
    for (Py_ssize_t j = 0; j < k; j++) labelled += g[3 * j + 2] > 0;
    return labelled;
}

/* The groups' arrays, as keypoint_similarity passes them to both steps. */
typedef struct {
    const int64_t *det_start, *gt_lo, *gt_hi;
    const double *gt_kp;
    Py_ssize_t n_groups, n_dets, n_gt, k, first, last;
} OksGroups;

/* Checks groups first..last-1 against the arrays; the terms of their pairs in *n_terms
 * and of their pairs in *n_pairs, each of their ground truths' labelled keypoints in
 * labelled[j] (an array of n_gt items). -1 with an exception when they do not fit. */
static int oks_check_groups(const OksGroups *s, Py_ssize_t *labelled, Py_ssize_t *n_terms,
                            Py_ssize_t *n_pairs)
{
    if (s->first < 0 || s->first > s->last || s->last > s->n_groups) {
        PyErr_SetString(PyExc_ValueError, "first, last: not a range of the groups");
        return -1;
    }
    *n_terms = *n_pairs = 0;
    for (Py_ssize_t g = s->first; g < s->last; g++) {
        int64_t d0 = s->det_start[g], d1 = s->det_start[g + 1];
        int64_t lo = s->gt_lo[g], hi = s->gt_hi[g];
        if (d0 < 0 || d1 < d0 || d1 > s->n_dets || lo < 0 || hi < lo || hi > s->n_gt) {
            PyErr_Format(PyExc_ValueError, "group %zd: rows outside the arrays", g);
            return -1;
        }
        Py_ssize_t per_det = 0;
        for (int64_t j = lo; j < hi; j++) {
            labelled[j] = oks_labelled(s->gt_kp + 3 * s->k * j, s->k);
            per_det += labelled[j] ? labelled[j] : s->k;
        }
        *n_terms += (d1 - d0) * per_det;
        *n_pairs += (d1 - d0) * (hi - lo);
    }
    return 0;
}

/* oks_check_groups with the labelled counts in a new array (*labelled, freed by the
 * caller); -1 with an exception. */
static int oks_prepare(const OksGroups *s, Py_ssize_t **labelled, Py_ssize_t *n_terms,
                       Py_ssize_t *n_pairs)
{
    *labelled = malloc((size_t)(s->n_gt ? s->n_gt : 1) * sizeof(Py_ssize_t));
    if (*labelled == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    return oks_check_groups(s, *labelled, n_terms, n_pairs);
}

/* The terms -e of one pair at e, as computeOks computes e (its operations in its order);
 * each -e also goes to *small unless e > OKS_ZERO_BEYOND. *small never runs ahead of e in
 * their buffers of equal size, so writing there before deciding to keep stays inside. */
static void oks_pair_terms(const double *d, const double *g, int labelled, const double *box,
                           double area, const double *var, Py_ssize_t k, double *e,
                           double **small)
{
    const double x0 = box[0] - box[2], x1 = box[0] + box[2] * 2;
    const double y0 = box[1] - box[3], y1 = box[1] + box[3] * 2;
    for (Py_ssize_t j = 0; j < k; j++) {
        double dx, dy;
        if (labelled) {
            if (!(g[3 * j + 2] > 0)) continue;
            dx = d[3 * j] - g[3 * j];
            dy = d[3 * j + 1] - g[3 * j + 1];
        } else {
            const double xd = d[3 * j], yd = d[3 * j + 1];
            double below = x0 - xd, above = xd - x1;
            dx = (below > 0 ? below : 0.0) + (above > 0 ? above : 0.0);
            below = y0 - yd;
            above = yd - y1;
            dy = (below > 0 ? below : 0.0) + (above > 0 ? above : 0.0);
        }
        double squared = dx * dx;
        double dy2 = dy * dy;
        squared = squared + dy2;
        const double term = squared / var[j] / area / 2;
        *e++ = -term;
        **small = -term; /* kept unless beyond the cut (no branch: the cut is a coin toss) */
        *small += !(term > OKS_ZERO_BEYOND);
    }
}

PyDoc_STRVAR(oks_group_terms_doc,
"oks_group_terms(det_start, gt_lo, gt_hi, det_rows, det_keypoints, gt_keypoints, gt_box,\n"
"                gt_area, variances, first, last, terms, small)\n--\n\n"
"The terms -e of computeOks of every pair of groups first..last-1, with its operations\n"
"in its order: e = (dx*dx + dy*dy) / variances[k] / (gt_area + eps) / 2 over the ground\n"
"truth's labelled keypoints (v > 0) in order, or, when it has none, over all K with dx,\n"
"dy the distances outside its box grown by its width and height on every side. Group g\n"
"pairs detections det_start[g]..det_start[g + 1]-1 (rows det_rows[i] of det_keypoints)\n"
"with ground truths gt_lo[g]..gt_hi[g]-1, row-major; terms gets all terms of those\n"
"pairs in that order, small the ones with e <= 750 (the others' exp is 0.0), in order.\n"
"det_start: int64 (n + 1,); gt_lo, gt_hi: int64 (n,); det_rows: int64 (D,);\n"
"det_keypoints: float64 (N, K, 3); gt_keypoints: float64 (G, K, 3); gt_box: float64\n"
"(G, 4); gt_area: float64 (G,), eps already added; variances: float64 (K,); terms:\n"
"float64 (T,) for the T terms; small: float64 (T,). Returns the count written to small.\n"
"Releases the GIL.");

enum { OT_DET_START, OT_GT_LO, OT_GT_HI, OT_DET_ROWS, OT_DET_KP, OT_GT_KP, OT_GT_BOX,
       OT_GT_AREA, OT_VAR, OT_TERMS, OT_SMALL, OT_N_BUFFERS };

static PyObject *oks_group_terms(PyObject *self, PyObject *args)
{
    (void)self;
    Py_buffer b[OT_N_BUFFERS];
    memset(b, 0, sizeof b);
    OksGroups s;
    Py_ssize_t *labelled = NULL;
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*y*y*y*y*nnw*w*", &b[OT_DET_START], &b[OT_GT_LO],
                          &b[OT_GT_HI], &b[OT_DET_ROWS], &b[OT_DET_KP], &b[OT_GT_KP],
                          &b[OT_GT_BOX], &b[OT_GT_AREA], &b[OT_VAR], &s.first, &s.last,
                          &b[OT_TERMS], &b[OT_SMALL]))
        return NULL;
    PyObject *result = NULL;
    Py_ssize_t n_starts = items(&b[OT_DET_START], 8, "det_start");
    s.n_dets = items(&b[OT_DET_ROWS], 8, "det_rows");
    s.k = items(&b[OT_VAR], 8, "variances");
    s.n_gt = items(&b[OT_GT_AREA], 8, "gt_area");
    Py_ssize_t det_items = items(&b[OT_DET_KP], 8, "det_keypoints");
    Py_ssize_t n_out = items(&b[OT_TERMS], 8, "terms");
    if (n_starts < 1 || s.n_dets < 0 || s.k < 1 || s.n_gt < 0 || det_items < 0 || n_out < 0) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "det_start or variances: empty");
        goto done;
    }
    if (det_items % (3 * s.k) != 0) {
        PyErr_SetString(PyExc_ValueError, "det_keypoints: not (D, K, 3) for K variances");
        goto done;
    }
    s.n_groups = n_starts - 1;
    if (check_items(&b[OT_GT_LO], 8, s.n_groups, "gt_lo") ||
        check_items(&b[OT_GT_HI], 8, s.n_groups, "gt_hi") ||
        check_items(&b[OT_GT_KP], 8, s.n_gt * 3 * s.k, "gt_keypoints") ||
        check_items(&b[OT_GT_BOX], 8, s.n_gt * 4, "gt_box") ||
        check_items(&b[OT_SMALL], 8, n_out, "small"))
        goto done;
    s.det_start = b[OT_DET_START].buf;
    s.gt_lo = b[OT_GT_LO].buf;
    s.gt_hi = b[OT_GT_HI].buf;
    s.gt_kp = b[OT_GT_KP].buf;
    Py_ssize_t n_terms, n_pairs;
    if (oks_prepare(&s, &labelled, &n_terms, &n_pairs)) goto done;
    if (n_terms != n_out) {
        PyErr_Format(PyExc_ValueError, "terms: %zd items, expected %zd", n_out, n_terms);
        goto done;
    }
    const int64_t *det_rows = b[OT_DET_ROWS].buf;
    const Py_ssize_t n_det_kp = det_items / (3 * s.k);
    if (s.first < s.last)
        for (int64_t i = s.det_start[s.first]; i < s.det_start[s.last]; i++)
            if (det_rows[i] < 0 || det_rows[i] >= n_det_kp) {
                PyErr_Format(PyExc_ValueError, "det_rows[%lld]: outside det_keypoints",
                             (long long)i);
                goto done;
            }
    const double *det_kp = b[OT_DET_KP].buf, *gt_box = b[OT_GT_BOX].buf;
    const double *gt_area = b[OT_GT_AREA].buf, *var = b[OT_VAR].buf;
    double *e = b[OT_TERMS].buf, *small = b[OT_SMALL].buf;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t g = s.first; g < s.last; g++)
        for (int64_t i = s.det_start[g]; i < s.det_start[g + 1]; i++)
            for (int64_t j = s.gt_lo[g]; j < s.gt_hi[g]; j++) {
                oks_pair_terms(det_kp + 3 * s.k * det_rows[i], s.gt_kp + 3 * s.k * j,
                               labelled[j] > 0, gt_box + 4 * j, gt_area[j], var, s.k, e, &small);
                e += labelled[j] ? labelled[j] : s.k;
            }
    Py_END_ALLOW_THREADS
    result = PyLong_FromSsize_t(small - (double *)b[OT_SMALL].buf);
done:
    free(labelled);
    release(b, OT_N_BUFFERS);
    return result;
}

/* NumPy's pairwise summation of a contiguous float64 array (DOUBLE_pairwise_sum): below
 * 8 items a running sum from 0, up to 128 eight interleaved partial sums combined as a
 * tree, above that the two halves (cut at a multiple of 8) summed apart. */
static double numpy_sum(const double *a, int64_t n)
{
    if (n < 8) {
        double sum = 0.0;
        for (int64_t i = 0; i < n; i++) sum += a[i];
        return sum;
    }
    if (n <= 128) {
        double r[8];
        for (int j = 0; j < 8; j++) r[j] = a[j];
        int64_t i = 8;
        for (; i < n - (n % 8); i += 8)
            for (int j = 0; j < 8; j++) r[j] += a[i + j];
        double sum = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++) sum += a[i];
        return sum;
    }
    int64_t half = n / 2;
    half -= half % 8;
    return numpy_sum(a, half) + numpy_sum(a + half, n - half);
}

PyDoc_STRVAR(oks_group_means_doc,
"oks_group_means(det_start, gt_lo, gt_hi, gt_keypoints, n_keypoints, first, last, terms,\n"
"                small, out)\n--\n\n"
"The OKS of every pair of groups first..last-1 from oks_group_terms' terms and small,\n"
"small now holding exp of what it held: each term becomes its exp (0.0 when it was left\n"
"out of small), and a pair's OKS is 0.0 plus their sum as np.sum adds an array (NumPy's\n"
"pairwise summation), over their count, as computeOks' np.sum(np.exp(-e)) / e.shape[0].\n"
"gt_keypoints: float64 (G, K, 3), K = n_keypoints; terms, small: float64 (T,) as\n"
"oks_group_terms left them (terms overwritten); out: float64 (P,) for the P pairs,\n"
"row-major within each group. Releases the GIL.");

enum { OM_DET_START, OM_GT_LO, OM_GT_HI, OM_GT_KP, OM_TERMS, OM_SMALL, OM_OUT, OM_N_BUFFERS };

static PyObject *oks_group_means(PyObject *self, PyObject *args)
{
    (void)self;
    Py_buffer b[OM_N_BUFFERS];
    memset(b, 0, sizeof b);
    OksGroups s;
    Py_ssize_t *labelled = NULL;
    if (!PyArg_ParseTuple(args, "y*y*y*y*nnnw*y*w*", &b[OM_DET_START], &b[OM_GT_LO],
                          &b[OM_GT_HI], &b[OM_GT_KP], &s.k, &s.first, &s.last, &b[OM_TERMS],
                          &b[OM_SMALL], &b[OM_OUT]))
        return NULL;
    PyObject *result = NULL;
    Py_ssize_t n_starts = items(&b[OM_DET_START], 8, "det_start");
    Py_ssize_t gt_items = items(&b[OM_GT_KP], 8, "gt_keypoints");
    Py_ssize_t n_terms_in = items(&b[OM_TERMS], 8, "terms");
    Py_ssize_t n_small = items(&b[OM_SMALL], 8, "small");
    Py_ssize_t n_out = items(&b[OM_OUT], 8, "out");
    if (n_starts < 1 || gt_items < 0 || n_terms_in < 0 || n_small < 0 || n_out < 0) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "det_start: empty");
        goto done;
    }
    s.n_groups = n_starts - 1;
    if (check_items(&b[OM_GT_LO], 8, s.n_groups, "gt_lo") ||
        check_items(&b[OM_GT_HI], 8, s.n_groups, "gt_hi"))
        goto done;
    s.det_start = b[OM_DET_START].buf;
    s.gt_lo = b[OM_GT_LO].buf;
    s.gt_hi = b[OM_GT_HI].buf;
    s.gt_kp = b[OM_GT_KP].buf;
    if (s.k < 1 || gt_items % (3 * s.k) != 0) {
        PyErr_SetString(PyExc_ValueError, "gt_keypoints: not (G, K, 3) for K = n_keypoints");
        goto done;
    }
    s.n_gt = gt_items / (3 * s.k);
    s.n_dets = s.det_start[s.n_groups]; /* checked against every group's rows below */
    Py_ssize_t n_terms, n_pairs;
    if (oks_prepare(&s, &labelled, &n_terms, &n_pairs)) goto done;
    if (n_terms != n_terms_in || n_pairs != n_out) {
        PyErr_Format(PyExc_ValueError, "terms, out: %zd and %zd items, expected %zd and %zd",
                     n_terms_in, n_out, n_terms, n_pairs);
        goto done;
    }
    if (n_small != n_terms) {
        PyErr_Format(PyExc_ValueError, "small: %zd items, expected %zd", n_small, n_terms);
        goto done;
    }
    double *e = b[OM_TERMS].buf, *out = b[OM_OUT].buf;
    const double *small = b[OM_SMALL].buf;
    Py_BEGIN_ALLOW_THREADS
    /* The kept terms come in order; `kept` counts those before term t of the range, so it
     * is at most t and small[kept] lies inside small even for a term left out. */
    Py_ssize_t kept = 0;
    for (Py_ssize_t g = s.first; g < s.last; g++)
        for (int64_t i = s.det_start[g]; i < s.det_start[g + 1]; i++)
            for (int64_t j = s.gt_lo[g]; j < s.gt_hi[g]; j++) {
                const Py_ssize_t count = labelled[j] ? labelled[j] : s.k;
                for (Py_ssize_t t = 0; t < count; t++) {
                    const int keep = !(-e[t] > OKS_ZERO_BEYOND);
                    const double value = small[kept];
                    e[t] = keep ? value : 0.0;
                    kept += keep;
                }
                *out++ = (0.0 + numpy_sum(e, count)) / (double)count;
                e += count;
            }
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    free(labelled);
    release(b, OM_N_BUFFERS);
    return result;
}

/* ------------------------------------------------------------------------------------ */
/* Ordering: a stable sort by (key, descending score, tiebreak), as NumPy's lexsort.     */

/* One item being sorted inside its key, carried with its sort fields so that the merge
   passes read memory in order instead of looking the score up by index. */
typedef struct {
    double score;
    int64_t tiebreak;
    int64_t index;
} Ranked;

/* Whether a goes before b inside one key: higher score, then lower tiebreak. */
static inline int ranked_before(const Ranked *a, const Ranked *b)
{
    if (a->score != b->score) return a->score > b->score;
    return a->tiebreak < b->tiebreak;
}

/* Stable merge sort of r[0:n] by `ranked_before`, with tmp[0:n] as scratch. */
static void ranked_sort(Ranked *r, Ranked *tmp, int64_t n)
{
    if (n < 24) { /* insertion sort: stable, fast on the short runs of one group */
        for (int64_t i = 1; i < n; i++) {
            Ranked v = r[i];
            int64_t j = i;
            while (j > 0 && ranked_before(&v, &r[j - 1])) { r[j] = r[j - 1]; j--; }
            r[j] = v;
        }
        return;
    }
    int64_t half = n / 2;
    ranked_sort(r, tmp, half);
    ranked_sort(r + half, tmp, n - half);
    if (!ranked_before(&r[half], &r[half - 1])) return; /* already in order */
    int64_t i = 0, j = half, k = 0;
    while (i < half && j < n) tmp[k++] = ranked_before(&r[j], &r[i]) ? r[j++] : r[i++];
    while (i < half) tmp[k++] = r[i++];
    memcpy(r, tmp, (size_t)k * sizeof(Ranked)); /* r[j:n] is already in place */
}

/* An item sorted by score alone: its score as an unsigned key that ascends as the score
   descends (IEEE-754 bits, sign-folded; -0.0 taken as 0.0, which compares equal to it). */
typedef struct {
    uint64_t key;
    int64_t index;
} Keyed;

static inline uint64_t descending_key(double score)
{
    if (score == 0.0) score = 0.0;
    uint64_t bits;
    memcpy(&bits, &score, sizeof bits);
    bits = (bits >> 63) ? ~bits : bits | 0x8000000000000000ULL; /* ascends with the score */
    return ~bits;
}

/* Stable LSD radix sort of r[0:n] by key, a byte per pass, tmp[0:n] as scratch; the
   counts of every pass are taken in one read, and passes where every item has the same
   byte are skipped. Returns where the sorted items are. */
static Keyed *keyed_sort(Keyed *r, Keyed *tmp, int64_t n)
{
    int64_t count[8][256];
    memset(count, 0, sizeof count);
    for (int64_t i = 0; i < n; i++) {
        const uint64_t key = r[i].key;
        for (int pass = 0; pass < 8; pass++) count[pass][(key >> (8 * pass)) & 255]++;
    }
    for (int pass = 0; pass < 8; pass++) {
        const int shift = 8 * pass;
        int64_t *at = count[pass];
        if (at[(r[0].key >> shift) & 255] == n) continue;
        int64_t offset = 0;
        for (int d = 0; d < 256; d++) {
            int64_t c = at[d];
            at[d] = offset;
            offset += c;
        }
        for (int64_t i = 0; i < n; i++) tmp[at[(r[i].key >> shift) & 255]++] = r[i];
        Keyed *swap = r;
        r = tmp;
        tmp = swap;
    }
    return r;
}

/* How many items ahead sort_run asks for the scores it will read. */
#define SORT_AHEAD 16

/* Sort one key's run of item positions: by radix on the score when every tiebreak in it
   is the same (or there are none: NULL) and the run is long enough to pay for the passes,
   else by merge sort. */
static void sort_run(int64_t *run, int64_t m, const double *score, const int64_t *tiebreak,
                     void *scratch, int64_t capacity)
{
    int same_tiebreak = 1;
    for (int64_t i = 1; tiebreak != NULL && i < m && same_tiebreak; i++)
        same_tiebreak = tiebreak[run[i]] == tiebreak[run[0]];
    if (m >= 256 && same_tiebreak) {
        Keyed *r = scratch, *tmp = r + capacity;
        for (int64_t i = 0; i < m; i++) { /* the scores lie apart: ask for them early */
            if (i + SORT_AHEAD < m) PREFETCH(score + run[i + SORT_AHEAD]);
            r[i] = (Keyed){descending_key(score[run[i]]), run[i]};
        }
        Keyed *sorted = keyed_sort(r, tmp, m);
        for (int64_t i = 0; i < m; i++) run[i] = sorted[i].index;
        return;
    }
    Ranked *r = scratch;
    for (int64_t i = 0; i < m; i++)
        r[i] = (Ranked){score[run[i]], tiebreak != NULL ? tiebreak[run[i]] : 0, run[i]};
    ranked_sort(r, r + capacity, m);
    for (int64_t i = 0; i < m; i++) run[i] = r[i].index;
}

/* A counting sort's number of keys: 0 when its start table fits in memory, else -1 with
 * an error set. */
static int check_key_count(Py_ssize_t n_keys)
{
    if (n_keys < 0 || (size_t)n_keys >= SIZE_MAX / sizeof(int64_t) - 1) {
        PyErr_SetString(PyExc_ValueError, "n_keys: out of range");
        return -1;
    }
    return 0;
}

/* Each key[i] in [0, n_keys): 0, else -1 with an error set. */
static int check_keys(const int64_t *key, Py_ssize_t n, Py_ssize_t n_keys)
{
    for (Py_ssize_t i = 0; i < n; i++) {
        if (key[i] < 0 || key[i] >= n_keys) {
            PyErr_Format(PyExc_ValueError, "key[%zd]: outside [0, n_keys)", i);
            return -1;
        }
    }
    return 0;
}

/* start[k] (n_keys + 1 entries) = where key k's items begin once grouped. */
static void key_starts(const int64_t *key, Py_ssize_t n, Py_ssize_t n_keys, int64_t *start)
{
    memset(start, 0, ((size_t)n_keys + 1) * sizeof(int64_t));
    for (Py_ssize_t i = 0; i < n; i++) start[key[i] + 1]++;
    for (Py_ssize_t k = 0; k < n_keys; k++) start[k + 1] += start[k];
}

/* Undo the placing: each start[k] was moved to where key k's items end, start[k + 1]. */
static void restore_starts(int64_t *start, Py_ssize_t n_keys)
{
    for (Py_ssize_t k = n_keys; k > 0; k--) start[k] = start[k - 1];
    start[0] = 0;
}

PyDoc_STRVAR(order_by_key_doc,
"order_by_key(key, n_keys, order, start)\n"
"--\n\n"
"Counting sort: write into `order` (int64 (n,)) the positions of the items grouped by\n"
"ascending key, ascending inside a key, and into `start` (int64 (n_keys + 1,)) where each\n"
"key's run begins. key: int64 (n,) in [0, n_keys). Releases the GIL.");

static PyObject *order_by_key(PyObject *self, PyObject *args)
{
    (void)self;
    Py_buffer b[3];
    Py_ssize_t n_keys;
    memset(b, 0, sizeof b);
    if (!PyArg_ParseTuple(args, "y*nw*w*", &b[0], &n_keys, &b[1], &b[2])) return NULL;
    PyObject *result = NULL;
    Py_ssize_t n = items(&b[0], 8, "key");
    if (n < 0 || check_key_count(n_keys)) goto done;
    if (check_items(&b[1], 8, n, "order") || check_items(&b[2], 8, n_keys + 1, "start"))
        goto done;
    const int64_t *key = b[0].buf;
    int64_t *out = b[1].buf, *start = b[2].buf;
    if (check_keys(key, n, n_keys)) goto done;
    Py_BEGIN_ALLOW_THREADS
    key_starts(key, n, n_keys, start);
    for (Py_ssize_t i = 0; i < n; i++) out[start[key[i]]++] = i;
    restore_starts(start, n_keys);
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    release(b, 3);
    return result;
}

/* The longest of the runs start[k]:start[k + 1], k0 <= k < k1, of n items (start: n_starts
 * entries), checking that k0..k1 and each run lie inside them; -1 with an error set where
 * not. */
static int64_t longest_run(const int64_t *start, Py_ssize_t n_starts, Py_ssize_t k0,
                           Py_ssize_t k1, Py_ssize_t n)
{
    if (k0 < 0 || k1 < k0 || k1 >= n_starts) {
        PyErr_SetString(PyExc_ValueError, "k0, k1: outside the runs");
        return -1;
    }
    int64_t longest = 0;
    for (Py_ssize_t k = k0; k < k1; k++) {
        if (start[k] < 0 || start[k + 1] < start[k] || start[k + 1] > n) {
            PyErr_Format(PyExc_ValueError, "start[%zd]: outside the items or decreasing", k);
            return -1;
        }
        if (start[k + 1] - start[k] > longest) longest = start[k + 1] - start[k];
    }
    return longest;
}

PyDoc_STRVAR(order_runs_doc,
"order_runs(order, start, score, tiebreak, k0, k1)\n"
"--\n\n"
"Sort in place each run order[start[k]:start[k + 1]], k0 <= k < k1, of item positions by\n"
"descending score, then ascending tiebreak, then position (stable), as order_by_key left\n"
"them. order: int64 (n,), positions in [0, n); start: int64 (K + 1,), non-decreasing,\n"
"within [0, n]; score: float64 (n,), no NaN; tiebreak: int64 (n,), or empty: none.\n"
"Releases the GIL.");

static PyObject *order_runs(PyObject *self, PyObject *args)
{
    (void)self;
    Py_buffer b[4];
    Py_ssize_t k0, k1;
    memset(b, 0, sizeof b);
    if (!PyArg_ParseTuple(args, "w*y*y*y*nn", &b[0], &b[1], &b[2], &b[3], &k0, &k1))
        return NULL;
    PyObject *result = NULL;
    Ranked *buf = NULL; /* scratch for two runs, of Ranked or of (smaller) Keyed items */
    Py_ssize_t n = items(&b[0], 8, "order"), n_starts = items(&b[1], 8, "start");
    if (n < 0 || n_starts < 0) goto done;
    if (check_items(&b[2], 8, n, "score") || (b[3].len && check_items(&b[3], 8, n, "tiebreak")))
        goto done;
    int64_t *out = b[0].buf;
    const int64_t *start = b[1].buf, *tiebreak = b[3].len ? b[3].buf : NULL;
    const double *score = b[2].buf;
    const int64_t longest = longest_run(start, n_starts, k0, k1, n);
    if (longest < 0) goto done;
    for (Py_ssize_t i = start[k0]; i < start[k1]; i++) {
        if (out[i] < 0 || out[i] >= n) {
            PyErr_Format(PyExc_ValueError, "order[%zd]: outside the items", i);
            goto done;
        }
    }
    buf = malloc((size_t)(2 * longest + 1) * sizeof(Ranked));
    if (buf == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t k = k0; k < k1; k++) {
        int64_t m = start[k + 1] - start[k];
        if (m > 1) sort_run(out + start[k], m, score, tiebreak, buf, longest);
    }
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    free(buf);
    release(b, 4);
    return result;
}

PyDoc_STRVAR(group_by_key_doc,
"group_by_key(key, n_keys, score, column, start, grouped_score, grouped_column)\n"
"--\n\n"
"Counting sort that carries the values: the items' scores and column values grouped by\n"
"ascending key, in item order inside a key, into grouped_score (float64 (n,)) and\n"
"grouped_column (int64 (n,)); start (int64 (n_keys + 1,)) receives where each key's\n"
"group begins. key: int64 (n,) in [0, n_keys); score: float64 (n,); column: int64 (n,).\n"
"The input is read in order. Releases the GIL.");

static PyObject *group_by_key(PyObject *self, PyObject *args)
{
    (void)self;
    Py_buffer b[6];
    Py_ssize_t n_keys;
    memset(b, 0, sizeof b);
    if (!PyArg_ParseTuple(args, "y*ny*y*w*w*w*", &b[0], &n_keys, &b[1], &b[2], &b[3], &b[4], &b[5]))
        return NULL;
    PyObject *result = NULL;
    Py_ssize_t n = items(&b[0], 8, "key");
    if (n < 0 || check_key_count(n_keys)) goto done;
    if (check_items(&b[1], 8, n, "score") || check_items(&b[2], 8, n, "column") ||
        check_items(&b[3], 8, n_keys + 1, "start") || check_items(&b[4], 8, n, "grouped_score") ||
        check_items(&b[5], 8, n, "grouped_column"))
        goto done;
    const int64_t *key = b[0].buf, *column = b[2].buf;
    const double *score = b[1].buf;
    int64_t *start = b[3].buf, *grouped_column = b[5].buf;
    double *grouped_score = b[4].buf;
    if (check_keys(key, n, n_keys)) goto done;
    Py_BEGIN_ALLOW_THREADS
    key_starts(key, n, n_keys, start);
    for (Py_ssize_t i = 0; i < n; i++) {
        const int64_t at = start[key[i]]++;
        grouped_score[at] = score[i];
        grouped_column[at] = column[i];
    }
    restore_starts(start, n_keys);
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    release(b, 6);
    return result;
}

PyDoc_STRVAR(sort_groups_doc,
"sort_groups(start, score, column, k0, k1)\n"
"--\n\n"
"Sort in place each group start[k]:start[k + 1], k0 <= k < k1, of score (float64 (n,),\n"
"no NaN) and column (int64 (n,)) by descending score, ties in their order (stable), as\n"
"group_by_key left them. start: int64 (K + 1,), non-decreasing, within [0, n]. Each group\n"
"is read and written within itself. Releases the GIL.");

static PyObject *sort_groups(PyObject *self, PyObject *args)
{
    (void)self;
    Py_buffer b[3];
    Py_ssize_t k0, k1;
    memset(b, 0, sizeof b);
    if (!PyArg_ParseTuple(args, "y*w*w*nn", &b[0], &b[1], &b[2], &k0, &k1)) return NULL;
    PyObject *result = NULL;
    Ranked *buf = NULL; /* the sort's scratch, then the group's values being moved */
    int64_t *at = NULL; /* the group's positions, sorted */
    Py_ssize_t n_starts = items(&b[0], 8, "start"), n = items(&b[1], 8, "score");
    if (n_starts < 0 || n < 0 || check_items(&b[2], 8, n, "column")) goto done;
    const int64_t *start = b[0].buf;
    double *score = b[1].buf;
    int64_t *column = b[2].buf;
    const int64_t longest = longest_run(start, n_starts, k0, k1, n);
    if (longest < 0) goto done;
    buf = malloc((size_t)(2 * longest + 1) * sizeof(Ranked));
    at = malloc((size_t)(longest + 1) * sizeof(int64_t));
    if (buf == NULL || at == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t k = k0; k < k1; k++) {
        const int64_t m = start[k + 1] - start[k];
        if (m < 2) continue;
        double *s = score + start[k];
        int64_t *c = column + start[k];
        for (int64_t j = 0; j < m; j++) at[j] = j;
        sort_run(at, m, s, NULL, buf, longest);
        double *moved_score = (double *)buf; /* 2 * longest Ranked hold both copies */
        int64_t *moved_column = (int64_t *)(moved_score + m);
        for (int64_t j = 0; j < m; j++) {
            moved_score[j] = s[at[j]];
            moved_column[j] = c[at[j]];
        }
        memcpy(s, moved_score, (size_t)m * sizeof(double));
        memcpy(c, moved_column, (size_t)m * sizeof(int64_t));
    }
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    free(buf);
    free(at);
    release(b, 3);
    return result;
}

/* ------------------------------------------------------------------------------------ */
/* The best pair of each detection.                                                     */

#define MAX_PAIR_SETS 8 /* the bits of a uint8 */

PyDoc_STRVAR(best_pairs_doc,
"best_pairs(pair_det, pair_sets, value, tiebreak, n_sets, best_value, best_pair)\n"
"--\n\n"
"For each detection d and set s, among the pairs p of d (pair_det[p] == d) in set s\n"
"(bit s of pair_sets[p]) with value[p] >= 0: the highest value, and on equal values the\n"
"pair with the lowest tiebreak (the first such pair if several share it). Writes\n"
"best_value[s, d] (float64) and best_pair[s, d] (int64, an index into the pairs),\n"
"leaving them as they are where no pair qualifies.\n"
"pair_det: int64 (P,), non-decreasing, in [0, D); pair_sets: uint8 (P,), or empty: every\n"
"pair in set 0; value: float64 (P,), NaN never qualifies; tiebreak: int64 (P,);\n"
"n_sets: in [1, 8]; best_value, best_pair: (n_sets, D). Releases the GIL.");

static PyObject *best_pairs(PyObject *self, PyObject *args)
{
    (void)self;
    Py_buffer b[6];
    Py_ssize_t n_sets;
    memset(b, 0, sizeof b);
    if (!PyArg_ParseTuple(args, "y*y*y*y*nw*w*", &b[0], &b[1], &b[2], &b[3], &n_sets, &b[4],
                          &b[5]))
        return NULL;
    PyObject *result = NULL;
    if (n_sets < 1 || n_sets > MAX_PAIR_SETS) {
        PyErr_SetString(PyExc_ValueError, "n_sets: outside [1, 8]");
        goto done;
    }
    Py_ssize_t n_pairs = items(&b[0], 8, "pair_det"), n_cells = items(&b[4], 8, "best_value");
    Py_ssize_t n_given = items(&b[1], 1, "pair_sets");
    if (n_pairs < 0 || n_cells < 0 || n_given < 0) goto done;
    const Py_ssize_t n_det = n_cells / n_sets;
    if (n_det * n_sets != n_cells) {
        PyErr_SetString(PyExc_ValueError, "best_value: shape is not (n_sets, D)");
        goto done;
    }
    if ((n_given && check_items(&b[1], 1, n_pairs, "pair_sets")) ||
        check_items(&b[2], 8, n_pairs, "value") || check_items(&b[3], 8, n_pairs, "tiebreak") ||
        check_items(&b[5], 8, n_cells, "best_pair"))
        goto done;
    const int64_t *pair_det = b[0].buf, *tiebreak = b[3].buf;
    const uint8_t *pair_sets = n_given ? b[1].buf : NULL;
    const double *value = b[2].buf;
    double *best_value = b[4].buf;
    int64_t *best_pair = b[5].buf;
    for (Py_ssize_t p = 0; p < n_pairs; p++) {
        if (pair_det[p] < 0 || pair_det[p] >= n_det || (p && pair_det[p] < pair_det[p - 1])) {
            PyErr_Format(PyExc_ValueError, "pair_det[%zd]: outside [0, D) or decreasing", p);
            goto done;
        }
    }
    Py_BEGIN_ALLOW_THREADS
    Py_ssize_t p = 0;
    while (p < n_pairs) {
        const int64_t d = pair_det[p];
        Py_ssize_t best[MAX_PAIR_SETS];
        for (Py_ssize_t s = 0; s < n_sets; s++) best[s] = -1;
        for (; p < n_pairs && pair_det[p] == d; p++) {
            if (!(value[p] >= 0.0)) continue;
            const unsigned sets = pair_sets != NULL ? pair_sets[p] : 1u;
            for (Py_ssize_t s = 0; s < n_sets; s++) {
                const Py_ssize_t q = best[s];
                if (((sets >> s) & 1u) &&
                    (q < 0 || value[p] > value[q] ||
                     (value[p] == value[q] && tiebreak[p] < tiebreak[q])))
                    best[s] = p;
            }
        }
        for (Py_ssize_t s = 0; s < n_sets; s++) {
            if (best[s] >= 0) {
                best_value[s * n_det + d] = value[best[s]];
                best_pair[s * n_det + d] = best[s];
            }
        }
    }
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    release(b, 6);
    return result;
}

/* ------------------------------------------------------------------------------------ */
/* Candidate pairs: every (detection, ground truth) of the same key with IoU >= a floor. */

/* box_iou(d, g, crowd), with comparisons where it calls fmin and fmax (calls at
 * -fno-fast-math): on numbers they pick the same operands, so the width, height and IoU
 * are the same doubles. Where a NaN takes part the two may differ, and box_iou decides.
 * Without branches on the overlap (most boxes of an image do not overlap, unpredictably):
 * the IoU is computed either way and selected. */
static inline double pair_iou(const double *d, const double *g, int crowd)
{
    const double dx = d[2] + d[0], gx = g[2] + g[0];
    const double w = (dx < gx ? dx : gx) - (d[0] > g[0] ? d[0] : g[0]);
    const double dy = d[3] + d[1], gy = g[3] + g[1];
    const double h = (dy < gy ? dy : gy) - (d[1] > g[1] ? d[1] : g[1]);
    const double i = w * h;
    const double da = d[2] * d[3];
    const double ga = g[2] * g[3];
    const double u = crowd ? da : (da + ga) - i;
    const double iou = i / u;
    const int overlap = (w > 0) & (h > 0), apart = (w <= 0) | (h <= 0);
    if (!(overlap | apart)) return box_iou(d, g, crowd); /* a NaN took part */
    return overlap ? iou : 0.0; /* box_iou's early return on w or h */
}

/* The ground truths a detection meets: the run [key_start[slot], key_start[slot + 1]) of
 * gt_order, none for a slot outside [0, n_keys). Its two bounds are neighbours, so one
 * cache line usually holds both. */
static inline int64_t key_run(const int64_t *key_start, Py_ssize_t n_keys, int64_t slot,
                              int64_t *first)
{
    if (slot < 0 || slot >= n_keys) return 0;
    *first = key_start[slot];
    return key_start[slot + 1] - key_start[slot];
}

/* Whether a run read by key_run lies inside gt_order's n_gt items. */
static inline int run_inside(int64_t first, int64_t count, Py_ssize_t n_gt)
{
    return count == 0 || (first >= 0 && count > 0 && first <= n_gt - count);
}

/* The number of keys of a key_start buffer (its items less one), -1 with an error set. */
static Py_ssize_t key_slots(Py_buffer *key_start)
{
    Py_ssize_t n = items(key_start, 8, "key_start");
    if (n == 0) {
        PyErr_SetString(PyExc_ValueError, "key_start: needs at least one item");
        return -1;
    }
    return n < 0 ? -1 : n - 1;
}

PyDoc_STRVAR(pair_candidates_doc,
"pair_candidates(key_start, det_slot, d0, d1)\n"
"--\n\n"
"How many ground truths detections [d0, d1) meet: the sum of the lengths of their runs,\n"
"key_start[s + 1] - key_start[s] for s = det_slot[d] (key_start: int64 (K + 1,);\n"
"det_slot: int64 (D,), a slot outside [0, K) meets none). The room pairs() needs.");

static PyObject *pair_candidates(PyObject *self, PyObject *args)
{
    (void)self;
    Py_buffer b[2];
    Py_ssize_t d0, d1;
    memset(b, 0, sizeof b);
    if (!PyArg_ParseTuple(args, "y*y*nn", &b[0], &b[1], &d0, &d1)) return NULL;
    PyObject *result = NULL;
    Py_ssize_t n_keys = key_slots(&b[0]), n_det = items(&b[1], 8, "det_slot");
    if (n_keys < 0 || n_det < 0) goto done;
    if (d0 < 0 || d1 > n_det || d0 > d1) {
        PyErr_SetString(PyExc_ValueError, "d0, d1: outside the detections");
        goto done;
    }
    const int64_t *key_start = b[0].buf, *det_slot = b[1].buf;
    int64_t total = 0, first;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t d = d0; d < d1; d++) total += key_run(key_start, n_keys, det_slot[d], &first);
    Py_END_ALLOW_THREADS
    result = PyLong_FromLongLong((long long)total);
done:
    release(b, 2);
    return result;
}

/* How many detections ahead pairs() asks for the boxes it will read. */
#define PAIRS_AHEAD 16

/* What stopped a pairs() or nearest() loop, found with the GIL released. */
enum { PAIRS_DONE, PAIRS_BAD_RUN, PAIRS_BAD_ROW, PAIRS_NO_ROOM };

/* Whether a loop stopped early (at detection d; room: the pairs' outputs), with the error
 * set saying why. Called with the GIL held again. */
static int pairs_stopped(int stop, Py_ssize_t d, Py_ssize_t room)
{
    if (stop == PAIRS_BAD_RUN)
        PyErr_Format(PyExc_ValueError, "detection %zd: its key's run is outside gt_order", d);
    else if (stop == PAIRS_BAD_ROW)
        PyErr_Format(PyExc_ValueError, "det_row[%zd]: outside det_box", d);
    else if (stop == PAIRS_NO_ROOM)
        PyErr_Format(PyExc_ValueError, "outputs: room for %zd pairs, detection %zd needs more",
                     room, d);
    return stop != PAIRS_DONE;
}

enum {
    PAIR_KEY_START, PAIR_DET_SLOT, PAIR_GT_ORDER, PAIR_DET_ROW, PAIR_DET_BOX, PAIR_GT_BOX,
    PAIR_CROWD, PAIR_OUT_DET, PAIR_OUT_GT, PAIR_OUT_IOU, N_PAIR_BUFFERS
};

PyDoc_STRVAR(pairs_doc,
"pairs(key_start, det_slot, gt_order, det_row, det_box, gt_box, gt_crowd, min_iou, d0, d1,\n"
"      out_det, out_gt, out_iou)\n"
"--\n\n"
"The pairs of detections [d0, d1) with the ground truths of their key whose IoU (as\n"
"maskApi's bbIou, crowd: over the detection's area) is >= min_iou, written to the\n"
"front of the outputs; returns how many.\n\n"
"key_start: int64 (K + 1,), key k's run of gt_order (int64 (G,)) is\n"
"[key_start[k], key_start[k + 1]); det_slot: int64 (D,), each detection's key, one\n"
"outside [0, K) meets no ground truth; det_row: int64 (D,), detection d's row of det_box\n"
"(float64 (R, 4)), or empty: row d; gt_box: float64 (G, 4) and gt_crowd: uint8 (G,), in\n"
"gt_order's order (so that each run is contiguous). out_det, out_gt: int64, out_iou:\n"
"float64, each with room for pair_candidates() pairs: detection indices, ground-truth\n"
"indices and IoUs, by detection then by position in gt_order. Releases the GIL.");

static PyObject *pairs(PyObject *self, PyObject *args)
{
    (void)self;
    Py_buffer b[N_PAIR_BUFFERS];
    double min_iou;
    Py_ssize_t d0, d1;
    memset(b, 0, sizeof b);
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*y*y*dnnw*w*w*", &b[PAIR_KEY_START], &b[PAIR_DET_SLOT],
                          &b[PAIR_GT_ORDER], &b[PAIR_DET_ROW], &b[PAIR_DET_BOX], &b[PAIR_GT_BOX],
                          &b[PAIR_CROWD], &min_iou, &d0, &d1, &b[PAIR_OUT_DET], &b[PAIR_OUT_GT],
                          &b[PAIR_OUT_IOU]))
        return NULL;
    PyObject *result = NULL;
    Py_ssize_t n_keys = key_slots(&b[PAIR_KEY_START]);
    Py_ssize_t n_det = items(&b[PAIR_DET_SLOT], 8, "det_slot");
    Py_ssize_t n_gt = items(&b[PAIR_GT_BOX], 32, "gt_box");
    Py_ssize_t n_rows = items(&b[PAIR_DET_BOX], 32, "det_box");
    Py_ssize_t n_given = items(&b[PAIR_DET_ROW], 8, "det_row");
    Py_ssize_t room = items(&b[PAIR_OUT_DET], 8, "out_det");
    if (n_keys < 0 || n_det < 0 || n_gt < 0 || n_rows < 0 || n_given < 0 || room < 0) goto done;
    if (check_items(&b[PAIR_GT_ORDER], 8, n_gt, "gt_order") ||
        check_items(&b[PAIR_CROWD], 1, n_gt, "gt_crowd") ||
        (n_given && check_items(&b[PAIR_DET_ROW], 8, n_det, "det_row")) ||
        (!n_given && check_items(&b[PAIR_DET_BOX], 32, n_det, "det_box")) ||
        check_items(&b[PAIR_OUT_GT], 8, room, "out_gt") ||
        check_items(&b[PAIR_OUT_IOU], 8, room, "out_iou"))
        goto done;
    if (d0 < 0 || d1 > n_det || d0 > d1) {
        PyErr_SetString(PyExc_ValueError, "d0, d1: outside the detections");
        goto done;
    }
    const int64_t *key_start = b[PAIR_KEY_START].buf, *det_slot = b[PAIR_DET_SLOT].buf;
    const int64_t *order = b[PAIR_GT_ORDER].buf;
    const int64_t *det_row = n_given ? b[PAIR_DET_ROW].buf : NULL;
    const double *det_box = b[PAIR_DET_BOX].buf, *gt_box = b[PAIR_GT_BOX].buf;
    const uint8_t *crowd = b[PAIR_CROWD].buf;
    int64_t *out_det = b[PAIR_OUT_DET].buf, *out_gt = b[PAIR_OUT_GT].buf;
    double *out_iou = b[PAIR_OUT_IOU].buf;
    for (Py_ssize_t j = 0; j < n_gt; j++) {
        if (order[j] < 0 || order[j] >= n_gt) {
            PyErr_Format(PyExc_ValueError, "gt_order[%zd]: outside the ground truths", j);
            goto done;
        }
    }
    Py_ssize_t n = 0, d = d0;
    int stop = PAIRS_DONE;
    Py_BEGIN_ALLOW_THREADS
    for (; d < d1; d++) {
        int64_t first = 0;
        const int64_t count = key_run(key_start, n_keys, det_slot[d], &first);
        if (!run_inside(first, count, n_gt)) { stop = PAIRS_BAD_RUN; break; }
        if (count > room - n) { stop = PAIRS_NO_ROOM; break; } /* at most count pairs */
        if (det_row != NULL && (det_row[d] < 0 || det_row[d] >= n_rows)) {
            stop = PAIRS_BAD_ROW;
            break;
        }
        if (d + PAIRS_AHEAD < d1) { /* the boxes read soon, elsewhere in memory */
            int64_t ahead = 0;
            if (key_run(key_start, n_keys, det_slot[d + PAIRS_AHEAD], &ahead) && ahead >= 0 &&
                ahead < n_gt)
                PREFETCH(gt_box + 4 * ahead);
            if (det_row != NULL) PREFETCH(det_box + 4 * det_row[d + PAIRS_AHEAD]);
        }
        const double *box = det_box + 4 * (det_row != NULL ? det_row[d] : d);
        for (int64_t j = first; j < first + count; j++) {
            const double iou = pair_iou(box, gt_box + 4 * j, crowd[j]);
            if (iou >= min_iou) {
                out_det[n] = d;
                out_gt[n] = order[j];
                out_iou[n] = iou;
                n++;
            }
        }
    }
    Py_END_ALLOW_THREADS
    if (!pairs_stopped(stop, d, room)) result = PyLong_FromSsize_t(n);
done:
    release(b, N_PAIR_BUFFERS);
    return result;
}

PyDoc_STRVAR(nearest_doc,
"nearest(key_start, det_slot, gt_order, det_box, gt_box, gt_crowd, det_class, gt_class,\n"
"        min_iou, d0, d1, out_gt)\n"
"--\n\n"
"For each detection d of [d0, d1), the ground truth of its key with the highest IoU\n"
"(as pairs() computes it) if that IoU is >= min_iou, the first in gt_order on equal IoU:\n"
"out_gt[d] = its index (int64 (D,)), -1 where there is none. det_class: int64 (D,) and\n"
"gt_class: int64 (G,) in gt_order's order, or both empty: when given, only the ground\n"
"truths of the detection's class count (a key's run holds every class, so that the\n"
"key table stays small). The other arguments as pairs() takes them (det_box: float64\n"
"(D, 4)). Releases the GIL.");

static PyObject *nearest(PyObject *self, PyObject *args)
{
    (void)self;
    Py_buffer b[9];
    double min_iou;
    Py_ssize_t d0, d1;
    memset(b, 0, sizeof b);
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*y*y*y*dnnw*", &b[0], &b[1], &b[2], &b[3], &b[4],
                          &b[5], &b[6], &b[7], &min_iou, &d0, &d1, &b[8]))
        return NULL;
    PyObject *result = NULL;
    Py_ssize_t n_keys = key_slots(&b[0]), n_det = items(&b[1], 8, "det_slot");
    Py_ssize_t n_gt = items(&b[4], 32, "gt_box");
    if (n_keys < 0 || n_det < 0 || n_gt < 0) goto done;
    const int by_class = b[6].len > 0 || b[7].len > 0;
    if (check_items(&b[2], 8, n_gt, "gt_order") || check_items(&b[3], 32, n_det, "det_box") ||
        check_items(&b[5], 1, n_gt, "gt_crowd") || check_items(&b[8], 8, n_det, "out_gt") ||
        (by_class && (check_items(&b[6], 8, n_det, "det_class") ||
                      check_items(&b[7], 8, n_gt, "gt_class"))))
        goto done;
    if (d0 < 0 || d1 > n_det || d0 > d1) {
        PyErr_SetString(PyExc_ValueError, "d0, d1: outside the detections");
        goto done;
    }
    const int64_t *key_start = b[0].buf, *det_slot = b[1].buf, *order = b[2].buf;
    const double *det_box = b[3].buf, *gt_box = b[4].buf;
    const uint8_t *crowd = b[5].buf;
    const int64_t *det_class = b[6].buf, *gt_class = b[7].buf;
    int64_t *out_gt = b[8].buf;
    Py_ssize_t d = d0;
    int stop = PAIRS_DONE;
    Py_BEGIN_ALLOW_THREADS
    for (; d < d1; d++) {
        int64_t first = 0;
        const int64_t count = key_run(key_start, n_keys, det_slot[d], &first);
        if (!run_inside(first, count, n_gt)) { stop = PAIRS_BAD_RUN; break; }
        if (d + PAIRS_AHEAD < d1) PREFETCH(det_box + 4 * (d + PAIRS_AHEAD));
        const double *box = det_box + 4 * d;
        int64_t best = -1;
        double best_iou = 0.0;
        for (int64_t j = first; j < first + count; j++) {
            if (by_class && gt_class[j] != det_class[d]) continue;
            const double iou = pair_iou(box, gt_box + 4 * j, crowd[j]);
            if (iou >= min_iou && (best < 0 || iou > best_iou)) {
                best = j;
                best_iou = iou;
            }
        }
        out_gt[d] = best < 0 ? -1 : order[best];
    }
    Py_END_ALLOW_THREADS
    if (!pairs_stopped(stop, d, 0)) result = Py_NewRef(Py_None);
done:
    release(b, 9);
    return result;
}

PyDoc_STRVAR(greedy_match_doc,
"greedy_match(pair_start, pair_gt, iou, det_order, taken, matched)\n"
"--\n\n"
"Greedy one-to-one matching: the detections in det_order (int64 (D,)) each take, among\n"
"their pairs (those of detection d: pair_start[d] to pair_start[d + 1], int64 (D + 1,))\n"
"whose ground truth is not taken yet, the one with the highest IoU, the lowest\n"
"ground-truth index on equal IoU. pair_gt: int64 (P,) in [0, G); iou: float64 (P,);\n"
"taken: uint8 (G,), read and written; matched: int64 (D,), written where a detection\n"
"takes one, left as it is elsewhere. Releases the GIL.");

static PyObject *greedy_match(PyObject *self, PyObject *args)
{
    (void)self;
    Py_buffer b[6];
    memset(b, 0, sizeof b);
    if (!PyArg_ParseTuple(args, "y*y*y*y*w*w*", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]))
        return NULL;
    PyObject *result = NULL;
    Py_ssize_t n_starts = items(&b[0], 8, "pair_start"), n_pairs = items(&b[1], 8, "pair_gt");
    Py_ssize_t n_gt = items(&b[4], 1, "taken");
    if (n_starts < 1 || n_pairs < 0 || n_gt < 0) {
        if (n_starts == 0) PyErr_SetString(PyExc_ValueError, "pair_start: empty");
        goto done;
    }
    const Py_ssize_t n_det = n_starts - 1;
    if (check_items(&b[2], 8, n_pairs, "iou") || check_items(&b[3], 8, n_det, "det_order") ||
        check_items(&b[5], 8, n_det, "matched"))
        goto done;
    const int64_t *pair_start = b[0].buf, *pair_gt = b[1].buf, *det_order = b[3].buf;
    const double *iou = b[2].buf;
    uint8_t *taken = b[4].buf;
    int64_t *matched = b[5].buf;
    for (Py_ssize_t d = 0; d < n_det; d++) {
        if (pair_start[d] < 0 || pair_start[d] > pair_start[d + 1] || pair_start[d + 1] > n_pairs) {
            PyErr_Format(PyExc_ValueError, "pair_start[%zd]: outside the pairs or decreasing", d);
            goto done;
        }
        if (det_order[d] < 0 || det_order[d] >= n_det) {
            PyErr_Format(PyExc_ValueError, "det_order[%zd]: outside the detections", d);
            goto done;
        }
    }
    for (Py_ssize_t p = 0; p < n_pairs; p++) {
        if (pair_gt[p] < 0 || pair_gt[p] >= n_gt) {
            PyErr_Format(PyExc_ValueError, "pair_gt[%zd]: outside the ground truths", p);
            goto done;
        }
    }
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t k = 0; k < n_det; k++) {
        const int64_t d = det_order[k];
        int64_t best = -1;
        for (int64_t p = pair_start[d]; p < pair_start[d + 1]; p++) {
            if (taken[pair_gt[p]]) continue;
            if (best < 0 || iou[p] > iou[best] || (iou[p] == iou[best] && pair_gt[p] < pair_gt[best]))
                best = p;
        }
        if (best >= 0) {
            matched[d] = pair_gt[best];
            taken[pair_gt[best]] = 1;
        }
    }
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    release(b, 6);
    return result;
}

/* The bits of a ranked detection's flags (ranked_claims writes them, ranked_curves reads). */
#define RANKED_KEPT 1u /* not ignored: not aimed at hard ground truth */
#define RANKED_TP 2u   /* a true positive */

PyDoc_STRVAR(ranked_claims_doc,
"ranked_claims(target, hard, flags)\n"
"--\n\n"
"PASCAL VOC's true positives, walking the detections in rank order: each aims at a\n"
"ground truth (target: int64 (D,), in [0, G), -1 for none); one aimed at a hard (hard:\n"
"uint8 (G,), difficult or crowd) ground truth is ignored; the others are kept, and a kept\n"
"one is a true positive when no earlier one claimed its ground truth. Writes flags[i]\n"
"(uint8 (D,): bit 0 kept, bit 1 true positive), as ranked_curves reads them. Returns the\n"
"number of true positives. Releases the GIL.");

static PyObject *ranked_claims(PyObject *self, PyObject *args)
{
    (void)self;
    Py_buffer b[3];
    memset(b, 0, sizeof b);
    if (!PyArg_ParseTuple(args, "y*y*w*", &b[0], &b[1], &b[2])) return NULL;
    PyObject *result = NULL;
    uint8_t *taken = NULL;
    Py_ssize_t n_det = items(&b[0], 8, "target"), n_gt = items(&b[1], 1, "hard");
    if (n_det < 0 || n_gt < 0 || check_items(&b[2], 1, n_det, "flags")) goto done;
    const int64_t *target = b[0].buf;
    const uint8_t *hard = b[1].buf;
    uint8_t *flags = b[2].buf;
    for (Py_ssize_t i = 0; i < n_det; i++) {
        if (target[i] < -1 || target[i] >= n_gt) {
            PyErr_Format(PyExc_ValueError, "target[%zd]: outside [-1, len(hard))", i);
            goto done;
        }
    }
    taken = calloc((size_t)n_gt + 1, 1);
    if (taken == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t n_tp = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n_det; i++) {
        const int64_t t = target[i];
        uint8_t flag = 0;
        if (t < 0) {
            flag = RANKED_KEPT; /* a false positive */
        } else if (!hard[t]) {
            flag = RANKED_KEPT;
            if (!taken[t]) {
                taken[t] = 1;
                flag |= RANKED_TP;
                n_tp++;
            }
        }
        flags[i] = flag;
    }
    Py_END_ALLOW_THREADS
    result = PyLong_FromSsize_t(n_tp);
done:
    free(taken);
    release(b, 3);
    return result;
}

enum {
    CURVE_START, CURVE_FLAGS, CURVE_N_POS, CURVE_SCORE, CURVE_PRECISION, CURVE_RECALL,
    CURVE_OUT_SCORE, CURVE_OUT_TP, CURVE_KEPT_START, CURVE_TP_START, N_CURVE_BUFFERS
};

PyDoc_STRVAR(ranked_curves_doc,
"ranked_curves(start, flags, n_pos, ranked_score, precision, recall, out_score, out_tp,\n"
"              kept_start, tp_start, every_kept)\n"
"--\n\n"
"Precision and recall after each ranked detection that is kept, class by class, from\n"
"what ranked_claims wrote in rank order: class k's detections are positions\n"
"start[k]:start[k + 1] (int64 (K + 1,)) of flags (uint8 (D,)) and ranked_score (float64\n"
"(D,)). With c true positives among the first n kept ones, precision = c / n and\n"
"recall = c / n_pos[k] (doubles; NaN where n_pos[k] is 0); n_pos: int64 (K,). Written,\n"
"over the k kept detections (every_kept true) or over the true positives among them only\n"
"(false: all an average precision reads): precision, recall, out_score (float64 (k,)),\n"
"out_tp (uint8 (k,)); and kept_start, tp_start (int64 (K + 1,)): where each class's kept\n"
"ones and its true positives begin among the kept ones and among the true positives of\n"
"all classes. Releases the GIL.");

static PyObject *ranked_curves(PyObject *self, PyObject *args)
{
    (void)self;
    Py_buffer b[N_CURVE_BUFFERS];
    memset(b, 0, sizeof b);
    int every_kept;
    if (!PyArg_ParseTuple(args, "y*y*y*y*w*w*w*w*w*w*p", &b[CURVE_START], &b[CURVE_FLAGS],
                          &b[CURVE_N_POS], &b[CURVE_SCORE], &b[CURVE_PRECISION],
                          &b[CURVE_RECALL], &b[CURVE_OUT_SCORE], &b[CURVE_OUT_TP],
                          &b[CURVE_KEPT_START], &b[CURVE_TP_START], &every_kept))
        return NULL;
    PyObject *result = NULL;
    Py_ssize_t n_det = items(&b[CURVE_FLAGS], 1, "flags");
    Py_ssize_t n_class = items(&b[CURVE_N_POS], 8, "n_pos");
    Py_ssize_t n_rows = items(&b[CURVE_PRECISION], 8, "precision");
    if (n_det < 0 || n_class < 0 || n_rows < 0) goto done;
    if (check_items(&b[CURVE_START], 8, n_class + 1, "start") ||
        check_items(&b[CURVE_SCORE], 8, n_det, "ranked_score") ||
        check_items(&b[CURVE_RECALL], 8, n_rows, "recall") ||
        check_items(&b[CURVE_OUT_SCORE], 8, n_rows, "out_score") ||
        check_items(&b[CURVE_OUT_TP], 1, n_rows, "out_tp") ||
        check_items(&b[CURVE_KEPT_START], 8, n_class + 1, "kept_start") ||
        check_items(&b[CURVE_TP_START], 8, n_class + 1, "tp_start"))
        goto done;
    const int64_t *start = b[CURVE_START].buf, *n_pos = b[CURVE_N_POS].buf;
    const uint8_t *flags = b[CURVE_FLAGS].buf;
    const double *score = b[CURVE_SCORE].buf;
    double *precision = b[CURVE_PRECISION].buf, *recall = b[CURVE_RECALL].buf;
    double *out_score = b[CURVE_OUT_SCORE].buf;
    uint8_t *out_tp = b[CURVE_OUT_TP].buf;
    int64_t *kept_start = b[CURVE_KEPT_START].buf, *tp_start = b[CURVE_TP_START].buf;
    for (Py_ssize_t k = 0; k < n_class; k++) {
        if (start[k] < 0 || start[k] > start[k + 1] || start[k + 1] > n_det) {
            PyErr_Format(PyExc_ValueError, "class %zd: bounds outside the detections", k);
            goto done;
        }
    }
    const uint8_t wanted_bit = every_kept ? RANKED_KEPT : RANKED_TP;
    Py_ssize_t wanted = 0; /* the rows to write, counted over the classes' positions */
    for (Py_ssize_t k = 0; k < n_class; k++)
        for (int64_t i = start[k]; i < start[k + 1]; i++) wanted += (flags[i] & wanted_bit) != 0;
    if (wanted != n_rows) {
        PyErr_Format(PyExc_ValueError, "outputs: room for %zd, %zd to write", n_rows, wanted);
        goto done;
    }
    Py_ssize_t j = 0, row = 0; /* kept ones so far, rows written */
    int64_t tps = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t k = 0; k < n_class; k++) {
        kept_start[k] = j;
        tp_start[k] = tps;
        int64_t seen = 0, found = 0;
        for (int64_t i = start[k]; i < start[k + 1]; i++) {
            if (!(flags[i] & RANKED_KEPT)) continue;
            const int tp = (flags[i] & RANKED_TP) != 0;
            seen++;
            found += tp;
            j++;
            if (!(flags[i] & wanted_bit)) continue;
            precision[row] = (double)found / (double)seen;
            recall[row] = n_pos[k] > 0 ? (double)found / (double)n_pos[k] : NAN;
            out_score[row] = score[i];
            out_tp[row] = (uint8_t)tp;
            row++;
        }
        tps += found;
    }
    kept_start[n_class] = j;
    tp_start[n_class] = tps;
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    release(b, N_CURVE_BUFFERS);
    return result;
}

/* ------------------------------------------------------------------------------------ */
/* Accumulation: COCOeval.accumulate() per class, with its floating-point operations.   */

typedef struct {
    Py_ssize_t n_det, n_class, n_area, n_maxdet, n_thr, n_rec;
    const int64_t *class_start;   /* (K + 1,) detections of class k, in accumulation order */
    const int64_t *det_rank;      /* (D,) rank in its group: kept under maxDets m if < max_dets[m] */
    const uint8_t *counted;       /* (D,) 0: left out altogether; NULL: every detection counts */
    const double *det_score;      /* (D,) */
    const uint8_t *outcome;       /* (A, T, D) bits OUTCOME_TRUE_POSITIVE, OUTCOME_IGNORED */
    const int64_t *n_positive;    /* (K, A) non-ignored ground truths */
    const int64_t *max_dets;      /* (M,) */
    const double *rec_thrs;       /* (R,) ascending */
    double *precision;            /* (T, R, K, A, M) out */
    double *recall;               /* (T, K, A, M) out */
    double *scores;               /* (T, R, K, A, M) out */
} Accumulation;

/*
 * Classes [first, last). pycocotools, for each area range a, maxDets m and threshold t,
 * along the class's kept detections (ignored ones included): tp and fp running counts as
 * doubles, rc = tp / npig, pr = tp / (fp + tp + eps); recall is the last rc (0 without
 * detections); pr becomes its envelope from the right; at each recall threshold r, the
 * first position with rc >= r gives precision and score (0 and 0 when there is none).
 * Computed here at the true positives only, which gives the same doubles (see below).
 * A class without positives keeps its -1 (the caller's).
 */
/* Class k's precision, recall and scores at maxDets `to` set to those at maxDets `from`,
 * at every threshold, recall threshold and area range (as computed, -1s included). */
static void copy_max_dets(const Accumulation *p, Py_ssize_t k, Py_ssize_t from, Py_ssize_t to)
{
    const Py_ssize_t K = p->n_class, A = p->n_area, M = p->n_maxdet, R = p->n_rec;
    for (Py_ssize_t t = 0; t < p->n_thr; t++) {
        for (Py_ssize_t a = 0; a < A; a++) {
            if (p->n_positive[k * A + a] == 0) continue; /* left as the caller's */
            const Py_ssize_t cell = ((t * K + k) * A + a) * M;
            p->recall[cell + to] = p->recall[cell + from];
            for (Py_ssize_t r = 0; r < R; r++) {
                const Py_ssize_t at = (((t * R + r) * K + k) * A + a) * M;
                p->precision[at + to] = p->precision[at + from];
                p->scores[at + to] = p->scores[at + from];
            }
        }
    }
}

static int accumulate_classes(const Accumulation *p, Py_ssize_t first, Py_ssize_t last)
{
    const double eps = 2.220446049250313e-16; /* np.spacing(1) */
    const Py_ssize_t K = p->n_class, A = p->n_area, M = p->n_maxdet, T = p->n_thr, R = p->n_rec;
    double *pr = NULL;          /* per true positive: precision */
    int64_t *fp_before = NULL;  /* per true positive: false positives before it */
    int64_t *tp_det = NULL;     /* per true positive: its detection */
    int64_t *kept = NULL;       /* the class's detections counted under maxDets m */
    size_t cap = 0;
    for (Py_ssize_t k = first; k < last; k++) {
        const int64_t d0 = p->class_start[k], d1 = p->class_start[k + 1];
        size_t n = (size_t)(d1 - d0);
        if (n > cap) {
            double *grown = realloc(pr, n * sizeof(double));
            if (grown == NULL) goto fail;
            pr = grown;
            int64_t *more = realloc(fp_before, n * sizeof(int64_t));
            if (more == NULL) goto fail;
            fp_before = more;
            more = realloc(tp_det, n * sizeof(int64_t));
            if (more == NULL) goto fail;
            tp_det = more;
            more = realloc(kept, n * sizeof(int64_t));
            if (more == NULL) goto fail;
            kept = more;
            cap = n;
        }
        Py_ssize_t previous_nd = -1;
        for (Py_ssize_t m = 0; m < M; m++) {
            /* A detection counts under maxDets m when its rank in its image is below it:
             * list those once, then walk only them at every area range and threshold. */
            const int64_t max_det = p->max_dets[m];
            Py_ssize_t nd = 0;
            for (int64_t d = d0; d < d1; d++)
                if (p->det_rank[d] < max_det && (p->counted == NULL || p->counted[d]))
                    kept[nd++] = d;
            /* A larger maxDets that keeps as many detections keeps the same ones (no image
             * had more): its numbers are the previous maxDets', copied. */
            if (m > 0 && nd == previous_nd && p->max_dets[m - 1] <= max_det) {
                copy_max_dets(p, k, m - 1, m);
                continue;
            }
            previous_nd = nd;
            const double first_score = nd ? p->det_score[kept[0]] : 0.0;
            for (Py_ssize_t a = 0; a < A; a++) {
                const int64_t npig = p->n_positive[k * A + a];
                if (npig == 0) continue;
                for (Py_ssize_t t = 0; t < T; t++) {
                    const uint8_t *outcome = p->outcome + (a * T + t) * p->n_det;
                    /* Precision only rises at a true positive, so the envelope is a
                     * running maximum over true positives alone, and the first position
                     * reaching a recall r > 0 is the c-th true positive, c the least with
                     * c / npig >= r (the same division). r <= 0 is read at the first
                     * detection: the envelope over all true positives, its score.
                     * The walk only counts, without branches: the slot of the next true
                     * positive is written at every detection and kept by a true one. */
                    int64_t fp = 0;
                    Py_ssize_t ntp = 0;
                    for (Py_ssize_t i = 0; i < nd; i++) {
                        const int64_t d = kept[i];
                        const uint8_t o = outcome[d];
                        fp_before[ntp] = fp;
                        tp_det[ntp] = d;
                        ntp += o & OUTCOME_TRUE_POSITIVE;
                        fp += o == 0;
                    }
                    /* The running counts as pycocotools' cumsum gives them, as doubles
                     * (exact integers): tp / (fp + tp + eps). */
                    for (Py_ssize_t i = 0; i < ntp; i++) {
                        const double tp = (double)(i + 1);
                        pr[i] = tp / ((double)fp_before[i] + tp + eps);
                    }
                    const Py_ssize_t out = ((t * K + k) * A + a) * M + m; /* (T, K, A, M) */
                    p->recall[out] = nd ? (double)ntp / (double)npig : 0.0;
                    for (Py_ssize_t i = ntp - 1; i > 0; i--)
                        if (pr[i] > pr[i - 1]) pr[i - 1] = pr[i];
                    Py_ssize_t c = 1; /* candidate count of true positives */
                    for (Py_ssize_t r = 0; r < R; r++) {
                        const double threshold = p->rec_thrs[r];
                        const Py_ssize_t at = (((t * R + r) * K + k) * A + a) * M + m;
                        if (nd && 0.0 >= threshold) {
                            p->precision[at] = ntp ? pr[0] : 0.0;
                            p->scores[at] = first_score;
                            continue;
                        }
                        while (c <= ntp && (double)c / (double)npig < threshold) c++;
                        p->precision[at] = c <= ntp ? pr[c - 1] : 0.0;
                        p->scores[at] = c <= ntp ? p->det_score[tp_det[c - 1]] : 0.0;
                    }
                }
            }
        }
    }
    free(pr);
    free(fp_before);
    free(tp_det);
    free(kept);
    return 0;
fail:
    free(pr);
    free(fp_before);
    free(tp_det);
    free(kept);
    return -1;
}

enum {
    CLASS_START, DET_RANK, COUNTED, DET_SCORE, ACC_OUTCOME, N_POSITIVE, MAX_DETS,
    REC_THRS, PRECISION, RECALL, SCORES, N_ACC_BUFFERS
};

PyDoc_STRVAR(accumulate_doc,
"accumulate(class_start, det_rank, counted, det_score, outcome, n_positive,\n"
"           max_dets, rec_thrs, precision, recall, scores, first, last)\n"
"--\n\n"
"COCOeval.accumulate() for the classes [first, last), written into the outputs.\n\n"
"class_start: int64 (K + 1,); det_rank: int64 (D,); counted: uint8 (D,), 0 for a detection\n"
"left out altogether, or empty: all count; det_score: float64 (D,);\n"
"outcome: uint8 (A, T, D), bit 1 a true positive, bit 2 ignored (0: a false positive;\n"
"both: a true positive); n_positive: int64 (K, A); max_dets: int64 (M,);\n"
"rec_thrs: float64 (R,). Written: precision and scores float64 (T, R, K, A, M), recall\n"
"float64 (T, K, A, M), for the classes with positives (others keep their values).\n"
"Releases the GIL while it works.");

static PyObject *accumulate(PyObject *self, PyObject *args)
{
    (void)self;
    Py_buffer b[N_ACC_BUFFERS];
    Py_ssize_t first, last;
    Accumulation p;
    memset(b, 0, sizeof b);
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*y*y*y*w*w*w*nn", &b[CLASS_START], &b[DET_RANK],
                          &b[COUNTED], &b[DET_SCORE], &b[ACC_OUTCOME], &b[N_POSITIVE],
                          &b[MAX_DETS], &b[REC_THRS], &b[PRECISION], &b[RECALL], &b[SCORES],
                          &first, &last))
        return NULL;
    PyObject *result = NULL;
    Py_ssize_t starts = items(&b[CLASS_START], 8, "class_start");
    if (starts < 0) goto done;
    if (starts < 1) {
        PyErr_SetString(PyExc_ValueError, "class_start: empty");
        goto done;
    }
    p.n_class = starts - 1;
    p.n_det = items(&b[DET_SCORE], 8, "det_score");
    p.n_maxdet = items(&b[MAX_DETS], 8, "max_dets");
    p.n_rec = items(&b[REC_THRS], 8, "rec_thrs");
    Py_ssize_t n_positive = items(&b[N_POSITIVE], 8, "n_positive");
    Py_ssize_t n_counted = items(&b[COUNTED], 1, "counted");
    if (p.n_det < 0 || p.n_maxdet < 0 || p.n_rec < 0 || n_positive < 0 || n_counted < 0)
        goto done;
    p.n_area = p.n_class ? n_positive / p.n_class : 0;
    if (p.n_class && p.n_area * p.n_class != n_positive) {
        PyErr_SetString(PyExc_ValueError, "n_positive: shape is not (K, A)");
        goto done;
    }
    /* The thresholds are counted on recall, (T, K, A, M), which is never empty with them. */
    Py_ssize_t cells = p.n_class * p.n_area * p.n_maxdet;
    Py_ssize_t recalls = items(&b[RECALL], 8, "recall");
    if (recalls < 0) goto done;
    p.n_thr = cells ? recalls / cells : 0;
    if (check_items(&b[DET_RANK], 8, p.n_det, "det_rank") ||
        (n_counted && check_items(&b[COUNTED], 1, p.n_det, "counted")) ||
        check_items(&b[ACC_OUTCOME], 1, p.n_area * p.n_thr * p.n_det, "outcome") ||
        check_items(&b[RECALL], 8, p.n_thr * p.n_class * p.n_area * p.n_maxdet, "recall") ||
        check_items(&b[PRECISION], 8, p.n_thr * p.n_rec * p.n_class * p.n_area * p.n_maxdet,
                    "precision") ||
        check_items(&b[SCORES], 8, p.n_thr * p.n_rec * p.n_class * p.n_area * p.n_maxdet,
                    "scores"))
        goto done;
    if (first < 0 || last > p.n_class || first > last) {
        PyErr_SetString(PyExc_ValueError, "first, last: outside the classes");
        goto done;
    }
    p.class_start = b[CLASS_START].buf;
    p.det_rank = b[DET_RANK].buf;
    p.counted = n_counted ? b[COUNTED].buf : NULL;
    p.det_score = b[DET_SCORE].buf;
    p.outcome = b[ACC_OUTCOME].buf;
    p.n_positive = b[N_POSITIVE].buf;
    p.max_dets = b[MAX_DETS].buf;
    p.rec_thrs = b[REC_THRS].buf;
    p.precision = b[PRECISION].buf;
    p.recall = b[RECALL].buf;
    p.scores = b[SCORES].buf;
    for (Py_ssize_t k = first; k < last; k++) {
        if (p.class_start[k] < 0 || p.class_start[k] > p.class_start[k + 1] ||
            p.class_start[k + 1] > p.n_det) {
            PyErr_Format(PyExc_ValueError, "class %zd: bounds outside the detections", k);
            goto done;
        }
    }
    int status;
    Py_BEGIN_ALLOW_THREADS
    status = accumulate_classes(&p, first, last);
    Py_END_ALLOW_THREADS
    if (status < 0) {
        PyErr_NoMemory();
        goto done;
    }
    result = Py_NewRef(Py_None);
done:
    release(b, N_ACC_BUFFERS);
    return result;
}

static PyMethodDef methods[] = {
    {"oks_group_terms", oks_group_terms, METH_VARARGS, oks_group_terms_doc},
    {"oks_group_means", oks_group_means, METH_VARARGS, oks_group_means_doc},
    {"match", match, METH_VARARGS, match_doc},
    {"accumulate", accumulate, METH_VARARGS, accumulate_doc},
    {"pairs", pairs, METH_VARARGS, pairs_doc},
    {"best_pairs", best_pairs, METH_VARARGS, best_pairs_doc},
    {"pair_candidates", pair_candidates, METH_VARARGS, pair_candidates_doc},
    {"nearest", nearest, METH_VARARGS, nearest_doc},
    {"greedy_match", greedy_match, METH_VARARGS, greedy_match_doc},
    {"ranked_curves", ranked_curves, METH_VARARGS, ranked_curves_doc},
    {"ranked_claims", ranked_claims, METH_VARARGS, ranked_claims_doc},
    {"order_by_key", order_by_key, METH_VARARGS, order_by_key_doc},
    {"order_runs", order_runs, METH_VARARGS, order_runs_doc},
    {"group_by_key", group_by_key, METH_VARARGS, group_by_key_doc},
    {"sort_groups", sort_groups, METH_VARARGS, sort_groups_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_kernels", "Compiled kernels of the COCO engine.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__kernels(void) { return PyModule_Create(&module); }
