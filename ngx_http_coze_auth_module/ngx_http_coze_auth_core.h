
/*
 * Copyright (C) ngx_http_coze_auth_module authors
 *
 * Types shared by the pure core (util, crypto, codec, proto, jwt,
 * appconf).  The core is plain C over byte buffers: no nginx types, so it
 * can be unit tested and fuzzed without nginx.
 */


#ifndef _NGX_HTTP_COZE_AUTH_CORE_H_INCLUDED_
#define _NGX_HTTP_COZE_AUTH_CORE_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


/* same layout as ngx_str_t, but independent of nginx headers */
typedef struct {
    size_t                    len;
    unsigned char            *data;
} ngx_http_coze_auth_str_t;


/*
 * Allocator for results of the core: the nginx glue passes a pool
 * (ngx_pnalloc), tests pass an arena.  alloc() returns NULL on failure.
 */
typedef struct {
    void                   *(*alloc)(void *pool, size_t size);
    void                     *pool;
} ngx_http_coze_auth_mem_t;


#define NGX_HTTP_COZE_AUTH_VERSION    "0.1.0"


#define NGX_HTTP_COZE_AUTH_OK          0
#define NGX_HTTP_COZE_AUTH_ERROR      -1     /* malformed input / failure */
#define NGX_HTTP_COZE_AUTH_E_FORMAT   -2     /* unknown version, short */
#define NGX_HTTP_COZE_AUTH_E_KEY      -3     /* no key with that id */
#define NGX_HTTP_COZE_AUTH_E_AUTH     -4     /* authentication failed */
#define NGX_HTTP_COZE_AUTH_E_REMOTE    1     /* Coze answered an error */


#define ngx_http_coze_auth_str_set(s, text)                                  \
    (s)->len = sizeof(text) - 1; (s)->data = (unsigned char *) text


#endif /* _NGX_HTTP_COZE_AUTH_CORE_H_INCLUDED_ */
