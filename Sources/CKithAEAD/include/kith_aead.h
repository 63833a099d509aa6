#ifndef KITH_AEAD_H
#define KITH_AEAD_H

#include <stddef.h>
#include <stdint.h>

/* The AEADs of Noise's transport (ChaCha20-Poly1305 as in RFC 8439, AES-256-GCM) through
 * OpenSSL's libcrypto, whose assembly is more than twice as fast as libsodium's on large
 * messages on this machine kind (AVX-512). The bytes are the same either way; KithCrypto's
 * NoiseCipher picks the implementation by message size. */

enum { KITH_AEAD_CHACHA20_POLY1305 = 0, KITH_AEAD_AES256_GCM = 1 };

/* Seals `in` (inlen bytes) into `out`: inlen bytes of ciphertext, then the 16-byte tag.
 * `out` may be `in`. Returns 0, or -1 on failure (nothing usable in `out`), or -2 when
 * libcrypto lacks the cipher (the caller uses another implementation). */
int kith_aead_seal(int cipher, const uint8_t key[32], const uint8_t nonce[12],
                   const uint8_t *ad, size_t adlen, const uint8_t *in, size_t inlen, uint8_t *out);

/* Opens `in` (inlen bytes: ciphertext, then the 16-byte tag) into `out` (inlen - 16 bytes).
 * Returns 0 when the tag verifies; -1 otherwise, with `out` zeroed; -2 as for seal. */
int kith_aead_open(int cipher, const uint8_t key[32], const uint8_t nonce[12],
                   const uint8_t *ad, size_t adlen, const uint8_t *in, size_t inlen, uint8_t *out);

/* Poly1305 (RFC 8439 §2.5) through libcrypto, fed piece by piece: a chunk tag of a file push
 * (spec §File transfer, Chunk proofs), about four times libsodium's speed here. `start` returns
 * NULL when libcrypto lacks it (the caller uses libsodium); `finish` writes the 16-byte tag and
 * frees the state, as `discard` does without a tag. */
void *kith_poly1305_start(const uint8_t key[32]);
int kith_poly1305_update(void *state, const uint8_t *in, size_t inlen);
int kith_poly1305_finish(void *state, uint8_t tag[16]);
void kith_poly1305_discard(void *state);

#endif
