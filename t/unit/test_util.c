
/*
 * Copyright (C) ngx_http_coze_auth_module authors
 *
 * Unit tests of ngx_http_coze_auth_util.c.
 *
 * usage: test_util [open-redirect-payloads.txt]
 * (or COZE_PAYLOADS=..., which the Makefile sets; default
 * ../shared/data/open-redirect-payloads.txt relative to the repository
 * root, which is the current directory)
 */


#include "tap.h"

#include "ngx_http_coze_auth_util.h"


#define TEST_DEFAULT_PAYLOADS  "../shared/data/open-redirect-payloads.txt"
#define TEST_PAYLOADS_MIN      834
#define TEST_LINE_MAX          8192


static void test_b64url(void);
static void test_url_escape(void);
static void test_query_arg(void);
static void test_html_json(void);
static void test_return_path_good(void);
static void test_return_path_bad(void);
static void test_payload_file(const char *path);
static int b64_dec(const char *in, unsigned char *out, size_t *outlen);
static int path_ok(const char *p);


int
main(int argc, char **argv)
{
    const char  *path;

    test_b64url();
    test_url_escape();
    test_query_arg();
    test_html_json();
    test_return_path_good();
    test_return_path_bad();

    path = argc > 1 ? argv[1] : getenv("COZE_PAYLOADS");
    if (path == NULL || path[0] == '\0') {
        path = TEST_DEFAULT_PAYLOADS;
    }

    test_payload_file(path);

    return done_testing();
}


static int
b64_dec(const char *in, unsigned char *out, size_t *outlen)
{
    return ngx_http_coze_auth_b64url_decode(out, outlen,
                                            (const unsigned char *) in,
                                            strlen(in));
}


static int
path_ok(const char *p)
{
    return ngx_http_coze_auth_return_path_valid((const unsigned char *) p,
                                                strlen(p));
}


static void
test_b64url(void)
{
    int            rc, good;
    size_t         i, len, n, m, c;
    unsigned char  src[300], enc[400], dec[400], one[1];

    static const struct {
        const char  *plain;
        const char  *encoded;
    } vectors[] = {
        { "", "" },
        { "f", "Zg" },
        { "fo", "Zm8" },
        { "foo", "Zm9v" },
        { "foob", "Zm9vYg" },
        { "fooba", "Zm9vYmE" },
        { "foobar", "Zm9vYmFy" },
        { "\xfb\xff\xbf", "-_-_" },
        { "\xff\xfe", "__4" },
    };

    static const char  *bad[] = {
        "Z", "Zm9vY", "Zg=", "Zg===", "Zm8==", "Zm9v=", "=", "==",
        "Zm+v", "Zm/v", "Zm9 ", " Zm9", "Zm9v\n", "Zm.v",
        "Zh", "Zm9", "Zm=v", "Z=g=", "Zm9vYg=A", "\xc3\xa9\xc3\xa9",
    };

    for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        len = strlen(vectors[i].plain);
        n = ngx_http_coze_auth_b64url_encode(enc,
                                    (const unsigned char *) vectors[i].plain,
                                    len);
        is_mem(enc, n, vectors[i].encoded, "b64url encode vector %zu", i);
        is_int(ngx_http_coze_auth_b64url_len(len), n,
               "b64url_len vector %zu", i);

        rc = b64_dec(vectors[i].encoded, dec, &m);
        ok(rc == NGX_HTTP_COZE_AUTH_OK && m == len
           && memcmp(dec, vectors[i].plain, len) == 0,
           "b64url decode vector %zu", i);
    }

    /* round trips of every length, separate and in place */

    for (i = 0; i < sizeof(src); i++) {
        src[i] = (unsigned char) (i * 37 + 11);
    }

    good = 1;

    for (len = 0; len <= sizeof(src); len++) {
        n = ngx_http_coze_auth_b64url_encode(enc, src, len);

        if (n != ngx_http_coze_auth_b64url_len(len)) {
            good = 0;
        }

        for (c = 0; c < n; c++) {
            if (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                       "0123456789-_", enc[c]) == NULL)
            {
                good = 0;
            }
        }

        if (ngx_http_coze_auth_b64url_decode(dec, &m, enc, n)
            != NGX_HTTP_COZE_AUTH_OK
            || m != len || memcmp(dec, src, len) != 0
            || m > ngx_http_coze_auth_b64url_decoded_len(n))
        {
            good = 0;
        }

        /* in place both ways */

        memcpy(dec, src, len);
        if (ngx_http_coze_auth_b64url_encode(dec, dec, len) != n
            || memcmp(dec, enc, n) != 0)
        {
            good = 0;
        }

        if (ngx_http_coze_auth_b64url_decode(dec, &m, dec, n)
            != NGX_HTTP_COZE_AUTH_OK
            || m != len || memcmp(dec, src, len) != 0)
        {
            good = 0;
        }
    }

    ok(good, "b64url round trips, lengths 0..%zu, in place too", sizeof(src));

    /* padding is tolerated */

    ok(b64_dec("Zg==", dec, &m) == NGX_HTTP_COZE_AUTH_OK && m == 1
       && dec[0] == 'f', "padded Zg== decodes");
    ok(b64_dec("Zm8=", dec, &m) == NGX_HTTP_COZE_AUTH_OK && m == 2,
       "padded Zm8= decodes");

    /* rejections */

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ok(b64_dec(bad[i], dec, &m) == NGX_HTTP_COZE_AUTH_ERROR,
           "b64url rejects bad input %zu", i);
    }

    ok(ngx_http_coze_auth_b64url_decode(dec, &m,
                                        (const unsigned char *) "Zm\0v", 4)
       == NGX_HTTP_COZE_AUTH_ERROR, "b64url rejects NUL");

    /* every single byte value in a 2-char group: only the alphabet works */

    good = 1;

    for (c = 0; c < 256; c++) {
        unsigned char  t[4];

        t[0] = (unsigned char) c;
        t[1] = 'A';
        rc = ngx_http_coze_auth_b64url_decode(one, &m, t, 2);

        if ((rc == NGX_HTTP_COZE_AUTH_OK)
            != (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                       "0123456789-_", (int) c) != NULL && c != 0))
        {
            good = 0;
        }
    }

    ok(good, "b64url accepts exactly the 64-character alphabet");

    ok(ngx_http_coze_auth_b64url_decode(dec, &m, (const unsigned char *) "",
                                        0)
       == NGX_HTTP_COZE_AUTH_OK && m == 0, "empty decodes to empty");
}


