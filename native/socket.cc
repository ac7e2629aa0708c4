// asyncore-ts native readiness backend: non-blocking sockets polled by an epoll instance of
// the addon's own, which libuv's uv_poll watches on Node's own event loop.
//
// One wrapped JS object (class Handle) per socket. The addon does the system calls; the
// TypeScript side (src/core/native-*.ts) keeps the state machines, the write queue and the
// water marks. Readiness is reported through one JS dispatch function, called with the handle
// as `this` and (kind, a, b, c):
//
//   EV_DATA     a = count of bytes read into the read buffer (stream; see below)
//   EV_EOF                                                   (stream: the peer shut its side)
//   EV_ERROR    a = errno (positive)                         (poll or read failure)
//   EV_WRITABLE                                              (write interest is set and met)
//   EV_ACCEPT                                                (listener: connections wait)
//   EV_MESSAGE  a = Buffer, b = host, c = port               (datagram)
//   EV_READABLE                                              (stream in notify mode, below)
//
// Notify mode (setInterest with NOTIFY): the addon reports a readable stream instead of reading
// it, and the owner reads with recv(max) (into the read area) or recvInto(target) (into memory
// of its own) when it chooses, as asyncore's dispatchers do after select(). A poll error or
// hang-up is then reported as readiness for whatever is polled: the recv() or send() that
// follows meets the error itself.
//
// Reads go into a read area that JS owns and names with init() and setReadBuffer(buffer,
// offset): the bytes of `buffer` from `offset` on (at least kMinReadSize of them). EV_DATA
// reports only how many bytes a read put at the start of that area. The JS side copies small
// reads out into pooled memory and leaves the area where it is; a large read it takes as it
// lies, as a view, and moves the area past it (or to a new buffer) before anything else runs.
// So no read is copied twice, a large one not at all, and no read allocates native memory.
//
// Polling: every socket with interest is registered (level-triggered) in the addon's epoll
// instance; one uv_poll watches that instance, so a socket costs libuv nothing of its own. When
// it is readable, one callback takes up to kEventsPerWake ready sockets from epoll_wait() and
// calls JS for each inside one callback scope: microtasks and process.nextTick run once after
// the batch, as asyncio runs the callbacks of one select() before its next turn. The uv_poll is
// referenced (keeps Node's loop alive) only while some socket has interest.
//
// Lifetime: the handle object is held strongly (a napi reference count of 1) only while it is
// registered, so an active socket lives as long as it is polled (as Node's own handles do) and
// an idle, unreachable one is collected; its finalizer closes the descriptor. A batch holds a
// local handle to each of its sockets before it calls JS, so none is freed while it runs.
//
// Hot calls (write, writev, sendto, setInterest, recv, recvInto, unread) are functions of the
// addon that take the handle's `id`, its slot in a table of the addon, as first argument: finding
// a wrapped object's pointer from `this` costs more than the rest of such a call. The JS side
// puts them on the handles' prototype, so callers still write `h.write(data)`.
//
// Every method returns a negative errno instead of throwing for system errors; the JS side
// turns it into an Error with a code. Only argument misuse throws.

#include <node_api.h>
#include <uv.h>

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <vector>

namespace {

enum Event { EV_DATA = 1, EV_EOF = 2, EV_ERROR = 3, EV_WRITABLE = 4, EV_ACCEPT = 5, EV_MESSAGE = 6, EV_READABLE = 7 };

// setInterest()'s flag for notify mode (outside UV_READABLE | UV_WRITABLE).
const int kNotify = 16;

// One stream read takes at most this much, as uvloop's do: a 100 KiB message comes in one
// system call, not two. What a paused reader may hold beyond its limit stays bounded by one
// read.
const size_t kMaxStreamRead = 256 * 1024;
// A read area is never smaller: it holds any datagram.
const size_t kMinReadSize = 64 * 1024;
// Reads per readiness event on one socket while each fills the buffer: fair to other sockets.
const int kReadsPerEvent = 4;
const int kDatagramsPerEvent = 32;
// Ready sockets taken per wake-up; more wait for the next turn of Node's loop.
const int kEventsPerWake = 128;
const uint32_t kMaxIov = 1024;

struct Addon {
  napi_env env = nullptr;
  int epfd = -1;                 // the addon's epoll instance, made on first use
  uv_poll_t* watcher = nullptr;  // Node's loop watching epfd
  int64_t polled = 0;            // sockets registered in epfd
  napi_ref resource = nullptr;   // the async resource of the callback scopes
  napi_ref ctor = nullptr;
  napi_ref dispatch = nullptr;
  napi_async_context async = nullptr;
  napi_ref bufferRef = nullptr;  // the JS buffer of the read area, held while it is read into
  char* readAt = nullptr;        // the read area: where the next read puts its bytes
  size_t readSize = 0;           // and how many it may put there
  int64_t open = 0;
  std::vector<struct Sock*> slots;  // every handle by its `id`; nullptr where free
  std::vector<uint32_t> freeSlots;
};

struct Sock {
  Addon* addon;
  napi_env env;
  napi_ref self;  // weak (0) while idle, strong (1) while polling
  int fd;
  int family;
  int type;
  int interest;  // UV_READABLE | UV_WRITABLE currently polled
  bool strong;
  bool eof;
  bool listening;
  bool notify;  // notify mode: report readability, do not read
  char* path;  // bound Unix-domain path, unlinked at close
  uint32_t slot;  // its index in addon->slots, the handle's `id`
};

#define CHECK(call)                                             \
  do {                                                          \
    napi_status status_ = (call);                               \
    if (status_ != napi_ok) return ThrowStatus(env, status_);   \
  } while (0)

napi_value ThrowStatus(napi_env env, napi_status status) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) {
    const napi_extended_error_info* info = nullptr;
    napi_get_last_error_info(env, &info);
    const char* msg = info && info->error_message ? info->error_message : "native call failed";
    napi_throw_error(env, "ERR_NATIVE_BACKEND", msg);
  }
  (void)status;
  return nullptr;
}

