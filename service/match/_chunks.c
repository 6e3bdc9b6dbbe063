/*
 * ChunkTable: the matcher's memo of whitespace-free chunks, looked up without a str per chunk.
 *
 * Scanner.scan (scan.py) splits every field into chunks at spaces, tabs and line breaks and asks
 * its memo what each chunk holds. Done in Python, that costs one new str object per chunk (a
 * 4 KB article has about 600), its hash and its deallocation, for chunks that almost all hold
 * nothing. Here a field is walked in place: each chunk is hashed from the field's own buffer and
 * compared with the stored chunks code point by code point, and a str object is made only for a
 * chunk not seen before. The table owns one reference to each stored chunk and hands that same
 * object back for chunks that hold something, so the Python side can key its dicts by it.
 *
 * A chunk not seen before is stored by the walk that meets it, as pending: the walk hands each
 * one out once, in a list (no set to build, no second table), and `settle` records its flags
 * once the scan has analysed it. A pending chunk is unknown to `get` and to any other walk, so a
 * scan that fails between the two only leaves it to be analysed again.
 *
 * The table is a pure cache of a pure function of the chunk; `_DictTable` in scan.py is the same
 * thing in Python (used where this module was not built) and the tests hold the two to the same
 * answers. The GIL is held throughout.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#if defined(__unix__) || defined(__APPLE__)
#include <sys/mman.h>
#endif

typedef struct {
    uint64_t hash;
    PyObject *key; /* a str, owned; NULL marks an empty slot */
    long long flags; /* while pending: the chunk's place in that walk's list of new chunks */
    /* Not 0: the walk of that number handed the chunk out as new and its flags are not recorded
     * yet (`settle`). Until then the chunk is unknown to `get` and to every other walk. */
    uint64_t pending;
} Entry;

typedef struct {
    PyObject_HEAD
    Entry *slots;
    Py_ssize_t mask; /* capacity - 1; capacity is a power of two */
    Py_ssize_t used;
    uint64_t walks; /* walks so far: each one's number marks the chunks it handed out */
} ChunkTable;

/* Python 3.11 may hand over a string not yet "ready" (built through the old Py_UNICODE API);
 * from 3.12 every string is, and PyUnicode_READY is deprecated. */
#if PY_VERSION_HEX < 0x030C0000
#define READY(text) PyUnicode_READY(text)
#else
#define READY(text) 0
#endif

#define FNV_OFFSET 1469598103934665603ULL
#define FNV_PRIME 1099511628211ULL

/* Feed text reaches the table, so its hashing must not be predictable from outside: every hash
 * starts from a per-process seed (taken from str hashing, so PYTHONHASHSEED governs it), and a slot
 * is chosen from all 64 bits through a finaliser, since FNV's low bits depend only on the low bits
 * of each character. */
static uint64_t hash_seed;

static inline Py_ssize_t
slot_of(uint64_t hash, Py_ssize_t mask)
{
    hash ^= hash >> 33;
    hash *= 0xff51afd7ed558ccdULL;
    hash ^= hash >> 33;
    hash *= 0xc4ceb9fe1a85ec53ULL;
    hash ^= hash >> 33;
    return (Py_ssize_t)(hash & (uint64_t)mask);
}

/* The chunk delimiters of scan.py: the space and the whitespace normalised text usually holds. */
static inline int
is_delimiter(Py_UCS4 c)
{
    return c == ' ' || c == '\n' || c == '\t' || c == '\r';
}

static inline uint64_t
mix(uint64_t hash, Py_UCS4 c)
{
    return (hash ^ (uint64_t)c) * FNV_PRIME;
}

/* The hash of code points [start, end) of a str, independent of its storage kind. */
static uint64_t
hash_span(int kind, const void *data, Py_ssize_t start, Py_ssize_t end)
{
    uint64_t hash = FNV_OFFSET ^ hash_seed;
    for (Py_ssize_t i = start; i < end; i++) {
        hash = mix(hash, PyUnicode_READ(kind, data, i));
    }
    return hash;
}

