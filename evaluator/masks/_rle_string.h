/*
 * Reading COCO's compressed RLE strings (maskApi.c's rleFrString), shared by the mask
 * kernels (evaluator/masks/_rle.c) and the results scanner (evaluator/input/_scan.c, which
 * checks each mask's string as it reads it). Every function is static.
 *
 * A LEB128-like code of 6 bits per character (ASCII 48..111): 5 value bits, 0x20 = more
 * characters follow, and 0x10 in the last character = negative. Counts from the fourth
 * on are stored as the difference to the count two before.
 */
#ifndef DETEVAL_RLE_STRING_H
#define DETEVAL_RLE_STRING_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

/* Why a string is not a mask's, in the order they are found. */
#define RLE_BAD_CHARACTER "a character outside '0' (48) to 'o' (111)"
#define RLE_ENDS_INSIDE_COUNT "the string ends inside a count"
#define RLE_COUNT_TOO_LONG "a count longer than 7 characters"
#define RLE_COUNT_OUT_OF_RANGE "a count outside 0 to 2**32 - 1"
#define RLE_WRONG_SUM "the counts do not sum to height * width"

/* The count coded at s[*p:] (before the difference to the count two before), *p moved
 * past it: NULL, or why the string does not decode there. Most counts of a mask differ
 * little from the one two before: one character, taken first. */
static inline const char *next_count(const char *s, Py_ssize_t len, Py_ssize_t *p, int64_t *x)
{
    int c = (unsigned char)s[*p] - 48;
    if (c < 0 || c > 63) return RLE_BAD_CHARACTER;
    (*p)++;
    if (!(c & 0x20)) { /* the last character: 0x10 is the sign */
        *x = (c & 0x10) ? (int64_t)(c & 0x1f) - 32 : (int64_t)c;
        return NULL;
    }
    int64_t value = c & 0x1f;
    int shift = 5;
    for (;;) {
        if (*p == len) return RLE_ENDS_INSIDE_COUNT;
        c = (unsigned char)s[*p] - 48;
        if (c < 0 || c > 63) return RLE_BAD_CHARACTER;
        if (shift > 30) return RLE_COUNT_TOO_LONG;
        value |= (int64_t)(c & 0x1f) << shift;
        (*p)++;
        shift += 5;
        if (!(c & 0x20)) {
            if (c & 0x10) value -= (int64_t)1 << shift; /* sign extension */
            *x = value;
            return NULL;
        }
    }
}

/* next_count, the counts of one or two characters (96% of a mask's, as COCO's masks go)
 * read without a branch on their length. */
static inline const char *next_count_fast(const char *s, Py_ssize_t len, Py_ssize_t *p,
                                          int64_t *x)
{
    Py_ssize_t q = *p;
    if (q + 1 < len) {
        int c0 = (unsigned char)s[q] - 48, c1 = (unsigned char)s[q + 1] - 48;
        if (c0 >= 0 && c0 <= 63 && c1 >= 0 && c1 <= 63 && !(c0 & c1 & 0x20)) {
            int two = (c0 >> 5) & 1; /* c0 says more follow: c1 is the count's last */
            int64_t one = (int64_t)(c0 & 0x1f) - ((c0 & 0x10) ? 32 : 0);
            int64_t both = (int64_t)((c0 & 0x1f) | ((c1 & 0x1f) << 5)) - ((c1 & 0x10) ? 1024 : 0);
            *x = two ? both : one;
            *p = q + 1 + two;
            return NULL;
        }
    }
    return next_count(s, len, p, x);
}

/* The sum of the counts string s[0:len] decodes into, in *total: NULL, or why it does
 * not decode (the first problem, as from_string finds it). */
static inline const char *string_total(const char *s, Py_ssize_t len, uint64_t *total)
{
    int64_t k = 0, before = 0, last = 0; /* counts k - 2 and k - 1 */
    uint64_t sum = 0;
    Py_ssize_t p = 0;
    while (p < len) {
        int64_t x;
        const char *problem = next_count_fast(s, len, &p, &x);
        if (problem != NULL) return problem;
        if (k > 2) x += before;
        if (x < 0 || x > UINT32_MAX) return RLE_COUNT_OUT_OF_RANGE;
        sum += (uint64_t)x;
        before = last;
        last = x;
        k++;
    }
    *total = sum;
    return NULL;
}

#endif
