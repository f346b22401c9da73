/* The `blocks` engine's walk over a parsed page in C: the same blocks as the Python walk in
 * curate/stages/html_blocks.py (page_blocks_python), without a Python event per element. That walk's own Python was
 * most of the engine's time (1.9-2.5 ms of a page's 4 ms against 0.27 ms for lxml's iterwalk alone); this one reads
 * libxml2's tree directly.
 *
 * configure(element_type, kinds, keyword_bits, block_type, link_bit)
 *   element_type:  lxml.etree._Element; walk() refuses anything else.
 *   kinds:         {tag: (kind, tag_bit)}, kind a set of SKIP 1 / CONTEXT 2 / BLOCK 4 / MATH 8 (html_blocks._KIND),
 *                  tag_bit the element's CONTEXT_TAGS bit (0 when it has none). A tag not in it is inline.
 *   keyword_bits:  html_blocks.name_bits(class, id, itemprop or role) -> int, called for context and block elements.
 *   block_type:    html_blocks.Block, called as Block(tag, path, tag_bits, keyword_bits, own_keyword_bits, text,
 *                  chars, link_chars, starts_in_link) for every block whose text is not empty.
 *   link_bit:      the CONTEXT_TAGS bit of <a>: text under it is link text.
 * walk(root) -> list of Block, in document order.
 *
 * How it reads lxml's element: an lxml element is `struct LxmlElement` of lxml's public header etree.h
 * (PyObject_HEAD, the document, then the libxml2 node), a layout lxml has kept since its 2.0 C-API; libxml2's xmlNode
 * is read through the headers lxml ships (lxml.get_include()). Only fields are read; no libxml2 function is called,
 * so nothing links against libxml2. html_blocks.py uses this module only where the libxml2 major version it was built
 * against is the one lxml runs (tests compare the two walks block for block on real pages).
 *
 * Text follows lxml's rules: an element's text is its text and CDATA nodes before its first other child, a node's
 * tail those after it; both are decoded from UTF-8 as lxml decodes them (strictly: a page lxml cannot decode fails the
 * same way). Whitespace is Python's (Py_UNICODE_ISSPACE, as str.isspace and str.split use).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdlib.h>
#include <string.h>
#include <libxml/tree.h>

enum { KIND_SKIP = 1, KIND_CONTEXT = 2, KIND_BLOCK = 4, KIND_MATH = 8 };
/* html_blocks.MATH_TOKENS and TEX_ENCODING */
static const char *const MATH_TOKENS[] = {"mi", "mn", "mo", "mtext", "ms"};
static const char TEX_ENCODING[] = "application/x-tex";

typedef struct {
    PyObject_HEAD
    void *document;
    xmlNode *c_node;
} LxmlElementView;

typedef struct {
    char *name;
    int kind;
    long tag_bit;
} TagKind;

static PyTypeObject *element_type = NULL;
static PyObject *keyword_bits_fn = NULL;
static PyObject *block_type = NULL;
static TagKind *tag_kinds = NULL;
static size_t tag_kind_count = 0;
static long link_bit = 0;

static int compare_tag_kinds(const void *a, const void *b) {
    return strcmp(((const TagKind *)a)->name, ((const TagKind *)b)->name);
}

static const TagKind *find_kind(const char *name) {
    TagKind key = {(char *)name, 0, 0};
    return bsearch(&key, tag_kinds, tag_kind_count, sizeof(TagKind), compare_tag_kinds);
}

static void free_tag_kinds(void) {
    for (size_t i = 0; i < tag_kind_count; i++) free(tag_kinds[i].name);
    free(tag_kinds);
    tag_kinds = NULL;
    tag_kind_count = 0;
}

static PyObject *configure(PyObject *self, PyObject *args) {
    PyObject *type, *kinds, *keywords, *block;
    if (!PyArg_ParseTuple(args, "O!O!OOl", &PyType_Type, &type, &PyDict_Type, &kinds, &keywords, &block, &link_bit))
        return NULL;
    free_tag_kinds();
    Py_ssize_t count = PyDict_Size(kinds), position = 0;
    tag_kinds = calloc((size_t)count + 1, sizeof(TagKind));
    if (tag_kinds == NULL) return PyErr_NoMemory();
    PyObject *name, *value;
    while (PyDict_Next(kinds, &position, &name, &value)) {
        int kind;
        long bit;
        const char *utf8 = PyUnicode_AsUTF8(name);
        if (utf8 == NULL || !PyArg_ParseTuple(value, "il", &kind, &bit)) { free_tag_kinds(); return NULL; }
        tag_kinds[tag_kind_count].name = strdup(utf8);
        tag_kinds[tag_kind_count].kind = kind;
        tag_kinds[tag_kind_count].tag_bit = bit;
        tag_kind_count++;
    }
    qsort(tag_kinds, tag_kind_count, sizeof(TagKind), compare_tag_kinds);
    Py_INCREF(type); Py_XSETREF(element_type, (PyTypeObject *)type);
    Py_INCREF(keywords); Py_XSETREF(keyword_bits_fn, keywords);
    Py_INCREF(block); Py_XSETREF(block_type, block);
    Py_RETURN_NONE;
}