static void
test_url_escape(void)
{
    int            rc;
    size_t         i, n, m;
    unsigned char  buf[1024], all[256], out[1024];

    static const unsigned char  plain[] = "aZ09-._~ /?&=+%\xe4";
    static const char          *bad[] = { "%", "a%", "a%4", "%4g", "%g4",
                                          "%%41", "abc%2", "%-1", "% 20" };

    n = ngx_http_coze_auth_url_escape(buf, plain, sizeof(plain) - 1);
    is_mem(buf, n, "aZ09-._~%20%2F%3F%26%3D%2B%25%E4", "url_escape");
    is_int(ngx_http_coze_auth_url_escape(NULL, plain, sizeof(plain) - 1), n,
           "url_escape NULL dst gives the length");

    for (i = 0; i < 256; i++) {
        all[i] = (unsigned char) i;
    }

    n = ngx_http_coze_auth_url_escape(buf, all, 256);
    is_int(n, 66 + 190 * 3, "url_escape of all bytes has the right length");
    rc = ngx_http_coze_auth_url_unescape(out, &m, buf, n, 0);
    ok(rc == NGX_HTTP_COZE_AUTH_OK && m == 256 && memcmp(out, all, 256) == 0,
       "url_unescape(url_escape(all bytes)) round trips");

    rc = ngx_http_coze_auth_url_unescape(buf, &m,
                                 (const unsigned char *) "a%20b+c%2B%2fd%e4",
                                 strlen("a%20b+c%2B%2fd%e4"), 1);
    ok(rc == NGX_HTTP_COZE_AUTH_OK, "url_unescape plus_is_space");
    is_mem(buf, m, "a b c+/d\xe4", "url_unescape result with plus");

    rc = ngx_http_coze_auth_url_unescape(buf, &m,
                                         (const unsigned char *) "a+b", 3, 0);
    ok(rc == NGX_HTTP_COZE_AUTH_OK, "url_unescape keeps +");
    is_mem(buf, m, "a+b", "url_unescape without plus_is_space");

    memcpy(buf, "x%41%42y", 8);
    rc = ngx_http_coze_auth_url_unescape(buf, &m, buf, 8, 0);
    ok(rc == NGX_HTTP_COZE_AUTH_OK, "url_unescape in place");
    is_mem(buf, m, "xABy", "url_unescape in place result");

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        rc = ngx_http_coze_auth_url_unescape(out, &m,
                                             (const unsigned char *) bad[i],
                                             strlen(bad[i]), 1);
        is_int(rc, NGX_HTTP_COZE_AUTH_ERROR, "url_unescape rejects '%s'",
               bad[i]);
    }

    rc = ngx_http_coze_auth_url_unescape(out, &m, (const unsigned char *) "",
                                         0, 0);
    ok(rc == NGX_HTTP_COZE_AUTH_OK && m == 0, "url_unescape empty");
}


