/* MinHash signatures in C: the same values as curate/dedup/minhash.py (and so datasketch), without a Python object
 * per shingle.
 *
 * signatures(documents, ngram, a, b, scheme, out)
 *   documents: list of bytes, each a document's lower-cased words joined by single spaces (UTF-8), as
 *              " ".join(WORD.findall(text.lower())).encode(); a word n-gram is then the byte range from the start of
 *              its first word to the end of its last, which is exactly the shingle minhash.shingles() builds.
 *   a, b:      the permutation parameters (uint32 for affine32, uint64 for affine64 and legacy), num_perm each.
 *   scheme:    0 affine32, 1 affine64, 2 legacy.
 *   out:       a writable C-contiguous (documents, num_perm) array of uint32 (affine32, legacy) or uint64
 *              (affine64), filled with the signatures; a document with no word keeps its initial values.
 *
 * Per shingle: SHA-1 (FIPS 180-4), the first 4 or 8 digest bytes read little-endian (datasketch's sha1_hash32 and
 * sha1_hash64), then num_perm affine maps and a running minimum. The permutation loop has no branches, so the
 * compiler vectorises it; most of the time goes into SHA-1.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

static uint32_t rol(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

static void sha1_block(uint32_t h[5], const uint8_t *p) {
    uint32_t w[80];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 80; i++) w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; i++) {
        uint32_t f, k;
        if (i < 20) { f = (b & c) | (~b & d); k = 0x5A827999; }
        else if (i < 40) { f = b ^ c ^ d; k = 0x6ED9EBA1; }
        else if (i < 60) { f = (b & c) | (b & d) | (c & d); k = 0x8F1BBCDC; }
        else { f = b ^ c ^ d; k = 0xCA62C1D6; }
        uint32_t t = rol(a, 5) + f + e + k + w[i];
        e = d; d = c; c = rol(b, 30); b = a; a = t;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e;
}

/* The first 8 bytes of SHA-1(data), as a little-endian uint64 (its low 32 bits are sha1_hash32). */
static uint64_t sha1_prefix(const uint8_t *data, size_t n) {
    uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
    size_t full = n / 64;
    for (size_t i = 0; i < full; i++) sha1_block(h, data + 64 * i);
    uint8_t tail[128] = {0};
    size_t rest = n - 64 * full;
    memcpy(tail, data + 64 * full, rest);
    tail[rest] = 0x80;
    size_t blocks = rest + 9 <= 64 ? 1 : 2;
    uint64_t bits = (uint64_t)n * 8;
    for (int i = 0; i < 8; i++) tail[64 * blocks - 1 - i] = (uint8_t)(bits >> (8 * i));
    for (size_t i = 0; i < blocks; i++) sha1_block(h, tail + 64 * i);
    /* digest bytes are h[0] big-endian then h[1] big-endian; read them little-endian */
    uint32_t lo = __builtin_bswap32(h[0]), hi = __builtin_bswap32(h[1]);
    return (uint64_t)hi << 32 | lo;
}

static uint32_t fmix32(uint32_t h) {
    h ^= h >> 16; h *= 0x85EBCA6BU; h ^= h >> 13; h *= 0xC2B2AE35U; return h ^ (h >> 16);
}

static uint64_t fmix64(uint64_t h) {
    h ^= h >> 33; h *= 0xFF51AFD7ED558CCDULL; h ^= h >> 33; h *= 0xC4CEB9FE1A85EC53ULL; return h ^ (h >> 33);
}

static const uint64_t MERSENNE = (1ULL << 61) - 1;

