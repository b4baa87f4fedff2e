/* email: alert mail over SMTP through libcurl: STARTTLS (or implicit TLS on
 * smtps://) with certificate checks, optional AUTH. One RFC 5322 message per
 * notification, multipart/alternative with a plain-text and an HTML part.
 * Updates and the resolve reply in the thread of the first mail: its
 * Message-ID is returned as the notification's ref and sent back as
 * In-Reply-To and References. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "../lib/utf8.h"
#include "../lib/log.h"
#include "../lib/secret.h"
#include "../lib/timefmt.h"
#include "../lib/xmalloc.h"
#include "http.h"
#include "notifier.h"
#include "template.h"

#define EMAIL_RCPT_MAX 100
#define EMAIL_MEMBERS_MAX 50     /* alerts rendered in one mail */
#define EMAIL_SUBJECT_CHARS 200
#define EMAIL_ADDR_MAX 254       /* RFC 5321 path limit */

enum email_tls { TLS_STARTTLS = 0, TLS_NONE, TLS_TRY };

struct email_config {
    char *smtp_url;
    int tls;                 /* enum email_tls */
    char *username;
    char *password_opt;      /* inline option; moved into password by init */
    char *password_file;
    char *from;
    struct kw_string_list to;
    char *ca_file;
    char *subject_prefix;
    char *hello;
    struct kw_template *subject_template; /* NULL = built-in */
    struct kw_template *subject_template_file;
    struct kw_template *body_template;    /* the text part; NULL = built-in */
    struct kw_template *body_template_file;
    struct kw_template *html_template;    /* the HTML part; NULL = built-in, or none with body_template */
    struct kw_template *html_template_file;
    /* Set by init. */
    char *password;
    char *url;               /* smtp_url with hello as its path */
    bool implicit_tls;       /* smtps:// */
    char *mail_from;         /* "<addr>" */
    char *from_header;       /* encoded "Name <addr>" */
    char *to_header;
    char **rcpt;             /* "<addr>" per recipient, to.n of them */
    char host[256];          /* this machine, for the footer */
};

static const char *const email_tls_modes[] = {"starttls", "none", "try", NULL};

static const struct kw_option email_options[] = {
    {"smtp_url", KW_OPT_STRING, NULL, offsetof(struct email_config, smtp_url), KW_NORANGE,
     .desc = "Mail server: smtp://host:587 (STARTTLS, see tls) or smtps://host:465 (implicit TLS)."},
    {"tls", KW_OPT_ENUM, "starttls", offsetof(struct email_config, tls), KW_NORANGE, .choices = email_tls_modes,
     .desc = "smtp:// only. starttls: require TLS, else fail; try: use TLS when offered (the password may go in "
             "clear); none: no TLS, allowed only to a loopback host."},
    {"username", KW_OPT_STRING, "", offsetof(struct email_config, username), KW_NORANGE,
     .desc = "SMTP AUTH user name; empty = no AUTH."},
    {"password", KW_OPT_STRING, "", offsetof(struct email_config, password_opt), KW_NORANGE,
     .desc = "SMTP AUTH password (usually \"${SMTP_PASSWORD}\"); set this or password_file when username is set."},
    {"password_file", KW_OPT_STRING, "", offsetof(struct email_config, password_file), KW_NORANGE,
     .desc = "File holding the SMTP AUTH password."},
    {"from", KW_OPT_STRING, NULL, offsetof(struct email_config, from), KW_NORANGE,
     .desc = "Sender, \"alerts@example.com\" or \"kpiwatch <alerts@example.com>\" (also the envelope sender)."},
    {"to", KW_OPT_CUSTOM, NULL, offsetof(struct email_config, to), KW_NORANGE, .parse = kw_notifier_parse_names,
     .release = kw_opt_release_string_list, .type_name = "list of strings",
     .desc = "Recipients, e.g. [\"oncall@example.com\", \"Team Lead <lead@example.com>\"]; one refused recipient "
             "fails the whole send."},
    {"ca_file", KW_OPT_STRING, "", offsetof(struct email_config, ca_file), KW_NORANGE,
     .desc = "PEM file of CA certificates to trust instead of the system's (a private mail relay)."},
    {"subject_prefix", KW_OPT_STRING, "[kpiwatch]", offsetof(struct email_config, subject_prefix), KW_NORANGE,
     .desc = "Text before every subject, for mail filters."},
    {"hello", KW_OPT_STRING, "", offsetof(struct email_config, hello), KW_NORANGE,
     .desc = "Name sent with EHLO; default the host name."},
    KW_TEMPLATE_OPTIONS("subject_template", struct email_config, subject_template, subject_template_file,
                        "Template of the subject (see Templates), after subject_prefix; one line of at most 200 "
                        "characters."),
    KW_TEMPLATE_OPTIONS("body_template", struct email_config, body_template, body_template_file,
                        "Template of the plain-text body (see Templates). Alone, the mail is that text only; with "
                        "html_template, the two make the text and HTML alternatives."),
    KW_TEMPLATE_OPTIONS("html_template", struct email_config, html_template, html_template_file,
                        "Template of the HTML body (see Templates; values are HTML-escaped), sent with the "
                        "plain-text body (body_template's, or the built-in one)."),
    KW_OPT_END,
};

