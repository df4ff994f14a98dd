/*
 * meetzone's native data path, the hot part only: a UDP port whose
 * datagrams come in by recvmmsg(2), up to RECV_BATCH per system call and
 * one JavaScript call per batch, and go out by sendmmsg(2), each with its
 * own DSCP as IP_TOS ancillary data (so one socket carries every media kind
 * with exact marks and no setsockopt per packet). A full send buffer drops
 * what does not fit (media is not buffered); an error on one datagram (an
 * ICMP-refused peer) skips that one and goes on.
 *
 *   open(address, port, bufferBytes) -> { fd, port }     a bound, non-blocking IPv4 socket
 *     address    IPv4 address, host byte order; port 0 takes a free one
 *     throws     an Error whose code is the errno name (EADDRINUSE, ...)
 *
 *   receive(fd, onBatch, lengths, addresses, ports) -> handle
 *     watches fd on Node's event loop; per readable event at most
 *     RECV_ROUNDS recvmmsg calls (fair to the rest of the loop), each
 *     calling onBatch(slab, count): the port's receive slab, datagram i at
 *     i × RECV_SLOT, lengths[i] its size (-1: it was larger than RECV_SLOT
 *     and is dropped), addresses/ports its sender. The kernel writes into
 *     the slab directly and the next batch reuses it: a datagram is valid
 *     only during the call (what is sent from it leaves by sendmmsg in the
 *     microtasks that run as the call returns).
 *
 *   close(handle)       stops watching and closes the descriptor, at once
 *
 *   sendBatch(fd, buffers, ports, addresses, tos, count) -> sent
 *     buffers    Array<Buffer>     the datagrams
 *     ports      Int32Array        destination ports
 *     addresses  Uint32Array       destination IPv4 addresses, host byte order
 *     tos        Int32Array        the TOS byte per datagram (DSCP << 2)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <node_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#define MAX_BATCH 1024

// Per thread: each worker thread has its own Node environment and event loop.
static __thread struct mmsghdr msgs[MAX_BATCH];
static __thread struct iovec iovs[MAX_BATCH];
static __thread struct sockaddr_in names[MAX_BATCH];
static __thread char controls[MAX_BATCH][CMSG_SPACE(sizeof(int))];

static napi_value fail(napi_env env, const char *message) {
  napi_throw_type_error(env, NULL, message);
  return NULL;
}

static void *typed_data(napi_env env, napi_value value, napi_typedarray_type want, size_t need) {
  bool is = false;
  napi_is_typedarray(env, value, &is);
  if (!is) return NULL;
  napi_typedarray_type type;
  size_t length;
  void *data;
  napi_value buffer;
  size_t offset;
  if (napi_get_typedarray_info(env, value, &type, &length, &data, &buffer, &offset) != napi_ok) return NULL;
  return type == want && length >= need ? data : NULL;
}

static napi_value send_batch(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 6) return fail(env, "sendBatch(fd, buffers, ports, addresses, tos, count)");
  int32_t fd, count;
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok || napi_get_value_int32(env, argv[5], &count) != napi_ok) return fail(env, "fd and count are numbers");
  if (count < 0 || count > MAX_BATCH) return fail(env, "count is 0..1024");
  int32_t *ports = typed_data(env, argv[2], napi_int32_array, (size_t)count);
  uint32_t *addresses = typed_data(env, argv[3], napi_uint32_array, (size_t)count);
  int32_t *tos = typed_data(env, argv[4], napi_int32_array, (size_t)count);
  if (ports == NULL || addresses == NULL || tos == NULL) return fail(env, "ports Int32Array, addresses Uint32Array, tos Int32Array, each at least count long");
  for (int32_t i = 0; i < count; i++) {
    napi_value element;
    void *data;
    size_t length;
    if (napi_get_element(env, argv[1], (uint32_t)i, &element) != napi_ok || napi_get_buffer_info(env, element, &data, &length) != napi_ok) return fail(env, "buffers holds a Buffer per datagram");
    iovs[i].iov_base = data;
    iovs[i].iov_len = length;
    memset(&names[i], 0, sizeof names[i]);
    names[i].sin_family = AF_INET;
    names[i].sin_port = htons((uint16_t)ports[i]);
    names[i].sin_addr.s_addr = htonl(addresses[i]);
    struct msghdr *h = &msgs[i].msg_hdr;
    memset(h, 0, sizeof *h);
    h->msg_name = &names[i];
    h->msg_namelen = sizeof names[i];
    h->msg_iov = &iovs[i];
    h->msg_iovlen = 1;
    h->msg_control = controls[i];
    h->msg_controllen = sizeof controls[i];
    struct cmsghdr *c = CMSG_FIRSTHDR(h);
    c->cmsg_level = IPPROTO_IP;
    c->cmsg_type = IP_TOS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    int value = tos[i];
    memcpy(CMSG_DATA(c), &value, sizeof value);
  }
  int32_t sent = 0, at = 0;
  while (at < count) {
    int r = sendmmsg(fd, msgs + at, (unsigned)(count - at), MSG_DONTWAIT);
    if (r > 0) {
      sent += r;
      at += r;
    } else if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) {
      break; // full: the rest is dropped
    } else {
      at++; // this one failed (e.g. refused): skip it
    }
  }
  napi_value result;
  napi_create_int32(env, sent, &result);
  return result;
}

/* --- the socket ----------------------------------------------------------------- */

