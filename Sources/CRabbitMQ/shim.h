#ifndef SLUICE_CRABBITMQ_SHIM_H
#define SLUICE_CRABBITMQ_SHIM_H
#if __has_include(<rabbitmq-c/amqp.h>)
#include <rabbitmq-c/amqp.h>
#include <rabbitmq-c/framing.h>
#include <rabbitmq-c/tcp_socket.h>
#include <rabbitmq-c/ssl_socket.h>
#else
#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>
#include <amqp_ssl_socket.h>
#endif
/* rabbitmq-c's SSL socket is OpenSSL's: its SSL_CTX takes the verify mode and default CA paths,
   and OpenSSL's (thread-local) error queue holds why a handshake failed. */
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <sys/eventfd.h>
#include <poll.h>
#include <netinet/tcp.h>

/* amqp_login is variadic: Swift cannot import it. PLAIN SASL only. */
static inline amqp_rpc_reply_t CRabbitMQ_login_plain(amqp_connection_state_t state,
                                                     const char *vhost, int channel_max,
                                                     int frame_max, int heartbeat,
                                                     const char *user, const char *password) {
    return amqp_login(state, vhost, channel_max, frame_max, heartbeat,
                      AMQP_SASL_METHOD_PLAIN, user, password);
}

/* amqp_login_with_properties is variadic too; the properties table carries connection_name. */
static inline amqp_rpc_reply_t CRabbitMQ_login_plain_with_properties(
    amqp_connection_state_t state, const char *vhost, int channel_max, int frame_max,
    int heartbeat, const amqp_table_t *properties, const char *user, const char *password) {
    return amqp_login_with_properties(state, vhost, channel_max, frame_max, heartbeat,
                                      properties, AMQP_SASL_METHOD_PLAIN, user, password);
}

/* Queues why a certificate failed (OpenSSL 3.0's "certificate verify failed" carries no detail),
   e.g. "unable to get local issuer certificate" or "hostname mismatch". */
static int CRabbitMQ_ssl_verify_callback(int ok, X509_STORE_CTX *store) {
    if (!ok) {
        ERR_raise_data(ERR_LIB_SSL, SSL_R_CERTIFICATE_VERIFY_FAILED, "%s",
                       X509_verify_cert_error_string(X509_STORE_CTX_get_error(store)));
    }
    return ok;
}

/* SSL_VERIFY_PEER: the handshake itself fails (with the reason in this thread's error queue) when
   the peer's certificate does not verify, instead of completing first. */
static inline void CRabbitMQ_ssl_require_verified_peer(void *ctx) {
    SSL_CTX_set_verify((SSL_CTX *)ctx, SSL_VERIFY_PEER, CRabbitMQ_ssl_verify_callback);
}

/* Makes OpenSSL check, during the handshake, that the peer's certificate names `host`: an IP
   literal against the subjectAltName IP entries, a name against the DNS entries (else the CN).
   rabbitmq-c 0.11's own check knows no IP entries. Returns 1 on success. */
static inline int CRabbitMQ_ssl_expect_host(void *ctx, const char *host) {
    X509_VERIFY_PARAM *param = SSL_CTX_get0_param((SSL_CTX *)ctx);
    unsigned char address[16];
    if (inet_pton(AF_INET, host, address) == 1 || inet_pton(AF_INET6, host, address) == 1) {
        return X509_VERIFY_PARAM_set1_ip_asc(param, host);
    }
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    return X509_VERIFY_PARAM_set1_host(param, host, 0);
}

/* An encrypted key file gets the empty password (and fails to load, named) instead of OpenSSL's
   default of prompting on the terminal, which would hang a service. */
static inline void CRabbitMQ_ssl_no_key_prompt(void *ctx) {
    SSL_CTX_set_default_passwd_cb_userdata((SSL_CTX *)ctx, (void *)"");
}

/* The system's trusted CAs (amqps:// without cacertfile). Returns 1 on success. */
static inline int CRabbitMQ_ssl_use_default_ca_paths(void *ctx) {
    return SSL_CTX_set_default_verify_paths((SSL_CTX *)ctx);
}

/* The oldest error in this thread's OpenSSL queue as "reason (data)", e.g. "certificate verify
   failed (Verify error:unable to get local issuer certificate)", then empties the queue; "" when
   there is none. OpenSSL's texts name causes, never key material. */
static inline void CRabbitMQ_ssl_take_error(char *buffer, size_t size) {
    const char *data = NULL;
    int flags = 0;
    unsigned long first = ERR_get_error_all(NULL, NULL, NULL, &data, &flags);
    buffer[0] = 0;
    if (first != 0) {
        char code[256];
        const char *reason = ERR_reason_error_string(first);
        if (reason == NULL) {
            ERR_error_string_n(first, code, sizeof code);
            reason = code;
        }
        if (data != NULL && (flags & ERR_TXT_STRING) && data[0] != 0) {
            snprintf(buffer, size, "%s (%s)", reason, data);
        } else {
            snprintf(buffer, size, "%s", reason);
        }
    }
    ERR_clear_error();
}

/* Empties this thread's OpenSSL error queue (before a handshake, so its errors are its own). */
static inline void CRabbitMQ_ssl_clear_errors(void) { ERR_clear_error(); }

#endif
