/* http.c: every HTTPS request pam-k8s makes goes through k8s_http_do().
 *
 * We run inside PAM, i.e. inside somebody else's (possibly threaded,
 * possibly setuid) process: no signals, no environment proxies, no
 * redirects, no shared curl state, and a hard deadline on the whole
 * request.  Secrets we hand to libcurl (bearer header, client key, request
 * body) are passed by reference wherever libcurl allows it, so the only
 * copies we own are the ones we wipe.  libcurl's own transient copy of the
 * serialized request headers is outside our control. */
#include "http.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

/* libcurl is loaded on first use (dlopen), not linked: only the network
 * path pays for libcurl and the ~30 libraries it pulls in; a login decided
 * from the JWKS cache or the review cache never loads it.  The plain
 * prototypes (no type-checking macros) are what the pointers below take. */
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>

#include <openssl/crypto.h> /* OPENSSL_INIT_NO_ATEXIT only: nothing of libcrypto is linked */

#include "dl.h"
#include "util.h"

#define LIBCURL_SONAME "libcurl.so.4"

static void *libcurl;

static struct {
	CURLcode (*global_init)(long);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_perform)(CURL *);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	void (*easy_cleanup)(CURL *);
	const char *(*easy_strerror)(CURLcode);
	void (*free_)(void *);
	CURLU *(*url)(void);
	CURLUcode (*url_set)(CURLU *, CURLUPart, const char *, unsigned int);
	CURLUcode (*url_get)(const CURLU *, CURLUPart, char **, unsigned int);
	void (*url_cleanup)(CURLU *);
	time_t (*getdate)(const char *, const time_t *);
} lc;

#undef curl_easy_setopt
#undef curl_easy_getinfo
#define curl_global_init   (*lc.global_init)
#define curl_easy_init     (*lc.easy_init)
#define curl_easy_setopt   (*lc.easy_setopt)
#define curl_easy_perform  (*lc.easy_perform)
#define curl_easy_getinfo  (*lc.easy_getinfo)
#define curl_easy_cleanup  (*lc.easy_cleanup)
#define curl_easy_strerror (*lc.easy_strerror)
#define curl_free          (*lc.free_)
#define curl_url           (*lc.url)
#define curl_url_set       (*lc.url_set)
#define curl_url_get       (*lc.url_get)
#define curl_url_cleanup   (*lc.url_cleanup)
#define curl_getdate       (*lc.getdate)

#define LC(field, name) { name, (void **)&lc.field }
static const struct k8s_dl_sym lc_syms[] = {
	LC(global_init, "curl_global_init"),   LC(easy_init, "curl_easy_init"),
	LC(easy_setopt, "curl_easy_setopt"),   LC(easy_perform, "curl_easy_perform"),
	LC(easy_getinfo, "curl_easy_getinfo"), LC(easy_cleanup, "curl_easy_cleanup"),
	LC(easy_strerror, "curl_easy_strerror"), LC(free_, "curl_free"),
	LC(url, "curl_url"),                   LC(url_set, "curl_url_set"),
	LC(url_get, "curl_url_get"),           LC(url_cleanup, "curl_url_cleanup"),
	LC(getdate, "curl_getdate"),
};
#undef LC

#define HTTP_DEFAULT_MAX_BODY   (1024 * 1024)
#define HTTP_DEFAULT_TIMEOUT_MS 5000L

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;
static int curl_missing;  /* libcurl.so.4 could not be loaded */

