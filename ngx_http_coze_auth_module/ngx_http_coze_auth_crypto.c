
/*
 * Copyright (C) ngx_http_coze_auth_module authors
 */


#include <limits.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "ngx_http_coze_auth_crypto.h"
#include "ngx_http_coze_auth_util.h"


#define NGX_HTTP_COZE_AUTH_HDR_LEN                                           \
    (1 + NGX_HTTP_COZE_AUTH_KID_LEN + NGX_HTTP_COZE_AUTH_NONCE_LEN)

#define NGX_HTTP_COZE_AUTH_KID_LABEL  "coze-auth-kid"


static const EVP_CIPHER *ngx_http_coze_auth_cipher(void);
static const EVP_MD *ngx_http_coze_auth_md(void);
static int ngx_http_coze_auth_digest(const unsigned char *d, size_t n,
    unsigned char *out);
static int ngx_http_coze_auth_open_key(EVP_CIPHER_CTX *ctx,
    const unsigned char *ad, size_t adlen, const unsigned char *in,
    size_t ctlen, unsigned char *pt);
static EVP_CIPHER_CTX *ngx_http_coze_auth_open_ctx(
    const ngx_http_coze_auth_key_t *key);


/*
 * Decryption contexts with the key schedule done, one per key, kept by
 * the process (nginx workers are single threaded): opening a cookie then
 * only sets the nonce.  Entries are matched by the key itself, so a key
 * freed with an old configuration can never be confused with a new one.
 */

#define NGX_HTTP_COZE_AUTH_CTX_CACHE  8

typedef struct {
    unsigned char             key[NGX_HTTP_COZE_AUTH_KEY_LEN];
    EVP_CIPHER_CTX           *ctx;
} ngx_http_coze_auth_ctx_cache_t;

static ngx_http_coze_auth_ctx_cache_t
    ngx_http_coze_auth_ctx_cache[NGX_HTTP_COZE_AUTH_CTX_CACHE];
static size_t  ngx_http_coze_auth_ctx_next;


#if (OPENSSL_VERSION_NUMBER >= 0x30000000L)

/* fetched once per process, immutable afterwards */
static EVP_CIPHER  *ngx_http_coze_auth_gcm;
static EVP_MD      *ngx_http_coze_auth_sha256_md;

#endif


int
ngx_http_coze_auth_crypto_init(void)
{
    if (ngx_http_coze_auth_cipher() == NULL
        || ngx_http_coze_auth_md() == NULL)
    {
        return NGX_HTTP_COZE_AUTH_ERROR;
    }

    return NGX_HTTP_COZE_AUTH_OK;
}


void
ngx_http_coze_auth_crypto_cleanup(void)
{
    size_t  i;

    for (i = 0; i < NGX_HTTP_COZE_AUTH_CTX_CACHE; i++) {
        EVP_CIPHER_CTX_free(ngx_http_coze_auth_ctx_cache[i].ctx);
        OPENSSL_cleanse(&ngx_http_coze_auth_ctx_cache[i],
                        sizeof(ngx_http_coze_auth_ctx_cache_t));
    }

    ngx_http_coze_auth_ctx_next = 0;

#if (OPENSSL_VERSION_NUMBER >= 0x30000000L)

    EVP_CIPHER_free(ngx_http_coze_auth_gcm);
    ngx_http_coze_auth_gcm = NULL;

    EVP_MD_free(ngx_http_coze_auth_sha256_md);
    ngx_http_coze_auth_sha256_md = NULL;

#endif
}


int
ngx_http_coze_auth_key_init(ngx_http_coze_auth_key_t *k,
    const unsigned char *raw, size_t len)
{
    int            rc;
    unsigned char  buf[sizeof(NGX_HTTP_COZE_AUTH_KID_LABEL) - 1
                       + NGX_HTTP_COZE_AUTH_KEY_LEN];
    unsigned char  hash[32];

    if (raw == NULL || len != NGX_HTTP_COZE_AUTH_KEY_LEN) {
        return NGX_HTTP_COZE_AUTH_ERROR;
    }

    memcpy(buf, NGX_HTTP_COZE_AUTH_KID_LABEL,
           sizeof(NGX_HTTP_COZE_AUTH_KID_LABEL) - 1);
    memcpy(buf + sizeof(NGX_HTTP_COZE_AUTH_KID_LABEL) - 1, raw, len);

    rc = ngx_http_coze_auth_digest(buf, sizeof(buf), hash);

    if (rc == NGX_HTTP_COZE_AUTH_OK) {
        memmove(k->key, raw, NGX_HTTP_COZE_AUTH_KEY_LEN);
        memcpy(k->kid, hash, NGX_HTTP_COZE_AUTH_KID_LEN);
    }

    OPENSSL_cleanse(buf, sizeof(buf));
    OPENSSL_cleanse(hash, sizeof(hash));

    return rc;
}


