/* http.c: every HTTPS request pam-k8s makes goes through k8s_http_do():
 * HTTP/1.1, one request per connection, over OpenSSL's libssl.
 *
 * libssl is loaded on first use (dlopen, dl.h), not linked: a login
 * decided from the JWKS cache or the review cache never loads it, and the
 * network path loads two libraries (libssl, libcrypto) where libcurl
 * brought about thirty: in a helper started for each PAM call, mapping
 * those cost more than the request (docs/pam.md has the figures).
 * The answer is read by httpparse.c (libc only, fuzzed).
 *
 * We run in the helper, the CLI or the sync daemon, never in the PAM
 * caller: still, nothing here reads the environment (no proxies, no
 * key-log file; the system's CAs are OpenSSL's compiled-in paths, not
 * SSL_CERT_FILE or SSL_CERT_DIR), no signal reaches the process (a
 * write to a connection the peer reset raises SIGPIPE in the writing
 * thread: it is blocked around each TLS call and taken back, ssl_op),
 * sockets are close-on-exec,
 * redirects are never followed, and the whole request, connect and TLS
 * handshake included, has one deadline.  The buffers that held the
 * request (bearer token, body) and the answer are wiped. */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "dl.h"
#include "httpparse.h"
#include "util.h"

#define LIBSSL_SONAME "libssl.so.3"

#define HTTP_DEFAULT_MAX_BODY   (1024 * 1024)
#define HTTP_DEFAULT_TIMEOUT_MS 5000L

/* The functions we call, typed from OpenSSL's own headers; found in
 * libssl or the libcrypto it depends on. */
#define F(name) __typeof__(name) *name
static struct {
	F(OPENSSL_init_crypto); F(OPENSSL_init_ssl); F(TLS_client_method); F(SSL_CTX_new); F(SSL_CTX_free); F(SSL_CTX_ctrl);
	F(SSL_CTX_set_verify); F(SSL_CTX_get_cert_store); F(SSL_CTX_load_verify_locations);
	F(X509_get_default_cert_file); F(X509_get_default_cert_dir); F(X509_VERIFY_PARAM_set_flags);
	F(SSL_CTX_use_certificate); F(SSL_CTX_use_PrivateKey); F(SSL_CTX_check_private_key);
	F(SSL_CTX_set_security_level); F(SSL_CTX_set_options);
	F(SSL_new); F(SSL_free); F(SSL_set_fd); F(SSL_ctrl); F(SSL_get0_param); F(SSL_connect);
	F(SSL_read); F(SSL_write); F(SSL_get_error); F(SSL_get_verify_result);
	F(BIO_new_mem_buf); F(BIO_free); F(PEM_read_bio_X509); F(PEM_read_bio_PrivateKey);
	F(X509_free); F(EVP_PKEY_free); F(X509_STORE_add_cert);
	F(X509_VERIFY_PARAM_set1_host); F(X509_VERIFY_PARAM_set1_ip_asc); F(X509_VERIFY_PARAM_set_hostflags);
	F(ERR_get_error); F(ERR_peek_last_error); F(ERR_error_string_n); F(ERR_clear_error);
	F(X509_verify_cert_error_string);
} ossl;
#undef F

#define S(name) { #name, (void **)&ossl.name }
static const struct k8s_dl_sym ossl_syms[] = {
	S(OPENSSL_init_crypto), S(OPENSSL_init_ssl), S(TLS_client_method), S(SSL_CTX_new), S(SSL_CTX_free), S(SSL_CTX_ctrl),
	S(SSL_CTX_set_verify), S(SSL_CTX_get_cert_store), S(SSL_CTX_load_verify_locations),
	S(X509_get_default_cert_file), S(X509_get_default_cert_dir), S(X509_VERIFY_PARAM_set_flags),
	S(SSL_CTX_use_certificate), S(SSL_CTX_use_PrivateKey), S(SSL_CTX_check_private_key),
	S(SSL_CTX_set_security_level), S(SSL_CTX_set_options),
	S(SSL_new), S(SSL_free), S(SSL_set_fd), S(SSL_ctrl), S(SSL_get0_param), S(SSL_connect),
	S(SSL_read), S(SSL_write), S(SSL_get_error), S(SSL_get_verify_result),
	S(BIO_new_mem_buf), S(BIO_free), S(PEM_read_bio_X509), S(PEM_read_bio_PrivateKey),
	S(X509_free), S(EVP_PKEY_free), S(X509_STORE_add_cert),
	S(X509_VERIFY_PARAM_set1_host), S(X509_VERIFY_PARAM_set1_ip_asc), S(X509_VERIFY_PARAM_set_hostflags),
	S(ERR_get_error), S(ERR_peek_last_error), S(ERR_error_string_n), S(ERR_clear_error),
	S(X509_verify_cert_error_string),
};
#undef S

static pthread_once_t ssl_once = PTHREAD_ONCE_INIT;
static int ssl_ready;

