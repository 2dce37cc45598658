/*
 * Copyright (C) ngx_http_coze_auth_module authors
 *
 * Unit tests for ngx_http_coze_auth_proto.c (TAP).
 */


#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tap.h"
#include "ngx_http_coze_auth_proto.h"


#define NOW  1700000000LL

#define CLIENT_ID  "81734206536656306151822452690001.app.coze"
#define REDIRECT   "http://127.0.0.1:8080/callback"
#define REDIRECT_ESCAPED  "http%3A%2F%2F127.0.0.1%3A8080%2Fcallback"
#define AUTHORIZE  "https://www.coze.cn/api/permission/oauth2"


static ngx_http_coze_auth_str_t tstr(const char *s);
static int has_key(json_t *obj, const char *key, const char *value);
static int parse_tok(long status, const char *body,
    ngx_http_coze_auth_token_t *t);
static int parse_usr(long status, const char *body,
    ngx_http_coze_auth_user_t *u);
static void test_pkce(void);
static void test_authorize(void);
static void test_urls(void);
static void test_requests(void);
static void test_token_ok(void);
static void test_token_errors(void);
static void test_token_malformed(void);
static void test_user(void);


static tap_block_t               *arena;
static ngx_http_coze_auth_mem_t   mem = { tap_alloc, &arena };


static ngx_http_coze_auth_str_t
tstr(const char *s)
{
    ngx_http_coze_auth_str_t  r;

    r.len = strlen(s);
    r.data = (unsigned char *) s;

    return r;
}


/* obj[key] is the string value; value NULL: key absent */

static int
has_key(json_t *obj, const char *key, const char *value)
{
    json_t  *v;

    v = json_object_get(obj, key);

    if (value == NULL) {
        return v == NULL;
    }

    return json_is_string(v) && strcmp(json_string_value(v), value) == 0;
}


static int
parse_tok(long status, const char *body, ngx_http_coze_auth_token_t *t)
{
    return ngx_http_coze_auth_parse_token(&mem, status,
                                          (const unsigned char *) body,
                                          strlen(body), NOW, t);
}


static int
parse_usr(long status, const char *body, ngx_http_coze_auth_user_t *u)
{
    return ngx_http_coze_auth_parse_user(&mem, status,
                                         (const unsigned char *) body,
                                         strlen(body), u);
}


static void
test_pkce(void)
{
    size_t                    i;
    ngx_http_coze_auth_str_t  v, v2, c, in;

    in = tstr("code_verifier");
    is_int(ngx_http_coze_auth_pkce_s256(&mem, &in, &c),
           NGX_HTTP_COZE_AUTH_OK, "s256 ok");
    is_mem(c.data, c.len, "73oehA2tBul5grZPhXUGQwNAjxh69zNES8bu2bVD0EM",
           "s256 test vector (coze-py)");
    ok(c.data[c.len] == '\0', "challenge is NUL-terminated");

    in = tstr("");
    is_int(ngx_http_coze_auth_pkce_s256(&mem, &in, &c),
           NGX_HTTP_COZE_AUTH_ERROR, "s256 of empty verifier fails");

    is_int(ngx_http_coze_auth_pkce_verifier(&mem, &v),
           NGX_HTTP_COZE_AUTH_OK, "verifier ok");
    is_int(v.len, 43, "verifier is 43 chars");

    for (i = 0; i < v.len; i++) {
        if (!((v.data[i] >= 'a' && v.data[i] <= 'z')
              || (v.data[i] >= 'A' && v.data[i] <= 'Z')
              || (v.data[i] >= '0' && v.data[i] <= '9')
              || v.data[i] == '-' || v.data[i] == '_'))
        {
            break;
        }
    }

    is_int(i, v.len, "verifier is base64url");
    ok(v.data[v.len] == '\0', "verifier is NUL-terminated");

    is_int(ngx_http_coze_auth_pkce_verifier(&mem, &v2),
           NGX_HTTP_COZE_AUTH_OK, "second verifier ok");
    ok(v2.len == v.len && memcmp(v.data, v2.data, v.len) != 0,
       "verifiers differ");

    is_int(ngx_http_coze_auth_pkce_s256(&mem, &v, &c),
           NGX_HTTP_COZE_AUTH_OK, "s256 of a fresh verifier");
    is_int(c.len, 43, "challenge is 43 chars");
}