int
ngx_http_coze_auth_random(unsigned char *buf, size_t len)
{
    int  n;

    while (len) {
        n = len > INT_MAX ? INT_MAX : (int) len;

        if (RAND_bytes(buf, n) != 1) {
            return NGX_HTTP_COZE_AUTH_ERROR;
        }

        buf += n;
        len -= n;
    }

    return NGX_HTTP_COZE_AUTH_OK;
}


int
ngx_http_coze_auth_seal(const ngx_http_coze_auth_key_t *key,
    const unsigned char *ad, size_t adlen, const unsigned char *pt,
    size_t ptlen, unsigned char *out, size_t *outlen)
{
    int                n, rc;
    unsigned char     *ct;
    EVP_CIPHER_CTX    *ctx;
    const EVP_CIPHER  *cipher;

    if (ptlen > INT_MAX - NGX_HTTP_COZE_AUTH_SEAL_OVERHEAD
        || adlen > INT_MAX)
    {
        return NGX_HTTP_COZE_AUTH_ERROR;
    }

    cipher = ngx_http_coze_auth_cipher();
    if (cipher == NULL) {
        return NGX_HTTP_COZE_AUTH_ERROR;
    }

    out[0] = NGX_HTTP_COZE_AUTH_SEAL_VERSION;
    memcpy(out + 1, key->kid, NGX_HTTP_COZE_AUTH_KID_LEN);

    if (ngx_http_coze_auth_random(out + 1 + NGX_HTTP_COZE_AUTH_KID_LEN,
                                  NGX_HTTP_COZE_AUTH_NONCE_LEN)
        != NGX_HTTP_COZE_AUTH_OK)
    {
        return NGX_HTTP_COZE_AUTH_ERROR;
    }

    ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL) {
        return NGX_HTTP_COZE_AUTH_ERROR;
    }

    rc = NGX_HTTP_COZE_AUTH_ERROR;
    ct = out + NGX_HTTP_COZE_AUTH_HDR_LEN;

    /* the default GCM IV length is the 12 bytes used here */

    if (EVP_EncryptInit_ex(ctx, cipher, NULL, key->key,
                           out + 1 + NGX_HTTP_COZE_AUTH_KID_LEN)
        != 1)
    {
        goto done;
    }

    if (EVP_EncryptUpdate(ctx, NULL, &n, out, 1 + NGX_HTTP_COZE_AUTH_KID_LEN)
        != 1)
    {
        goto done;
    }

    if (adlen && EVP_EncryptUpdate(ctx, NULL, &n, ad, (int) adlen) != 1) {
        goto done;
    }

    if (ptlen && EVP_EncryptUpdate(ctx, ct, &n, pt, (int) ptlen) != 1) {
        goto done;
    }

    if (EVP_EncryptFinal_ex(ctx, ct + ptlen, &n) != 1) {
        goto done;
    }

    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG,
                            NGX_HTTP_COZE_AUTH_TAG_LEN, ct + ptlen)
        != 1)
    {
        goto done;
    }

    *outlen = ptlen + NGX_HTTP_COZE_AUTH_SEAL_OVERHEAD;
    rc = NGX_HTTP_COZE_AUTH_OK;

done:

    EVP_CIPHER_CTX_free(ctx);

    return rc;
}


