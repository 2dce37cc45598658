
/*
 * Copyright (C) ngx_http_coze_auth_module authors
 */


#include <string.h>

#include "ngx_http_coze_auth_util.h"


#define NGX_HTTP_COZE_AUTH_B64_BAD  0xff

/* decoded rounds of a return path that are re-checked */
#define NGX_HTTP_COZE_AUTH_UNESCAPE_ROUNDS  3


static int ngx_http_coze_auth_hex(unsigned char c);
static size_t ngx_http_coze_auth_unescape_lenient(unsigned char *dst,
    const unsigned char *src, size_t len, int *changed);
static int ngx_http_coze_auth_path_check(const unsigned char *p, size_t len,
    int raw);
static int ngx_http_coze_auth_bad_utf8(const unsigned char *p,
    const unsigned char *end);
static int ngx_http_coze_auth_slash_like(const unsigned char *p,
    const unsigned char *end);
static int ngx_http_coze_auth_segment_lead(const unsigned char *p,
    const unsigned char *end);


static const unsigned char  ngx_http_coze_auth_b64_enc[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static const unsigned char  ngx_http_coze_auth_b64_dec[256] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,        /*  !"#$%&' */
    0xff, 0xff, 0xff, 0xff, 0xff, 62,   0xff, 0xff,        /* ()*+,-./ */
    52,   53,   54,   55,   56,   57,   58,   59,          /* 01234567 */
    60,   61,   0xff, 0xff, 0xff, 0xff, 0xff, 0xff,        /* 89:;<=>? */
    0xff, 0,    1,    2,    3,    4,    5,    6,           /* @ABCDEFG */
    7,    8,    9,    10,   11,   12,   13,   14,          /* HIJKLMNO */
    15,   16,   17,   18,   19,   20,   21,   22,          /* PQRSTUVW */
    23,   24,   25,   0xff, 0xff, 0xff, 0xff, 63,          /* XYZ[\]^_ */
    0xff, 26,   27,   28,   29,   30,   31,   32,          /* `abcdefg */
    33,   34,   35,   36,   37,   38,   39,   40,          /* hijklmno */
    41,   42,   43,   44,   45,   46,   47,   48,          /* pqrstuvw */
    49,   50,   51,   0xff, 0xff, 0xff, 0xff, 0xff,        /* xyz{|}~  */
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff
};

static const unsigned char  ngx_http_coze_auth_hex_upper[] =
    "0123456789ABCDEF";

static const unsigned char  ngx_http_coze_auth_hex_lower[] =
    "0123456789abcdef";


size_t
ngx_http_coze_auth_b64url_encode(unsigned char *dst, const unsigned char *src,
    size_t len)
{
    size_t        i, j, n;
    unsigned int  v;

    /*
     * Groups are encoded from the last one backwards: group k reads
     * src[3k..3k+2] and writes dst[4k..4k+3], which never overlaps the
     * input of an earlier group, so dst == src works.
     */

    n = ngx_http_coze_auth_b64url_len(len);
    i = len - len % 3;
    j = (len / 3) * 4;

    switch (len % 3) {

    case 1:
        v = src[i];
        dst[j] = ngx_http_coze_auth_b64_enc[v >> 2];
        dst[j + 1] = ngx_http_coze_auth_b64_enc[(v & 0x03) << 4];
        break;

    case 2:
        v = ((unsigned int) src[i] << 8) | src[i + 1];
        dst[j] = ngx_http_coze_auth_b64_enc[v >> 10];
        dst[j + 1] = ngx_http_coze_auth_b64_enc[(v >> 4) & 0x3f];
        dst[j + 2] = ngx_http_coze_auth_b64_enc[(v & 0x0f) << 2];
        break;

    default:
        break;
    }

    while (i) {
        i -= 3;
        j -= 4;

        v = ((unsigned int) src[i] << 16)
            | ((unsigned int) src[i + 1] << 8)
            | src[i + 2];

        dst[j] = ngx_http_coze_auth_b64_enc[v >> 18];
        dst[j + 1] = ngx_http_coze_auth_b64_enc[(v >> 12) & 0x3f];
        dst[j + 2] = ngx_http_coze_auth_b64_enc[(v >> 6) & 0x3f];
        dst[j + 3] = ngx_http_coze_auth_b64_enc[v & 0x3f];
    }

    return n;
}