static void
test_authorize(void)
{
    ngx_http_coze_auth_str_t  www, ws, cid, ru, st, cc, out;

    www = tstr("https://www.coze.cn/");
    ws = tstr("");
    cid = tstr(CLIENT_ID);
    ru = tstr(REDIRECT);
    st = tstr("st-1");
    cc = tstr("");

    is_int(ngx_http_coze_auth_authorize_url(&mem, &www, &ws, &cid, &ru, &st,
                                            &cc, &out),
           NGX_HTTP_COZE_AUTH_OK, "web authorize url ok");
    is_mem(out.data, out.len,
           AUTHORIZE "/authorize?response_type=code&client_id=" CLIENT_ID
           "&redirect_uri=" REDIRECT_ESCAPED "&state=st-1",
           "web authorize url");
    ok(out.data[out.len] == '\0', "url is NUL-terminated");

    is_int(ngx_http_coze_auth_authorize_url(&mem, &www, NULL, &cid, &ru, &st,
                                            NULL, &out),
           NGX_HTTP_COZE_AUTH_OK, "NULL optional arguments");
    is_mem(out.data, out.len,
           AUTHORIZE "/authorize?response_type=code&client_id=" CLIENT_ID
           "&redirect_uri=" REDIRECT_ESCAPED "&state=st-1",
           "NULL optional arguments: same url");

    www = tstr("https://www.coze.cn");
    cc = tstr("73oehA2tBul5grZPhXUGQwNAjxh69zNES8bu2bVD0EM");

    is_int(ngx_http_coze_auth_authorize_url(&mem, &www, &ws, &cid, &ru, &st,
                                            &cc, &out),
           NGX_HTTP_COZE_AUTH_OK, "pkce authorize url ok");
    is_mem(out.data, out.len,
           AUTHORIZE "/authorize?response_type=code&client_id=" CLIENT_ID
           "&redirect_uri=" REDIRECT_ESCAPED "&state=st-1"
           "&code_challenge=73oehA2tBul5grZPhXUGQwNAjxh69zNES8bu2bVD0EM"
           "&code_challenge_method=S256",
           "pkce authorize url");

    ws = tstr("7372");
    cc = tstr("");

    is_int(ngx_http_coze_auth_authorize_url(&mem, &www, &ws, &cid, &ru, &st,
                                            &cc, &out),
           NGX_HTTP_COZE_AUTH_OK, "workspace authorize url ok");
    is_mem(out.data, out.len,
           AUTHORIZE "/workspace_id/7372/authorize?response_type=code"
           "&client_id=" CLIENT_ID "&redirect_uri=" REDIRECT_ESCAPED
           "&state=st-1",
           "workspace authorize url");

    /* escaping, empty state, mock base with a port */

    www = tstr("http://127.0.0.1:8090//");
    ws = tstr("a/b");
    cid = tstr("id");
    ru = tstr("https://h.example/cb?x=1&y=a b#f");
    st = tstr("");

    is_int(ngx_http_coze_auth_authorize_url(&mem, &www, &ws, &cid, &ru, &st,
                                            NULL, &out),
           NGX_HTTP_COZE_AUTH_OK, "escaping url ok");
    is_mem(out.data, out.len,
           "http://127.0.0.1:8090/api/permission/oauth2/workspace_id/a%2Fb"
           "/authorize?response_type=code&client_id=id&redirect_uri="
           "https%3A%2F%2Fh.example%2Fcb%3Fx%3D1%26y%3Da%20b%23f&state=",
           "reserved characters escaped, empty state kept");

    st = tstr("A-z_0.9~+\xc3\xa9");

    is_int(ngx_http_coze_auth_authorize_url(&mem, &www, NULL, &cid, &ru, &st,
                                            NULL, &out),
           NGX_HTTP_COZE_AUTH_OK, "utf-8 state ok");
    is_mem(out.data, out.len,
           "http://127.0.0.1:8090/api/permission/oauth2/authorize"
           "?response_type=code&client_id=id&redirect_uri="
           "https%3A%2F%2Fh.example%2Fcb%3Fx%3D1%26y%3Da%20b%23f"
           "&state=A-z_0.9~%2B%C3%A9",
           "unreserved kept, others percent-encoded upper-case");

    www = tstr("");
    is_int(ngx_http_coze_auth_authorize_url(&mem, &www, NULL, &cid, &ru, &st,
                                            NULL, &out),
           NGX_HTTP_COZE_AUTH_ERROR, "empty www base fails");
}


