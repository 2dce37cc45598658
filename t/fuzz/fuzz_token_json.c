/*
 * Copyright (C) ngx_http_coze_auth_module authors
 *
 * libFuzzer target: token and /v1/users/me response parsing.  The first
 * input byte picks the HTTP status, the rest is the body.
 *
 * clang -g -O1 -fsanitize=fuzzer,address,undefined \
 *     -I ngx_http_coze_auth_module t/fuzz/fuzz_token_json.c \
 *     ngx_http_coze_auth_module/ngx_http_coze_auth_proto.c \
 *     -ljansson -lcrypto -o /tmp/fuzz_token_json
 * /tmp/fuzz_token_json -max_total_time=20 t/fuzz/corpus/token_json
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_http_coze_auth_proto.h"


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


/* every string is NUL-terminated and free of control characters */

static void
fuzz_check_str(const ngx_http_coze_auth_str_t *s)
{
    size_t  i;

    if (s->data == NULL) {
        if (s->len != 0) {
            abort();
        }

        return;
    }

    if (s->data[s->len] != '\0') {
        abort();
    }

    for (i = 0; i < s->len; i++) {
        if (s->data[i] < 0x20 || s->data[i] == 0x7f) {
            abort();
        }
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                          rc;
    long                         status;
    fuzz_block_t                *arena;
    ngx_http_coze_auth_mem_t     mem;
    ngx_http_coze_auth_user_t    user;
    ngx_http_coze_auth_token_t   tok;

    static const long  statuses[] = { 200, 201, 204, 400, 401, 403, 500,
                                      502 };

    if (size == 0) {
        return 0;
    }

    status = statuses[data[0] % (sizeof(statuses) / sizeof(statuses[0]))];
    data++;
    size--;

    arena = NULL;
    mem.alloc = fuzz_alloc;
    mem.pool = &arena;

    rc = ngx_http_coze_auth_parse_token(&mem, status, data, size,
                                        1700000000, &tok);

    if (rc == NGX_HTTP_COZE_AUTH_OK) {
        if (tok.access_token.len == 0 || tok.expires_at <= 0
            || status < 200 || status > 299)
        {
            abort();
        }

        fuzz_check_str(&tok.access_token);
        fuzz_check_str(&tok.refresh_token);
        fuzz_check_str(&tok.token_type);

    } else if (rc != NGX_HTTP_COZE_AUTH_E_REMOTE
               && rc != NGX_HTTP_COZE_AUTH_ERROR)
    {
        abort();
    }

    fuzz_check_str(&tok.error_code);
    fuzz_check_str(&tok.error_message);
    fuzz_check_str(&tok.logid);

    rc = ngx_http_coze_auth_parse_user(&mem, status, data, size, &user);

    if (rc == NGX_HTTP_COZE_AUTH_OK) {
        if (user.user_id.len == 0 || user.code != 0) {
            abort();
        }

        fuzz_check_str(&user.user_id);

    } else if (rc != NGX_HTTP_COZE_AUTH_E_REMOTE
               && rc != NGX_HTTP_COZE_AUTH_ERROR)
    {
        abort();
    }

    fuzz_check_str(&user.user_name);
    fuzz_check_str(&user.nick_name);
    fuzz_check_str(&user.avatar_url);
    fuzz_check_str(&user.msg);
    fuzz_check_str(&user.logid);

    fuzz_free_all(&arena);

    return 0;
}
