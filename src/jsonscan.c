/* gcrun.jsonscan: what lua-cjson cannot tell about a JSON text. cjson keeps
 * the last of two equal keys silently and decodes [] and {} to the same
 * empty table; this scanner walks the text's structure (strings, nesting)
 * to report repeated keys and to mark empty arrays. It never builds values:
 * decoding stays cjson's job. Run it on text cjson has accepted. */
#include "config.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "jsonscan.h"

#define MAX_DEPTH 512

/* The sentinel an empty array becomes before cjson decodes the text: a
 * one-element array of a string no real document contains. */
const char jsonscan_sentinel[] = "\\u0000gcrun:empty-array\\u0000";

/* A key of the object being scanned: its unescaped text in the arena,
 * where its raw text ends (the closing quote) and the first occurrence's
 * position (for sorting repeats after their first). */
typedef struct {
  const char *p;           /* set just before sorting: the arena moves */
  size_t off, len, pos, end;
} Key;

typedef struct {
  int is_object;
  Key *keys;
  size_t nkeys, cap;
  size_t parent_off, parent_len;   /* unescaped key under which this value sits */
  size_t arena_mark;               /* the arena's length when this value opened */
} Frame;

/* Every check here must stay linear (or n log n) in the text: definition
 * files come from users, and a hostile one under the size limit must not
 * take minutes. Keys are collected per object, sorted at its end, and
 * line/column numbers come from an index of line starts. */
typedef struct {
  const char *text;
  size_t len;
  char *arena;                     /* unescaped keys, a stack like the frames */
  size_t arena_len, arena_cap;
  size_t *lines;                   /* positions of '\n', built on first use */
  size_t nlines;
  int lines_built;
  jsonscan_dup_cb cb;
  void *ud;
  int found;
} Scan;

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

static int arena_reserve(Scan *s, size_t n)
{
  if (s->arena != NULL && s->arena_cap - s->arena_len >= n)
    return 0;
  size_t cap = s->arena_cap ? s->arena_cap : 256;
  while (cap - s->arena_len < n)
    cap *= 2;
  char *a = realloc(s->arena, cap);
  if (a == NULL)
    return -1;
  s->arena = a;
  s->arena_cap = cap;
  return 0;
}

static int hexval(char c)
{
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* The four hex digits at p (p + 4 <= end), or -1. */
static long hex4(const char *p, const char *end)
{
  if (end - p < 4)
    return -1;
  long v = 0;
  for (int i = 0; i < 4; i++) {
    int h = hexval(p[i]);
    if (h < 0)
      return -1;
    v = v * 16 + h;
  }
  return v;
}

static size_t put_utf8(char *o, unsigned long c)
{
  if (c < 0x80) { o[0] = (char)c; return 1; }
  if (c < 0x800) { o[0] = (char)(0xc0 | (c >> 6)); o[1] = (char)(0x80 | (c & 0x3f)); return 2; }
  if (c < 0x10000) {
    o[0] = (char)(0xe0 | (c >> 12)); o[1] = (char)(0x80 | ((c >> 6) & 0x3f));
    o[2] = (char)(0x80 | (c & 0x3f));
    return 3;
  }
  o[0] = (char)(0xf0 | (c >> 18)); o[1] = (char)(0x80 | ((c >> 12) & 0x3f));
  o[2] = (char)(0x80 | ((c >> 6) & 0x3f)); o[3] = (char)(0x80 | (c & 0x3f));
  return 4;
}

/* Append the key text[ks, ks + kl) to the arena with its escapes decoded,
 * as the decoder will see it: "\u006eame" is "name". Returns the length,
 * or -1 when out of memory. (The text was accepted by cjson, so escapes
 * are well formed; anything else is copied as it is.) */
static long unescape_key(Scan *s, size_t ks, size_t kl)
{
  if (arena_reserve(s, kl) != 0)       /* the decoded form is never longer */
    return -1;
  const char *p = s->text + ks, *end = p + kl;
  char *o = s->arena + s->arena_len, *start = o;
  while (p < end) {
    if (*p != '\\' || p + 1 >= end) {
      *o++ = *p++;
      continue;
    }
    static const char escapes[] = "\"\\/bfnrt", meanings[] = "\"\\/\b\f\n\r\t";
    char e = p[1];
    const char *simple = e != '\0' ? strchr(escapes, e) : NULL;
    if (simple != NULL) {
      *o++ = meanings[simple - escapes];
      p += 2;
      continue;
    }
    long c = e == 'u' ? hex4(p + 2, end) : -1;
    if (c < 0) {
      *o++ = *p++;
      continue;
    }
    p += 6;
    if (c >= 0xd800 && c < 0xdc00 && end - p >= 6 && p[0] == '\\' && p[1] == 'u') {
      long lo = hex4(p + 2, end);
      if (lo >= 0xdc00 && lo < 0xe000) {
        c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
        p += 6;
      }
    }
    o += put_utf8(o, (unsigned long)c);    /* at most 4 bytes from 6 or 12 */
  }
  s->arena_len += (size_t)(o - start);
  return (long)(o - start);
}

static void position(Scan *s, size_t pos, int *line, int *col)
{
  if (!s->lines_built) {
    s->lines_built = 1;
    size_t n = 0;
    for (size_t i = 0; i < s->len; i++)
      n += s->text[i] == '\n';
    s->lines = malloc((n ? n : 1) * sizeof *s->lines);
    if (s->lines != NULL)
      for (size_t i = 0; i < s->len; i++)
        if (s->text[i] == '\n')
          s->lines[s->nlines++] = i;
  }
  size_t lo = 0, hi = s->nlines;       /* newlines before pos: the first >= pos */
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (s->lines[mid] < pos) lo = mid + 1; else hi = mid;
  }
  size_t start = lo == 0 ? 0 : s->lines[lo - 1] + 1;
  *line = lo + 1 > (size_t)INT_MAX ? INT_MAX : (int)(lo + 1);
  *col = pos - start + 1 > (size_t)INT_MAX ? INT_MAX : (int)(pos - start + 1);
}

