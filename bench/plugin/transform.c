/* The plugin of issue 13 (the plugin case): a vector of i64 in, an O(n^2) transform, a vector
 * out, both serialized as JSON arrays. Built from this one file natively as a shared object
 * (`cc -O2 -shared -fPIC`, and the same with clang) and to wasm32-wasi as a reactor
 * (`clang --target=wasm32-wasi -O2 -mexec-model=reactor`, with and without -msimd128);
 * bench/plugin/host.rs builds and drives them.
 *
 * The host's side of one call:
 *   in  = plugin_alloc(len)                   -- len bytes of JSON input, written by the host
 *   out = plugin_alloc(sizeof(uint8_t *))     -- where plugin_transform leaves its output pointer
 *   n   = plugin_transform(in, len, out)      -- n bytes of JSON output at *out (0: rejected)
 *   plugin_free(*out); plugin_free(out); plugin_free(in)
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#if defined(__wasm__)
#define EXPORT(name) __attribute__((export_name(name)))
#else
#define EXPORT(name) __attribute__((visibility("default")))
#endif

/* len bytes (at least 1) from the plugin's heap; NULL when out of memory. */
EXPORT("plugin_alloc") uint8_t *plugin_alloc(size_t len) {
    return malloc(len ? len : 1);
}

/* Frees what plugin_alloc or plugin_transform returned (NULL is allowed). */
EXPORT("plugin_free") void plugin_free(void *p) {
    free(p);
}

static int is_space(uint8_t c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static size_t skip_space(const uint8_t *s, size_t len, size_t i) {
    while (i < len && is_space(s[i]))
        i++;
    return i;
}

/* Parses a JSON array of integers that fit in an i64 (`[1, -2, 3]`, whitespace allowed around
 * every token, nothing else) into out, which has room for `cap` values. Returns how many values
 * it read, or -1 if the input is not such an array or holds more than `cap` values. */
static ptrdiff_t parse(const uint8_t *s, size_t len, uint64_t *out, size_t cap) {
    size_t i = skip_space(s, len, 0);
    size_t n = 0;
    if (i >= len || s[i] != '[')
        return -1;
    i = skip_space(s, len, i + 1);
    if (i < len && s[i] == ']')
        return skip_space(s, len, i + 1) == len ? 0 : -1;
    for (;;) {
        int negative = 0;
        uint64_t magnitude = 0;
        size_t digits = 0;
        if (i < len && s[i] == '-') {
            negative = 1;
            i++;
        }
        /* JSON allows no leading zeros: "0" alone, or a non-zero first digit. */
        if (i < len && s[i] == '0' && i + 1 < len && s[i + 1] >= '0' && s[i + 1] <= '9')
            return -1;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            uint64_t d = (uint64_t)(s[i] - '0');
            if (magnitude > (UINT64_MAX - d) / 10)
                return -1;
            magnitude = magnitude * 10 + d;
            digits++;
            i++;
        }
        if (digits == 0)
            return -1;
        /* i64's range: up to 2^63 - 1, down to -2^63. */
        if (magnitude > (uint64_t)INT64_MAX + (uint64_t)negative)
            return -1;
        if (n == cap)
            return -1;
        /* Two's complement in unsigned arithmetic: -m is 0 - m. */
        out[n++] = negative ? (uint64_t)0 - magnitude : magnitude;
        i = skip_space(s, len, i);
        if (i >= len)
            return -1;
        if (s[i] == ']')
            return skip_space(s, len, i + 1) == len ? (ptrdiff_t)n : -1;
        if (s[i] != ',')
            return -1;
        i = skip_space(s, len, i + 1);
    }
}

/* The seed's transform, O(n^2) like the seed's loops: for each x[idx], values[idx] starts at
 * x[idx] * x[0] and then adds every later x[j]. The running value is a local, as the seed's
 * Rust compiles it (its `values[idx]` cannot alias `x`). Wrapping i64 arithmetic, done in u64,
 * where overflow is defined. */
static void transform(const uint64_t *x, uint64_t *values, size_t n) {
    for (size_t idx = 0; idx < n; idx++) {
        uint64_t v = x[idx] * x[0];
        for (size_t j = 1; j < n; j++)
            v += x[j];
        values[idx] = v;
    }
}

/* Writes the i64 `v` (two's complement in a u64) in decimal at p; returns the bytes written
 * (at most 20). */
static size_t write_i64(uint8_t *p, uint64_t v) {
    uint8_t digits[20];
    size_t n = 0, w = 0;
    int negative = (v >> 63) != 0;
    uint64_t m = negative ? (uint64_t)0 - v : v;
    do {
        digits[n++] = (uint8_t)('0' + m % 10);
        m /= 10;
    } while (m != 0);
    if (negative)
        p[w++] = '-';
    while (n > 0)
        p[w++] = digits[--n];
    return w;
}

/* Reads the JSON array of len bytes at json_in, runs the transform, and leaves the result as a
 * JSON array (`[1,-2,3]`, no whitespace) in a buffer from plugin_alloc at *json_out, which the
 * caller frees with plugin_free. Returns the output's length in bytes; 0 (and *json_out = NULL)
 * if the input is not a JSON array of i64 or memory ran out. */
EXPORT("plugin_transform")
size_t plugin_transform(const uint8_t *json_in, size_t len, uint8_t **json_out) {
    /* Every value takes at least 2 bytes ("1," or "1]"), so this many always fit. */
    size_t cap = len / 2 + 1;
    uint64_t *x = malloc(cap * sizeof *x);
    uint64_t *values = NULL;
    uint8_t *out = NULL;
    size_t w = 0, n;
    ptrdiff_t parsed;
    *json_out = NULL;
    if (x == NULL)
        goto done;
    parsed = parse(json_in, len, x, cap);
    if (parsed < 0)
        goto done;
    n = (size_t)parsed;
    values = malloc((n ? n : 1) * sizeof *values);
    /* "[" + n values of at most 20 bytes + n - 1 commas + "]" */
    out = plugin_alloc(2 + n * 21);
    if (values == NULL || out == NULL)
        goto done;
    transform(x, values, n);
    out[w++] = '[';
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            out[w++] = ',';
        w += write_i64(out + w, values[i]);
    }
    out[w++] = ']';
    *json_out = out;
    out = NULL;
done:
    free(out);
    free(values);
    free(x);
    return *json_out ? w : 0;
}