/* Does the stored chunk `key` hold exactly code points [start, end) of the text? */
static int
same_chunk(PyObject *key, int kind, const void *data, Py_ssize_t start, Py_ssize_t end)
{
    Py_ssize_t length = end - start;
    if (PyUnicode_GET_LENGTH(key) != length) {
        return 0;
    }
    int key_kind = PyUnicode_KIND(key);
    const void *key_data = PyUnicode_DATA(key);
    if (key_kind == kind) {
        const char *span = (const char *)data + start * kind;
        /* settle() records the very str a walk handed out: no need to compare it with itself */
        return key_data == span || memcmp(key_data, span, (size_t)(length * kind)) == 0;
    }
    for (Py_ssize_t i = 0; i < length; i++) {
        if (PyUnicode_READ(key_kind, key_data, i) != PyUnicode_READ(kind, data, start + i)) {
            return 0;
        }
    }
    return 1;
}

static Entry *
find_slot(ChunkTable *self, uint64_t hash, int kind, const void *data, Py_ssize_t start,
          Py_ssize_t end)
{
    Py_ssize_t at = slot_of(hash, self->mask);
    for (;;) {
        Entry *entry = &self->slots[at];
        if (entry->key == NULL) {
            return entry;
        }
        if (entry->hash == hash && same_chunk(entry->key, kind, data, start, end)) {
            return entry;
        }
        at = (at + 1) & self->mask;
    }
}

/* `capacity` empty slots. Zeroed by memset, not calloc: a large calloc comes fresh from mmap and
 * is left untouched, so the first probe of each page maps the shared zero page and the first
 * store into it faults again to copy it; writing every page once here faults each page once, in
 * order, which on a cold pass (the table grows to megabytes) halved the page faults.
 *
 * From HUGE_BYTES on, where the kernel offers it, the slots are their own mapping in transparent
 * huge pages instead: a table of 2 MB or more is then one fault per 2 MB instead of one per 4 KB,
 * and its random probes (the walk's one cache miss per chunk) no longer miss the TLB too. */
#if defined(MADV_HUGEPAGE) && defined(MAP_ANONYMOUS)
#define HUGE_BYTES ((size_t)2 << 20)
#endif

static int
is_mapped(Py_ssize_t capacity)
{
#ifdef HUGE_BYTES
    return (size_t)capacity * sizeof(Entry) >= HUGE_BYTES;
#else
    (void)capacity;
    return 0;
#endif
}

