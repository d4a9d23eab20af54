/* gcrun.jsonscan: what lua-cjson cannot tell about a JSON text. cjson keeps
 * the last of two equal keys silently and decodes [] and {} to the same
 * empty table; this scanner walks the text's structure (strings, nesting)
 * to report repeated keys and to mark empty arrays. It never builds values:
 * decoding stays cjson's job. Run it on text cjson has accepted. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "jsonscan.h"

#define MAX_DEPTH 512

/* The sentinel an empty array becomes before cjson decodes the text: a
 * one-element array of a string no real document contains. */
const char jsonscan_sentinel[] = "\\u0000gcrun:empty-array\\u0000";

typedef struct {
  size_t start, len;       /* raw key text, without quotes */
} Key;

typedef struct {
  int is_object;
  Key *keys;
  size_t nkeys, cap;
  size_t path_key_start, path_key_len;   /* key under which this value sits */
} Frame;

/* Position after the string starting at text[i] (a quote), or len. */
static size_t skip_string(const char *text, size_t len, size_t i)
{
  for (i++; i < len; i++) {
    if (text[i] == '\\')
      i++;
    else if (text[i] == '"')
      return i + 1;
  }
  return len;
}

static size_t skip_ws(const char *text, size_t len, size_t i)
{
  while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r'))
    i++;
  return i;
}

/* The value after the key ending at `end`: start of its text, and its
 * length if it is a scalar (0 for an object or array). */
static size_t scalar_after(const char *text, size_t len, size_t end, size_t *vlen)
{
  size_t i = skip_ws(text, len, end);
  if (i < len && text[i] == ':')
    i = skip_ws(text, len, i + 1);
  *vlen = 0;
  if (i >= len || text[i] == '{' || text[i] == '[')
    return i;
  size_t e = text[i] == '"' ? skip_string(text, len, i) : i;
  if (text[i] != '"')
    while (e < len && text[e] != ',' && text[e] != '}' && text[e] != ']' &&
           text[e] != ' ' && text[e] != '\t' && text[e] != '\n' && text[e] != '\r')
      e++;
  *vlen = e - i;
  return i;
}

static void line_col(const char *text, size_t pos, int *line, int *col)
{
  *line = 1;
  *col = 1;
  for (size_t i = 0; i < pos; i++) {
    if (text[i] == '\n') {
      (*line)++;
      *col = 1;
    } else {
      (*col)++;
    }
  }
}

int jsonscan_duplicates(const char *text, size_t len, jsonscan_dup_cb cb, void *ud)
{
  Frame stack[MAX_DEPTH];
  int depth = -1, found = 0, rc = 0;
  size_t pending_key_start = 0, pending_key_len = 0;
  int expect_key = 0;
  for (size_t i = 0; i < len && rc == 0; ) {
    char c = text[i];
    if (c == '"') {
      size_t end = skip_string(text, len, i);
      if (depth >= 0 && stack[depth].is_object && expect_key) {
        Frame *f = &stack[depth];
        size_t ks = i + 1, kl = end > i + 1 ? end - i - 2 : 0;
        for (size_t k = 0; k < f->nkeys; k++)
          if (f->keys[k].len == kl && memcmp(text + f->keys[k].start, text + ks, kl) == 0) {
            int line, col;
            size_t flen;
            size_t fat = scalar_after(text, len, f->keys[k].start + f->keys[k].len + 1, &flen);
            line_col(text, i, &line, &col);
            found++;
            cb(text + f->path_key_start, f->path_key_len, text + ks, kl, text + fat, flen, line, col, ud);
            break;
          }
        if (f->nkeys == f->cap) {
          size_t cap = f->cap ? f->cap * 2 : 8;
          Key *k = realloc(f->keys, cap * sizeof *k);
          if (k == NULL) { rc = -1; break; }
          f->keys = k;
          f->cap = cap;
        }
        f->keys[f->nkeys].start = ks;
        f->keys[f->nkeys].len = kl;
        f->nkeys++;
        pending_key_start = ks;
        pending_key_len = kl;
        expect_key = 0;
      }
      i = end;
      continue;
    }
    if (c == '{' || c == '[') {
      if (depth + 1 >= MAX_DEPTH) { rc = -2; break; }
      Frame *f = &stack[++depth];
      memset(f, 0, sizeof *f);
      f->is_object = c == '{';
      if (depth > 0 && stack[depth - 1].is_object) {
        f->path_key_start = pending_key_start;
        f->path_key_len = pending_key_len;
      } else if (depth > 0) {
        f->path_key_start = stack[depth - 1].path_key_start;
        f->path_key_len = stack[depth - 1].path_key_len;
      }
      expect_key = f->is_object;
    } else if (c == '}' || c == ']') {
      if (depth >= 0) {
        free(stack[depth].keys);
        depth--;
      }
      expect_key = 0;
    } else if (c == ',') {
      expect_key = depth >= 0 && stack[depth].is_object;
    }
    i++;
  }
  for (; depth >= 0; depth--)
    free(stack[depth].keys);
  return rc < 0 ? rc : found;
}

