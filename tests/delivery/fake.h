/* fake: start a local receiver (tests/receivers/httpfake.py, or any command
 * that writes its port to a file) from a Criterion test, read what it got,
 * and stop it. Every test that talks to a "service" goes through this. */
#ifndef KW_TEST_FAKE_H
#define KW_TEST_FAKE_H

#include <stdbool.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

struct fake_service {
    pid_t pid;
    int port;
    char dir[128];       /* private temp dir */
    char log[192];       /* JSON lines, one per request */
    char base_url[64];   /* http://127.0.0.1:PORT */
};

/* Start httpfake.py as `service` (e.g. "slack", "generic") with a JSON
 * script of answers ("[]" = always the service's success answer). Waits
 * until it listens; aborts the test when it does not start. */
void fake_start(struct fake_service *f, const char *service, const char *script_json);
/* Start any receiver command; "%PORTFILE%" and "%DIR%" in argv are replaced.
 * Waits for the port file. */
void fake_start_cmd(struct fake_service *f, const char *const *argv);
/* Replace the script of a running httpfake. */
void fake_script(struct fake_service *f, const char *script_json);
/* The requests received so far, as a cJSON array (caller deletes). */
cJSON *fake_requests(struct fake_service *f);
/* Wait until at least n requests were logged, up to timeout_ms. Returns the count seen. */
int fake_wait_requests(struct fake_service *f, int n, int timeout_ms);
/* Stop the receiver and remove its temp dir. */
void fake_stop(struct fake_service *f);

#endif