napi_value Int(napi_env env, int64_t v) {
  napi_value out;
  napi_create_int64(env, v, &out);
  return out;
}

napi_value Undefined(napi_env env) {
  napi_value out;
  napi_get_undefined(env, &out);
  return out;
}

// ---- poll lifetime ---------------------------------------------------------------------------

void OnWatcherClosed(uv_handle_t* handle) { free(handle); }

void OnEpoll(uv_poll_t* handle, int status, int events);

// The addon's epoll instance and its watcher on Node's loop, made on first use. 0 or -errno.
int EnsureEpoll(Addon* addon) {
  if (addon->watcher != nullptr) return 0;
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(addon->env, &loop) != napi_ok) return -EINVAL;
  int epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) return -errno;
  uv_poll_t* w = static_cast<uv_poll_t*>(malloc(sizeof(uv_poll_t)));
  if (w == nullptr) {
    close(epfd);
    return -ENOMEM;
  }
  int r = uv_poll_init(loop, w, epfd);
  if (r == 0) r = uv_poll_start(w, UV_READABLE, OnEpoll);
  if (r != 0) {
    free(w);
    close(epfd);
    return r;
  }
  w->data = addon;
  uv_unref(reinterpret_cast<uv_handle_t*>(w));
  addon->epfd = epfd;
  addon->watcher = w;
  return 0;
}

// One more (+1) or one fewer (-1) socket registered: Node's loop stays alive while any is.
void CountPolled(Addon* addon, int delta) {
  int64_t before = addon->polled;
  addon->polled += delta;
  if (addon->watcher == nullptr) return;
  if (before == 0 && addon->polled > 0) uv_ref(reinterpret_cast<uv_handle_t*>(addon->watcher));
  if (before > 0 && addon->polled == 0) uv_unref(reinterpret_cast<uv_handle_t*>(addon->watcher));
}

// Take `s` out of the epoll instance (before its descriptor is closed or handed away).
void Unregister(Sock* s) {
  if (s->interest == 0) return;
  if (s->fd >= 0) epoll_ctl(s->addon->epfd, EPOLL_CTL_DEL, s->fd, nullptr);
  s->interest = 0;
  CountPolled(s->addon, -1);
}

void CloseSock(Sock* s) {
  Unregister(s);
  if (s->fd >= 0) {
    close(s->fd);
    s->fd = -1;
    s->addon->open--;
  }
  if (s->path != nullptr) {
    if (s->path[0] != '\0') unlink(s->path);
    free(s->path);
    s->path = nullptr;
  }
}

void SetStrong(Sock* s, bool strong) {
  if (s->strong == strong || s->self == nullptr) return;
  uint32_t count = 0;
  if (strong)
    napi_reference_ref(s->env, s->self, &count);
  else
    napi_reference_unref(s->env, s->self, &count);
  s->strong = strong;
}

// Poll exactly `mask` (a subset of UV_READABLE | UV_WRITABLE). Returns 0 or a negative errno.
int SetInterest(Sock* s, int mask) {
  if (s->fd < 0) return mask == 0 ? 0 : -EBADF;
  if (s->eof) mask &= ~UV_READABLE;
  if (mask == s->interest) return 0;
  if (mask == 0) {
    Unregister(s);
    SetStrong(s, false);
    return 0;
  }
  int r = EnsureEpoll(s->addon);
  if (r != 0) return r;
  epoll_event ev;
  ev.events = ((mask & UV_READABLE) ? EPOLLIN : 0u) | ((mask & UV_WRITABLE) ? EPOLLOUT : 0u);
  ev.data.ptr = s;
  bool adding = s->interest == 0;
  if (epoll_ctl(s->addon->epfd, adding ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, s->fd, &ev) != 0) return -errno;
  if (adding) CountPolled(s->addon, 1);
  s->interest = mask;
  SetStrong(s, true);
  return 0;
}

void FinalizeSock(napi_env env, void* data, void* hint) {
  (void)hint;
  Sock* s = static_cast<Sock*>(data);
  CloseSock(s);
  if (s->self != nullptr) {
    napi_delete_reference(env, s->self);
    s->self = nullptr;
  }
  s->addon->slots[s->slot] = nullptr;
  s->addon->freeSlots.push_back(s->slot);
  free(s);
}

// ---- calling JS ------------------------------------------------------------------------------

void Emit(Sock* s, napi_value self, int kind, size_t argc, napi_value* extra) {
  napi_env env = s->env;
  napi_value fn;
  if (napi_get_reference_value(env, s->addon->dispatch, &fn) != napi_ok || fn == nullptr) return;
  napi_value argv[4];
  argv[0] = Int(env, kind);
  for (size_t i = 0; i < argc && i < 3; i++) argv[i + 1] = extra[i];
  napi_value result;
  // Always inside the callback scope of OnEpoll's batch.
  napi_status st = napi_call_function(env, self, fn, argc + 1, argv, &result);
  if (st != napi_ok) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      napi_value err;
      napi_get_and_clear_last_exception(env, &err);
      napi_fatal_exception(env, err);
    }
  }
}

