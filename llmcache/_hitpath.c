/* ModelCache.get's hit path in C.
 *
 * A hit is one call into the memo (functools' C lru_cache, keyed by the raw call arguments) and
 * two slot reads, so it costs about what functools.cache costs. A Python method in front of the
 * memo would cost as much again: a frame, and the keyword arguments packed into a dict and
 * unpacked. Everything that is not a plain hit (a miss, an unhashable argument, an entry dropped
 * since it was memoised, an error) goes to the Python fallback, ModelCache._after_memo, with
 * what the memo answered. Optional: without a C compiler, ModelCache.get is the same logic in
 * Python.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

typedef struct {
    PyObject_HEAD
    PyObject *memo;           /* lru_cache(typed=True) of ModelCache._fill_memo */
    PyObject *memo_no_kwargs; /* the untyped one, for calls without keyword arguments */
    PyObject *fallback;       /* ModelCache._after_memo(found, error, /, *args, **kwargs) */
    PyObject *wrapped;        /* the Python ModelCache.get, for help() and inspect */
} HitPath;

static PyObject *str_memoizable;
static PyObject *str_model;

/* fallback(found, error, *args, **kwargs), with the caller's own arguments. */
static PyObject *
call_fallback(HitPath *self, PyObject *found, PyObject *error, PyObject *args, PyObject *kwargs)
{
    Py_ssize_t nargs = PyTuple_GET_SIZE(args);
    PyObject *all = PyTuple_New(nargs + 2);
    if (all == NULL) {
        return NULL;
    }
    PyTuple_SET_ITEM(all, 0, Py_NewRef(found));
    PyTuple_SET_ITEM(all, 1, Py_NewRef(error));
    for (Py_ssize_t i = 0; i < nargs; i++) {
        PyTuple_SET_ITEM(all, i + 2, Py_NewRef(PyTuple_GET_ITEM(args, i)));
    }
    PyObject *result = PyObject_Call(self->fallback, all, kwargs);
    Py_DECREF(all);
    return result;
}

/* tp_call, not vectorcall: the memo (lru_cache) takes a tuple and a dict, so the arguments are
   packed once, as for functools.cache itself, and a caller's dict (``**settings``, a partial)
   is passed through as it is. */
static PyObject *
hitpath_call(HitPath *self, PyObject *args, PyObject *kwargs)
{
    Py_ssize_t nargs = PyTuple_GET_SIZE(args);
    if (nargs < 1 || nargs > 2) { /* model_name by keyword, or a mistake: the method's errors */
        return PyObject_Call(self->wrapped, args, kwargs);
    }
    int has_kwargs = kwargs != NULL && PyDict_GET_SIZE(kwargs) > 0;
    PyObject *memo = has_kwargs ? self->memo : self->memo_no_kwargs;
    PyObject *entry = PyObject_Call(memo, args, has_kwargs ? kwargs : NULL);
    if (entry == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_Exception)) {
            return NULL; /* KeyboardInterrupt and the like: not the cache's to handle */
        }
#if PY_VERSION_HEX >= 0x030C0000
        PyObject *error = PyErr_GetRaisedException();
#else
        PyObject *type, *error, *traceback;
        PyErr_Fetch(&type, &error, &traceback);
        PyErr_NormalizeException(&type, &error, &traceback);
        if (traceback != NULL) {
            PyException_SetTraceback(error, traceback);
        }
        Py_XDECREF(type);
        Py_XDECREF(traceback);
#endif
        PyObject *result = call_fallback(self, Py_None, error, args, kwargs);
        Py_DECREF(error);
        return result;
    }
    PyObject *flag = PyObject_GetAttr(entry, str_memoizable);
    if (flag == NULL) {
        Py_DECREF(entry);
        return NULL;
    }
    int memoizable = flag == Py_True;
    Py_DECREF(flag);
    if (memoizable) {
        PyObject *model = PyObject_GetAttr(entry, str_model);
        Py_DECREF(entry);
        return model;
    }
    PyObject *result = call_fallback(self, entry, Py_None, args, kwargs);
    Py_DECREF(entry);
    return result;
}

static PyObject *
hitpath_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    PyObject *memo, *memo_no_kwargs, *fallback, *wrapped;
    static char *names[] = {"memo", "memo_no_kwargs", "fallback", "wrapped", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOOO:HitPath", names, &memo,
                                     &memo_no_kwargs, &fallback, &wrapped)) {
        return NULL;
    }
    if (!PyCallable_Check(memo) || !PyCallable_Check(memo_no_kwargs) ||
        !PyCallable_Check(fallback)) {
        PyErr_SetString(PyExc_TypeError, "memo, memo_no_kwargs and fallback must be callable");
        return NULL;
    }
    HitPath *self = (HitPath *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    self->memo = Py_NewRef(memo);
    self->memo_no_kwargs = Py_NewRef(memo_no_kwargs);
    self->fallback = Py_NewRef(fallback);
    self->wrapped = Py_NewRef(wrapped);
    return (PyObject *)self;
}

static int
hitpath_traverse(HitPath *self, visitproc visit, void *arg)
{
    Py_VISIT(self->memo);
    Py_VISIT(self->memo_no_kwargs);
    Py_VISIT(self->fallback);
    Py_VISIT(self->wrapped);
    return 0;
}

static int
hitpath_clear(HitPath *self)
{
    Py_CLEAR(self->memo);
    Py_CLEAR(self->memo_no_kwargs);
    Py_CLEAR(self->fallback);
    Py_CLEAR(self->wrapped);
    return 0;
}