int
ngx_http_coze_auth_b64url_decode(unsigned char *dst, size_t *dst_len,
    const unsigned char *src, size_t len)
{
    size_t         i, pad;
    unsigned int   v;
    unsigned char  c0, c1, c2, c3, *d;

    pad = 0;

    while (len && src[len - 1] == '=') {
        len--;
        pad++;
    }

    if (pad > 2 || (pad && (len + pad) % 4 != 0) || len % 4 == 1) {
        return NGX_HTTP_COZE_AUTH_ERROR;
    }

    d = dst;

    for (i = 0; i + 4 <= len; i += 4) {
        c0 = ngx_http_coze_auth_b64_dec[src[i]];
        c1 = ngx_http_coze_auth_b64_dec[src[i + 1]];
        c2 = ngx_http_coze_auth_b64_dec[src[i + 2]];
        c3 = ngx_http_coze_auth_b64_dec[src[i + 3]];

        if ((c0 | c1 | c2 | c3) & 0xc0) {
            return NGX_HTTP_COZE_AUTH_ERROR;
        }

        v = ((unsigned int) c0 << 18) | ((unsigned int) c1 << 12)
            | ((unsigned int) c2 << 6) | c3;

        *d++ = (unsigned char) (v >> 16);
        *d++ = (unsigned char) (v >> 8);
        *d++ = (unsigned char) v;
    }

    switch (len - i) {

    case 2:
        c0 = ngx_http_coze_auth_b64_dec[src[i]];
        c1 = ngx_http_coze_auth_b64_dec[src[i + 1]];

        if (((c0 | c1) & 0xc0) || (c1 & 0x0f)) {
            return NGX_HTTP_COZE_AUTH_ERROR;
        }

        *d++ = (unsigned char) ((c0 << 2) | (c1 >> 4));
        break;

    case 3:
        c0 = ngx_http_coze_auth_b64_dec[src[i]];
        c1 = ngx_http_coze_auth_b64_dec[src[i + 1]];
        c2 = ngx_http_coze_auth_b64_dec[src[i + 2]];

        if (((c0 | c1 | c2) & 0xc0) || (c2 & 0x03)) {
            return NGX_HTTP_COZE_AUTH_ERROR;
        }

        v = ((unsigned int) c0 << 10) | ((unsigned int) c1 << 4) | (c2 >> 2);

        *d++ = (unsigned char) (v >> 8);
        *d++ = (unsigned char) v;
        break;

    default:
        break;
    }

    *dst_len = d - dst;

    return NGX_HTTP_COZE_AUTH_OK;
}


size_t
ngx_http_coze_auth_url_escape(unsigned char *dst, const unsigned char *src,
    size_t len)
{
    size_t         i, n;
    unsigned char  c;

    n = 0;

    for (i = 0; i < len; i++) {
        c = src[i];

        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
            || (c >= '0' && c <= '9')
            || c == '-' || c == '.' || c == '_' || c == '~')
        {
            if (dst) {
                dst[n] = c;
            }

            n++;
            continue;
        }

        if (dst) {
            dst[n] = '%';
            dst[n + 1] = ngx_http_coze_auth_hex_upper[c >> 4];
            dst[n + 2] = ngx_http_coze_auth_hex_upper[c & 0x0f];
        }

        n += 3;
    }

    return n;
}


int
ngx_http_coze_auth_url_unescape(unsigned char *dst, size_t *dst_len,
    const unsigned char *src, size_t len, int plus_is_space)
{
    int     hi, lo;
    size_t  i, n;

    n = 0;

    for (i = 0; i < len; i++) {

        if (src[i] == '%') {
            if (len - i < 3) {
                return NGX_HTTP_COZE_AUTH_ERROR;
            }

            hi = ngx_http_coze_auth_hex(src[i + 1]);
            lo = ngx_http_coze_auth_hex(src[i + 2]);

            if (hi < 0 || lo < 0) {
                return NGX_HTTP_COZE_AUTH_ERROR;
            }

            dst[n++] = (unsigned char) ((hi << 4) | lo);
            i += 2;

        } else if (src[i] == '+' && plus_is_space) {
            dst[n++] = ' ';

        } else {
            dst[n++] = src[i];
        }
    }

    *dst_len = n;

    return NGX_HTTP_COZE_AUTH_OK;
}