/* The context in force inside an element: its and its ancestors' tag and keyword bits, whether it is link text. */
typedef struct {
    xmlNode *node;
    int kind;
    long tag_bits, keyword_bits;
    int in_link;
} Frame;

/* A block element whose end the walk has not reached: its number's path, its tag, its own keyword bits. */
typedef struct {
    PyObject *path;  /* tuple of int */
    const xmlChar *tag;
    long own_keyword_bits;
} Opened;

typedef struct {
    Frame *frames;
    size_t frame_count, frame_capacity;
    Opened *opened;
    size_t opened_count, opened_capacity;
    long numbers;
    /* the block receiving text, if any (only the innermost open block element's newest block ever does) */
    int pending;
    Py_UCS4 *text;
    size_t text_length, text_capacity;
    long pending_tag_bits, pending_keyword_bits, pending_own_keyword_bits, link_chars;
    int starts_in_link;
    PyObject *pending_path;
    const xmlChar *pending_tag;
    Py_UCS4 *scratch;
    size_t scratch_capacity;
    PyObject *blocks;
} Walk;

static int grow(void **buffer, size_t *capacity, size_t needed, size_t item) {
    if (needed <= *capacity) return 0;
    size_t size = *capacity ? *capacity : 64;
    while (size < needed) size *= 2;
    void *larger = realloc(*buffer, size * item);
    if (larger == NULL) { PyErr_NoMemory(); return -1; }
    *buffer = larger;
    *capacity = size;
    return 0;
}

static size_t counted_chars(const Py_UCS4 *text, size_t length) {
    size_t count = 0;
    for (size_t i = 0; i < length; i++) count += text[i] != ' ' && text[i] != '\n';
    return count;
}

/* The pending block's text as Block.text: each line's whitespace runs made one space, lines trimmed, empty lines
 * dropped, lines joined by "\n" (what " ".join(line.split()) per "\n"-separated line gives). */
static int finish_block(Walk *walk) {
    if (!walk->pending) return 0;
    walk->pending = 0;
    if (grow((void **)&walk->scratch, &walk->scratch_capacity, walk->text_length + 1, sizeof(Py_UCS4)) < 0) return -1;
    size_t out = 0, line_start = 0;
    int space = 0;
    for (size_t i = 0; i < walk->text_length; i++) {
        Py_UCS4 c = walk->text[i];
        if (c == '\n') {
            if (out > line_start) walk->scratch[out++] = '\n', line_start = out;
            space = 0;
        } else if (Py_UNICODE_ISSPACE(c)) {
            space = out > line_start;
        } else {
            if (space) walk->scratch[out++] = ' ';
            space = 0;
            walk->scratch[out++] = c;
        }
    }
    if (out > 0 && walk->scratch[out - 1] == '\n') out--;
    size_t chars = counted_chars(walk->text, walk->text_length);
    walk->text_length = 0;
    PyObject *path = walk->pending_path;
    walk->pending_path = NULL;
    if (out == 0) { Py_DECREF(path); return 0; }
    PyObject *text = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, walk->scratch, (Py_ssize_t)out);
    PyObject *tag = PyUnicode_FromString((const char *)walk->pending_tag);
    PyObject *block = NULL;
    if (text != NULL && tag != NULL)
        block = PyObject_CallFunction(block_type, "OOlllOnlO", tag, path, walk->pending_tag_bits,
                                      walk->pending_keyword_bits, walk->pending_own_keyword_bits, text,
                                      (Py_ssize_t)chars, walk->link_chars,
                                      walk->starts_in_link ? Py_True : Py_False);
    Py_XDECREF(text);
    Py_XDECREF(tag);
    Py_DECREF(path);
    if (block == NULL) return -1;
    int failed = PyList_Append(walk->blocks, block);
    Py_DECREF(block);
    return failed;
}

