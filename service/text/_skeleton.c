/*
 * NameStarts: which words of a text may start a cross-script name window, found in one pass.
 *
 * The scan asks this of every chunk it has not seen before, so on a stream of new words (the
 * first pass over a feed) it runs for every word: in Python that is a regex split, a set of str
 * and a skeleton per word (entities.py `_may_start`), most of the cold pass. Here the words are
 * found in place, each one's skeleton is written into a buffer by the tables skeleton.py holds,
 * and a str is made only for a skeleton whose first two letters begin some start (a bitmap), to
 * look it up in the index's set of starts. A word is a start when one of its skeletons is in
 * `starts` and the word is not in `breaks`, exactly as `_may_start` says; the tests hold the two
 * to the same answers. One finder serves every index of its script (up to 8 start sets): the
 * Latin indexes read a word to the same skeletons, so it is read once and looked up in each set.
 *
 * Arabic script (words of U+0620..U+06FF): the article ([وفبك]?ال or لل, when two letters follow)
 * is dropped, then each letter becomes its class, nothing, or itself (the table). Latin (words of
 * a-z): the article words have no skeleton; else each unit (a digraph first, then a letter; other
 * letters are vowels) becomes one of its readings, every combination of readings giving one
 * skeleton. Both then collapse doubled letters and drop one final H.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#if PY_VERSION_HEX < 0x030C0000
#define READY(text) PyUnicode_READY(text)
#else
#define READY(text) 0
#endif

#define AR_FIRST 0x0600
#define AR_SIZE 0x100
#define AR_WORD_FIRST 0x0620 /* the letters entities.py splits Arabic-script text on */
#define AR_WORD_LAST 0x06FF
#define AR_KEEP 0xFFFFFFFEu /* the letter stays as itself */
#define AR_DROP 0xFFFFFFFFu /* the letter leaves nothing */
#define MAX_READINGS 4
#define MAX_READING 3
#define MAX_UNITS 64      /* longer Latin words go to the fallback */
#define MAX_COMBOS 1024   /* so do words with more combinations of readings */
#define BUCKETS 4096
#define MAX_SETS 8 /* start sets one finder decides a word for */

typedef struct {
    unsigned char count; /* 0: not a unit */
    unsigned char length[MAX_READINGS];
    char reading[MAX_READINGS][MAX_READING];
} Unit;

/* Several start sets (one per skeleton index of the script) share the letter tables, so one
 * pass over a text reads each word once for all of them: a word's answer is a bit mask, bit s
 * for set s. */
typedef struct {
    PyObject_HEAD
    int arabic;
    int sets;                     /* how many start sets */
    unsigned int all;             /* the mask of every set */
    unsigned int empty_starts;    /* the sets "" is a start of (never, from real names) */
    PyObject *starts[MAX_SETS];   /* frozenset each: skeletons a window may start on */
    PyObject *fallback[MAX_SETS]; /* callable(word) -> bool each, for words too long to enumerate */
    PyObject *breaks;             /* frozenset: words that never start one */
    PyObject *articles;           /* frozenset: Latin words with no skeleton */
    Py_ssize_t article_max;
    Py_UCS4 letters[AR_SIZE]; /* Arabic: per code point from U+0600 */
    Unit single[26];          /* Latin: per letter */
    Unit pair[26][26];        /* Latin: per digraph */
    unsigned char buckets[BUCKETS / 8];            /* some set has a start beginning so */
    unsigned char set_buckets[MAX_SETS][BUCKETS / 8]; /* per set */
} NameStarts;

static unsigned int
bucket_of(Py_UCS4 first, Py_UCS4 second)
{
    return ((first * 131u) ^ second) & (BUCKETS - 1);
}

static int
in_bucket(const unsigned char *buckets, const Py_UCS4 *key, Py_ssize_t length)
{
    unsigned int b = bucket_of(key[0], length > 1 ? key[1] : 0);
    return (buckets[b >> 3] >> (b & 7)) & 1;
}

