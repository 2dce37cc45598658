/*
 * Copyright (C) ngx_http_coze_auth_module authors
 *
 * Unit tests for ngx_http_coze_auth_appconf.c (TAP).  Samples are read
 * from $COZE_AUTH_TEST_DATA, else t/unit/data (run from the repository
 * root).
 */


#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "tap.h"
#include "ngx_http_coze_auth_appconf.h"
#include "ngx_http_coze_auth_jwt.h"


static ngx_http_coze_auth_str_t tstr(const char *s);
static unsigned char *read_file(const char *name, size_t *len);
static int parse_file(const char *name, ngx_http_coze_auth_appconf_t *c,
    char *err, size_t errlen);
static int parse_text(const char *text, ngx_http_coze_auth_appconf_t *c,
    char *err, size_t errlen);
static void test_samples(void);
static void test_errors(void);
static void test_check(void);


static tap_block_t               *arena;
static ngx_http_coze_auth_mem_t   mem = { tap_alloc, &arena };


static ngx_http_coze_auth_str_t
tstr(const char *s)
{
    ngx_http_coze_auth_str_t  r;

    r.len = strlen(s);
    r.data = (unsigned char *) s;

    return r;
}


static unsigned char *
read_file(const char *name, size_t *len)
{
    long            n;
    FILE           *f;
    const char     *dir;
    unsigned char  *buf;
    char            path[1024];

    dir = getenv("COZE_AUTH_TEST_DATA");
    if (dir == NULL) {
        dir = "t/unit/data";
    }

    snprintf(path, sizeof(path), "%s/%s", dir, name);

    f = fopen(path, "rb");
    if (f == NULL) {
        printf("# cannot open %s (run from the repository root or set "
               "COZE_AUTH_TEST_DATA)\n", path);
        return NULL;
    }

    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);

    buf = malloc(n + 1);

    if (buf == NULL || fread(buf, 1, n, f) != (size_t) n) {
        free(buf);
        fclose(f);
        return NULL;
    }

    fclose(f);

    buf[n] = '\0';
    *len = n;

    return buf;
}


static int
parse_file(const char *name, ngx_http_coze_auth_appconf_t *c, char *err,
    size_t errlen)
{
    int             rc;
    size_t          len;
    unsigned char  *json;

    json = read_file(name, &len);
    if (json == NULL) {
        return -100;
    }

    rc = ngx_http_coze_auth_appconf_parse(&mem, json, len, c, err, errlen);

    free(json);

    return rc;
}


static int
parse_text(const char *text, ngx_http_coze_auth_appconf_t *c, char *err,
    size_t errlen)
{
    err[0] = '\0';

    return ngx_http_coze_auth_appconf_parse(&mem,
                                            (const unsigned char *) text,
                                            strlen(text), c, err, errlen);
}


