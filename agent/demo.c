/* demo: simulated journeys (onboarding, checkout, claims) with a daily
 * rhythm, Poisson complaints, binomial step drop-offs and checkout survey
 * answers (0-10, for NPS), plus scheduled incidents: a complaint spike on
 * checkout and a drop-off jump at the payment step (which also turns the
 * survey answers sour), once per simulated day after the first. */
#include "demo.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <zmq.h>

#include "../lib/log.h"
#include "../lib/xmalloc.h"

#define DAY_MS 86400000LL

struct journey {
    const char *name;
    double visitors_per_hour;  /* at the daily peak */
    double complaints_per_1k;  /* per 1,000 visitors */
    const char *steps[4];
    double drop_rate[4];       /* baseline drop-off probability at each step */
};

static const struct journey journeys[] = {
    {"onboarding", 12000, 4.0, {"signup", "verify_email", "kyc", "first_login"}, {0.08, 0.12, 0.18, 0.05}},
    {"checkout", 30000, 2.5, {"cart", "shipping", "payment", "confirm"}, {0.22, 0.09, 0.06, 0.02}},
    {"claims", 2400, 12.0, {"submit", "documents", "assessment", "payout"}, {0.10, 0.15, 0.04, 0.01}},
};
#define NJOURNEYS (sizeof journeys / sizeof journeys[0])

struct kw_demo {
    pthread_t thread;
    atomic_bool running;
    void *socket;
    gsl_rng *rng;
    struct kw_demo_options opt;
    char *buf;
    size_t cap;
};

/* Traffic follows the clock: low at night, peak mid-afternoon (UTC). */
static double daily_rhythm(int64_t t_ms)
{
    double hour = (double)((t_ms % DAY_MS + DAY_MS) % DAY_MS) / 3600000.0;
    return 0.55 + 0.45 * sin(2 * M_PI * (hour - 8.0) / 24.0);
}

/* Incidents repeat every simulated day from the second day on, so the demo
 * keeps showing alerts however long it runs. origin_ms is a UTC midnight, so
 * start_h is also the UTC hour, when traffic is near its daily peak. */
static bool in_incident(int64_t t_ms, int64_t origin_ms, double start_h, double hours)
{
    int64_t since = t_ms - origin_ms;
    if (since < DAY_MS)
        return false;
    double h = (double)(since % DAY_MS) / 3600000.0;
    return h >= start_h && h < start_h + hours;
}

static size_t append(char *buf, size_t cap, size_t used, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static size_t append(char *buf, size_t cap, size_t used, const char *fmt, ...)
{
    if (used >= cap)
        return used;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + used, cap - used, fmt, ap);
    va_end(ap);
    return n > 0 ? used + (size_t)n : used;
}