static void
test_urls(void)
{
    size_t                     i;
    ngx_http_coze_auth_str_t   in, acc, ent, out;

    static const char  *www[][2] = {
        { "https://api.coze.cn", "https://www.coze.cn" },
        { "https://api.coze.com/", "https://www.coze.com/" },
        { "https://API.coze.cn", "https://www.coze.cn" },
        { "http://127.0.0.1:8090", "http://127.0.0.1:8090" },
        { "http://localhost:8090/api./x", "http://localhost:8090/api./x" },
        { "https://myapi.example.com", "https://myapi.example.com" },
        { "https://eu.api.example.com", "https://eu.www.example.com" },
        { "https://u@api.x.com/a", "https://u@www.x.com/a" },
        { "api.coze.cn", "www.coze.cn" },
        { "https://api", "https://api" },
    };

    for (i = 0; i < sizeof(www) / sizeof(www[0]); i++) {
        in = tstr(www[i][0]);
        is_int(ngx_http_coze_auth_www_from_api(&mem, &in, &out),
               NGX_HTTP_COZE_AUTH_OK, "www_from_api(%s) ok", www[i][0]);
        is_mem(out.data, out.len, www[i][1], "www_from_api(%s) = %s",
               www[i][0], www[i][1]);
    }

    in = tstr("");
    is_int(ngx_http_coze_auth_www_from_api(&mem, &in, &out),
           NGX_HTTP_COZE_AUTH_ERROR, "www_from_api of empty fails");

    in = tstr("https://api.coze.cn/");
    acc = tstr("");
    ent = tstr("");

    is_int(ngx_http_coze_auth_token_url(&mem, &in, &acc, &ent, &out),
           NGX_HTTP_COZE_AUTH_OK, "token url ok");
    is_mem(out.data, out.len,
           "https://api.coze.cn/api/permission/oauth2/token", "token url");

    is_int(ngx_http_coze_auth_token_url(&mem, &in, NULL, NULL, &out),
           NGX_HTTP_COZE_AUTH_OK, "token url, NULL ids");
    is_mem(out.data, out.len,
           "https://api.coze.cn/api/permission/oauth2/token",
           "token url, NULL ids");

    acc = tstr("7351234");
    is_int(ngx_http_coze_auth_token_url(&mem, &in, &acc, &ent, &out),
           NGX_HTTP_COZE_AUTH_OK, "account token url ok");
    is_mem(out.data, out.len,
           "https://api.coze.cn/api/permission/oauth2/account/7351234/token",
           "account token url");

    acc = tstr("");
    ent = tstr("volcano_210195");
    is_int(ngx_http_coze_auth_token_url(&mem, &in, &acc, &ent, &out),
           NGX_HTTP_COZE_AUTH_OK, "enterprise token url ok");
    is_mem(out.data, out.len,
           "https://api.coze.cn/api/permission/oauth2/enterprise_id/"
           "volcano_210195/token", "enterprise token url");

    acc = tstr("1");
    is_int(ngx_http_coze_auth_token_url(&mem, &in, &acc, &ent, &out),
           NGX_HTTP_COZE_AUTH_ERROR, "account and enterprise: error");
}