static void
test_samples(void)
{
    EVP_PKEY                      *key;
    ngx_http_coze_auth_appconf_t   c;
    char                           err[256];

    is_int(parse_file("appconf_web.json", &c, err, sizeof(err)),
           NGX_HTTP_COZE_AUTH_OK, "web sample parses");
    is_mem(c.client_type.data, c.client_type.len, "web", "client_type");
    is_mem(c.client_id.data, c.client_id.len,
           "81734206536656306151822452690001.app.coze", "client_id");
    is_mem(c.client_secret.data, c.client_secret.len,
           "test-secret-not-real-0123456789abcdef", "client_secret");
    is_mem(c.coze_api_base.data, c.coze_api_base.len,
           "https://api.coze.cn", "coze_api_base");
    is_mem(c.coze_www_base.data, c.coze_www_base.len,
           "https://www.coze.cn", "coze_www_base");
    ok(c.private_key.len == 0 && c.private_key.data == NULL,
       "missing private_key is empty");
    ok(c.client_id.data[c.client_id.len] == '\0',
       "values are NUL-terminated");
    ok(ngx_http_coze_auth_appconf_check(&c) == NULL, "web sample checks");

    is_int(parse_file("appconf_pkce.json", &c, err, sizeof(err)),
           NGX_HTTP_COZE_AUTH_OK, "pkce sample parses (unknown keys)");
    is_mem(c.client_type.data, c.client_type.len, "pkce", "client_type");
    ok(c.client_secret.len == 0, "no client_secret");
    is_mem(c.coze_api_base.data, c.coze_api_base.len,
           "https://api.coze.com", "coze_api_base");
    ok(ngx_http_coze_auth_appconf_check(&c) == NULL, "pkce sample checks");

    is_int(parse_file("appconf_jwt.json", &c, err, sizeof(err)),
           NGX_HTTP_COZE_AUTH_OK, "jwt sample parses");
    is_mem(c.client_type.data, c.client_type.len, "jwt", "client_type");
    is_mem(c.client_id.data, c.client_id.len, "1127900106117", "client_id");
    is_mem(c.public_key_id.data, c.public_key_id.len,
           "_v0VjcMlLdQc3tRTD3jC5Xz29TUnKQOhtuD5k-gpyf4", "public_key_id");
    ok(c.private_key.len > 28
       && memcmp(c.private_key.data, "-----BEGIN PRIVATE KEY-----\n", 28)
          == 0,
       "\\n in the PEM string is a real newline");
    ok(memchr(c.private_key.data, '\\', c.private_key.len) == NULL,
       "no backslash left in the PEM");
    ok(ngx_http_coze_auth_appconf_check(&c) == NULL, "jwt sample checks");

    key = ngx_http_coze_auth_jwt_load_key(c.private_key.data,
                                          c.private_key.len, err,
                                          sizeof(err));
    ok(key != NULL, "private_key of the jwt sample loads");
    EVP_PKEY_free(key);

    is_int(parse_text("{\"client_type\":\"device\",\"client_id\":\"x\","
                      "\"client_secret\":null,\"extra\":{\"a\":[1,2]},"
                      "\"redirect_uris\":[\"http://127.0.0.1/cb\"]}",
                      &c, err, sizeof(err)),
           NGX_HTTP_COZE_AUTH_OK, "device parses, null is empty");
    ok(c.client_secret.len == 0, "null client_secret is empty");

    is_int(parse_text("{}", &c, err, sizeof(err)), NGX_HTTP_COZE_AUTH_OK,
           "empty object parses");
    ok(c.client_type.len == 0 && c.client_id.len == 0,
       "everything empty");
}


static void
test_errors(void)
{
    ngx_http_coze_auth_appconf_t   c;
    char                           err[256];

    is_int(parse_text("{\n  \"client_id\": \"x\",\n  \"client_type\": }\n",
                      &c, err, sizeof(err)),
           NGX_HTTP_COZE_AUTH_ERROR, "invalid JSON");
    ok(strstr(err, "invalid JSON at line 3, column") != NULL,
       "line and column reported: %s", err);

    is_int(parse_text("{\"client_id\":\"x\"", &c, err, sizeof(err)),
           NGX_HTTP_COZE_AUTH_ERROR, "truncated JSON");
    ok(strstr(err, "invalid JSON at line 1") != NULL, "truncated: %s", err);

    is_int(parse_text("", &c, err, sizeof(err)), NGX_HTTP_COZE_AUTH_ERROR,
           "empty input");
    ok(strstr(err, "empty") != NULL, "empty: %s", err);

    is_int(parse_text("[\"client_id\"]", &c, err, sizeof(err)),
           NGX_HTTP_COZE_AUTH_ERROR, "array root");
    ok(strstr(err, "not a JSON object") != NULL, "array: %s", err);

    is_int(parse_text("{\"client_id\":123}", &c, err, sizeof(err)),
           NGX_HTTP_COZE_AUTH_ERROR, "numeric client_id");
    ok(strstr(err, "\"client_id\" must be a string") != NULL,
       "field named: %s", err);

    is_int(parse_text("{\"client_id\":\"a\",\"private_key\":{\"pem\":1}}",
                      &c, err, sizeof(err)),
           NGX_HTTP_COZE_AUTH_ERROR, "object private_key");
    ok(strstr(err, "\"private_key\" must be a string") != NULL,
       "field named: %s", err);
    ok(c.client_id.len == 0, "output cleared on error");

    is_int(parse_text("{\"coze_api_base\":[\"https://api.coze.cn\"]}",
                      &c, err, sizeof(err)),
           NGX_HTTP_COZE_AUTH_ERROR, "array coze_api_base");
    ok(strstr(err, "coze_api_base") != NULL, "field named: %s", err);

    is_int(parse_text("{\"client_type\":true}", &c, err, sizeof(err)),
           NGX_HTTP_COZE_AUTH_ERROR, "boolean client_type");

    is_int(parse_text("{\"client_type\":\"server\"}", &c, err, sizeof(err)),
           NGX_HTTP_COZE_AUTH_ERROR, "stale client_type server");
    ok(strstr(err, "invalid client_type \"server\"") != NULL,
       "bad type named: %s", err);

    is_int(parse_text("{\"client_type\":\"Web\"}", &c, err, sizeof(err)),
           NGX_HTTP_COZE_AUTH_ERROR, "client_type is case-sensitive");

    is_int(parse_text("{\"client_type\":\"w\\neb\"}", &c, err, sizeof(err)),
           NGX_HTTP_COZE_AUTH_ERROR, "client_type with a newline");
    ok(strchr(err, '\n') == NULL, "not echoed: %s", err);

    is_int(parse_text("{\"client_id\":\"a\",\"client_id\":\"b\"}", &c, err,
                      sizeof(err)),
           NGX_HTTP_COZE_AUTH_ERROR, "duplicate key");
    ok(strstr(err, "duplicate") != NULL, "duplicate: %s", err);

    is_int(parse_text("{\"client_id\":\"a\\u0000b\"}", &c, err,
                      sizeof(err)),
           NGX_HTTP_COZE_AUTH_ERROR, "NUL in a value");

    is_int(ngx_http_coze_auth_appconf_parse(&mem,
                                            (const unsigned char *) "{",
                                            1, &c, NULL, 0),
           NGX_HTTP_COZE_AUTH_ERROR, "NULL err buffer is fine");
}