int
ngx_http_coze_auth_query_arg(const unsigned char *query, size_t len,
    const char *name, ngx_http_coze_auth_str_t *value)
{
    size_t                nlen;
    const unsigned char  *p, *q, *end;

    nlen = strlen(name);

    if (nlen == 0 || query == NULL) {
        return NGX_HTTP_COZE_AUTH_ERROR;
    }

    p = query;
    end = query + len;

    for ( ;; ) {
        q = memchr(p, '&', end - p);
        if (q == NULL) {
            q = end;
        }

        if ((size_t) (q - p) >= nlen && memcmp(p, name, nlen) == 0) {

            if (p + nlen == q) {
                value->len = 0;
                value->data = (unsigned char *) q;
                return NGX_HTTP_COZE_AUTH_OK;
            }

            if (p[nlen] == '=') {
                value->data = (unsigned char *) p + nlen + 1;
                value->len = q - value->data;
                return NGX_HTTP_COZE_AUTH_OK;
            }
        }

        if (q == end) {
            return NGX_HTTP_COZE_AUTH_ERROR;
        }

        p = q + 1;
    }
}


size_t
ngx_http_coze_auth_html_escape(unsigned char *dst, const unsigned char *src,
    size_t len)
{
    size_t       i, n, elen;
    const char  *e;

    n = 0;

    for (i = 0; i < len; i++) {

        switch (src[i]) {

        case '&':
            e = "&amp;";
            elen = 5;
            break;

        case '<':
            e = "&lt;";
            elen = 4;
            break;

        case '>':
            e = "&gt;";
            elen = 4;
            break;

        case '"':
            e = "&quot;";
            elen = 6;
            break;

        case '\'':
            e = "&#39;";
            elen = 5;
            break;

        default:
            if (dst) {
                dst[n] = src[i];
            }

            n++;
            continue;
        }

        if (dst) {
            memcpy(dst + n, e, elen);
        }

        n += elen;
    }

    return n;
}


size_t
ngx_http_coze_auth_json_escape(unsigned char *dst, const unsigned char *src,
    size_t len)
{
    size_t         i, n;
    unsigned char  c;

    n = 0;

    for (i = 0; i < len; i++) {
        c = src[i];

        if (c == '"' || c == '\\') {
            if (dst) {
                dst[n] = '\\';
                dst[n + 1] = c;
            }

            n += 2;

        } else if (c < 0x20 || c == 0x7f) {
            if (dst) {
                memcpy(dst + n, "\\u00", 4);
                dst[n + 4] = ngx_http_coze_auth_hex_lower[c >> 4];
                dst[n + 5] = ngx_http_coze_auth_hex_lower[c & 0x0f];
            }

            n += 6;

        } else {
            if (dst) {
                dst[n] = c;
            }

            n++;
        }
    }

    return n;
}


int
ngx_http_coze_auth_return_path_valid(const unsigned char *p, size_t len)
{
    int            changed;
    size_t         n, round;
    unsigned char  buf[NGX_HTTP_COZE_AUTH_RETURN_PATH_MAX];

    if (p == NULL || len == 0 || len > NGX_HTTP_COZE_AUTH_RETURN_PATH_MAX) {
        return 0;
    }

    if (!ngx_http_coze_auth_path_check(p, len, 1)) {
        return 0;
    }

    /*
     * Someone downstream may decode the path once or more (an application
     * that reads it back, a proxy): every decoded form must pass the same
     * checks, and a path still encoded after that many rounds is refused.
     */

    n = ngx_http_coze_auth_unescape_lenient(buf, p, len, &changed);

    for (round = 0; changed; round++) {

        if (round == NGX_HTTP_COZE_AUTH_UNESCAPE_ROUNDS) {
            return 0;
        }

        if (!ngx_http_coze_auth_path_check(buf, n, 0)) {
            return 0;
        }

        n = ngx_http_coze_auth_unescape_lenient(buf, buf, n, &changed);
    }

    return 1;
}


static int
ngx_http_coze_auth_hex(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    c |= 0x20;

    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }

    return -1;
}


/* decodes valid %XX only; anything else, a stray '%' too, stays as is */

static size_t
ngx_http_coze_auth_unescape_lenient(unsigned char *dst,
    const unsigned char *src, size_t len, int *changed)
{
    int     hi, lo;
    size_t  i, n;

    *changed = 0;
    n = 0;

    for (i = 0; i < len; i++) {

        if (src[i] == '%' && len - i >= 3) {
            hi = ngx_http_coze_auth_hex(src[i + 1]);
            lo = ngx_http_coze_auth_hex(src[i + 2]);

            if (hi >= 0 && lo >= 0) {
                dst[n++] = (unsigned char) ((hi << 4) | lo);
                i += 2;
                *changed = 1;
                continue;
            }
        }

        dst[n++] = src[i];
    }

    return n;
}


