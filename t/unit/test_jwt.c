/*
 * Copyright (C) ngx_http_coze_auth_module authors
 *
 * Unit tests for ngx_http_coze_auth_jwt.c (TAP).  Keys are read from
 * $COZE_AUTH_TEST_DATA, else t/unit/data (run from the repository root).
 */


#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "tap.h"
#include "ngx_http_coze_auth_jwt.h"


static ngx_http_coze_auth_str_t tstr(const char *s);
static unsigned char *read_file(const char *name, size_t *len);
static EVP_PKEY *load(const char *name, char *err, size_t errlen);
static EVP_PKEY *load_pem(const char *name, int public);
static size_t b64url_decode(const unsigned char *src, size_t len,
    unsigned char *dst);
static json_t *decode_part(const unsigned char *p, size_t len);
static int verify(EVP_PKEY *pub, const ngx_http_coze_auth_str_t *jwt);
static void test_load(void);
static void test_sign(void);
static void test_aud(void);


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


static EVP_PKEY *
load(const char *name, char *err, size_t errlen)
{
    size_t          len;
    EVP_PKEY       *key;
    unsigned char  *pem;

    err[0] = '\0';

    pem = read_file(name, &len);
    if (pem == NULL) {
        snprintf(err, errlen, "missing test file");
        return NULL;
    }

    key = ngx_http_coze_auth_jwt_load_key(pem, len, err, errlen);

    free(pem);

    return key;
}


/* reads a key with OpenSSL directly, bypassing the module */

static EVP_PKEY *
load_pem(const char *name, int public)
{
    BIO            *bio;
    size_t          len;
    EVP_PKEY       *key;
    unsigned char  *pem;

    pem = read_file(name, &len);
    if (pem == NULL) {
        return NULL;
    }

    key = NULL;

    bio = BIO_new_mem_buf(pem, (int) len);

    if (bio) {
        key = public ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL)
                     : PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
        BIO_free(bio);
    }

    free(pem);

    return key;
}


static size_t
b64url_decode(const unsigned char *src, size_t len, unsigned char *dst)
{
    int            v;
    size_t         i, n;
    unsigned int   acc, bits;

    acc = 0;
    bits = 0;
    n = 0;

    for (i = 0; i < len; i++) {
        if (src[i] >= 'A' && src[i] <= 'Z') {
            v = src[i] - 'A';

        } else if (src[i] >= 'a' && src[i] <= 'z') {
            v = src[i] - 'a' + 26;

        } else if (src[i] >= '0' && src[i] <= '9') {
            v = src[i] - '0' + 52;

        } else if (src[i] == '-') {
            v = 62;

        } else if (src[i] == '_') {
            v = 63;

        } else {
            return (size_t) -1;
        }

        acc = (acc << 6) | v;
        bits += 6;

        if (bits >= 8) {
            bits -= 8;
            dst[n++] = (acc >> bits) & 0xff;
        }
    }

    return n;
}


static json_t *
decode_part(const unsigned char *p, size_t len)
{
    size_t          n;
    json_t         *j;
    unsigned char   buf[4096];

    if (len > sizeof(buf)) {
        return NULL;
    }

    n = b64url_decode(p, len, buf);
    if (n == (size_t) -1) {
        return NULL;
    }

    j = json_loadb((char *) buf, n, JSON_REJECT_DUPLICATES, NULL);

    if (!json_is_object(j)) {
        json_decref(j);
        return NULL;
    }

    return j;
}


/* 1: signature valid, 0: invalid, -1: malformed */

static int
verify(EVP_PKEY *pub, const ngx_http_coze_auth_str_t *jwt)
{
    int             rc;
    size_t          n, siglen;
    EVP_MD_CTX     *md;
    unsigned char  *dot;
    unsigned char   sig[1024];

    dot = memchr(jwt->data, '.', jwt->len);
    if (dot == NULL) {
        return -1;
    }

    dot = memchr(dot + 1, '.', jwt->data + jwt->len - dot - 1);
    if (dot == NULL) {
        return -1;
    }

    n = jwt->data + jwt->len - dot - 1;
    if (n > sizeof(sig)) {
        return -1;
    }

    siglen = b64url_decode(dot + 1, n, sig);
    if (siglen == (size_t) -1) {
        return -1;
    }

    md = EVP_MD_CTX_new();
    if (md == NULL) {
        return -1;
    }

    rc = EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pub) == 1
         && EVP_DigestVerify(md, sig, siglen, jwt->data, dot - jwt->data)
            == 1;

    EVP_MD_CTX_free(md);
    ERR_clear_error();

    return rc;
}


