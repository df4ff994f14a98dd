/*
 * meetzone's native data path, the hot part only: many UDP datagrams sent
 * with one sendmmsg(2), each carrying its own DSCP as IP_TOS ancillary data
 * (so one socket carries every media kind with exact marks and no
 * setsockopt per packet). The socket stays Node's (dgram, non-blocking);
 * only its descriptor comes here. A full send buffer drops what does not
 * fit (media is not buffered); an error on one datagram (an ICMP-refused
 * peer) skips that one and goes on.
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
#include <string.h>
#include <sys/socket.h>

#define MAX_BATCH 1024

static struct mmsghdr msgs[MAX_BATCH];
static struct iovec iovs[MAX_BATCH];
static struct sockaddr_in names[MAX_BATCH];
static char controls[MAX_BATCH][CMSG_SPACE(sizeof(int))];

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

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "sendBatch", NAPI_AUTO_LENGTH, send_batch, NULL, &fn);
  napi_set_named_property(env, exports, "sendBatch", fn);
  napi_value max;
  napi_create_int32(env, MAX_BATCH, &max);
  napi_set_named_property(env, exports, "maxBatch", max);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
