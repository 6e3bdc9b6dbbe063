/*
 * Folder: `normalise` in one pass over the text, from the per-character table normalise.py builds.
 *
 * Normalising works character by character (normalise.py's docstring): the output is the
 * concatenation of each character's output, and `_table().output` holds the output of every
 * character that changes. In Python that takes an `in` scan and a `str.replace` per character to
 * fold, plus a regex scan for the rarer ones; here one pass measures the output and a second one
 * writes it. It also reports which characters of the text change length (for offsets back into the
 * original). normalise.py uses it where it was built and the tests hold it to the reference
 * pipeline over every code point.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#if PY_VERSION_HEX < 0x030C0000
#define READY(text) PyUnicode_READY(text)
#else
#define READY(text) 0
#endif

#define BMP 0x10000
#define SEEN_MAX 64

typedef struct {
    PyObject_HEAD
    PyObject **bmp;    /* per BMP code point: its output (owned), or NULL when it does not change */
    Py_UCS4 *bmp_max;  /* the largest code point of that output */
    PyObject *astral;  /* dict: character above the BMP -> its output */
} Folder;

static void
Folder_dealloc(Folder *self)
{
    if (self->bmp != NULL) {
        for (Py_ssize_t i = 0; i < BMP; i++) {
            Py_XDECREF(self->bmp[i]);
        }
        PyMem_Free(self->bmp);
    }
    PyMem_Free(self->bmp_max);
    Py_XDECREF(self->astral);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static Py_UCS4
max_char(PyObject *text)
{
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_UCS4 found = 0;
    for (Py_ssize_t i = 0; i < PyUnicode_GET_LENGTH(text); i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (c > found) {
            found = c;
        }
    }
    return found;
}

static PyObject *
Folder_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"output", NULL};
    PyObject *output;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!:Folder", keywords, &PyDict_Type, &output)) {
        return NULL;
    }
    Folder *self = (Folder *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    self->bmp = PyMem_Calloc(BMP, sizeof(PyObject *));
    self->bmp_max = PyMem_Calloc(BMP, sizeof(Py_UCS4));
    self->astral = PyDict_New();
    if (self->bmp == NULL || self->bmp_max == NULL || self->astral == NULL) {
        Py_DECREF(self);
        return PyErr_Occurred() ? NULL : PyErr_NoMemory();
    }
    Py_ssize_t position = 0;
    PyObject *char_, *out;
    while (PyDict_Next(output, &position, &char_, &out)) {
        if (!PyUnicode_Check(char_) || !PyUnicode_Check(out) || READY(char_) < 0 || READY(out) < 0
            || PyUnicode_GET_LENGTH(char_) != 1) {
            PyErr_SetString(PyExc_TypeError, "Folder() takes a dict of one character to its output");
            Py_DECREF(self);
            return NULL;
        }
        Py_UCS4 c = PyUnicode_READ_CHAR(char_, 0);
        if (c < BMP) {
            Py_INCREF(out);
            Py_XSETREF(self->bmp[c], out);
            self->bmp_max[c] = max_char(out);
        }
        else {
            /* an exact str key: lookups then run no Python code (a str subclass's __eq__ could
               answer differently in the two passes and overflow the output buffer) */
            PyObject *key = PyUnicode_FromOrdinal((int)c);
            int failed = key == NULL || PyDict_SetItem(self->astral, key, out) < 0;
            Py_XDECREF(key);
            if (failed) {
                Py_DECREF(self);
                return NULL;
            }
        }
    }
    return (PyObject *)self;
}

/* The output of `c` (borrowed), or NULL when it does not change; -1 in *failed on an error. */
static PyObject *
output_of(Folder *self, Py_UCS4 c, int *failed)
{
    if (c < BMP) {
        return self->bmp[c];
    }
    if (PyDict_GET_SIZE(self->astral) == 0) {
        return NULL;
    }
    PyObject *key = PyUnicode_FromOrdinal((int)c);
    if (key == NULL) {
        *failed = 1;
        return NULL;
    }
    PyObject *out = PyDict_GetItemWithError(self->astral, key);
    Py_DECREF(key);
    if (out == NULL && PyErr_Occurred()) {
        *failed = 1;
    }
    return out;
}

PyDoc_STRVAR(fold_doc,
             "fold(text: str) -> tuple[str, tuple[str, ...]]\n\n"
             "`text` with every character replaced by its output, and the distinct characters of\n"
             "`text` whose output is not exactly one character long, in order of first occurrence.");