napi_value AddressValue(napi_env env, const sockaddr_storage* ss, socklen_t len) {
  napi_value out;
  if (ss->ss_family == AF_UNIX) {
    const sockaddr_un* un = reinterpret_cast<const sockaddr_un*>(ss);
    size_t n = len > offsetof(sockaddr_un, sun_path) ? len - offsetof(sockaddr_un, sun_path) : 0;
    if (n > 0 && un->sun_path[0] != '\0') n = strnlen(un->sun_path, n);
    napi_create_string_utf8(env, un->sun_path, n, &out);
    return out;
  }
  char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 2] = {0};
  int port = 0;
  if (ss->ss_family == AF_INET) {
    const sockaddr_in* in = reinterpret_cast<const sockaddr_in*>(ss);
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
    port = ntohs(in->sin_port);
  } else if (ss->ss_family == AF_INET6) {
    const sockaddr_in6* in6 = reinterpret_cast<const sockaddr_in6*>(ss);
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
    if (in6->sin6_scope_id != 0) {
      size_t used = strlen(host);
      char name[IF_NAMESIZE];
      if (if_indextoname(in6->sin6_scope_id, name) != nullptr)
        snprintf(host + used, sizeof(host) - used, "%%%s", name);
      else
        snprintf(host + used, sizeof(host) - used, "%%%u", in6->sin6_scope_id);
    }
    port = ntohs(in6->sin6_port);
  } else {
    return Undefined(env);
  }
  napi_value h;
  napi_create_array_with_length(env, 2, &out);
  napi_create_string_utf8(env, host, NAPI_AUTO_LENGTH, &h);
  napi_set_element(env, out, 0, h);
  napi_set_element(env, out, 1, Int(env, port));
  return out;
}

// Read what waits, up to kReadsPerEvent buffers (all of it when `draining`). Returns 1 after
// reporting EOF, 2 after reporting an error, 0 otherwise.
int ReadStream(Sock* s, napi_value self, bool draining) {
  Addon* addon = s->addon;
  if (addon->readAt == nullptr) return 0;
  for (int i = 0; draining || i < kReadsPerEvent; i++) {
    if (s->fd < 0 || (!draining && !(s->interest & UV_READABLE))) return 0;
    // Take the read area anew each time: JS may have moved it past the last read.
    size_t size = addon->readSize < kMaxStreamRead ? addon->readSize : kMaxStreamRead;
    ssize_t n = recv(s->fd, addon->readAt, size, 0);
    if (n > 0) {
      napi_value count = Int(s->env, n);
      Emit(s, self, EV_DATA, 1, &count);
      if (!draining && static_cast<size_t>(n) < size) return 0;
      continue;
    }
    if (n == 0) {
      s->eof = true;
      SetInterest(s, s->interest & ~UV_READABLE);
      Emit(s, self, EV_EOF, 0, nullptr);
      return 1;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    napi_value code = Int(s->env, errno);
    Emit(s, self, EV_ERROR, 1, &code);
    return 2;
  }
  return 0;
}

// EPOLLERR: stop polling the socket. Deliver what is still readable (data that came before a
// reset), then the socket's own error (SO_ERROR: ECONNREFUSED, ECONNRESET…; EBADF without one).
void OnPollError(Sock* s, napi_value self, int status) {
  int prev = s->interest;
  Unregister(s);
  int done = 0;
  if (s->type == SOCK_STREAM && !s->listening && (prev & UV_READABLE) && !s->eof) done = ReadStream(s, self, true);
  if (done == 0 && s->fd >= 0) {
    int err = -status;
    int so = 0;
    socklen_t len = sizeof(so);
    if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &so, &len) == 0 && so != 0) err = so;
    napi_value code = Int(s->env, err);
    Emit(s, self, EV_ERROR, 1, &code);
  }
  if (s->interest == 0) SetStrong(s, false);
}

void ReadDatagrams(Sock* s, napi_value self) {
  if (s->addon->readAt == nullptr) return;
  for (int i = 0; i < kDatagramsPerEvent; i++) {
    if (s->fd < 0 || !(s->interest & UV_READABLE)) return;
    char* buf = s->addon->readAt;
    sockaddr_storage from;
    socklen_t fromlen = sizeof(from);
    ssize_t n = recvfrom(s->fd, buf, s->addon->readSize, 0, reinterpret_cast<sockaddr*>(&from), &fromlen);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      napi_value code = Int(s->env, errno);
      Emit(s, self, EV_ERROR, 1, &code);
      continue;
    }
    napi_value args[3];
    if (napi_create_buffer_copy(s->env, static_cast<size_t>(n), buf, nullptr, &args[0]) != napi_ok) return;
    napi_value addr = AddressValue(s->env, &from, fromlen);
    napi_get_element(s->env, addr, 0, &args[1]);
    napi_get_element(s->env, addr, 1, &args[2]);
    Emit(s, self, EV_MESSAGE, 3, args);
  }
}

// Node's loop saw the epoll instance readable: serve the sockets it has ready.
void OnEpoll(uv_poll_t* handle, int status, int events) {
  (void)events;
  Addon* addon = static_cast<Addon*>(handle->data);
  if (addon == nullptr || status < 0 || addon->epfd < 0) return;
  epoll_event ready[kEventsPerWake];
  int n;
  do {
    n = epoll_wait(addon->epfd, ready, kEventsPerWake, 0);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) return;
  napi_env env = addon->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  // Every socket of the batch is registered, so strongly held, now; a local handle to each keeps
  // it (and its Sock) alive through the batch even when JS closes and drops it midway.
  napi_value selves[kEventsPerWake];
  for (int i = 0; i < n; i++) {
    selves[i] = nullptr;
    Sock* s = static_cast<Sock*>(ready[i].data.ptr);
    napi_get_reference_value(env, s->self, &selves[i]);
  }
  napi_value resource = nullptr;
  napi_callback_scope cb = nullptr;
  if (napi_get_reference_value(env, addon->resource, &resource) != napi_ok || resource == nullptr ||
      napi_open_callback_scope(env, resource, addon->async, &cb) != napi_ok) {
    napi_close_handle_scope(env, scope);
    return;
  }
  for (int i = 0; i < n; i++) {
    Sock* s = static_cast<Sock*>(ready[i].data.ptr);
    napi_value self = selves[i];
    // Closed, or its interest changed, by JS earlier in this batch: look at it next time.
    if (self == nullptr || s->fd < 0 || s->interest == 0) continue;
    uint32_t ev = ready[i].events;
    if (s->notify) {
      // An error or hang-up makes the socket ready both ways: the next call meets it.
      if (ev & (EPOLLERR | EPOLLHUP)) ev |= EPOLLIN | EPOLLOUT;
      if ((ev & EPOLLIN) && (s->interest & UV_READABLE)) Emit(s, self, EV_READABLE, 0, nullptr);
      if ((ev & EPOLLOUT) && s->fd >= 0 && (s->interest & UV_WRITABLE)) Emit(s, self, EV_WRITABLE, 0, nullptr);
      continue;
    }
    if (ev & EPOLLERR) {
      OnPollError(s, self, UV_EBADF);
      continue;
    }
    // A hang-up alone still means "go and look": the read or write will tell what happened.
    if (ev & EPOLLHUP) ev |= EPOLLIN | EPOLLOUT;
    if ((ev & EPOLLIN) && (s->interest & UV_READABLE)) {
      if (s->type == SOCK_DGRAM)
        ReadDatagrams(s, self);
      else if (s->listening)
        Emit(s, self, EV_ACCEPT, 0, nullptr);
      else
        ReadStream(s, self, false);
    }
    if ((ev & EPOLLOUT) && s->fd >= 0 && (s->interest & UV_WRITABLE)) Emit(s, self, EV_WRITABLE, 0, nullptr);
  }
  napi_close_callback_scope(env, cb);
  napi_close_handle_scope(env, scope);
}

