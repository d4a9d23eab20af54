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
#include <sys/random.h>
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

/* lstat(path): as stat, of a symbolic link itself */
static int sys_lstat(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  struct stat st;
  return push_stat(L, lstat(path, &st), &st, path);
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

/* The one way gcrun replaces a file (reports, sandbox state, exports):
 * data goes to a sibling temporary file, which is flushed to disk and
 * renamed over the target, so a reader (or a crash) sees the old file or
 * the new, never half. Written as root into a directory others can write
 * (/tmp), it must not be turned against the system:
 *   - the temporary name is unpredictable (random bytes, not the pid), and
 *     it is created with O_EXCL | O_NOFOLLOW, so a link planted in advance
 *     makes the open fail instead of redirecting the write;
 *   - a target that exists and is not a regular file (a device such as
 *     /dev/null, a FIFO, a directory, a symbolic link) is refused, never
 *     replaced: rename() would put a regular file in its place. */
#define ATOMIC_MT "gcrun.sys.AtomicFile"
#define ATOMIC_TRIES 16

typedef struct {
  int fd;
  char *path, *tmp;
} AtomicFile;

/* 12 random hex digits from the kernel. */
static int random_suffix(char out[13])
{
  unsigned char r[6];
  if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
    return -1;
  for (size_t i = 0; i < sizeof r; i++)
    snprintf(out + 2 * i, 3, "%02x", r[i]);
  return 0;
}

enum { ATOMIC_OK = 0, ATOMIC_ERRNO = -1, ATOMIC_NOT_REGULAR = -2 };

/* Open a new temporary file for path: a->fd, a->tmp. */
static int atomic_start(AtomicFile *a, const char *path, mode_t mode)
{
  struct stat st;
  if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode))
    return ATOMIC_NOT_REGULAR;
  size_t n = strlen(path) + 32;
  a->path = strdup(path);
  a->tmp = malloc(n);
  if (a->path == NULL || a->tmp == NULL) {
    errno = ENOMEM;
    return ATOMIC_ERRNO;
  }
  for (int i = 0; i < ATOMIC_TRIES; i++) {
    char suffix[13];
    if (random_suffix(suffix) != 0)
      return ATOMIC_ERRNO;
    snprintf(a->tmp, n, "%s.tmp.%s", path, suffix);
    a->fd = open(a->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (a->fd >= 0 || errno != EEXIST)
      break;
  }
  return a->fd >= 0 ? ATOMIC_OK : ATOMIC_ERRNO;
}

/* Flush, close and rename over the target; the temporary file is gone
 * afterwards either way. */
static int atomic_finish(AtomicFile *a)
{
  int rc = fsync(a->fd);
  if (close(a->fd) != 0)
    rc = -1;
  a->fd = -1;
  if (rc == 0)
    rc = rename(a->tmp, a->path);
  if (rc != 0) {
    int e = errno;
    unlink(a->tmp);
    errno = e;
  }
  return rc;
}

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

/* The failure of an atomic file, which is discarded: nil, message, errno. */
static int atomic_fail(lua_State *L, AtomicFile *a, const char *path, int rc)
{
  int e = errno;
  lua_pushstring(L, path);
  path = lua_tostring(L, -1);
  atomic_discard(a);
  if (rc == ATOMIC_NOT_REGULAR) {
    lua_pushnil(L);
    lua_pushfstring(L, "%s: exists and is not a regular file; refusing to replace it", path);
    lua_pushinteger(L, EEXIST);
    return 3;
  }
  errno = e;
  return fail(L, path);
}

/* open_atomic(path [, mode]) -> file | nil, message, errno
 * file:write(data), file:commit() (rename into place), file:discard();
 * dropped without commit (an error, a crash unwinding the Lua stack), the
 * temporary file is removed, so the target is never half written. */
static int sys_open_atomic(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  mode_t mode = (mode_t)luaL_optinteger(L, 2, 0644);
  AtomicFile *a = lua_newuserdatauv(L, sizeof *a, 0);   /* boxed first: nothing leaks */
  a->fd = -1;
  a->path = a->tmp = NULL;
  luaL_setmetatable(L, ATOMIC_MT);
  int rc = atomic_start(a, path, mode);
  if (rc != ATOMIC_OK)
    return atomic_fail(L, a, path, rc);
  return 1;
}

/* write_atomic(path, data [, mode]) -> true | nil, message, errno */
static int sys_write_atomic(lua_State *L)
{
  size_t len;
  luaL_checkstring(L, 1);
  const char *data = luaL_checklstring(L, 2, &len);
  lua_settop(L, 3);
  lua_rotate(L, 2, 1);          /* path, mode, data: open_atomic's arguments first */
  if (sys_open_atomic(L) != 1)
    return 3;
  AtomicFile *a = lua_touserdata(L, -1);
  if (write_all(a->fd, data, len) != 0)
    return atomic_fail(L, a, a->path, ATOMIC_ERRNO);
  if (atomic_finish(a) != 0)
    return atomic_fail(L, a, a->path, ATOMIC_ERRNO);
  atomic_discard(a);
  lua_pushboolean(L, 1);
  return 1;
}

static int atomic_write(lua_State *L)
{
  AtomicFile *a = check_atomic(L);
  size_t len;
  const char *data = luaL_checklstring(L, 2, &len);
  if (write_all(a->fd, data, len) != 0)
    return atomic_fail(L, a, a->path, ATOMIC_ERRNO);
  lua_pushboolean(L, 1);
  return 1;
}

static int atomic_commit(lua_State *L)
{
  AtomicFile *a = check_atomic(L);
  if (atomic_finish(a) != 0)
    return atomic_fail(L, a, a->path, ATOMIC_ERRNO);
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
    {"lstat", sys_lstat},
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