static void
test_load(void)
{
    size_t          len, i, n;
    EVP_PKEY       *k8, *k1, *k;
    unsigned char  *pem, *esc;
    char            err[256];

    k8 = load("rsa2048_pkcs8.pem", err, sizeof(err));
    ok(k8 != NULL, "PKCS#8 RSA key loads");

    k1 = load("rsa2048_pkcs1.pem", err, sizeof(err));
    ok(k1 != NULL, "PKCS#1 RSA key loads");

    ok(k8 && k1 && EVP_PKEY_eq(k8, k1) == 1, "both are the same key");

    /* "\n" written as backslash + n, as pasted from JSON */

    pem = read_file("rsa2048_pkcs8.pem", &len);
    esc = pem ? malloc(len * 2 + 1) : NULL;
    k = NULL;

    if (esc) {
        for (i = 0, n = 0; i < len; i++) {
            if (pem[i] == '\n') {
                esc[n++] = '\\';
                esc[n++] = 'n';

            } else {
                esc[n++] = pem[i];
            }
        }

        ok(memchr(esc, '\n', n) == NULL, "escaped PEM has no newline");

        k = ngx_http_coze_auth_jwt_load_key(esc, n, err, sizeof(err));
        ok(k != NULL && k8 && EVP_PKEY_eq(k, k8) == 1,
           "PEM with literal \\n loads");
        EVP_PKEY_free(k);

        /* a broken PEM: damage the base64 body */

        memcpy(pem + 100, "!!!!", 4);
        k = ngx_http_coze_auth_jwt_load_key(pem, len, err, sizeof(err));
        ok(k == NULL && strstr(err, "damaged") != NULL,
           "broken PEM rejected: %s", err);
        EVP_PKEY_free(k);

        /* truncated */

        k = ngx_http_coze_auth_jwt_load_key(esc, n / 2, err, sizeof(err));
        ok(k == NULL && strstr(err, "truncated") != NULL,
           "truncated PEM rejected: %s", err);
        EVP_PKEY_free(k);

    } else {
        ok(0, "read rsa2048_pkcs8.pem");
    }

    free(esc);
    free(pem);

    k = ngx_http_coze_auth_jwt_load_key((unsigned char *) "hello", 5, err,
                                        sizeof(err));
    ok(k == NULL && strstr(err, "BEGIN PRIVATE KEY") != NULL,
       "no PEM block: %s", err);

    k = ngx_http_coze_auth_jwt_load_key((unsigned char *) "", 0, err,
                                        sizeof(err));
    ok(k == NULL && strstr(err, "empty") != NULL, "empty: %s", err);

    k = load("ec_p256_pkcs8.pem", err, sizeof(err));
    ok(k == NULL && strstr(err, "not an RSA key") != NULL,
       "EC key rejected: %s", err);
    EVP_PKEY_free(k);

    k = load("rsa1024_pkcs8.pem", err, sizeof(err));
    ok(k == NULL && strstr(err, "1024 bits") != NULL
       && strstr(err, "2048") != NULL,
       "RSA 1024 rejected: %s", err);
    EVP_PKEY_free(k);

    k = load("rsa2048_encrypted.pem", err, sizeof(err));
    ok(k == NULL && strstr(err, "encrypted") != NULL,
       "encrypted key rejected without a prompt: %s", err);
    EVP_PKEY_free(k);

    k = load("rsa2048_pub.pem", err, sizeof(err));
    ok(k == NULL && strstr(err, "not a private key") != NULL,
       "public key rejected: %s", err);
    EVP_PKEY_free(k);

    k = ngx_http_coze_auth_jwt_load_key((unsigned char *) "x", 1, NULL, 0);
    ok(k == NULL, "NULL err buffer is fine");

    ok(ERR_peek_error() == 0, "OpenSSL error queue left clean");

    EVP_PKEY_free(k8);
    EVP_PKEY_free(k1);
}


