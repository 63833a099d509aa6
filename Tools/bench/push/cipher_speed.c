/* Single-core libsodium speeds for the push benchmark (Tools/bench/push/run):
 *   ChaCha20-Poly1305 (IETF) encryption, BLAKE2b (crypto_generichash, 32-byte digest: a chunk
 *   hash) and Poly1305 (crypto_onetimeauth: a chunk tag), each over 64 KiB messages for about
 *   SECONDS seconds (default 2).
 * Prints three lines:  "chacha20-poly1305 MB/s", "blake2b MB/s" and "poly1305 MB/s" (MB = 10^6 bytes).
 * Build: gcc -O2 -o cipher_speed cipher_speed.c -lsodium */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define MSG (64 * 1024)

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 2.0;
    if (sodium_init() < 0) { fprintf(stderr, "sodium_init failed\n"); return 1; }

    static unsigned char msg[MSG], out[MSG + crypto_aead_chacha20poly1305_ietf_ABYTES];
    unsigned char key[crypto_aead_chacha20poly1305_ietf_KEYBYTES];
    unsigned char nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES] = {0};
    unsigned char digest[32] = {0};
    randombytes_buf(msg, sizeof msg);
    crypto_aead_chacha20poly1305_ietf_keygen(key);

    unsigned long long clen, n = 0;
    double start = now(), elapsed;
    do {
        for (int i = 0; i < 64; i++, n++) {
            sodium_increment(nonce, sizeof nonce);
            crypto_aead_chacha20poly1305_ietf_encrypt(out, &clen, msg, MSG, NULL, 0, NULL, nonce, key);
        }
        elapsed = now() - start;
    } while (elapsed < seconds);
    printf("chacha20-poly1305 %.1f\n", (double)n * MSG / elapsed / 1e6);

    unsigned char sink = out[0];
    n = 0;
    start = now();
    do {
        for (int i = 0; i < 64; i++, n++) {
            msg[0] ^= digest[0];  /* keep every round dependent on the last one */
            crypto_generichash(digest, sizeof digest, msg, MSG, NULL, 0);
        }
        elapsed = now() - start;
    } while (elapsed < seconds);
    printf("blake2b %.1f\n", (double)n * MSG / elapsed / 1e6);

    unsigned char tag[crypto_onetimeauth_BYTES] = {0};
    n = 0;
    start = now();
    do {
        for (int i = 0; i < 64; i++, n++) {
            msg[0] ^= tag[0];
            crypto_onetimeauth(tag, msg, MSG, key);
        }
        elapsed = now() - start;
    } while (elapsed < seconds);
    printf("poly1305 %.1f\n", (double)n * MSG / elapsed / 1e6);
    return (sink ^ digest[0] ^ tag[0]) == 256;  /* never true; keeps the results live */
}
