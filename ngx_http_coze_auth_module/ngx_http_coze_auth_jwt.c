/*
 * Copyright (C) ngx_http_coze_auth_module authors
 *
 * RS256 JWT assertions for the Coze jwt-bearer grant.
 */


#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "ngx_http_coze_auth_jwt.h"
#include "ngx_http_coze_auth_util.h"


#define NGX_HTTP_COZE_AUTH_JWT_MIN_BITS  2048


#define ngx_http_coze_auth_jwt_empty(s)  ((s) == NULL || (s)->len == 0)


static void ngx_http_coze_auth_jwt_err(char *err, size_t errlen,
    const char *fmt, ...);
static int ngx_http_coze_auth_jwt_no_password(char *buf, int size,
    int rwflag, void *data);
static const unsigned char *ngx_http_coze_auth_jwt_find(
    const unsigned char *p, const unsigned char *end, const char *s);
static void ngx_http_coze_auth_jwt_pem_error(const unsigned char *pem,
    size_t len, char *err, size_t errlen);
static int ngx_http_coze_auth_jwt_set(json_t *obj, const char *key,
    const ngx_http_coze_auth_str_t *value);
static json_t *ngx_http_coze_auth_jwt_claims(
    const ngx_http_coze_auth_str_t *iss, const ngx_http_coze_auth_str_t *aud,
    int64_t iat, int64_t exp, const ngx_http_coze_auth_str_t *session_name);
static unsigned char *ngx_http_coze_auth_jwt_dump(json_t *obj, size_t *len);
static int ngx_http_coze_auth_jwt_rsa_sign(EVP_PKEY *key,
    const unsigned char *in, size_t inlen, unsigned char *sig,
    size_t *siglen);


static void
ngx_http_coze_auth_jwt_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list  args;

    if (err == NULL || errlen == 0) {
        return;
    }

    va_start(args, fmt);
    vsnprintf(err, errlen, fmt, args);
    va_end(args);
}


/* never prompt on a terminal for a passphrase */

static int
ngx_http_coze_auth_jwt_no_password(char *buf, int size, int rwflag,
    void *data)
{
    int  *asked = data;

    (void) buf;
    (void) size;
    (void) rwflag;

    *asked = 1;

    return -1;
}


static const unsigned char *
ngx_http_coze_auth_jwt_find(const unsigned char *p, const unsigned char *end,
    const char *s)
{
    size_t  n;

    n = strlen(s);

    for ( /* void */ ; (size_t) (end - p) >= n; p++) {
        if (memcmp(p, s, n) == 0) {
            return p;
        }
    }

    return NULL;
}


/*
 * OpenSSL 3 reports every PEM decoding failure as "unsupported": say
 * something more useful from the text itself.
 */

static void
ngx_http_coze_auth_jwt_pem_error(const unsigned char *pem, size_t len,
    char *err, size_t errlen)
{
    size_t                n;
    const unsigned char  *p, *end, *label;

    end = pem + len;

    p = ngx_http_coze_auth_jwt_find(pem, end, "-----BEGIN ");

    if (p == NULL) {
        ngx_http_coze_auth_jwt_err(err, errlen,
                                   "no \"-----BEGIN PRIVATE KEY-----\" or "
                                   "\"-----BEGIN RSA PRIVATE KEY-----\" "
                                   "PEM block found");
        return;
    }

    label = p + sizeof("-----BEGIN ") - 1;

    for (n = 0; label + n < end && n < 32; n++) {
        if (label[n] < 0x20 || label[n] >= 0x7f || label[n] == '-') {
            break;
        }
    }

    if (ngx_http_coze_auth_jwt_find(label, label + n, "PRIVATE KEY")
        == NULL)
    {
        ngx_http_coze_auth_jwt_err(err, errlen,
                                   "PEM block \"%.*s\" is not a private key",
                                   (int) n, (const char *) label);
        return;
    }

    if (ngx_http_coze_auth_jwt_find(label, end, "-----END ") == NULL) {
        ngx_http_coze_auth_jwt_err(err, errlen,
                                   "PEM block \"%.*s\" is truncated, "
                                   "no END line",
                                   (int) n, (const char *) label);
        return;
    }

    ngx_http_coze_auth_jwt_err(err, errlen,
                               "cannot decode PEM block \"%.*s\", "
                               "the key text is damaged or not supported",
                               (int) n, (const char *) label);
}