static void
test_requests(void)
{
    json_t                    *j, *v;
    ngx_http_coze_auth_str_t   cid, ru, code, ver, rt, scope, out;

    cid = tstr(CLIENT_ID);
    ru = tstr(REDIRECT);
    code = tstr("code_abc\"\\/\xe4\xb8\xad");
    ver = tstr("");

    is_int(ngx_http_coze_auth_code_request(&mem, &cid, &ru, &code, &ver,
                                           &out),
           NGX_HTTP_COZE_AUTH_OK, "web code request ok");
    ok(out.data[out.len] == '\0', "body is NUL-terminated");

    j = json_loadb((char *) out.data, out.len, 0, NULL);
    ok(json_is_object(j) && json_object_size(j) == 4,
       "web code request: object with 4 fields");
    ok(has_key(j, "grant_type", "authorization_code"), "grant_type");
    ok(has_key(j, "code", "code_abc\"\\/\xe4\xb8\xad"), "code (escaped)");
    ok(has_key(j, "client_id", CLIENT_ID), "client_id");
    ok(has_key(j, "redirect_uri", REDIRECT), "redirect_uri");
    ok(has_key(j, "code_verifier", NULL), "no code_verifier");
    json_decref(j);

    code = tstr("c");
    ver = tstr("vvv");
    cid = tstr("id");
    ru = tstr("u");

    is_int(ngx_http_coze_auth_code_request(&mem, &cid, &ru, &code, &ver,
                                           &out),
           NGX_HTTP_COZE_AUTH_OK, "pkce code request ok");
    is_mem(out.data, out.len,
           "{\"grant_type\":\"authorization_code\",\"code\":\"c\","
           "\"client_id\":\"id\",\"redirect_uri\":\"u\","
           "\"code_verifier\":\"vvv\"}",
           "pkce code request: exact compact body");

    code = tstr("\xff\xfe");
    is_int(ngx_http_coze_auth_code_request(&mem, &cid, &ru, &code, NULL,
                                           &out),
           NGX_HTTP_COZE_AUTH_ERROR, "invalid utf-8 code fails");

    rt = tstr("rt_123");
    cid = tstr(CLIENT_ID);

    is_int(ngx_http_coze_auth_refresh_request(&mem, &cid, &rt, &out),
           NGX_HTTP_COZE_AUTH_OK, "refresh request ok");

    j = json_loadb((char *) out.data, out.len, 0, NULL);
    ok(json_is_object(j) && json_object_size(j) == 3,
       "refresh request: object with 3 fields");
    ok(has_key(j, "grant_type", "refresh_token"), "grant_type");
    ok(has_key(j, "client_id", CLIENT_ID), "client_id");
    ok(has_key(j, "refresh_token", "rt_123"), "refresh_token");
    json_decref(j);

    scope = tstr("{\"account_permission\":{\"permission_list\":"
                 "[\"Connector.botChat\"]},\"attribute_constraint\":"
                 "{\"connector_bot_chat_attribute\":{\"bot_id_list\":"
                 "[\"7379\"]}}}");

    is_int(ngx_http_coze_auth_jwt_request(&mem, 900, &scope, &out),
           NGX_HTTP_COZE_AUTH_OK, "jwt request ok");

    j = json_loadb((char *) out.data, out.len, 0, NULL);
    ok(json_is_object(j) && json_object_size(j) == 3,
       "jwt request: object with 3 fields");
    ok(has_key(j, "grant_type",
               "urn:ietf:params:oauth:grant-type:jwt-bearer"),
       "grant_type");
    ok(json_integer_value(json_object_get(j, "duration_seconds")) == 900,
       "duration_seconds");
    v = json_object_get(json_object_get(j, "scope"), "account_permission");
    v = json_array_get(json_object_get(v, "permission_list"), 0);
    ok(json_is_string(v)
       && strcmp(json_string_value(v), "Connector.botChat") == 0,
       "scope object kept");
    json_decref(j);

    is_int(ngx_http_coze_auth_jwt_request(&mem, 86399, NULL, &out),
           NGX_HTTP_COZE_AUTH_OK, "jwt request without scope ok");
    is_mem(out.data, out.len,
           "{\"grant_type\":\"urn:ietf:params:oauth:grant-type:jwt-bearer\","
           "\"duration_seconds\":86399}",
           "jwt request without scope: exact body");

    is_int(ngx_http_coze_auth_jwt_request(&mem, 0, NULL, &out),
           NGX_HTTP_COZE_AUTH_OK, "jwt request, no duration ok");
    is_mem(out.data, out.len,
           "{\"grant_type\":\"urn:ietf:params:oauth:grant-type:jwt-bearer\"}",
           "duration <= 0 omitted");

    scope = tstr("[1]");
    is_int(ngx_http_coze_auth_jwt_request(&mem, 900, &scope, &out),
           NGX_HTTP_COZE_AUTH_ERROR, "scope array fails");

    scope = tstr("{\"a\":");
    is_int(ngx_http_coze_auth_jwt_request(&mem, 900, &scope, &out),
           NGX_HTTP_COZE_AUTH_ERROR, "scope invalid json fails");
}