static int append_unicode(Walk *walk, PyObject *piece) {
    Py_ssize_t length = PyUnicode_GET_LENGTH(piece);
    if (grow((void **)&walk->text, &walk->text_capacity, walk->text_length + (size_t)length, sizeof(Py_UCS4)) < 0)
        return -1;
    int kind = PyUnicode_KIND(piece);
    const void *data = PyUnicode_DATA(piece);
    for (Py_ssize_t i = 0; i < length; i++) walk->text[walk->text_length++] = PyUnicode_READ(kind, data, i);
    return 0;
}

/* Adds the text held by `piece` (a str) to the open block, starting one when none is open and the text is more than
 * whitespace (the indentation between tags starts no block). */
static int add_text(Walk *walk, PyObject *piece, int in_link) {
    size_t start = walk->text_length;
    if (append_unicode(walk, piece) < 0) return -1;
    size_t end = walk->text_length;
    if (!walk->pending) {
        int blank = 1;
        for (size_t i = start; i < end && blank; i++) blank = Py_UNICODE_ISSPACE(walk->text[i]);
        if (blank) { walk->text_length = start; return 0; }
        const Frame *context = &walk->frames[walk->frame_count - 1];
        const Opened *current = &walk->opened[walk->opened_count - 1];
        walk->pending = 1;
        walk->pending_tag_bits = context->tag_bits;
        walk->pending_keyword_bits = context->keyword_bits;
        walk->pending_own_keyword_bits = current->own_keyword_bits;
        walk->pending_tag = current->tag;
        walk->pending_path = current->path;
        Py_INCREF(current->path);
        walk->link_chars = 0;
        walk->starts_in_link = in_link;
    }
    if (in_link) walk->link_chars += (long)counted_chars(walk->text + start, end - start);
    return 0;
}

/* The text of `node` and the text and CDATA nodes right after it, as lxml's _collectText joins them; *after is set to
 * the first other node. NULL without an error when there is none. */
static PyObject *collect_text(xmlNode *node, xmlNode **after) {
    PyObject *joined = NULL;
    while (node != NULL && (node->type == XML_TEXT_NODE || node->type == XML_CDATA_SECTION_NODE)) {
        if (node->content != NULL && node->content[0] != '\0') {
            PyObject *piece = PyUnicode_DecodeUTF8((const char *)node->content,
                                                   (Py_ssize_t)strlen((const char *)node->content), NULL);
            if (piece == NULL) { Py_XDECREF(joined); return NULL; }
            if (joined == NULL) joined = piece;
            else {
                PyObject *both = PyUnicode_Concat(joined, piece);
                Py_DECREF(joined);
                Py_DECREF(piece);
                if (both == NULL) return NULL;
                joined = both;
            }
        }
        node = node->next;
    }
    *after = node;
    return joined;
}

/* `joined` (a str, consumed) followed by the node's content decoded from UTF-8; NULL on an error. */
static PyObject *append_content(PyObject *joined, const xmlNode *node) {
    if (node->content == NULL) return joined;
    PyObject *piece = PyUnicode_DecodeUTF8((const char *)node->content,
                                           (Py_ssize_t)strlen((const char *)node->content), NULL);
    PyObject *both = piece ? PyUnicode_Concat(joined, piece) : NULL;
    Py_XDECREF(piece);
    Py_DECREF(joined);
    return both;
}

static PyObject *attribute(xmlNode *node, const char *name) {
    for (xmlAttr *attr = node->properties; attr != NULL; attr = attr->next) {
        if (attr->ns != NULL || strcmp((const char *)attr->name, name) != 0) continue;
        /* an attribute without a value reads as "" (libxml2's xmlGetNoNsProp, which lxml's get() calls) */
        if (attr->children == NULL) return PyUnicode_FromStringAndSize("", 0);
        PyObject *joined = PyUnicode_FromStringAndSize("", 0);
        for (xmlNode *part = attr->children; part != NULL && joined != NULL; part = part->next)
            joined = append_content(joined, part);
        return joined;
    }
    Py_RETURN_NONE;
}

static int is_empty_or_none(PyObject *value) {
    return value == Py_None || PyUnicode_GET_LENGTH(value) == 0;
}

