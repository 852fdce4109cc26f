#ifndef TOLLGATE_CTLSCHECK_H
#define TOLLGATE_CTLSCHECK_H

// Whether BoringSSL (the one swift-nio-ssl links) takes `list` as a TLS 1.2 cipher list: at least one cipher it
// knows. swift-nio-ssl stops the process (a precondition) when handed a list BoringSSL refuses, and has no way to
// ask first, so the configuration is checked with the same BoringSSL function before any context is made.
int tollgate_cipher_list_accepted(const char *list);

#endif
