
/*
 * Copyright (C) ngx_http_coze_auth_module authors
 *
 * Unit tests of ngx_http_coze_auth_crypto.c.
 */


#include "tap.h"

#include "ngx_http_coze_auth_crypto.h"
#include "ngx_http_coze_auth_util.h"


#define TEST_AD      "coze_session|session"
#define TEST_AD_LEN  (sizeof(TEST_AD) - 1)


static void test_keys(void);
static void test_misc(void);
static void test_seal_open(void);
static void test_tamper(void);
static void test_rotation(void);
static void test_cookie(void);
static int seal(const ngx_http_coze_auth_key_t *key, const char *ad,
    const unsigned char *pt, size_t ptlen, unsigned char *out,
    size_t *outlen);
static int open1(const ngx_http_coze_auth_key_t *keys, size_t nkeys,
    const char *ad, const unsigned char *in, size_t inlen,
    unsigned char *pt, size_t *ptlen, size_t *index);


static ngx_http_coze_auth_key_t  key_a, key_b;


int
main(void)
{
    unsigned char  raw[NGX_HTTP_COZE_AUTH_KEY_LEN];

    ok(ngx_http_coze_auth_crypto_init() == NGX_HTTP_COZE_AUTH_OK,
       "crypto_init");

    memset(raw, 0xaa, sizeof(raw));
    ngx_http_coze_auth_key_init(&key_a, raw, sizeof(raw));
    memset(raw, 0xbb, sizeof(raw));
    ngx_http_coze_auth_key_init(&key_b, raw, sizeof(raw));

    test_keys();
    test_misc();
    test_seal_open();
    test_tamper();
    test_rotation();
    test_cookie();

    return done_testing();
}


static int
seal(const ngx_http_coze_auth_key_t *key, const char *ad,
    const unsigned char *pt, size_t ptlen, unsigned char *out, size_t *outlen)
{
    return ngx_http_coze_auth_seal(key, (const unsigned char *) ad,
                                   strlen(ad), pt, ptlen, out, outlen);
}


static int
open1(const ngx_http_coze_auth_key_t *keys, size_t nkeys, const char *ad,
    const unsigned char *in, size_t inlen, unsigned char *pt, size_t *ptlen,
    size_t *index)
{
    return ngx_http_coze_auth_open(keys, nkeys, (const unsigned char *) ad,
                                   strlen(ad), in, inlen, pt, ptlen, index);
}


static void
test_keys(void)
{
    unsigned char             raw[NGX_HTTP_COZE_AUTH_KEY_LEN];
    unsigned char             buf[13 + NGX_HTTP_COZE_AUTH_KEY_LEN];
    unsigned char             hash[32];
    ngx_http_coze_auth_key_t  k;

    memset(raw, 0xaa, sizeof(raw));

    ok(ngx_http_coze_auth_key_init(&k, raw, 31) == NGX_HTTP_COZE_AUTH_ERROR,
       "key_init rejects 31 bytes");
    ok(ngx_http_coze_auth_key_init(&k, raw, 33) == NGX_HTTP_COZE_AUTH_ERROR,
       "key_init rejects 33 bytes");
    ok(ngx_http_coze_auth_key_init(&k, raw, 32) == NGX_HTTP_COZE_AUTH_OK,
       "key_init accepts 32 bytes");
    ok(memcmp(k.key, raw, 32) == 0, "key copied");

    memcpy(buf, "coze-auth-kid", 13);
    memcpy(buf + 13, raw, 32);
    ngx_http_coze_auth_sha256(buf, sizeof(buf), hash);
    ok(memcmp(k.kid, hash, 4) == 0, "kid = SHA-256(label || key)[0..3]");

    ngx_http_coze_auth_sha256(raw, 32, hash);
    ok(memcmp(k.kid, hash, 4) != 0, "kid is not a plain hash of the key");
    ok(memcmp(key_a.kid, key_b.kid, 4) != 0, "different keys, different kids");
}