// ---- argument helpers ------------------------------------------------------------------------

Sock* Unwrap(napi_env env, napi_callback_info info, size_t* argc, napi_value* argv, napi_value* self = nullptr) {
  napi_value thisv;
  if (napi_get_cb_info(env, info, argc, argv, &thisv, nullptr) != napi_ok) return nullptr;
  void* data = nullptr;
  if (napi_unwrap(env, thisv, &data) != napi_ok || data == nullptr) {
    napi_throw_type_error(env, "ERR_INVALID_THIS", "not a native socket handle");
    return nullptr;
  }
  if (self != nullptr) *self = thisv;
  return static_cast<Sock*>(data);
}

// The socket named by a hot function's first argument, the handle's `id` (the hot functions do
// not take the handle as `this`: finding a wrapped object's pointer with napi_unwrap costs more
// than the rest of such a call). The other arguments go to argv, their count to *argc (at most
// kMaxArgs). An id stays its handle's while the handle lives: only the handle's finalizer frees
// the slot.
const size_t kMaxArgs = 3;
Sock* FromId(napi_env env, napi_callback_info info, size_t* argc, napi_value* argv) {
  napi_value all[kMaxArgs + 1];
  size_t capacity = *argc + 1;
  size_t n = capacity;
  Addon* addon = nullptr;
  if (napi_get_cb_info(env, info, &n, all, nullptr, reinterpret_cast<void**>(&addon)) != napi_ok) return nullptr;
  uint32_t slot = 0;
  if (n < 1 || napi_get_value_uint32(env, all[0], &slot) != napi_ok || slot >= addon->slots.size() ||
      addon->slots[slot] == nullptr) {
    napi_throw_type_error(env, "ERR_INVALID_THIS", "not a native socket handle");
    return nullptr;
  }
  *argc = n - 1;
  for (size_t i = 1; i < capacity && i < n; i++) argv[i - 1] = all[i];
  return addon->slots[slot];
}

bool GetInt(napi_env env, napi_value v, int32_t* out) {
  if (napi_get_value_int32(env, v, out) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "expected a number");
    return false;
  }
  return true;
}

bool GetBool(napi_env env, napi_value v) {
  bool b = false;
  napi_get_value_bool(env, v, &b);
  return b;
}

// Fill `ss` from (host, port) for an IP family or (path) for AF_UNIX. Returns 0 or -errno.
int ParseAddress(napi_env env, int family, size_t argc, napi_value* argv, sockaddr_storage* ss, socklen_t* len) {
  memset(ss, 0, sizeof(*ss));
  if (family == AF_UNIX) {
    sockaddr_un* un = reinterpret_cast<sockaddr_un*>(ss);
    size_t n = 0;
    if (argc < 1 || napi_get_value_string_utf8(env, argv[0], nullptr, 0, &n) != napi_ok) return -EINVAL;
    if (n >= sizeof(un->sun_path)) return -ENAMETOOLONG;
    char path[sizeof(un->sun_path) + 1];
    napi_get_value_string_utf8(env, argv[0], path, sizeof(path), &n);
    un->sun_family = AF_UNIX;
    memcpy(un->sun_path, path, n);
    *len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + n + (path[0] == '\0' ? 0 : 1));
    return 0;
  }
  if (argc < 2) return -EINVAL;
  char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
  size_t n = 0;
  if (napi_get_value_string_utf8(env, argv[0], host, sizeof(host), &n) != napi_ok) return -EINVAL;
  int32_t port = 0;
  if (napi_get_value_int32(env, argv[1], &port) != napi_ok || port < 0 || port > 65535) return -EINVAL;
  if (family == AF_INET) {
    sockaddr_in* in = reinterpret_cast<sockaddr_in*>(ss);
    in->sin_family = AF_INET;
    in->sin_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET, host, &in->sin_addr) != 1) return -EINVAL;
    *len = sizeof(*in);
    return 0;
  }
  sockaddr_in6* in6 = reinterpret_cast<sockaddr_in6*>(ss);
  in6->sin6_family = AF_INET6;
  in6->sin6_port = htons(static_cast<uint16_t>(port));
  char* scope = strchr(host, '%');
  if (scope != nullptr) {
    *scope++ = '\0';
    unsigned idx = if_nametoindex(scope);
    in6->sin6_scope_id = idx != 0 ? idx : static_cast<uint32_t>(strtoul(scope, nullptr, 10));
  }
  if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1) return -EINVAL;
  *len = sizeof(*in6);
  return 0;
}

// ---- construction ----------------------------------------------------------------------------