EVP_PKEY *
ngx_http_coze_auth_jwt_load_key(const unsigned char *pem, size_t len,
    char *err, size_t errlen)
{
    int             asked, bits;
    BIO            *bio;
    size_t          i, n;
    EVP_PKEY       *key;
    const char     *reason;
    unsigned char  *buf;

    if (pem == NULL || len == 0) {
        ngx_http_coze_auth_jwt_err(err, errlen, "private key is empty");
        return NULL;
    }

    if (len > NGX_HTTP_COZE_AUTH_JWT_PEM_MAX) {
        ngx_http_coze_auth_jwt_err(err, errlen,
                                   "private key text is too long");
        return NULL;
    }

    buf = OPENSSL_malloc(len);
    if (buf == NULL) {
        ngx_http_coze_auth_jwt_err(err, errlen, "out of memory");
        return NULL;
    }

    /* line breaks pasted as the two characters "\n" (or "\r\n") */

    for (i = 0, n = 0; i < len; i++) {
        if (pem[i] == '\\' && i + 1 < len
            && (pem[i + 1] == 'n' || pem[i + 1] == 'r'))
        {
            if (pem[i + 1] == 'n') {
                buf[n++] = '\n';
            }

            i++;
            continue;
        }

        buf[n++] = pem[i];
    }

    ERR_set_mark();

    key = NULL;
    asked = 0;

    bio = BIO_new_mem_buf(buf, (int) n);

    if (bio != NULL) {
        key = PEM_read_bio_PrivateKey(bio, NULL,
                                      ngx_http_coze_auth_jwt_no_password,
                                      &asked);
        BIO_free(bio);
    }

    ERR_pop_to_mark();

    if (key == NULL) {
        if (asked) {
            ngx_http_coze_auth_jwt_err(err, errlen,
                                    "encrypted private keys are not supported");

        } else {
            ngx_http_coze_auth_jwt_pem_error(buf, n, err, errlen);
        }

        OPENSSL_clear_free(buf, len);

        return NULL;
    }

    OPENSSL_clear_free(buf, len);

    if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) {
        reason = EVP_PKEY_get0_type_name(key);
        ngx_http_coze_auth_jwt_err(err, errlen,
                                   "private key is not an RSA key (%s), "
                                   "RS256 needs RSA",
                                   reason ? reason : "unknown type");
        EVP_PKEY_free(key);
        return NULL;
    }

    bits = EVP_PKEY_get_bits(key);

    if (bits < NGX_HTTP_COZE_AUTH_JWT_MIN_BITS) {
        ngx_http_coze_auth_jwt_err(err, errlen,
                                   "RSA private key has %d bits, "
                                   "at least %d are required",
                                   bits, NGX_HTTP_COZE_AUTH_JWT_MIN_BITS);
        EVP_PKEY_free(key);
        return NULL;
    }

    return key;
}


static int
ngx_http_coze_auth_jwt_set(json_t *obj, const char *key,
    const ngx_http_coze_auth_str_t *value)
{
    json_t  *s;

    /* NULL for invalid UTF-8 */
    s = json_stringn((const char *) value->data, value->len);
    if (s == NULL) {
        return NGX_HTTP_COZE_AUTH_ERROR;
    }

    if (json_object_set_new(obj, key, s) != 0) {
        return NGX_HTTP_COZE_AUTH_ERROR;
    }

    return NGX_HTTP_COZE_AUTH_OK;
}