static void
test_misc(void)
{
    unsigned char  a[64], b[64], h[32];

    /* FIPS 180-2 test vector */

    ngx_http_coze_auth_sha256((const unsigned char *) "abc", 3, h);
    ok(memcmp(h, "\xba\x78\x16\xbf\x8f\x01\xcf\xea\x41\x41\x40\xde\x5d\xae"
                 "\x22\x23\xb0\x03\x61\xa3\x96\x17\x7a\x9c\xb4\x10\xff\x61"
                 "\xf2\x00\x15\xad", 32) == 0, "sha256(abc)");

    memset(a, 0, sizeof(a));
    memset(b, 0, sizeof(b));
    ok(ngx_http_coze_auth_random(a, sizeof(a)) == NGX_HTTP_COZE_AUTH_OK
       && ngx_http_coze_auth_random(b, sizeof(b)) == NGX_HTTP_COZE_AUTH_OK,
       "random");
    ok(memcmp(a, b, sizeof(a)) != 0, "random differs between calls");
    ok(ngx_http_coze_auth_random(a, 0) == NGX_HTTP_COZE_AUTH_OK,
       "random of 0 bytes");

    memcpy(b, a, sizeof(a));
    ok(ngx_http_coze_auth_memeq(a, b, sizeof(a)) == 1, "memeq equal");
    b[63] ^= 1;
    ok(ngx_http_coze_auth_memeq(a, b, sizeof(a)) == 0, "memeq last byte");
    b[63] ^= 1;
    b[0] ^= 0x80;
    ok(ngx_http_coze_auth_memeq(a, b, sizeof(a)) == 0, "memeq first byte");
    ok(ngx_http_coze_auth_memeq(a, b, 0) == 1, "memeq of 0 bytes");

    ngx_http_coze_auth_cleanse(a, sizeof(a));
    memset(b, 0, sizeof(b));
    ok(memcmp(a, b, sizeof(a)) == 0, "cleanse zeroes");
}


static void
test_seal_open(void)
{
    int            rc;
    size_t         len, n, m, idx;
    unsigned char  pt[600], out[700], back[700], out2[700];

    for (len = 0; len < sizeof(pt); len++) {
        pt[len] = (unsigned char) (len * 7);
    }

    rc = seal(&key_a, TEST_AD, pt, 100, out, &n);
    ok(rc == NGX_HTTP_COZE_AUTH_OK, "seal");
    is_int(n, 100 + NGX_HTTP_COZE_AUTH_SEAL_OVERHEAD, "sealed length");
    ok(out[0] == 0x01 && memcmp(out + 1, key_a.kid, 4) == 0,
       "version and kid in front");
    ok(memcmp(out + 17, pt, 100) != 0, "ciphertext is not the plaintext");

    idx = 99;
    rc = open1(&key_a, 1, TEST_AD, out, n, back, &m, &idx);
    ok(rc == NGX_HTTP_COZE_AUTH_OK && m == 100 && memcmp(back, pt, 100) == 0
       && idx == 0, "open round trip");

    rc = seal(&key_a, TEST_AD, pt, 100, out2, &n);
    ok(rc == NGX_HTTP_COZE_AUTH_OK && memcmp(out + 5, out2 + 5, 12) != 0
       && memcmp(out + 17, out2 + 17, 100) != 0,
       "fresh nonce and ciphertext each time");

    /* every length, empty ad and plaintext included */

    rc = NGX_HTTP_COZE_AUTH_OK;

    for (len = 0; len < sizeof(pt) && rc == NGX_HTTP_COZE_AUTH_OK; len++) {
        rc = seal(&key_b, len % 2 ? TEST_AD : "", pt, len, out, &n);
        if (rc != NGX_HTTP_COZE_AUTH_OK) {
            break;
        }

        rc = open1(&key_b, 1, len % 2 ? TEST_AD : "", out, n, back, &m,
                   NULL);
        if (rc == NGX_HTTP_COZE_AUTH_OK
            && (m != len || memcmp(back, pt, len) != 0))
        {
            rc = NGX_HTTP_COZE_AUTH_ERROR;
        }
    }

    is_int(rc, NGX_HTTP_COZE_AUTH_OK, "round trips of lengths 0..%zu",
           sizeof(pt) - 1);

    rc = ngx_http_coze_auth_seal(&key_a, NULL, 0, NULL, 0, out, &n);
    ok(rc == NGX_HTTP_COZE_AUTH_OK && n == NGX_HTTP_COZE_AUTH_SEAL_OVERHEAD,
       "seal of nothing with NULL ad");
    rc = ngx_http_coze_auth_open(&key_a, 1, NULL, 0, out, n, back, &m, NULL);
    ok(rc == NGX_HTTP_COZE_AUTH_OK && m == 0, "open of nothing");
}