// new Handle(fd, family, type): takes ownership of an open non-blocking descriptor.
napi_value HandleNew(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_value thisv;
  Addon* addon = nullptr;
  CHECK(napi_get_cb_info(env, info, &argc, argv, &thisv, reinterpret_cast<void**>(&addon)));
  int32_t fd = -1, family = 0, type = 0;
  if (argc < 3 || !GetInt(env, argv[0], &fd) || !GetInt(env, argv[1], &family) || !GetInt(env, argv[2], &type))
    return nullptr;
  if (fd < 0) {
    napi_throw_range_error(env, "ERR_INVALID_ARG_VALUE", "invalid descriptor");
    return nullptr;
  }
  Sock* s = static_cast<Sock*>(calloc(1, sizeof(Sock)));
  if (s == nullptr) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return nullptr;
  }
  s->addon = addon;
  s->env = env;
  s->fd = fd;
  s->family = family;
  s->type = type;
  if (addon->freeSlots.empty()) {
    s->slot = static_cast<uint32_t>(addon->slots.size());
    addon->slots.push_back(nullptr);
  } else {
    s->slot = addon->freeSlots.back();
    addon->freeSlots.pop_back();
  }
  napi_property_descriptor id = {"id", nullptr, nullptr, nullptr, nullptr, Int(env, s->slot), napi_enumerable, nullptr};
  napi_status st = napi_define_properties(env, thisv, 1, &id);
  if (st == napi_ok) st = napi_wrap(env, thisv, s, FinalizeSock, nullptr, &s->self);
  if (st != napi_ok) {
    addon->freeSlots.push_back(s->slot);
    free(s);
    return ThrowStatus(env, st);
  }
  addon->slots[s->slot] = s;
  addon->open++;
  return thisv;
}

napi_value NewHandle(napi_env env, Addon* addon, int fd, int family, int type) {
  napi_value ctor, obj;
  napi_value argv[3] = {Int(env, fd), Int(env, family), Int(env, type)};
  if (napi_get_reference_value(env, addon->ctor, &ctor) != napi_ok ||
      napi_new_instance(env, ctor, 3, argv, &obj) != napi_ok) {
    close(fd);
    return nullptr;
  }
  return obj;
}

// open(domain, type) -> Handle | -errno
napi_value Open(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  Addon* addon = nullptr;
  CHECK(napi_get_cb_info(env, info, &argc, argv, nullptr, reinterpret_cast<void**>(&addon)));
  int32_t domain = 0, type = 0;
  if (argc < 2 || !GetInt(env, argv[0], &domain) || !GetInt(env, argv[1], &type)) return nullptr;
  int fd = socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Int(env, -errno);
  return NewHandle(env, addon, fd, domain, type);
}

// ---- methods ---------------------------------------------------------------------------------