static int
bucket_known(NameStarts *self, const Py_UCS4 *key, Py_ssize_t length)
{
    return in_bucket(self->buckets, key, length);
}

static void
NameStarts_dealloc(NameStarts *self)
{
    for (int s = 0; s < MAX_SETS; s++) {
        Py_XDECREF(self->starts[s]);
        Py_XDECREF(self->fallback[s]);
    }
    Py_XDECREF(self->breaks);
    Py_XDECREF(self->articles);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Record the (first, second) letters of every start of set s; -1 on a start that is not a str. */
static int
fill_buckets(NameStarts *self, int set)
{
    PyObject *iterator = PyObject_GetIter(self->starts[set]);
    if (iterator == NULL) {
        return -1;
    }
    PyObject *key;
    while ((key = PyIter_Next(iterator)) != NULL) {
        if (!PyUnicode_Check(key) || READY(key) < 0) {
            Py_DECREF(key);
            Py_DECREF(iterator);
            PyErr_SetString(PyExc_TypeError, "NameStarts() takes a frozenset of str starts");
            return -1;
        }
        Py_ssize_t length = PyUnicode_GET_LENGTH(key);
        if (length == 0) {
            self->empty_starts |= 1u << set;
        }
        else {
            Py_UCS4 second = length > 1 ? PyUnicode_READ_CHAR(key, 1) : 0;
            unsigned int b = bucket_of(PyUnicode_READ_CHAR(key, 0), second);
            self->buckets[b >> 3] |= (unsigned char)(1u << (b & 7));
            self->set_buckets[set][b >> 3] |= (unsigned char)(1u << (b & 7));
        }
        Py_DECREF(key);
    }
    Py_DECREF(iterator);
    return PyErr_Occurred() ? -1 : 0;
}

/* One entry of the letter table: a one- or two-letter unit to its readings. */
static int
add_letter(NameStarts *self, PyObject *unit, PyObject *readings)
{
    if (!PyUnicode_Check(unit) || READY(unit) < 0 || !PyTuple_Check(readings)) {
        goto invalid;
    }
    Py_ssize_t length = PyUnicode_GET_LENGTH(unit);
    Py_ssize_t count = PyTuple_GET_SIZE(readings);
    if (self->arabic) {
        if (length != 1 || count != 1) {
            goto invalid;
        }
        Py_UCS4 c = PyUnicode_READ_CHAR(unit, 0);
        PyObject *out = PyTuple_GET_ITEM(readings, 0);
        if (c < AR_FIRST || c >= AR_FIRST + AR_SIZE || !PyUnicode_Check(out) || READY(out) < 0
            || PyUnicode_GET_LENGTH(out) > 1) {
            goto invalid;
        }
        self->letters[c - AR_FIRST] = PyUnicode_GET_LENGTH(out) ? PyUnicode_READ_CHAR(out, 0) : AR_DROP;
        return 0;
    }
    if (length < 1 || length > 2 || count < 1 || count > MAX_READINGS) {
        goto invalid;
    }
    Py_UCS4 a = PyUnicode_READ_CHAR(unit, 0), b = length > 1 ? PyUnicode_READ_CHAR(unit, 1) : 'a';
    if (a < 'a' || a > 'z' || b < 'a' || b > 'z') {
        goto invalid;
    }
    Unit *target = length == 1 ? &self->single[a - 'a'] : &self->pair[a - 'a'][b - 'a'];
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *out = PyTuple_GET_ITEM(readings, i);
        if (!PyUnicode_Check(out) || !PyUnicode_IS_ASCII(out) || PyUnicode_GET_LENGTH(out) > MAX_READING) {
            goto invalid;
        }
        target->length[i] = (unsigned char)PyUnicode_GET_LENGTH(out);
        memcpy(target->reading[i], PyUnicode_1BYTE_DATA(out), target->length[i]);
    }
    target->count = (unsigned char)count;
    return 0;

invalid:
    PyErr_SetString(PyExc_TypeError,
                    "NameStarts() takes letters as a dict of unit to a tuple of readings (Arabic: one letter "
                    "of U+0600..U+06FF to one reading of at most one character; Latin: a-z units of one or "
                    "two letters to ASCII readings)");
    return -1;
}