static napi_value throw_errno(napi_env env, const char *what, int code) {
  char message[160];
  snprintf(message, sizeof message, "%s: %s", what, strerror(code));
  napi_value error, text, name;
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &text);
  const char *names[] = {[EADDRINUSE] = "EADDRINUSE", [EADDRNOTAVAIL] = "EADDRNOTAVAIL", [EACCES] = "EACCES", [EINVAL] = "EINVAL"};
  const char *n = code < (int)(sizeof names / sizeof names[0]) && names[code] != NULL ? names[code] : "ENATIVE";
  napi_create_string_utf8(env, n, NAPI_AUTO_LENGTH, &name);
  napi_create_error(env, name, text, &error);
  napi_throw(env, error);
  return NULL;
}

static napi_value open_port(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint32_t address;
  int32_t port, bytes;
  if (argc != 3 || napi_get_value_uint32(env, argv[0], &address) != napi_ok || napi_get_value_int32(env, argv[1], &port) != napi_ok ||
      napi_get_value_int32(env, argv[2], &bytes) != napi_ok || port < 0 || port > 65535)
    return fail(env, "open(address, port 0..65535, bufferBytes)");
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket", errno);
  // Bursts of video need room; capped by net.core.*mem_max, which is fine.
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes);
  struct sockaddr_in name = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(address)};
  socklen_t length = sizeof name;
  if (bind(fd, (struct sockaddr *)&name, sizeof name) != 0 || getsockname(fd, (struct sockaddr *)&name, &length) != 0) {
    int code = errno;
    close(fd);
    return throw_errno(env, "bind", code);
  }
  napi_value result, value;
  napi_create_object(env, &result);
  napi_create_int32(env, fd, &value);
  napi_set_named_property(env, result, "fd", value);
  napi_create_int32(env, ntohs(name.sin_port), &value);
  napi_set_named_property(env, result, "port", value);
  return result;
}

/* --- receiving ----------------------------------------------------------------------- */

#define RECV_BATCH 64
#define RECV_SLOT 2048
#define RECV_ROUNDS 16

typedef struct {
  napi_env env;
  napi_ref on_batch;
  napi_ref arrays[3];
  napi_async_context context;
  int32_t *lengths;
  uint32_t *addresses;
  int32_t *ports;
  uv_poll_t poll;
  int fd;
  int closed;
  struct mmsghdr msgs[RECV_BATCH];
  struct iovec iovs[RECV_BATCH];
  struct sockaddr_in names[RECV_BATCH];
  napi_ref slab_ref;
  char *slab;
} receiver_t;

static void on_readable(uv_poll_t *poll, int status, int events) {
  receiver_t *r = poll->data;
  if (status < 0 || r->closed) return;
  napi_env env = r->env;
  for (int round = 0; round < RECV_ROUNDS && !r->closed; round++) {
    struct mmsghdr *rmsgs = r->msgs;
    struct sockaddr_in *rnames = r->names;
    for (int i = 0; i < RECV_BATCH; i++) {
      r->iovs[i].iov_base = r->slab + (size_t)i * RECV_SLOT;
      r->iovs[i].iov_len = RECV_SLOT;
      memset(&rmsgs[i].msg_hdr, 0, sizeof rmsgs[i].msg_hdr);
      rmsgs[i].msg_hdr.msg_name = &rnames[i];
      rmsgs[i].msg_hdr.msg_namelen = sizeof rnames[i];
      rmsgs[i].msg_hdr.msg_iov = &r->iovs[i];
      rmsgs[i].msg_hdr.msg_iovlen = 1;
    }
    int n = recvmmsg(r->fd, rmsgs, RECV_BATCH, MSG_DONTWAIT, NULL);
    if (n <= 0) {
      // EAGAIN: drained. Anything else (an ICMP error queued on the socket) is consumed by this call: go on.
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) continue;
      break;
    }
    for (int i = 0; i < n; i++) {
      r->lengths[i] = (rmsgs[i].msg_hdr.msg_flags & MSG_TRUNC) != 0 ? -1 : (int32_t)rmsgs[i].msg_len;
      r->addresses[i] = ntohl(rnames[i].sin_addr.s_addr);
      r->ports[i] = ntohs(rnames[i].sin_port);
    }
    napi_handle_scope scope;
    napi_open_handle_scope(env, &scope);
    napi_value buffer, count, callback, global, ignored;
    napi_get_reference_value(env, r->slab_ref, &buffer);
    napi_create_int32(env, n, &count);
    napi_get_reference_value(env, r->on_batch, &callback);
    napi_get_global(env, &global);
    napi_value args[2] = {buffer, count};
    // make_callback: Node's callback scope, so promises and nextTicks (the batched sends) run when it returns.
    napi_status called = napi_make_callback(env, r->context, global, callback, 2, args, &ignored);
    napi_close_handle_scope(env, scope);
    if (called == napi_pending_exception) {
      napi_value error;
      napi_get_and_clear_last_exception(env, &error);
      napi_fatal_exception(env, error);
      return;
    }
    if (n < RECV_BATCH) break;
  }
}

