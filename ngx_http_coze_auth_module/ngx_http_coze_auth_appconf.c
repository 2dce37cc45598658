/*
 * Copyright (C) ngx_http_coze_auth_module authors
 *
 * The OAuth app config JSON downloaded from the Coze console.
 */


#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "ngx_http_coze_auth_appconf.h"


typedef struct {
    const char               *name;
    size_t                    offset;
} ngx_http_coze_auth_appconf_field_t;


static void ngx_http_coze_auth_appconf_err(char *err, size_t errlen,
    const char *fmt, ...);
static int ngx_http_coze_auth_appconf_is(const ngx_http_coze_auth_str_t *s,
    const char *text);
static int ngx_http_coze_auth_appconf_fields(ngx_http_coze_auth_mem_t *mem,
    json_t *root, ngx_http_coze_auth_appconf_t *out, char *err,
    size_t errlen);


static const ngx_http_coze_auth_appconf_field_t
    ngx_http_coze_auth_appconf_fields_list[] =
{
    { "client_type",
      offsetof(ngx_http_coze_auth_appconf_t, client_type) },
    { "client_id",
      offsetof(ngx_http_coze_auth_appconf_t, client_id) },
    { "client_secret",
      offsetof(ngx_http_coze_auth_appconf_t, client_secret) },
    { "private_key",
      offsetof(ngx_http_coze_auth_appconf_t, private_key) },
    { "public_key_id",
      offsetof(ngx_http_coze_auth_appconf_t, public_key_id) },
    { "coze_api_base",
      offsetof(ngx_http_coze_auth_appconf_t, coze_api_base) },
    { "coze_www_base",
      offsetof(ngx_http_coze_auth_appconf_t, coze_www_base) },
    { NULL, 0 }
};


static void
ngx_http_coze_auth_appconf_err(char *err, size_t errlen, const char *fmt,
    ...)
{
    va_list  args;

    if (err == NULL || errlen == 0) {
        return;
    }

    va_start(args, fmt);
    vsnprintf(err, errlen, fmt, args);
    va_end(args);
}


static int
ngx_http_coze_auth_appconf_is(const ngx_http_coze_auth_str_t *s,
    const char *text)
{
    size_t  n;

    n = strlen(text);

    return s->len == n && memcmp(s->data, text, n) == 0;
}


int
ngx_http_coze_auth_appconf_parse(ngx_http_coze_auth_mem_t *mem,
    const unsigned char *json, size_t len, ngx_http_coze_auth_appconf_t *out,
    char *err, size_t errlen)
{
    int           rc;
    json_t       *root;
    json_error_t  jerr;

    memset(out, 0, sizeof(ngx_http_coze_auth_appconf_t));

    if (json == NULL || len == 0) {
        ngx_http_coze_auth_appconf_err(err, errlen, "app config is empty");
        return NGX_HTTP_COZE_AUTH_ERROR;
    }

    if (len > NGX_HTTP_COZE_AUTH_APPCONF_MAX) {
        ngx_http_coze_auth_appconf_err(err, errlen,
                                       "app config is too large");
        return NGX_HTTP_COZE_AUTH_ERROR;
    }

    root = json_loadb((const char *) json, len, JSON_REJECT_DUPLICATES,
                      &jerr);

    if (root == NULL) {
        char  *near;

        /* jansson quotes the text "near" the error: it may be a secret */
        near = strstr(jerr.text, " near ");
        if (near) {
            *near = '\0';
        }

        ngx_http_coze_auth_appconf_err(err, errlen,
                                       "invalid JSON at line %d, column %d: "
                                       "%s", jerr.line, jerr.column,
                                       jerr.text);
        return NGX_HTTP_COZE_AUTH_ERROR;
    }

    if (!json_is_object(root)) {
        ngx_http_coze_auth_appconf_err(err, errlen,
                                       "app config is not a JSON object");
        json_decref(root);
        return NGX_HTTP_COZE_AUTH_ERROR;
    }

    rc = ngx_http_coze_auth_appconf_fields(mem, root, out, err, errlen);

    json_decref(root);

    if (rc != NGX_HTTP_COZE_AUTH_OK) {
        memset(out, 0, sizeof(ngx_http_coze_auth_appconf_t));
    }

    return rc;
}