static int cmp_keys(const void *a, const void *b)
{
  const Key *x = a, *y = b;
  size_t n = x->len < y->len ? x->len : y->len;
  int c = memcmp(x->p, y->p, n);
  if (c != 0) return c;
  if (x->len != y->len) return x->len < y->len ? -1 : 1;
  return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static int cmp_repeat_pos(const void *a, const void *b)
{
  const Key *x = *(Key *const *)a, *y = *(Key *const *)b;
  return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* An object ends: sort its keys, report each repeated one once (at its
 * first repeat, with the first occurrence's value), in text order. */
static int close_object(Scan *s, Frame *f)
{
  if (f->nkeys < 2)
    return 0;
  for (size_t k = 0; k < f->nkeys; k++)
    f->keys[k].p = s->arena + f->keys[k].off;
  qsort(f->keys, f->nkeys, sizeof *f->keys, cmp_keys);
  /* pairs (first, first repeat), gathered at the front of a list */
  Key **pairs = malloc(f->nkeys * sizeof *pairs);
  if (pairs == NULL)
    return -1;
  size_t np = 0;
  for (size_t k = 0; k + 1 < f->nkeys; ) {
    size_t run = k + 1;
    while (run < f->nkeys && f->keys[run].len == f->keys[k].len &&
           memcmp(f->keys[run].p, f->keys[k].p, f->keys[k].len) == 0)
      run++;
    if (run > k + 1) {
      f->keys[k + 1].end = f->keys[k].end;   /* the repeat carries its first's value end */
      pairs[np++] = &f->keys[k + 1];
    }
    k = run;
  }
  qsort(pairs, np, sizeof *pairs, cmp_repeat_pos);
  for (size_t i = 0; i < np; i++) {
    Key *r = pairs[i];
    int line, col;
    size_t flen;
    size_t fat = scalar_after(s->text, s->len, r->end, &flen);
    position(s, r->pos, &line, &col);
    s->found++;
    s->cb(s->arena + f->parent_off, f->parent_len, r->p, r->len, s->text + fat, flen, line, col, s->ud);
  }
  free(pairs);
  return 0;
}

int jsonscan_duplicates(const char *text, size_t len, jsonscan_dup_cb cb, void *ud)
{
  Frame stack[MAX_DEPTH];
  Scan s = {0};
  s.text = text;
  s.len = len;
  s.cb = cb;
  s.ud = ud;
  int depth = -1, rc = 0;
  size_t pending_off = 0, pending_len = 0;
  int expect_key = 0;
  for (size_t i = 0; i < len && rc == 0; ) {
    char c = text[i];
    if (c == '"') {
      size_t end = skip_string(text, len, i);
      if (depth >= 0 && stack[depth].is_object && expect_key) {
        Frame *f = &stack[depth];
        size_t ks = i + 1, kl = end > i + 1 ? end - i - 2 : 0;
        if (f->nkeys == f->cap) {
          size_t cap = f->cap ? f->cap * 2 : 8;
          Key *k = realloc(f->keys, cap * sizeof *k);
          if (k == NULL) { rc = -1; break; }
          f->keys = k;
          f->cap = cap;
        }
        size_t off = s.arena_len;
        long ul = unescape_key(&s, ks, kl);
        if (ul < 0) { rc = -1; break; }
        f->keys[f->nkeys++] = (Key){ NULL, off, (size_t)ul, i, end };
        pending_off = off;
        pending_len = (size_t)ul;
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
      f->arena_mark = s.arena_len;
      if (depth > 0 && stack[depth - 1].is_object) {
        f->parent_off = pending_off;
        f->parent_len = pending_len;
      } else if (depth > 0) {
        f->parent_off = stack[depth - 1].parent_off;
        f->parent_len = stack[depth - 1].parent_len;
      }
      expect_key = f->is_object;
    } else if (c == '}' || c == ']') {
      if (depth >= 0) {
        Frame *f = &stack[depth];
        if (f->is_object && close_object(&s, f) != 0)
          rc = -1;
        free(f->keys);
        s.arena_len = f->arena_mark;
        depth--;
      }
      expect_key = 0;
    } else if (c == ',') {
      expect_key = depth >= 0 && stack[depth].is_object;
    }
    i++;
  }
  /* objects left open (text cut short): their repeats still count */
  for (; depth >= 0; depth--) {
    if (rc == 0 && stack[depth].is_object && close_object(&s, &stack[depth]) != 0)
      rc = -1;
    free(stack[depth].keys);
  }
  free(s.arena);
  free(s.lines);
  return rc < 0 ? rc : s.found;
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
 * One entry per key repeated in an object, at its first repeat. parent is
 * the key of the object holding the repeated key ("" at the top); parent
 * and key are decoded (escapes resolved); first is the raw JSON text of
 * the first value, when it is a scalar. */
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
