#define _GNU_SOURCE
#include "CPlane.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

int plane_epoll_create(void) {
    int ep = epoll_create1(EPOLL_CLOEXEC);
    return ep < 0 ? -errno : ep;
}

static int control(int ep, int op, int fd, uint32_t events, uint64_t data) {
    struct epoll_event event;
    event.events = events;
    event.data.u64 = data;
    return epoll_ctl(ep, op, fd, &event) == 0 ? 0 : -errno;
}

int plane_epoll_add(int ep, int fd, uint32_t events, uint64_t data) {
    return control(ep, EPOLL_CTL_ADD, fd, events, data);
}

int plane_epoll_modify(int ep, int fd, uint32_t events, uint64_t data) {
    return control(ep, EPOLL_CTL_MOD, fd, events, data);
}

int plane_epoll_remove(int ep, int fd) {
    struct epoll_event event = {0};
    return epoll_ctl(ep, EPOLL_CTL_DEL, fd, &event) == 0 ? 0 : -errno;
}

int plane_epoll_wait(int ep, uint64_t *data, uint32_t *events, int max, int timeout_ms) {
    struct epoll_event list[256];
    if (max > 256) max = 256;
    int n = epoll_wait(ep, list, max, timeout_ms);
    if (n < 0) return errno == EINTR ? 0 : -errno;
    for (int i = 0; i < n; i++) {
        data[i] = list[i].data.u64;
        events[i] = list[i].events;
    }
    return n;
}

int plane_eventfd(void) {
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

void plane_wake(int fd) {
    uint64_t one = 1;
    ssize_t ignored = write(fd, &one, sizeof(one));
    (void)ignored;
}

void plane_drain(int fd) {
    uint64_t value;
    ssize_t ignored = read(fd, &value, sizeof(value));
    (void)ignored;
}

int plane_accept(int listener, void *address, uint32_t *length) {
    socklen_t size = *length;
    int fd = accept4(listener, (struct sockaddr *)address, &size, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return -errno;
    *length = size;
    return fd;
}

void plane_tune_accepted(int fd, int keepalive) {
    int on = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    if (keepalive) setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
}

int plane_connect(const void *address, uint32_t length, int keepalive, int *fd) {
    const struct sockaddr *sa = (const struct sockaddr *)address;
    int s = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s < 0) return -errno;
    plane_tune_accepted(s, keepalive);
    if (connect(s, sa, length) == 0) {
        *fd = s;
        return 0;
    }
    if (errno == EINPROGRESS) {
        *fd = s;
        return 1;
    }
    int saved = errno;
    close(s);
    return -saved;
}

int plane_socket_error(int fd) {
    int error = 0;
    socklen_t size = sizeof(error);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size) != 0) return -errno;
    return -error;
}

long plane_read(int fd, void *buffer, size_t length) {
    ssize_t n = read(fd, buffer, length);
    return n < 0 ? -errno : n;
}

long plane_send(int fd, const void *buffer, size_t length) {
    ssize_t n = send(fd, buffer, length, MSG_NOSIGNAL);
    return n < 0 ? -errno : n;
}

int plane_shutdown_output(int fd) { return shutdown(fd, SHUT_WR) == 0 ? 0 : -errno; }

void plane_close(int fd, int reset) {
    if (reset) {
        struct linger l = {1, 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    }
    close(fd);
}

int plane_address(int fd, int peer, void *address, uint32_t *length) {
    socklen_t size = *length;
    int r = peer ? getpeername(fd, (struct sockaddr *)address, &size)
                 : getsockname(fd, (struct sockaddr *)address, &size);
    if (r != 0) return -errno;
    *length = size;
    return 0;
}

void plane_silence(int fd) {
    int on = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &on, sizeof(on));
    if (setsockopt(fd, IPPROTO_TCP, TCP_REPAIR, &on, sizeof(on)) == 0) return;
    struct sockaddr_storage own;
    socklen_t size = sizeof(own);
    if (getsockname(fd, (struct sockaddr *)&own, &size) == 0) {
        if (own.ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &on, sizeof(on));
        else setsockopt(fd, IPPROTO_IP, IP_TTL, &on, sizeof(on));
    }
    struct linger l = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
}

#include <pthread.h>
void plane_name_thread(const char *name) { pthread_setname_np(pthread_self(), name); }