static void
test_tamper(void)
{
    int            rc, good;
    size_t         i, bit, n, m, len;
    unsigned char  pt[64], out[128], back[128];

    memset(pt, 'x', sizeof(pt));
    seal(&key_a, TEST_AD, pt, sizeof(pt), out, &n);

    /* one flipped bit anywhere */

    good = 1;

    for (i = 0; i < n; i++) {
        for (bit = 0; bit < 8; bit++) {
            out[i] ^= (unsigned char) (1 << bit);
            rc = open1(&key_a, 1, TEST_AD, out, n, back, &m, NULL);
            out[i] ^= (unsigned char) (1 << bit);

            if (rc == NGX_HTTP_COZE_AUTH_OK) {
                good = 0;
                printf("# flip of byte %zu bit %zu accepted\n", i, bit);
            }

            if (i == 0 && rc != NGX_HTTP_COZE_AUTH_E_FORMAT) {
                good = 0;
            }

            if (i >= 1 && i < 5 && rc != NGX_HTTP_COZE_AUTH_E_KEY) {
                good = 0;
            }

            if (i >= 5 && rc != NGX_HTTP_COZE_AUTH_E_AUTH) {
                good = 0;
            }
        }
    }

    ok(good, "every flipped bit of %zu bytes rejected with the right code",
       n);

    /* truncation and extension */

    good = 1;

    for (len = 0; len < n; len++) {
        rc = open1(&key_a, 1, TEST_AD, out, len, back, &m, NULL);

        if (rc == NGX_HTTP_COZE_AUTH_OK) {
            good = 0;
        }

        if (len < NGX_HTTP_COZE_AUTH_SEAL_OVERHEAD
            && rc != NGX_HTTP_COZE_AUTH_E_FORMAT)
        {
            good = 0;
        }
    }

    ok(good, "every truncation rejected");

    out[n] = 0;
    rc = open1(&key_a, 1, TEST_AD, out, n + 1, back, &m, NULL);
    is_int(rc, NGX_HTTP_COZE_AUTH_E_AUTH, "extended blob rejected");

    rc = open1(&key_a, 1, TEST_AD, NULL, 0, back, &m, NULL);
    is_int(rc, NGX_HTTP_COZE_AUTH_E_FORMAT, "NULL input rejected");

    /* the ad binds purpose and cookie name */

    rc = open1(&key_a, 1, "coze_session|state", out, n, back, &m, NULL);
    is_int(rc, NGX_HTTP_COZE_AUTH_E_AUTH, "wrong ad rejected");
    rc = open1(&key_a, 1, "", out, n, back, &m, NULL);
    is_int(rc, NGX_HTTP_COZE_AUTH_E_AUTH, "empty ad rejected");
    rc = open1(&key_a, 1, TEST_AD "x", out, n, back, &m, NULL);
    is_int(rc, NGX_HTTP_COZE_AUTH_E_AUTH, "longer ad rejected");

    memset(back, 0x55, sizeof(back));
    rc = open1(&key_a, 1, "other", out, n, back, &m, NULL);
    for (i = 0; i < n - NGX_HTTP_COZE_AUTH_SEAL_OVERHEAD; i++) {
        if (back[i] != 0) {
            break;
        }
    }

    ok(i == n - NGX_HTTP_COZE_AUTH_SEAL_OVERHEAD,
       "plaintext buffer wiped on failure");

    /* unknown version */

    out[0] = 0x02;
    rc = open1(&key_a, 1, TEST_AD, out, n, back, &m, NULL);
    is_int(rc, NGX_HTTP_COZE_AUTH_E_FORMAT, "version 2 rejected");
    out[0] = 0x01;

    /* swapped kid with the same key material is not enough */

    memcpy(out + 1, key_b.kid, 4);
    rc = open1(&key_b, 1, TEST_AD, out, n, back, &m, NULL);
    is_int(rc, NGX_HTTP_COZE_AUTH_E_AUTH, "kid of key B on a blob of key A");
}