size_t kw_demo_render_interval(void *rngp, int64_t t_ms, int64_t interval_ms, int64_t origin_ms, char *buf,
                               size_t cap)
{
    gsl_rng *rng = rngp;
    double hours = (double)interval_ms / 3600000.0;
    size_t used = append(buf, cap, 0, "[");
    bool first = true;
    for (size_t j = 0; j < NJOURNEYS; j++) {
        const struct journey *jr = &journeys[j];
        bool complaint_spike = j == 1 && in_incident(t_ms, origin_ms, 12.0, 1.5);
        bool payment_outage = j == 1 && in_incident(t_ms, origin_ms, 17.0, 1.0);
        double mean_visitors = jr->visitors_per_hour * hours * daily_rhythm(t_ms);
        unsigned int entering = gsl_ran_poisson(rng, mean_visitors);
        unsigned int total_visitors = entering;
        int64_t ts = t_ms + (int64_t)(gsl_rng_uniform(rng) * (double)interval_ms * 0.5);
        for (int s = 0; s < 4; s++) {
            double p = jr->drop_rate[s];
            if (payment_outage && s == 2)
                p = 0.35;
            unsigned int dropped = gsl_ran_binomial(rng, p, entering);
            used = append(buf, cap, used,
                          "%s{\"metric\":\"journey_step_entries\",\"labels\":{\"journey\":\"%s\",\"step\":\"%s\"},"
                          "\"value\":%u,\"ts\":%lld},"
                          "{\"metric\":\"journey_step_dropoffs\",\"labels\":{\"journey\":\"%s\",\"step\":\"%s\"},"
                          "\"value\":%u,\"ts\":%lld}",
                          first ? "" : ",", jr->name, jr->steps[s], entering, (long long)ts, jr->name,
                          jr->steps[s], dropped, (long long)ts);
            first = false;
            entering -= dropped;
        }
        double complaint_rate = jr->complaints_per_1k / 1000.0 * total_visitors * (complaint_spike ? 5.0 : 1.0);
        unsigned int complaints = gsl_ran_poisson(rng, complaint_rate);
        used = append(buf, cap, used,
                      ",{\"metric\":\"complaints\",\"labels\":{\"journey\":\"%s\",\"channel\":\"%s\"},"
                      "\"value\":%u,\"ts\":%lld}",
                      jr->name, gsl_rng_uniform(rng) < 0.7 ? "app" : "web", complaints, (long long)ts);
        if (j == 1) {
            /* Survey answers after checkout: 50% promoters and 15%
             * detractors (NPS +35), 60% detractors and 10% promoters while
             * payment is failing (NPS -50). */
            unsigned answers = gsl_ran_poisson(rng, 8.0 * daily_rhythm(t_ms));
            for (unsigned a = 0; a < answers; a++) {
                double u = gsl_rng_uniform(rng), sour = payment_outage ? 0.60 : 0.15, fair = payment_outage ? 0.90 : 0.50;
                int score = u < sour ? (int)gsl_rng_uniform_int(rng, 7)                     /* 0-6 */
                            : u < fair ? 7 + (int)gsl_rng_uniform_int(rng, 2)                 /* 7-8 */
                                       : 9 + (int)gsl_rng_uniform_int(rng, 2);               /* 9-10 */
                used = append(buf, cap, used,
                              ",{\"metric\":\"survey_nps\",\"labels\":{\"journey\":\"checkout\"},\"value\":%d,\"ts\":%lld}",
                              score, (long long)(ts + a));
            }
        }
        if (j == 2) {
            /* Claims handling time in minutes, a few cases per interval. */
            for (int c = 0; c < 3; c++)
                used = append(buf, cap, used,
                              ",{\"metric\":\"claim_handling_minutes\",\"labels\":{\"journey\":\"claims\"},"
                              "\"value\":%.2f,\"ts\":%lld}",
                              18.0 + gsl_ran_gamma(rng, 4.0, 3.0), (long long)(ts + c * 1000));
        }
    }
    return append(buf, cap, used, "]");
}

static void *demo_main(void *arg)
{
    struct kw_demo *d = arg;
    int64_t origin = d->opt.start_ms;
    int64_t t = origin;
    struct timespec pause = {.tv_sec = d->opt.wall_per_interval_ms / 1000,
                             .tv_nsec = (d->opt.wall_per_interval_ms % 1000) * 1000000L};
    uint64_t batches = 0;
    while (atomic_load(&d->running)) {
        size_t len = kw_demo_render_interval(d->rng, t, d->opt.interval_ms, origin, d->buf, d->cap);
        if (zmq_send(d->socket, d->buf, len, 0) < 0 && zmq_errno() != EAGAIN)
            break;
        batches++;
        if (batches % 288 == 0)
            kw_info("demo", "simulated %llu days", (unsigned long long)(batches / 288));
        t += d->opt.interval_ms;
        nanosleep(&pause, NULL);
    }
    return NULL;
}

struct kw_demo *kw_demo_start(void *zmq_ctx, const struct kw_demo_options *opt, char *err, size_t errlen)
{
    struct kw_demo *d = xcalloc(1, sizeof *d);
    d->opt = *opt;
    d->cap = 64 * 1024;
    d->buf = xmalloc(d->cap);
    d->rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(d->rng, opt->seed);
    d->socket = zmq_socket(zmq_ctx, opt->push ? ZMQ_PUSH : ZMQ_PUB);
    int linger = 0;
    zmq_setsockopt(d->socket, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_connect(d->socket, opt->endpoint) != 0) {
        snprintf(err, errlen, "demo: cannot connect to %s: %s", opt->endpoint, zmq_strerror(zmq_errno()));
        zmq_close(d->socket);
        gsl_rng_free(d->rng);
        free(d->buf);
        free(d);
        return NULL;
    }
    atomic_store(&d->running, true);
    if (pthread_create(&d->thread, NULL, demo_main, d) != 0) {
        snprintf(err, errlen, "demo: cannot start thread");
        zmq_close(d->socket);
        gsl_rng_free(d->rng);
        free(d->buf);
        free(d);
        return NULL;
    }
    return d;
}

void kw_demo_stop(struct kw_demo *d)
{
    if (!d)
        return;
    atomic_store(&d->running, false);
    pthread_join(d->thread, NULL);
    zmq_close(d->socket);
    gsl_rng_free(d->rng);
    free(d->buf);
    free(d);
}