napi_value MBind(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  Sock* s = Unwrap(env, info, &argc, argv);
  if (s == nullptr) return nullptr;
  if (s->fd < 0) return Int(env, -EBADF);
  sockaddr_storage ss;
  socklen_t len = 0;
  int r = ParseAddress(env, s->family, argc, argv, &ss, &len);
  if (r != 0) return Int(env, r);
  if (s->family != AF_UNIX && s->type == SOCK_STREAM) {
    int on = 1;
    setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
  }
  if (bind(s->fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) return Int(env, -errno);
  if (s->family == AF_UNIX) {
    const sockaddr_un* un = reinterpret_cast<const sockaddr_un*>(&ss);
    if (un->sun_path[0] != '\0') s->path = strdup(un->sun_path);
  }
  return Int(env, 0);
}

napi_value MListen(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  Sock* s = Unwrap(env, info, &argc, argv);
  if (s == nullptr) return nullptr;
  int32_t backlog = 511;
  if (argc >= 1 && !GetInt(env, argv[0], &backlog)) return nullptr;
  if (s->fd < 0) return Int(env, -EBADF);
  if (listen(s->fd, backlog) != 0) return Int(env, -errno);
  s->listening = true;
  return Int(env, 0);
}

// connect(host, port) | connect(path) -> 0 (connected) | -EINPROGRESS | -errno
napi_value MConnect(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  Sock* s = Unwrap(env, info, &argc, argv);
  if (s == nullptr) return nullptr;
  if (s->fd < 0) return Int(env, -EBADF);
  sockaddr_storage ss;
  socklen_t len = 0;
  int r = ParseAddress(env, s->family, argc, argv, &ss, &len);
  if (r != 0) return Int(env, r);
  int rc;
  do {
    rc = connect(s->fd, reinterpret_cast<sockaddr*>(&ss), len);
  } while (rc != 0 && errno == EINTR);
  return Int(env, rc == 0 ? 0 : -errno);
}

// accept() -> Handle | -errno (-EAGAIN when none waits)
napi_value MAccept(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  Sock* s = Unwrap(env, info, &argc, nullptr);
  if (s == nullptr) return nullptr;
  if (s->fd < 0) return Int(env, -EBADF);
  int fd;
  do {
    fd = accept4(s->fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return Int(env, -errno);
  if (s->family != AF_UNIX) {
    int on = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
  }
  return NewHandle(env, s->addon, fd, s->family, s->type);
}

// What a send returned, as write()/writev() answer: bytes taken, 0 when the kernel takes none
// now, or -errno.
napi_value Sent(napi_env env, ssize_t n) {
  if (n >= 0) return Int(env, n);
  return Int(env, (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno);
}

// write(buffer[, offset]) -> bytes taken (0 when the kernel takes none now) | -errno
napi_value MWrite(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  Sock* s = FromId(env, info, &argc, argv);
  if (s == nullptr) return nullptr;
  if (s->fd < 0) return Int(env, -EBADF);
  void* data = nullptr;
  size_t length = 0;
  if (argc < 1 || napi_get_buffer_info(env, argv[0], &data, &length) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "expected a Buffer");
    return nullptr;
  }
  int32_t offset = 0;
  if (argc >= 2 && !GetInt(env, argv[1], &offset)) return nullptr;
  if (offset < 0 || static_cast<size_t>(offset) > length) offset = static_cast<int32_t>(length);
  ssize_t n;
  do {
    n = send(s->fd, static_cast<char*>(data) + offset, length - offset, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  return Sent(env, n);
}

// writev(buffers, offsetInFirst) -> bytes taken | -errno
napi_value MWritev(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  Sock* s = FromId(env, info, &argc, argv);
  if (s == nullptr) return nullptr;
  if (s->fd < 0) return Int(env, -EBADF);
  uint32_t count = 0;
  bool isArray = false;
  if (argc < 1 || napi_is_array(env, argv[0], &isArray) != napi_ok || !isArray) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "expected an array of Buffers");
    return nullptr;
  }
  napi_get_array_length(env, argv[0], &count);
  int32_t offset = 0;
  if (argc >= 2 && !GetInt(env, argv[1], &offset)) return nullptr;
  if (count > kMaxIov) count = kMaxIov;
  iovec iov[kMaxIov];
  uint32_t used = 0;
  for (uint32_t i = 0; i < count; i++) {
    napi_value el;
    void* data = nullptr;
    size_t length = 0;
    if (napi_get_element(env, argv[0], i, &el) != napi_ok || napi_get_buffer_info(env, el, &data, &length) != napi_ok) {
      napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "expected an array of Buffers");
      return nullptr;
    }
    size_t skip = (i == 0 && offset > 0) ? static_cast<size_t>(offset) : 0;
    if (skip > length) skip = length;
    if (length - skip == 0) continue;
    iov[used].iov_base = static_cast<char*>(data) + skip;
    iov[used].iov_len = length - skip;
    used++;
  }
  if (used == 0) return Int(env, 0);
  struct msghdr msg;
  memset(&msg, 0, sizeof(msg));
  msg.msg_iov = iov;
  msg.msg_iovlen = used;
  ssize_t n;
  do {
    n = sendmsg(s->fd, &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  return Sent(env, n);
}

// sendto(buffer, host, port) | sendto(buffer) on a connected datagram socket -> bytes | -errno
napi_value MSendTo(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  Sock* s = FromId(env, info, &argc, argv);
  if (s == nullptr) return nullptr;
  if (s->fd < 0) return Int(env, -EBADF);
  void* data = nullptr;
  size_t length = 0;
  if (argc < 1 || napi_get_buffer_info(env, argv[0], &data, &length) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "expected a Buffer");
    return nullptr;
  }
  sockaddr_storage ss;
  socklen_t len = 0;
  if (argc >= 3) {
    int r = ParseAddress(env, s->family, 2, argv + 1, &ss, &len);
    if (r != 0) return Int(env, r);
  }
  ssize_t n;
  do {
    n = sendto(s->fd, data, length, MSG_NOSIGNAL, len > 0 ? reinterpret_cast<sockaddr*>(&ss) : nullptr, len);
  } while (n < 0 && errno == EINTR);
  return Int(env, n < 0 ? -errno : n);
}

napi_value MShutdown(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  Sock* s = Unwrap(env, info, &argc, nullptr);
  if (s == nullptr) return nullptr;
  if (s->fd < 0) return Int(env, -EBADF);
  return Int(env, shutdown(s->fd, SHUT_WR) == 0 ? 0 : -errno);
}

// setInterest(mask): mask of 1 (read) and 2 (write), plus 16 (NOTIFY) for notify mode on a
// connected stream -> 0 | -errno
napi_value MSetInterest(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  Sock* s = FromId(env, info, &argc, argv);
  if (s == nullptr) return nullptr;
  int32_t mask = 0;
  if (argc < 1 || !GetInt(env, argv[0], &mask)) return nullptr;
  s->notify = (mask & kNotify) != 0 && s->type == SOCK_STREAM && !s->listening;
  return Int(env, SetInterest(s, mask & (UV_READABLE | UV_WRITABLE)));
}

// One recv() of up to size bytes into `into`, for recv()/recvInto() below: the count, 0 at EOF
// (read interest then dropped, as after EV_EOF), or -errno.
napi_value NotifiedRecv(napi_env env, Sock* s, void* into, size_t size) {
  ssize_t n;
  do {
    n = recv(s->fd, into, size, 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return Int(env, -errno);
  if (n == 0 && size > 0) {
    s->eof = true;
    SetInterest(s, s->interest & ~UV_READABLE);
  }
  return Int(env, n);
}

// recv(max) -> bytes read into the read area (at most max and the area's size), 0 at EOF,
// -EAGAIN when none wait, or -errno. For streams in notify mode.
napi_value MRecv(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  Sock* s = FromId(env, info, &argc, argv);
  if (s == nullptr) return nullptr;
  int32_t max = 0;
  if (argc < 1 || !GetInt(env, argv[0], &max)) return nullptr;
  if (s->fd < 0) return Int(env, -EBADF);
  Addon* addon = s->addon;
  if (addon->readAt == nullptr) return Int(env, -EINVAL);
  size_t size = addon->readSize < kMaxStreamRead ? addon->readSize : kMaxStreamRead;
  if (max >= 0 && static_cast<size_t>(max) < size) size = static_cast<size_t>(max);
  return NotifiedRecv(env, s, addon->readAt, size);
}

// recvInto(target) -> bytes read into the start of target (any Uint8Array), 0 at EOF, -EAGAIN
// when none wait, or -errno. For streams in notify mode: the caller owns the memory, so the read
// lands where it will be used (asyncio's BufferedProtocol, socket.recv_into).
napi_value MRecvInto(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  Sock* s = FromId(env, info, &argc, argv);
  if (s == nullptr) return nullptr;
  void* data = nullptr;
  size_t length = 0;
  if (argc < 1 || napi_get_buffer_info(env, argv[0], &data, &length) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "expected a Uint8Array");
    return nullptr;
  }
  if (s->fd < 0) return Int(env, -EBADF);
  return NotifiedRecv(env, s, data, length < kMaxStreamRead ? length : kMaxStreamRead);
}

// unread() -> bytes the kernel holds for reading now (FIONREAD) | -errno
napi_value MUnread(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  Sock* s = FromId(env, info, &argc, nullptr);
  if (s == nullptr) return nullptr;
  if (s->fd < 0) return Int(env, -EBADF);
  int count = 0;
  if (ioctl(s->fd, FIONREAD, &count) != 0) return Int(env, -errno);
  return Int(env, count);
}

napi_value MClose(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  Sock* s = Unwrap(env, info, &argc, nullptr);
  if (s == nullptr) return nullptr;
  SetStrong(s, false);
  CloseSock(s);
  return Undefined(env);
}

// detach() -> the descriptor, no longer owned or polled by this handle | -EBADF
napi_value MDetach(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  Sock* s = Unwrap(env, info, &argc, nullptr);
  if (s == nullptr) return nullptr;
  if (s->fd < 0) return Int(env, -EBADF);
  SetInterest(s, 0);
  int fd = s->fd;
  s->fd = -1;
  s->addon->open--;
  free(s->path);
  s->path = nullptr;
  return Int(env, fd);
}

napi_value MSoError(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  Sock* s = Unwrap(env, info, &argc, nullptr);
  if (s == nullptr) return nullptr;
  if (s->fd < 0) return Int(env, EBADF);
  int err = 0;
  socklen_t len = sizeof(err);
  if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
  return Int(env, err);
}

napi_value Name(napi_env env, napi_callback_info info, bool peer) {
  size_t argc = 0;
  Sock* s = Unwrap(env, info, &argc, nullptr);
  if (s == nullptr) return nullptr;
  if (s->fd < 0) return Undefined(env);
  sockaddr_storage ss;
  memset(&ss, 0, sizeof(ss));
  socklen_t len = sizeof(ss);
  int r = peer ? getpeername(s->fd, reinterpret_cast<sockaddr*>(&ss), &len)
               : getsockname(s->fd, reinterpret_cast<sockaddr*>(&ss), &len);
  if (r != 0) return Undefined(env);
  return AddressValue(env, &ss, len);
}

napi_value MSockName(napi_env env, napi_callback_info info) { return Name(env, info, false); }
napi_value MPeerName(napi_env env, napi_callback_info info) { return Name(env, info, true); }

// setOption(name, on): "nodelay", "v6only", "broadcast", "keepalive", "linger0" -> 0 | -errno
// ("linger0": SO_LINGER with a zero timeout, so that closing sends RST).
napi_value MSetOption(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  Sock* s = Unwrap(env, info, &argc, argv);
  if (s == nullptr) return nullptr;
  if (argc < 2) return Int(env, -EINVAL);
  if (s->fd < 0) return Int(env, -EBADF);
  char name[16] = {0};
  size_t n = 0;
  napi_get_value_string_utf8(env, argv[0], name, sizeof(name), &n);
  int on = GetBool(env, argv[1]) ? 1 : 0;
  int r;
  if (strcmp(name, "nodelay") == 0)
    r = setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
  else if (strcmp(name, "v6only") == 0)
    r = setsockopt(s->fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
  else if (strcmp(name, "broadcast") == 0)
    r = setsockopt(s->fd, SOL_SOCKET, SO_BROADCAST, &on, sizeof(on));
  else if (strcmp(name, "keepalive") == 0)
    r = setsockopt(s->fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
  else if (strcmp(name, "linger0") == 0) {
    struct linger lg = {on, 0};
    r = setsockopt(s->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  }
  else
    return Int(env, -EINVAL);
  return Int(env, r == 0 ? 0 : -errno);
}

napi_value MFd(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  Sock* s = Unwrap(env, info, &argc, nullptr);
  if (s == nullptr) return nullptr;
  return Int(env, s->fd);
}

// ---- module ----------------------------------------------------------------------------------

// Make the bytes of `value` (a Buffer) from `offset` on the read area; at least kMinReadSize
// of them. Returns false with an exception pending when they are not.
bool UseReadArea(napi_env env, Addon* addon, napi_value value, napi_value offsetValue) {
  bool isBuffer = false;
  void* data = nullptr;
  size_t length = 0;
  int64_t offset = 0;
  if (offsetValue != nullptr && napi_get_value_int64(env, offsetValue, &offset) != napi_ok) offset = -1;
  if (napi_is_buffer(env, value, &isBuffer) != napi_ok || !isBuffer ||
      napi_get_buffer_info(env, value, &data, &length) != napi_ok || offset < 0 ||
      static_cast<uint64_t>(offset) > length || length - static_cast<size_t>(offset) < kMinReadSize) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "expected a Buffer with 64 KiB free from the offset on");
    return false;
  }
  napi_value current = nullptr;
  bool same = false;
  if (addon->bufferRef != nullptr && napi_get_reference_value(env, addon->bufferRef, &current) == napi_ok &&
      current != nullptr)
    napi_strict_equals(env, current, value, &same);
  if (!same) {
    napi_ref ref = nullptr;
    if (napi_create_reference(env, value, 1, &ref) != napi_ok) {
      ThrowStatus(env, napi_generic_failure);
      return false;
    }
    if (addon->bufferRef != nullptr) napi_delete_reference(env, addon->bufferRef);
    addon->bufferRef = ref;
  }
  addon->readAt = static_cast<char*>(data) + offset;
  addon->readSize = length - static_cast<size_t>(offset);
  return true;
}

// init(dispatch, readBuffer)
napi_value Init(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  Addon* addon = nullptr;
  CHECK(napi_get_cb_info(env, info, &argc, argv, nullptr, reinterpret_cast<void**>(&addon)));
  napi_valuetype t = napi_undefined;
  if (argc < 2 || napi_typeof(env, argv[0], &t) != napi_ok || t != napi_function) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "expected a dispatch function and a read buffer");
    return nullptr;
  }
  if (!UseReadArea(env, addon, argv[1], nullptr)) return nullptr;
  if (addon->dispatch != nullptr) napi_delete_reference(env, addon->dispatch);
  CHECK(napi_create_reference(env, argv[0], 1, &addon->dispatch));
  return Undefined(env);
}

// setReadBuffer(buffer, offset): reads go into `buffer` from `offset` on from now on.
napi_value SetReadBuffer(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  Addon* addon = nullptr;
  CHECK(napi_get_cb_info(env, info, &argc, argv, nullptr, reinterpret_cast<void**>(&addon)));
  if (argc < 1 || !UseReadArea(env, addon, argv[0], argc >= 2 ? argv[1] : nullptr)) return nullptr;
  return Undefined(env);
}

napi_value OpenCount(napi_env env, napi_callback_info info) {
  Addon* addon = nullptr;
  size_t argc = 0;
  CHECK(napi_get_cb_info(env, info, &argc, nullptr, nullptr, reinterpret_cast<void**>(&addon)));
  return Int(env, addon->open);
}

void FinalizeAddon(napi_env env, void* data, void* hint) {
  (void)hint;
  Addon* addon = static_cast<Addon*>(data);
  if (addon->dispatch != nullptr) napi_delete_reference(env, addon->dispatch);
  if (addon->ctor != nullptr) napi_delete_reference(env, addon->ctor);
  if (addon->async != nullptr) napi_async_destroy(env, addon->async);
  if (addon->bufferRef != nullptr) napi_delete_reference(env, addon->bufferRef);
  if (addon->resource != nullptr) napi_delete_reference(env, addon->resource);
  if (addon->watcher != nullptr) {
    addon->watcher->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(addon->watcher), OnWatcherClosed);
  }
  if (addon->epfd >= 0) close(addon->epfd);
  delete addon;
}

void SetInt(napi_env env, napi_value obj, const char* name, int v) {
  napi_set_named_property(env, obj, name, Int(env, v));
}

napi_value ModuleInit(napi_env env, napi_value exports) {
  Addon* addon = new Addon();
  addon->env = env;
  if (napi_set_instance_data(env, addon, FinalizeAddon, nullptr) != napi_ok) {
    delete addon;
    return ThrowStatus(env, napi_generic_failure);
  }
  napi_value resource, name;
  CHECK(napi_create_object(env, &resource));
  CHECK(napi_create_string_utf8(env, "ASYNCORE_NATIVE_SOCKET", NAPI_AUTO_LENGTH, &name));
  CHECK(napi_async_init(env, resource, name, &addon->async));
  CHECK(napi_create_reference(env, resource, 1, &addon->resource));

  napi_property_descriptor methods[] = {
      {"bind", nullptr, MBind, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"listen", nullptr, MListen, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"connect", nullptr, MConnect, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"accept", nullptr, MAccept, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"shutdown", nullptr, MShutdown, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"close", nullptr, MClose, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"detach", nullptr, MDetach, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"soError", nullptr, MSoError, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sockname", nullptr, MSockName, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"peername", nullptr, MPeerName, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setOption", nullptr, MSetOption, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"fd", nullptr, MFd, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_value ctor;
  CHECK(napi_define_class(env, "Handle", NAPI_AUTO_LENGTH, HandleNew, addon,
                          sizeof(methods) / sizeof(methods[0]), methods, &ctor));
  CHECK(napi_create_reference(env, ctor, 1, &addon->ctor));

  napi_value fn;
  CHECK(napi_create_function(env, "init", NAPI_AUTO_LENGTH, Init, addon, &fn));
  CHECK(napi_set_named_property(env, exports, "init", fn));
  CHECK(napi_create_function(env, "setReadBuffer", NAPI_AUTO_LENGTH, SetReadBuffer, addon, &fn));
  CHECK(napi_set_named_property(env, exports, "setReadBuffer", fn));
  CHECK(napi_create_function(env, "open", NAPI_AUTO_LENGTH, Open, addon, &fn));
  CHECK(napi_set_named_property(env, exports, "open", fn));
  CHECK(napi_create_function(env, "openCount", NAPI_AUTO_LENGTH, OpenCount, addon, &fn));
  CHECK(napi_set_named_property(env, exports, "openCount", fn));
  CHECK(napi_set_named_property(env, exports, "Handle", ctor));
  const struct {
    const char* name;
    napi_callback cb;
  } hot[] = {{"write", MWrite},       {"writev", MWritev}, {"sendto", MSendTo}, {"setInterest", MSetInterest},
             {"recv", MRecv},         {"recvInto", MRecvInto}, {"unread", MUnread}};
  for (const auto& h : hot) {
    CHECK(napi_create_function(env, h.name, NAPI_AUTO_LENGTH, h.cb, addon, &fn));
    CHECK(napi_set_named_property(env, exports, h.name, fn));
  }

  SetInt(env, exports, "AF_INET", AF_INET);
  SetInt(env, exports, "AF_INET6", AF_INET6);
  SetInt(env, exports, "AF_UNIX", AF_UNIX);
  SetInt(env, exports, "SOCK_STREAM", SOCK_STREAM);
  SetInt(env, exports, "SOCK_DGRAM", SOCK_DGRAM);
  SetInt(env, exports, "READABLE", UV_READABLE);
  SetInt(env, exports, "WRITABLE", UV_WRITABLE);
  SetInt(env, exports, "MIN_READ_SIZE", static_cast<int>(kMinReadSize));
  SetInt(env, exports, "EV_DATA", EV_DATA);
  SetInt(env, exports, "EV_EOF", EV_EOF);
  SetInt(env, exports, "EV_ERROR", EV_ERROR);
  SetInt(env, exports, "EV_WRITABLE", EV_WRITABLE);
  SetInt(env, exports, "EV_ACCEPT", EV_ACCEPT);
  SetInt(env, exports, "EV_MESSAGE", EV_MESSAGE);
  SetInt(env, exports, "EV_READABLE", EV_READABLE);
  SetInt(env, exports, "NOTIFY", kNotify);
  SetInt(env, exports, "EAGAIN", EAGAIN);
  SetInt(env, exports, "EINPROGRESS", EINPROGRESS);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, ModuleInit)
