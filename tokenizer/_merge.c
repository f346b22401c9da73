/* The BPE merge loop of tokenizer/train.py in C: the same algorithm, data structures and tie-break, for speed.
 *
 * merge_loop(words, counts, num_merges, min_pair_count) -> list of (left, right) merges
 *   words: list of lists of token ids (bytes 0..255), one per distinct pre-token; counts: their frequencies.
 *
 * As in Python: pair counts weighted by word frequency; for each pair the words it occurs in (grows only, stale
 * entries skipped); a max-heap of (count, left bytes, right bytes) with stale entries re-pushed when popped; a pair
 * whose concatenation is already a token is never merged. tests/tokenizer checks both against a brute-force trainer.
 * Most of the time goes into rewriting the words that hold the merged pair, as in the Python version.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct { int32_t *ids; int32_t len; int64_t count; } Word;
typedef struct { uint8_t *bytes; int32_t len; } Token;
typedef struct { uint64_t key; int64_t count; int32_t *words; int32_t nwords, cap; int used; } PairEntry;
typedef struct { int64_t count; int32_t a, b; } HeapItem;

typedef struct {
    Token *vocab; int32_t nvocab, capvocab;
    PairEntry *pairs; uint64_t cap, used;
    HeapItem *heap; int64_t nheap, capheap;
    int32_t *known; uint64_t capknown, nknown; /* open-addressing set of token ids, by token bytes */
} State;

static uint64_t mix(uint64_t x) { /* splitmix64 finaliser: spreads (a << 32 | b) keys over the table */
    x ^= x >> 30; x *= 0xbf58476d1ce4e5b9ULL; x ^= x >> 27; x *= 0x94d049bb133111ebULL; return x ^ (x >> 31);
}

static uint64_t hash_bytes(const uint8_t *p, int32_t n) { /* FNV-1a */
    uint64_t h = 1469598103934665603ULL;
    for (int32_t i = 0; i < n; i++) { h ^= p[i]; h *= 1099511628211ULL; }
    return h;
}

static PairEntry *pair_slot(State *s, uint64_t key, int create);

static int grow_pairs(State *s) {
    PairEntry *old = s->pairs; uint64_t oldcap = s->cap;
    s->cap = oldcap ? oldcap * 2 : 1 << 16;
    s->pairs = calloc(s->cap, sizeof(PairEntry));
    if (!s->pairs) return -1;
    s->used = 0;
    for (uint64_t i = 0; i < oldcap; i++)
        if (old[i].used) { PairEntry *e = pair_slot(s, old[i].key, 1); *e = old[i]; }
    free(old);
    return 0;
}

static PairEntry *pair_slot(State *s, uint64_t key, int create) {
    if (create && (s->used + 1) * 2 > s->cap && grow_pairs(s) < 0) return NULL;
    if (!s->cap) return NULL;
    for (uint64_t i = mix(key) & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
        PairEntry *e = &s->pairs[i];
        if (e->used && e->key == key) return e;
        if (!e->used) {
            if (!create) return NULL;
            e->used = 1; e->key = key; s->used++;
            return e;
        }
    }
}

static int add_word(PairEntry *e, int32_t w) {
    if (e->nwords && e->words[e->nwords - 1] == w) return 0; /* a word's pairs are added together: no repeats */
    if (e->nwords == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 4;
        int32_t *grown = realloc(e->words, e->cap * sizeof(int32_t));
        if (!grown) return -1;
        e->words = grown;
    }
    e->words[e->nwords++] = w;
    return 0;
}

static int bytes_less(const Token *x, const Token *y) { /* Python's bytes ordering */
    int32_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->bytes, y->bytes, n);
    return c ? c < 0 : x->len < y->len;
}

static int heap_before(State *s, const HeapItem *x, const HeapItem *y) { /* higher count, then smaller bytes */
    if (x->count != y->count) return x->count > y->count;
    if (x->a != y->a) return bytes_less(&s->vocab[x->a], &s->vocab[y->a]);
    return bytes_less(&s->vocab[x->b], &s->vocab[y->b]);
}

static int heap_push(State *s, int64_t count, int32_t a, int32_t b) {
    if (s->nheap == s->capheap) {
        s->capheap = s->capheap ? s->capheap * 2 : 1 << 16;
        HeapItem *grown = realloc(s->heap, s->capheap * sizeof(HeapItem));
        if (!grown) return -1;
        s->heap = grown;
    }
    int64_t i = s->nheap++;
    HeapItem item = {count, a, b};
    while (i > 0) {
        int64_t parent = (i - 1) / 2;
        if (!heap_before(s, &item, &s->heap[parent])) break;
        s->heap[i] = s->heap[parent]; i = parent;
    }
    s->heap[i] = item;
    return 0;
}

