/* dispatch: route each alert to its receivers by label matchers (first
 * match wins unless "continue") and deliver it through the notifier. */
#ifndef KW_DISPATCH_H
#define KW_DISPATCH_H

#include <stdint.h>

#include "../notifiers/alert.h"
#include "config.h"

struct kw_dispatch_stats {
    uint64_t notifications;  /* alert x receiver deliveries attempted */
    uint64_t sent;
    uint64_t failed;
};

struct kw_dispatcher {
    const struct kw_config *cfg; /* not owned */
    struct kw_dispatch_stats stats;
};

/* Set up a dispatcher over cfg's receivers and routes. Never fails. */
void kw_dispatcher_init(struct kw_dispatcher *d, const struct kw_config *cfg);

/* Indexes of the receivers an alert goes to, into out (capacity n). Returns
 * how many. */
int kw_dispatch_route(const struct kw_config *cfg, const struct kw_alert *a, int *out, int n);

/* Route and deliver one alert. */
void kw_dispatch_alert(struct kw_dispatcher *d, const struct kw_alert *a);

#endif