static void ssl_load(void)
{
	if (k8s_dl_load(LIBSSL_SONAME, ossl_syms, sizeof(ossl_syms) / sizeof(ossl_syms[0])) == NULL)
		return;
	/* No openssl.cnf (Debian's sets nothing for TLS; what we need is set
	 * on each context below), no exit-time teardown of OpenSSL's tables,
	 * and no legacy table of every cipher by name (libssl fetches its
	 * ciphers from the provider; nothing here decrypts a PEM): pure cost
	 * in a process per PAM call, 0.2-0.3 ms.  The legacy digest table
	 * stays: X.509 signature checks look digests up in it. */
	ssl_ready = ossl.OPENSSL_init_crypto(OPENSSL_INIT_NO_ADD_ALL_CIPHERS |
						     OPENSSL_INIT_NO_LOAD_CONFIG | OPENSSL_INIT_NO_ATEXIT, NULL) == 1 &&
		    ossl.OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_CONFIG | OPENSSL_INIT_NO_ATEXIT, NULL) == 1;
}

void k8s_linesplit_free(struct k8s_linesplit *ls)
{
	if (ls->buf != NULL)
		k8s_freezero(ls->buf, ls->cap);
	ls->buf = NULL;
	ls->len = ls->cap = 0;
}

int k8s_linesplit_feed(struct k8s_linesplit *ls, const char *p, size_t n,
		       int (*fn)(const char *line, size_t len, void *ud), void *ud)
{
	while (n > 0) {
		const char *nl = memchr(p, '\n', n);
		size_t take = nl != NULL ? (size_t)(nl - p) : n;
		int r;

		if (take > ls->max || ls->len > ls->max - take)
			return -1;
		if (ls->len + take + 1 > ls->cap) {
			size_t cap = ls->cap ? ls->cap : 4096;
			char *nb;

			while (cap < ls->len + take + 1)
				cap *= 2;
			nb = malloc(cap);
			if (nb == NULL)
				return -2;
			if (ls->buf != NULL) {
				memcpy(nb, ls->buf, ls->len);
				k8s_freezero(ls->buf, ls->cap);
			}
			ls->buf = nb;
			ls->cap = cap;
		}
		memcpy(ls->buf + ls->len, p, take);
		ls->len += take;
		if (nl == NULL)
			return 0;
		ls->buf[ls->len] = '\0';
		r = fn(ls->buf, ls->len, ud);
		ls->len = 0;
		if (r != 0)
			return r;
		p += take + 1;
		n -= take + 1;
	}
	return 0;
}

/* ---- the URL ---------------------------------------------------------- */

struct url {
	char host[256];      /* without brackets */
	char port[8];
	char *authority;     /* as written: the Host header */
	char *target;        /* path and query, "/" at least */
	int is_ip;
};

static void url_free(struct url *u)
{
	free(u->authority);
	free(u->target);
	memset(u, 0, sizeof(*u));
}

static int is_ip_literal(const char *h)
{
	unsigned char a[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, h, a) == 1 || inet_pton(AF_INET6, h, a) == 1;
}

/* A name OpenSSL can verify as written: not empty, no leading dot and no
 * empty label (OpenSSL reads ".example" as "any subdomain"); one trailing
 * dot, a fully qualified name, is allowed (tls_setup drops it). */
static int name_shape_ok(const char *s)
{
	size_t n = strlen(s);

	if (n > 0 && s[n - 1] == '.')
		n--;
	return n > 0 && s[0] != '.' && memmem(s, n, "..", 2) == NULL;
}

/* https://host[:port][/path][?query][#fragment]; no userinfo (check_req
 * refused it).  Bytes above 0x7e in the target are percent-encoded, as a
 * browser does; a control character or a space anywhere is refused. */
