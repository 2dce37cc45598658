
/*
 * Copyright (C) ngx_http_coze_auth_module authors
 *
 * Minimal TAP producer for the C unit tests (run by prove).
 */


#ifndef _TAP_H_INCLUDED_
#define _TAP_H_INCLUDED_


#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static int  tap_n, tap_failed;


#define ok(cond, ...)                                                         \
    do {                                                                      \
        tap_n++;                                                              \
        if (cond) {                                                           \
            printf("ok %d - ", tap_n);                                        \
        } else {                                                              \
            tap_failed++;                                                     \
            printf("not ok %d - ", tap_n);                                    \
        }                                                                     \
        printf(__VA_ARGS__);                                                  \
        printf("\n");                                                         \
        if (!(cond)) {                                                        \
            printf("#   failed at %s line %d\n", __FILE__, __LINE__);         \
        }                                                                     \
    } while (0)

#define is_int(got, want, ...)                                                \
    do {                                                                      \
        long long  g_ = (long long) (got), w_ = (long long) (want);           \
        ok(g_ == w_, __VA_ARGS__);                                            \
        if (g_ != w_) {                                                       \
            printf("#   got %lld, want %lld\n", g_, w_);                      \
        }                                                                     \
    } while (0)

#define is_mem(got, glen, want, ...)                                          \
    do {                                                                      \
        size_t  wl_ = strlen(want);                                           \
        int     eq_ = ((size_t) (glen) == wl_                                 \
                       && memcmp((got), (want), wl_) == 0);                   \
        ok(eq_, __VA_ARGS__);                                                 \
        if (!eq_) {                                                           \
            printf("#   got '%.*s', want '%s'\n", (int) (glen),               \
                   (const char *) (got), (want));                             \
        }                                                                     \
    } while (0)

#define done_testing()                                                        \
    (printf("1..%d\n", tap_n), tap_failed ? 1 : 0)


/* arena allocator for ngx_http_coze_auth_mem_t in tests */

typedef struct tap_block_s  tap_block_t;

struct tap_block_s {
    tap_block_t  *next;
};

static inline void *
tap_alloc(void *pool, size_t size)
{
    tap_block_t  **head = pool;
    tap_block_t   *b;

    b = malloc(sizeof(tap_block_t) + size + 16);
    if (b == NULL) {
        return NULL;
    }

    b->next = *head;
    *head = b;

    return (unsigned char *) b + sizeof(tap_block_t) + 16
           - (sizeof(tap_block_t) % 16);
}

static inline void
tap_free_all(tap_block_t **head)
{
    tap_block_t  *b;

    while (*head) {
        b = *head;
        *head = b->next;
        free(b);
    }
}


#endif /* _TAP_H_INCLUDED_ */