static long element_keyword_bits(xmlNode *node) {
    PyObject *class_name = attribute(node, "class");
    PyObject *id = class_name ? attribute(node, "id") : NULL;
    PyObject *marker = id ? attribute(node, "itemprop") : NULL;
    if (marker != NULL && is_empty_or_none(marker)) {
        Py_DECREF(marker);
        marker = attribute(node, "role");
    }
    long bits = -1;
    if (marker != NULL) {
        PyObject *result = PyObject_CallFunctionObjArgs(keyword_bits_fn, class_name, id, marker, NULL);
        if (result != NULL) { bits = PyLong_AsLong(result); Py_DECREF(result); }
    }
    Py_XDECREF(class_name);
    Py_XDECREF(id);
    Py_XDECREF(marker);
    return bits;
}

/* html_blocks.is_hidden: a `hidden` attribute, or a `style` (the first) that, with ASCII spaces removed and ASCII
 * letters lower-cased, holds display:none or visibility:hidden. Bytes of UTF-8 compare as html_blocks' code points
 * do, since both patterns are ASCII. -1 on a memory error. */
static int is_hidden(xmlNode *node) {
    int style_seen = 0;
    for (xmlAttr *attr = node->properties; attr != NULL; attr = attr->next) {
        if (attr->ns != NULL) continue;
        if (strcmp((const char *)attr->name, "hidden") == 0) return 1;
        if (style_seen || strcmp((const char *)attr->name, "style") != 0) continue;
        style_seen = 1;
        size_t length = 0;
        for (xmlNode *part = attr->children; part != NULL; part = part->next)
            if (part->content != NULL) length += strlen((const char *)part->content);
        char *folded = malloc(length + 1);
        if (folded == NULL) { PyErr_NoMemory(); return -1; }
        size_t out = 0;
        for (xmlNode *part = attr->children; part != NULL; part = part->next) {
            for (const unsigned char *c = part->content; c != NULL && *c; c++) {
                if (strchr(" \t\n\r\f\v", *c) != NULL) continue;
                folded[out++] = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
            }
        }
        folded[out] = '\0';
        int hidden = strstr(folded, "display:none") != NULL || strstr(folded, "visibility:hidden") != NULL;
        free(folded);
        if (hidden) return 1;
    }
    return 0;
}

/* The node after `node` in document order within `root`'s subtree (elements' children first), NULL at its end. */
static xmlNode *next_within(xmlNode *node, xmlNode *root) {
    if (node->type == XML_ELEMENT_NODE && node->children != NULL) return node->children;
    while (node != root) {
        if (node->next != NULL) return node->next;
        node = node->parent;
    }
    return NULL;
}

/* Its text and CDATA nodes joined in document order (lxml's "".join(element.itertext())). */
static PyObject *subtree_text(xmlNode *element) {
    PyObject *joined = PyUnicode_FromStringAndSize("", 0);
    for (xmlNode *node = element->children; node != NULL && joined != NULL; node = next_within(node, element)) {
        if (node->type == XML_TEXT_NODE || node->type == XML_CDATA_SECTION_NODE) joined = append_content(joined, node);
    }
    return joined;
}

static int is_math_token(const xmlNode *node) {
    for (size_t i = 0; i < sizeof MATH_TOKENS / sizeof MATH_TOKENS[0]; i++)
        if (strcmp((const char *)node->name, MATH_TOKENS[i]) == 0) return 1;
    return 0;
}

/* html_blocks.math_text: the alttext, else the first LaTeX <annotation>'s text, else the token elements' stripped
 * texts joined by spaces (tokens in document order, a token inside a token counted again, as lxml's iter() visits). */
