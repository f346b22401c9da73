/* MinHash signatures in C: the same values as curate/ops/dedup/minhash.py (and so datasketch), without a Python object
 * per shingle.
 *
 * signatures(documents, ngram, a, b, scheme, out)
 *   documents: list of str, each a lower-cased document. Its words are the runs of characters that Python's `\w`
 *              matches (Py_UNICODE_ISALNUM or "_", as the re module's own test); they are joined by single spaces,
 *              and a word n-gram is then the byte range from the start of its first word to the end of its last:
 *              exactly the UTF-8 shingle minhash.shingles() builds, without a Python object per word or shingle.
 *   a, b:      the permutation parameters (uint32 for affine32, uint64 for affine64 and legacy), num_perm each.
 *   scheme:    0 affine32, 1 affine64, 2 legacy.
 *   out:       a writable C-contiguous (documents, num_perm) array of uint32 (affine32, legacy) or uint64
 *              (affine64), filled with the signatures; a document with no word keeps its initial values.
 *
 * Per shingle: SHA-1 (FIPS 180-4), the first 4 or 8 digest bytes read little-endian (datasketch's sha1_hash32 and
 * sha1_hash64), then num_perm affine maps and a running minimum. The permutation loop has no branches, so the
 * compiler vectorises it; most of the time goes into SHA-1, which uses the x86 SHA extensions where the processor
 * has them (checked once, at import) and portable C elsewhere.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <ctype.h>
#include <string.h>
#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>
#define HAVE_SHA_NI_BUILD 1
#endif

static uint32_t rol(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

static void sha1_blocks_c(uint32_t h[5], const uint8_t *p, size_t blocks);
static void (*sha1_blocks)(uint32_t h[5], const uint8_t *p, size_t blocks) = sha1_blocks_c;

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

static void sha1_blocks_c(uint32_t h[5], const uint8_t *p, size_t blocks) {
    for (size_t i = 0; i < blocks; i++) sha1_block(h, p + 64 * i);
}

#ifdef HAVE_SHA_NI_BUILD
/* Four rounds k (of 20) with the SHA extensions: E for these rounds from the message words, then the rounds, while
 * the message schedule computes the words of round group k + 4 from those of k + 1, k + 2 and k + 3 (sha1msg1, xor,
 * sha1msg2). Computing schedule words past the last group is harmless: nothing reads them. */
#define SHA1_GROUP(k, e_now, e_next, f)                                  \
    e_now = _mm_sha1nexte_epu32(e_now, m[(k) % 4]);                      \
    e_next = abcd;                                                       \
    m[((k) + 1) % 4] = _mm_sha1msg2_epu32(m[((k) + 1) % 4], m[(k) % 4]); \
    abcd = _mm_sha1rnds4_epu32(abcd, e_now, f);                          \
    m[((k) + 3) % 4] = _mm_sha1msg1_epu32(m[((k) + 3) % 4], m[(k) % 4]); \
    m[((k) + 2) % 4] = _mm_xor_si128(m[((k) + 2) % 4], m[(k) % 4]);