int
ngx_http_coze_auth_open(const ngx_http_coze_auth_key_t *keys, size_t nkeys,
    const unsigned char *ad, size_t adlen, const unsigned char *in,
    size_t inlen, unsigned char *pt, size_t *ptlen, size_t *key_index)
{
    int              rc;
    size_t           i, ctlen;
    EVP_CIPHER_CTX  *ctx;

    if (in == NULL
        || inlen < NGX_HTTP_COZE_AUTH_SEAL_OVERHEAD
        || in[0] != NGX_HTTP_COZE_AUTH_SEAL_VERSION)
    {
        return NGX_HTTP_COZE_AUTH_E_FORMAT;
    }

    ctlen = inlen - NGX_HTTP_COZE_AUTH_SEAL_OVERHEAD;

    if (ctlen > INT_MAX || adlen > INT_MAX) {
        return NGX_HTTP_COZE_AUTH_E_FORMAT;
    }

    rc = NGX_HTTP_COZE_AUTH_E_KEY;

    /* the kid is public: a plain comparison is fine */

    for (i = 0; i < nkeys; i++) {

        if (memcmp(keys[i].kid, in + 1, NGX_HTTP_COZE_AUTH_KID_LEN) != 0) {
            continue;
        }

        ctx = ngx_http_coze_auth_open_ctx(&keys[i]);
        if (ctx == NULL) {
            rc = NGX_HTTP_COZE_AUTH_ERROR;
            break;
        }

        rc = ngx_http_coze_auth_open_key(ctx, ad, adlen, in, ctlen, pt);

        if (rc == NGX_HTTP_COZE_AUTH_OK) {
            *ptlen = ctlen;

            if (key_index) {
                *key_index = i;
            }

            break;
        }
    }

    if (rc != NGX_HTTP_COZE_AUTH_OK && rc != NGX_HTTP_COZE_AUTH_E_KEY) {
        OPENSSL_cleanse(pt, ctlen);
    }

    return rc;
}


int
ngx_http_coze_auth_memeq(const void *a, const void *b, size_t n)
{
    return CRYPTO_memcmp(a, b, n) == 0;
}


void
ngx_http_coze_auth_sha256(const unsigned char *d, size_t n,
    unsigned char out[32])
{
    if (ngx_http_coze_auth_digest(d, n, out) != NGX_HTTP_COZE_AUTH_OK) {
        /* never expected; do not leave stale bytes behind */
        memset(out, 0, 32);
    }
}


void
ngx_http_coze_auth_cleanse(void *p, size_t n)
{
    OPENSSL_cleanse(p, n);
}


size_t
ngx_http_coze_auth_cookie_sealed_len(size_t ptlen)
{
    return ngx_http_coze_auth_b64url_len(ptlen
                                         + NGX_HTTP_COZE_AUTH_SEAL_OVERHEAD);
}


int
ngx_http_coze_auth_cookie_seal(const ngx_http_coze_auth_key_t *key,
    const unsigned char *ad, size_t adlen, const unsigned char *pt,
    size_t ptlen, unsigned char *out, size_t *outlen)
{
    int     rc;
    size_t  n;

    /* seal at the start of out, then base64url encode in place */

    rc = ngx_http_coze_auth_seal(key, ad, adlen, pt, ptlen, out, &n);
    if (rc != NGX_HTTP_COZE_AUTH_OK) {
        return rc;
    }

    *outlen = ngx_http_coze_auth_b64url_encode(out, out, n);

    return NGX_HTTP_COZE_AUTH_OK;
}


int
ngx_http_coze_auth_cookie_open(const ngx_http_coze_auth_key_t *keys,
    size_t nkeys, const unsigned char *ad, size_t adlen,
    const unsigned char *in, size_t inlen, unsigned char *pt, size_t *ptlen,
    size_t *key_index)
{
    size_t         n;
    unsigned char  buf[ngx_http_coze_auth_b64url_decoded_len(
                           NGX_HTTP_COZE_AUTH_COOKIE_MAX)];

    if (in == NULL || inlen > NGX_HTTP_COZE_AUTH_COOKIE_MAX) {
        return NGX_HTTP_COZE_AUTH_E_FORMAT;
    }

    if (ngx_http_coze_auth_b64url_decode(buf, &n, in, inlen)
        != NGX_HTTP_COZE_AUTH_OK)
    {
        return NGX_HTTP_COZE_AUTH_E_FORMAT;
    }

    return ngx_http_coze_auth_open(keys, nkeys, ad, adlen, buf, n, pt, ptlen,
                                   key_index);
}


static const EVP_CIPHER *
ngx_http_coze_auth_cipher(void)
{
#if (OPENSSL_VERSION_NUMBER >= 0x30000000L)

    if (ngx_http_coze_auth_gcm == NULL) {
        ngx_http_coze_auth_gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    }

    return ngx_http_coze_auth_gcm;

#else

    return EVP_aes_256_gcm();

#endif
}


