/* The least an encrypted push can do, for the push bench's "C pipe" rows: a file sealed in
 * 64000-byte messages with an AEAD (OpenSSL's libcrypto, as Kith's stream; a fixed key, since a
 * key exchange is not what is measured), each framed like a Kith TCP frame (a u16 length, then
 * the ciphertext and its 16-byte tag), over one TCP connection; the receiver opens every
 * message, writes it to the output file and fsyncs it at the end.
 *
 *   cipher_pipe recv PORT OUTFILE aes256gcm|chacha20poly1305   (listens on 127.0.0.1, one connection)
 *   cipher_pipe send PORT INFILE  aes256gcm|chacha20poly1305
 *
 * Build: gcc -O2 -o cipher_pipe cipher_pipe.c -lcrypto
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PIECE 64000
#define TAG 16

static void die(const char *what) { perror(what); exit(1); }

static const EVP_CIPHER *cipher_named(const char *name) {
    if (strcmp(name, "aes256gcm") == 0) return EVP_aes_256_gcm();
    if (strcmp(name, "chacha20poly1305") == 0) return EVP_chacha20_poly1305();
    fprintf(stderr, "unknown cipher %s\n", name);
    exit(64);
}

/* Noise's nonce: four zero bytes, then the counter (big-endian for AES-GCM, little for ChaCha). */
static void nonce_of(uint64_t n, int big_endian, unsigned char iv[12]) {
    memset(iv, 0, 12);
    for (int i = 0; i < 8; i++) iv[big_endian ? 11 - i : 4 + i] = (unsigned char)(n >> (8 * i));
}

static void write_all(int fd, const unsigned char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w <= 0) die("write");
        p += w; n -= (size_t)w;
    }
}

/* Reads exactly n bytes; returns 0 at a clean end of stream before the first byte. */
static int read_exact(int fd, unsigned char *p, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, p + got, n - got);
        if (r < 0) die("read");
        if (r == 0) {
            if (got == 0) return 0;
            fprintf(stderr, "stream cut inside a frame\n");
            exit(1);
        }
        got += (size_t)r;
    }
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 5) { fprintf(stderr, "usage: cipher_pipe send|recv PORT FILE CIPHER\n"); return 64; }
    int sending = strcmp(argv[1], "send") == 0;
    const EVP_CIPHER *cipher = cipher_named(argv[4]);
    int big_endian = strcmp(argv[4], "aes256gcm") == 0;
    unsigned char key[32];
    for (int i = 0; i < 32; i++) key[i] = (unsigned char)(i * 7 + 1);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2])) };
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL) die("EVP_CIPHER_CTX_new");
    static unsigned char plain[PIECE], frame[2 + PIECE + TAG];
    unsigned char iv[12];
    uint64_t counter = 0;
    int len;

    if (sending) {
        int in = open(argv[3], O_RDONLY);
        if (in < 0) die("open input");
        int s = socket(AF_INET, SOCK_STREAM, 0);
        if (s < 0) die("socket");
        setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(s, (struct sockaddr *)&addr, sizeof addr) != 0) die("connect");
        if (EVP_EncryptInit_ex(ctx, cipher, NULL, key, NULL) != 1) die("cipher");
        for (;;) {
            ssize_t n = read(in, plain, PIECE);
            if (n < 0) die("read input");
            if (n == 0) break;
            nonce_of(counter++, big_endian, iv);
            if (EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, iv) != 1 ||
                EVP_EncryptUpdate(ctx, frame + 2, &len, plain, (int)n) != 1 ||
                EVP_EncryptFinal_ex(ctx, frame + 2 + len, &len) != 1 ||
                EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, TAG, frame + 2 + n) != 1) die("seal");
            frame[0] = (unsigned char)((n + TAG) >> 8);
            frame[1] = (unsigned char)((n + TAG) & 0xff);
            write_all(s, frame, 2 + (size_t)n + TAG);
        }
        close(s);
        return 0;
    }

    int out = open(argv[3], O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (out < 0) die("open output");
    int l = socket(AF_INET, SOCK_STREAM, 0);
    if (l < 0) die("socket");
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(l, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(l, 1) != 0) die("listen");
    int s = accept(l, NULL, NULL);
    if (s < 0) die("accept");
    close(l);
    if (EVP_DecryptInit_ex(ctx, cipher, NULL, key, NULL) != 1) die("cipher");
    while (read_exact(s, frame, 2)) {
        size_t body = ((size_t)frame[0] << 8) | frame[1];
        if (body < TAG || body > PIECE + TAG) { fprintf(stderr, "frame of %zu bytes\n", body); return 1; }
        if (!read_exact(s, frame + 2, body)) { fprintf(stderr, "stream cut after a frame's length\n"); return 1; }
        size_t n = body - TAG;
        nonce_of(counter++, big_endian, iv);
        if (EVP_DecryptInit_ex(ctx, NULL, NULL, NULL, iv) != 1 ||
            EVP_DecryptUpdate(ctx, plain, &len, frame + 2, (int)n) != 1 ||
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, TAG, frame + 2 + n) != 1 ||
            EVP_DecryptFinal_ex(ctx, plain + len, &len) != 1) {
            fprintf(stderr, "message %llu did not verify\n", (unsigned long long)(counter - 1));
            return 1;
        }
        write_all(out, plain, n);
    }
    if (fsync(out) != 0) die("fsync");
    close(out);
    return 0;
}