static PyObject *
NameStarts_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"arabic", "starts", "breaks", "letters", "articles", "fallbacks", NULL};
    int arabic;
    PyObject *starts, *breaks, *letters, *articles, *fallbacks;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "pO!O!O!O!O!:NameStarts", keywords, &arabic, &PyTuple_Type,
                                     &starts, &PyFrozenSet_Type, &breaks, &PyDict_Type, &letters,
                                     &PyFrozenSet_Type, &articles, &PyTuple_Type, &fallbacks)) {
        return NULL;
    }
    Py_ssize_t sets = PyTuple_GET_SIZE(starts);
    if (sets < 1 || sets > MAX_SETS || PyTuple_GET_SIZE(fallbacks) != sets) {
        PyErr_SetString(PyExc_TypeError, "NameStarts() takes 1 to 8 start sets and as many fallbacks");
        return NULL;
    }
    for (Py_ssize_t s = 0; s < sets; s++) {
        if (!PyFrozenSet_Check(PyTuple_GET_ITEM(starts, s)) || !PyCallable_Check(PyTuple_GET_ITEM(fallbacks, s))) {
            PyErr_SetString(PyExc_TypeError, "NameStarts() takes a tuple of frozensets and one of callables");
            return NULL;
        }
    }
    NameStarts *self = (NameStarts *)type->tp_alloc(type, 0); /* zeroed: no units, no buckets */
    if (self == NULL) {
        return NULL;
    }
    self->arabic = arabic;
    self->sets = (int)sets;
    self->all = (1u << sets) - 1;
    for (Py_ssize_t s = 0; s < sets; s++) {
        self->starts[s] = Py_NewRef(PyTuple_GET_ITEM(starts, s));
        self->fallback[s] = Py_NewRef(PyTuple_GET_ITEM(fallbacks, s));
    }
    Py_INCREF(breaks);
    self->breaks = breaks;
    Py_INCREF(articles);
    self->articles = articles;
    for (Py_ssize_t i = 0; i < AR_SIZE; i++) {
        self->letters[i] = AR_KEEP;
    }
    Py_ssize_t position = 0;
    PyObject *unit, *readings;
    while (PyDict_Next(letters, &position, &unit, &readings)) {
        if (add_letter(self, unit, readings) < 0) {
            Py_DECREF(self);
            return NULL;
        }
    }
    PyObject *iterator = PyObject_GetIter(articles);
    if (iterator == NULL) {
        Py_DECREF(self);
        return NULL;
    }
    PyObject *article;
    while ((article = PyIter_Next(iterator)) != NULL) {
        int valid = PyUnicode_Check(article) && READY(article) >= 0;
        if (valid && PyUnicode_GET_LENGTH(article) > self->article_max) {
            self->article_max = PyUnicode_GET_LENGTH(article);
        }
        Py_DECREF(article);
        if (!valid) {
            PyErr_SetString(PyExc_TypeError, "NameStarts() takes a frozenset of str articles");
            break;
        }
    }
    Py_DECREF(iterator);
    if (PyErr_Occurred()) {
        Py_DECREF(self);
        return NULL;
    }
    for (int s = 0; s < self->sets; s++) {
        if (fill_buckets(self, s) < 0) {
            Py_DECREF(self);
            return NULL;
        }
    }
    return (PyObject *)self;
}

/* Drop one final H, as skeleton.py's _tidy does (doubles were collapsed while writing). */
static Py_ssize_t
tidy_end(const Py_UCS4 *key, Py_ssize_t length)
{
    return length > 1 && key[length - 1] == 'H' ? length - 1 : length;
}

