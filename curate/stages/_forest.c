/* Gradient-boosted trees evaluated in C: the `blocks` engine's forest (curate/stages/block_classifier.py, Forest),
 * the same sums as its NumPy path (Forest.scores_numpy) without a NumPy call per tree and level. A page's blocks
 * times 300 trees times a dozen levels is some 10^5 node visits: 0.1 ms here, against milliseconds for the NumPy
 * walk, whose every step is an array operation.
 *
 * scores(inputs, columns, feature, threshold, left, right, leaf_value, roots, out)
 *   inputs:      C-contiguous float64 (rows, columns): one row of features a block.
 *   feature:     int32 per split node: the column it tests; a row goes left when its value <= threshold.
 *   threshold:   float64 per split node.
 *   left, right: int32 per split node: a child >= 0 is a split node's index, a child < 0 the leaf ~child.
 *   leaf_value:  float64 per leaf.
 *   roots:       int32 per tree: its first node, in the same encoding (a tree of one leaf has root ~leaf).
 *   out:         writable float64 (rows,): each row's sum of the leaves it reaches, added tree by tree in order
 *                (the order fixes the floating-point sum, so both paths give the same bits).
 * Indices are checked once before the walk (a child must come after its parent, so every walk ends): a malformed
 * model raises ValueError instead of reading out of bounds.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

static int check_model(Py_ssize_t columns, Py_ssize_t nodes, Py_ssize_t leaves, Py_ssize_t trees,
                       const int32_t *feature, const int32_t *left, const int32_t *right, const int32_t *roots) {
    for (Py_ssize_t node = 0; node < nodes; node++) {
        if (feature[node] < 0 || feature[node] >= columns) return 0;
        const int32_t children[2] = {left[node], right[node]};
        for (int side = 0; side < 2; side++) {
            int32_t child = children[side];
            if (child >= 0 ? (child <= node || child >= nodes) : (~child >= leaves)) return 0;
        }
    }
    for (Py_ssize_t tree = 0; tree < trees; tree++) {
        if (roots[tree] >= 0 ? roots[tree] >= nodes : ~roots[tree] >= leaves) return 0;
    }
    return 1;
}

static PyObject *scores(PyObject *self, PyObject *args) {
    Py_buffer inputs, feature, threshold, left, right, leaf_value, roots, out;
    Py_ssize_t columns;
    if (!PyArg_ParseTuple(args, "y*ny*y*y*y*y*y*w*", &inputs, &columns, &feature, &threshold, &left, &right,
                          &leaf_value, &roots, &out)) return NULL;
    PyObject *result = NULL;
    Py_ssize_t nodes = feature.len / (Py_ssize_t)sizeof(int32_t);
    Py_ssize_t leaves = leaf_value.len / (Py_ssize_t)sizeof(double);
    Py_ssize_t trees = roots.len / (Py_ssize_t)sizeof(int32_t);
    Py_ssize_t rows = columns > 0 ? inputs.len / (Py_ssize_t)sizeof(double) / columns : 0;
    if (columns <= 0 || inputs.len != rows * columns * (Py_ssize_t)sizeof(double)
        || threshold.len != nodes * (Py_ssize_t)sizeof(double) || left.len != feature.len || right.len != feature.len
        || out.len != rows * (Py_ssize_t)sizeof(double)) {
        PyErr_SetString(PyExc_ValueError, "forest scores: array sizes do not agree");
        goto done;
    }
    const double *x = inputs.buf, *cut = threshold.buf, *value = leaf_value.buf;
    const int32_t *tested = feature.buf, *lower = left.buf, *upper = right.buf, *first = roots.buf;
    if (!check_model(columns, nodes, leaves, trees, tested, lower, upper, first)) {
        PyErr_SetString(PyExc_ValueError, "forest scores: a node's feature or child is out of range");
        goto done;
    }
    double *sums = out.buf;
    Py_BEGIN_ALLOW_THREADS
    /* tree by tree, every row through it: one tree's nodes stay in the first-level cache while the rows pass, and
     * four rows walk at once, so that their loads overlap; each row still adds its trees' leaves in tree order */
    for (Py_ssize_t row = 0; row < rows; row++) sums[row] = 0.0;
    for (Py_ssize_t tree = 0; tree < trees; tree++) {
        Py_ssize_t row = 0;
        for (; row + 4 <= rows; row += 4) {
            const double *a = x + row * columns, *b = a + columns, *c = b + columns, *d = c + columns;
            int32_t na = first[tree], nb = na, nc = na, nd = na;
            while ((na & nb & nc & nd) >= 0) {  /* until all four reach a leaf (a negative index) */
                if (na >= 0) na = a[tested[na]] <= cut[na] ? lower[na] : upper[na];
                if (nb >= 0) nb = b[tested[nb]] <= cut[nb] ? lower[nb] : upper[nb];
                if (nc >= 0) nc = c[tested[nc]] <= cut[nc] ? lower[nc] : upper[nc];
                if (nd >= 0) nd = d[tested[nd]] <= cut[nd] ? lower[nd] : upper[nd];
            }
            sums[row] += value[~na];
            sums[row + 1] += value[~nb];
            sums[row + 2] += value[~nc];
            sums[row + 3] += value[~nd];
        }
        for (; row < rows; row++) {
            const double *values = x + row * columns;
            int32_t node = first[tree];
            while (node >= 0) node = values[tested[node]] <= cut[node] ? lower[node] : upper[node];
            sums[row] += value[~node];
        }
    }
    Py_END_ALLOW_THREADS
    result = Py_None;
    Py_INCREF(result);
done:
    PyBuffer_Release(&inputs);
    PyBuffer_Release(&feature);
    PyBuffer_Release(&threshold);
    PyBuffer_Release(&left);
    PyBuffer_Release(&right);
    PyBuffer_Release(&leaf_value);
    PyBuffer_Release(&roots);
    PyBuffer_Release(&out);
    return result;
}

static PyMethodDef methods[] = {
    {"scores", scores, METH_VARARGS, "Fill `out` with each row's sum of the leaves its trees lead it to."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_forest", NULL, -1, methods};

PyMODINIT_FUNC PyInit__forest(void) { return PyModule_Create(&module); }
