
/*
 * Copyright (C) ngx_http_coze_auth_module authors
 *
 * Byte-buffer helpers of the pure core: base64url, percent encoding,
 * query arguments, HTML/JSON escaping and return path validation.
 * No nginx types: unit tested and fuzzed without nginx.
 */


#ifndef _NGX_HTTP_COZE_AUTH_UTIL_H_INCLUDED_
#define _NGX_HTTP_COZE_AUTH_UTIL_H_INCLUDED_


#include "ngx_http_coze_auth_core.h"


/* exact length of the unpadded base64url encoding of n bytes */
#define ngx_http_coze_auth_b64url_len(n)                                     \
    (((n) / 3) * 4 + ((n) % 3 ? (n) % 3 + 1 : 0))

/* upper bound of the decoded length of n base64url characters */
#define ngx_http_coze_auth_b64url_decoded_len(n)  (((n) * 3) / 4)

/* longest return path accepted by ngx_http_coze_auth_return_path_valid() */
#define NGX_HTTP_COZE_AUTH_RETURN_PATH_MAX  2048


/*
 * Encodes len bytes without padding, returns the number of bytes written
 * (always ngx_http_coze_auth_b64url_len(len)).  dst may equal src: the
 * encoding then happens in place (the buffer must hold the encoded length).
 */
size_t ngx_http_coze_auth_b64url_encode(unsigned char *dst,
    const unsigned char *src, size_t len);

/*
 * Strict decoding: only A-Z a-z 0-9 - _, optional trailing '=' padding,
 * unused trailing bits must be zero (one text per value).  dst needs
 * ngx_http_coze_auth_b64url_decoded_len(len) bytes; dst may equal src.
 */
int ngx_http_coze_auth_b64url_decode(unsigned char *dst, size_t *dst_len,
    const unsigned char *src, size_t len);

/*
 * Percent-encodes all but the RFC 3986 unreserved characters with
 * uppercase hex digits.  dst == NULL: returns the needed length only.
 */
size_t ngx_http_coze_auth_url_escape(unsigned char *dst,
    const unsigned char *src, size_t len);

/*
 * Decodes %XX (malformed escapes are an error) and, if plus_is_space,
 * '+' as a space.  dst needs len bytes and may equal src.
 */
int ngx_http_coze_auth_url_unescape(unsigned char *dst, size_t *dst_len,
    const unsigned char *src, size_t len, int plus_is_space);

/*
 * Finds the first "name=value" in an '&'-separated query string (without
 * the leading '?').  The value is raw (still escaped) and points into
 * query; a bare "name" gives an empty value.  Returns OK or ERROR if the
 * argument is absent.
 */
int ngx_http_coze_auth_query_arg(const unsigned char *query, size_t len,
    const char *name, ngx_http_coze_auth_str_t *value);

/* escapes & < > " '; dst == NULL: returns the needed length only */
size_t ngx_http_coze_auth_html_escape(unsigned char *dst,
    const unsigned char *src, size_t len);

/*
 * Escapes the body of a JSON string: '"', '\\' and control characters
 * (as \u00XX); bytes >= 0x80 are copied.  dst == NULL: returns the needed
 * length only.
 */
size_t ngx_http_coze_auth_json_escape(unsigned char *dst,
    const unsigned char *src, size_t len);

/*
 * Returns 1 if p is a same-site relative path ("/..." that cannot be read
 * as another host or a scheme, even after percent-decoding), else 0.
 */
int ngx_http_coze_auth_return_path_valid(const unsigned char *p, size_t len);


#endif /* _NGX_HTTP_COZE_AUTH_UTIL_H_INCLUDED_ */
