/* The series of a compact query answer -> arrays, in C, without the GIL.
 *
 * frames_bytes matches the answer up to its result; scan() reads the series from there, one pass
 * over the bytes: `{"metric":{...},"values":[[t,"v"],...,[t,"v"]]},...` (a vector: `"value":[t,"v"]`).
 * It notes where each series' metric object lies (frames_bytes parses them, they are few) and
 * reads the samples into arrays the caller allocated: timestamps as nanoseconds since the epoch
 * (int64, to be viewed as datetime64[ns]: no later pass converts them), values (float64),
 * samples per series (int64). The interpreter lock is let go for the whole pass, so that windows
 * fetched in parallel are converted on all cores.
 *
 * It reads only what it can read exactly as json.loads + float() would, and gives up (returns
 * None) on anything else, for the plain path to judge: a timestamp with an exponent or more than
 * three decimals (servers write milliseconds), or past the times a DataFrame holds, a value that
 * is not a JSON-style decimal, NaN, +Inf or -Inf, whitespace, a series without samples or with
 * other members, or any other byte out of place.
 *
 * set_length() and exported() serve the buffers module, which reuses the bytearrays that bodies
 * and arrays are read into (fresh memory costs more than reading into it); dechunk() serves
 * bodies, which reads a chunked body raw, in large pieces, rather than a chunk at a time.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(_WIN32)
#include <locale.h>
typedef _locale_t c_locale_t;
#define strtod_c(text, end) _strtod_l((text), (end), c_locale)
#else
#include <locale.h>
#if defined(__APPLE__)
#include <xlocale.h>
#endif
typedef locale_t c_locale_t;
#define strtod_c(text, end) strtod_l((text), (end), c_locale)
#endif

/* strtod in the "C" locale, whatever setlocale() a notebook called: the decimal point is ".". */
static c_locale_t c_locale;

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* -?(0|[1-9][0-9]{0,14})(\.[0-9]{1,3})?, at most `latest` milliseconds either side of the
   epoch  ->  nanoseconds. */
static int read_timestamp(const char **cursor, const char *end, int64_t latest, int64_t *nanos)
{
    const char *p = *cursor;
    int negative = 0;
    if (p < end && *p == '-') {
        negative = 1;
        p++;
    }
    if (p >= end || !is_digit(*p) || (*p == '0' && p + 1 < end && is_digit(p[1])))
        return 0;
    int64_t whole = 0;
    int digits = 0;
    while (p < end && is_digit(*p)) {
        if (++digits > 15) /* past any time a DataFrame holds: the plain path says so */
            return 0;
        whole = whole * 10 + (*p++ - '0');
    }
    int64_t part = 0;
    if (p < end && *p == '.') {
        p++;
        int decimals = 0;
        while (p < end && is_digit(*p)) {
            if (++decimals > 3)
                return 0;
            part = part * 10 + (*p++ - '0');
        }
        if (decimals == 0)
            return 0;
        for (; decimals < 3; decimals++)
            part *= 10;
    }
    int64_t millis = whole * 1000 + part;
    if (millis > latest) /* the plain path's error names the times a DataFrame holds */
        return 0;
    *nanos = (negative ? -millis : millis) * 1000000;
    *cursor = p;
    return 1;
}

/* Powers of ten that a double holds exactly. */
static const double exact_powers[] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/* A value and its closing quote: -?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?", NaN", +Inf" or -Inf".
   Read in one pass (no search for the quote first): most values take Clinger's exact case. */
