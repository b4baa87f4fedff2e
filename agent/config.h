/* config: the agent's JSON configuration, parsed and validated in one pass.
 * config.c only walks the sections; each module declares and checks its
 * own options (ingest, inputs, kpis, kpis[].alert, kpis[].detector,
 * receivers, route, delivery, silences, inhibit_rules, time_intervals). Every error names the key path
 * ("kpis[2].detector.window: must be >= 8"); a JSON syntax error names the
 * line and column. ${VAR}, ${VAR:-default} and ${VAR:+word} in string values are replaced
 * from the environment, so secrets stay out of the file. A parsed config is
 * immutable; reload builds a new one. */
#ifndef KW_CONFIG_H
#define KW_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "../notifiers/dispatcher.h"
#include "../notifiers/notifier.h"
#include "http.h"
#include "ingest.h"
#include "inhibit.h"
#include "input.h"
#include "kpi.h"
#include "route.h"
#include "silence.h"
#include "timeinterval.h"

struct kw_config {
    char *path;
    int log_level;
    int log_format;               /* enum kw_log_format */
    char *state_dir;
    int max_series;
    int64_t series_ttl_ms;
    int64_t stats_interval_ms;
    struct kw_ingest_limits ingest;
    struct kw_input_config *inputs;
    int ninputs;
    struct kw_kpi_config *kpis;
    int nkpis;
    struct kw_receiver *receivers;
    int nreceivers;
    struct kw_routing routing;
    struct kw_delivery_config delivery;
    struct kw_http_config http;
    struct kw_silence *silences;  /* the config's own silences */
    int nsilences;
    struct kw_inhibit_rule *inhibit;
    int ninhibit;
    struct kw_time_intervals time_intervals; /* named, for the routes' mute and active intervals */
};

/* Load and validate the config at path into cfg. Returns 0, or -1 with a
 * message in err ("path: kpis[0].interval: ..."); on error cfg needs no release. */
int kw_config_load(struct kw_config *cfg, const char *path, char *err, size_t errlen);
/* Same from a string (name is used in messages). */
int kw_config_parse(struct kw_config *cfg, const char *text, const char *name, char *err, size_t errlen);
/* Free cfg's contents. Safe on a zeroed struct. */
void kw_config_release(struct kw_config *cfg);

/* Print every option table as Markdown (the README's config reference). */
void kw_config_print_reference(void *stream);

#endif
