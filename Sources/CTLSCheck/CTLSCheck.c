#include "CTLSCheck.h"
#include <stddef.h>

// BoringSSL's own functions, under the prefix swift-nio-ssl builds it with (resolved when the program is linked
// with NIOSSL; a renamed symbol fails the link, never silently).
typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_method_st SSL_METHOD;
extern const SSL_METHOD *CNIOBoringSSL_TLS_method(void);
extern SSL_CTX *CNIOBoringSSL_SSL_CTX_new(const SSL_METHOD *method);
extern int CNIOBoringSSL_SSL_CTX_set_cipher_list(SSL_CTX *ctx, const char *str);
extern void CNIOBoringSSL_SSL_CTX_free(SSL_CTX *ctx);

int tollgate_cipher_list_accepted(const char *list) {
    SSL_CTX *ctx = CNIOBoringSSL_SSL_CTX_new(CNIOBoringSSL_TLS_method());
    if (ctx == NULL) return 0;
    int accepted = CNIOBoringSSL_SSL_CTX_set_cipher_list(ctx, list) == 1;
    CNIOBoringSSL_SSL_CTX_free(ctx);
    return accepted;
}