/* The sets among `wanted` that `key` is a start of: a mask, or -1 on an error. One str is made for
   all of them, and only when some set has a start with its first two letters. */
static int
starts_mask(NameStarts *self, const Py_UCS4 *key, Py_ssize_t length, unsigned int wanted)
{
    if (length == 0) {
        return (int)(self->empty_starts & wanted);
    }
    PyObject *str = NULL;
    unsigned int found = 0;
    for (int s = 0; s < self->sets; s++) {
        if (!((wanted >> s) & 1) || !in_bucket(self->set_buckets[s], key, length)) {
            continue;
        }
        if (str == NULL && (str = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, key, length)) == NULL) {
            return -1;
        }
        int in = PySet_Contains(self->starts[s], str);
        if (in < 0) {
            Py_DECREF(str);
            return -1;
        }
        found |= (unsigned int)in << s;
    }
    Py_XDECREF(str);
    return (int)found;
}

/* The skeleton of an Arabic-script word, written into `key`: its length, or -1 when the first
   letters already say it is no start. */
static Py_ssize_t
arabic_skeleton(NameStarts *self, int kind, const void *data, Py_ssize_t start, Py_ssize_t end, Py_UCS4 *key)
{
    Py_ssize_t size = end - start;
#define AT(i) PyUnicode_READ(kind, data, start + (i))
    /* ^(?:[وفبك]?ال|لل)(?=..): the words hold no line break, so "two letters follow" is enough */
    Py_UCS4 c0 = AT(0), c1 = size > 1 ? AT(1) : 0, c2 = size > 2 ? AT(2) : 0;
    Py_ssize_t i = 0;
    if (size >= 5 && (c0 == 0x0648 || c0 == 0x0641 || c0 == 0x0628 || c0 == 0x0643) && c1 == 0x0627
        && c2 == 0x0644) {
        i = 3;
    }
    else if (size >= 4 && ((c0 == 0x0627 && c1 == 0x0644) || (c0 == 0x0644 && c1 == 0x0644))) {
        i = 2;
    }
    Py_ssize_t length = 0;
    for (; i < size; i++) {
        Py_UCS4 c = AT(i);
        Py_UCS4 out = self->letters[c - AR_FIRST];
        if (out == AR_DROP) {
            continue;
        }
        if (out == AR_KEEP) {
            out = c;
        }
        if (length == 0 || key[length - 1] != out) {
            key[length++] = out;
            if (length == 3 && !bucket_known(self, key, 2)) {
                return -1; /* its first two letters stay (at most the last one goes): no start */
            }
        }
    }
#undef AT
    return tidy_end(key, length);
}

/* What the fallbacks of the sets say of text[start:end]: a mask, or -1 on an error. */
static int
ask_fallback(NameStarts *self, PyObject *text, Py_ssize_t start, Py_ssize_t end)
{
    PyObject *word = PyUnicode_Substring(text, start, end);
    if (word == NULL) {
        return -1;
    }
    unsigned int found = 0;
    for (int s = 0; s < self->sets; s++) {
        PyObject *answer = PyObject_CallOneArg(self->fallback[s], word);
        int yes = answer == NULL ? -1 : PyObject_IsTrue(answer);
        Py_XDECREF(answer);
        if (yes < 0) {
            Py_DECREF(word);
            return -1;
        }
        found |= (unsigned int)yes << s;
    }
    Py_DECREF(word);
    return (int)found;
}

/* The sets that have one of the skeletons of the Latin word text[start:end] (a-z) among their
   starts: a mask, or -1 on an error. */