/* ---- text ------------------------------------------------------------- */

struct sb {
    char *p;
    size_t len, cap;
};

static void sb_addn(struct sb *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->p = xrealloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_add(struct sb *b, const char *s)
{
    sb_addn(b, s, strlen(s));
}

static void sb_printf(struct sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_printf(struct sb *b, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof buf) {
        sb_addn(b, buf, (size_t)n);
        return;
    }
    char *big = xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb_addn(b, big, (size_t)n);
    free(big);
}

/* Data as one clean line (well-formed UTF-8, no control characters). */
static void sb_text(struct sb *b, const char *s)
{
    size_t cap = strlen(s) * 3 + 8;
    char *buf = xmalloc(cap);
    kw_text_clip(buf, cap, s, cap, false);
    sb_add(b, buf);
    free(buf);
}

/* Data as HTML text or attribute value: everything markup-like escaped. */
static void sb_html(struct sb *b, const char *s)
{
    size_t cap = strlen(s) * 3 + 8;
    char *buf = xmalloc(cap);
    kw_text_clip(buf, cap, s, cap, false);
    for (const char *p = buf; *p; p++) {
        switch (*p) {
        case '&': sb_add(b, "&amp;"); break;
        case '<': sb_add(b, "&lt;"); break;
        case '>': sb_add(b, "&gt;"); break;
        case '"': sb_add(b, "&quot;"); break;
        case '\'': sb_add(b, "&#39;"); break;
        default: sb_addn(b, p, 1);
        }
    }
    free(buf);
}

static const char b64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Base64 of data; wrap > 0 breaks lines (CRLF) every wrap characters. */
static void sb_base64(struct sb *b, const unsigned char *data, size_t n, size_t wrap)
{
    size_t col = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)data[i + 1] << 8;
        if (i + 2 < n)
            v |= data[i + 2];
        char q[4] = {b64_alphabet[v >> 18 & 63], b64_alphabet[v >> 12 & 63],
                     i + 1 < n ? b64_alphabet[v >> 6 & 63] : '=', i + 2 < n ? b64_alphabet[v & 63] : '='};
        sb_addn(b, q, 4);
        col += 4;
        if (wrap && col >= wrap && i + 3 < n) {
            sb_add(b, "\r\n");
            col = 0;
        }
    }
}

static bool is_ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80)
            return false;
    return true;
}

/* A header value as RFC 2047 encoded words ("=?UTF-8?B?...?="), each at
 * most 75 characters, folded onto continuation lines and never splitting a
 * character. */
static void sb_encoded_words(struct sb *b, const char *text)
{
    const unsigned char *p = (const unsigned char *)text;
    bool first = true;
    while (*p) {
        size_t take = 0;
        while (p[take]) {
            size_t n = kw_utf8_seq(p + take);
            if (n == 0)
                n = 1; /* text is clean already; never loop */
            if (take + n > 45)  /* 45 bytes -> 60 base64 characters -> a 72-character word */
                break;
            take += n;
        }
        if (!first)
            sb_add(b, "\r\n ");
        sb_add(b, "=?UTF-8?B?");
        sb_base64(b, p, take, 0);
        sb_add(b, "?=");
        p += take;
        first = false;
    }
}

/* ---- addresses ---------------------------------------------------------- */

static bool valid_addr(const char *a)
{
    size_t len = strlen(a);
    const char *at = strchr(a, '@');
    if (len < 3 || len > EMAIL_ADDR_MAX || !at || at == a || !at[1] || strchr(at + 1, '@'))
        return false;
    for (const char *s = a; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch <= 0x20 || ch >= 0x7F || strchr("<>()[]\\,;:\"", ch))
            return false;
    }
    for (const char *s = at + 1; *s; s++)
        if (!(isalnum((unsigned char)*s) || *s == '-' || *s == '.'))
            return false;
    return at[1] != '.' && a[len - 1] != '.';
}