static HeapItem heap_pop(State *s) {
    HeapItem top = s->heap[0], last = s->heap[--s->nheap];
    int64_t i = 0;
    for (;;) {
        int64_t child = 2 * i + 1;
        if (child >= s->nheap) break;
        if (child + 1 < s->nheap && heap_before(s, &s->heap[child + 1], &s->heap[child])) child++;
        if (!heap_before(s, &s->heap[child], &last)) break;
        s->heap[i] = s->heap[child]; i = child;
    }
    if (s->nheap) s->heap[i] = last;
    return top;
}

static int known_insert(State *s, int32_t id, int check_only) { /* 1 when the token's bytes are already known */
    if (!check_only && (s->nknown + 1) * 2 > s->capknown) {
        int32_t *old = s->known; uint64_t oldcap = s->capknown;
        s->capknown = oldcap ? oldcap * 2 : 1 << 12;
        s->known = malloc(s->capknown * sizeof(int32_t));
        if (!s->known) return -1;
        memset(s->known, 0xff, s->capknown * sizeof(int32_t));
        s->nknown = 0;
        for (uint64_t i = 0; i < oldcap; i++) if (old[i] >= 0) known_insert(s, old[i], 0);
        free(old);
    }
    Token *t = &s->vocab[id];
    for (uint64_t i = hash_bytes(t->bytes, t->len) & (s->capknown - 1);; i = (i + 1) & (s->capknown - 1)) {
        int32_t other = s->known[i];
        if (other < 0) {
            if (check_only) return 0;
            s->known[i] = id; s->nknown++;
            return 0;
        }
        Token *o = &s->vocab[other];
        if (o->len == t->len && !memcmp(o->bytes, t->bytes, t->len)) return 1;
    }
}

static int vocab_append(State *s, const uint8_t *x, int32_t nx, const uint8_t *y, int32_t ny) {
    if (s->nvocab == s->capvocab) {
        s->capvocab *= 2;
        Token *grown = realloc(s->vocab, s->capvocab * sizeof(Token));
        if (!grown) return -1;
        s->vocab = grown;
    }
    Token *t = &s->vocab[s->nvocab];
    t->bytes = malloc(nx + ny); t->len = nx + ny;
    if (!t->bytes) return -1;
    memcpy(t->bytes, x, nx); memcpy(t->bytes + nx, y, ny);
    return s->nvocab++;
}

static int add_pairs(State *s, const Word *w, int64_t sign) {
    for (int32_t i = 0; i + 1 < w->len; i++) {
        PairEntry *e = pair_slot(s, ((uint64_t)(uint32_t)w->ids[i] << 32) | (uint32_t)w->ids[i + 1], 1);
        if (!e) return -1;
        e->count += sign * w->count;
    }
    return 0;
}