static void
test_rotation(void)
{
    int                       rc;
    size_t                    n, m, idx;
    unsigned char             pt[32], out[128], back[128];
    ngx_http_coze_auth_key_t  ab[2], ba[2], twins[2];

    memset(pt, 'r', sizeof(pt));

    ab[0] = key_a;
    ab[1] = key_b;
    ba[0] = key_b;
    ba[1] = key_a;

    seal(&key_b, TEST_AD, pt, sizeof(pt), out, &n);

    idx = 99;
    rc = open1(ab, 2, TEST_AD, out, n, back, &m, &idx);
    ok(rc == NGX_HTTP_COZE_AUTH_OK && idx == 1 && m == sizeof(pt)
       && memcmp(back, pt, m) == 0, "sealed with B, opened by [A, B] as 1");

    rc = open1(ba, 2, TEST_AD, out, n, back, &m, &idx);
    ok(rc == NGX_HTTP_COZE_AUTH_OK && idx == 0, "opened by [B, A] as 0");

    rc = open1(ab, 1, TEST_AD, out, n, back, &m, &idx);
    is_int(rc, NGX_HTTP_COZE_AUTH_E_KEY, "[A] only: no key");

    rc = open1(ab, 0, TEST_AD, out, n, back, &m, &idx);
    is_int(rc, NGX_HTTP_COZE_AUTH_E_KEY, "no keys at all");

    /* two keys with the same kid: both are tried */

    twins[0] = key_a;
    twins[1] = key_b;
    memcpy(twins[0].kid, key_b.kid, 4);

    rc = open1(twins, 2, TEST_AD, out, n, back, &m, &idx);
    ok(rc == NGX_HTTP_COZE_AUTH_OK && idx == 1,
       "kid collision: the right key still opens it");
}