static void
test_token_ok(void)
{
    ngx_http_coze_auth_token_t  t;

    is_int(parse_tok(200, "{\"access_token\":\"czu_abc\",\"expires_in\":"
                          "1720098388,\"refresh_token\":\"rt_1\","
                          "\"token_type\":\"Bearer\"}", &t),
           NGX_HTTP_COZE_AUTH_OK, "flat token ok");
    is_mem(t.access_token.data, t.access_token.len, "czu_abc",
           "access_token");
    is_mem(t.refresh_token.data, t.refresh_token.len, "rt_1",
           "refresh_token");
    is_mem(t.token_type.data, t.token_type.len, "Bearer", "token_type");
    is_int(t.expires_at, 1720098388, "absolute expires_in kept");
    ok(t.access_token.data[t.access_token.len] == '\0',
       "access_token is NUL-terminated");
    ok(t.error_code.len == 0 && t.error_code.data == NULL,
       "no error_code");

    is_int(parse_tok(200, "{\"access_token\":\"czu_abc\",\"expires_in\":900,"
                          "\"refresh_token\":\"rt_1\"}", &t),
           NGX_HTTP_COZE_AUTH_OK, "duration token ok");
    is_int(t.expires_at, NOW + 900, "small expires_in is a duration");
    ok(t.token_type.len == 0, "token_type absent");

    is_int(parse_tok(200, "{\"access_token\":\"czs_jwt\","
                          "\"expires_in\":999999999}", &t),
           NGX_HTTP_COZE_AUTH_OK, "jwt token without refresh_token ok");
    is_int(t.expires_at, NOW + 999999999, "999999999 is a duration");
    ok(t.refresh_token.len == 0 && t.refresh_token.data == NULL,
       "refresh_token absent");

    is_int(parse_tok(201, "{\"access_token\":\"a\",\"expires_in\":"
                          "1000000000,\"refresh_token\":null,"
                          "\"token_type\":null}", &t),
           NGX_HTTP_COZE_AUTH_OK, "nulls are absent, any 2xx");
    is_int(t.expires_at, 1000000000, "1000000000 is absolute");

    is_int(parse_tok(200, "{\"code\":0,\"msg\":\"\",\"data\":"
                          "{\"access_token\":\"czu_env\",\"expires_in\":"
                          "1720098388,\"refresh_token\":\"r\"},"
                          "\"detail\":{\"logid\":\"20240708143040790E\"}}",
                     &t),
           NGX_HTTP_COZE_AUTH_OK, "envelope token ok");
    is_mem(t.access_token.data, t.access_token.len, "czu_env",
           "envelope access_token");
    is_mem(t.logid.data, t.logid.len, "20240708143040790E", "logid");

    is_int(parse_tok(200, "{\"access_token\":\"a\",\"expires_in\":1,"
                          "\"error_code\":\"\",\"error_message\":\"\","
                          "\"unknown\":[1,{}]}", &t),
           NGX_HTTP_COZE_AUTH_OK, "empty error fields, unknown keys ok");
}


