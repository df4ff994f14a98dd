/*
 * The load side of bench/sfu.ts and bench/capacity.ts, in C so that it is
 * not what limits the measurement: one sender participant (an audio and a
 * video socket) and N receiver participants (an audio and a video socket
 * each), all on loopback. The sender paces mixed RTP — audio 172 B, video
 * 1,212 B, each at its own packets/s — with sendmmsg every millisecond; a
 * second thread drains every receiver socket with recvmmsg and counts what
 * each one was delivered.
 *
 *   load FANOUT AUDIO_PPS VIDEO_PPS SECONDS AUDIO_SSRC VIDEO_SSRC
 *   prints  "ports SA SV RA1 RV1 RA2 RV2 …"  once its sockets are bound
 *   reads   "target PORT"                     where to send (the relay under test)
 *           "bind INDEX HEX"                  optional: a STUN binding request to send
 *                                             from socket INDEX (0 SA, 1 SV, 2 RA1, …)
 *                                             before the flood, answered before it starts
 *           "go"
 *   prints  "result SENT_AUDIO SENT_VIDEO R_A1 R_V1 R_A2 R_V2 …" at the end
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64

static int fanout, nsockets;
static int *fds;
static unsigned long long *received;
static atomic_int running = 1;

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static int open_socket(void) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  int size = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    perror("bind");
    exit(1);
  }
  return fd;
}

static int port_of(int fd) {
  struct sockaddr_in a;
  socklen_t len = sizeof a;
  getsockname(fd, (struct sockaddr *)&a, &len);
  return ntohs(a.sin_port);
}

static void *drain(void *arg) {
  (void)arg;
  int ep = epoll_create1(0);
  for (int i = 2; i < nsockets; i++) {
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (unsigned)i};
    epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev);
  }
  static unsigned char buf[BATCH][1500];
  struct mmsghdr msgs[BATCH];
  struct iovec iov[BATCH];
  for (int i = 0; i < BATCH; i++) {
    iov[i].iov_base = buf[i];
    iov[i].iov_len = sizeof buf[i];
    memset(&msgs[i], 0, sizeof msgs[i]);
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  struct epoll_event events[256];
  while (atomic_load(&running)) {
    int n = epoll_wait(ep, events, 256, 50);
    for (int e = 0; e < n; e++) {
      int i = (int)events[e].data.u32;
      for (;;) {
        int got = recvmmsg(fds[i], msgs, BATCH, MSG_DONTWAIT, NULL);
        if (got <= 0) break;
        // Only RTP counts as delivered (keepalives and STUN from the relay do not).
        for (int m = 0; m < got; m++) if (msgs[m].msg_len >= 12 && (buf[m][0] & 0xc0) == 0x80 && !(buf[m][1] >= 200 && buf[m][1] <= 206)) received[i]++;
      }
    }
  }
  return NULL;
}

static int hexval(char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; }

int main(int argc, char **argv) {
  if (argc != 7) {
    fprintf(stderr, "usage: load FANOUT AUDIO_PPS VIDEO_PPS SECONDS AUDIO_SSRC VIDEO_SSRC\n");
    return 2;
  }
  fanout = atoi(argv[1]);
  double pps[2] = {atof(argv[2]), atof(argv[3])};
  double seconds = atof(argv[4]);
  unsigned ssrc[2] = {(unsigned)strtoul(argv[5], NULL, 10), (unsigned)strtoul(argv[6], NULL, 10)};
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  nsockets = 2 + 2 * fanout;
  fds = calloc((size_t)nsockets, sizeof *fds);
  received = calloc((size_t)nsockets, sizeof *received);
  printf("ports");
  for (int i = 0; i < nsockets; i++) {
    fds[i] = open_socket();
    printf(" %d", port_of(fds[i]));
  }
  printf("\n");
  fflush(stdout);

  struct sockaddr_in target = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  static char line[8192];
  static unsigned char stun[1024];
  int bound_waiting = 0;
  int *waiting = calloc((size_t)nsockets, sizeof *waiting);
  while (fgets(line, sizeof line, stdin) != NULL) {
    if (strncmp(line, "target ", 7) == 0) target.sin_port = htons((unsigned short)atoi(line + 7));
    else if (strncmp(line, "bind ", 5) == 0) {
      char *p = line + 5;
      int index = (int)strtol(p, &p, 10);
      while (*p == ' ') p++;
      size_t n = 0;
      while (p[0] && p[1] && p[0] != '\n' && n < sizeof stun) {
        stun[n++] = (unsigned char)(hexval(p[0]) << 4 | hexval(p[1]));
        p += 2;
      }
      // Sent up to 5 times, 200 ms apart, until answered.
      int answered = 0;
      for (int attempt = 0; attempt < 5 && !answered; attempt++) {
        sendto(fds[index], stun, n, 0, (struct sockaddr *)&target, sizeof target);
        struct pollfd pfd = {.fd = fds[index], .events = POLLIN};
        while (poll(&pfd, 1, 200) > 0) {
          unsigned char reply[1500];
          ssize_t got = recv(fds[index], reply, sizeof reply, 0);
          if (got >= 20 && reply[0] == 0x01 && reply[1] == 0x01) {
            answered = 1;
            break;
          }
        }
      }
      if (!answered) {
        fprintf(stderr, "load: socket %d: no binding answer\n", index);
        return 1;
      }
      waiting[index] = 1;
      bound_waiting++;
    } else if (strncmp(line, "go", 2) == 0) break;
  }

  pthread_t drainer;
  pthread_create(&drainer, NULL, drain, NULL);

  // Packets made beforehand: the flood's cost is the sending only.
  static unsigned char packet[2][BATCH][1212];
  size_t size[2] = {172, 1212};
  struct mmsghdr msgs[BATCH];
  struct iovec iov[BATCH];
  unsigned long long sent[2] = {0, 0};
  unsigned short seq[2] = {0, 0};
  double start = now_s(), end = start + seconds;
  double next_tick = start;
  while (now_s() < end) {
    double t = now_s() - start;
    for (int k = 0; k < 2; k++) {
      // Paced: as many as the rate says by now, at most a batch at once.
      long long due = (long long)(t * pps[k]) - (long long)sent[k];
      while (due > 0) {
        int n = due > BATCH ? BATCH : (int)due;
        for (int m = 0; m < n; m++) {
          unsigned char *p = packet[k][m];
          memset(p, 0, 12);
          p[0] = 0x80;
          p[1] = k == 0 ? 111 : 96;
          p[2] = (unsigned char)(seq[k] >> 8);
          p[3] = (unsigned char)seq[k];
          unsigned ts = (unsigned)(seq[k]) * (k == 0 ? 960u : 3000u);
          p[4] = (unsigned char)(ts >> 24); p[5] = (unsigned char)(ts >> 16); p[6] = (unsigned char)(ts >> 8); p[7] = (unsigned char)ts;
          p[8] = (unsigned char)(ssrc[k] >> 24); p[9] = (unsigned char)(ssrc[k] >> 16); p[10] = (unsigned char)(ssrc[k] >> 8); p[11] = (unsigned char)ssrc[k];
          seq[k]++;
          iov[m].iov_base = p;
          iov[m].iov_len = size[k];
          memset(&msgs[m], 0, sizeof msgs[m]);
          msgs[m].msg_hdr.msg_name = &target;
          msgs[m].msg_hdr.msg_namelen = sizeof target;
          msgs[m].msg_hdr.msg_iov = &iov[m];
          msgs[m].msg_hdr.msg_iovlen = 1;
        }
        int done = sendmmsg(fds[k], msgs, n, 0);
        if (done <= 0) break;
        sent[k] += (unsigned)done;
        due -= done;
      }
    }
    next_tick += 0.001;
    double wait = next_tick - now_s();
    if (wait > 0) {
      struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)(wait * 1e9)};
      nanosleep(&ts, NULL);
    }
  }
  // What is in flight arrives, then the count stops.
  usleep(300000);
  atomic_store(&running, 0);
  pthread_join(drainer, NULL);
  printf("result %llu %llu", sent[0], sent[1]);
  for (int i = 2; i < nsockets; i++) printf(" %llu", received[i]);
  printf("\n");
  (void)bound_waiting;
  free(waiting);
  return 0;
}