static int read_value(const char **cursor, const char *end, double *value)
{
    const char *text = *cursor, *p = text;
    if (p < end && (*p == 'N' || ((*p == '+' || *p == '-') && p + 1 < end && p[1] == 'I'))) {
        if (end - p >= 4 && memcmp(p, "NaN\"", 4) == 0) {
            *value = Py_NAN;
            *cursor = p + 4;
            return 1;
        }
        if (end - p >= 5 && memcmp(p + 1, "Inf\"", 4) == 0 && *p != 'N') {
            *value = *p == '+' ? Py_HUGE_VAL : -Py_HUGE_VAL;
            *cursor = p + 5;
            return 1;
        }
        return 0;
    }
    int negative = p < end && *p == '-';
    p += negative;
    /* The digits as one integer (while it fits in 19 of them) and the power of ten to scale it
       by, for Clinger's exact case below. */
    uint64_t mantissa = 0;
    int digits = 0;
    int64_t scale = 0; /* a long run of zeros counts here: no int to overflow */
    const char *start = p;
    for (; p < end && is_digit(*p); p++)
        if (digits < 19) {
            mantissa = mantissa * 10 + (uint64_t)(*p - '0');
            digits += mantissa != 0;
        } else {
            scale++;
        }
    if (p == start)
        return 0;
    if (p < end && *p == '.') {
        const char *decimals = ++p;
        for (; p < end && is_digit(*p); p++)
            if (digits < 19) {
                mantissa = mantissa * 10 + (uint64_t)(*p - '0');
                digits += mantissa != 0;
                scale--;
            }
        if (p == decimals)
            return 0;
    }
    int64_t exponent = 0;
    int exponent_sign = 1, capped = 0;
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            exponent_sign = *p++ == '-' ? -1 : 1;
        const char *first = p;
        for (; p < end && is_digit(*p); p++)
            if (exponent < 100000)
                exponent = exponent * 10 + (*p - '0');
            else
                capped = 1; /* past any double: strtod says inf or 0, whatever the zeros */
        if (p == first)
            return 0;
    }
    if (p >= end || *p != '"')
        return 0;
    const char *close = p;
    *cursor = close + 1;
    scale += exponent_sign * exponent;
#if FLT_EVAL_METHOD == 0
    /* Clinger: an integer below 2^53 and a power of ten up to 1e22 are exact doubles, so one
       IEEE multiplication or division rounds correctly, as strtod would. Most values are so. */
    if (!capped && digits <= 19 && mantissa <= ((uint64_t)1 << 53) && scale >= -22 &&
        scale <= 22) {
        double exact = (double)mantissa;
        exact = scale < 0 ? exact / exact_powers[-scale] : exact * exact_powers[scale];
        *value = negative ? -exact : exact;
        return 1;
    }
#endif
    /* The closing quote stops strtod: the text needs no copy to end in a NUL. */
    char *stop;
    *value = strtod_c(text, &stop);
    return stop == close;
}

/* The samples of one series, from its first `[`: `[t,"v"],...,[t,"v"]` (one `[t,"v"]` in a vector).
   Returns how many, or -1 where they are not all as above or overflow the arrays. */
static Py_ssize_t read_run(const char **cursor, const char *end, int vector, int64_t latest,
                           int64_t *times, double *values, Py_ssize_t room)
{
    const char *p = *cursor;
    Py_ssize_t n = 0;
    for (;;) {
        if (p >= end || *p != '[' || n >= room)
            return -1;
        p++;
        if (!read_timestamp(&p, end, latest, &times[n]))
            return -1;
        if (end - p < 2 || p[0] != ',' || p[1] != '"')
            return -1;
        p += 2;
        if (!read_value(&p, end, &values[n]))
            return -1;
        if (p >= end || *p != ']')
            return -1;
        p++;
        n++;
        if (vector || p >= end || *p != ',')
            break;
        p++;
    }
    *cursor = p;
    return n;
}

/* The end of a metric object, from its `{`: the first `}` outside its strings (a `\` escapes the
   byte after it). NULL where it holds another object or array (labels are flat) or never ends;
   what is inside is json.loads' to judge (frames_bytes parses every metric object). */
static const char *object_end(const char *p, const char *end)
{
    int in_string = 0;
    for (p++; p < end; p++) {
        if (in_string) {
            if (*p == '\\') {
                if (++p >= end)
                    return NULL;
            } else if (*p == '"') {
                in_string = 0;
            }
        } else if (*p == '"') {
            in_string = 1;
        } else if (*p == '}') {
            return p;
        } else if (*p == '{' || *p == '[') {
            return NULL;
        }
    }
    return NULL;
}

static const char METRIC[] = "{\"metric\":{";
#define METRIC_LENGTH (sizeof METRIC - 1)

struct found {
    Py_ssize_t series, samples, position;
};

/* Series from body[begin], each `{"metric":{...}` + key + samples + `}`, up to `stop` (where
   another thread's series begin; -1: none) or the `]` that ends the result. Returns 0 where the
   bytes are not so, or overflow the arrays. */