size_t jsonscan_count_empty_arrays(const char *text, size_t len)
{
  size_t n = 0;
  for (size_t i = 0; i < len; ) {
    if (text[i] == '"') {
      i = skip_string(text, len, i);
    } else if (text[i] == '[') {
      size_t j = i + 1;
      while (j < len && (text[j] == ' ' || text[j] == '\t' || text[j] == '\n' || text[j] == '\r'))
        j++;
      if (j < len && text[j] == ']')
        n++;
      i = j;
    } else {
      i++;
    }
  }
  return n;
}

char *jsonscan_mark_empty_arrays(const char *text, size_t len, size_t *outlen)
{
  size_t n = jsonscan_count_empty_arrays(text, len);
  size_t extra = n * (sizeof jsonscan_sentinel + 2);
  char *out = malloc(len + extra + 1), *o = out;
  if (out == NULL)
    return NULL;
  for (size_t i = 0; i < len; ) {
    if (text[i] == '"') {
      size_t end = skip_string(text, len, i);
      memcpy(o, text + i, end - i);
      o += end - i;
      i = end;
    } else if (text[i] == '[') {
      size_t j = i + 1;
      while (j < len && (text[j] == ' ' || text[j] == '\t' || text[j] == '\n' || text[j] == '\r'))
        j++;
      *o++ = '[';
      if (j < len && text[j] == ']') {
        *o++ = '"';
        memcpy(o, jsonscan_sentinel, sizeof jsonscan_sentinel - 1);
        o += sizeof jsonscan_sentinel - 1;
        *o++ = '"';
      }
      i++;
    } else {
      *o++ = text[i++];
    }
  }
  *o = '\0';
  *outlen = (size_t)(o - out);
  return out;
}

/* ---- Lua side ---- */

typedef struct {
  lua_State *L;
  int n;
} DupCtx;

static void push_dup(const char *path, size_t plen, const char *key, size_t klen,
                     const char *first, size_t flen, int line, int col, void *ud)
{
  DupCtx *ctx = ud;
  lua_State *L = ctx->L;
  lua_createtable(L, 0, 5);
  if (flen > 0) {
    lua_pushlstring(L, first, flen);
    lua_setfield(L, -2, "first");
  }
  lua_pushlstring(L, path, plen);
  lua_setfield(L, -2, "parent");
  lua_pushlstring(L, key, klen);
  lua_setfield(L, -2, "key");
  lua_pushinteger(L, line);
  lua_setfield(L, -2, "line");
  lua_pushinteger(L, col);
  lua_setfield(L, -2, "column");
  lua_rawseti(L, -2, ++ctx->n);
}

/* duplicates(text) -> { {parent=, key=, first=, line=, column=}, ... }
 * parent is the key of the object holding the repeated key ("" at the top);
 * first is the raw JSON text of the first value, when it is a scalar. */
static int scan_duplicates(lua_State *L)
{
  size_t len;
  const char *text = luaL_checklstring(L, 1, &len);
  lua_newtable(L);
  DupCtx ctx = {L, 0};
  int rc = jsonscan_duplicates(text, len, push_dup, &ctx);
  if (rc == -1)
    return luaL_error(L, "not enough memory");
  if (rc == -2)
    return luaL_error(L, "JSON nested deeper than %d levels", MAX_DEPTH);
  return 1;
}

/* mark_empty_arrays(text) -> text', count: [] becomes [sentinel] */
static int scan_mark_empty_arrays(lua_State *L)
{
  size_t len;
  const char *text = luaL_checklstring(L, 1, &len);
  size_t n = jsonscan_count_empty_arrays(text, len);
  if (n == 0) {
    lua_pushvalue(L, 1);
    lua_pushinteger(L, 0);
    return 2;
  }
  size_t outlen;
  char *out = jsonscan_mark_empty_arrays(text, len, &outlen);
  if (out == NULL)
    return luaL_error(L, "not enough memory");
  lua_pushlstring(L, out, outlen);
  free(out);
  lua_pushinteger(L, (lua_Integer)n);
  return 2;
}

int luaopen_gcrun_jsonscan(lua_State *L)
{
  static const luaL_Reg funcs[] = {
    {"duplicates", scan_duplicates},
    {"mark_empty_arrays", scan_mark_empty_arrays},
    {NULL, NULL}
  };
  luaL_newlib(L, funcs);
  lua_pushlstring(L, "\0gcrun:empty-array\0", 19);
  lua_setfield(L, -2, "SENTINEL");
  return 1;
}