static void
test_token_errors(void)
{
    ngx_http_coze_auth_token_t  t;

    is_int(parse_tok(400, "{\"error_code\":\"invalid_grant\","
                          "\"error_message\":\"refresh token expired\"}",
                     &t),
           NGX_HTTP_COZE_AUTH_E_REMOTE, "error_code/error_message");
    is_mem(t.error_code.data, t.error_code.len, "invalid_grant",
           "error_code");
    is_mem(t.error_message.data, t.error_message.len,
           "refresh token expired", "error_message");

    is_int(parse_tok(400, "{\"error\":\"authorization_pending\","
                          "\"error_description\":\"wait\"}", &t),
           NGX_HTTP_COZE_AUTH_E_REMOTE, "error/error_description");
    is_mem(t.error_code.data, t.error_code.len, "authorization_pending",
           "error as error_code");
    is_mem(t.error_message.data, t.error_message.len, "wait",
           "error_description as error_message");

    is_int(parse_tok(401, "{\"error_code\":\"invalid_client\","
                          "\"error\":\"other\",\"error_message\":\"/\","
                          "\"error_description\":\"d\","
                          "\"detail\":{\"logid\":\"L1\"}}", &t),
           NGX_HTTP_COZE_AUTH_E_REMOTE, "all error fields");
    is_mem(t.error_code.data, t.error_code.len, "invalid_client",
           "error_code preferred over error");
    is_mem(t.error_message.data, t.error_message.len, "/",
           "error_message preferred over error_description");
    is_mem(t.logid.data, t.logid.len, "L1", "logid of an error");

    is_int(parse_tok(200, "{\"error_code\":\"access_deny\","
                          "\"error_message\":\"app: x is deactivated\"}",
                     &t),
           NGX_HTTP_COZE_AUTH_E_REMOTE, "error with status 200");

    is_int(parse_tok(400, "{\"error_message\":\"line\\r\\nbreak\"}", &t),
           NGX_HTTP_COZE_AUTH_E_REMOTE, "message only, non-2xx");
    is_mem(t.error_message.data, t.error_message.len, "line  break",
           "control characters in messages become spaces");

    is_int(parse_tok(400, "{\"error_code\":4000}", &t),
           NGX_HTTP_COZE_AUTH_E_REMOTE, "numeric error_code");
    is_mem(t.error_code.data, t.error_code.len, "4000",
           "numeric error_code as text");

    is_int(parse_tok(401, "{\"code\":4100,\"msg\":\"authentication is "
                          "invalid\",\"detail\":{\"logid\":\"L2\"}}", &t),
           NGX_HTTP_COZE_AUTH_E_REMOTE, "OpenAPI envelope error");
    is_mem(t.error_code.data, t.error_code.len, "4100", "envelope code");
    is_mem(t.error_message.data, t.error_message.len,
           "authentication is invalid", "envelope msg");
    is_mem(t.logid.data, t.logid.len, "L2", "envelope logid");

    is_int(parse_tok(200, "{\"code\":700012006,\"msg\":\"access token "
                          "invalid\"}", &t),
           NGX_HTTP_COZE_AUTH_E_REMOTE, "envelope error with 200");

    is_int(parse_tok(500, "{}", &t), NGX_HTTP_COZE_AUTH_ERROR,
           "500 with an empty object is not a Coze answer");
    is_int(parse_tok(502, "<html>Bad Gateway</html>", &t),
           NGX_HTTP_COZE_AUTH_ERROR, "502 html");
    is_int(parse_tok(400, "{\"access_token\":\"a\",\"expires_in\":1}", &t),
           NGX_HTTP_COZE_AUTH_ERROR, "token with a 400 status");
    is_int(parse_tok(400, "{\"error_code\":{\"x\":1}}", &t),
           NGX_HTTP_COZE_AUTH_ERROR, "error_code of a wrong type");
}


