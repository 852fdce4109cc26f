#ifndef TOLLGATE_CPLANE_H
#define TOLLGATE_CPLANE_H

// The system calls of the proxy's TCP data plane (Sources/TCPPlane), in plain C types: epoll without its packed
// event structure (Swift imports it badly on x86-64), eventfd, accept4, non-blocking connect, and read/write/
// shutdown returning -errno instead of setting errno (no thread-local read in Swift on the hot path).

#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>

static const uint32_t PLANE_IN = 0x001;            // EPOLLIN
static const uint32_t PLANE_OUT = 0x004;           // EPOLLOUT
static const uint32_t PLANE_ERR = 0x008;           // EPOLLERR
static const uint32_t PLANE_HUP = 0x010;           // EPOLLHUP
static const uint32_t PLANE_RDHUP = 0x2000;        // EPOLLRDHUP
static const uint32_t PLANE_EXCLUSIVE = 1u << 28;  // EPOLLEXCLUSIVE
static const uint32_t PLANE_ET = 1u << 31;         // EPOLLET

static const long PLANE_EAGAIN = 11;
static const long PLANE_EINTR = 4;

/// A new epoll instance (close-on-exec), or -errno.
int plane_epoll_create(void);
/// EPOLL_CTL_ADD / MOD of `fd` with `events` and `data`; 0 or -errno.
int plane_epoll_add(int ep, int fd, uint32_t events, uint64_t data);
int plane_epoll_modify(int ep, int fd, uint32_t events, uint64_t data);
/// EPOLL_CTL_DEL; 0 or -errno.
int plane_epoll_remove(int ep, int fd);
/// Waits up to `timeout_ms` (-1: no end) for at most `max` events, written as `data[i]`, `events[i]`. Returns the
/// count, 0 on a timeout or an interrupted wait, or -errno.
int plane_epoll_wait(int ep, uint64_t *data, uint32_t *events, int max, int timeout_ms);

/// A non-blocking, close-on-exec eventfd, or -errno; `plane_wake` adds 1 to it, `plane_drain` reads it back to 0.
int plane_eventfd(void);
void plane_wake(int fd);
void plane_drain(int fd);

/// accept4(SOCK_NONBLOCK | SOCK_CLOEXEC); the peer's address into `address` (`*length` in: its size, out: the
/// address's). Returns the descriptor or -errno (-EAGAIN when none waits).
int plane_accept(int listener, void *address, uint32_t *length);

/// A non-blocking, close-on-exec TCP socket for `address`'s family, TCP_NODELAY set (and SO_KEEPALIVE when
/// `keepalive`), connecting to `address`. `*fd` gets the descriptor when one was made. Returns 0 (connected),
/// 1 (in progress: writable when done) or -errno (nothing left open).
int plane_connect(const void *address, uint32_t length, int keepalive, int *fd);
/// The pending error of a socket (SO_ERROR) as -errno, 0 for none.
int plane_socket_error(int fd);
/// TCP_NODELAY (and SO_KEEPALIVE when `keepalive`) on an accepted socket.
void plane_tune_accepted(int fd, int keepalive);

/// read(2) / write(2) as a count or -errno; `plane_send` never raises SIGPIPE.
long plane_read(int fd, void *buffer, size_t length);
long plane_send(int fd, const void *buffer, size_t length);
/// shutdown(SHUT_WR); 0 or -errno.
int plane_shutdown_output(int fd);
/// Closes `fd`; with `reset`, first SO_LINGER 0 (the close sends a reset, as HAProxy's on an aborted side).
void plane_close(int fd, int reset);
/// The socket's own (`peer` 0) or far address into `address`; 0 or -errno.
int plane_address(int fd, int peer, void *address, uint32_t *length);
/// HAProxy's silent-drop before the close: TCP_QUICKACK, then TCP_REPAIR (a close that sends nothing; needs
/// CAP_NET_ADMIN), else a TTL/hop limit of 1 and SO_LINGER 0.
void plane_silence(int fd);

/// Names the calling thread (at most 15 bytes), as `top -H` and `ps -L` show it.
void plane_name_thread(const char *name);

#endif
