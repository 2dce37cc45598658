/*
 * Copyright (C) ngx_http_coze_auth_module authors
 *
 * libFuzzer target: coze_oauth_config.json parsing.
 *
 * clang -g -O1 -fsanitize=fuzzer,address,undefined \
 *     -I ngx_http_coze_auth_module t/fuzz/fuzz_appconf.c \
 *     ngx_http_coze_auth_module/ngx_http_coze_auth_appconf.c \
 *     -ljansson -o /tmp/fuzz_appconf
 * /tmp/fuzz_appconf -max_total_time=20 t/fuzz/corpus/appconf
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_http_coze_auth_appconf.h"


typedef struct fuzz_block_s  fuzz_block_t;

struct fuzz_block_s {
    fuzz_block_t  *next;
    uint64_t       align;
};


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
static void *fuzz_alloc(void *pool, size_t size);
static void fuzz_free_all(fuzz_block_t **head);
static void fuzz_check_str(const ngx_http_coze_auth_str_t *s);


static void *
fuzz_alloc(void *pool, size_t size)
{
    fuzz_block_t  **head = pool;
    fuzz_block_t   *b;

    b = malloc(sizeof(fuzz_block_t) + size);
    if (b == NULL) {
        return NULL;
    }

    b->next = *head;
    *head = b;

    return b + 1;
}


static void
fuzz_free_all(fuzz_block_t **head)
{
    fuzz_block_t  *b;

    while (*head) {
        b = *head;
        *head = b->next;
        free(b);
    }
}


static void
fuzz_check_str(const ngx_http_coze_auth_str_t *s)
{
    if (s->data == NULL) {
        if (s->len != 0) {
            abort();
        }

        return;
    }

    if (s->data[s->len] != '\0' || memchr(s->data, '\0', s->len) != NULL) {
        abort();
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                            rc;
    size_t                         n;
    const char                    *msg;
    fuzz_block_t                  *arena;
    ngx_http_coze_auth_mem_t       mem;
    ngx_http_coze_auth_appconf_t   conf;
    char                           err[256];

    arena = NULL;
    mem.alloc = fuzz_alloc;
    mem.pool = &arena;

    memset(err, 'x', sizeof(err));

    rc = ngx_http_coze_auth_appconf_parse(&mem, data, size, &conf, err,
                                          sizeof(err));

    if (rc == NGX_HTTP_COZE_AUTH_OK) {
        fuzz_check_str(&conf.client_type);
        fuzz_check_str(&conf.client_id);
        fuzz_check_str(&conf.client_secret);
        fuzz_check_str(&conf.private_key);
        fuzz_check_str(&conf.public_key_id);
        fuzz_check_str(&conf.coze_api_base);
        fuzz_check_str(&conf.coze_www_base);

        msg = ngx_http_coze_auth_appconf_check(&conf);

        if (msg != NULL && strlen(msg) == 0) {
            abort();
        }

    } else if (rc == NGX_HTTP_COZE_AUTH_ERROR) {
        n = strnlen(err, sizeof(err));

        if (n == 0 || n == sizeof(err) || conf.client_id.data != NULL) {
            abort();
        }

    } else {
        abort();
    }

    fuzz_free_all(&arena);

    return 0;
}