static void
hitpath_dealloc(HitPath *self)
{
    PyObject_GC_UnTrack(self);
    hitpath_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
hitpath_repr(HitPath *self)
{
    return PyObject_Repr(self->wrapped);
}

/* The Python method's docstring, for help() and IDEs. */
static PyObject *
wrapped_doc(PyObject *self, void *offset)
{
    PyObject *wrapped = *(PyObject **)((char *)self + (Py_ssize_t)offset);
    return PyObject_GetAttrString(wrapped, "__doc__");
}

static PyGetSetDef hitpath_getset[] = {
    {"__doc__", wrapped_doc, NULL, NULL, (void *)offsetof(HitPath, wrapped)},
    {NULL},
};

static PyMemberDef hitpath_members[] = {
    {"__wrapped__", T_OBJECT, offsetof(HitPath, wrapped), READONLY,
     "the Python method this stands in for"},
    {NULL},
};

static PyTypeObject HitPathType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "llmcache._hitpath.HitPath",
    .tp_basicsize = sizeof(HitPath),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = hitpath_new,
    .tp_traverse = (traverseproc)hitpath_traverse,
    .tp_clear = (inquiry)hitpath_clear,
    .tp_dealloc = (destructor)hitpath_dealloc,
    .tp_repr = (reprfunc)hitpath_repr,
    .tp_call = (ternaryfunc)hitpath_call,
    .tp_members = hitpath_members,
    .tp_getset = hitpath_getset,
};

/* llmcache.get_model: ``namespace[name].get(...)``, looked up at each call (the pytest plugin
   swaps ``llmcache.default_cache``), without a Python frame between the caller and HitPath. */
typedef struct {
    PyObject_HEAD
    PyObject *namespace; /* llmcache's module dict */
    PyObject *name;      /* "default_cache" */
    PyObject *method;    /* "get" */
    PyObject *wrapped;   /* the Python function this stands in for */
} CallDefault;

static PyObject *
calldefault_call(CallDefault *self, PyObject *args, PyObject *kwargs)
{
    PyObject *cache = PyDict_GetItemWithError(self->namespace, self->name);
    if (cache == NULL) {
        if (!PyErr_Occurred()) {
            PyErr_Format(PyExc_NameError, "name %R is not defined", self->name);
        }
        return NULL;
    }
    Py_INCREF(cache);
    PyObject *method = PyObject_GetAttr(cache, self->method);
    Py_DECREF(cache);
    if (method == NULL) {
        return NULL;
    }
    PyObject *result = PyObject_Call(method, args, kwargs);
    Py_DECREF(method);
    return result;
}

static PyObject *
calldefault_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    PyObject *namespace, *name, *method, *wrapped;
    static char *names[] = {"namespace", "name", "method", "wrapped", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!UUO:CallDefault", names, &PyDict_Type,
                                     &namespace, &name, &method, &wrapped)) {
        return NULL;
    }
    CallDefault *self = (CallDefault *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    self->namespace = Py_NewRef(namespace);
    self->name = Py_NewRef(name);
    self->method = Py_NewRef(method);
    self->wrapped = Py_NewRef(wrapped);
    return (PyObject *)self;
}

static int
calldefault_traverse(CallDefault *self, visitproc visit, void *arg)
{
    Py_VISIT(self->namespace);
    Py_VISIT(self->wrapped);
    return 0;
}

static int
calldefault_clear(CallDefault *self)
{
    Py_CLEAR(self->namespace);
    Py_CLEAR(self->name);
    Py_CLEAR(self->method);
    Py_CLEAR(self->wrapped);
    return 0;
}

static void
calldefault_dealloc(CallDefault *self)
{
    PyObject_GC_UnTrack(self);
    calldefault_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
calldefault_repr(CallDefault *self)
{
    return PyObject_Repr(self->wrapped);
}

static PyGetSetDef calldefault_getset[] = {
    {"__doc__", wrapped_doc, NULL, NULL, (void *)offsetof(CallDefault, wrapped)},
    {NULL},
};

static PyMemberDef calldefault_members[] = {
    {"__wrapped__", T_OBJECT, offsetof(CallDefault, wrapped), READONLY,
     "the Python function this stands in for"},
    {NULL},
};

static PyTypeObject CallDefaultType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "llmcache._hitpath.CallDefault",
    .tp_basicsize = sizeof(CallDefault),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = calldefault_new,
    .tp_traverse = (traverseproc)calldefault_traverse,
    .tp_clear = (inquiry)calldefault_clear,
    .tp_dealloc = (destructor)calldefault_dealloc,
    .tp_repr = (reprfunc)calldefault_repr,
    .tp_call = (ternaryfunc)calldefault_call,
    .tp_members = calldefault_members,
    .tp_getset = calldefault_getset,
};

static struct PyModuleDef hitpath_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "llmcache._hitpath",
    .m_doc = "ModelCache.get's and get_model's hit path in C (optional: the package works "
             "without it).",
    .m_size = -1,
};

PyMODINIT_FUNC
PyInit__hitpath(void)
{
    str_memoizable = PyUnicode_InternFromString("memoizable");
    str_model = PyUnicode_InternFromString("model");
    if (str_memoizable == NULL || str_model == NULL) {
        return NULL;
    }
    PyObject *module = PyModule_Create(&hitpath_module);
    if (module == NULL) {
        return NULL;
    }
    if (PyModule_AddType(module, &HitPathType) < 0 ||
        PyModule_AddType(module, &CallDefaultType) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