static void
test_check(void)
{
    const char                    *m;
    ngx_http_coze_auth_appconf_t   c;

    memset(&c, 0, sizeof(c));

    m = ngx_http_coze_auth_appconf_check(&c);
    ok(m && strcmp(m, "client_id is required") == 0, "%s", m);

    c.client_id = tstr("id");
    m = ngx_http_coze_auth_appconf_check(&c);
    ok(m && strcmp(m, "client_secret is required for web client") == 0,
       "empty type is web: %s", m);

    c.client_type = tstr("web");
    m = ngx_http_coze_auth_appconf_check(&c);
    ok(m && strcmp(m, "client_secret is required for web client") == 0,
       "%s", m);

    c.client_secret = tstr("s");
    ok(ngx_http_coze_auth_appconf_check(&c) == NULL, "web complete");

    c.client_type = tstr("pkce");
    c.client_secret = tstr("");
    ok(ngx_http_coze_auth_appconf_check(&c) == NULL, "pkce complete");

    c.client_type = tstr("jwt");
    m = ngx_http_coze_auth_appconf_check(&c);
    ok(m && strcmp(m, "private_key is required for jwt client") == 0,
       "%s", m);

    c.private_key = tstr("-----BEGIN PRIVATE KEY-----");
    m = ngx_http_coze_auth_appconf_check(&c);
    ok(m && strcmp(m, "public_key_id is required for jwt client") == 0,
       "%s", m);

    c.public_key_id = tstr("kid");
    ok(ngx_http_coze_auth_appconf_check(&c) == NULL, "jwt complete");

    c.client_id = tstr("");
    m = ngx_http_coze_auth_appconf_check(&c);
    ok(m && strcmp(m, "client_id is required") == 0, "jwt: %s", m);

    c.client_type = tstr("device");
    m = ngx_http_coze_auth_appconf_check(&c);
    ok(m && strstr(m, "device") != NULL, "device unsupported: %s", m);

    c.client_type = tstr("single_page");
    m = ngx_http_coze_auth_appconf_check(&c);
    ok(m && strstr(m, "invalid client_type") != NULL, "%s", m);

    c.client_type = tstr("token");
    ok(ngx_http_coze_auth_appconf_check(&c) == NULL,
       "token type needs nothing from the app config");
}


int
main(void)
{
    test_samples();
    test_errors();
    test_check();

    tap_free_all(&arena);

    return done_testing();
}