static void curl_init_once(void)
{
	int (*ossl_init)(uint64_t, const void *);

	/* Never cleaned up: the helper and the CLI are short-lived, and
	 * libcurl >= 7.84 makes this thread-safe. */
	libcurl = k8s_dl_load(LIBCURL_SONAME, lc_syms, sizeof(lc_syms) / sizeof(lc_syms[0]));
	if (libcurl == NULL) {
		curl_missing = 1;
		curl_init_rc = CURLE_FAILED_INIT;
		return;
	}
	/* The OpenSSL under libcurl: no exit-time teardown of its tables
	 * (pure cost in a process per PAM call).  Found through libcurl's
	 * own dependencies; if it is not there, the teardown just runs. */
	*(void **)&ossl_init = dlsym(libcurl, "OPENSSL_init_crypto");
	if (ossl_init != NULL)
		(void)ossl_init(OPENSSL_INIT_NO_ATEXIT, NULL);
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct sink {
	struct k8s_buf buf;
	size_t max;
	int too_large;
	time_t date;    /* the last answer's Date header, 0 = none */
	long retry_after;
	CURL *c;
	const struct k8s_http_req *req;
	struct k8s_linesplit ls;
	int line_fail;  /* -1 too long, -2 OOM, else on_line's nonzero */
};

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

static size_t sink_write(char *p, size_t size, size_t nmemb, void *ud)
{
	struct sink *s = ud;
	size_t n = size * nmemb;
	long code = 0;

	if (s->req->on_line != NULL && curl_easy_getinfo(s->c, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK &&
	    code == 200) {
		s->line_fail = k8s_linesplit_feed(&s->ls, p, n, s->req->on_line, s->req->line_ud);
		return s->line_fail == 0 ? n : 0;
	}
	if (n > s->max || s->buf.len > s->max - n) {
		s->too_large = 1;
		return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
	}
	if (k8s_buf_append(&s->buf, p, n) != 0)
		return 0;
	return n;
}

/* Response header lines: only Date is kept (k8s-auth status compares the
 * host's clock with the apiserver's).  A status line starts a new answer
 * (an interim 1xx), whose Date does not count. */
static size_t header_line(char *p, size_t size, size_t nmemb, void *ud)
{
	struct sink *s = ud;
	size_t n = size * nmemb, i;
	char v[64];

	if (n >= 5 && strncmp(p, "HTTP/", 5) == 0) {
		s->date = 0;
		s->retry_after = -1;
	} else if (n > 12 && strncasecmp(p, "Retry-After:", 12) == 0) {
		for (i = 12; i < n && (p[i] == ' ' || p[i] == '\t'); i++)
			;
		while (n > i && (p[n - 1] == '\r' || p[n - 1] == '\n' || p[n - 1] == ' '))
			n--;
		if (n - i > 0 && n - i < sizeof(v)) {
			char *end;
			long secs;

			memcpy(v, p + i, n - i);
			v[n - i] = '\0';
			secs = strtol(v, &end, 10);
			if (v[0] >= '0' && v[0] <= '9' && *end == '\0' && secs >= 0) {
				s->retry_after = secs > 86400 ? 86400 : secs;
			} else {
				time_t t = curl_getdate(v, NULL), now = time(NULL);

				if (t > 0)
					s->retry_after = t > now ? (long)(t - now > 86400 ? 86400 : t - now) : 0;
			}
		}
	} else if (n > 5 && strncasecmp(p, "Date:", 5) == 0) {
		for (i = 5; i < n && (p[i] == ' ' || p[i] == '\t'); i++)
			;
		while (n > i && (p[n - 1] == '\r' || p[n - 1] == '\n' || p[n - 1] == ' '))
			n--;
		if (n - i > 0 && n - i < sizeof(v)) {
			memcpy(v, p + i, n - i);
			v[n - i] = '\0';
			s->date = curl_getdate(v, NULL);
			if (s->date < 0)
				s->date = 0;
		}
	}
	return size * nmemb;
}

/* Header list nodes owned by us (not curl_slist_append, which strdup()s and
 * frees without wiping): libcurl only reads the list. */
#define HTTP_MAX_HEADERS 8
struct hdrs {
	struct curl_slist node[HTTP_MAX_HEADERS];
	size_t n;
	struct k8s_buf auth;  /* "Authorization: Bearer ..." (secret) */
	struct k8s_buf other; /* NUL-separated plain headers */
	size_t other_off[HTTP_MAX_HEADERS];
	size_t n_other;
};

/* value NULL = "Name:", which tells libcurl not to send its own. */
static int hdrs_add(struct hdrs *h, const char *name, const char *value)
{
	if (h->n_other >= HTTP_MAX_HEADERS)
		return -1;
	h->other_off[h->n_other] = h->other.len;
	if (k8s_buf_printf(&h->other, "%s:", name) != 0 ||
	    (value != NULL && k8s_buf_printf(&h->other, " %s", value) != 0) ||
	    k8s_buf_append(&h->other, "", 1) != 0)
		return -1;
	h->n_other++;
	return 0;
}

/* Link the nodes only once every string is in place: the buffers may move
 * while they grow. */
static struct curl_slist *hdrs_link(struct hdrs *h)
{
	size_t i;

	h->n = 0;
	if (h->auth.data != NULL && h->n < HTTP_MAX_HEADERS)
		h->node[h->n++].data = h->auth.data;
	for (i = 0; i < h->n_other && h->n < HTTP_MAX_HEADERS; i++)
		h->node[h->n++].data = h->other.data + h->other_off[i];
	for (i = 0; i < h->n; i++)
		h->node[i].next = i + 1 < h->n ? &h->node[i + 1] : NULL;
	return h->n > 0 ? &h->node[0] : NULL;
}

static void hdrs_free(struct hdrs *h)
{
	k8s_buf_free(&h->auth);
	k8s_buf_free(&h->other);
	memset(h, 0, sizeof(*h));
}

static int build_headers(const struct k8s_http_req *req, const char *host_hdr, struct hdrs *h)
{
	if (req->bearer != NULL &&
	    (k8s_buf_append(&h->auth, "Authorization: Bearer ", 22) != 0 ||
	     k8s_buf_append(&h->auth, req->bearer, strlen(req->bearer)) != 0))
		return -1;
	/* No "Expect: 100-continue" round trip: it only adds latency. */
	if (hdrs_add(h, "Expect", NULL) != 0)
		return -1;
	if (req->content_type != NULL && hdrs_add(h, "Content-Type", req->content_type) != 0)
		return -1;
	if (req->accept != NULL && hdrs_add(h, "Accept", req->accept) != 0)
		return -1;
	if (host_hdr != NULL && hdrs_add(h, "Host", host_hdr) != 0)
		return -1;
	return 0;
}

/* tls_server_name: libcurl 7.88 has no SNI override, so the URL's host is
 * replaced by tls_server_name (SNI and certificate check use it) and
 * CURLOPT_CONNECT_TO sends the connection to the original host:port.  The
 * Host header keeps the original authority, as kubectl does. */
struct sni {
	char *url;
	char *host_hdr;
	struct curl_slist connect_to;
	char *connect_to_str;
};

static void sni_free(struct sni *s)
{
	/* set only once libcurl is loaded: without it curl_free is NULL */
	if (s->url != NULL)
		curl_free(s->url);
	free(s->host_hdr);
	free(s->connect_to_str);
	memset(s, 0, sizeof(*s));
}

static int sni_setup(const char *url, const char *server_name, struct sni *s)
{
	CURLU *u = curl_url();
	char *host = NULL, *port = NULL;
	struct k8s_buf b = {0};
	int ret = -1;

	if (u == NULL || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK)
		goto out;
	if (strchr(server_name, ':') != NULL || strchr(server_name, '/') != NULL ||
	    strchr(server_name, '@') != NULL || *server_name == '\0')
		goto out;
	if (k8s_buf_printf(&b, "%s:%s:%s:%s", server_name, port, host, port) != 0)
		goto out;
	s->connect_to_str = b.data;
	b.data = NULL;
	s->connect_to.data = s->connect_to_str;
	s->connect_to.next = NULL;
	if (asprintf(&s->host_hdr, "%s:%s", host, port) < 0) {
		s->host_hdr = NULL;
		goto out;
	}
	if (curl_url_set(u, CURLUPART_HOST, server_name, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_URL, &s->url, 0) != CURLUE_OK)
		goto out;
	ret = 0;
out:
	k8s_buf_free(&b);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return ret;
}

struct setup {
	const struct k8s_http_req *req;
	const char *url;
	struct curl_slist *headers;
	struct curl_slist *connect_to;
	struct sink *sink;
	char *errbuf;
	long timeout_ms;
};

static int setopt_tls(CURL *c, const struct k8s_http_req *req)
{
	struct curl_blob ca, cert, key;
	int bad = 0;

	bad |= curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, req->insecure ? 0L : 1L) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, req->insecure ? 0L : 2L) != CURLE_OK;
	if (req->ca_pem != NULL) {
		/* Only the given CA: Debian's libcurl also has a default CA
		 * path, which CAINFO_BLOB alone would not switch off. */
		ca.data = (void *)req->ca_pem;
		ca.len = req->ca_pem_len ? req->ca_pem_len : strlen(req->ca_pem);
		ca.flags = CURL_BLOB_COPY;
		bad |= curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &ca) != CURLE_OK;
		bad |= curl_easy_setopt(c, CURLOPT_CAINFO, (char *)NULL) != CURLE_OK;
		bad |= curl_easy_setopt(c, CURLOPT_CAPATH, (char *)NULL) != CURLE_OK;
	}
	if (req->client_cert_pem != NULL) {
		cert.data = (void *)req->client_cert_pem;
		cert.len = req->client_cert_len ? req->client_cert_len : strlen(req->client_cert_pem);
		cert.flags = CURL_BLOB_COPY;
		bad |= curl_easy_setopt(c, CURLOPT_SSLCERT_BLOB, &cert) != CURLE_OK;
		bad |= curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM") != CURLE_OK;
	}
	if (req->client_key_pem != NULL) {
		/* NOCOPY: the caller owns (and wipes) the only copy of the key. */
		key.data = (void *)req->client_key_pem;
		key.len = req->client_key_len ? req->client_key_len : strlen(req->client_key_pem);
		key.flags = CURL_BLOB_NOCOPY;
		bad |= curl_easy_setopt(c, CURLOPT_SSLKEY_BLOB, &key) != CURLE_OK;
		bad |= curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM") != CURLE_OK;
	}
	return bad ? -1 : 0;
}

