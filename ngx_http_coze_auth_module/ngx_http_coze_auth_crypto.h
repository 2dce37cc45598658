
/*
 * Copyright (C) ngx_http_coze_auth_module authors
 *
 * AES-256-GCM sealing of cookie payloads with key ids (rotation), random
 * bytes, SHA-256 and constant time helpers.  OpenSSL libcrypto only.
 */


#ifndef _NGX_HTTP_COZE_AUTH_CRYPTO_H_INCLUDED_
#define _NGX_HTTP_COZE_AUTH_CRYPTO_H_INCLUDED_


#include "ngx_http_coze_auth_core.h"


#define NGX_HTTP_COZE_AUTH_KEY_LEN       32
#define NGX_HTTP_COZE_AUTH_KID_LEN       4
#define NGX_HTTP_COZE_AUTH_NONCE_LEN     12
#define NGX_HTTP_COZE_AUTH_TAG_LEN       16
#define NGX_HTTP_COZE_AUTH_SEAL_VERSION  0x01

/* version | kid | nonce | ciphertext | tag */
#define NGX_HTTP_COZE_AUTH_SEAL_OVERHEAD  (1 + 4 + 12 + 16)

/* longest base64url text ngx_http_coze_auth_cookie_open() accepts */
#define NGX_HTTP_COZE_AUTH_COOKIE_MAX     8192


typedef struct {
    unsigned char             key[NGX_HTTP_COZE_AUTH_KEY_LEN];
    unsigned char             kid[NGX_HTTP_COZE_AUTH_KID_LEN];
} ngx_http_coze_auth_key_t;


/*
 * Fetches the AES-256-GCM and SHA-256 implementations once (OpenSSL 3
 * implicit fetches are slow); called lazily by the other functions too,
 * so calling it early (init_module) only moves the cost and reports
 * ERROR if the provider lacks them.  Not thread safe (nginx: no threads).
 */
int ngx_http_coze_auth_crypto_init(void);

/*
 * Releases what ngx_http_coze_auth_crypto_init() fetched; the next use
 * fetches again.  Called when a configuration is freed: a dynamic module
 * is then dlclose()d, and the fetched objects would be lost with it.
 */
void ngx_http_coze_auth_crypto_cleanup(void);

/* len must be 32; kid = SHA-256("coze-auth-kid" || key)[0..3] */
int ngx_http_coze_auth_key_init(ngx_http_coze_auth_key_t *k,
    const unsigned char *raw, size_t len);

/* RAND_bytes(); OK or ERROR */
int ngx_http_coze_auth_random(unsigned char *buf, size_t len);

/*
 * out (ptlen + NGX_HTTP_COZE_AUTH_SEAL_OVERHEAD bytes) = 0x01 | kid |
 * random nonce | ciphertext | tag, the AAD being 0x01 | kid | ad.
 * out must not overlap pt.
 */
int ngx_http_coze_auth_seal(const ngx_http_coze_auth_key_t *key,
    const unsigned char *ad, size_t adlen, const unsigned char *pt,
    size_t ptlen, unsigned char *out, size_t *outlen);

/*
 * Tries every key whose kid matches; pt needs inlen bytes (inlen -
 * NGX_HTTP_COZE_AUTH_SEAL_OVERHEAD are written).  Returns OK (key_index,
 * if not NULL, is the index of the key that opened it), E_FORMAT (short
 * input, unknown version), E_KEY (no key with that kid), E_AUTH (wrong
 * tag or ad), ERROR (OpenSSL failure).  pt is wiped on failure.
 */
int ngx_http_coze_auth_open(const ngx_http_coze_auth_key_t *keys,
    size_t nkeys, const unsigned char *ad, size_t adlen,
    const unsigned char *in, size_t inlen, unsigned char *pt, size_t *ptlen,
    size_t *key_index);

/* constant time comparison, 1 if equal */
int ngx_http_coze_auth_memeq(const void *a, const void *b, size_t n);

void ngx_http_coze_auth_sha256(const unsigned char *d, size_t n,
    unsigned char out[32]);

void ngx_http_coze_auth_cleanse(void *p, size_t n);

/* length of the base64url text of a sealed ptlen-byte payload */
size_t ngx_http_coze_auth_cookie_sealed_len(size_t ptlen);

/*
 * Seals and encodes as base64url text (no padding); out needs
 * ngx_http_coze_auth_cookie_sealed_len(ptlen) bytes.
 */
int ngx_http_coze_auth_cookie_seal(const ngx_http_coze_auth_key_t *key,
    const unsigned char *ad, size_t adlen, const unsigned char *pt,
    size_t ptlen, unsigned char *out, size_t *outlen);

/*
 * Decodes and opens a cookie value; pt needs inlen bytes.  Texts longer
 * than NGX_HTTP_COZE_AUTH_COOKIE_MAX or not base64url give E_FORMAT;
 * other results as ngx_http_coze_auth_open().
 */
int ngx_http_coze_auth_cookie_open(const ngx_http_coze_auth_key_t *keys,
    size_t nkeys, const unsigned char *ad, size_t adlen,
    const unsigned char *in, size_t inlen, unsigned char *pt, size_t *ptlen,
    size_t *key_index);


#endif /* _NGX_HTTP_COZE_AUTH_CRYPTO_H_INCLUDED_ */