static void
test_token_malformed(void)
{
    size_t                       i, n;
    char                        *big;
    ngx_http_coze_auth_token_t   t;

    static const char  *bad[] = {
        "",
        "{",
        "{\"access_token\":\"a\",\"expires_in\":17",
        "{\"access_token\":\"a\",\"expires_in\":1720098388",
        "not json",
        "[]",
        "\"a\"",
        "null",
        "{\"access_token\":\"a\",\"expires_in\":1720098388} x",
        "{\"access_token\":\"a\",\"access_token\":\"b\",\"expires_in\":1}",
        "{\"access_token\":1,\"expires_in\":1720098388}",
        "{\"access_token\":\"\",\"expires_in\":1720098388}",
        "{\"access_token\":null,\"expires_in\":1720098388}",
        "{\"expires_in\":1720098388}",
        "{\"access_token\":\"a\"}",
        "{\"access_token\":\"a\",\"expires_in\":\"1720098388\"}",
        "{\"access_token\":\"a\",\"expires_in\":1720098388.0}",
        "{\"access_token\":\"a\",\"expires_in\":0}",
        "{\"access_token\":\"a\",\"expires_in\":-5}",
        "{\"access_token\":\"a\",\"expires_in\":99999999999999999999}",
        "{\"access_token\":\"a\",\"expires_in\":1,\"refresh_token\":1}",
        "{\"access_token\":\"a\",\"expires_in\":1,\"token_type\":[]}",
        "{\"access_token\":\"a\\r\\nX-Evil: 1\",\"expires_in\":1}",
        "{\"access_token\":\"a\",\"expires_in\":1,\"refresh_token\":\"\\t\"}",
        "{\"access_token\":\"a\\u0000b\",\"expires_in\":1}",
        "{\"access_token\":\"\xff\",\"expires_in\":1}",
        "{\"code\":0,\"data\":{\"expires_in\":1}}",
    };

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        is_int(parse_tok(200, bad[i], &t), NGX_HTTP_COZE_AUTH_ERROR,
               "malformed token #%zu rejected", i);
    }

    is_int(ngx_http_coze_auth_parse_token(&mem, 200, NULL, 0, NOW, &t),
           NGX_HTTP_COZE_AUTH_ERROR, "NULL body rejected");

    /* a valid body just under and just over the limit */

    n = NGX_HTTP_COZE_AUTH_BODY_MAX + 1;
    big = malloc(n + 1);

    if (big == NULL) {
        ok(0, "malloc");
        return;
    }

    memset(big, ' ', n);
    memcpy(big, "{\"access_token\":\"a\",\"expires_in\":1}", 35);
    big[n] = '\0';

    is_int(ngx_http_coze_auth_parse_token(&mem, 200, (unsigned char *) big,
                                          n - 1, NOW, &t),
           NGX_HTTP_COZE_AUTH_OK, "64 KiB body accepted");
    is_int(ngx_http_coze_auth_parse_token(&mem, 200, (unsigned char *) big,
                                          n, NOW, &t),
           NGX_HTTP_COZE_AUTH_ERROR, "body over 64 KiB rejected");

    free(big);
}