/* libcurl (7.88) opens its sockets without close-on-exec: inside a
 * threaded PAM application, a fork and exec elsewhere while a request is
 * under way would hand the connection to the apiserver on. */
static curl_socket_t open_socket(void *data, curlsocktype purpose, struct curl_sockaddr *a)
{
	(void)data;
	(void)purpose;
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

/* A stream's connection: 3 unanswered keepalive probes (not the kernel's
 * 9) end it, so a dead peer or a path that silently dropped the
 * connection is noticed 30 + 3 * 10 = 60 s after it last spoke (libcurl
 * 7.88 has no option for the count). */
static int stream_sockopt(void *data, curl_socket_t fd, curlsocktype purpose)
{
	int cnt = 3;

	(void)data;
	if (purpose == CURLSOCKTYPE_IPCXN)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	return CURL_SOCKOPT_OK;
}

static int xfer_stop(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	const struct k8s_http_req *req = ud;

	(void)dt, (void)dn, (void)ut, (void)un;
	if (req->stop != NULL && *req->stop)
		return 1;
	return req->alive != NULL && !req->alive(req->line_ud) ? 1 : 0;
}

static int setopt_all(CURL *c, const struct setup *s)
{
	const struct k8s_http_req *req = s->req;
	int bad = 0;

	bad |= curl_easy_setopt(c, CURLOPT_URL, s->url) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https") != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https") != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_MAXREDIRS, 0L) != CURLE_OK;
	/* Proxies in the environment belong to whoever called su/login. */
	bad |= curl_easy_setopt(c, CURLOPT_PROXY, "") != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_NOPROXY, "*") != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_VERBOSE, 0L) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_NETRC, (long)CURL_NETRC_IGNORED) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_socket) != CURLE_OK;
	/* One request per connection; HTTP/1.1 keeps the parser surface small. */
	bad |= curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, s->timeout_ms) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, s->timeout_ms) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)s->sink->max) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_USERAGENT, "pam-k8s/" K8S_VERSION) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_ERRORBUFFER, s->errbuf) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink_write) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_WRITEDATA, s->sink) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_line) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_HEADERDATA, s->sink) != CURLE_OK;
	if (s->headers != NULL)
		bad |= curl_easy_setopt(c, CURLOPT_HTTPHEADER, s->headers) != CURLE_OK;
	if (req->stop != NULL || (req->on_line != NULL && req->alive != NULL)) {
		bad |= curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, xfer_stop) != CURLE_OK;
		bad |= curl_easy_setopt(c, CURLOPT_XFERINFODATA, (void *)req) != CURLE_OK;
		bad |= curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L) != CURLE_OK;
	}
	if (req->on_line != NULL) {
		/* a watch is quiet for minutes: find a dead peer */
		bad |= curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L) != CURLE_OK;
		bad |= curl_easy_setopt(c, CURLOPT_TCP_KEEPIDLE, 30L) != CURLE_OK;
		bad |= curl_easy_setopt(c, CURLOPT_TCP_KEEPINTVL, 10L) != CURLE_OK;
		bad |= curl_easy_setopt(c, CURLOPT_SOCKOPTFUNCTION, stream_sockopt) != CURLE_OK;
	}
	if (s->connect_to != NULL)
		bad |= curl_easy_setopt(c, CURLOPT_CONNECT_TO, s->connect_to) != CURLE_OK;
	if (strcmp(req->method, "POST") == 0) {
		/* POSTFIELDS does not copy: the body (token inside) stays ours. */
		bad |= curl_easy_setopt(c, CURLOPT_POST, 1L) != CURLE_OK;
		bad |= curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body ? req->body : "") != CURLE_OK;
		bad |= curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
					(curl_off_t)(req->body ? req->body_len : 0)) != CURLE_OK;
	} else {
		bad |= curl_easy_setopt(c, CURLOPT_HTTPGET, 1L) != CURLE_OK;
	}
	if (setopt_tls(c, req) != 0)
		bad = 1;
	return bad ? -1 : 0;
}

