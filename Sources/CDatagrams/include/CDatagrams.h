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

/// The calling thread's slot among the proxy's per-thread counter shards, 0 until one is given (Swift has no
/// thread-local storage of its own; a C one is read inline, where NIO's ThreadSpecificVariable costs a
/// pthread_getspecific, a cast and a retain on every counter update).
extern _Thread_local int tollgate_thread_slot;
static inline int tollgate_get_thread_slot(void) { return tollgate_thread_slot; }
static inline void tollgate_set_thread_slot(int slot) { tollgate_thread_slot = slot; }

#endif