static void on_closed(uv_handle_t *handle) {
  receiver_t *r = handle->data;
  free(r);
}

static void release(napi_env env, receiver_t *r) {
  napi_delete_reference(env, r->on_batch);
  napi_delete_reference(env, r->slab_ref);
  for (int i = 0; i < 3; i++) napi_delete_reference(env, r->arrays[i]);
  napi_async_destroy(env, r->context);
}

static napi_value receive(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd;
  napi_valuetype type;
  if (argc != 5 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || napi_typeof(env, argv[1], &type) != napi_ok || type != napi_function)
    return fail(env, "receive(fd, onBatch, lengths, addresses, ports)");
  int32_t *lengths = typed_data(env, argv[2], napi_int32_array, RECV_BATCH);
  uint32_t *addresses = typed_data(env, argv[3], napi_uint32_array, RECV_BATCH);
  int32_t *ports = typed_data(env, argv[4], napi_int32_array, RECV_BATCH);
  if (lengths == NULL || addresses == NULL || ports == NULL) return fail(env, "lengths Int32Array, addresses Uint32Array, ports Int32Array, each at least recvBatch long");
  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return fail(env, "no event loop");
  receiver_t *r = calloc(1, sizeof *r);
  if (r == NULL) return throw_errno(env, "receive", ENOMEM);
  r->env = env;
  r->fd = fd;
  r->lengths = lengths;
  r->addresses = addresses;
  r->ports = ports;
  napi_create_reference(env, argv[1], 1, &r->on_batch);
  napi_value slab;
  void *slab_data;
  napi_create_buffer(env, (size_t)RECV_BATCH * RECV_SLOT, &slab_data, &slab);
  r->slab = slab_data;
  napi_create_reference(env, slab, 1, &r->slab_ref);
  for (int i = 0; i < 3; i++) napi_create_reference(env, argv[2 + i], 1, &r->arrays[i]);
  napi_value name;
  napi_create_string_utf8(env, "meetzone:udp", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, NULL, name, &r->context);
  if (uv_poll_init(loop, &r->poll, fd) != 0) {
    release(env, r);
    free(r);
    return throw_errno(env, "poll", EINVAL);
  }
  r->poll.data = r;
  uv_poll_start(&r->poll, UV_READABLE, on_readable);
  napi_value handle;
  napi_create_external(env, r, NULL, NULL, &handle);
  return handle;
}

static napi_value close_port(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  void *data = NULL;
  if (argc != 1 || napi_get_value_external(env, argv[0], &data) != napi_ok || data == NULL) return fail(env, "close(handle)");
  receiver_t *r = data;
  if (r->closed) return NULL;
  r->closed = 1;
  release(env, r);
  // uv_close takes the descriptor out of the loop's poll set now; after that it can be closed (and its number reused).
  uv_close((uv_handle_t *)&r->poll, on_closed);
  close(r->fd);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "sendBatch", NAPI_AUTO_LENGTH, send_batch, NULL, &fn);
  napi_set_named_property(env, exports, "sendBatch", fn);
  napi_create_function(env, "open", NAPI_AUTO_LENGTH, open_port, NULL, &fn);
  napi_set_named_property(env, exports, "open", fn);
  napi_create_function(env, "receive", NAPI_AUTO_LENGTH, receive, NULL, &fn);
  napi_set_named_property(env, exports, "receive", fn);
  napi_create_function(env, "close", NAPI_AUTO_LENGTH, close_port, NULL, &fn);
  napi_set_named_property(env, exports, "close", fn);
  napi_value batch;
  napi_create_int32(env, RECV_BATCH, &batch);
  napi_set_named_property(env, exports, "recvBatch", batch);
  napi_create_int32(env, RECV_SLOT, &batch);
  napi_set_named_property(env, exports, "recvSlot", batch);
  napi_value max;
  napi_create_int32(env, MAX_BATCH, &max);
  napi_set_named_property(env, exports, "maxBatch", max);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
