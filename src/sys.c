/* gcrun.sys: the few operating-system primitives Lua's standard library
 * lacks: directory listing, stat, bounded reads with real errno messages,
 * atomic writes, terminals, clocks. Failures return nil, message. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <stdint.h>
#include <sys/socket.h>
#include <curl/curlver.h>
#include <microhttpd.h>

#include "host.h"

static int fail(lua_State *L, const char *path)
{
  lua_pushnil(L);
  lua_pushfstring(L, "%s: %s", path, strerror(errno));
  lua_pushinteger(L, errno);
  return 3;
}

static int cmp_strings(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* dir(path) -> sorted list of names (no . and ..) */
static int sys_dir(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  DIR *d = opendir(path);
  if (d == NULL)
    return fail(L, path);
  lua_newtable(L);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    lua_pushstring(L, e->d_name);
    lua_rawseti(L, -2, ++n);
  }
  closedir(d);
  /* sort in C so the order never depends on the file system */
  const char **names = lua_newuserdatauv(L, sizeof(char *) * (size_t)(n ? n : 1), 0);
  for (int i = 0; i < n; i++) {
    lua_rawgeti(L, -2, i + 1);
    names[i] = lua_tostring(L, -1);
    lua_pop(L, 1);   /* the string stays alive in the table */
  }
  qsort(names, (size_t)n, sizeof *names, cmp_strings);
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    lua_pushstring(L, names[i]);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

static const char *type_name(mode_t m)
{
  if (S_ISREG(m)) return "file";
  if (S_ISDIR(m)) return "directory";
  if (S_ISLNK(m)) return "link";
  return "other";
}

static int push_stat(lua_State *L, int rc, const struct stat *st, const char *path)
{
  if (rc != 0)
    return fail(L, path);
  lua_createtable(L, 0, 5);
  lua_pushstring(L, type_name(st->st_mode));
  lua_setfield(L, -2, "type");
  lua_pushinteger(L, (lua_Integer)st->st_size);
  lua_setfield(L, -2, "size");
  lua_pushinteger(L, (lua_Integer)(st->st_mode & 07777));
  lua_setfield(L, -2, "mode");
  lua_pushinteger(L, (lua_Integer)st->st_uid);
  lua_setfield(L, -2, "uid");
  lua_pushinteger(L, (lua_Integer)st->st_mtime);
  lua_setfield(L, -2, "mtime");
  return 1;
}

static int sys_stat(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  struct stat st;
  return push_stat(L, stat(path, &st), &st, path);
}

/* read(path, limit) -> contents | nil, message, errno
 * A file over the limit is refused before it is read. */
static int sys_read(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  lua_Integer limit = luaL_optinteger(L, 2, LUA_MAXINTEGER);
  /* O_NONBLOCK: opening a FIFO must not wait for a writer */
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0)
    return fail(L, path);
  struct stat st;
  if (fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
    int e = S_ISDIR(st.st_mode) ? EISDIR : errno;
    close(fd);
    errno = e;
    return fail(L, path);
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    lua_pushnil(L);
    lua_pushfstring(L, "%s: not a regular file", path);
    lua_pushinteger(L, EINVAL);
    return 3;
  }
  if ((lua_Integer)st.st_size > limit) {
    close(fd);
    lua_pushnil(L);
    lua_pushfstring(L, "%s: file is %I bytes, larger than the limit of %I",
                    path, (lua_Integer)st.st_size, limit);
    lua_pushinteger(L, EFBIG);
    return 3;
  }
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (;;) {
    char *p = luaL_prepbuffer(&b);
    ssize_t n = read(fd, p, LUAL_BUFFERSIZE);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      int e = errno;
      close(fd);
      errno = e;
      return fail(L, path);
    }
    if (n == 0)
      break;
    luaL_addsize(&b, (size_t)n);
    if ((lua_Integer)luaL_bufflen(&b) > limit) {
      close(fd);
      lua_pushnil(L);
      lua_pushfstring(L, "%s: file is larger than the limit of %I bytes", path, limit);
      lua_pushinteger(L, EFBIG);
      return 3;
    }
  }
  close(fd);
  luaL_pushresult(&b);
  return 1;
}