static PyObject *math_text(xmlNode *math) {
    PyObject *alttext = attribute(math, "alttext");
    if (alttext == NULL) return NULL;
    if (alttext != Py_None) {
        Py_ssize_t length = PyUnicode_GET_LENGTH(alttext);
        for (Py_ssize_t i = 0; i < length; i++)
            if (!Py_UNICODE_ISSPACE(PyUnicode_READ_CHAR(alttext, i))) return alttext;
    }
    Py_DECREF(alttext);
    for (xmlNode *node = math->children; node != NULL; node = next_within(node, math)) {
        if (node->type != XML_ELEMENT_NODE || strcmp((const char *)node->name, "annotation") != 0) continue;
        PyObject *encoding = attribute(node, "encoding");
        if (encoding == NULL) return NULL;
        int is_tex = 0;
        if (encoding != Py_None) {
            PyObject *lowered = PyObject_CallMethod(encoding, "lower", NULL);
            if (lowered == NULL) { Py_DECREF(encoding); return NULL; }
            is_tex = PyUnicode_CompareWithASCIIString(lowered, TEX_ENCODING) == 0;
            Py_DECREF(lowered);
        }
        Py_DECREF(encoding);
        if (is_tex) return subtree_text(node);
    }
    PyObject *symbols = PyList_New(0);
    for (xmlNode *node = math->children; node != NULL && symbols != NULL; node = next_within(node, math)) {
        if (node->type != XML_ELEMENT_NODE || !is_math_token(node)) continue;
        PyObject *text = subtree_text(node);
        PyObject *stripped = text ? PyObject_CallMethod(text, "strip", NULL) : NULL;
        Py_XDECREF(text);
        if (stripped == NULL || (PyUnicode_GET_LENGTH(stripped) > 0 && PyList_Append(symbols, stripped) < 0)) {
            Py_XDECREF(stripped);
            Py_CLEAR(symbols);
            break;
        }
        Py_DECREF(stripped);
    }
    if (symbols == NULL) return NULL;
    PyObject *space = PyUnicode_FromStringAndSize(" ", 1);
    PyObject *joined = space ? PyUnicode_Join(space, symbols) : NULL;
    Py_XDECREF(space);
    Py_DECREF(symbols);
    return joined;
}

/* Pushes the element's frame and does what its start does; *descend says whether to walk its children. */
static int start_element(Walk *walk, xmlNode *node, int *descend) {
    const Frame *parent = &walk->frames[walk->frame_count - 1];
    const TagKind *found = node->name ? find_kind((const char *)node->name) : NULL;
    Frame frame = {node, found ? found->kind : 0, parent->tag_bits, parent->keyword_bits, parent->in_link};
    if (!(frame.kind & KIND_SKIP) && node->properties != NULL) {
        int hidden = is_hidden(node);
        if (hidden < 0) return -1;
        if (hidden) frame.kind = KIND_SKIP;  /* skipped whole, as the tags that never hold prose */
    }
    *descend = !(frame.kind & (KIND_SKIP | KIND_MATH));
    if (frame.kind & KIND_MATH) {  /* its text in place of its subtree, spaced from the words around it */
        PyObject *math = math_text(node);
        PyObject *spaced = math ? PyUnicode_FromFormat(" %U ", math) : NULL;
        Py_XDECREF(math);
        if (spaced == NULL || add_text(walk, spaced, frame.in_link) < 0) { Py_XDECREF(spaced); return -1; }
        Py_DECREF(spaced);
    }
    if (frame.kind == 0 && node->name != NULL && strcmp((const char *)node->name, "br") == 0) {
        PyObject *line = PyUnicode_FromStringAndSize("\n", 1);
        if (line == NULL || add_text(walk, line, 0) < 0) { Py_XDECREF(line); return -1; }
        Py_DECREF(line);
    }
    if (frame.kind & (KIND_CONTEXT | KIND_BLOCK)) {
        long own_keyword_bits = element_keyword_bits(node);
        if (own_keyword_bits == -1 && PyErr_Occurred()) return -1;
        if (frame.kind & KIND_CONTEXT) frame.tag_bits |= found->tag_bit;
        frame.keyword_bits |= own_keyword_bits;
        frame.in_link = (frame.tag_bits & link_bit) != 0;
        if (frame.kind & KIND_BLOCK) {
            if (finish_block(walk) < 0) return -1;
            if (grow((void **)&walk->opened, &walk->opened_capacity, walk->opened_count + 1, sizeof(Opened)) < 0)
                return -1;
            PyObject *parent_path = walk->opened[walk->opened_count - 1].path;
            Py_ssize_t depth = PyTuple_GET_SIZE(parent_path);
            PyObject *path = PyTuple_New(depth + 1);
            if (path == NULL) return -1;
            for (Py_ssize_t i = 0; i < depth; i++) {
                PyObject *number = PyTuple_GET_ITEM(parent_path, i);
                Py_INCREF(number);
                PyTuple_SET_ITEM(path, i, number);
            }
            PyObject *number = PyLong_FromLong(++walk->numbers);
            if (number == NULL) { Py_DECREF(path); return -1; }
            PyTuple_SET_ITEM(path, depth, number);
            walk->opened[walk->opened_count++] = (Opened){path, node->name, own_keyword_bits};
        }
    }
    if (grow((void **)&walk->frames, &walk->frame_capacity, walk->frame_count + 1, sizeof(Frame)) < 0) return -1;
    walk->frames[walk->frame_count++] = frame;
    return 0;
}