static PyObject *merge_loop(PyObject *self, PyObject *args) {
    PyObject *words_list, *counts_list;
    Py_ssize_t num_merges, min_pair_count;
    if (!PyArg_ParseTuple(args, "OOnn", &words_list, &counts_list, &num_merges, &min_pair_count)) return NULL;
    Py_ssize_t nwords = PyList_Size(words_list);
    if (nwords < 0 || PyList_Size(counts_list) != nwords) {
        PyErr_SetString(PyExc_ValueError, "words and counts must be lists of the same length");
        return NULL;
    }
    State s = {0};
    uint64_t *created = NULL; /* pairs the current merge created, to push on the heap */
    int64_t ncreated = 0, capcreated = 0;
    Word *words = calloc(nwords ? nwords : 1, sizeof(Word));
    PyObject *merges = PyList_New(0);
    s.capvocab = 512; s.vocab = malloc(s.capvocab * sizeof(Token));
    if (!words || !merges || !s.vocab) { PyErr_NoMemory(); goto fail; }
    for (int i = 0; i < 256; i++) {
        uint8_t byte = (uint8_t)i;
        if (vocab_append(&s, &byte, 1, NULL, 0) < 0 || known_insert(&s, i, 0) < 0) { PyErr_NoMemory(); goto fail; }
    }
    for (Py_ssize_t w = 0; w < nwords; w++) {
        PyObject *ids = PyList_GET_ITEM(words_list, w);
        Py_ssize_t n = PySequence_Size(ids);
        if (n < 0) goto fail;
        words[w].ids = malloc((n ? n : 1) * sizeof(int32_t)); words[w].len = (int32_t)n;
        words[w].count = PyLong_AsLongLong(PyList_GET_ITEM(counts_list, w));
        if (!words[w].ids) { PyErr_NoMemory(); goto fail; }
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *item = PySequence_GetItem(ids, i);
            words[w].ids[i] = (int32_t)PyLong_AsLong(item);
            Py_XDECREF(item);
        }
        if (PyErr_Occurred()) goto fail;
        for (int32_t i = 0; i + 1 < words[w].len; i++) {
            PairEntry *e = pair_slot(&s, ((uint64_t)(uint32_t)words[w].ids[i] << 32) | (uint32_t)words[w].ids[i + 1], 1);
            if (!e || add_word(e, (int32_t)w) < 0) { PyErr_NoMemory(); goto fail; }
            e->count += words[w].count;
        }
    }
    for (uint64_t i = 0; i < s.cap; i++)
        if (s.pairs[i].used && s.pairs[i].count > 0 &&
            heap_push(&s, s.pairs[i].count, (int32_t)(s.pairs[i].key >> 32), (int32_t)(s.pairs[i].key & 0xffffffff)) < 0) {
            PyErr_NoMemory(); goto fail;
        }
    while (PyList_GET_SIZE(merges) < num_merges && s.nheap) {
        HeapItem top = heap_pop(&s);
        uint64_t key = ((uint64_t)(uint32_t)top.a << 32) | (uint32_t)top.b;
        PairEntry *entry = pair_slot(&s, key, 0);
        int64_t current = entry ? entry->count : 0;
        if (current != top.count) { /* stale: the count changed after this entry was pushed */
            if (current > 0 && heap_push(&s, current, top.a, top.b) < 0) { PyErr_NoMemory(); goto fail; }
            continue;
        }
        if (current < min_pair_count) break;
        int32_t new_id = vocab_append(&s, s.vocab[top.a].bytes, s.vocab[top.a].len, s.vocab[top.b].bytes,
                                      s.vocab[top.b].len);
        if (new_id < 0) { PyErr_NoMemory(); goto fail; }
        int dup = known_insert(&s, new_id, 1);
        if (dup) { free(s.vocab[new_id].bytes); s.nvocab--; continue; }
        if (known_insert(&s, new_id, 0) < 0) { PyErr_NoMemory(); goto fail; }
        PyObject *pair = Py_BuildValue("(ii)", top.a, top.b);
        if (!pair || PyList_Append(merges, pair) < 0) { Py_XDECREF(pair); goto fail; }
        Py_DECREF(pair);
        /* Take the word list out of the entry: adding pairs may grow (move) the table. */
        int32_t *holders = entry->words, nholders = entry->nwords;
        entry->words = NULL; entry->nwords = entry->cap = 0;
        ncreated = 0;
        for (int32_t h = 0; h < nholders; h++) {
            Word *w = &words[holders[h]];
            int found = 0;
            for (int32_t i = 0; i + 1 < w->len; i++) if (w->ids[i] == top.a && w->ids[i + 1] == top.b) { found = 1; break; }
            if (!found) continue; /* stale: the pair left this word in an earlier merge */
            if (add_pairs(&s, w, -1) < 0) { PyErr_NoMemory(); free(holders); goto fail; }
            int32_t out = 0;
            for (int32_t i = 0; i < w->len;) {
                if (i + 1 < w->len && w->ids[i] == top.a && w->ids[i + 1] == top.b) { w->ids[out++] = new_id; i += 2; }
                else w->ids[out++] = w->ids[i++];
            }
            w->len = out;
            if (add_pairs(&s, w, 1) < 0) { PyErr_NoMemory(); free(holders); goto fail; }
            for (int32_t i = 0; i + 1 < w->len; i++) {
                if (w->ids[i] != new_id && w->ids[i + 1] != new_id) continue;
                uint64_t k = ((uint64_t)(uint32_t)w->ids[i] << 32) | (uint32_t)w->ids[i + 1];
                PairEntry *e = pair_slot(&s, k, 1);
                if (!e || add_word(e, holders[h]) < 0) { PyErr_NoMemory(); free(holders); goto fail; }
                if (ncreated == capcreated) {
                    capcreated = capcreated ? capcreated * 2 : 64;
                    uint64_t *grown = realloc(created, capcreated * sizeof(uint64_t));
                    if (!grown) { PyErr_NoMemory(); free(holders); goto fail; }
                    created = grown;
                }
                created[ncreated++] = k;
            }
        }
        free(holders);
        entry = pair_slot(&s, key, 0);
        if (entry) entry->count = 0;
        for (int64_t c = 0; c < ncreated; c++) { /* duplicates push equal entries: harmless, as in Python */
            PairEntry *e = pair_slot(&s, created[c], 0);
            if (e && e->count > 0 &&
                heap_push(&s, e->count, (int32_t)(created[c] >> 32), (int32_t)(created[c] & 0xffffffff)) < 0) {
                PyErr_NoMemory(); goto fail;
            }
        }
    }
    goto done;
fail:
    Py_CLEAR(merges);
done:
    free(created);
    for (Py_ssize_t w = 0; words && w < nwords; w++) free(words[w].ids);
    free(words);
    for (int32_t i = 0; i < s.nvocab; i++) free(s.vocab[i].bytes);
    free(s.vocab);
    for (uint64_t i = 0; i < s.cap; i++) free(s.pairs[i].words);
    free(s.pairs); free(s.heap); free(s.known);
    return merges;
}

static PyMethodDef methods[] = {
    {"merge_loop", merge_loop, METH_VARARGS, "merge_loop(words, counts, num_merges, min_pair_count) -> merges"},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_merge", "The BPE merge loop in C.", -1, methods};

PyMODINIT_FUNC PyInit__merge(void) { return PyModule_Create(&module); }
