#ifndef COPENSSL_H
#define COPENSSL_H
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

// Macros and variadic calls Swift cannot import, as plain functions.
long copenssl_set_tlsext_host_name(SSL *ssl, const char *name);
long copenssl_set_min_proto_version(SSL_CTX *ctx, int version);
long copenssl_set_mode(SSL *ssl, long mode);
// A memory BIO that is empty says "retry" (-1), not end of file, so SSL_read waits for more input.
long copenssl_bio_set_mem_eof_return(BIO *bio, long value);
int copenssl_gcm_set_ivlen(EVP_CIPHER_CTX *ctx, int length);
int copenssl_gcm_get_tag(EVP_CIPHER_CTX *ctx, int length, void *tag);
int copenssl_gcm_set_tag(EVP_CIPHER_CTX *ctx, int length, void *tag);

#endif
