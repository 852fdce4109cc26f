#define _GNU_SOURCE
#include <string.h>
#include <sys/socket.h>
#include <spawn.h>
#include "CDatagrams.h"

int tollgate_send_datagrams(int fd, const struct iovec *iov, unsigned int count, int flags) {
    if (count > TOLLGATE_DATAGRAMS_PER_CALL) count = TOLLGATE_DATAGRAMS_PER_CALL;
#ifdef __linux__
    struct mmsghdr messages[TOLLGATE_DATAGRAMS_PER_CALL];
    memset(messages, 0, sizeof(struct mmsghdr) * count);
    for (unsigned int i = 0; i < count; i++) {
        messages[i].msg_hdr.msg_iov = (struct iovec *)&iov[i];
        messages[i].msg_hdr.msg_iovlen = 1;
    }
    return sendmmsg(fd, messages, count, flags);
#else
    unsigned int sent = 0;
    for (; sent < count; sent++) {
        if (send(fd, iov[sent].iov_base, iov[sent].iov_len, flags) < 0) return sent == 0 ? -1 : (int)sent;
    }
    return (int)sent;
#endif
}

#if defined(__linux__)
#include <sys/klog.h>
int tollgate_console_log_level(int level) { return klogctl(8, NULL, level); }
#else
#include <errno.h>
int tollgate_console_log_level(int level) {
    (void)level;
    errno = ENOSYS;
    return -1;
}
#endif

int tollgate_spawn_close_from(posix_spawn_file_actions_t *actions, int lowfd) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    return posix_spawn_file_actions_addclosefrom_np(actions, lowfd);
#else
    (void)actions;
    (void)lowfd;
    return 0;
#endif
}

_Thread_local int tollgate_thread_slot = 0;

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <unistd.h>

int tollgate_tcp_listener(const char *host, int port, int v6only, int backlog) {
    return tollgate_tcp_listener_on(host, port, v6only, backlog, NULL, 0);
}

int tollgate_tcp_listener_on(const char *host, int port, int v6only, int backlog, const char *interface,
                             int transparent) {
    struct addrinfo hints, *list = NULL;
    char service[16];
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(service, sizeof(service), "%d", port);
    if (getaddrinfo(host, service, &hints, &list) != 0 || list == NULL) {
        errno = EADDRNOTAVAIL;
        return -1;
    }
    int fd = socket(list->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        freeaddrinfo(list);
        return -1;
    }
    int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on));
    if (list->ai_family == AF_INET6 && v6only >= 0) {
        int value = v6only;
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &value, sizeof(value));
    }
    if (interface != NULL
        && setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, interface, (socklen_t)strlen(interface) + 1) != 0) {
        int saved = errno;
        close(fd);
        freeaddrinfo(list);
        errno = saved;
        return -1;
    }
    if (transparent
        && (list->ai_family == AF_INET6 ? setsockopt(fd, SOL_IPV6, IPV6_TRANSPARENT, &on, sizeof(on))
                                         : setsockopt(fd, SOL_IP, IP_TRANSPARENT, &on, sizeof(on)))
               != 0) {
        int saved = errno;
        close(fd);
        freeaddrinfo(list);
        errno = saved;
        return -1;
    }
    if (bind(fd, list->ai_addr, list->ai_addrlen) != 0 || listen(fd, backlog) != 0) {
        int saved = errno;
        close(fd);
        freeaddrinfo(list);
        errno = saved;
        return -1;
    }
    freeaddrinfo(list);
    return fd;
}

#define TOLLGATE_MAX_FDS 253

long tollgate_send_fds(int sock, const int *fds, int count, const void *data, unsigned long length) {
    if (count < 0 || count > TOLLGATE_MAX_FDS) {
        errno = EINVAL;
        return -1;
    }
    char control[CMSG_SPACE(sizeof(int) * TOLLGATE_MAX_FDS)];
    memset(control, 0, sizeof(control));
    struct iovec iov = { .iov_base = (void *)data, .iov_len = length };
    struct msghdr msg;
    memset(&msg, 0, sizeof(msg));
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (count > 0) {
        msg.msg_control = control;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * count);
        struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(sizeof(int) * count);
        memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * count);
    }
    ssize_t sent;
    do {
        sent = sendmsg(sock, &msg, MSG_NOSIGNAL);
    } while (sent < 0 && errno == EINTR);
    return (long)sent;
}

long tollgate_recv_fds(int sock, int *fds, int max, int *received, void *data, unsigned long capacity) {
    char control[CMSG_SPACE(sizeof(int) * TOLLGATE_MAX_FDS)];
    struct iovec iov = { .iov_base = data, .iov_len = capacity };
    struct msghdr msg;
    memset(&msg, 0, sizeof(msg));
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    *received = 0;
    ssize_t got;
    do {
        got = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    } while (got < 0 && errno == EINTR);
    if (got < 0) return -1;
    for (struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg); cmsg != NULL; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
        if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS) continue;
        int n = (int)((cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        const int *given = (const int *)CMSG_DATA(cmsg);
        for (int i = 0; i < n; i++) {
            if (*received < max) {
                fds[(*received)++] = given[i];
            } else {
                close(given[i]);
            }
        }
    }
    return (long)got;
}

int tollgate_socket_name(int fd, char *ip, unsigned long length, int *port) {
    struct sockaddr_storage address;
    socklen_t size = sizeof(address);
    if (getsockname(fd, (struct sockaddr *)&address, &size) != 0) return -1;
    if (address.ss_family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&address;
        if (inet_ntop(AF_INET, &in->sin_addr, ip, (socklen_t)length) == NULL) return -1;
        *port = ntohs(in->sin_port);
        return 0;
    }
    if (address.ss_family == AF_INET6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&address;
        if (inet_ntop(AF_INET6, &in6->sin6_addr, ip, (socklen_t)length) == NULL) return -1;
        *port = ntohs(in6->sin6_port);
        return 0;
    }
    errno = EAFNOSUPPORT;
    return -1;
}