static int
latin_starts(NameStarts *self, PyObject *text, int kind, const void *data, Py_ssize_t start, Py_ssize_t end)
{
    const Unit *units[MAX_UNITS];
    Py_ssize_t count = 0;
    long combos = 1;
    /* While every unit has one reading the key is known as it is read: most words are decided
       by their first three letters, before the rest of the word is read. */
    Py_UCS4 key[MAX_UNITS * MAX_READING];
    Py_ssize_t length = 0;
    Py_ssize_t i = start;
    while (i < end && combos <= MAX_COMBOS) {
        Py_UCS4 a = PyUnicode_READ(kind, data, i);
        const Unit *unit = i + 1 < end ? &self->pair[a - 'a'][PyUnicode_READ(kind, data, i + 1) - 'a'] : NULL;
        if (unit != NULL && unit->count) {
            i += 2; /* a digraph wins over its first letter */
        }
        else {
            unit = &self->single[a - 'a'];
            i += 1;
            if (!unit->count) {
                continue; /* a vowel */
            }
        }
        if (count == MAX_UNITS) {
            combos = MAX_COMBOS + 1;
            break;
        }
        units[count++] = unit;
        combos *= unit->count;
        if (combos == 1) {
            for (int k = 0; k < unit->length[0]; k++) {
                Py_UCS4 c = (unsigned char)unit->reading[0][k];
                if (length == 0 || key[length - 1] != c) {
                    key[length++] = c;
                    if (length == 3 && !bucket_known(self, key, 2)) {
                        return 0; /* as in arabic_skeleton */
                    }
                }
            }
        }
    }
    if (combos == 1) {
        return starts_mask(self, key, tidy_end(key, length), self->all);
    }
    if (combos > MAX_COMBOS) {
        return ask_fallback(self, text, start, end);
    }
    unsigned char choice[MAX_UNITS];
    memset(choice, 0, sizeof(choice));
    unsigned int found = 0;
    for (;;) {
        length = 0;
        Py_ssize_t last = count - 1; /* the unit whose reading turns next */
        for (Py_ssize_t u = 0; u < count && length >= 0; u++) {
            const Unit *unit = units[u];
            for (int k = 0; k < unit->length[choice[u]]; k++) {
                Py_UCS4 c = (unsigned char)unit->reading[choice[u]][k];
                if (length == 0 || key[length - 1] != c) {
                    key[length++] = c;
                    if (length == 3 && !bucket_known(self, key, 2)) {
                        /* as in arabic_skeleton; and every combination that reads units 0..u
                           alike begins so too: skip them */
                        length = -1;
                        last = u;
                        break;
                    }
                }
            }
        }
        if (length >= 0) {
            int more = starts_mask(self, key, tidy_end(key, length), self->all & ~found);
            if (more < 0) {
                return -1;
            }
            found |= (unsigned int)more;
            if (found == self->all) {
                return (int)found;
            }
        }
        for (Py_ssize_t u = last + 1; u < count; u++) {
            choice[u] = 0;
        }
        Py_ssize_t u = last; /* the next combination, the last unit's readings turning fastest */
        while (u >= 0 && choice[u] + 1 >= units[u]->count) {
            choice[u--] = 0;
        }
        if (u < 0) {
            return (int)found;
        }
        choice[u]++;
    }
}

/* Is text[start:end] a word that never starts a window, or a Latin article? 1, 0 or -1. */
static int
in_set(PyObject *set, PyObject *text, Py_ssize_t start, Py_ssize_t end)
{
    PyObject *word = PyUnicode_Substring(text, start, end);
    if (word == NULL) {
        return -1;
    }
    int found = PySet_Contains(set, word);
    Py_DECREF(word);
    return found;
}

static int
is_word_letter(NameStarts *self, Py_UCS4 c)
{
    return self->arabic ? (c >= AR_WORD_FIRST && c <= AR_WORD_LAST) : (c >= 'a' && c <= 'z');
}

