/*
 * The reference relay for bench/sfu.ts: what a forwarder in C with batched
 * system calls does on this machine. One UDP socket; recvmmsg takes up to 64
 * datagrams at once, each is sent to every receiver of its kind (RTP payload
 * type 111 audio, else video) with one sendmmsg per batch. No tokens, no
 * counters per stream, no SRTP: the ceiling an MMR is measured against.
 *
 *   relay AUDIO_PORTS VIDEO_PORTS     (comma-separated loopback ports)
 *   prints "port N" once listening; on SIGTERM prints "forwarded N" and exits.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH 64
#define MAX_DEST 4096
#define MTU 1500

static volatile sig_atomic_t stopping = 0;
static void on_term(int sig) { (void)sig; stopping = 1; }

static int parse_ports(const char *text, struct sockaddr_in *out) {
  int n = 0;
  char *copy = strdup(text), *save = NULL;
  for (char *tok = strtok_r(copy, ",", &save); tok != NULL && n < MAX_DEST; tok = strtok_r(NULL, ",", &save)) {
    memset(&out[n], 0, sizeof out[n]);
    out[n].sin_family = AF_INET;
    out[n].sin_port = htons((unsigned short)atoi(tok));
    out[n].sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    n++;
  }
  free(copy);
  return n;
}

static struct sockaddr_in audio[MAX_DEST], video[MAX_DEST];
static unsigned char buffers[BATCH][MTU];
static struct mmsghdr in[BATCH];
static struct iovec in_iov[BATCH];
static struct mmsghdr out[BATCH * 16];
static struct iovec out_iov[BATCH * 16];

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: relay AUDIO_PORTS VIDEO_PORTS\n");
    return 2;
  }
  int audio_n = parse_ports(argv[1], audio), video_n = parse_ports(argv[2], video);
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  int size = 8 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  struct sockaddr_in self = {.sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (bind(fd, (struct sockaddr *)&self, sizeof self) != 0) {
    perror("bind");
    return 1;
  }
  socklen_t len = sizeof self;
  getsockname(fd, (struct sockaddr *)&self, &len);
  struct sigaction sa = {.sa_handler = on_term};
  sigaction(SIGTERM, &sa, NULL);
  // A receive wakes up at least every 100 ms, so that SIGTERM is seen promptly.
  struct timeval tv = {.tv_sec = 0, .tv_usec = 100000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  printf("port %d\n", ntohs(self.sin_port));
  fflush(stdout);

  for (int i = 0; i < BATCH; i++) {
    in_iov[i].iov_base = buffers[i];
    in_iov[i].iov_len = MTU;
    in[i].msg_hdr.msg_iov = &in_iov[i];
    in[i].msg_hdr.msg_iovlen = 1;
  }
  unsigned long long forwarded = 0, dropped = 0;
  while (!stopping) {
    int got = recvmmsg(fd, in, BATCH, MSG_WAITFORONE, NULL);
    if (got <= 0) continue;
    int queued = 0;
    for (int i = 0; i < got; i++) {
      unsigned len_i = in[i].msg_len;
      if (len_i < 12) continue;
      int is_audio = (buffers[i][1] & 0x7f) == 111;
      struct sockaddr_in *dests = is_audio ? audio : video;
      int n = is_audio ? audio_n : video_n;
      for (int d = 0; d < n; d++) {
        if (queued == BATCH * 16) {
          int sent = sendmmsg(fd, out, queued, 0);
          forwarded += sent > 0 ? (unsigned)sent : 0;
          dropped += sent > 0 ? (unsigned)(queued - sent) : (unsigned)queued;
          queued = 0;
        }
        out_iov[queued].iov_base = buffers[i];
        out_iov[queued].iov_len = len_i;
        memset(&out[queued].msg_hdr, 0, sizeof out[queued].msg_hdr);
        out[queued].msg_hdr.msg_name = &dests[d];
        out[queued].msg_hdr.msg_namelen = sizeof dests[d];
        out[queued].msg_hdr.msg_iov = &out_iov[queued];
        out[queued].msg_hdr.msg_iovlen = 1;
        queued++;
      }
    }
    if (queued > 0) {
      int sent = sendmmsg(fd, out, queued, 0);
      forwarded += sent > 0 ? (unsigned)sent : 0;
      dropped += sent > 0 ? (unsigned)(queued - sent) : (unsigned)queued;
    }
  }
  printf("forwarded %llu dropped %llu\n", forwarded, dropped);
  return 0;
}