static int scan_series(const char *body, Py_ssize_t length, Py_ssize_t begin, Py_ssize_t stop,
                       int vector, int64_t latest, int64_t *times, double *values,
                       Py_ssize_t room, int64_t *counts, int64_t *metrics,
                       Py_ssize_t series_room, struct found *found)
{
    /* The samples follow the metric object: `},"values":[` in a matrix, `},"value":` in a
       vector. */
    const char *key = vector ? "},\"value\":" : "},\"values\":[";
    size_t key_length = strlen(key);
    const char *end = body + length, *p = body + begin;
    Py_ssize_t series = 0, samples = 0;
    for (;;) {
        Py_ssize_t at = p - body;
        if (at == stop)
            break;
        if (p < end && *p == ']') {
            if (stop >= 0) /* the result ended before the other thread's series */
                return 0;
            break;
        }
        if (series >= series_room || (size_t)(end - p) < METRIC_LENGTH ||
            memcmp(p, METRIC, METRIC_LENGTH) != 0)
            return 0;
        const char *metric = p + METRIC_LENGTH - 1;
        /* Found by walking the object's strings, not by searching for the key: a label value
           cannot end it early (and a body where it would is no JSON). */
        const char *close = object_end(metric, end);
        if (close == NULL || (size_t)(end - close) < key_length ||
            memcmp(close, key, key_length) != 0)
            return 0;
        metrics[2 * series] = metric - body;
        metrics[2 * series + 1] = close + 1 - body;
        p = close + key_length;
        Py_ssize_t n = read_run(&p, end, vector, latest, times + samples, values + samples,
                                room - samples);
        if (n < 0)
            return 0;
        counts[series++] = n;
        samples += n;
        /* After the samples: the `]` of a matrix's list, the `}` of the series, then the next
           series or the end of the result. */
        if (!vector) {
            if (p >= end || *p != ']')
                return 0;
            p++;
        }
        if (end - p >= 2 && p[0] == '}' && p[1] == ',') {
            p += 2;
            if ((size_t)(end - p) < METRIC_LENGTH || memcmp(p, METRIC, METRIC_LENGTH) != 0)
                return 0;
        } else if (end - p >= 2 && p[0] == '}' && p[1] == ']') {
            p += 1;
        } else {
            return 0;
        }
    }
    found->series = series;
    found->samples = samples;
    found->position = p - body;
    return 1;
}

static int writable(PyObject *object, Py_buffer *view, const char *what, Py_ssize_t itemsize)
{
    if (PyObject_GetBuffer(object, view, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) < 0)
        return 0;
    if (view->len % itemsize != 0) {
        PyErr_Format(PyExc_ValueError, "%s is not a whole number of %zd-byte items", what,
                     itemsize);
        PyBuffer_Release(view);
        return 0;
    }
    return 1;
}

PyDoc_STRVAR(scan_doc,
"scan(body, begin, stop, vector, latest, times, values, counts, metrics)\n"
"    -> (series, samples, position) or None\n"
"\n"
"Read the series of a compact answer from body[begin] (a `{\"metric\":{`) up to the series at\n"
"`stop` (-1: up to the `]` that ends the result): each metric object's [start, end) into\n"
"metrics (int64 pairs), the samples into times (int64 nanoseconds since the epoch) and values\n"
"(float64), samples per series into counts (int64); all buffers the caller allocated. Returns\n"
"how many series and samples there were and where reading stopped. None where the bytes are\n"
"not in the compact layout, a time lies more than `latest` milliseconds from the epoch, or the\n"
"buffers overflow: then take the plain path.");