static void
test_query_arg(void)
{
    size_t                    i;
    ngx_http_coze_auth_str_t  v;

    static const struct {
        const char  *query;
        const char  *name;
        const char  *value;        /* NULL: absent */
    } cases[] = {
        { "code=abc&state=xyz", "code", "abc" },
        { "code=abc&state=xyz", "state", "xyz" },
        { "code=abc&state=xyz", "stat", NULL },
        { "code=abc&state=xyz", "tate", NULL },
        { "xcode=1&code=2", "code", "2" },
        { "code=1&code=2", "code", "1" },
        { "a=1&code&b=2", "code", "" },
        { "a=1&code", "code", "" },
        { "code=", "code", "" },
        { "code=&x=1", "code", "" },
        { "&&code=%41%20&", "code", "%41%20" },
        { "code=a=b", "code", "a=b" },
        { "", "code", NULL },
        { "&", "code", NULL },
        { "code_x=1", "code", NULL },
        { "=1&code=3", "code", "3" },
        { "state=s&error=access_denied", "error", "access_denied" },
        { "code=abc", "", NULL },
    };

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int  rc;

        memset(&v, 0, sizeof(v));
        rc = ngx_http_coze_auth_query_arg(
                                  (const unsigned char *) cases[i].query,
                                  strlen(cases[i].query), cases[i].name, &v);

        if (cases[i].value == NULL) {
            is_int(rc, NGX_HTTP_COZE_AUTH_ERROR,
                   "query_arg('%s', '%s') absent", cases[i].query,
                   cases[i].name);

        } else {
            ok(rc == NGX_HTTP_COZE_AUTH_OK
               && v.len == strlen(cases[i].value)
               && memcmp(v.data, cases[i].value, v.len) == 0
               && v.data >= (unsigned char *) cases[i].query
               && v.data + v.len
                  <= (unsigned char *) cases[i].query
                     + strlen(cases[i].query),
               "query_arg('%s', '%s') = '%s'", cases[i].query,
               cases[i].name, cases[i].value);
        }
    }

    /* a length shorter than the string: nothing beyond it is read */

    ok(ngx_http_coze_auth_query_arg((const unsigned char *) "a=1&code=2", 3,
                                    "code", &v)
       == NGX_HTTP_COZE_AUTH_ERROR, "query_arg honours the length");

    ok(ngx_http_coze_auth_query_arg((const unsigned char *) "code=2345", 6,
                                    "code", &v)
       == NGX_HTTP_COZE_AUTH_OK && v.len == 1 && v.data[0] == '2',
       "query_arg value cut at the length");
}


static void
test_html_json(void)
{
    size_t         n;
    unsigned char  buf[256];

    static const unsigned char  h[] = "<a href=\"x\">Tom & 'Jerry'</a>";
    static const unsigned char  j[] = "a\"b\\c\n\x01\x1f\x7f/\xe4\xb8\xad";

    n = ngx_http_coze_auth_html_escape(buf, h, sizeof(h) - 1);
    is_mem(buf, n,
           "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;",
           "html_escape");
    is_int(ngx_http_coze_auth_html_escape(NULL, h, sizeof(h) - 1), n,
           "html_escape NULL dst gives the length");
    n = ngx_http_coze_auth_html_escape(buf, (const unsigned char *) "ok", 2);
    is_mem(buf, n, "ok", "html_escape leaves plain text");

    n = ngx_http_coze_auth_json_escape(buf, j, sizeof(j) - 1);
    is_mem(buf, n, "a\\\"b\\\\c\\u000a\\u0001\\u001f\\u007f/\xe4\xb8\xad",
           "json_escape");
    is_int(ngx_http_coze_auth_json_escape(NULL, j, sizeof(j) - 1), n,
           "json_escape NULL dst gives the length");
    is_int(ngx_http_coze_auth_json_escape(NULL, (const unsigned char *) "", 0),
           0, "json_escape empty");
}