static void update(int scheme, uint64_t hash, Py_ssize_t num_perm, const void *a, const void *b, void *row) {
    if (scheme == 0) {
        uint32_t h = fmix32((uint32_t)hash);
        const uint32_t *pa = a, *pb = b;
        uint32_t *r = row;
        for (Py_ssize_t i = 0; i < num_perm; i++) { uint32_t v = pa[i] * h + pb[i]; r[i] = v < r[i] ? v : r[i]; }
    } else if (scheme == 1) {
        uint64_t h = fmix64(hash);
        const uint64_t *pa = a, *pb = b;
        uint64_t *r = row;
        for (Py_ssize_t i = 0; i < num_perm; i++) { uint64_t v = pa[i] * h + pb[i]; r[i] = v < r[i] ? v : r[i]; }
    } else { /* legacy: ((a * h + b) mod 2^64) mod (2^61 - 1), masked to 32 bits */
        uint64_t h = (uint32_t)hash;
        const uint64_t *pa = a, *pb = b;
        uint32_t *r = row;
        for (Py_ssize_t i = 0; i < num_perm; i++) {
            uint64_t x = pa[i] * h + pb[i];
            uint64_t folded = (x & MERSENNE) + (x >> 61);
            if (folded >= MERSENNE) folded -= MERSENNE;
            uint32_t v = (uint32_t)folded;
            r[i] = v < r[i] ? v : r[i];
        }
    }
}

static PyObject *signatures(PyObject *self, PyObject *args) {
    PyObject *documents;
    Py_ssize_t ngram;
    int scheme;
    Py_buffer a, b, out;
    if (!PyArg_ParseTuple(args, "O!ny*y*iw*", &PyList_Type, &documents, &ngram, &a, &b, &scheme, &out)) return NULL;
    PyObject *result = NULL;
    Py_ssize_t *starts = NULL, cap = 0;
    Py_ssize_t num_docs = PyList_GET_SIZE(documents);
    Py_ssize_t width = scheme == 0 ? 4 : 8, slot = scheme == 1 ? 8 : 4;
    Py_ssize_t num_perm = a.len / width;
    if (ngram < 1 || scheme < 0 || scheme > 2 || b.len != a.len || out.len != num_docs * num_perm * slot) {
        PyErr_SetString(PyExc_ValueError, "signatures: inconsistent ngram, scheme or array sizes");
        goto free;
    }
    for (Py_ssize_t d = 0; d < num_docs; d++) {
        PyObject *item = PyList_GET_ITEM(documents, d);
        if (!PyBytes_Check(item)) { PyErr_SetString(PyExc_TypeError, "documents must be bytes"); goto free; }
        const uint8_t *text = (const uint8_t *)PyBytes_AS_STRING(item);
        Py_ssize_t n = PyBytes_GET_SIZE(item), words = 0;
        if (n == 0) continue;
        if (n + 1 > cap) {
            cap = 2 * (n + 1);
            Py_ssize_t *grown = PyMem_Realloc(starts, cap * sizeof(Py_ssize_t));
            if (!grown) { PyErr_NoMemory(); goto free; }
            starts = grown;
        }
        starts[words++] = 0;
        for (Py_ssize_t i = 0; i < n; i++) if (text[i] == ' ') starts[words++] = i + 1;
        void *row = (uint8_t *)out.buf + d * num_perm * slot;
        Py_ssize_t grams = words <= ngram ? 1 : words - ngram + 1;
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t g = 0; g < grams; g++) {
            Py_ssize_t last = g + ngram < words ? g + ngram : words; /* one past the n-gram's last word */
            Py_ssize_t end = last < words ? starts[last] - 1 : n;
            update(scheme, sha1_prefix(text + starts[g], (size_t)(end - starts[g])), num_perm, a.buf, b.buf, row);
        }
        Py_END_ALLOW_THREADS
    }
    result = Py_None;
    Py_INCREF(result);
free:
    PyMem_Free(starts);
    PyBuffer_Release(&a);
    PyBuffer_Release(&b);
    PyBuffer_Release(&out);
    return result;
}

static PyMethodDef methods[] = {
    {"signatures", signatures, METH_VARARGS, "Fill `out` with the MinHash signatures of joined-word documents."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_minhash", NULL, -1, methods};

PyMODINIT_FUNC PyInit__minhash(void) { return PyModule_Create(&module); }