static void
test_user(void)
{
    size_t                      i;
    ngx_http_coze_auth_user_t   u;

    static const char  *bad[] = {
        "",
        "{\"code\":0,\"msg\":\"\",\"data\":{\"user_id\":\"1\"",
        "<html></html>",
        "[]",
        "{\"code\":0,\"msg\":\"\"}",
        "{\"code\":0,\"data\":[]}",
        "{\"code\":0,\"data\":{}}",
        "{\"code\":0,\"data\":{\"user_id\":\"\"}}",
        "{\"code\":0,\"data\":{\"user_id\":null}}",
        "{\"code\":0,\"data\":{\"user_id\":true}}",
        "{\"code\":0,\"data\":{\"user_id\":1.5}}",
        "{\"code\":0,\"data\":{\"user_id\":\"a\\nb\"}}",
        "{\"code\":\"0\",\"data\":{\"user_id\":\"1\"}}",
        "{\"code\":0,\"msg\":1,\"data\":{\"user_id\":\"1\"}}",
        "{\"code\":0,\"data\":{\"user_id\":\"1\",\"nick_name\":{}}}",
        "{\"code\":0,\"data\":{\"user_id\":\"1\",\"avatar_url\":2}}",
    };

    is_int(parse_usr(200, "{\"code\":0,\"msg\":\"\",\"data\":{\"user_id\":"
                          "\"4190029349459823\",\"user_name\":\"alice\","
                          "\"nick_name\":\"\xe5\xb0\x8f\xe7\x99\xbd\","
                          "\"avatar_url\":\"https://a.example/x.png\"},"
                          "\"detail\":{\"logid\":\"L3\"}}", &u),
           NGX_HTTP_COZE_AUTH_OK, "user ok");
    is_mem(u.user_id.data, u.user_id.len, "4190029349459823", "user_id");
    is_mem(u.user_name.data, u.user_name.len, "alice", "user_name");
    is_mem(u.nick_name.data, u.nick_name.len, "\xe5\xb0\x8f\xe7\x99\xbd",
           "utf-8 nick_name");
    is_mem(u.avatar_url.data, u.avatar_url.len, "https://a.example/x.png",
           "avatar_url");
    is_mem(u.logid.data, u.logid.len, "L3", "logid");
    is_int(u.code, 0, "code");
    ok(u.user_id.data[u.user_id.len] == '\0', "user_id NUL-terminated");

    is_int(parse_usr(200, "{\"code\":0,\"data\":{\"user_id\":"
                          "4190029349459823,\"nick_name\":null,"
                          "\"user_name\":\"a\\r\\nb\"}}", &u),
           NGX_HTTP_COZE_AUTH_OK, "integer user_id ok");
    is_mem(u.user_id.data, u.user_id.len, "4190029349459823",
           "integer user_id as text");
    ok(u.nick_name.len == 0 && u.nick_name.data == NULL,
       "null nick_name is absent");
    is_mem(u.user_name.data, u.user_name.len, "a  b",
           "control characters in names become spaces");

    is_int(parse_usr(200, "{\"data\":{\"user_id\":\"7\"}}", &u),
           NGX_HTTP_COZE_AUTH_OK, "missing code counts as 0");

    is_int(parse_usr(401, "{\"code\":4100,\"msg\":\"authentication is "
                          "invalid\",\"detail\":{\"logid\":\"L4\"}}", &u),
           NGX_HTTP_COZE_AUTH_E_REMOTE, "4100 error");
    is_int(u.code, 4100, "error code");
    is_mem(u.msg.data, u.msg.len, "authentication is invalid", "error msg");
    is_mem(u.logid.data, u.logid.len, "L4", "error logid");

    is_int(parse_usr(200, "{\"code\":4101,\"msg\":\"no permission\"}", &u),
           NGX_HTTP_COZE_AUTH_E_REMOTE, "code != 0 with 200");
    is_int(u.code, 4101, "code 4101");

    is_int(parse_usr(403, "{\"code\":0,\"data\":{\"user_id\":\"1\"}}", &u),
           NGX_HTTP_COZE_AUTH_E_REMOTE, "non-2xx with a JSON body");

    is_int(parse_usr(401, "{\"error_code\":\"invalid_token\","
                          "\"error_message\":\"expired\"}", &u),
           NGX_HTTP_COZE_AUTH_E_REMOTE, "oauth-style error");
    is_mem(u.msg.data, u.msg.len, "expired", "error_message as msg");

    is_int(parse_usr(401, "Unauthorized", &u), NGX_HTTP_COZE_AUTH_ERROR,
           "non-JSON 401 is malformed");

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        is_int(parse_usr(200, bad[i], &u), NGX_HTTP_COZE_AUTH_ERROR,
               "malformed user #%zu rejected", i);
    }

    is_int(ngx_http_coze_auth_parse_user(&mem, 200, NULL, 0, &u),
           NGX_HTTP_COZE_AUTH_ERROR, "NULL body rejected");
}


int
main(void)
{
    test_pkce();
    test_authorize();
    test_urls();
    test_requests();
    test_token_ok();
    test_token_errors();
    test_token_malformed();
    test_user();

    tap_free_all(&arena);

    return done_testing();
}