/* Split "Name <addr>" or "addr". Returns 0, or -1 when it is not an address. */
static int split_mailbox(const char *text, char *name, size_t namecap, char *addr, size_t addrcap)
{
    const char *lt = strrchr(text, '<');
    size_t len = strlen(text);
    while (len > 0 && text[len - 1] == ' ')
        len--;
    name[0] = '\0';
    if (lt && len > 0 && text[len - 1] == '>') {
        size_t alen = (size_t)(text + len - 1 - (lt + 1));
        if (alen >= addrcap)
            return -1;
        memcpy(addr, lt + 1, alen);
        addr[alen] = '\0';
        const char *s = text;
        while (*s == ' ')
            s++;
        size_t nlen = (size_t)(lt - s);
        while (nlen > 0 && s[nlen - 1] == ' ')
            nlen--;
        if (nlen >= 2 && s[0] == '"' && s[nlen - 1] == '"') {
            s++;
            nlen -= 2;
        }
        if (nlen >= namecap)
            return -1;
        memcpy(name, s, nlen);
        name[nlen] = '\0';
        for (const char *c = name; *c; c++)
            if ((unsigned char)*c < 0x20 || *c == 0x7F || *c == '"' || *c == '\\')
                return -1;
    } else {
        while (*text == ' ')
            text++, len--;
        if (len >= addrcap)
            return -1;
        memcpy(addr, text, len);
        addr[len] = '\0';
    }
    return valid_addr(addr) ? 0 : -1;
}

/* name and addr as a header mailbox: plain, quoted or encoded as needed. */
static void sb_mailbox(struct sb *b, const char *name, const char *addr)
{
    if (!name[0]) {
        sb_add(b, addr);
        return;
    }
    if (!is_ascii(name)) {
        sb_encoded_words(b, name);
    } else {
        bool plain = true;
        for (const char *s = name; *s; s++)
            plain = plain && (isalnum((unsigned char)*s) || strchr(" !#$%&'*+-/=?^_`{|}~", *s));
        if (plain)
            sb_add(b, name);
        else
            sb_printf(b, "\"%s\"", name); /* split_mailbox refused '"' and '\\' */
    }
    sb_printf(b, " <%s>", addr);
}

/* ---- config ------------------------------------------------------------- */

static bool valid_hello(const char *h)
{
    size_t len = strlen(h);
    if (len == 0 || len > 255)
        return false;
    if (h[0] == '[') /* address literal */
        return len > 2 && h[len - 1] == ']' && strspn(h + 1, "0123456789abcdefABCDEF:.IPvV6") == len - 2;
    return strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.") == len;
}

static void email_release(void *cfg)
{
    struct email_config *c = cfg;
    kw_secret_free(c->password);
    free(c->url);
    free(c->mail_from);
    free(c->from_header);
    free(c->to_header);
    for (int i = 0; c->rcpt && i < c->to.n; i++)
        free(c->rcpt[i]);
    free(c->rcpt);
    c->password = c->url = c->mail_from = c->from_header = c->to_header = NULL;
    c->rcpt = NULL;
}

/* smtp_url and tls: scheme, credentials, hello and the loopback rule. */
static int email_init_url(struct email_config *c, const char *instance, const char *path, char *err, size_t errlen)
{
    char p[KW_ERR_LEN];
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *user = NULL, *urlpath = NULL, *query = NULL, *full = NULL;
    int rc = -1;
    kw_path_key(p, sizeof p, path, "smtp_url");
    if (curl_url_set(u, CURLUPART_URL, c->smtp_url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
        snprintf(err, errlen, "%s: is not a valid URL (smtp://host:587 or smtps://host:465)", p);
        goto out;
    }
    if (strcmp(scheme, "smtp") != 0 && strcmp(scheme, "smtps") != 0) {
        snprintf(err, errlen, "%s: must be smtp:// (STARTTLS) or smtps:// (implicit TLS)", p);
        goto out;
    }
    if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK) {
        snprintf(err, errlen, "%s: must not hold credentials (use username and password)", p);
        goto out;
    }
    curl_url_get(u, CURLUPART_PATH, &urlpath, 0);
    if ((urlpath && strcmp(urlpath, "/") != 0 && urlpath[0]) ||
        curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_OK) {
        snprintf(err, errlen, "%s: must be just scheme://host:port (the EHLO name is the hello option)", p);
        goto out;
    }
    c->implicit_tls = strcmp(scheme, "smtps") == 0;
    if (c->implicit_tls && c->tls != TLS_STARTTLS) {
        snprintf(err, errlen, "%s: \"%s\" does not apply to smtps://, which always uses TLS",
                 kw_path_key(p, sizeof p, path, "tls"), email_tls_modes[c->tls]);
        goto out;
    }
    if (c->tls == TLS_NONE && !kw_http_loopback_host(host)) {
        snprintf(err, errlen, "%s: \"none\" would send mail and password in clear text; it is allowed only to a "
                 "loopback host (got %s)", kw_path_key(p, sizeof p, path, "tls"), host);
        goto out;
    }
    if (c->tls == TLS_TRY && c->username && !kw_http_loopback_host(host)) {
        char component[96];
        snprintf(component, sizeof component, "email/%s", instance ? instance : "?");
        kw_warn(component, "tls \"try\": the password goes in clear text if %s does not offer STARTTLS", host);
    }
    if (c->hello && !valid_hello(c->hello)) {
        snprintf(err, errlen, "%s: must be a host name or an address literal like [192.0.2.1]",
                 kw_path_key(p, sizeof p, path, "hello"));
        goto out;
    }
    /* libcurl sends the URL's path as the EHLO name. */
    char helopath[300];
    snprintf(helopath, sizeof helopath, "/%s", c->hello ? c->hello : "");
    if (curl_url_set(u, CURLUPART_PATH, helopath, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_URL, &full, 0) != CURLUE_OK) {
        snprintf(err, errlen, "%s: cannot be combined with hello", kw_path_key(p, sizeof p, path, "smtp_url"));
        goto out;
    }
    c->url = xstrdup(full);
    rc = 0;
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(user);
    curl_free(urlpath);
    curl_free(query);
    curl_free(full);
    curl_url_cleanup(u);
    return rc;
}