static int map_curl_error(CURLcode rc, const struct setup *s, struct k8s_err *err)
{
	const char *why = s->errbuf[0] != '\0' ? s->errbuf : curl_easy_strerror(rc);
	const char *host = s->req->url;

	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		return k8s_err_set(err, K8S_UNAVAILABLE, "timeout",
				   "%s: no answer within the timeout after %ld ms", host, s->timeout_ms);
	case CURLE_COULDNT_RESOLVE_HOST:
		return k8s_err_set(err, K8S_UNAVAILABLE, "connection failed",
				   "%s: could not resolve host: %s", host, why);
	case CURLE_COULDNT_CONNECT:
		return k8s_err_set(err, K8S_UNAVAILABLE, "connection failed",
				   "%s: connect refused or unreachable: %s", host, why);
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
		return k8s_err_set(err, K8S_UNAVAILABLE, K8S_REASON_TLS_VERIFY,
				   "%s: TLS verification failed: %s", host, why);
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_CRL_BADFILE:
		return k8s_err_set(err, K8S_UNAVAILABLE, "TLS handshake failed",
				   "%s: TLS handshake failed: %s", host, why);
	case CURLE_FILESIZE_EXCEEDED:
		return k8s_err_set(err, K8S_UNAVAILABLE, "response too large",
				   "%s: response larger than %zu bytes", host, s->sink->max);
	case CURLE_WRITE_ERROR:
		if (s->sink->too_large)
			return k8s_err_set(err, K8S_UNAVAILABLE, "response too large",
					   "%s: response larger than %zu bytes", host, s->sink->max);
		return k8s_err_oom(err, "%s: storing the response", host);
	case CURLE_UNSUPPORTED_PROTOCOL:
		return k8s_err_set(err, K8S_ECONFIG, "https required", "%s: only https URLs are allowed", host);
	default:
		return k8s_err_set(err, K8S_UNAVAILABLE, "request failed",
				   "%s: %s (curl error %d)", host, why, (int)rc);
	}
}