static PyObject *
Folder_fold(Folder *self, PyObject *text)
{
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "fold() takes a str");
        return NULL;
    }
    if (READY(text) < 0) {
        return NULL;
    }
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t size = PyUnicode_GET_LENGTH(text);
    PyObject *moved = PyList_New(0);
    if (moved == NULL) {
        return NULL;
    }
    /* Pass 1: how long the output is, its widest character, and what changes length. */
    Py_UCS4 seen[SEEN_MAX]; /* the first distinct characters that change length */
    unsigned char *bits = NULL; /* past SEEN_MAX: one bit per code point already in `moved` */
    Py_ssize_t seen_count = 0;
    Py_ssize_t length = 0;
    Py_UCS4 widest = 0;
    int changed = 0, failed = 0;
    for (Py_ssize_t i = 0; i < size; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        PyObject *out = output_of(self, c, &failed);
        if (failed) {
            goto error;
        }
        if (out == NULL) {
            length++;
            if (c > widest) {
                widest = c;
            }
            continue;
        }
        changed = 1;
        Py_ssize_t out_length = PyUnicode_GET_LENGTH(out);
        length += out_length;
        Py_UCS4 out_max = c < BMP ? self->bmp_max[c] : max_char(out);
        if (out_max > widest) {
            widest = out_max;
        }
        if (out_length != 1) {
            int known = 0;
            if (bits != NULL) {
                known = (bits[c >> 3] >> (c & 7)) & 1;
            }
            else {
                for (Py_ssize_t k = 0; k < seen_count && !known; k++) {
                    known = seen[k] == c;
                }
            }
            if (!known) {
                PyObject *char_ = PyUnicode_FromOrdinal((int)c);
                if (char_ == NULL) {
                    goto error;
                }
                if (seen_count < SEEN_MAX) {
                    seen[seen_count++] = c;
                }
                else {
                    if (bits == NULL) {
                        bits = PyMem_Calloc(0x110000 / 8, 1);
                        if (bits == NULL) {
                            Py_DECREF(char_);
                            PyErr_NoMemory();
                            goto error;
                        }
                        for (Py_ssize_t k = 0; k < SEEN_MAX; k++) {
                            bits[seen[k] >> 3] |= (unsigned char)(1u << (seen[k] & 7));
                        }
                    }
                    bits[c >> 3] |= (unsigned char)(1u << (c & 7));
                }
                if (PyList_Append(moved, char_) < 0) {
                    Py_DECREF(char_);
                    goto error;
                }
                Py_DECREF(char_);
            }
        }
    }
    PyMem_Free(bits);
    PyObject *moved_tuple = PyList_AsTuple(moved);
    Py_DECREF(moved);
    if (moved_tuple == NULL) {
        return NULL;
    }
    if (!changed) {
        return Py_BuildValue("(ON)", text, moved_tuple);
    }
    /* Pass 2: write it. */
    PyObject *folded = PyUnicode_New(length, widest);
    if (folded == NULL) {
        Py_DECREF(moved_tuple);
        return NULL;
    }
    int out_kind = PyUnicode_KIND(folded);
    void *out_data = PyUnicode_DATA(folded);
    Py_ssize_t j = 0;
    for (Py_ssize_t i = 0; i < size; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        PyObject *out = output_of(self, c, &failed);
        if (failed) {
            Py_DECREF(folded);
            Py_DECREF(moved_tuple);
            return NULL;
        }
        if (out == NULL) {
            PyUnicode_WRITE(out_kind, out_data, j++, c);
            continue;
        }
        if (j + PyUnicode_GET_LENGTH(out) > length) { /* defensive: pass 2 must match pass 1 */
            Py_DECREF(folded);
            Py_DECREF(moved_tuple);
            PyErr_SetString(PyExc_SystemError, "Folder.fold: inconsistent table");
            return NULL;
        }
        int piece_kind = PyUnicode_KIND(out);
        const void *piece = PyUnicode_DATA(out);
        for (Py_ssize_t k = 0; k < PyUnicode_GET_LENGTH(out); k++) {
            PyUnicode_WRITE(out_kind, out_data, j++, PyUnicode_READ(piece_kind, piece, k));
        }
    }
    return Py_BuildValue("(NN)", folded, moved_tuple);

error:
    PyMem_Free(bits);
    Py_DECREF(moved);
    return NULL;
}

static PyMethodDef Folder_methods[] = {
    {"fold", (PyCFunction)Folder_fold, METH_O, fold_doc},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject FolderType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "service.text._fold.Folder",
    .tp_doc = PyDoc_STR("Folds text character by character from a table of outputs."),
    .tp_basicsize = sizeof(Folder),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = Folder_new,
    .tp_dealloc = (destructor)Folder_dealloc,
    .tp_methods = Folder_methods,
};

static struct PyModuleDef fold_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "service.text._fold",
    .m_doc = PyDoc_STR("normalise in one pass, written in C (see normalise.py)."),
    .m_size = -1,
};

PyMODINIT_FUNC
PyInit__fold(void)
{
    if (PyType_Ready(&FolderType) < 0) {
        return NULL;
    }
    PyObject *module = PyModule_Create(&fold_module);
    if (module == NULL) {
        return NULL;
    }
    Py_INCREF(&FolderType);
    if (PyModule_AddObject(module, "Folder", (PyObject *)&FolderType) < 0) {
        Py_DECREF(&FolderType);
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