static int email_init(void *cfg, const char *instance, const char *path, char *err, size_t errlen)
{
    struct email_config *c = cfg;
    char p[KW_ERR_LEN], key[KW_ERR_LEN], file_key[KW_ERR_LEN];
    char name[256], addr[EMAIL_ADDR_MAX + 1];
    struct sb to = {0};
    kw_path_key(key, sizeof key, path, "password");
    kw_path_key(file_key, sizeof file_key, path, "password_file");
    bool has_password = (c->password_opt && c->password_opt[0]) || (c->password_file && c->password_file[0]);
    if (!c->username && has_password) {
        snprintf(err, errlen, "%s: is set but username is not", c->password_file ? file_key : key);
        kw_secret_free(c->password_opt);
        c->password_opt = NULL;
        return -1;
    }
    int rc = kw_secret_resolve(c->password_opt, c->password_file, c->username != NULL, key, file_key, &c->password,
                               err, errlen);
    kw_secret_free(c->password_opt); /* keep one copy of the secret only */
    c->password_opt = NULL;
    if (rc)
        return -1;
    if (kw_template_opt_pick(&c->subject_template, &c->subject_template_file, path, "subject_template", err, errlen) ||
        kw_template_opt_pick(&c->body_template, &c->body_template_file, path, "body_template", err, errlen) ||
        kw_template_opt_pick(&c->html_template, &c->html_template_file, path, "html_template", err, errlen))
        goto fail;
    if (c->username && strpbrk(c->username, "\r\n")) {
        snprintf(err, errlen, "%s: must be one line", kw_path_key(p, sizeof p, path, "username"));
        goto fail;
    }
    if (email_init_url(c, instance, path, err, errlen))
        goto fail;
    if (split_mailbox(c->from, name, sizeof name, addr, sizeof addr)) {
        snprintf(err, errlen, "%s: must be an address like alerts@example.com or \"kpiwatch <alerts@example.com>\"",
                 kw_path_key(p, sizeof p, path, "from"));
        goto fail;
    }
    c->mail_from = xmalloc(strlen(addr) + 3);
    sprintf(c->mail_from, "<%s>", addr);
    struct sb from = {0};
    sb_mailbox(&from, name, addr);
    c->from_header = from.p;
    if (c->to.n == 0 || c->to.n > EMAIL_RCPT_MAX) {
        snprintf(err, errlen, "%s: needs 1 to %d recipients", kw_path_key(p, sizeof p, path, "to"), EMAIL_RCPT_MAX);
        goto fail;
    }
    c->rcpt = xcalloc((size_t)c->to.n, sizeof *c->rcpt);
    for (int i = 0; i < c->to.n; i++) {
        if (split_mailbox(c->to.items[i], name, sizeof name, addr, sizeof addr)) {
            char ip[KW_ERR_LEN];
            snprintf(err, errlen, "%s: must be an address like oncall@example.com or \"Name <oncall@example.com>\"",
                     kw_path_index(ip, sizeof ip, kw_path_key(p, sizeof p, path, "to"), i));
            goto fail;
        }
        c->rcpt[i] = xmalloc(strlen(addr) + 3);
        sprintf(c->rcpt[i], "<%s>", addr);
        if (i > 0)
            sb_add(&to, ",\r\n "); /* one recipient per line keeps the header short */
        sb_mailbox(&to, name, addr);
    }
    c->to_header = to.p;
    to.p = NULL;
    if (c->ca_file && access(c->ca_file, R_OK) != 0) {
        snprintf(err, errlen, "%s: cannot read %s: %s", kw_path_key(p, sizeof p, path, "ca_file"), c->ca_file,
                 strerror(errno));
        goto fail;
    }
    if (gethostname(c->host, sizeof c->host - 1) != 0 || !c->host[0])
        snprintf(c->host, sizeof c->host, "kpiwatch");
    return 0;
fail:
    free(to.p);
    email_release(c);
    return -1;
}