static int end_element(Walk *walk) {
    Frame frame = walk->frames[--walk->frame_count];
    if ((frame.kind & KIND_BLOCK) && walk->opened_count > 1) {
        if (finish_block(walk) < 0) return -1;
        Py_DECREF(walk->opened[--walk->opened_count].path);
    }
    return 0;
}

/* Adds the text nodes starting at `node` (if any) to the open block; returns the first node after them. */
static int add_text_nodes(Walk *walk, xmlNode *node, xmlNode **after) {
    PyObject *text = collect_text(node, after);
    if (text == NULL) return PyErr_Occurred() ? -1 : 0;
    int failed = add_text(walk, text, walk->frames[walk->frame_count - 1].in_link);
    Py_DECREF(text);
    return failed;
}

static int walk_tree(Walk *walk, xmlNode *root) {
    int descend;
    if (start_element(walk, root, &descend) < 0) return -1;
    xmlNode *next = descend ? root->children : NULL;
    while (walk->frame_count > 1) {
        if (next == NULL) {  /* the end of the innermost open element; its tail follows */
            xmlNode *ended = walk->frames[walk->frame_count - 1].node;
            if (end_element(walk) < 0) return -1;
            next = ended == root ? NULL : ended->next;
            if (ended == root) {  /* the root's tail: the text nodes after it */
                xmlNode *after;
                return add_text_nodes(walk, root->next, &after);
            }
            continue;
        }
        if (next->type == XML_TEXT_NODE || next->type == XML_CDATA_SECTION_NODE) {
            if (add_text_nodes(walk, next, &next) < 0) return -1;
        } else if (next->type == XML_ELEMENT_NODE) {
            if (start_element(walk, next, &descend) < 0) return -1;
            next = descend ? next->children : NULL;
        } else {
            next = next->next;  /* comments, processing instructions: their tails are the text nodes after them */
        }
    }
    return 0;
}

static PyObject *walk_page(PyObject *self, PyObject *root) {
    if (element_type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "_html_blocks.configure() was not called");
        return NULL;
    }
    if (!PyObject_TypeCheck(root, element_type)) {
        PyErr_Format(PyExc_TypeError, "walk() takes an lxml element, not %.100s", Py_TYPE(root)->tp_name);
        return NULL;
    }
    xmlNode *node = ((LxmlElementView *)root)->c_node;
    if (node == NULL || node->type != XML_ELEMENT_NODE) {
        PyErr_SetString(PyExc_TypeError, "walk() takes an element node");
        return NULL;
    }
    Walk walk;
    memset(&walk, 0, sizeof walk);
    walk.blocks = PyList_New(0);
    PyObject *document_path = Py_BuildValue("(i)", 0);
    int failed = walk.blocks == NULL || document_path == NULL
        || grow((void **)&walk.frames, &walk.frame_capacity, 64, sizeof(Frame)) < 0
        || grow((void **)&walk.opened, &walk.opened_capacity, 16, sizeof(Opened)) < 0;
    if (!failed) {
        walk.frames[walk.frame_count++] = (Frame){NULL, 0, 0, 0, 0};
        walk.opened[walk.opened_count++] = (Opened){document_path, (const xmlChar *)"html", 0};
        Py_INCREF(document_path);
        failed = walk_tree(&walk, node) < 0 || finish_block(&walk) < 0;
    }
    for (size_t i = 0; i < walk.opened_count; i++) Py_DECREF(walk.opened[i].path);
    Py_XDECREF(walk.pending_path);
    Py_XDECREF(document_path);
    free(walk.frames);
    free(walk.opened);
    free(walk.text);
    free(walk.scratch);
    if (failed) { Py_XDECREF(walk.blocks); return NULL; }
    return walk.blocks;
}

static PyMethodDef methods[] = {
    {"configure", configure, METH_VARARGS, "configure(element_type, kinds, keyword_bits, block_type, link_bit)"},
    {"walk", walk_page, METH_O, "walk(root) -> the page's blocks, in document order"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_html_blocks", NULL, -1, methods};

PyMODINIT_FUNC PyInit__html_blocks(void) {
    PyObject *created = PyModule_Create(&module);
    if (created != NULL && PyModule_AddIntConstant(created, "LIBXML_MAJOR_VERSION", LIBXML_VERSION / 10000) < 0) {
        Py_DECREF(created);
        return NULL;
    }
    return created;
}
