#ifndef TOLLGATE_CCRYPT_H
#define TOLLGATE_CCRYPT_H

// Whether `password` hashes to `hash` under crypt(3) (the scheme named by the hash: $6$ SHA-512, $5$, $y$ yescrypt,
// $1$ MD5, DES), as HAProxy's userlists check `password` entries. Thread-safe (crypt_r with its own state); the
// result is compared in constant time. 0 on any failure (an unknown scheme, no memory).
int tollgate_crypt_matches(const char *password, const char *hash);

// Whether crypt(3) knows the scheme of `hash` (it computes something for it rather than failing).
int tollgate_crypt_knows(const char *hash);

#endif
