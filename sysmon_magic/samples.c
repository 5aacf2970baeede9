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

static PyMethodDef methods[] = {
    {"scan", scan, METH_VARARGS, scan_doc},
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