static PyObject *scan(PyObject *module, PyObject *args)
{
    PyObject *body_object, *times_object, *values_object, *counts_object, *metrics_object;
    Py_ssize_t begin, stop;
    int vector;
    long long latest;
    if (!PyArg_ParseTuple(args, "OnnpLOOOO:scan", &body_object, &begin, &stop, &vector, &latest,
                          &times_object, &values_object, &counts_object, &metrics_object))
        return NULL;
    Py_buffer body, times, values, counts, metrics;
    if (PyObject_GetBuffer(body_object, &body, PyBUF_SIMPLE) < 0)
        return NULL;
    int have_times = 0, have_values = 0, have_counts = 0, have_metrics = 0;
    PyObject *result = NULL;
    if (!(have_times = writable(times_object, &times, "times", 8)) ||
        !(have_values = writable(values_object, &values, "values", 8)) ||
        !(have_counts = writable(counts_object, &counts, "counts", 8)) ||
        !(have_metrics = writable(metrics_object, &metrics, "metrics", 16)))
        goto done;
    if (begin < 0 || begin > body.len || stop < -1 || stop > body.len) {
        PyErr_SetString(PyExc_ValueError, "begin and stop must lie in the body");
        goto done;
    }
    if (latest < 0 || latest > INT64_MAX / 1000000) {
        PyErr_SetString(PyExc_ValueError, "latest must be milliseconds that nanoseconds hold");
        goto done;
    }
    Py_ssize_t room = times.len / 8 < values.len / 8 ? times.len / 8 : values.len / 8;
    Py_ssize_t series_room = counts.len / 8 < metrics.len / 16 ? counts.len / 8 : metrics.len / 16;
    struct found found;
    int ok;
    Py_BEGIN_ALLOW_THREADS
    ok = scan_series((const char *)body.buf, body.len, begin, stop, vector, (int64_t)latest,
                     (int64_t *)times.buf, (double *)values.buf, room, (int64_t *)counts.buf,
                     (int64_t *)metrics.buf, series_room, &found);
    Py_END_ALLOW_THREADS
    if (ok)
        result = Py_BuildValue("(nnn)", found.series, found.samples, found.position);
    else
        result = Py_NewRef(Py_None);
done:
    if (have_metrics)
        PyBuffer_Release(&metrics);
    if (have_counts)
        PyBuffer_Release(&counts);
    if (have_values)
        PyBuffer_Release(&values);
    if (have_times)
        PyBuffer_Release(&times);
    PyBuffer_Release(&body);
    return result;
}

/* The end of the line at buf[from], before `end`: the index of its '\n', or -1. */
static Py_ssize_t line_end(const char *buf, Py_ssize_t from, Py_ssize_t end)
{
    const char *found = memchr(buf + from, '\n', (size_t)(end - from));
    return found ? found - buf : -1;
}

PyDoc_STRVAR(dechunk_doc,
"dechunk(buffer, read, end, start, write, left) -> (read, start, write, left, finished)\n"
"\n"
"Undo HTTP/1.1 chunked framing in place, in one pass over what has arrived: buffer[read:end]\n"
"holds raw bytes not yet parsed; the chunks' data is gathered into buffer[start:write] (start\n"
"is -1 until the first chunk: its data stays where it lies, the next chunks' are moved down\n"
"onto it). left: bytes of the current chunk still to come, -1 at a size line, -2 at the line\n"
"end after a chunk's data, -3 among the trailer lines after the last chunk. Returns the state\n"
"to call again with once more bytes have arrived, and whether the body ended (its last chunk\n"
"and trailers read). ValueError where the framing is malformed.");

#define AT_SIZE (-1)
#define AFTER_DATA (-2)
#define IN_TRAILERS (-3)
/* A size line or trailer longer than this is no HTTP a server sends: refused, not waited on. */
#define MAX_LINE 65536