static int url_parse(const char *url, struct url *u)
{
	const char *a = url + 8, *ae = a + strcspn(a, "/?#"), *h = a, *he, *t, *te;
	struct k8s_buf tb = {0};
	size_t hl;

	memset(u, 0, sizeof(*u));
	for (t = url; *t != '\0'; t++)
		if ((unsigned char)*t <= 0x20 || *t == 0x7f)
			return -1;
	if (*h == '[') {
		he = memchr(h, ']', (size_t)(ae - h));
		if (he == NULL)
			return -1;
		h++;
		t = he + 1;
	} else {
		he = memchr(h, ':', (size_t)(ae - h));
		if (he == NULL)
			he = ae;
		t = he;
	}
	hl = (size_t)(he - h);
	if (hl == 0 || hl >= sizeof(u->host))
		return -1;
	memcpy(u->host, h, hl);
	u->host[hl] = '\0';
	if (a[0] == '[' && !(strchr(u->host, ':') != NULL && is_ip_literal(u->host)))
		return -1;
	if (strspn(u->host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_:") != hl)
		return -1;
	if (t < ae) {
		size_t pl = (size_t)(ae - t - 1);
		unsigned long port;
		char *end;

		if (*t != ':' || pl == 0 || pl >= sizeof(u->port) || strspn(t + 1, "0123456789") < pl)
			return -1;
		memcpy(u->port, t + 1, pl);
		u->port[pl] = '\0';
		port = strtoul(u->port, &end, 10);
		if (port == 0 || port > 65535)
			return -1;
	} else {
		strcpy(u->port, "443");
	}
	u->is_ip = is_ip_literal(u->host);
	if (!u->is_ip && !name_shape_ok(u->host))
		return -1;
	u->authority = strndup(a, (size_t)(ae - a));
	te = ae + strcspn(ae, "#");
	if (*ae != '/' && k8s_buf_append(&tb, "/", 1) != 0)
		goto oom;
	for (t = ae; t < te; t++) {
		if ((unsigned char)*t > 0x7e) {
			if (k8s_buf_printf(&tb, "%%%02X", (unsigned char)*t) != 0)
				goto oom;
		} else if (k8s_buf_append(&tb, t, 1) != 0) {
			goto oom;
		}
	}
	if (k8s_buf_append(&tb, "", 1) != 0 || u->authority == NULL)
		goto oom;
	u->target = tb.data;
	return 0;
oom:
	k8s_buf_free(&tb);
	return -2;
}

/* ---- time ------------------------------------------------------------- */

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- one request ------------------------------------------------------ */

struct conn {
	const struct k8s_http_req *req;
	struct url url;
	long timeout_ms;
	long long deadline, last_tick;
	long long body_deadline; /* the deadline once the answer's head is read */
	long cur_timeout_ms;     /* the one c->deadline stands for */
	int in_body;
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	struct k8s_err *err;
	/* the answer */
	struct k8s_http_parser hp;
	struct k8s_buf body;
	size_t max;
	struct k8s_linesplit ls;
	int line_fail;   /* -1 too long, -2 OOM, else on_line's nonzero */
	int too_large;
	int body_oom;
};

static int timed_out(struct conn *c)
{
	return k8s_err_set(c->err, K8S_UNAVAILABLE, "timeout", "%s: no answer within the timeout after %ld ms",
			   c->req->url, c->cur_timeout_ms);
}

/* Whether the request may go on at `now`: K8S_OK, or the error that ends
 * it: the deadline, or (looked at about once a second) a stop flag or a
 * stream's liveness. */
static int still_on(struct conn *c, long long now)
{
	const struct k8s_http_req *req = c->req;

	if (now - c->last_tick >= 1000) {
		c->last_tick = now;
		if (req->stop != NULL && *req->stop)
			return k8s_err_set(c->err, K8S_UNAVAILABLE, "stopped", "%s: stopped", req->url);
		if (req->alive != NULL && !req->alive(req->line_ud))
			return k8s_err_set(c->err, K8S_UNAVAILABLE, "stream stalled",
					   "%s: nothing from the server for too long", req->url);
	}
	return now >= c->deadline ? timed_out(c) : K8S_OK;
}

/* Until fd is ready for `events` or the deadline; a stop flag or a stream's
 * liveness is looked at about once a second meanwhile. */
static int wait_fd(struct conn *c, short events)
{
	for (;;) {
		long long now = mono_ms(), slice = c->deadline - now;
		struct pollfd pfd = { .fd = c->fd, .events = events };
		int r;

		if ((r = still_on(c, now)) != K8S_OK)
			return r;
		if ((c->req->stop != NULL || c->req->alive != NULL) && slice > 1000)
			slice = 1000;
		r = poll(&pfd, 1, slice > INT_MAX ? INT_MAX : (int)slice);
		if (r > 0)
			return K8S_OK;
		if (r < 0 && errno != EINTR)
			return k8s_err_set(c->err, K8S_UNAVAILABLE, "request failed", "%s: poll: %s", c->req->url,
					   strerror(errno));
	}
}

static int connect_one(struct conn *c, const struct addrinfo *ai, long long until, int *soerr)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
	int one = 1, e = 0;
	socklen_t el = sizeof(e);
	long long save = c->deadline;

	if (fd < 0) {
		*soerr = errno;
		return -1;
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (c->req->on_line != NULL) {
		/* a watch is quiet for minutes: 3 unanswered probes 10 s apart
		 * after 30 s of silence end a connection whose peer is gone */
		int idle = 30, intvl = 10, cnt = 3;

		(void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
		(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
		(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
		(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
		c->fd = fd;
		return 0;
	}
	if (errno != EINPROGRESS) {
		*soerr = errno;
		close(fd);
		return -1;
	}
	c->fd = fd;
	c->deadline = until < save ? until : save;
	if (wait_fd(c, POLLOUT) != K8S_OK) {
		/* -1: this address's share is over, try the next; -2: the
		 * whole deadline is; -3: stopped (the error stands) */
		int timed_out = strcmp(c->err->reason, "timeout") == 0;

		c->deadline = save;
		c->fd = -1;
		close(fd);
		*soerr = ETIMEDOUT;
		return !timed_out ? -3 : mono_ms() >= save ? -2 : -1;
	}
	c->deadline = save;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) != 0 || e != 0) {
		*soerr = e ? e : errno;
		c->fd = -1;
		close(fd);
		return -1;
	}
	return 0;
}

static int do_connect(struct conn *c)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res = NULL, *ai;
	int rc, n = 0, soerr = 0;

	hints.ai_flags = c->url.is_ip ? AI_NUMERICHOST : 0;
	rc = getaddrinfo(c->url.host, c->url.port, &hints, &res);
	if (rc != 0)
		return k8s_err_set(c->err, K8S_UNAVAILABLE, "connection failed", "%s: could not resolve host: %s",
				   c->req->url, rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
	for (ai = res; ai != NULL; ai = ai->ai_next)
		n++;
	for (ai = res; ai != NULL; ai = ai->ai_next, n--) {
		/* each address left gets its share of the time left, so one
		 * that drops packets does not take all of it */
		long long now = mono_ms(), until = now + (c->deadline - now) / (n > 0 ? n : 1);
		int r = connect_one(c, ai, ai->ai_next != NULL ? until : c->deadline, &soerr);

		if (r == 0)
			break;
		if (r == -3) {
			freeaddrinfo(res);
			return c->err->status;
		}
		k8s_err_clear(c->err);
		if (r == -2)
			break;
	}
	freeaddrinfo(res);
	if (c->fd >= 0)
		return K8S_OK;
	if (mono_ms() >= c->deadline)
		return timed_out(c);
	return k8s_err_set(c->err, K8S_UNAVAILABLE, "connection failed", "%s: connect refused or unreachable: %s",
			   c->req->url, strerror(soerr ? soerr : ECONNREFUSED));
}

/* ---- TLS -------------------------------------------------------------- */

/* an encrypted key is not asked for on a terminal: it fails */
static int no_passphrase(char *buf, int size, int rw, void *u)
{
	(void)buf, (void)size, (void)rw, (void)u;
	return -1;
}

static void ossl_reason(char *buf, size_t len)
{
	unsigned long e = ossl.ERR_get_error(), last = e;

	while (e != 0) {
		last = e;
		e = ossl.ERR_get_error();
	}
	if (last != 0)
		ossl.ERR_error_string_n(last, buf, len);
	else
		snprintf(buf, len, "no detail");
}

/* Every CERTIFICATE block of a PEM text into the store; blocks of other
 * kinds are skipped, as Go's AppendCertsFromPEM does.  The count added. */
static int add_pem_certs(X509_STORE *st, const char *pem, size_t len)
{
	BIO *b = ossl.BIO_new_mem_buf(pem, (int)len);
	int n = 0, i;

	if (b == NULL)
		return 0;
	for (i = 0; i < 100000; i++) {
		X509 *x = ossl.PEM_read_bio_X509(b, NULL, no_passphrase, NULL);

		if (x == NULL) {
			unsigned long e = ossl.ERR_peek_last_error();

			if (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE)
				break;
			if (e == 0)
				break;
			ossl.ERR_clear_error();
			continue; /* a block that does not parse: the next one */
		}
		if (ossl.X509_STORE_add_cert(st, x) == 1)
			n++;
		ossl.X509_free(x);
	}
	ossl.ERR_clear_error();
	ossl.BIO_free(b);
	return n;
}

/* The client certificate (and any chain after it) and its key. */
static int client_identity(struct conn *c)
{
	const struct k8s_http_req *req = c->req;
	size_t cl = req->client_cert_len ? req->client_cert_len : strlen(req->client_cert_pem);
	size_t kl = req->client_key_len ? req->client_key_len : strlen(req->client_key_pem);
	BIO *b;
	X509 *x;
	EVP_PKEY *k;
	char why[256];
	int n = 0;

	if (cl > INT_MAX || kl > INT_MAX || (b = ossl.BIO_new_mem_buf(req->client_cert_pem, (int)cl)) == NULL)
		return k8s_err_set(c->err, K8S_UNAVAILABLE, "TLS handshake failed", "%s: client certificate unusable",
				   req->url);
	while ((x = ossl.PEM_read_bio_X509(b, NULL, no_passphrase, NULL)) != NULL) {
		int ok = n == 0 ? ossl.SSL_CTX_use_certificate(c->ctx, x) == 1
				: ossl.SSL_CTX_ctrl(c->ctx, SSL_CTRL_CHAIN_CERT, 0, x) == 1; /* add0: keeps x */

		if (n == 0 || !ok)
			ossl.X509_free(x);
		if (!ok)
			break;
		n++;
	}
	ossl.BIO_free(b);
	ossl.ERR_clear_error();
	if (n == 0)
		return k8s_err_set(c->err, K8S_UNAVAILABLE, "TLS handshake failed",
				   "%s: no usable client certificate in the credentials", req->url);
	if ((b = ossl.BIO_new_mem_buf(req->client_key_pem, (int)kl)) == NULL)
		return k8s_err_oom(c->err, "%s: client key", req->url);
	k = ossl.PEM_read_bio_PrivateKey(b, NULL, no_passphrase, NULL);
	ossl.BIO_free(b);
	if (k == NULL || ossl.SSL_CTX_use_PrivateKey(c->ctx, k) != 1 || ossl.SSL_CTX_check_private_key(c->ctx) != 1) {
		ossl_reason(why, sizeof(why));
		if (k != NULL)
			ossl.EVP_PKEY_free(k);
		return k8s_err_set(c->err, K8S_UNAVAILABLE, "TLS handshake failed",
				   "%s: client key unusable or not the certificate's: %s", req->url, why);
	}
	ossl.EVP_PKEY_free(k);
	return K8S_OK;
}

static int tls_setup(struct conn *c)
{
	const struct k8s_http_req *req = c->req;
	const char *given = req->tls_server_name != NULL && *req->tls_server_name != '\0' ? req->tls_server_name
											       : c->url.host;
	char name[256];
	size_t nl = strlen(given);
	int name_is_ip, rc;
	X509_VERIFY_PARAM *vp;

	/* one trailing dot (a fully qualified name) is not part of the name
	 * sent or verified; the rest of its shape: name_shape_ok */
	if (nl > 0 && given[nl - 1] == '.')
		nl--;
	if (nl >= sizeof(name))
		return k8s_err_set(c->err, K8S_ECONFIG, "bad request", "%s: unusable server name %s", req->url, given);
	memcpy(name, given, nl);
	name[nl] = '\0';
	name_is_ip = is_ip_literal(name);
	c->ctx = ossl.SSL_CTX_new(ossl.TLS_client_method());
	if (c->ctx == NULL)
		return k8s_err_set(c->err, K8S_UNAVAILABLE, "TLS handshake failed", "%s: cannot set up TLS",
				   req->url);
	ossl.SSL_CTX_ctrl(c->ctx, SSL_CTRL_SET_MIN_PROTO_VERSION, TLS1_2_VERSION, NULL);
	ossl.SSL_CTX_set_security_level(c->ctx, 2);
	/* CLEANSE_PLAINTEXT: the answers echo the reviewed token, and OpenSSL
	 * decrypts in its own buffers, freed unwiped otherwise */
	ossl.SSL_CTX_set_options(c->ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_CLEANSE_PLAINTEXT);
	ossl.SSL_CTX_set_verify(c->ctx, req->insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
	if (req->ca_pem != NULL) {
		size_t l = req->ca_pem_len ? req->ca_pem_len : strlen(req->ca_pem);

		/* only the given CA, never the system's besides it */
		if (l > INT_MAX || add_pem_certs(ossl.SSL_CTX_get_cert_store(c->ctx), req->ca_pem, l) == 0)
			return k8s_err_set(c->err, K8S_UNAVAILABLE, "TLS handshake failed",
					   "%s: no usable certificate in the CA data", req->url);
	} else {
		/* the system's CAs from OpenSSL's compiled-in paths (Debian:
		 * /usr/lib/ssl/cert.pem and certs/, i.e. ca-certificates), never
		 * from SSL_CERT_FILE/SSL_CERT_DIR, which set_default_verify_paths
		 * would read: the CLI and the daemon have a caller's environment */
		if (ossl.SSL_CTX_load_verify_locations(c->ctx, ossl.X509_get_default_cert_file(), NULL) != 1)
			ossl.ERR_clear_error();
		if (ossl.SSL_CTX_load_verify_locations(c->ctx, NULL, ossl.X509_get_default_cert_dir()) != 1)
			ossl.ERR_clear_error();
	}
	if (req->client_cert_pem != NULL && req->client_key_pem != NULL && (rc = client_identity(c)) != K8S_OK)
		return rc;
	c->ssl = ossl.SSL_new(c->ctx);
	if (c->ssl == NULL || ossl.SSL_set_fd(c->ssl, c->fd) != 1)
		return k8s_err_set(c->err, K8S_UNAVAILABLE, "TLS handshake failed", "%s: cannot set up TLS",
				   req->url);
	/* SNI for a name, never for an address (RFC 6066) */
	if (!name_is_ip && ossl.SSL_ctrl(c->ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
					 (void *)name) != 1)
		return k8s_err_set(c->err, K8S_ECONFIG, "bad request", "%s: unusable server name %s", req->url, name);
	if (!req->insecure) {
		vp = ossl.SSL_get0_param(c->ssl);
		/* As Go's crypto/x509: any certificate in the CA pool is an
		 * anchor (an intermediate, a pinned server certificate; libcurl
		 * set this too), names only from the subjectAltName, never the
		 * subject's CN (Go >= 1.15), no partial wildcards. */
		ossl.X509_VERIFY_PARAM_set_flags(vp, X509_V_FLAG_PARTIAL_CHAIN);
		ossl.X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS |
							 X509_CHECK_FLAG_NEVER_CHECK_SUBJECT);
		if ((name_is_ip ? ossl.X509_VERIFY_PARAM_set1_ip_asc(vp, name)
				: ossl.X509_VERIFY_PARAM_set1_host(vp, name, 0)) != 1)
			return k8s_err_set(c->err, K8S_ECONFIG, "bad request", "%s: unusable server name %s",
					   req->url, name);
	}
	return K8S_OK;
}

/* OpenSSL writes to the socket with write(2): to a connection the peer
 * has reset, that raises SIGPIPE in this thread, which would end the
 * helper or the daemon (libcurl used send(MSG_NOSIGNAL)).  So SIGPIPE is
 * blocked in this thread around each call, and one it raised is taken
 * back before the mask is restored; one already pending is left alone
 * (as libpq does). */
struct sigpipe_guard {
	sigset_t old;
	int was_pending;
};

static void sigpipe_block(struct sigpipe_guard *g)
{
	sigset_t pipe, pending;

	sigemptyset(&pipe);
	sigaddset(&pipe, SIGPIPE);
	sigemptyset(&pending);
	g->was_pending = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1;
	(void)pthread_sigmask(SIG_BLOCK, &pipe, &g->old);
}

static void sigpipe_restore(struct sigpipe_guard *g)
{
	sigset_t pipe, pending;
	int save = errno;

	sigemptyset(&pipe);
	sigaddset(&pipe, SIGPIPE);
	sigemptyset(&pending);
	if (!g->was_pending && sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1) {
		const struct timespec zero = {0, 0};

		while (sigtimedwait(&pipe, NULL, &zero) < 0 && errno == EINTR)
			;
	}
	(void)pthread_sigmask(SIG_SETMASK, &g->old, NULL);
	errno = save;
}

/* One SSL call until it completes: 1 done (*n bytes for read/write), 0 a
 * clean close (read), else an error already set. */
enum { OP_CONNECT, OP_READ, OP_WRITE };

static int ssl_op(struct conn *c, int op, void *buf, int len, int *n)
{
	for (;;) {
		struct sigpipe_guard g;
		int r, e;
		long v;
		char why[256];

		ossl.ERR_clear_error();
		sigpipe_block(&g);
		r = op == OP_CONNECT ? ossl.SSL_connect(c->ssl)
		    : op == OP_READ  ? ossl.SSL_read(c->ssl, buf, len)
				     : ossl.SSL_write(c->ssl, buf, len);
		e = r > 0 ? SSL_ERROR_NONE : ossl.SSL_get_error(c->ssl, r);
		sigpipe_restore(&g);
		if (r > 0) {
			if (n != NULL)
				*n = r;
			return 1;
		}
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			if (wait_fd(c, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT) != K8S_OK)
				return -1;
			continue;
		}
		if (e == SSL_ERROR_ZERO_RETURN && op == OP_READ)
			return 0;
		/* the connection ended without close_notify: whether the
		 * answer was whole cannot be told (a cut by an attacker or a
		 * peer that died) */
		if (op == OP_READ && ((e == SSL_ERROR_SYSCALL && r == 0 && ossl.ERR_peek_last_error() == 0) ||
				      (e == SSL_ERROR_SSL &&
				       ERR_GET_REASON(ossl.ERR_peek_last_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING))) {
			ossl.ERR_clear_error();
			k8s_err_set(c->err, K8S_UNAVAILABLE, "answer cut short",
				    "%s: the connection ended inside the answer", c->req->url);
			return -1;
		}
		if (op == OP_CONNECT && !c->req->insecure && (v = ossl.SSL_get_verify_result(c->ssl)) != X509_V_OK) {
			ossl.ERR_clear_error();
			k8s_err_set(c->err, K8S_UNAVAILABLE, K8S_REASON_TLS_VERIFY, "%s: TLS verification failed: %s",
				    c->req->url, ossl.X509_verify_cert_error_string(v));
			return -1;
		}
		if (e == SSL_ERROR_SYSCALL && ossl.ERR_peek_last_error() == 0) {
			int se = errno;

			k8s_err_set(c->err, K8S_UNAVAILABLE, op == OP_CONNECT ? "TLS handshake failed" : "request failed",
				    "%s: connection closed%s%s", c->req->url, r < 0 && se ? ": " : "",
				    r < 0 && se ? strerror(se) : "");
			return -1;
		}
		ossl_reason(why, sizeof(why));
		k8s_err_set(c->err, K8S_UNAVAILABLE, op == OP_CONNECT ? "TLS handshake failed" : "request failed",
			    "%s: %s: %s", c->req->url, op == OP_CONNECT ? "TLS handshake failed" : "TLS", why);
		return -1;
	}
}

/* ---- the answer ------------------------------------------------------- */

static int on_body(const char *p, size_t n, void *ud)
{
	struct conn *c = ud;
	const struct k8s_http_req *req = c->req;

	if (req->on_line != NULL && c->hp.status == 200) {
		c->line_fail = k8s_linesplit_feed(&c->ls, p, n, req->on_line, req->line_ud);
		return c->line_fail;
	}
	if (n > c->max || c->body.len > c->max - n) {
		c->too_large = 1;
		return 1;
	}
	if (k8s_buf_append(&c->body, p, n) != 0) {
		c->body_oom = 1;
		return 1;
	}
	return 0;
}

static int read_answer(struct conn *c)
{
	char buf[16384];
	int ret = K8S_OK;

	for (;;) {
		int got = 0, r, pr;
		size_t used;

		/* a peer that never lets a read wait still meets the deadline,
		 * and a stream that never pauses still sees its stop flag */
		if ((ret = still_on(c, mono_ms())) != K8S_OK)
			break;
		r = ssl_op(c, OP_READ, buf, sizeof(buf), &got);
		if (r < 0) {
			ret = c->err->status;
			break;
		}
		pr = r == 0 ? k8s_http_parser_eof(&c->hp) : k8s_http_parser_feed(&c->hp, buf, (size_t)got, &used);
		if (!c->in_body && k8s_http_parser_in_body(&c->hp)) {
			c->in_body = 1;
			c->deadline = c->body_deadline;
			c->cur_timeout_ms = c->timeout_ms;
		}
		if (pr == K8S_HP_MORE)
			continue;
		if (pr == K8S_HP_DONE)
			break;
		if (pr == K8S_HP_BAD && r == 0) {
			/* the parser refuses a clean end only where the answer is
			 * not whole yet */
			ret = k8s_err_set(c->err, K8S_UNAVAILABLE, "answer cut short", "%s: the connection ended %s",
					  c->req->url, strcmp(c->hp.why, "no answer") == 0 ? "before an answer"
											   : "inside the answer");
		} else if (pr == K8S_HP_BAD) {
			ret = k8s_err_set(c->err, K8S_UNAVAILABLE, "malformed answer", "%s: malformed HTTP answer: %s",
					  c->req->url, c->hp.why);
		} else if (c->too_large) {
			ret = k8s_err_set(c->err, K8S_UNAVAILABLE, "response too large",
					  "%s: response larger than %zu bytes", c->req->url, c->max);
		} else if (c->body_oom || c->line_fail == -2) {
			ret = k8s_err_oom(c->err, "%s: storing the response", c->req->url);
		} else if (c->line_fail == -1) {
			ret = k8s_err_set(c->err, K8S_UNAVAILABLE, "line too long",
					  "%s: a streamed line longer than %zu bytes", c->req->url, c->ls.max);
		} else {
			ret = k8s_err_set(c->err, K8S_UNAVAILABLE, "stream stopped",
					  "%s: the stream's reader stopped it", c->req->url);
		}
		break;
	}
	explicit_bzero(buf, sizeof(buf));
	return ret;
}

/* ---- the request ------------------------------------------------------ */

static int printable_ascii(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return 0;
	return 1;
}

static int check_req(const struct k8s_http_req *req, struct k8s_err *err)
{
	if (req == NULL || req->url == NULL || req->method == NULL)
		return k8s_err_set(err, K8S_ECONFIG, "bad request", "k8s_http_do: no URL or method");
	if (strncasecmp(req->url, "https://", 8) != 0)
		return k8s_err_set(err, K8S_ECONFIG, "https required",
				   "%s: only https URLs are allowed", req->url);
	/* user:password@ in a URL would be a credential in every error
	 * message. */
	if (strchr(req->url + 8, '@') != NULL &&
	    strchr(req->url + 8, '@') < req->url + 8 + strcspn(req->url + 8, "/?#"))
		return k8s_err_set(err, K8S_ECONFIG, "bad request",
				   "k8s_http_do: credentials in the URL are not allowed");
	if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "POST") != 0)
		return k8s_err_set(err, K8S_ECONFIG, "bad request",
				   "k8s_http_do: unsupported method %s", req->method);
	if ((req->bearer != NULL && strpbrk(req->bearer, "\r\n") != NULL) ||
	    (req->content_type != NULL && strpbrk(req->content_type, "\r\n") != NULL) ||
	    (req->accept != NULL && strpbrk(req->accept, "\r\n") != NULL))
		return k8s_err_set(err, K8S_ECONFIG, "bad request",
				   "k8s_http_do: header value contains a line break");
	if (req->tls_server_name != NULL && *req->tls_server_name != '\0' &&
	    (strpbrk(req->tls_server_name, ":/@") != NULL || !printable_ascii(req->tls_server_name) ||
	     !name_shape_ok(req->tls_server_name)))
		return k8s_err_set(err, K8S_ECONFIG, "bad request", "%s: cannot apply tls-server-name %s",
				   req->url, req->tls_server_name);
	return K8S_OK;
}

static int build_request(const struct k8s_http_req *req, const struct url *u, struct k8s_buf *b)
{
	int post = strcmp(req->method, "POST") == 0;

	if (k8s_buf_printf(b, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: pam-k8s/" K8S_VERSION "\r\n",
			   req->method, u->target, u->authority) != 0 ||
	    (req->bearer != NULL && (k8s_buf_append(b, "Authorization: Bearer ", 22) != 0 ||
				     k8s_buf_append(b, req->bearer, strlen(req->bearer)) != 0 ||
				     k8s_buf_append(b, "\r\n", 2) != 0)) ||
	    k8s_buf_printf(b, "Accept: %s\r\n", req->accept != NULL ? req->accept : "*/*") != 0 ||
	    (post && req->content_type != NULL && k8s_buf_printf(b, "Content-Type: %s\r\n", req->content_type) != 0) ||
	    (post && k8s_buf_printf(b, "Content-Length: %zu\r\n", req->body != NULL ? req->body_len : 0) != 0) ||
	    k8s_buf_append(b, "Connection: close\r\n\r\n", 21) != 0 ||
	    (post && req->body != NULL && k8s_buf_append(b, req->body, req->body_len) != 0))
		return -1;
	return 0;
}

static int exchange(struct conn *c)
{
	struct k8s_buf rq = {0};
	size_t off = 0;
	int rc;

	if ((rc = do_connect(c)) != K8S_OK || (rc = tls_setup(c)) != K8S_OK)
		return rc;
	if (ssl_op(c, OP_CONNECT, NULL, 0, NULL) != 1)
		return c->err->status;
	if (build_request(c->req, &c->url, &rq) != 0) {
		k8s_buf_free(&rq);
		return k8s_err_oom(c->err, "%s: building the request", c->req->url);
	}
	while (off < rq.len) {
		size_t n = rq.len - off;
		int w = 0;

		if (ssl_op(c, OP_WRITE, rq.data + off, n > INT_MAX ? INT_MAX : (int)n, &w) != 1) {
			k8s_buf_free(&rq);
			return c->err->status;
		}
		off += (size_t)w;
	}
	k8s_buf_free(&rq);
	return read_answer(c);
}

int k8s_http_do(const struct k8s_http_req *req, struct k8s_http_resp *resp, struct k8s_err *err)
{
	struct k8s_err scratch = {0};
	struct conn c;
	int ret, u;

	if (err == NULL)
		err = &scratch;
	memset(resp, 0, sizeof(*resp));
	resp->retry_after = -1;
	if ((ret = check_req(req, err)) != K8S_OK)
		return ret;
	memset(&c, 0, sizeof(c));
	c.fd = -1;
	c.req = req;
	c.err = err;
	c.timeout_ms = req->timeout_ms > 0 ? req->timeout_ms : HTTP_DEFAULT_TIMEOUT_MS;
	c.body_deadline = mono_ms() + c.timeout_ms;
	c.deadline = c.body_deadline;
	c.cur_timeout_ms = c.timeout_ms;
	if (req->head_timeout_ms > 0 && req->head_timeout_ms < c.timeout_ms) {
		c.deadline = mono_ms() + req->head_timeout_ms;
		c.cur_timeout_ms = req->head_timeout_ms;
	}
	c.last_tick = mono_ms();
	c.max = req->max_body ? req->max_body : HTTP_DEFAULT_MAX_BODY;
	c.ls.max = req->max_line ? req->max_line : HTTP_DEFAULT_MAX_BODY;
	k8s_http_parser_init(&c.hp, on_body, &c);
	if ((u = url_parse(req->url, &c.url)) != 0) {
		ret = u == -2 ? k8s_err_oom(err, "%s", req->url)
			      : k8s_err_set(err, K8S_ECONFIG, "bad request", "%s: not a usable https URL", req->url);
		goto out;
	}
	if (pthread_once(&ssl_once, ssl_load) != 0 || !ssl_ready) {
		ret = k8s_err_set(err, K8S_UNAVAILABLE, "request failed",
				  ossl.SSL_new == NULL ? "cannot load " LIBSSL_SONAME " (Debian package libssl3)"
						       : "OpenSSL initialisation failed");
		goto out;
	}
	ret = exchange(&c);
	if (ret == K8S_OK) {
		if (c.body.data == NULL && k8s_buf_append(&c.body, "", 0) != 0) {
			ret = k8s_err_oom(err, "%s", req->url);
			goto out;
		}
		resp->status = c.hp.status;
		resp->date = c.hp.date;
		resp->retry_after = c.hp.retry_after;
		resp->body = c.body.data;
		resp->body_len = c.body.len;
		c.body.data = NULL;
		c.body.len = c.body.cap = 0;
	}
out:
	if (c.ssl != NULL) {
		/* no close_notify wait: the connection is ours alone */
		ossl.SSL_free(c.ssl);
	}
	if (c.ctx != NULL)
		ossl.SSL_CTX_free(c.ctx);
	if (ossl.ERR_clear_error != NULL)
		ossl.ERR_clear_error();
	if (c.fd >= 0)
		close(c.fd);
	k8s_http_parser_wipe(&c.hp);
	k8s_buf_free(&c.body);
	k8s_linesplit_free(&c.ls);
	url_free(&c.url);
	return ret;
}

void k8s_http_warm(void)
{
	SSL_CTX *ctx;

	if (pthread_once(&ssl_once, ssl_load) != 0 || !ssl_ready)
		return;
	ctx = ossl.SSL_CTX_new(ossl.TLS_client_method());
	if (ctx != NULL)
		ossl.SSL_CTX_free(ctx);
	ossl.ERR_clear_error();
}

void k8s_http_resp_free(struct k8s_http_resp *resp)
{
	if (resp == NULL)
		return;
	if (resp->body != NULL)
		k8s_freezero(resp->body, resp->body_len + 1);
	memset(resp, 0, sizeof(*resp));
}