static const EVP_MD *
ngx_http_coze_auth_md(void)
{
#if (OPENSSL_VERSION_NUMBER >= 0x30000000L)

    if (ngx_http_coze_auth_sha256_md == NULL) {
        ngx_http_coze_auth_sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
    }

    return ngx_http_coze_auth_sha256_md;

#else

    return EVP_sha256();

#endif
}


static int
ngx_http_coze_auth_digest(const unsigned char *d, size_t n,
    unsigned char *out)
{
    const EVP_MD  *md;

    md = ngx_http_coze_auth_md();

    if (md == NULL || EVP_Digest(d, n, out, NULL, md, NULL) != 1) {
        return NGX_HTTP_COZE_AUTH_ERROR;
    }

    return NGX_HTTP_COZE_AUTH_OK;
}


/* in is the whole sealed blob, ctlen the length of its ciphertext */

static EVP_CIPHER_CTX *
ngx_http_coze_auth_open_ctx(const ngx_http_coze_auth_key_t *key)
{
    size_t                           i;
    const EVP_CIPHER                *cipher;
    ngx_http_coze_auth_ctx_cache_t  *c;

    for (i = 0; i < NGX_HTTP_COZE_AUTH_CTX_CACHE; i++) {
        c = &ngx_http_coze_auth_ctx_cache[i];

        if (c->ctx
            && memcmp(c->key, key->key, NGX_HTTP_COZE_AUTH_KEY_LEN) == 0)
        {
            return c->ctx;
        }
    }

    cipher = ngx_http_coze_auth_cipher();
    if (cipher == NULL) {
        return NULL;
    }

    /* round robin: a ninth key pushes out the oldest context */
    c = &ngx_http_coze_auth_ctx_cache[ngx_http_coze_auth_ctx_next];
    ngx_http_coze_auth_ctx_next = (ngx_http_coze_auth_ctx_next + 1)
                                  % NGX_HTTP_COZE_AUTH_CTX_CACHE;

    if (c->ctx == NULL) {
        c->ctx = EVP_CIPHER_CTX_new();
        if (c->ctx == NULL) {
            return NULL;
        }
    }

    if (EVP_DecryptInit_ex(c->ctx, cipher, NULL, key->key, NULL) != 1) {
        EVP_CIPHER_CTX_free(c->ctx);
        c->ctx = NULL;
        return NULL;
    }

    memcpy(c->key, key->key, NGX_HTTP_COZE_AUTH_KEY_LEN);

    return c->ctx;
}


static int
ngx_http_coze_auth_open_key(EVP_CIPHER_CTX *ctx, const unsigned char *ad,
    size_t adlen, const unsigned char *in, size_t ctlen, unsigned char *pt)
{
    int                   n;
    const unsigned char  *ct, *tag;

    ct = in + NGX_HTTP_COZE_AUTH_HDR_LEN;
    tag = ct + ctlen;

    /* the key schedule is kept: only the nonce is new */
    if (EVP_DecryptInit_ex(ctx, NULL, NULL, NULL,
                           in + 1 + NGX_HTTP_COZE_AUTH_KID_LEN)
        != 1)
    {
        return NGX_HTTP_COZE_AUTH_ERROR;
    }

    if (EVP_DecryptUpdate(ctx, NULL, &n, in, 1 + NGX_HTTP_COZE_AUTH_KID_LEN)
        != 1)
    {
        return NGX_HTTP_COZE_AUTH_ERROR;
    }

    if (adlen && EVP_DecryptUpdate(ctx, NULL, &n, ad, (int) adlen) != 1) {
        return NGX_HTTP_COZE_AUTH_ERROR;
    }

    if (ctlen && EVP_DecryptUpdate(ctx, pt, &n, ct, (int) ctlen) != 1) {
        return NGX_HTTP_COZE_AUTH_ERROR;
    }

    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG,
                            NGX_HTTP_COZE_AUTH_TAG_LEN, (void *) tag)
        != 1)
    {
        return NGX_HTTP_COZE_AUTH_ERROR;
    }

    if (EVP_DecryptFinal_ex(ctx, pt + ctlen, &n) != 1) {
        return NGX_HTTP_COZE_AUTH_E_AUTH;
    }

    return NGX_HTTP_COZE_AUTH_OK;
}