static void
test_sign(void)
{
    char                      *dot1, *dot2;
    json_t                    *h, *c, *v;
    size_t                     i;
    EVP_PKEY                  *key, *pub, *ec;
    const char                *s;
    ngx_http_coze_auth_str_t   kid, iss, aud, sn, jwt, jwt2;
    char                       err[256], jti[128];

    key = load("rsa2048_pkcs8.pem", err, sizeof(err));

    pub = load_pem("rsa2048_pub.pem", 1);

    if (key == NULL || pub == NULL) {
        ok(0, "test keys available");
        EVP_PKEY_free(key);
        EVP_PKEY_free(pub);
        return;
    }

    kid = tstr("_v0VjcMlLdQc3tRTD3jC5Xz29TUnKQOhtuD5k-gpyf4");
    iss = tstr("1127900106117");
    aud = tstr("api.coze.cn");
    sn = tstr("user-\"42\"\xe4\xb8\xad");

    is_int(ngx_http_coze_auth_jwt_sign(&mem, key, &kid, &iss, &aud,
                                       1700000000, 1700000900, &sn, &jwt),
           NGX_HTTP_COZE_AUTH_OK, "sign ok");
    ok(jwt.data[jwt.len] == '\0', "jwt is NUL-terminated");
    ok(memchr(jwt.data, '=', jwt.len) == NULL, "no base64 padding");

    is_int(verify(pub, &jwt), 1, "signature verifies with the public key");

    dot1 = memchr(jwt.data, '.', jwt.len);
    dot2 = dot1 ? memchr(dot1 + 1, '.', jwt.len - (dot1 + 1 - (char *)
                                                   jwt.data)) : NULL;
    ok(dot1 && dot2, "three parts");

    if (dot1 == NULL || dot2 == NULL) {
        goto done;
    }

    h = decode_part(jwt.data, dot1 - (char *) jwt.data);
    c = decode_part((unsigned char *) dot1 + 1, dot2 - dot1 - 1);

    ok(h && json_object_size(h) == 3, "header has 3 members");
    ok(h && strcmp(json_string_value(json_object_get(h, "alg")), "RS256")
            == 0, "alg RS256");
    ok(h && strcmp(json_string_value(json_object_get(h, "typ")), "JWT")
            == 0, "typ JWT");
    ok(h && strcmp(json_string_value(json_object_get(h, "kid")),
                   "_v0VjcMlLdQc3tRTD3jC5Xz29TUnKQOhtuD5k-gpyf4") == 0,
       "kid");

    ok(c && json_object_size(c) == 6, "claims have 6 members");
    ok(c && strcmp(json_string_value(json_object_get(c, "iss")),
                   "1127900106117") == 0, "iss");
    ok(c && strcmp(json_string_value(json_object_get(c, "aud")),
                   "api.coze.cn") == 0, "aud");
    ok(c && json_integer_value(json_object_get(c, "iat")) == 1700000000,
       "iat");
    ok(c && json_integer_value(json_object_get(c, "exp")) == 1700000900,
       "exp");
    ok(c && strcmp(json_string_value(json_object_get(c, "session_name")),
                   "user-\"42\"\xe4\xb8\xad") == 0,
       "session_name escaped and decoded back");

    v = c ? json_object_get(c, "jti") : NULL;
    s = json_string_value(v);
    jti[0] = '\0';

    if (s && strlen(s) < sizeof(jti)) {
        strcpy(jti, s);
    }

    for (i = 0; jti[i]; i++) {
        if (!((jti[i] >= '0' && jti[i] <= '9')
              || (jti[i] >= 'a' && jti[i] <= 'f')))
        {
            break;
        }
    }

    ok(strlen(jti) == 64 && jti[i] == '\0', "jti is 64 hex chars");

    json_decref(h);
    json_decref(c);

    /* second token: fresh jti, no session_name, no kid */

    is_int(ngx_http_coze_auth_jwt_sign(&mem, key, NULL, &iss, &aud,
                                       1700000000, 1700003600, NULL, &jwt2),
           NGX_HTTP_COZE_AUTH_OK, "second sign ok");
    is_int(verify(pub, &jwt2), 1, "second signature verifies");

    dot1 = memchr(jwt2.data, '.', jwt2.len);
    dot2 = dot1 ? memchr(dot1 + 1, '.', jwt2.len - (dot1 + 1 - (char *)
                                                    jwt2.data)) : NULL;

    if (dot1 && dot2) {
        h = decode_part(jwt2.data, dot1 - (char *) jwt2.data);
        c = decode_part((unsigned char *) dot1 + 1, dot2 - dot1 - 1);

        ok(h && json_object_get(h, "kid") == NULL, "empty kid omitted");
        ok(c && json_object_get(c, "session_name") == NULL,
           "empty session_name omitted");
        s = c ? json_string_value(json_object_get(c, "jti")) : NULL;
        ok(s && strlen(s) == 64 && strcmp(s, jti) != 0,
           "jti differs between calls");

        json_decref(h);
        json_decref(c);

    } else {
        ok(0, "second jwt has three parts");
    }

    /* tampering breaks the signature */

    jwt2.data[dot2 - (char *) jwt2.data - 2] ^= 0x01;
    is_int(verify(pub, &jwt2), 0, "tampered claims do not verify");

    /* refusals */

    is_int(ngx_http_coze_auth_jwt_sign(&mem, key, &kid, &iss, &aud,
                                       1700000000, 1700000000, NULL, &jwt2),
           NGX_HTTP_COZE_AUTH_ERROR, "exp == iat refused");
    is_int(ngx_http_coze_auth_jwt_sign(&mem, NULL, &kid, &iss, &aud,
                                       1, 2, NULL, &jwt2),
           NGX_HTTP_COZE_AUTH_ERROR, "NULL key refused");
    is_int(ngx_http_coze_auth_jwt_sign(&mem, key, &kid, NULL, &aud,
                                       1, 2, NULL, &jwt2),
           NGX_HTTP_COZE_AUTH_ERROR, "missing iss refused");

    sn = tstr("\xc3\x28");
    is_int(ngx_http_coze_auth_jwt_sign(&mem, key, &kid, &iss, &aud,
                                       1, 2, &sn, &jwt2),
           NGX_HTTP_COZE_AUTH_ERROR, "invalid UTF-8 session_name refused");

    ec = load_pem("ec_p256_pkcs8.pem", 0);

    ok(ec != NULL, "EC key read directly");
    is_int(ngx_http_coze_auth_jwt_sign(&mem, ec, &kid, &iss, &aud,
                                       1, 2, NULL, &jwt2),
           NGX_HTTP_COZE_AUTH_ERROR, "EC key refused by sign");
    EVP_PKEY_free(ec);

    ok(ERR_peek_error() == 0, "OpenSSL error queue left clean");

done:

    EVP_PKEY_free(key);
    EVP_PKEY_free(pub);
}


