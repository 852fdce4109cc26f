#include "CCrypt.h"
#include <crypt.h>
#include <stdlib.h>
#include <string.h>

// Whether `password` hashes to `hash` under crypt(3) (the scheme named by the hash: $6$ SHA-512, $5$, $y$ yescrypt,
// $1$ MD5, DES), as HAProxy's userlists check `password` entries. Thread-safe (crypt_r with its own state); the
// result is compared in constant time. 0 on any failure (an unknown scheme, no memory).
int tollgate_crypt_matches(const char *password, const char *hash) {
    struct crypt_data *data = calloc(1, sizeof(struct crypt_data));
    if (data == NULL) return 0;
    const char *computed = crypt_r(password, hash, data);
    int matches = 0;
    if (computed != NULL && computed[0] != '*') {
        size_t length = strlen(hash);
        if (strlen(computed) == length) {
            unsigned char difference = 0;
            for (size_t i = 0; i < length; i++) difference |= (unsigned char)(computed[i] ^ hash[i]);
            matches = difference == 0;
        }
    }
    explicit_bzero(data, sizeof(struct crypt_data));
    free(data);
    return matches;
}
// Whether crypt(3) knows the scheme of `hash` (it computes something for it rather than failing).
int tollgate_crypt_knows(const char *hash) {
    struct crypt_data *data = calloc(1, sizeof(struct crypt_data));
    if (data == NULL) return 0;
    const char *computed = crypt_r("", hash, data);
    int known = computed != NULL && computed[0] != '*';
    free(data);
    return known;
}