static void
test_return_path_good(void)
{
    size_t         i;
    unsigned char  big[NGX_HTTP_COZE_AUTH_RETURN_PATH_MAX + 1];

    static const char  *good[] = {
        "/",
        "/app/page",
        "/a/b.html?x=1&y=2",
        "/search?q=a%20b",
        "/path?next=/x",
        "/docs#section",
        "/\xe4\xb8\xad\xe6\x96\x87",                       /* "/zhongwen" */
        "/a/./b",
        "/a/",
        "/a/b/../c",
        "/.",
        "/a/..",
        "/~user/x-y_z.html",
        "/a;b=c/d",
        "/%E4%B8%AD%E6%96%87",
        "/search?q=100%25",
        "/search?q=%2525",
        "/a?b=c:d@e//f",
        "/a?redirect=https://example.com",
        "/a#/route/x",
        "/\xe3\x83\xa9\xe3\x83\xbc\xe3\x83\xa1\xe3\x83\xb3",  /* "ramen" */
        "/x/\xef\xbd\xb1",                                 /* half-width a */
        "/a%2Fb",
        "/?",
        "/#",
        "/a?",
        "/app/page?tab=1#top",
    };

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        ok(path_ok(good[i]), "good path accepted: %s", good[i]);
    }

    big[0] = '/';
    memset(big + 1, 'a', sizeof(big) - 1);

    ok(ngx_http_coze_auth_return_path_valid(big, sizeof(big) - 1),
       "path of the maximum length accepted");
    ok(!ngx_http_coze_auth_return_path_valid(big, sizeof(big)),
       "path longer than the maximum rejected");
}


static void
test_return_path_bad(void)
{
    size_t  i;

    static const char  *bad[] = {
        "",
        "a",
        "//evil.com",
        "/\\evil.com",
        "\\\\evil.com",
        "https://evil.com",
        "javascript:alert(1)",
        "data:text/html,x",
        "/javascript:alert(1)",
        "/a:b",
        "/user@evil.com",
        "/a b",
        "/a\tb",
        "/a\r\nSet-Cookie: x=1",
        "/a\x7f",
        "/a\\b",
        "/%2f%2fevil.com",
        "/%2F%2Fevil.com",
        "/%5cevil.com",
        "/%252f%252fevil.com",
        "/%25252f%25252fevil.com",
        "/%2525252f%2525252fevil.com",
        "/%09/evil.com",
        "/%0d%0aLocation:%20x",
        "/a?b=%0d%0aSet-Cookie:x",
        "/%3a",
        "/%40evil.com",
        "/a%",
        "/a%2",
        "/a%zz",
        "/..",
        "/../evil.com",
        "/a/../../evil.com",
        "/%2e%2e/%2e%2e//evil.com",
        "/a//b",
        "/.//evil.com",
        "/\xe3\x80\xb1" "evil.com",            /* U+3031 */
        "/\xef\xbd\xb0" "evil.com",            /* U+FF70 */
        "/a/\xe3\x83\xbc",                      /* U+30FC starting a segment */
        "/\xef\xbc\x8f\xef\xbc\x8f" "evil.com", /* fullwidth solidus */
        "/\xc0\xaf" "evil.com",                /* overlong '/' */
        "/\xe0\x80\xaf" "evil.com",
        "/%c0%afevil.com",
        "/%E3%80%B1evil.com",
        "/<script>",
        "/a\"b",
        "/a`b",
        "/a{b}",
        "/a|b",
        "/a^b",
    };

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ok(!path_ok(bad[i]), "bad path rejected: case %zu", i);
    }

    ok(!ngx_http_coze_auth_return_path_valid((const unsigned char *) "/a\0b",
                                             4), "embedded NUL rejected");
    ok(!ngx_http_coze_auth_return_path_valid(NULL, 0), "NULL rejected");
}


static void
test_payload_file(const char *path)
{
    int           c, accepted;
    FILE         *f;
    char         *line;
    size_t        n, lines;
    tap_block_t  *arena;

    f = fopen(path, "rb");
    ok(f != NULL, "open payload file %s", path);

    if (f == NULL) {
        return;
    }

    arena = NULL;
    line = tap_alloc(&arena, TEST_LINE_MAX);
    if (line == NULL) {
        fclose(f);
        ok(0, "allocate a line buffer");
        return;
    }

    lines = 0;
    accepted = 0;

    /* raw lines: only the trailing "\n" is removed (tabs etc. stay) */

    for ( ;; ) {
        n = 0;

        while ((c = fgetc(f)) != EOF && c != '\n') {
            if (n < TEST_LINE_MAX) {
                line[n++] = (char) c;
            }
        }

        if (c == EOF && n == 0) {
            break;
        }

        lines++;

        if (ngx_http_coze_auth_return_path_valid((unsigned char *) line, n)) {
            accepted++;
            printf("# accepted payload line %zu: '%.*s'\n", lines, (int) n,
                   line);
        }

        if (c == EOF) {
            break;
        }
    }

    fclose(f);
    tap_free_all(&arena);

    ok(lines >= TEST_PAYLOADS_MIN, "read %zu payload lines", lines);
    is_int(accepted, 0, "every open-redirect payload rejected");
}