static Entry *
new_slots(Py_ssize_t capacity)
{
    size_t bytes = (size_t)capacity * sizeof(Entry);
#ifdef HUGE_BYTES
    if (is_mapped(capacity)) {
        /* capacity is a power of two, so bytes is a multiple of 2 MB; aligned by over-mapping */
        char *area = mmap(NULL, bytes + HUGE_BYTES, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (area == MAP_FAILED) {
            return NULL;
        }
        size_t lead = (HUGE_BYTES - ((uintptr_t)area & (HUGE_BYTES - 1))) & (HUGE_BYTES - 1);
        if (lead) {
            munmap(area, lead);
        }
        munmap(area + lead + bytes, HUGE_BYTES - lead);
        (void)madvise(area + lead, bytes, MADV_HUGEPAGE); /* a hint: zeroed pages either way */
        return (Entry *)(area + lead);
    }
#endif
    Entry *slots = PyMem_Malloc(bytes);
    if (slots != NULL) {
        memset(slots, 0, bytes);
    }
    return slots;
}

static void
free_slots(Entry *slots, Py_ssize_t capacity)
{
#ifdef HUGE_BYTES
    if (is_mapped(capacity)) {
        munmap(slots, (size_t)capacity * sizeof(Entry));
        return;
    }
#endif
    PyMem_Free(slots);
}

static int
grow(ChunkTable *self)
{
    Py_ssize_t capacity = (self->mask + 1) * 2;
    Entry *slots = new_slots(capacity);
    if (slots == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i <= self->mask; i++) {
        Entry *old = &self->slots[i];
        if (old->key != NULL) {
            Py_ssize_t at = slot_of(old->hash, capacity - 1);
            while (slots[at].key != NULL) {
                at = (at + 1) & (capacity - 1);
            }
            slots[at] = *old;
        }
    }
    free_slots(self->slots, self->mask + 1);
    self->slots = slots;
    self->mask = capacity - 1;
    return 0;
}

/* The empty slot `entry` (found for code points [start, end) of `data`), or its new place once the
 * table has grown to take one more chunk: hash set, key still NULL, counted as used. NULL when
 * growing failed (MemoryError set; nothing changed). */
static Entry *
claim(ChunkTable *self, Entry *entry, uint64_t hash, int kind, const void *data, Py_ssize_t start,
      Py_ssize_t end)
{
    if ((self->used + 1) * 2 > self->mask + 1) {
        if (grow(self) < 0) {
            return NULL;
        }
        entry = find_slot(self, hash, kind, data, start, end);
    }
    entry->hash = hash;
    entry->flags = 0;
    entry->pending = 0;
    self->used++;
    return entry;
}

static int
store(ChunkTable *self, PyObject *chunk, long long flags)
{
    int kind = PyUnicode_KIND(chunk);
    const void *data = PyUnicode_DATA(chunk);
    Py_ssize_t length = PyUnicode_GET_LENGTH(chunk);
    uint64_t hash = hash_span(kind, data, 0, length);
    Entry *entry = find_slot(self, hash, kind, data, 0, length);
    if (entry->key != NULL) {
        entry->flags = flags;
        entry->pending = 0;
        return 0;
    }
    entry = claim(self, entry, hash, kind, data, 0, length);
    if (entry == NULL) {
        return -1;
    }
    Py_INCREF(chunk);
    entry->key = chunk;
    entry->flags = flags;
    return 0;
}

static PyObject *
ChunkTable_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, ":ChunkTable", keywords)) {
        return NULL;
    }
    ChunkTable *self = (ChunkTable *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    self->slots = new_slots(1024);
    if (self->slots == NULL) {
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    self->mask = 1023;
    self->used = 0;
    return (PyObject *)self;
}

static void
ChunkTable_dealloc(ChunkTable *self)
{
    if (self->slots != NULL) {
        for (Py_ssize_t i = 0; i <= self->mask; i++) {
            Py_XDECREF(self->slots[i].key);
        }
        free_slots(self->slots, self->mask + 1);
    }
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static Py_ssize_t
ChunkTable_len(ChunkTable *self)
{
    return self->used;
}

PyDoc_STRVAR(update_doc,
             "update(flags: dict[str, int]) -> None\n\n"
             "Record what each chunk holds (0: nothing). An empty chunk is ignored.");

static PyObject *
ChunkTable_update(ChunkTable *self, PyObject *flags)
{
    if (!PyDict_Check(flags)) {
        PyErr_SetString(PyExc_TypeError, "update() takes a dict of str to int");
        return NULL;
    }
    Py_ssize_t position = 0;
    PyObject *chunk, *value;
    while (PyDict_Next(flags, &position, &chunk, &value)) {
        if (!PyUnicode_Check(chunk) || !PyLong_Check(value)) {
            PyErr_SetString(PyExc_TypeError, "update() takes a dict of str to int");
            return NULL;
        }
        if (READY(chunk) < 0) {
            return NULL;
        }
        long long number = PyLong_AsLongLong(value);
        if (number == -1 && PyErr_Occurred()) {
            return NULL;
        }
        if (PyUnicode_GET_LENGTH(chunk) > 0 && store(self, chunk, number) < 0) {
            return NULL;
        }
    }
    Py_RETURN_NONE;
}

PyDoc_STRVAR(get_doc,
             "get(chunk: str) -> int | None\n\n"
             "What the chunk holds, or None when it was never recorded.");

static PyObject *
ChunkTable_get(ChunkTable *self, PyObject *chunk)
{
    if (!PyUnicode_Check(chunk)) {
        PyErr_SetString(PyExc_TypeError, "get() takes a str");
        return NULL;
    }
    if (READY(chunk) < 0) {
        return NULL;
    }
    int kind = PyUnicode_KIND(chunk);
    const void *data = PyUnicode_DATA(chunk);
    Py_ssize_t length = PyUnicode_GET_LENGTH(chunk);
    if (length == 0) {
        return PyLong_FromLong(0);
    }
    Entry *entry = find_slot(self, hash_span(kind, data, 0, length), kind, data, 0, length);
    if (entry->key == NULL || entry->pending) {
        Py_RETURN_NONE;
    }
    return PyLong_FromLongLong(entry->flags);
}

PyDoc_STRVAR(walk_doc,
             "walk(text: str) -> tuple[list[tuple[int, str, int]], list[str], bytes]\n\n"
             "Split `text` into chunks at spaces, tabs and line breaks. Return (offset, chunk,\n"
             "flags) of every chunk recorded with flags other than 0, in text order; the chunks\n"
             "not recorded, each once, in text order; and where those stand (native-endian int64\n"
             "pairs: offset, place in that list). The new chunks are kept as pending: unknown to\n"
             "`get` and to other walks until `settle` (or `update`) records their flags.");

/* Where a walk met new chunks: (offset, place in its list of new chunks) pairs. */
typedef struct {
    int64_t *pairs;
    Py_ssize_t used, size; /* in pairs */
} Seen;

static int
seen_add(Seen *seen, Py_ssize_t offset, Py_ssize_t place)
{
    if (seen->used == seen->size) {
        Py_ssize_t size = seen->size ? seen->size * 2 : 256;
        int64_t *pairs = PyMem_Realloc(seen->pairs, (size_t)size * 2 * sizeof(int64_t));
        if (pairs == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        seen->pairs = pairs;
        seen->size = size;
    }
    seen->pairs[2 * seen->used] = offset;
    seen->pairs[2 * seen->used + 1] = place;
    seen->used++;
    return 0;
}

/* (offset, chunk, flags), without Py_BuildValue's format parsing: a walk makes one per chunk
 * that holds something, warm or cold. */
static PyObject *
placed_tuple(Py_ssize_t offset, PyObject *chunk, long long flags)
{
    PyObject *at = PyLong_FromSsize_t(offset);
    PyObject *value = at == NULL ? NULL : PyLong_FromLongLong(flags);
    PyObject *found = value == NULL ? NULL : PyTuple_New(3);
    if (found == NULL) {
        Py_XDECREF(at);
        Py_XDECREF(value);
        return NULL;
    }
    Py_INCREF(chunk);
    PyTuple_SET_ITEM(found, 0, at);
    PyTuple_SET_ITEM(found, 1, chunk);
    PyTuple_SET_ITEM(found, 2, value);
    return found;
}

static PyObject *
ChunkTable_walk(ChunkTable *self, PyObject *text)
{
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "walk() takes a str");
        return NULL;
    }
    if (READY(text) < 0) {
        return NULL;
    }
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t size = PyUnicode_GET_LENGTH(text);
    /* The new chunks go into the table at once, marked with this walk's number: a chunk met
     * again in this field is then one lookup, and the caller gets a list to join, no set. */
    uint64_t walk = ++self->walks;
    Seen seen = {NULL, 0, 0};
    PyObject *placed = PyList_New(0);
    PyObject *unknown = PyList_New(0);
    if (placed == NULL || unknown == NULL) {
        goto error;
    }
    Py_ssize_t i = 0;
    while (i < size) {
        if (is_delimiter(PyUnicode_READ(kind, data, i))) {
            i++;
            continue;
        }
        Py_ssize_t start = i;
        uint64_t hash = FNV_OFFSET ^ hash_seed;
        for (; i < size; i++) {
            Py_UCS4 c = PyUnicode_READ(kind, data, i);
            if (is_delimiter(c)) {
                break;
            }
            hash = mix(hash, c);
        }
        Entry *entry = find_slot(self, hash, kind, data, start, i);
        if (entry->key == NULL) {
            PyObject *chunk = PyUnicode_Substring(text, start, i);
            if (chunk == NULL) {
                goto error;
            }
            entry = claim(self, entry, hash, kind, data, start, i);
            if (entry == NULL) {
                Py_DECREF(chunk);
                goto error;
            }
            entry->key = chunk; /* the table's reference */
            entry->pending = walk;
            entry->flags = PyList_GET_SIZE(unknown);
            if (PyList_Append(unknown, chunk) < 0) {
                goto error;
            }
            if (seen_add(&seen, start, (Py_ssize_t)entry->flags) < 0) {
                goto error;
            }
        }
        else if (entry->pending) {
            if (entry->pending != walk) { /* handed out by an earlier walk, never settled */
                entry->pending = walk;
                entry->flags = PyList_GET_SIZE(unknown);
                if (PyList_Append(unknown, entry->key) < 0) {
                    goto error;
                }
            }
            if (seen_add(&seen, start, (Py_ssize_t)entry->flags) < 0) {
                goto error;
            }
        }
        else if (entry->flags != 0) {
            PyObject *found = placed_tuple(start, entry->key, entry->flags);
            if (found == NULL) {
                goto error;
            }
            int appended = PyList_Append(placed, found);
            Py_DECREF(found);
            if (appended < 0) {
                goto error;
            }
        }
    }
    PyObject *where = PyBytes_FromStringAndSize((const char *)seen.pairs,
                                                (Py_ssize_t)(seen.used * 2 * (Py_ssize_t)sizeof(int64_t)));
    PyMem_Free(seen.pairs);
    PyObject *result = where == NULL ? NULL : PyTuple_Pack(3, placed, unknown, where);
    Py_XDECREF(where);
    Py_DECREF(placed);
    Py_DECREF(unknown);
    return result;

error:
    PyMem_Free(seen.pairs);
    Py_XDECREF(placed);
    Py_XDECREF(unknown);
    return NULL;
}

PyDoc_STRVAR(settle_doc,
             "settle(chunks: list[str], flags: list[int], placed: list[tuple[int, str, int]],\n"
             "       where: bytes) -> list[tuple[int, str, int]]\n\n"
             "Record what each of the new chunks a walk handed out holds (flags[i] for chunks[i]),\n"
             "as `update` does, and return that walk's `placed` with the new chunks that hold\n"
             "something added where they stand (`where`): what walking the text again would give.");

static PyObject *
ChunkTable_settle(ChunkTable *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4 || !PyList_Check(args[0]) || !PyList_Check(args[1]) || !PyList_Check(args[2])
        || !PyBytes_Check(args[3]) || PyList_GET_SIZE(args[0]) != PyList_GET_SIZE(args[1])
        || PyBytes_GET_SIZE(args[3]) % (2 * (Py_ssize_t)sizeof(int64_t)) != 0) {
        PyErr_SetString(PyExc_TypeError,
                        "settle() takes the new chunks, as many int flags, and a walk's placed and where");
        return NULL;
    }
    PyObject *chunks = args[0], *flags = args[1], *placed = args[2];
    Py_ssize_t count = PyList_GET_SIZE(chunks);
    unsigned char *holds = PyMem_Malloc(count ? (size_t)count : 1); /* flags[i] != 0 */
    if (holds == NULL) {
        return PyErr_NoMemory();
    }
    PyObject *merged = NULL;
    int any = 0;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *chunk = PyList_GET_ITEM(chunks, i);
        PyObject *value = PyList_GET_ITEM(flags, i);
        if (!PyUnicode_Check(chunk) || !PyLong_Check(value)) {
            PyErr_SetString(PyExc_TypeError, "settle() takes a list of str and a list of int as long");
            goto error;
        }
        if (READY(chunk) < 0) {
            goto error;
        }
        long long number = PyLong_AsLongLong(value);
        if (number == -1 && PyErr_Occurred()) {
            goto error;
        }
        holds[i] = number != 0;
        any |= holds[i];
        if (PyUnicode_GET_LENGTH(chunk) > 0 && store(self, chunk, number) < 0) {
            goto error;
        }
    }
    if (!any) {
        PyMem_Free(holds);
        return Py_NewRef(placed);
    }
    /* Merge, by offset, the chunks placed before with the new ones that hold something. */
    int64_t pair[2];
    const char *where = PyBytes_AS_STRING(args[3]);
    Py_ssize_t pairs = PyBytes_GET_SIZE(args[3]) / (2 * (Py_ssize_t)sizeof(int64_t));
    Py_ssize_t old = PyList_GET_SIZE(placed), k = 0;
    merged = PyList_New(0);
    if (merged == NULL) {
        goto error;
    }
    for (Py_ssize_t p = 0; p <= pairs; p++) {
        Py_ssize_t offset = PY_SSIZE_T_MAX, place = 0;
        if (p < pairs) {
            memcpy(pair, where + p * (Py_ssize_t)sizeof(pair), sizeof(pair));
            offset = (Py_ssize_t)pair[0];
            place = (Py_ssize_t)pair[1];
            if (place < 0 || place >= count) {
                PyErr_SetString(PyExc_ValueError, "settle() takes where from the walk of these chunks");
                goto error;
            }
        }
        for (; k < old; k++) { /* the chunks placed before this one */
            PyObject *item = PyList_GET_ITEM(placed, k);
            if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 3) {
                PyErr_SetString(PyExc_TypeError, "settle() takes a walk's placed list");
                goto error;
            }
            Py_ssize_t at = PyLong_AsSsize_t(PyTuple_GET_ITEM(item, 0));
            if (at == -1 && PyErr_Occurred()) {
                goto error;
            }
            if (at > offset) {
                break;
            }
            if (PyList_Append(merged, item) < 0) {
                goto error;
            }
        }
        if (p == pairs) {
            break;
        }
        if (!holds[place]) { /* most new chunks hold nothing */
            continue;
        }
        PyObject *value = PyList_GET_ITEM(flags, place);
        PyObject *found = PyTuple_New(3);
        PyObject *at = found == NULL ? NULL : PyLong_FromSsize_t(offset);
        if (at == NULL) {
            Py_XDECREF(found);
            goto error;
        }
        PyTuple_SET_ITEM(found, 0, at);
        PyTuple_SET_ITEM(found, 1, Py_NewRef(PyList_GET_ITEM(chunks, place)));
        PyTuple_SET_ITEM(found, 2, Py_NewRef(value));
        int appended = PyList_Append(merged, found);
        Py_DECREF(found);
        if (appended < 0) {
            goto error;
        }
    }
    PyMem_Free(holds);
    return merged;