/*
 * One form of a return path.  raw: the text that goes into Location, which
 * must also be a clean URI reference (strict escapes, no space etc.).
 */

static int
ngx_http_coze_auth_path_check(const unsigned char *p, size_t len, int raw)
{
    size_t                depth, slen;
    unsigned char         c;
    const unsigned char  *s, *q, *end, *path_end;

    end = p + len;

    if (len == 0 || p[0] != '/') {
        return 0;
    }

    if (len > 1 && (p[1] == '/' || p[1] == '\\')) {
        return 0;
    }

    if (ngx_http_coze_auth_bad_utf8(p, end)) {
        return 0;
    }

    path_end = end;

    for (q = p; q < end; q++) {
        c = *q;

        /* CR, LF, TAB, NUL and friends: browsers strip some of them */

        if (c < 0x20 || c == 0x7f) {
            return 0;
        }

        if (raw) {
            switch (c) {

            case ' ':
            case '"':
            case '<':
            case '>':
            case '\\':
            case '^':
            case '`':
            case '{':
            case '|':
            case '}':
                return 0;

            case '%':
                if (end - q < 3
                    || ngx_http_coze_auth_hex(q[1]) < 0
                    || ngx_http_coze_auth_hex(q[2]) < 0)
                {
                    return 0;
                }

                break;

            default:
                break;
            }
        }

        if ((c == '?' || c == '#') && path_end == end) {
            path_end = q;
        }
    }

    /* the path part: no scheme, no userinfo, no backslash, no "//" */

    for (q = p; q < path_end; q++) {
        c = *q;

        if (c == ':' || c == '@' || c == '\\') {
            return 0;
        }

        if (ngx_http_coze_auth_slash_like(q, path_end)) {
            return 0;
        }
    }

    /* segments: none empty but the last, ".." never above the root */

    depth = 0;
    s = p + 1;

    for ( ;; ) {
        q = memchr(s, '/', path_end - s);
        if (q == NULL) {
            q = path_end;
        }

        slen = q - s;

        if (slen == 0 && q != path_end) {
            return 0;
        }

        if (ngx_http_coze_auth_segment_lead(s, q)) {
            return 0;
        }

        if (slen == 2 && s[0] == '.' && s[1] == '.') {
            if (depth == 0) {
                return 0;
            }

            depth--;

        } else if (!(slen == 1 && s[0] == '.') && slen != 0) {
            depth++;
        }

        if (q == path_end) {
            break;
        }

        s = q + 1;
    }

    return 1;
}


/* overlong UTF-8 forms, which lenient decoders turn into '/' or '.' */

static int
ngx_http_coze_auth_bad_utf8(const unsigned char *p, const unsigned char *end)
{
    for ( /* void */ ; p < end; p++) {

        if (*p == 0xc0 || *p == 0xc1) {
            return 1;
        }

        if (end - p < 2) {
            continue;
        }

        if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xf0 && p[1] < 0x90)) {
            return 1;
        }
    }

    return 0;
}


/*
 * Characters that some browsers and proxies have normalized to '/' or
 * '\': U+2044, U+2215, U+29F8, U+FE68, U+FF0F, U+FF3C.
 */

static int
ngx_http_coze_auth_slash_like(const unsigned char *p,
    const unsigned char *end)
{
    if (end - p < 3) {
        return 0;
    }

    if (p[0] == 0xe2) {
        return (p[1] == 0x81 && p[2] == 0x84)
               || (p[1] == 0x88 && p[2] == 0x95)
               || (p[1] == 0xa7 && p[2] == 0xb8);
    }

    if (p[0] == 0xef) {
        return (p[1] == 0xb9 && p[2] == 0xa8)
               || (p[1] == 0xbc && (p[2] == 0x8f || p[2] == 0xbc));
    }

    return 0;
}


/*
 * Kana repeat and prolonged sound marks that some browsers have read as
 * "/" when they start a segment: U+3031, U+3035, U+309D, U+30FC, U+FF70.
 * None of them can begin a word, so ordinary Japanese paths are fine.
 */

static int
ngx_http_coze_auth_segment_lead(const unsigned char *p,
    const unsigned char *end)
{
    if (end - p < 3) {
        return 0;
    }

    if (p[0] == 0xe3) {
        return (p[1] == 0x80 && (p[2] == 0xb1 || p[2] == 0xb5))
               || (p[1] == 0x82 && p[2] == 0x9d)
               || (p[1] == 0x83 && p[2] == 0xbc);
    }

    return p[0] == 0xef && p[1] == 0xbd && p[2] == 0xb0;
}