/* ---- the message -------------------------------------------------------- */

static uint64_t random64(void)
{
    static uint64_t counter;
    uint64_t r;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) == (ssize_t)sizeof r)
        return r;
    return ((uint64_t)kw_now_ms() << 20) ^ ((uint64_t)getpid() << 40) ^ ++counter;
}

/* RFC 5322 date-time in UTC: "Sat, 23 Nov 2024 09:05:00 +0000". */
static void mail_date(char *buf, size_t len, int64_t ms)
{
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(buf, len, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon],
             tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* "<key.timestamp.random@kpiwatch>", the key reduced to letters, digits, '-'
 * and '_' (valid everywhere, and nothing a mail client could misread). */
static void message_id(char *buf, size_t len, const char *key, int64_t now_ms)
{
    char atom[65];
    size_t n = 0;
    for (const char *s = key; *s && n < sizeof atom - 1; s++)
        atom[n++] = (isalnum((unsigned char)*s) || *s == '_') ? *s : '-';
    atom[n] = '\0';
    snprintf(buf, len, "<%s.%lld.%016llx@kpiwatch>", n ? atom : "alert", (long long)now_ms,
             (unsigned long long)random64());
}

/* A Message-ID we sent earlier, safe to put back into a header. */
static bool valid_ref(const char *ref)
{
    size_t len = strlen(ref);
    if (len < 5 || ref[0] != '<' || ref[len - 1] != '>' || !strchr(ref, '@'))
        return false;
    for (const char *s = ref; *s; s++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7F)
            return false;
    return true;
}

static const char *headline(const struct kw_notification *n, char *buf, size_t len)
{
    if (n->kind == KW_NOTIFY_RESOLVED)
        snprintf(buf, len, "RESOLVED");
    else
        snprintf(buf, len, "%s %s", kw_notification_status_word(n),
                 kw_notification_severity(n) == KW_SEV_CRITICAL ? "critical" : "warning");
    return buf;
}

static void subject_text(const struct email_config *c, const struct kw_notification *n, char *buf, size_t len)
{
    if (c->subject_template) {
        char *text = kw_template_render(c->subject_template, n, KW_TEMPLATE_PLAIN, EMAIL_SUBJECT_CHARS);
        struct sb line = {0};
        sb_printf(&line, "%s%s", c->subject_prefix ? c->subject_prefix : "", c->subject_prefix ? " " : "");
        sb_add(&line, text);
        kw_text_clip(buf, len, line.p, EMAIL_SUBJECT_CHARS, false);
        free(line.p);
        free(text);
        return;
    }
    /* One subject per incident, its first mover's: mail clients that thread
     * by subject (Gmail) keep the firing, updates and resolve together. The
     * status and the members are the body's first line. */
    char first[KW_NOTIFY_FIRST_MOVER], line[KW_NOTIFY_FIRST_MOVER + 128];
    kw_notification_first_mover(n, first, sizeof first);
    size_t flen = strlen(first);
    if (flen > 10 && strcmp(first + flen - 10, ", resolved") == 0)
        first[flen - 10] = '\0';
    snprintf(line, sizeof line, "%s%sIncident: %s", c->subject_prefix ? c->subject_prefix : "",
             c->subject_prefix ? " " : "", first);
    kw_text_clip(buf, len, line, EMAIL_SUBJECT_CHARS, false);
}

static bool web_link(const char *url)
{
    return strncmp(url, "https://", 8) == 0 || strncmp(url, "http://", 7) == 0;
}

static void render_text(struct sb *b, const struct email_config *c, const struct kw_notification *n)
{
    char head[32], line[4096], labels[2048];
    sb_printf(b, "%s: %zu alert%s\n\n", headline(n, head, sizeof head), n->nalerts, n->nalerts == 1 ? "" : "s");
    for (size_t i = 0; i < n->nalerts && i < EMAIL_MEMBERS_MAX; i++) {
        const struct kw_alert *a = &n->alerts[i];
        sb_printf(b, "%zu. ", i + 1);
        sb_text(b, a->kpi);
        sb_add(b, " [");
        sb_text(b, kw_alert_labels_text(a, labels, sizeof labels));
        sb_add(b, "]\n   ");
        sb_text(b, kw_alert_summary(a, line, sizeof line));
        sb_add(b, "\n");
        if (a->description[0]) {
            sb_add(b, "   ");
            sb_text(b, a->description);
            sb_add(b, "\n");
        }
        if (a->runbook[0]) {
            sb_add(b, "   Runbook:   ");
            sb_text(b, a->runbook);
            sb_add(b, "\n");
        }
        if (a->dashboard[0]) {
            sb_add(b, "   Dashboard: ");
            sb_text(b, a->dashboard);
            sb_add(b, "\n");
        }
        sb_add(b, "\n");
    }
    if (n->nalerts > EMAIL_MEMBERS_MAX)
        sb_printf(b, "... and %zu more\n\n", n->nalerts - EMAIL_MEMBERS_MAX);
    sb_add(b, "-- \nkpiwatch on ");
    sb_text(b, c->host);
    sb_add(b, "\n");
}

static void html_row(struct sb *b, const char *name, const char *value)
{
    if (!value[0])
        return;
    sb_printf(b, "<tr><th align=\"left\" style=\"padding-right:12px\">%s</th><td>", name);
    sb_html(b, value);
    sb_add(b, "</td></tr>\n");
}

static void html_link(struct sb *b, const char *url, const char *text)
{
    if (!url[0])
        return;
    if (web_link(url)) { /* never a javascript: or data: link */
        sb_add(b, "<a href=\"");
        sb_html(b, url);
        sb_printf(b, "\">%s</a> ", text);
    } else {
        sb_printf(b, "%s: ", text);
        sb_html(b, url);
        sb_add(b, " ");
    }
}

static void render_html(struct sb *b, const struct email_config *c, const struct kw_notification *n,
                        const char *subject)
{
    char head[32], v[64], lo[32], hi[32], since[40], dur[24], impact[160], spark[128], labels[2048], range[96];
    bool resolved = n->kind == KW_NOTIFY_RESOLVED;
    sb_add(b, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>");
    sb_html(b, subject);
    sb_add(b, "</title></head>\n<body style=\"font-family:sans-serif\">\n");
    sb_printf(b, "<h2 style=\"color:%s\">%s: %zu alert%s</h2>\n",
              resolved ? "#2e7d32" : kw_notification_severity(n) == KW_SEV_CRITICAL ? "#c62828" : "#ef6c00",
              headline(n, head, sizeof head), n->nalerts, n->nalerts == 1 ? "" : "s");
    for (size_t i = 0; i < n->nalerts && i < EMAIL_MEMBERS_MAX; i++) {
        const struct kw_alert *a = &n->alerts[i];
        sb_add(b, "<h3>");
        sb_html(b, a->kpi);
        sb_add(b, "</h3>\n");
        if (a->description[0]) {
            sb_add(b, "<p>");
            sb_html(b, a->description);
            sb_add(b, "</p>\n");
        }
        sb_add(b, "<table>\n");
        html_row(b, "Labels", kw_alert_labels_text(a, labels, sizeof labels));
        html_row(b, "Status", a->status == KW_ALERT_FIRING ? (a->severity == KW_SEV_CRITICAL ? "firing, critical"
                                                                                                : "firing, warning")
                                                           : "resolved");
        html_row(b, "Observed", kw_alert_value_text(a, a->observed, v, sizeof v));
        html_row(b, "Expected", kw_alert_value_text(a, a->expected, v, sizeof v));
        snprintf(range, sizeof range, "%s .. %s%s", kw_alert_value_text(a, a->lower, lo, sizeof lo),
                 kw_alert_value_text(a, a->upper, hi, sizeof hi), kw_alert_band_note(a));
        html_row(b, "Normal range", range);
        snprintf(range, sizeof range, "%s (%s)", kw_time_format(a->since_ms, since, sizeof since),
                 kw_duration_text(a->at_ms + a->interval_ms - a->since_ms, dur, sizeof dur));
        html_row(b, "Since", range);
        html_row(b, "Impact", kw_alert_impact_text(a, impact, sizeof impact));
        char contrib[1024];
        if (a->ncontributors > 0) /* a roll-up: which step or journey moved it */
            html_row(b, "Top contributors",
                     kw_alert_contributors_text(a, contrib, sizeof contrib) + strlen("top contributors: "));
        if (isfinite(a->score)) {
            snprintf(v, sizeof v, "%.1f (severity %.0f)", a->score, a->severity_score);
            html_row(b, "Score", v);
        }
        html_row(b, "Detector", a->detector);
        html_row(b, "Trend", kw_alert_sparkline(a, spark, sizeof spark));
        sb_add(b, "</table>\n");
        if (a->runbook[0] || a->dashboard[0]) {
            sb_add(b, "<p>");
            html_link(b, a->runbook, "Runbook");
            html_link(b, a->dashboard, "Dashboard");
            sb_add(b, "</p>\n");
        }
    }
    if (n->nalerts > EMAIL_MEMBERS_MAX)
        sb_printf(b, "<p>&hellip; and %zu more</p>\n", n->nalerts - EMAIL_MEMBERS_MAX);
    sb_add(b, "<p style=\"color:#777;font-size:small\">kpiwatch on ");
    sb_html(b, c->host);
    sb_add(b, "</p>\n</body></html>\n");
}

/* content in base64, its lines ending in CRLF as text's canonical form
 * requires (RFC 2046); a template's own CRLF stays one line break. */
static void add_base64_text(struct sb *msg, const struct sb *content)
{
    struct sb canon = {0};
    for (const char *p = content->p, *nl; p && *p; p = nl + 1) {
        nl = strchr(p, '\n');
        if (!nl) {
            sb_add(&canon, p);
            break;
        }
        sb_addn(&canon, p, (size_t)(nl - p - (nl > p && nl[-1] == '\r')));
        sb_add(&canon, "\r\n");
    }
    sb_base64(msg, (const unsigned char *)canon.p, canon.len, 76);
    sb_add(msg, "\r\n");
    free(canon.p);
}

/* One base64 body part of the alternative. */
static void add_part(struct sb *msg, const char *boundary, const char *type, const struct sb *content)
{
    sb_printf(msg, "--%s\r\nContent-Type: %s; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n", boundary,
              type);
    add_base64_text(msg, content);
}

/* A template's output as the content of a part. */
static void render_template(struct sb *b, const struct kw_template *t, const struct kw_notification *n,
                            enum kw_template_escape esc)
{
    char *text = kw_template_render(t, n, esc, KW_TEMPLATE_MAX_OUTPUT);
    sb_add(b, text);
    free(text);
}

static char *build_message(const struct email_config *c, const struct kw_notification *n, const char *msgid,
                           const char *parent, size_t *len)
{
    struct sb m = {0}, text = {0}, html = {0};
    char date[64], subject[EMAIL_SUBJECT_CHARS * 4 + 64], boundary[48];
    int64_t now = kw_now_ms();
    mail_date(date, sizeof date, now);
    subject_text(c, n, subject, sizeof subject);
    snprintf(boundary, sizeof boundary, "=_kw_%016llx", (unsigned long long)random64());

    sb_printf(&m, "Date: %s\r\nFrom: %s\r\nTo: %s\r\nSubject: ", date, c->from_header, c->to_header);
    if (is_ascii(subject))
        sb_add(&m, subject);
    else
        sb_encoded_words(&m, subject);
    sb_printf(&m, "\r\nMessage-ID: %s\r\n", msgid);
    if (parent)
        sb_printf(&m, "In-Reply-To: %s\r\nReferences: %s\r\n", parent, parent);
    /* RFC 3834: no vacation replies to alerts. */
    sb_add(&m, "Auto-Submitted: auto-generated\r\n");
    if (c->body_template)
        render_template(&text, c->body_template, n, KW_TEMPLATE_PLAIN);
    else
        render_text(&text, c, n);
    bool has_html = c->html_template || !c->body_template;
    if (c->html_template)
        render_template(&html, c->html_template, n, KW_TEMPLATE_HTML);
    else if (has_html)
        render_html(&html, c, n, subject);
    if (!has_html) {
        /* body_template alone: its text is the whole mail */
        sb_add(&m, "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                   "Content-Transfer-Encoding: base64\r\n\r\n");
        add_base64_text(&m, &text);
    } else {
        sb_printf(&m, "MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"%s\"\r\n\r\n", boundary);
        add_part(&m, boundary, "text/plain", &text);
        add_part(&m, boundary, "text/html", &html);
        sb_printf(&m, "--%s--\r\n", boundary);
    }
    free(text.p);
    free(html.p);
    *len = m.len;
    return m.p;
}

static int email_render_templates(void *cfg, const struct kw_notification *n, struct kw_rendered *out)
{
    const struct email_config *c = cfg;
    int used = 0;
    if (c->subject_template) {
        char *subject = xmalloc(EMAIL_SUBJECT_CHARS * 4 + 64);
        subject_text(c, n, subject, EMAIL_SUBJECT_CHARS * 4 + 64);
        out[used++] = (struct kw_rendered){"subject_template", subject};
    }
    if (c->body_template)
        out[used++] = (struct kw_rendered){"body_template",
                                           kw_template_render(c->body_template, n, KW_TEMPLATE_PLAIN,
                                                              KW_TEMPLATE_MAX_OUTPUT)};
    if (c->html_template)
        out[used++] = (struct kw_rendered){"html_template",
                                           kw_template_render(c->html_template, n, KW_TEMPLATE_HTML,
                                                              KW_TEMPLATE_MAX_OUTPUT)};
    return used;
}

static size_t email_read(char *buf, size_t size, size_t nitems, void *ctx)
{
    struct kw_request *req = ctx;
    size_t room = size * nitems, left = req->body_len - req->body_off;
    size_t n = left < room ? left : room;
    memcpy(buf, req->body + req->body_off, n);
    req->body_off += n;
    return n;
}

static int email_prepare(void *cfg, const struct kw_notification *n, int step, struct kw_request *req,
                         char *err, size_t errlen)
{
    const struct email_config *c = cfg;
    if (step > 0)
        return 0;
    if (n->nalerts == 0) {
        snprintf(err, errlen, "notification has no alerts");
        return -1;
    }
    /* A FIRING starts a thread; updates and the resolve reply to its first mail. */
    const char *parent = n->kind != KW_NOTIFY_FIRING && valid_ref(n->ref) ? n->ref : NULL;
    message_id(req->ref, sizeof req->ref, n->key, kw_now_ms());
    free(req->body);
    req->body = build_message(c, n, req->ref, parent, &req->body_len);
    req->body_off = 0;
    free(req->url);
    req->url = xstrdup(c->url);
    for (int i = 0; i < c->to.n; i++)
        req->rcpt = curl_slist_append(req->rcpt, c->rcpt[i]);

    CURL *e = req->easy;
    curl_easy_setopt(e, CURLOPT_URL, c->url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    static const long use_ssl[] = {CURLUSESSL_ALL, CURLUSESSL_NONE, CURLUSESSL_TRY};
    curl_easy_setopt(e, CURLOPT_USE_SSL, c->implicit_tls ? (long)CURLUSESSL_ALL : use_ssl[c->tls]);
    if (c->ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
    if (c->username) {
        curl_easy_setopt(e, CURLOPT_USERNAME, c->username);
        curl_easy_setopt(e, CURLOPT_PASSWORD, c->password);
    }
    curl_easy_setopt(e, CURLOPT_MAIL_FROM, c->mail_from);
    curl_easy_setopt(e, CURLOPT_MAIL_RCPT, req->rcpt);
    curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(e, CURLOPT_READFUNCTION, email_read);
    curl_easy_setopt(e, CURLOPT_READDATA, req);
    curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)req->body_len);
    return 1;
}

/* A 2xx final reply is delivered. 5xx replies (refused recipient or sender,
 * 535 bad credentials), a server without STARTTLS when TLS is required, and
 * an untrusted certificate are permanent; 4xx replies, connection failures
 * and timeouts are retried. */
static void email_classify(void *cfg, const struct kw_notification *n, int step, const struct kw_request *req,
                           const struct kw_response *resp, struct kw_send_outcome *out)
{
    long code = resp->status;
    const char *what = resp->curl_code == CURLE_OK ? "" :
                       resp->curl_error && *resp->curl_error ? resp->curl_error : curl_easy_strerror(resp->curl_code);
    out->retry_after_ms = 0;
    if (resp->curl_code == CURLE_OK && (code / 100 == 2 || code / 100 == 3 || code == 0)) {
        out->result = KW_SEND_OK;
        snprintf(out->reason, sizeof out->reason, "SMTP %ld: accepted as %s", code, req->ref);
        /* The thread's root is what later sends reply to. */
        snprintf(out->ref, sizeof out->ref, "%s",
                 n->kind != KW_NOTIFY_FIRING && valid_ref(n->ref) ? n->ref : req->ref);
        return;
    }
    if (code >= 500 && code < 600) {
        out->result = KW_SEND_ERROR;
        snprintf(out->reason, sizeof out->reason, "SMTP %ld (permanent): %s", code, what);
    } else if (code >= 400 && code < 500) {
        out->result = KW_SEND_RETRY;
        snprintf(out->reason, sizeof out->reason, "SMTP %ld (temporary): %s", code, what);
    } else if (resp->curl_code == CURLE_LOGIN_DENIED || resp->curl_code == CURLE_USE_SSL_FAILED ||
               resp->curl_code == CURLE_PEER_FAILED_VERIFICATION || resp->curl_code == CURLE_SSL_CACERT_BADFILE) {
        out->result = KW_SEND_ERROR;
        snprintf(out->reason, sizeof out->reason, "%s%s", what,
                 resp->curl_code == CURLE_USE_SSL_FAILED ? " (the server does not offer STARTTLS)" : "");
    } else {
        out->result = KW_SEND_RETRY;
        snprintf(out->reason, sizeof out->reason, "transport: %s", what);
    }
}

const struct kw_notifier_type email_notifier = {
    .name = "email",
    .description = "Mail over SMTP (STARTTLS or smtps, AUTH): plain text and HTML, one thread per alert group.",
    .options = email_options,
    .config_size = sizeof(struct email_config),
    .rate_per_s = 0, /* the relay queues; no documented limit */
    .burst = 1,
    .init = email_init,
    .release = email_release,
    .prepare = email_prepare,
    .classify = email_classify,
    .render_templates = email_render_templates,
};