error:
    PyMem_Free(holds);
    Py_XDECREF(merged);
    return NULL;
}

static PyMethodDef ChunkTable_methods[] = {
    {"update", (PyCFunction)ChunkTable_update, METH_O, update_doc},
    {"get", (PyCFunction)ChunkTable_get, METH_O, get_doc},
    {"walk", (PyCFunction)ChunkTable_walk, METH_O, walk_doc},
    {"settle", (PyCFunction)(void (*)(void))ChunkTable_settle, METH_FASTCALL, settle_doc},
    {NULL, NULL, 0, NULL},
};

static PySequenceMethods ChunkTable_as_sequence = {
    .sq_length = (lenfunc)ChunkTable_len,
};

static PyTypeObject ChunkTableType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "service.match._chunks.ChunkTable",
    .tp_doc = PyDoc_STR("What each whitespace-free chunk of text holds, for the matcher's memo."),
    .tp_basicsize = sizeof(ChunkTable),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = ChunkTable_new,
    .tp_dealloc = (destructor)ChunkTable_dealloc,
    .tp_methods = ChunkTable_methods,
    .tp_as_sequence = &ChunkTable_as_sequence,
};

static struct PyModuleDef chunks_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "service.match._chunks",
    .m_doc = PyDoc_STR("The matcher's chunk memo, walked in C (see scan.py)."),
    .m_size = -1,
};

PyMODINIT_FUNC
PyInit__chunks(void)
{
    if (PyType_Ready(&ChunkTableType) < 0) {
        return NULL;
    }
    PyObject *salt = PyUnicode_FromString("service.match._chunks seed");
    if (salt == NULL) {
        return NULL;
    }
    Py_hash_t seed = PyObject_Hash(salt);
    Py_DECREF(salt);
    if (seed == -1 && PyErr_Occurred()) {
        return NULL;
    }
    hash_seed = (uint64_t)seed * 0x9e3779b97f4a7c15ULL;
    PyObject *module = PyModule_Create(&chunks_module);
    if (module == NULL) {
        return NULL;
    }
    Py_INCREF(&ChunkTableType);
    if (PyModule_AddObject(module, "ChunkTable", (PyObject *)&ChunkTableType) < 0) {
        Py_DECREF(&ChunkTableType);
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