static json_t *
ngx_http_coze_auth_jwt_claims(const ngx_http_coze_auth_str_t *iss,
    const ngx_http_coze_auth_str_t *aud, int64_t iat, int64_t exp,
    const ngx_http_coze_auth_str_t *session_name)
{
    int                        rc;
    json_t                    *obj;
    size_t                     i;
    ngx_http_coze_auth_str_t   jti;
    unsigned char              rnd[32];
    unsigned char              hex[sizeof(rnd) * 2];

    static const char          digits[] = "0123456789abcdef";

    if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
        return NULL;
    }

    for (i = 0; i < sizeof(rnd); i++) {
        hex[i * 2] = digits[rnd[i] >> 4];
        hex[i * 2 + 1] = digits[rnd[i] & 0x0f];
    }

    jti.len = sizeof(hex);
    jti.data = hex;

    obj = json_object();
    if (obj == NULL) {
        return NULL;
    }

    rc = ngx_http_coze_auth_jwt_set(obj, "iss", iss)
         || ngx_http_coze_auth_jwt_set(obj, "aud", aud)
         || json_object_set_new(obj, "iat", json_integer((json_int_t) iat))
         || json_object_set_new(obj, "exp", json_integer((json_int_t) exp))
         || ngx_http_coze_auth_jwt_set(obj, "jti", &jti)
         || (!ngx_http_coze_auth_jwt_empty(session_name)
             && ngx_http_coze_auth_jwt_set(obj, "session_name",
                                           session_name));

    if (rc) {
        json_decref(obj);
        return NULL;
    }

    return obj;
}


/* compact JSON text in a malloc()ed buffer, freed by the caller */

static unsigned char *
ngx_http_coze_auth_jwt_dump(json_t *obj, size_t *len)
{
    size_t          n;
    unsigned char  *p;

    n = json_dumpb(obj, NULL, 0, JSON_COMPACT);
    if (n == 0) {
        return NULL;
    }

    p = malloc(n);
    if (p == NULL) {
        return NULL;
    }

    if (json_dumpb(obj, (char *) p, n, JSON_COMPACT) != n) {
        free(p);
        return NULL;
    }

    *len = n;

    return p;
}


/* RSASSA-PKCS1-v1_5 with SHA-256 */

static int
ngx_http_coze_auth_jwt_rsa_sign(EVP_PKEY *key, const unsigned char *in,
    size_t inlen, unsigned char *sig, size_t *siglen)
{
    int            rc;
    EVP_MD_CTX    *md;
    EVP_PKEY_CTX  *pctx;

    md = EVP_MD_CTX_new();
    if (md == NULL) {
        return NGX_HTTP_COZE_AUTH_ERROR;
    }

    rc = NGX_HTTP_COZE_AUTH_ERROR;

    if (EVP_DigestSignInit(md, &pctx, EVP_sha256(), NULL, key) == 1
        && EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) > 0
        && EVP_DigestSign(md, sig, siglen, in, inlen) == 1)
    {
        rc = NGX_HTTP_COZE_AUTH_OK;
    }

    EVP_MD_CTX_free(md);

    return rc;
}