static PyObject *dechunk(PyObject *module, PyObject *args)
{
    PyObject *buffer;
    Py_ssize_t read, end, start, write, left;
    if (!PyArg_ParseTuple(args, "O!nnnnn:dechunk", &PyByteArray_Type, &buffer, &read, &end, &start,
                          &write, &left))
        return NULL;
    char *buf = PyByteArray_AS_STRING(buffer);
    if (read < 0 || end < read || end > PyByteArray_GET_SIZE(buffer) || left < IN_TRAILERS ||
        (start < 0 ? write != -1 : (write < start || write > read))) {
        PyErr_SetString(PyExc_ValueError, "dechunk: positions out of order");
        return NULL;
    }
    int finished = 0;
    const char *error = NULL;
    while (!finished && !error) {
        if (left > 0) { /* a chunk's data: moved down onto the data before it */
            Py_ssize_t n = end - read < left ? end - read : left;
            if (start < 0)
                start = write = read;
            if (write != read)
                memmove(buf + write, buf + read, (size_t)n);
            write += n;
            read += n;
            left -= n;
            if (left > 0)
                break; /* the rest of it has yet to arrive */
            left = AFTER_DATA;
            continue;
        }
        Py_ssize_t eol = read < end ? line_end(buf, read, end) : -1;
        if (eol < 0) {
            if (end - read > MAX_LINE)
                error = "a chunk's size line or trailer is too long";
            break; /* the line has yet to arrive */
        }
        Py_ssize_t line = eol - read; /* without its '\n'; a '\r' before it is allowed */
        if (line > MAX_LINE) {
            error = "a chunk's size line or trailer is too long";
            break;
        }
        if (line > 0 && buf[eol - 1] == '\r')
            line--;
        if (left == AFTER_DATA) {
            if (line != 0)
                error = "a chunk's data is not followed by a line end";
        } else if (left == IN_TRAILERS) {
            finished = line == 0; /* an empty line ends the trailers, and the body */
        } else { /* AT_SIZE: hex digits, then blanks or `;extensions` */
            Py_ssize_t i = read, stop = read + line, size = 0;
            while (i < stop && (buf[i] == ' ' || buf[i] == '\t'))
                i++;
            Py_ssize_t digits = 0;
            for (; i < stop; i++, digits++) {
                char c = buf[i];
                int value = c >= '0' && c <= '9'   ? c - '0'
                            : c >= 'a' && c <= 'f' ? c - 'a' + 10
                            : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                                   : -1;
                if (value < 0)
                    break;
                if (size > (PY_SSIZE_T_MAX - 15) / 16) {
                    error = "a chunk's size is too large";
                    break;
                }
                size = size * 16 + value;
            }
            while (!error && i < stop && (buf[i] == ' ' || buf[i] == '\t'))
                i++;
            if (!error && (digits == 0 || (i < stop && buf[i] != ';')))
                error = "a chunk's size is not a hex number";
            left = size > 0 ? size : IN_TRAILERS;
        }
        read = eol + 1;
        if (left == AFTER_DATA && !error)
            left = AT_SIZE;
    }
    if (error) {
        PyErr_SetString(PyExc_ValueError, error);
        return NULL;
    }
    return Py_BuildValue("(nnnnO)", read, start, write, left, finished ? Py_True : Py_False);
}

PyDoc_STRVAR(set_length_doc,
"set_length(buffer, size)\n"
"\n"
"Make a bytearray `size` bytes long without writing the bytes it gains (it is to be read\n"
"into): within its allocation, no memory is taken or copied. BufferError while exported.");

static PyObject *set_length(PyObject *module, PyObject *args)
{
    PyObject *buffer;
    Py_ssize_t size;
    if (!PyArg_ParseTuple(args, "O!n:set_length", &PyByteArray_Type, &buffer, &size))
        return NULL;
    if (size < 0) {
        PyErr_SetString(PyExc_ValueError, "size must not be negative");
        return NULL;
    }
    if (PyByteArray_Resize(buffer, size) < 0)
        return NULL;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(exported_doc,
"exported(buffer) -> bool\n"
"\n"
"Whether a view of the bytearray (a memoryview, an array over it) is alive: then its bytes\n"
"are still read, and it must not be written to.");

static PyObject *exported(PyObject *module, PyObject *buffer)
{
    if (!PyByteArray_Check(buffer)) {
        PyErr_SetString(PyExc_TypeError, "exported() takes a bytearray");
        return NULL;
    }
    return PyBool_FromLong(((PyByteArrayObject *)buffer)->ob_exports > 0);
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_VARARGS, scan_doc},
    {"dechunk", dechunk, METH_VARARGS, dechunk_doc},
    {"set_length", set_length, METH_VARARGS, set_length_doc},
    {"exported", exported, METH_O, exported_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "sysmon_magic.samples",
    .m_doc = "The series of a compact query answer -> arrays, without the GIL (see frames_bytes).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit_samples(void)
{
#if defined(_WIN32)
    c_locale = _create_locale(LC_NUMERIC, "C");
#else
    c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
#endif
    if (!c_locale) {
        PyErr_SetString(PyExc_OSError, "cannot make the C locale for reading numbers");
        return NULL;
    }
    return PyModule_Create(&module);
}