static void
test_aud(void)
{
    size_t                    i;
    ngx_http_coze_auth_str_t  in, out;

    static const char  *good[][2] = {
        { "https://api.coze.cn", "api.coze.cn" },
        { "https://api.coze.com/", "api.coze.com" },
        { "http://127.0.0.1:8090", "127.0.0.1:8090" },
        { "http://127.0.0.1:8090/mock?x#y", "127.0.0.1:8090" },
        { "https://u:p@h.example:8443/x", "h.example:8443" },
        { "https://[::1]:8443/", "[::1]:8443" },
        { "api.coze.cn/", "api.coze.cn" },
    };

    static const char  *bad[] = { "", "https://", "https:///x", "/x" };

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        in = tstr(good[i][0]);
        is_int(ngx_http_coze_auth_jwt_aud(&mem, &in, &out),
               NGX_HTTP_COZE_AUTH_OK, "aud(%s) ok", good[i][0]);
        is_mem(out.data, out.len, good[i][1], "aud(%s) = %s", good[i][0],
               good[i][1]);
    }

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        in = tstr(bad[i]);
        is_int(ngx_http_coze_auth_jwt_aud(&mem, &in, &out),
               NGX_HTTP_COZE_AUTH_ERROR, "aud(\"%s\") fails", bad[i]);
    }
}


int
main(void)
{
    test_load();
    test_sign();
    test_aud();

    tap_free_all(&arena);

    return done_testing();
}
