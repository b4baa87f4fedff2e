/* secret: a credential given either inline (usually "${ENV_VAR}", already
 * substituted by the config loader) or as a path to a file holding it (the
 * "*_file" keys, for systemd credentials and Kubernetes secrets). Error
 * messages name the key, never the value. */
#ifndef KW_SECRET_H
#define KW_SECRET_H

#include <stddef.h>

/* Resolve one secret. inline_value and file_path may each be NULL or "";
 * exactly one of them must be set when required is non-zero. key and
 * file_key name the two options in errors ("receivers[0].webhook_url").
 * On success *out is a new string (caller frees; NULL when neither is set
 * and the secret is optional) and 0 is returned; else -1 with err. A file's
 * trailing newline is removed; an empty secret is an error. A resolved
 * secret is registered with kw_secret_redact, so no log line can show it. */
int kw_secret_resolve(const char *inline_value, const char *file_path, int required, const char *key,
                      const char *file_key, char **out, char *err, size_t errlen);

/* Register secret with kw_log_redact, and for a URL also the parts a
 * service may echo on their own: its user:password, the password, their
 * Basic-auth base64, and each query parameter's value. */
void kw_secret_redact(const char *secret);

/* Overwrite a secret with zeros and free it. Accepts NULL. */
void kw_secret_free(char *secret);

#endif