/* The sets text[start:end], one word of the script, is a start of: a mask, or -1 on an error. */
static int
word_starts(NameStarts *self, PyObject *text, int kind, const void *data, Py_ssize_t start, Py_ssize_t end)
{
    int found;
    if (self->arabic) {
        Py_UCS4 key[256];
        if (end - start > 256) {
            return ask_fallback(self, text, start, end);
        }
        Py_ssize_t length = arabic_skeleton(self, kind, data, start, end, key);
        found = length < 0 ? 0 : starts_mask(self, key, length, self->all);
    }
    else {
        if (end - start <= self->article_max) {
            found = in_set(self->articles, text, start, end);
            if (found < 0) {
                return -1;
            }
        }
        else {
            found = 0;
        }
        /* an article's one skeleton is "" */
        found = found ? (int)self->empty_starts : latin_starts(self, text, kind, data, start, end);
    }
    if (found <= 0) {
        return found;
    }
    int in = in_set(self->breaks, text, start, end);
    return in < 0 ? -1 : in ? 0 : found;
}

PyDoc_STRVAR(find_doc,
             "find(text: str) -> list[list[int]]\n\n"
             "Per start set, where the words of `text` (runs of the script's letters) that may start\n"
             "a name begin.");

static PyObject *
NameStarts_find(NameStarts *self, PyObject *text)
{
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "find() takes a str");
        return NULL;
    }
    if (READY(text) < 0) {
        return NULL;
    }
    PyObject *found = PyList_New(self->sets);
    if (found == NULL) {
        return NULL;
    }
    for (int s = 0; s < self->sets; s++) {
        PyObject *offsets = PyList_New(0);
        if (offsets == NULL) {
            Py_DECREF(found);
            return NULL;
        }
        PyList_SET_ITEM(found, s, offsets);
    }
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t size = PyUnicode_GET_LENGTH(text);
    if (self->arabic && kind == PyUnicode_1BYTE_KIND) {
        return found; /* no Arabic letter in Latin-1 text */
    }
    Py_ssize_t i = 0;
    while (i < size) {
        if (!is_word_letter(self, PyUnicode_READ(kind, data, i))) {
            i++;
            continue;
        }
        Py_ssize_t start = i;
        while (i < size && is_word_letter(self, PyUnicode_READ(kind, data, i))) {
            i++;
        }
        int starts = word_starts(self, text, kind, data, start, i);
        if (starts < 0) {
            Py_DECREF(found);
            return NULL;
        }
        if (starts == 0) {
            continue;
        }
        PyObject *at = PyLong_FromSsize_t(start);
        if (at == NULL) {
            Py_DECREF(found);
            return NULL;
        }
        for (int s = 0; s < self->sets; s++) {
            if (((unsigned int)starts >> s) & 1 && PyList_Append(PyList_GET_ITEM(found, s), at) < 0) {
                Py_DECREF(at);
                Py_DECREF(found);
                return NULL;
            }
        }
        Py_DECREF(at);
    }
    return found;
}

static PyMethodDef NameStarts_methods[] = {
    {"find", (PyCFunction)NameStarts_find, METH_O, find_doc},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject NameStartsType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "service.text._skeleton.NameStarts",
    .tp_doc = PyDoc_STR("Finds the words of a text whose skeleton may start a name window."),
    .tp_basicsize = sizeof(NameStarts),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = NameStarts_new,
    .tp_dealloc = (destructor)NameStarts_dealloc,
    .tp_methods = NameStarts_methods,
};

static struct PyModuleDef skeleton_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "service.text._skeleton",
    .m_doc = PyDoc_STR("The words that may start a cross-script name, found in C (see entities.py)."),
    .m_size = -1,
};

PyMODINIT_FUNC
PyInit__skeleton(void)
{
    if (PyType_Ready(&NameStartsType) < 0) {
        return NULL;
    }
    PyObject *module = PyModule_Create(&skeleton_module);
    if (module == NULL) {
        return NULL;
    }
    Py_INCREF(&NameStartsType);
    if (PyModule_AddObject(module, "NameStarts", (PyObject *)&NameStartsType) < 0) {
        Py_DECREF(&NameStartsType);
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