int
ngx_http_coze_auth_jwt_sign(ngx_http_coze_auth_mem_t *mem, EVP_PKEY *key,
    const ngx_http_coze_auth_str_t *kid, const ngx_http_coze_auth_str_t *iss,
    const ngx_http_coze_auth_str_t *aud, int64_t iat, int64_t exp,
    const ngx_http_coze_auth_str_t *session_name,
    ngx_http_coze_auth_str_t *out)
{
    int                        rc, keysize;
    json_t                    *hdr, *claims;
    size_t                     hlen, clen, siglen, len;
    unsigned char             *hjson, *cjson, *sig, *start, *p;
    ngx_http_coze_auth_str_t   v;

    if (key == NULL
        || EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA
        || ngx_http_coze_auth_jwt_empty(iss)
        || ngx_http_coze_auth_jwt_empty(aud)
        || exp <= iat)
    {
        return NGX_HTTP_COZE_AUTH_ERROR;
    }

    keysize = EVP_PKEY_get_size(key);
    if (keysize <= 0) {
        return NGX_HTTP_COZE_AUTH_ERROR;
    }

    rc = NGX_HTTP_COZE_AUTH_ERROR;
    hjson = NULL;
    cjson = NULL;
    sig = NULL;
    claims = NULL;

    ERR_set_mark();

    hdr = json_object();
    if (hdr == NULL) {
        goto done;
    }

    ngx_http_coze_auth_str_set(&v, "RS256");

    if (ngx_http_coze_auth_jwt_set(hdr, "alg", &v)) {
        goto done;
    }

    ngx_http_coze_auth_str_set(&v, "JWT");

    if (ngx_http_coze_auth_jwt_set(hdr, "typ", &v)
        || (!ngx_http_coze_auth_jwt_empty(kid)
            && ngx_http_coze_auth_jwt_set(hdr, "kid", kid)))
    {
        goto done;
    }

    claims = ngx_http_coze_auth_jwt_claims(iss, aud, iat, exp, session_name);
    if (claims == NULL) {
        goto done;
    }

    hjson = ngx_http_coze_auth_jwt_dump(hdr, &hlen);
    cjson = ngx_http_coze_auth_jwt_dump(claims, &clen);
    sig = malloc(keysize);

    if (hjson == NULL || cjson == NULL || sig == NULL) {
        goto done;
    }

    len = ngx_http_coze_auth_b64url_len(hlen) + 1
          + ngx_http_coze_auth_b64url_len(clen) + 1
          + ngx_http_coze_auth_b64url_len((size_t) keysize);

    start = mem->alloc(mem->pool, len + 1);
    if (start == NULL) {
        goto done;
    }

    p = start;
    p += ngx_http_coze_auth_b64url_encode(p, hjson, hlen);
    *p++ = '.';
    p += ngx_http_coze_auth_b64url_encode(p, cjson, clen);

    siglen = keysize;

    if (ngx_http_coze_auth_jwt_rsa_sign(key, start, p - start, sig, &siglen)
        != NGX_HTTP_COZE_AUTH_OK
        || siglen > (size_t) keysize)
    {
        goto done;
    }

    *p++ = '.';
    p += ngx_http_coze_auth_b64url_encode(p, sig, siglen);
    *p = '\0';

    out->len = p - start;
    out->data = start;

    rc = NGX_HTTP_COZE_AUTH_OK;

done:

    json_decref(hdr);
    json_decref(claims);
    free(hjson);
    free(cjson);
    free(sig);

    ERR_pop_to_mark();

    return rc;
}


int
ngx_http_coze_auth_jwt_aud(ngx_http_coze_auth_mem_t *mem,
    const ngx_http_coze_auth_str_t *api_base, ngx_http_coze_auth_str_t *aud)
{
    unsigned char  *p, *end, *host, *q;

    if (ngx_http_coze_auth_jwt_empty(api_base)) {
        return NGX_HTTP_COZE_AUTH_ERROR;
    }

    p = api_base->data;
    end = p + api_base->len;
    host = p;

    for (q = p; end - q >= 3; q++) {
        if (q[0] == ':' && q[1] == '/' && q[2] == '/') {
            host = q + 3;
            break;
        }

        if (*q == '/' || *q == '?' || *q == '#') {
            break;
        }
    }

    for (q = host; q < end; q++) {
        if (*q == '/' || *q == '?' || *q == '#') {
            break;
        }

        if (*q == '@') {
            host = q + 1;
        }
    }

    if (q == host) {
        return NGX_HTTP_COZE_AUTH_ERROR;
    }

    p = mem->alloc(mem->pool, (q - host) + 1);
    if (p == NULL) {
        return NGX_HTTP_COZE_AUTH_ERROR;
    }

    memcpy(p, host, q - host);
    p[q - host] = '\0';

    aud->len = q - host;
    aud->data = p;

    return NGX_HTTP_COZE_AUTH_OK;
}