static int write_all(int fd, const char *p, size_t n)
{
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* write_atomic(path, data [, mode]) -> true | nil, message
 * Write a sibling temporary file, flush it to disk and rename it over the
 * target, so a reader (or a crash) sees the old file or the new, never half. */
static int sys_write_atomic(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  size_t len;
  const char *data = luaL_checklstring(L, 2, &len);
  mode_t mode = (mode_t)luaL_optinteger(L, 3, 0644);
  const char *tmp = lua_pushfstring(L, "%s.tmp.%d", path, (int)getpid());
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0)
    return fail(L, path);
  if (write_all(fd, data, len) != 0 || fsync(fd) != 0) {
    int e = errno;
    close(fd);
    unlink(tmp);
    errno = e;
    return fail(L, path);
  }
  if (close(fd) != 0 || rename(tmp, path) != 0) {
    int e = errno;
    unlink(tmp);
    errno = e;
    return fail(L, path);
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* An atomic file being written: data goes to a sibling temporary file,
 * which commit() flushes to disk and renames over the target; dropped
 * without commit (an error, a crash unwinding the Lua stack), it is removed,
 * so the target is never half written. */
#define ATOMIC_MT "gcrun.sys.AtomicFile"

typedef struct {
  int fd;
  char *path, *tmp;
} AtomicFile;

static void atomic_discard(AtomicFile *a)
{
  if (a->fd >= 0) {
    close(a->fd);
    unlink(a->tmp);
    a->fd = -1;
  }
  free(a->path);
  free(a->tmp);
  a->path = a->tmp = NULL;
}

static AtomicFile *check_atomic(lua_State *L)
{
  AtomicFile *a = luaL_checkudata(L, 1, ATOMIC_MT);
  if (a->fd < 0)
    luaL_error(L, "the file is already committed or discarded");
  return a;
}

/* open_atomic(path [, mode]) -> file | nil, message */
static int sys_open_atomic(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  mode_t mode = (mode_t)luaL_optinteger(L, 2, 0644);
  AtomicFile *a = lua_newuserdatauv(L, sizeof *a, 0);
  a->fd = -1;
  a->path = strdup(path);
  size_t n = strlen(path) + 32;
  a->tmp = malloc(n);
  luaL_setmetatable(L, ATOMIC_MT);
  if (a->path == NULL || a->tmp == NULL)
    return luaL_error(L, "not enough memory");
  snprintf(a->tmp, n, "%s.tmp.%d", path, (int)getpid());
  a->fd = open(a->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (a->fd < 0)
    return fail(L, path);
  return 1;
}

static int atomic_write(lua_State *L)
{
  AtomicFile *a = check_atomic(L);
  size_t len;
  const char *data = luaL_checklstring(L, 2, &len);
  if (write_all(a->fd, data, len) != 0) {
    int e = errno;
    lua_pushstring(L, a->path);
    atomic_discard(a);
    errno = e;
    return fail(L, lua_tostring(L, -1));
  }
  lua_pushboolean(L, 1);
  return 1;
}

static int atomic_commit(lua_State *L)
{
  AtomicFile *a = check_atomic(L);
  if (fsync(a->fd) != 0 || close(a->fd) != 0 || rename(a->tmp, a->path) != 0) {
    int e = errno;
    a->fd = -1;
    unlink(a->tmp);
    lua_pushstring(L, a->path);
    atomic_discard(a);
    errno = e;
    return fail(L, lua_tostring(L, -1));
  }
  a->fd = -1;
  atomic_discard(a);
  lua_pushboolean(L, 1);
  return 1;
}

static int atomic_gc(lua_State *L)
{
  atomic_discard(luaL_checkudata(L, 1, ATOMIC_MT));
  return 0;
}

/* mkdir_p(path [, mode]) -> true | nil, message */
static int sys_mkdir_p(lua_State *L)
{
  size_t len;
  const char *path = luaL_checklstring(L, 1, &len);
  mode_t mode = (mode_t)luaL_optinteger(L, 2, 0755);
  char buf[PATH_MAX];
  if (len == 0 || len >= sizeof buf)
    return luaL_error(L, "mkdir_p: bad path length");
  memcpy(buf, path, len + 1);
  for (char *p = buf + 1; ; p++) {
    if (*p == '/' || *p == '\0') {
      char c = *p;
      *p = '\0';
      if (mkdir(buf, mode) != 0 && errno != EEXIST)
        return fail(L, buf);
      *p = c;
      if (c == '\0')
        break;
    }
  }
  lua_pushboolean(L, 1);
  return 1;
}

static int sys_realpath(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  char buf[PATH_MAX];
  if (realpath(path, buf) == NULL)
    return fail(L, path);
  lua_pushstring(L, buf);
  return 1;
}

/* isatty("stdout" | "stderr" | "stdin") */
static int sys_isatty(lua_State *L)
{
  static const char *const names[] = {"stdin", "stdout", "stderr", NULL};
  int fd = luaL_checkoption(L, 1, "stderr", names);
  lua_pushboolean(L, isatty(fd));
  return 1;
}

/* time() -> wall-clock seconds since the epoch, with fractions */
static int sys_time(lua_State *L)
{
  struct timeval tv;
  gettimeofday(&tv, NULL);
  lua_pushnumber(L, (double)tv.tv_sec + (double)tv.tv_usec / 1e6);
  return 1;
}

/* clock() -> monotonic seconds, for durations */
static int sys_clock(lua_State *L)
{
  lua_pushnumber(L, gc_now());
  return 1;
}

static int sys_getpid(lua_State *L)
{
  lua_pushinteger(L, (lua_Integer)getpid());
  return 1;
}

static int sys_getuid(lua_State *L)
{
  lua_pushinteger(L, (lua_Integer)getuid());
  return 1;
}

/* mkdtemp(prefix) -> path of a new private directory */
static int sys_mkdtemp(lua_State *L)
{
  const char *prefix = luaL_optstring(L, 1, "gcrun");
  const char *base = getenv("TMPDIR");
  char buf[PATH_MAX];
  snprintf(buf, sizeof buf, "%s/%s.XXXXXX", base && *base ? base : "/tmp", prefix);
  if (mkdtemp(buf) == NULL)
    return fail(L, buf);
  lua_pushstring(L, buf);
  return 1;
}

/* versions() -> the Lua, libcurl and libmicrohttpd versions gcrun was
 * built with, from their headers: --version must not load the network
 * libraries (they cost most of the start-up time). */
static int sys_versions(lua_State *L)
{
  lua_createtable(L, 0, 3);
  lua_pushstring(L, LUA_VERSION_MAJOR "." LUA_VERSION_MINOR "." LUA_VERSION_RELEASE);
  lua_setfield(L, -2, "lua");
  lua_pushstring(L, LIBCURL_VERSION);
  lua_setfield(L, -2, "libcurl");
  char mhd[16];   /* MHD_VERSION is 0xMMmmpp00 with hex digits read as decimal: 0x00097500 */
  snprintf(mhd, sizeof mhd, "%x.%x.%x", (unsigned)((MHD_VERSION >> 24) & 0xff),
           (unsigned)((MHD_VERSION >> 16) & 0xff), (unsigned)((MHD_VERSION >> 8) & 0xff));
  lua_pushstring(L, mhd);
  lua_setfield(L, -2, "libmicrohttpd");
  return 1;
}

/* datadir() -> the directory holding lua/, scripts/ and examples/ */
static int sys_datadir(lua_State *L)
{
  lua_getfield(L, LUA_REGISTRYINDEX, "gcrun.datadir");
  return 1;
}

int luaopen_gcrun_sys(lua_State *L)
{
  static const luaL_Reg atomic_methods[] = {
    {"write", atomic_write},
    {"commit", atomic_commit},
    {"discard", atomic_gc},
    {NULL, NULL}
  };
  gc_newclass(L, ATOMIC_MT, atomic_methods, atomic_gc);
  static const luaL_Reg funcs[] = {
    {"dir", sys_dir},
    {"stat", sys_stat},
    {"read", sys_read},
    {"write_atomic", sys_write_atomic},
    {"open_atomic", sys_open_atomic},
    {"mkdir_p", sys_mkdir_p},
    {"realpath", sys_realpath},
    {"isatty", sys_isatty},
    {"time", sys_time},
    {"clock", sys_clock},
    {"getpid", sys_getpid},
    {"getuid", sys_getuid},
    {"mkdtemp", sys_mkdtemp},
    {"datadir", sys_datadir},
    {"versions", sys_versions},
    {NULL, NULL}
  };
  luaL_newlib(L, funcs);
  return 1;
}
