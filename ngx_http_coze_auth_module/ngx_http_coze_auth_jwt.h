/*
 * Copyright (C) ngx_http_coze_auth_module authors
 *
 * RS256 JWT assertions for the Coze jwt-bearer grant (coze-oauth-spec.md
 * section 6).  Pure C over OpenSSL, no nginx types.
 */


#ifndef _NGX_HTTP_COZE_AUTH_JWT_H_INCLUDED_
#define _NGX_HTTP_COZE_AUTH_JWT_H_INCLUDED_


#include <openssl/evp.h>

#include "ngx_http_coze_auth_core.h"


/* PEM text longer than this is rejected */
#define NGX_HTTP_COZE_AUTH_JWT_PEM_MAX  65536


/*
 * Loads an RSA private key (>= 2048 bits) from PKCS#8 or PKCS#1 PEM text;
 * line breaks written as the two characters "\n" are accepted.  Returns
 * NULL and a message in err on failure; the caller frees the key with
 * EVP_PKEY_free().  Encrypted keys are refused, never prompted for.
 */
EVP_PKEY *ngx_http_coze_auth_jwt_load_key(const unsigned char *pem,
    size_t len, char *err, size_t errlen);

/*
 * Signs header {"alg":"RS256","typ":"JWT","kid":kid} and claims iss, aud,
 * iat, exp, jti (64 hex chars, fresh each call) and, when non-empty,
 * session_name.  out is NUL-terminated.  exp must be after iat.
 */
int ngx_http_coze_auth_jwt_sign(ngx_http_coze_auth_mem_t *mem, EVP_PKEY *key,
    const ngx_http_coze_auth_str_t *kid, const ngx_http_coze_auth_str_t *iss,
    const ngx_http_coze_auth_str_t *aud, int64_t iat, int64_t exp,
    const ngx_http_coze_auth_str_t *session_name,
    ngx_http_coze_auth_str_t *out);

/* "https://api.coze.cn/" -> "api.coze.cn"; the port is kept if present */
int ngx_http_coze_auth_jwt_aud(ngx_http_coze_auth_mem_t *mem,
    const ngx_http_coze_auth_str_t *api_base, ngx_http_coze_auth_str_t *aud);


#endif /* _NGX_HTTP_COZE_AUTH_JWT_H_INCLUDED_ */