__attribute__((target("sha,sse4.1,ssse3")))
static void sha1_blocks_ni(uint32_t h[5], const uint8_t *p, size_t blocks) {
    const __m128i reverse = _mm_set_epi64x(0x0001020304050607ULL, 0x08090a0b0c0d0e0fULL); /* big-endian words */
    __m128i abcd = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)h), 0x1B);
    __m128i e0 = _mm_set_epi32((int)h[4], 0, 0, 0), e1;
    __m128i m[4];
    for (; blocks; blocks--, p += 64) {
        __m128i abcd_saved = abcd, e_saved = e0;
        for (int i = 0; i < 4; i++) m[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * i)), reverse);
        e0 = _mm_add_epi32(e0, m[0]);  /* group 0 */
        e1 = abcd;
        abcd = _mm_sha1rnds4_epu32(abcd, e0, 0);
        e1 = _mm_sha1nexte_epu32(e1, m[1]);  /* group 1: the schedule starts */
        e0 = abcd;
        abcd = _mm_sha1rnds4_epu32(abcd, e1, 0);
        m[0] = _mm_sha1msg1_epu32(m[0], m[1]);
        e0 = _mm_sha1nexte_epu32(e0, m[2]);  /* group 2 */
        e1 = abcd;
        abcd = _mm_sha1rnds4_epu32(abcd, e0, 0);
        m[1] = _mm_sha1msg1_epu32(m[1], m[2]);
        m[0] = _mm_xor_si128(m[0], m[2]);
        SHA1_GROUP(3, e1, e0, 0) SHA1_GROUP(4, e0, e1, 0)
        SHA1_GROUP(5, e1, e0, 1) SHA1_GROUP(6, e0, e1, 1) SHA1_GROUP(7, e1, e0, 1) SHA1_GROUP(8, e0, e1, 1)
        SHA1_GROUP(9, e1, e0, 1)
        SHA1_GROUP(10, e0, e1, 2) SHA1_GROUP(11, e1, e0, 2) SHA1_GROUP(12, e0, e1, 2) SHA1_GROUP(13, e1, e0, 2)
        SHA1_GROUP(14, e0, e1, 2)
        SHA1_GROUP(15, e1, e0, 3) SHA1_GROUP(16, e0, e1, 3) SHA1_GROUP(17, e1, e0, 3) SHA1_GROUP(18, e0, e1, 3)
        SHA1_GROUP(19, e1, e0, 3)
        e0 = _mm_sha1nexte_epu32(e0, e_saved);
        abcd = _mm_add_epi32(abcd, abcd_saved);
    }
    _mm_storeu_si128((__m128i *)h, _mm_shuffle_epi32(abcd, 0x1B));
    h[4] = (uint32_t)_mm_extract_epi32(e0, 3);
}

static int has_sha_ni(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_SSE4_1) || !(c & bit_SSSE3)) return 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    return (b >> 29) & 1; /* CPUID.(EAX=7,ECX=0):EBX.SHA[bit 29] */
}
#endif