static int check_req(const struct k8s_http_req *req, struct k8s_err *err)
{
	if (req == NULL || req->url == NULL || req->method == NULL)
		return k8s_err_set(err, K8S_ECONFIG, "bad request", "k8s_http_do: no URL or method");
	if (strncasecmp(req->url, "https://", 8) != 0)
		return k8s_err_set(err, K8S_ECONFIG, "https required",
				   "%s: only https URLs are allowed", req->url);
	/* user:password@ in a URL would be sent as Basic auth and shown in
	 * every error message. */
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
	return K8S_OK;
}

/* Runs the transfer and, on success, moves the body into resp. */
static int perform(CURL *c, struct setup *s, struct k8s_http_resp *resp, struct k8s_err *err)
{
	CURLcode rc;
	long code = 0;

	if (setopt_all(c, s) != 0)
		return k8s_err_set(err, K8S_UNAVAILABLE, "request failed",
				   "%s: libcurl refused an option (unsupported build?)", s->req->url);
	rc = curl_easy_perform(c);
	if (rc == CURLE_ABORTED_BY_CALLBACK && s->req->stop != NULL && *s->req->stop)
		return k8s_err_set(err, K8S_UNAVAILABLE, "stopped", "%s: stopped", s->req->url);
	if (rc == CURLE_ABORTED_BY_CALLBACK && s->req->alive != NULL)
		return k8s_err_set(err, K8S_UNAVAILABLE, "stream stalled", "%s: nothing from the server for too long",
				   s->req->url);
	if (rc == CURLE_ABORTED_BY_CALLBACK)
		return k8s_err_set(err, K8S_UNAVAILABLE, "stopped", "%s: stopped", s->req->url);
	if (rc == CURLE_WRITE_ERROR && s->sink->line_fail == -1)
		return k8s_err_set(err, K8S_UNAVAILABLE, "line too long",
				   "%s: a streamed line longer than %zu bytes", s->req->url, s->sink->ls.max);
	if (rc == CURLE_WRITE_ERROR && s->sink->line_fail != 0)
		return k8s_err_set(err, K8S_UNAVAILABLE, s->sink->line_fail == -2 ? "out of memory" : "stream stopped",
				   "%s: the stream's reader stopped it", s->req->url);
	if (rc != CURLE_OK)
		return map_curl_error(rc, s, err);
	if (curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK || code <= 0)
		return k8s_err_set(err, K8S_UNAVAILABLE, "request failed",
				   "%s: no HTTP status in the answer", s->req->url);
	if (s->sink->buf.data == NULL && k8s_buf_append(&s->sink->buf, "", 0) != 0)
		return k8s_err_oom(err, "%s", s->req->url);
	resp->status = code;
	resp->date = s->sink->date;
	resp->retry_after = s->sink->retry_after;
	resp->body = s->sink->buf.data;
	resp->body_len = s->sink->buf.len;
	s->sink->buf.data = NULL;
	s->sink->buf.len = s->sink->buf.cap = 0;
	return K8S_OK;
}