static void
test_cookie(void)
{
    int             rc, good;
    size_t          i, n, m, idx, len;
    unsigned char   pt[300], text[600], back[600], bad[600];
    unsigned char  *big;
    tap_block_t    *arena;

    for (i = 0; i < sizeof(pt); i++) {
        pt[i] = (unsigned char) (i ^ 0x5a);
    }

    good = 1;

    for (len = 0; len < sizeof(pt); len += 7) {
        rc = ngx_http_coze_auth_cookie_seal(&key_a,
                                            (const unsigned char *) TEST_AD,
                                            TEST_AD_LEN, pt, len, text, &n);

        if (rc != NGX_HTTP_COZE_AUTH_OK
            || n != ngx_http_coze_auth_cookie_sealed_len(len))
        {
            good = 0;
            continue;
        }

        for (i = 0; i < n; i++) {
            if (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                       "0123456789-_", text[i]) == NULL || text[i] == 0)
            {
                good = 0;
            }
        }

        rc = ngx_http_coze_auth_cookie_open(&key_a, 1,
                                            (const unsigned char *) TEST_AD,
                                            TEST_AD_LEN, text, n, back, &m,
                                            &idx);
        if (rc != NGX_HTTP_COZE_AUTH_OK || m != len
            || memcmp(back, pt, len) != 0 || idx != 0)
        {
            good = 0;
        }
    }

    ok(good, "cookie seal/open round trips, base64url text only");

    rc = ngx_http_coze_auth_cookie_seal(&key_a,
                                        (const unsigned char *) TEST_AD,
                                        TEST_AD_LEN, pt, 40, text, &n);
    ok(rc == NGX_HTTP_COZE_AUTH_OK, "cookie seal");

    /* every single character replaced by another alphabet character */

    good = 1;

    for (i = 0; i < n; i++) {
        memcpy(bad, text, n);
        bad[i] = bad[i] == 'A' ? 'B' : 'A';

        rc = ngx_http_coze_auth_cookie_open(&key_a, 1,
                                            (const unsigned char *) TEST_AD,
                                            TEST_AD_LEN, bad, n, back, &m,
                                            NULL);

        /* the last character may differ only in unused bits: rejected too */

        if (rc == NGX_HTTP_COZE_AUTH_OK) {
            good = 0;
            printf("# changed character %zu accepted\n", i);
        }
    }

    ok(good, "every changed character rejected");

    good = 1;

    for (len = 0; len < n; len++) {
        rc = ngx_http_coze_auth_cookie_open(&key_a, 1,
                                            (const unsigned char *) TEST_AD,
                                            TEST_AD_LEN, text, len, back, &m,
                                            NULL);
        if (rc == NGX_HTTP_COZE_AUTH_OK) {
            good = 0;
        }
    }

    ok(good, "every truncated cookie rejected");

    memcpy(bad, text, n);
    bad[n / 2] = '+';
    rc = ngx_http_coze_auth_cookie_open(&key_a, 1,
                                        (const unsigned char *) TEST_AD,
                                        TEST_AD_LEN, bad, n, back, &m, NULL);
    is_int(rc, NGX_HTTP_COZE_AUTH_E_FORMAT, "non-base64url cookie rejected");

    rc = ngx_http_coze_auth_cookie_open(&key_a, 1,
                                        (const unsigned char *) TEST_AD,
                                        TEST_AD_LEN,
                                        (const unsigned char *) "AAAA", 4,
                                        back, &m, NULL);
    is_int(rc, NGX_HTTP_COZE_AUTH_E_FORMAT, "short cookie rejected");

    rc = ngx_http_coze_auth_cookie_open(&key_a, 1,
                                        (const unsigned char *) "x", 1, text,
                                        n, back, &m, NULL);
    is_int(rc, NGX_HTTP_COZE_AUTH_E_AUTH, "cookie with the wrong ad");

    rc = ngx_http_coze_auth_cookie_open(&key_b, 1,
                                        (const unsigned char *) TEST_AD,
                                        TEST_AD_LEN, text, n, back, &m, NULL);
    is_int(rc, NGX_HTTP_COZE_AUTH_E_KEY, "cookie with an unknown key");

    /* over the size limit */

    arena = NULL;
    big = tap_alloc(&arena, NGX_HTTP_COZE_AUTH_COOKIE_MAX + 4);

    if (big != NULL) {
        memset(big, 'A', NGX_HTTP_COZE_AUTH_COOKIE_MAX + 4);
        rc = ngx_http_coze_auth_cookie_open(&key_a, 1,
                                            (const unsigned char *) TEST_AD,
                                            TEST_AD_LEN, big,
                                            NGX_HTTP_COZE_AUTH_COOKIE_MAX + 4,
                                            big, &m, NULL);
        is_int(rc, NGX_HTTP_COZE_AUTH_E_FORMAT, "oversized cookie rejected");
    }

    tap_free_all(&arena);
}