/* The first 8 bytes of SHA-1(data), as a little-endian uint64 (its low 32 bits are sha1_hash32). */
static uint64_t sha1_prefix(const uint8_t *data, size_t n) {
    uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
    size_t full = n / 64;
    if (full) sha1_blocks(h, data, full);
    uint8_t tail[128] = {0};
    size_t rest = n - 64 * full;
    memcpy(tail, data + 64 * full, rest);
    tail[rest] = 0x80;
    size_t blocks = rest + 9 <= 64 ? 1 : 2;
    uint64_t bits = (uint64_t)n * 8;
    for (int i = 0; i < 8; i++) tail[64 * blocks - 1 - i] = (uint8_t)(bits >> (8 * i));
    sha1_blocks(h, tail, blocks);
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

/* The code point at p (valid UTF-8, as Python produces) and its length in bytes. */
static Py_UCS4 next_code_point(const uint8_t *p, Py_ssize_t *length) {
    if (p[0] < 0x80) { *length = 1; return p[0]; }
    if (p[0] < 0xE0) { *length = 2; return (Py_UCS4)(p[0] & 0x1F) << 6 | (p[1] & 0x3F); }
    if (p[0] < 0xF0) { *length = 3; return (Py_UCS4)(p[0] & 0x0F) << 12 | (Py_UCS4)(p[1] & 0x3F) << 6 | (p[2] & 0x3F); }
    *length = 4;
    return (Py_UCS4)(p[0] & 0x07) << 18 | (Py_UCS4)(p[1] & 0x3F) << 12 | (Py_UCS4)(p[2] & 0x3F) << 6 | (p[3] & 0x3F);
}

/* Copy the words of text[0:n] into joined, separated by single spaces; returns the joined length. */
static Py_ssize_t join_words(const uint8_t *text, Py_ssize_t n, uint8_t *joined) {
    Py_ssize_t length = 0, step;
    int in_word = 0;
    for (Py_ssize_t i = 0; i < n; i += step) {
        Py_UCS4 c = next_code_point(text + i, &step);
        if (c == '_' || (c < 0x80 ? isalnum((int)c) != 0 : Py_UNICODE_ISALNUM(c))) {
            if (!in_word && length) joined[length++] = ' ';
            memcpy(joined + length, text + i, (size_t)step);
            length += step;
            in_word = 1;
        } else {
            in_word = 0;
        }
    }
    return length;
}

static PyObject *signatures(PyObject *self, PyObject *args) {
    PyObject *documents;
    Py_ssize_t ngram;
    int scheme;
    Py_buffer a, b, out;
    if (!PyArg_ParseTuple(args, "O!ny*y*iw*", &PyList_Type, &documents, &ngram, &a, &b, &scheme, &out)) return NULL;
    PyObject *result = NULL;
    Py_ssize_t *starts = NULL, cap = 0;
    uint8_t *joined = NULL;
    Py_ssize_t num_docs = PyList_GET_SIZE(documents);
    Py_ssize_t width = scheme == 0 ? 4 : 8, slot = scheme == 1 ? 8 : 4;
    Py_ssize_t num_perm = a.len / width;
    if (ngram < 1 || scheme < 0 || scheme > 2 || b.len != a.len || out.len != num_docs * num_perm * slot) {
        PyErr_SetString(PyExc_ValueError, "signatures: inconsistent ngram, scheme or array sizes");
        goto free;
    }
    for (Py_ssize_t d = 0; d < num_docs; d++) {
        PyObject *item = PyList_GET_ITEM(documents, d), *encoded = NULL;
        if (!PyUnicode_Check(item)) { PyErr_SetString(PyExc_TypeError, "documents must be str"); goto free; }
        Py_ssize_t n;
        const uint8_t *utf8 = (const uint8_t *)PyUnicode_AsUTF8AndSize(item, &n);
        if (!utf8) { /* lone surrogates: never word characters, so any encoding that keeps the rest will do */
            PyErr_Clear();
            encoded = PyUnicode_AsEncodedString(item, "utf-8", "surrogatepass");
            if (!encoded) goto free;
            utf8 = (const uint8_t *)PyBytes_AS_STRING(encoded);
            n = PyBytes_GET_SIZE(encoded);
        }
        if (n + 1 > cap) {
            cap = 2 * (n + 1);
            Py_ssize_t *grown = PyMem_Realloc(starts, cap * sizeof(Py_ssize_t));
            uint8_t *grown_joined = grown ? PyMem_Realloc(joined, cap) : NULL;
            if (grown) starts = grown;
            if (grown_joined) joined = grown_joined;
            if (!grown || !grown_joined) { Py_XDECREF(encoded); PyErr_NoMemory(); goto free; }
        }
        void *row = (uint8_t *)out.buf + d * num_perm * slot;
        Py_BEGIN_ALLOW_THREADS
        Py_ssize_t length = join_words(utf8, n, joined), words = 0;
        if (length) {
            starts[words++] = 0;
            for (Py_ssize_t i = 0; i < length; i++) if (joined[i] == ' ') starts[words++] = i + 1;
            Py_ssize_t grams = words <= ngram ? 1 : words - ngram + 1;
            for (Py_ssize_t g = 0; g < grams; g++) {
                Py_ssize_t last = g + ngram < words ? g + ngram : words; /* one past the n-gram's last word */
                Py_ssize_t end = last < words ? starts[last] - 1 : length;
                update(scheme, sha1_prefix(joined + starts[g], (size_t)(end - starts[g])), num_perm, a.buf, b.buf,
                       row);
            }
        }
        Py_END_ALLOW_THREADS
        Py_XDECREF(encoded);
    }
    result = Py_None;
    Py_INCREF(result);
free:
    PyMem_Free(starts);
    PyMem_Free(joined);
    PyBuffer_Release(&a);
    PyBuffer_Release(&b);
    PyBuffer_Release(&out);
    return result;
}

/* use_sha_extensions(enabled) -> whether SHA-1 now runs on the SHA extensions (tests check both paths). */
static PyObject *use_sha_extensions(PyObject *self, PyObject *arg) {
    int wanted = PyObject_IsTrue(arg);
    if (wanted < 0) return NULL;
    sha1_blocks = sha1_blocks_c;
#ifdef HAVE_SHA_NI_BUILD
    if (wanted && has_sha_ni()) sha1_blocks = sha1_blocks_ni;
#endif
    return PyBool_FromLong(sha1_blocks != sha1_blocks_c);
}

static PyMethodDef methods[] = {
    {"signatures", signatures, METH_VARARGS, "Fill `out` with the MinHash signatures of joined-word documents."},
    {"use_sha_extensions", use_sha_extensions, METH_O, "Choose the SHA-1 implementation; returns True if accelerated."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_minhash", NULL, -1, methods};

PyMODINIT_FUNC PyInit__minhash(void) {
    PyObject *m = PyModule_Create(&module);
#ifdef HAVE_SHA_NI_BUILD
    if (has_sha_ni()) sha1_blocks = sha1_blocks_ni;
#endif
    return m;
}