int k8s_http_do(const struct k8s_http_req *req, struct k8s_http_resp *resp, struct k8s_err *err)
{
	char errbuf[CURL_ERROR_SIZE];
	struct sink sink = {0};
	struct hdrs hdrs;
	struct sni sni;
	struct setup s;
	CURL *c = NULL;
	int ret;

	memset(resp, 0, sizeof(*resp));
	resp->retry_after = -1;
	memset(&hdrs, 0, sizeof(hdrs));
	memset(&sni, 0, sizeof(sni));
	memset(&s, 0, sizeof(s));
	errbuf[0] = '\0';
	if ((ret = check_req(req, err)) != K8S_OK)
		goto out;
	if (pthread_once(&curl_once, curl_init_once) != 0 || curl_init_rc != CURLE_OK ||
	    (c = curl_easy_init()) == NULL) {
		ret = k8s_err_set(err, K8S_UNAVAILABLE, "request failed",
				  curl_missing ? "cannot load " LIBCURL_SONAME " (Debian package libcurl4)"
					       : "libcurl initialisation failed");
		goto out;
	}
	s.req = req;
	s.url = req->url;
	s.errbuf = errbuf;
	s.sink = &sink;
	s.timeout_ms = req->timeout_ms > 0 ? req->timeout_ms : HTTP_DEFAULT_TIMEOUT_MS;
	sink.max = req->max_body ? req->max_body : HTTP_DEFAULT_MAX_BODY;
	sink.retry_after = -1;
	sink.c = c;
	sink.req = req;
	sink.ls.max = req->max_line ? req->max_line : HTTP_DEFAULT_MAX_BODY;
	if (req->tls_server_name != NULL && *req->tls_server_name != '\0') {
		if (sni_setup(req->url, req->tls_server_name, &sni) != 0) {
			ret = k8s_err_set(err, K8S_ECONFIG, "bad request",
					  "%s: cannot apply tls-server-name %s", req->url,
					  req->tls_server_name);
			goto out;
		}
		s.url = sni.url;
		s.connect_to = &sni.connect_to;
	}
	if (build_headers(req, sni.host_hdr, &hdrs) != 0) {
		ret = k8s_err_oom(err, "%s: building headers", req->url);
		goto out;
	}
	s.headers = hdrs_link(&hdrs);
	ret = perform(c, &s, resp, err);
out:
	if (c != NULL)
		curl_easy_cleanup(c);
	explicit_bzero(errbuf, sizeof(errbuf));
	k8s_buf_free(&sink.buf);
	k8s_linesplit_free(&sink.ls);
	hdrs_free(&hdrs);
	sni_free(&sni);
	return ret;
}

void k8s_http_resp_free(struct k8s_http_resp *resp)
{
	if (resp == NULL)
		return;
	if (resp->body != NULL)
		k8s_freezero(resp->body, resp->body_len + 1);
	memset(resp, 0, sizeof(*resp));
}
