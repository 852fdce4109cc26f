#ifndef TOLLGATE_CDATAGRAMS_H
#define TOLLGATE_CDATAGRAMS_H

#include <sys/uio.h>
#include <spawn.h>

/// The most datagrams one call sends.
#define TOLLGATE_DATAGRAMS_PER_CALL 64

/// Sends up to TOLLGATE_DATAGRAMS_PER_CALL datagrams, the i-th made of iov[i], on the connected socket fd: one
/// sendmmsg(2) on Linux (Swift's Glibc module does not declare it), one send(2) each elsewhere. Returns how many
/// were sent from the first on, or -1 with errno set when the first could not be.
int tollgate_send_datagrams(int fd, const struct iovec *iov, unsigned int count, int flags);

/// Sets the level of the kernel's console messages (klogctl(SYSLOG_ACTION_CONSOLE_LEVEL), as imklog's
/// ConsoleLogLevel does; Swift's Glibc module does not declare klogctl). Returns 0, or -1 with errno set.
int tollgate_console_log_level(int level);

/// Adds "close every descriptor from `lowfd` up" to a posix_spawn file-actions list (glibc's
/// posix_spawn_file_actions_addclosefrom_np, which Swift's Glibc module does not declare): a program the sink starts
/// inherits only what it is given. Returns 0, or an error number.
int tollgate_spawn_close_from(posix_spawn_file_actions_t *actions, int lowfd);

/// A listening TCP socket on `host` (numeric or a name; NULL: every address) and `port`, as the proxy's binds want
/// it: SO_REUSEADDR and SO_REUSEPORT on (a new process binds beside the old one), IPV6_V6ONLY set or cleared when
/// `v6only` is 1 or 0 (-1: the system's default), non-blocking, listening with `backlog`. Returns the descriptor,
/// or -1 with errno set (the address did not resolve: EADDRNOTAVAIL).
int tollgate_tcp_listener(const char *host, int port, int v6only, int backlog);

/// The same, bound to the network interface `interface` (SO_BINDTODEVICE, HAProxy's `bind … interface NAME`;
/// NULL: any), and with `transparent` set, allowed to bind an address that is not the host's (IP_TRANSPARENT or
/// IPV6_TRANSPARENT, HAProxy's `bind … transparent`; needs CAP_NET_ADMIN). Returns -1 with errno set (ENODEV for
/// an unknown interface, EPERM when the socket cannot be made transparent).
int tollgate_tcp_listener_on(const char *host, int port, int v6only, int backlog, const char *interface,
                             int transparent);

/// Sends `count` descriptors (SCM_RIGHTS, at most 253) with `length` bytes of `data` on the UNIX stream socket
/// `sock`, in one sendmsg(2). Returns the bytes sent, or -1 with errno set.
long tollgate_send_fds(int sock, const int *fds, int count, const void *data, unsigned long length);

/// Receives up to `max` descriptors (SCM_RIGHTS) and up to `capacity` bytes into `data` from `sock`, in one
/// recvmsg(2); `*received` gets the number of descriptors. Returns the bytes read (0 at the end), or -1 with errno.
long tollgate_recv_fds(int sock, int *fds, int max, int *received, void *data, unsigned long capacity);

/// The numeric address (into `ip`, `length` bytes) and port a socket is bound to. Returns 0, or -1 with errno set.
int tollgate_socket_name(int fd, char *ip, unsigned long length, int *port);

/// The calling thread's slot among the proxy's per-thread counter shards, 0 until one is given (Swift has no
/// thread-local storage of its own; a C one is read inline, where NIO's ThreadSpecificVariable costs a
/// pthread_getspecific, a cast and a retain on every counter update).
extern _Thread_local int tollgate_thread_slot;
static inline int tollgate_get_thread_slot(void) { return tollgate_thread_slot; }
static inline void tollgate_set_thread_slot(int slot) { tollgate_thread_slot = slot; }

#endif