static int
ngx_http_coze_auth_appconf_fields(ngx_http_coze_auth_mem_t *mem,
    json_t *root, ngx_http_coze_auth_appconf_t *out, char *err,
    size_t errlen)
{
    size_t                                     i, len;
    json_t                                    *v;
    unsigned char                             *p;
    ngx_http_coze_auth_str_t                  *s;
    const ngx_http_coze_auth_appconf_field_t  *f;

    for (f = ngx_http_coze_auth_appconf_fields_list; f->name; f++) {

        v = json_object_get(root, f->name);

        if (v == NULL || json_is_null(v)) {
            continue;
        }

        if (!json_is_string(v)) {
            ngx_http_coze_auth_appconf_err(err, errlen,
                                           "\"%s\" must be a string",
                                           f->name);
            return NGX_HTTP_COZE_AUTH_ERROR;
        }

        len = json_string_length(v);

        p = mem->alloc(mem->pool, len + 1);
        if (p == NULL) {
            ngx_http_coze_auth_appconf_err(err, errlen, "out of memory");
            return NGX_HTTP_COZE_AUTH_ERROR;
        }

        memcpy(p, json_string_value(v), len + 1);

        s = (void *) ((unsigned char *) out + f->offset);
        s->len = len;
        s->data = p;
    }

    s = &out->client_type;

    if (s->len == 0
        || ngx_http_coze_auth_appconf_is(s, "web")
        || ngx_http_coze_auth_appconf_is(s, "pkce")
        || ngx_http_coze_auth_appconf_is(s, "jwt")
        || ngx_http_coze_auth_appconf_is(s, "device"))
    {
        return NGX_HTTP_COZE_AUTH_OK;
    }

    /* echo the value only when it is short and printable */

    for (i = 0; i < s->len; i++) {
        if (s->data[i] < 0x20 || s->data[i] >= 0x7f) {
            break;
        }
    }

    if (i == s->len && s->len <= 32) {
        ngx_http_coze_auth_appconf_err(err, errlen,
                                       "invalid client_type \"%s\", "
                                       "expected web, pkce, jwt or device",
                                       (const char *) s->data);

    } else {
        ngx_http_coze_auth_appconf_err(err, errlen,
                                       "invalid client_type, "
                                       "expected web, pkce, jwt or device");
    }

    return NGX_HTTP_COZE_AUTH_ERROR;
}


const char *
ngx_http_coze_auth_appconf_check(const ngx_http_coze_auth_appconf_t *c)
{
    int  web, jwt;

    if (c->client_type.len == 0) {
        web = 1;
        jwt = 0;

    } else if (ngx_http_coze_auth_appconf_is(&c->client_type, "token")) {
        /* a static PAT/SAT needs nothing from the app config */
        return NULL;

    } else if (ngx_http_coze_auth_appconf_is(&c->client_type, "device")) {
        return "client_type \"device\" is not supported by a web server";

    } else {
        web = ngx_http_coze_auth_appconf_is(&c->client_type, "web");
        jwt = ngx_http_coze_auth_appconf_is(&c->client_type, "jwt");

        if (!web && !jwt
            && !ngx_http_coze_auth_appconf_is(&c->client_type, "pkce"))
        {
            return "invalid client_type, expected web, pkce or jwt";
        }
    }

    if (c->client_id.len == 0) {
        return "client_id is required";
    }

    if (web && c->client_secret.len == 0) {
        return "client_secret is required for web client";
    }

    if (jwt && c->private_key.len == 0) {
        return "private_key is required for jwt client";
    }

    if (jwt && c->public_key_id.len == 0) {
        return "public_key_id is required for jwt client";
    }

    return NULL;
}
