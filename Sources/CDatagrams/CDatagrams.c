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
