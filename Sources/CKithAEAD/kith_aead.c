#include "kith_aead.h"

#include <limits.h>
#include <pthread.h>
#include <string.h>
#include <openssl/evp.h>

static EVP_CIPHER *ciphers[2];
static EVP_MAC *poly1305;
static pthread_once_t fetched = PTHREAD_ONCE_INIT;

static void fetch(void) {
    ciphers[KITH_AEAD_CHACHA20_POLY1305] = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL);
    ciphers[KITH_AEAD_AES256_GCM] = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    poly1305 = EVP_MAC_fetch(NULL, "POLY1305", NULL);
}

static const EVP_CIPHER *cipher_of(int cipher) {
    if (cipher != KITH_AEAD_CHACHA20_POLY1305 && cipher != KITH_AEAD_AES256_GCM) return NULL;
    pthread_once(&fetched, fetch);
    return ciphers[cipher];
}

int kith_aead_seal(int cipher, const uint8_t key[32], const uint8_t nonce[12],
                   const uint8_t *ad, size_t adlen, const uint8_t *in, size_t inlen, uint8_t *out) {
    const EVP_CIPHER *evp = cipher_of(cipher);
    if (evp == NULL) return -2;
    if (inlen > INT_MAX || adlen > INT_MAX) return -1;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL) return -1;
    int ok = 0, len = 0;
    if (EVP_EncryptInit_ex2(ctx, evp, key, nonce, NULL) == 1
        && (adlen == 0 || EVP_EncryptUpdate(ctx, NULL, &len, ad, (int)adlen) == 1)
        && (inlen == 0 || (EVP_EncryptUpdate(ctx, out, &len, in, (int)inlen) == 1 && (size_t)len == inlen))
        && EVP_EncryptFinal_ex(ctx, out + inlen, &len) == 1 && len == 0
        && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, out + inlen) == 1) {
        ok = 1;
    }
    EVP_CIPHER_CTX_free(ctx);
    return ok ? 0 : -1;
}

int kith_aead_open(int cipher, const uint8_t key[32], const uint8_t nonce[12],
                   const uint8_t *ad, size_t adlen, const uint8_t *in, size_t inlen, uint8_t *out) {
    const EVP_CIPHER *evp = cipher_of(cipher);
    if (evp == NULL) return -2;
    if (inlen < 16 || inlen > INT_MAX || adlen > INT_MAX) return -1;
    size_t textlen = inlen - 16;
    uint8_t tag[16];
    memcpy(tag, in + textlen, 16);  /* before `out` (which may be `in`) is written */
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL) return -1;
    int ok = 0, len = 0;
    if (EVP_DecryptInit_ex2(ctx, evp, key, nonce, NULL) == 1
        && (adlen == 0 || EVP_DecryptUpdate(ctx, NULL, &len, ad, (int)adlen) == 1)
        && (textlen == 0 || (EVP_DecryptUpdate(ctx, out, &len, in, (int)textlen) == 1 && (size_t)len == textlen))
        && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, 16, tag) == 1
        && EVP_DecryptFinal_ex(ctx, out + textlen, &len) > 0) {
        ok = 1;
    }
    EVP_CIPHER_CTX_free(ctx);
    if (!ok && textlen > 0) memset(out, 0, textlen);
    return ok ? 0 : -1;
}

void *kith_poly1305_start(const uint8_t key[32]) {
    pthread_once(&fetched, fetch);
    if (poly1305 == NULL) return NULL;
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(poly1305);
    if (ctx == NULL) return NULL;
    if (EVP_MAC_init(ctx, key, 32, NULL) != 1) {
        EVP_MAC_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

int kith_poly1305_update(void *state, const uint8_t *in, size_t inlen) {
    if (inlen == 0) return 0;
    return EVP_MAC_update((EVP_MAC_CTX *)state, in, inlen) == 1 ? 0 : -1;
}

int kith_poly1305_finish(void *state, uint8_t tag[16]) {
    size_t written = 0;
    int ok = EVP_MAC_final((EVP_MAC_CTX *)state, tag, &written, 16) == 1 && written == 16;
    EVP_MAC_CTX_free((EVP_MAC_CTX *)state);
    return ok ? 0 : -1;
}

void kith_poly1305_discard(void *state) {
    EVP_MAC_CTX_free((EVP_MAC_CTX *)state);
}
