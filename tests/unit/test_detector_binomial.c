/* Unit tests for the binomial detector: binomial and beta-binomial tails
 * against values computed independently (python3, math module only: exact
 * pmf sums with lgamma, shown in comments), the small-denominator property,
 * warm-up, gaps, state round trip, spikes versus clean and overdispersed
 * series, and the learned odds profile (season): a daily rhythm, a step at
 * its low point, its state, and its statistic against python3. */
#include <criterion/criterion.h>
#include <gsl/gsl_cdf.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_randist.h>
#include <math.h>
#include <string.h>

#define RIG_SERIES {.interval_ms = 60000, .is_ratio = true}
#include "detector_rig.h"
#include "detector_series.h"
#include "../../detectors/evidence.h"

/* The interval's own tail only (no CUSUMs), both sides: the test the
 * reference values are for. */
#define ONE_LOOK "\"shift\":0,\"burst_shift\":0,\"direction\":\"both\""

/* A fresh detector fed `count` intervals of k_hist of n_hist, then probed. */
static struct kw_verdict probe(const char *cfg, double k_hist, double n_hist, int count, double k, double n)
{
    struct rig r;
    rig_init(&r, cfg);
    for (int i = 0; i < count; i++)
        rig_feed_ratio(&r, k_hist, n_hist);
    struct kw_verdict v = rig_feed_ratio(&r, k, n);
    rig_release(&r);
    return v;
}

/* Ten intervals of 20/100; the rate's sums keep (1 - 1/1440) per interval
 * (1 day of 1-minute intervals), so with S = sum_j (1 - 1/1440)^j, j < 10:
 * E = 20 S, N = 100 S, p0 = (E + 0.5) / (N + 1) = 0.20030063711618634.
 * With python3 (exact binomial sums): P(X >= 2 | n 3, p0) = 0.10428877426601031
 * (2 drop-offs of 3 visitors: normal); P(X >= 35 | 100) = 0.0003461615999947683
 * (anomalous); P(X <= 8 | 100) = 0.0008356209524486949 (anomalous, low
 * side); bounds for n = 100 are [9, 33] events. */
Test(detector_binomial, reference_binomial_tails)
{
    const char *cfg = "{\"type\":\"binomial\",\"distribution\":\"binomial\",\"p_value\":0.001,\"min_points\":10," ONE_LOOK "}";
    struct kw_verdict v = probe(cfg, 20, 100, 10, 2, 3);
    cr_assert(v.ready);
    cr_assert_float_eq(v.expected, 0.20030063711618634, 1e-14);
    cr_assert_not(v.anomalous);
    cr_assert_float_eq(v.score, -log10(0.10428877426601031), 1e-9);
    v = probe(cfg, 20, 100, 10, 35, 100);
    cr_assert(v.anomalous);
    cr_assert_float_eq(v.score, -log10(0.0003461615999947683), 1e-9);
    cr_assert_float_eq(v.lower, 0.09, 1e-15);
    cr_assert_float_eq(v.upper, 0.33, 1e-15);
    cr_assert_eq(v.direction, 1);
    v = probe(cfg, 20, 100, 10, 8, 100);
    cr_assert(v.anomalous);
    cr_assert_float_eq(v.score, log10(0.0008356209524486949), 1e-9);
    cr_assert_eq(v.direction, -1);
}

/* The spec's key property, with a 20% baseline: 2 of 3 is no alert, 20,000
 * of 30,000 is (its p-value underflows: score at the 300 cap). Same with the
 * beta-binomial model. */
Test(detector_binomial, small_denominators_do_not_alert)
{
    const char *cfgs[] = {"{\"type\":\"binomial\"}", "{\"type\":\"binomial\",\"distribution\":\"beta_binomial\"}"};
    for (int c = 0; c < 2; c++) {
        struct kw_verdict v = probe(cfgs[c], 200, 1000, 20, 2, 3);
        cr_assert(v.ready);
        cr_assert_not(v.anomalous, "cfg %d", c);
        cr_assert_lt(v.anomaly_score, 0.5);
        v = probe(cfgs[c], 200, 1000, 20, 3, 3);
        cr_assert_not(v.anomalous, "cfg %d: 3 of 3 is still p = 0.008", c);
        v = probe(cfgs[c], 200, 1000, 20, 20000, 30000);
        cr_assert(v.anomalous, "cfg %d", c);
        cr_assert_gt(v.score, 100);
        cr_assert_gt(v.anomaly_score, 0.9);
    }
}

/* Beta-binomial, exact tails (n <= 1000). History (events/trials):
 * 5/50 20/80 10/120 15/60 30/100 5/90 14/70 40/110 2/40 20/130 25/100 12/100.
 * Replaying the estimator in python3 (rate sums kept 1 - 1/1440, Pearson
 * sums kept 1 - 1/10080, from the second interval on):
 * p0 = 0.18887935566966643, rho = 0.08850946905167272 (a = 1.94512,
 * b = 8.35310). Exact pmf sums: P(X >= 30 | 100) = 0.18659470177650142
 * where the binomial says 0.004947032716286071; P(X >= 55 | 100) =
 * 0.009505428557358342; P(X <= 0 | 100) = 0.007527514103236113; bounds [0, 67]. */
static const double bb_k[12] = {5, 20, 10, 15, 30, 5, 14, 40, 2, 20, 25, 12};
static const double bb_n[12] = {50, 80, 120, 60, 100, 90, 70, 110, 40, 130, 100, 100};

static struct kw_verdict probe_bb(const char *cfg, double k, double n)
{
    struct rig r;
    rig_init(&r, cfg);
    for (int i = 0; i < 12; i++)
        rig_feed_ratio(&r, bb_k[i], bb_n[i]);
    struct kw_verdict v = rig_feed_ratio(&r, k, n);
    rig_release(&r);
    return v;
}

Test(detector_binomial, reference_beta_binomial_exact)
{
    const char *cfg = "{\"type\":\"binomial\",\"distribution\":\"beta_binomial\",\"min_points\":12,\"p_value\":0.001," ONE_LOOK "}";
    struct kw_verdict v = probe_bb(cfg, 30, 100);
    cr_assert(v.ready);
    cr_assert_float_eq(v.expected, 0.18887935566966643, 1e-14);
    cr_assert_not(v.anomalous);
    cr_assert_float_eq(v.score, -log10(0.18659470177650142), 1e-8);
    cr_assert_float_eq(v.lower, 0, 1e-15);
    cr_assert_float_eq(v.upper, 0.67, 1e-15);
    v = probe_bb(cfg, 55, 100);
    cr_assert_float_eq(v.score, -log10(0.009505428557358342), 1e-8);
    v = probe_bb(cfg, 0, 100);
    cr_assert_float_eq(v.score, log10(0.007527514103236113), 1e-8);
    /* The plain binomial model on the same history calls 30/100 anomalous-ish. */
    v = probe_bb("{\"type\":\"binomial\",\"distribution\":\"binomial\",\"min_points\":12,\"exact\":true," ONE_LOOK "}", 30, 100);
    cr_assert_float_eq(v.score, -log10(0.004947032716286071), 1e-8);
}

/* Large n (5000): the moment-matched beta approximation against the exact
 * python3 sums: P(X >= 2500) = 0.01484123613425029, P(X >= 3500) =
 * 0.0002739607758415067, P(X >= 4000) = 1.0462932045367907e-05,
 * P(X <= 200) = 0.05756339063955532; within 0.05 in log10 p (about 12%). */
Test(detector_binomial, beta_binomial_large_n_approximation)
{
    const char *cfg = "{\"type\":\"binomial\",\"distribution\":\"beta_binomial\",\"min_points\":12,\"p_value\":0.001," ONE_LOOK "}";
    const double ks[] = {2500, 3500, 4000, 200};
    const double want[] = {-log10(0.01484123613425029), -log10(0.0002739607758415067),
                           -log10(1.0462932045367907e-05), log10(0.05756339063955532)};
    for (int i = 0; i < 4; i++) {
        struct kw_verdict v = probe_bb(cfg, ks[i], 5000);
        cr_assert_float_eq(v.score, want[i], 0.05, "k %g: %g vs %g", ks[i], v.score, want[i]);
        cr_assert_eq(v.anomalous, fabs(want[i]) > 3, "k %g", ks[i]);
    }
}

/* A value is anomalous exactly when its rate is outside [lower, upper],
 * for all three tail paths (binomial, exact and approximate beta-binomial). */
Test(detector_binomial, bounds_match_the_test)
{
    const char *cfgs[] = {"{\"type\":\"binomial\",\"distribution\":\"binomial\",\"min_points\":12}",
                          "{\"type\":\"binomial\",\"distribution\":\"beta_binomial\",\"min_points\":12}",
                          "{\"type\":\"binomial\",\"min_points\":12}"};
    const double ns[] = {1, 7, 100, 1000, 1001, 40000, 5e8};
    for (int c = 0; c < 3; c++) {
        for (int i = 0; i < 7; i++) {
            struct kw_verdict base = probe_bb(cfgs[c], round(ns[i] * 0.19), ns[i]);
            cr_assert(base.ready);
            for (int d = -2; d <= 2; d++) {
                double ks[2] = {round(base.lower * ns[i]) + d, round(base.upper * ns[i]) + d};
                for (int e = 0; e < 2; e++) {
                    if (ks[e] < 0 || ks[e] > ns[i])
                        continue;
                    struct kw_verdict v = probe_bb(cfgs[c], ks[e], ns[i]);
                    double rate = ks[e] / ns[i];
                    bool outside = rate < v.lower || rate > v.upper;
                    cr_assert_eq(v.anomalous, outside, "cfg %d n %g k %g bounds [%g, %g]", c, ns[i], ks[e],
                                 v.lower, v.upper);
                }
            }
        }
    }
}

Test(detector_binomial, warmup_and_gaps)
{
    struct rig a, b;
    rig_init(&a, "{\"type\":\"binomial\",\"min_points\":5}");
    rig_init(&b, "{\"type\":\"binomial\",\"min_points\":5}");
    for (int i = 0; i < 5; i++) {
        struct kw_verdict v = rig_feed_ratio(&a, 10, 100);
        cr_assert_not(v.ready, "point %d", i);
        cr_assert_not(v.anomalous);
        rig_feed_ratio(&b, 10, 100);
    }
    cr_assert(rig_feed_ratio(&a, 90, 100).anomalous);
    rig_feed_ratio(&b, 90, 100);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 51);
    for (int i = 0; i < 200; i++) {
        double n = 50 + gsl_rng_uniform_int(rng, 100);
        double k = gsl_ran_binomial(rng, 0.1, (unsigned)n);
        if (i % 4 == 0) {
            cr_assert_not(rig_feed_ratio(&a, NAN, NAN).ready);
            cr_assert_not(rig_feed_ratio(&a, 0, 0).ready); /* no trials: missing */
            /* A missing value wins over stray counts. */
            struct kw_sample s = {.value = NAN, .numerator = 50, .denominator = 60};
            struct kw_verdict g;
            kw_detector_update(&a.st, &a.det, &a.info, &s, &g);
            cr_assert_not(g.ready);
        }
        struct kw_sample s = rig_ratio(k, n);
        twin_feed_both(&a, &b, &s, i);
    }
    gsl_rng_free(rng);
    rig_release(&a);
    rig_release(&b);
}

/* Rates that wander (Beta(6, 24) per interval) over 20 to 3019 trials. */
static struct kw_sample wandering_rate(gsl_rng *rng, int i)
{
    (void)i;
    double n = 20 + gsl_rng_uniform_int(rng, 3000);
    return rig_ratio(gsl_ran_binomial(rng, gsl_ran_beta(rng, 6, 24), (unsigned)n), n);
}

/* The same, with an incident (every trial an event) every 40 intervals. */
static struct kw_sample wandering_rate_with_incidents(gsl_rng *rng, int i)
{
    double n = 20 + gsl_rng_uniform_int(rng, 3000);
    double k = gsl_ran_binomial(rng, gsl_ran_beta(rng, 6, 24), (unsigned)n);
    return rig_ratio(i % 40 == 0 ? n : k, n);
}

Test(detector_binomial, state_round_trip_is_bit_identical)
{
    static const char *const refused[] = {"[3, 10, 5, 0, 0, 0]", NULL}; /* more events than trials */
    twins_assert_restart_changes_nothing("{\"type\":\"binomial\",\"distribution\":\"beta_binomial\"}", 52,
                                         wandering_rate, 63, wandering_rate_with_incidents, 200, refused);
}

/* Binomial noise around 10% with varying traffic: (almost) no alarms; an
 * incident (40% drop-off) is caught; winsorised learning keeps p0 put. */
Test(detector_binomial, spike_detected_clean_series_quiet)
{
    struct rig r;
    rig_init(&r, "{\"type\":\"binomial\"}");
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 53);
    int false_alarms = 0;
    for (int i = 0; i < 2000; i++) {
        double n = 1 + gsl_rng_uniform_int(rng, 400);
        false_alarms += rig_feed_ratio(&r, gsl_ran_binomial(rng, 0.1, (unsigned)n), n).anomalous;
    }
    cr_assert_leq(false_alarms, 8, "false alarms: %d", false_alarms);
    struct kw_verdict v = rig_feed_ratio(&r, 80, 200);
    cr_assert(v.anomalous);
    cr_assert_float_eq(v.expected, 0.1, 0.01);
    rig_feed_ratio(&r, 190000, 200000);
    v = rig_feed_ratio(&r, 80, 200);
    cr_assert(v.anomalous);
    cr_assert_float_eq(v.expected, 0.1, 0.02);
    gsl_rng_free(rng);
    rig_release(&r);
}

/* Rates that wander between intervals (Beta(6, 24) per interval, mean 20%)
 * with 500 trials each: the binomial model alarms constantly, the
 * beta-binomial model rarely, and it still catches a real incident. The
 * default (auto) finds the overdispersion significant and behaves like
 * beta_binomial. */
Test(detector_binomial, beta_binomial_tames_overdispersion)
{
    struct rig bin, bb, au;
    rig_init(&bin, "{\"type\":\"binomial\",\"distribution\":\"binomial\"}");
    rig_init(&bb, "{\"type\":\"binomial\",\"distribution\":\"beta_binomial\"}");
    rig_init(&au, "{\"type\":\"binomial\"}");
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 54);
    int alarms_bin = 0, alarms_bb = 0, alarms_auto = 0;
    for (int i = 0; i < 1000; i++) {
        double k = gsl_ran_binomial(rng, gsl_ran_beta(rng, 6, 24), 500);
        alarms_bin += rig_feed_ratio(&bin, k, 500).anomalous;
        alarms_bb += rig_feed_ratio(&bb, k, 500).anomalous;
        alarms_auto += rig_feed_ratio(&au, k, 500).anomalous;
    }
    cr_assert_gt(alarms_bin, 100, "binomial alarms: %d", alarms_bin);
    cr_assert_leq(alarms_bb, 10, "beta-binomial alarms: %d", alarms_bb);
    cr_assert_leq(alarms_auto, 12, "auto alarms: %d", alarms_auto);
    cr_assert(rig_feed_ratio(&bb, 450, 500).anomalous);
    cr_assert(rig_feed_ratio(&au, 450, 500).anomalous);
    gsl_rng_free(rng);
    rig_release(&bin);
    rig_release(&bb);
    rig_release(&au);
}

/* The accuracy benchmark's quiet large-denominator series: n 1k..30k,
 * p = 0.05 with a +-5% daily rhythm and 2% (relative) interval-to-interval
 * noise. The plain binomial model at p_value 0.001 raised ~12 false alarms
 * per 1,000 intervals there; the default must stay near 1. Binomial data
 * with small denominators keeps auto on the binomial model (no loss of
 * sensitivity): an incident of 9 drop-offs of 12 against 10% still alerts. */
Test(detector_binomial, default_quiet_on_overdispersed_large_n)
{
    struct rig r;
    rig_init(&r, "{\"type\":\"binomial\"}");
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 55);
    int alarms = 0;
    for (int i = 0; i < 8000; i++) {
        double day = sin(2 * M_PI * i / 288.0);
        double n = gsl_ran_poisson(rng, 15500 + 14500 * day);
        double p = 0.05 * (1 + 0.05 * day) * (1 + gsl_ran_gaussian(rng, 0.02));
        alarms += rig_feed_ratio(&r, gsl_ran_binomial(rng, p, (unsigned)n), n).anomalous;
    }
    cr_assert_leq(alarms, 12, "false alarms: %d", alarms);
    gsl_rng_free(rng);
    rig_release(&r);

    rig_init(&r, "{\"type\":\"binomial\"}");
    rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 56);
    alarms = 0;
    for (int i = 0; i < 3000; i++) {
        double n = 3 + gsl_rng_uniform_int(rng, 18);
        alarms += rig_feed_ratio(&r, gsl_ran_binomial(rng, 0.1, (unsigned)n), n).anomalous;
    }
    cr_assert_leq(alarms, 6, "false alarms: %d", alarms);
    cr_assert(rig_feed_ratio(&r, 9, 12).anomalous);
    gsl_rng_free(rng);
    rig_release(&r);
}

/* The pre-screen never changes a verdict: default detectors and exact ones
 * see the same series (denominators 1..1e8, rates 1e-4..0.9, binomial and
 * beta-binomial noise, all three distributions, p_values 1e-2..1e-12,
 * incidents) and must flag exactly the same intervals; for the points the
 * pre-screen handled, -log10 p is within 0.2 of the exact value (and below
 * the threshold), the bounds within 2 events + 0.15 sd. */
Test(detector_binomial, prescreen_matches_exact_flags)
{
    const char *dists[] = {"binomial", "beta_binomial", "auto"};
    const double pvals[] = {1e-2, 1e-3, 1e-5, 1e-8, 1e-12};
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 57);
    long screened = 0, total = 0;
    for (int d = 0; d < 3; d++) {
        for (int pv = 0; pv < 5; pv++) {
            char fast_cfg[240], exact_cfg[240];
            snprintf(fast_cfg, sizeof fast_cfg,
                     "{\"type\":\"binomial\",\"distribution\":\"%s\",\"p_value\":%g,\"min_points\":10,\"adapt_after\":\"1h\"," ONE_LOOK "}",
                     dists[d], pvals[pv]);
            snprintf(exact_cfg, sizeof exact_cfg,
                     "{\"type\":\"binomial\",\"distribution\":\"%s\",\"p_value\":%g,\"exact\":true,\"min_points\":10,"
                     "\"adapt_after\":\"1h\"," ONE_LOOK "}",
                     dists[d], pvals[pv]);
            for (int run = 0; run < 8; run++) {
                struct rig fast, ex;
                rig_init(&fast, fast_cfg);
                rig_init(&ex, exact_cfg);
                double rate = pow(10, -4 + 3.9 * gsl_rng_uniform(rng));
                double size = pow(10, 1 + 7 * gsl_rng_uniform(rng));
                double conc = run % 2 ? pow(10, 1 + 4 * gsl_rng_uniform(rng)) : 0; /* 0 = binomial data */
                for (int i = 0; i < 700; i++) {
                    double n = 1 + gsl_ran_poisson(rng, size * (0.5 + gsl_rng_uniform(rng)));
                    double pi = conc > 0 ? gsl_ran_beta(rng, rate * conc, (1 - rate) * conc) : rate;
                    double k = gsl_ran_binomial(rng, pi, (unsigned)n);
                    if (gsl_rng_uniform(rng) < 0.02)
                        k = fmin(n, round(k * (0.2 + 3 * gsl_rng_uniform(rng)) + 3 * gsl_rng_uniform(rng)));
                    struct kw_verdict vf = rig_feed_ratio(&fast, k, n), ve = rig_feed_ratio(&ex, k, n);
                    cr_assert_eq(vf.anomalous, ve.anomalous, "%s k %g n %g expected %g: %g vs %g", fast_cfg, k, n,
                                 ve.expected, vf.score, ve.score);
                    if (!ve.ready)
                        continue;
                    total++;
                    if (vf.score == ve.score && vf.lower == ve.lower && vf.upper == ve.upper)
                        continue;
                    screened++;
                    if (!vf.anomalous) /* a running alarm stays at 0.5 whatever this interval says */
                        cr_assert_lt(vf.anomaly_score, 0.5);
                    cr_assert_float_eq(fabs(vf.score), fabs(ve.score), 0.2, "%s k %g n %g exp %g: %g vs %g", fast_cfg,
                                       k, n, ve.expected, vf.score, ve.score);
                    double sd = n * (ve.upper - ve.lower) / (2 * gsl_cdf_ugaussian_Qinv(pvals[pv]));
                    cr_assert_float_eq(vf.upper * n, ve.upper * n, 2 + 0.15 * sd, "%s n %g exp %g: [%g %g] vs [%g %g]",
                                       fast_cfg, n, ve.expected, vf.lower * n, vf.upper * n, ve.lower * n,
                                       ve.upper * n);
                    cr_assert_float_eq(vf.lower * n, ve.lower * n, 2 + 0.15 * sd, "%s n %g exp %g: [%g %g] vs [%g %g]",
                                       fast_cfg, n, ve.expected, vf.lower * n, vf.upper * n, ve.lower * n,
                                       ve.upper * n);
                }
                rig_release(&fast);
                rig_release(&ex);
            }
        }
    }
    cr_assert_gt(screened, total / 3, "pre-screen used on %ld of %ld", screened, total);
    gsl_rng_free(rng);
}

/* The small-denominator pre-screen decides without the exact tails and
 * never changes a verdict. A default detector and an exact one, warmed on
 * the same history (rates 0.003..0.9, binomial and beta-binomial models,
 * p_values 1e-5 and 1e-3), each judge every count k of every denominator
 * on a grid of 1..2000 (all k up to n = 120, above that every k within
 * 10 sd of the mean, and 0 and n) from the same saved state: the flags,
 * sides and the state they leave (the next interval's expected rate) are
 * identical. Between the bounds, at denominators 50..1000 and rates
 * 0.05..0.5 the exact path must be the exception, as it is at large n. */
static void grid_probe(struct rig *r, const cJSON *saved, double k, double n, struct kw_verdict *v,
                       struct kw_verdict *next)
{
    cr_assert_eq(kw_detector_state_load(&r->st, &r->det, saved), 0);
    *v = rig_feed_ratio(r, k, n);
    *next = rig_feed_ratio(r, round(n * 0.3), n);
}

Test(detector_binomial, small_n_prescreen_matches_exact_on_a_grid, .timeout = 120)
{
    const char *dists[] = {"auto", "binomial", "beta_binomial"};
    const double pvals[] = {1e-5, 1e-3};
    const double rates[] = {0.003, 0.05, 0.3, 0.5, 0.9};
    long inside = 0, inside_exact = 0, probes = 0;
    for (int d = 0; d < 3; d++)
        for (int pv = 0; pv < 2; pv++)
            for (int ri = 0; ri < 5; ri++) {
                char fast_cfg[200], exact_cfg[200];
                snprintf(fast_cfg, sizeof fast_cfg,
                         "{\"type\":\"binomial\",\"distribution\":\"%s\",\"p_value\":%g,\"min_points\":10}", dists[d],
                         pvals[pv]);
                snprintf(exact_cfg, sizeof exact_cfg,
                         "{\"type\":\"binomial\",\"distribution\":\"%s\",\"p_value\":%g,\"min_points\":10,"
                         "\"exact\":true}",
                         dists[d], pvals[pv]);
                struct rig fast, ex;
                rig_init(&fast, fast_cfg);
                rig_init(&ex, exact_cfg);
                /* history with some spread, so the beta-binomial fits a rho */
                for (int i = 0; i < 14; i++) {
                    double n = 200 + 60 * (i % 5), k = round(n * rates[ri] * (i % 2 ? 1.15 : 0.87));
                    rig_feed_ratio(&fast, fmin(k, n), n);
                }
                cJSON *saved = kw_detector_state_save(&fast.st, &fast.det);
                for (double n = 1; n <= 2000; n += n < 120 ? 1 : ceil(n / 9)) {
                    double p0 = rates[ri], sd = sqrt(n * p0 * (1 - p0)) * (1 + 0.1 * sqrt(n));
                    for (double k = 0; k <= n; k++) {
                        if (n > 120 && k > 0 && k < n && fabs(k - n * p0) > 10 * sd + 3)
                            continue;
                        struct kw_verdict vf, ve, nf, ne;
                        grid_probe(&fast, saved, k, n, &vf, &nf);
                        grid_probe(&ex, saved, k, n, &ve, &ne);
                        probes++;
                        cr_assert(ve.ready);
                        cr_assert_eq(vf.anomalous, ve.anomalous, "%s k %g n %g: p %g vs %g", fast_cfg, k, n,
                                     vf.p_value, ve.p_value);
                        if (ve.anomalous)
                            cr_assert_eq(vf.direction, ve.direction, "%s k %g n %g", fast_cfg, k, n);
                        cr_assert_eq(nf.expected, ne.expected, "%s k %g n %g: the state differs after", fast_cfg, k,
                                     n);
                        cr_assert_eq(nf.anomalous, ne.anomalous, "%s k %g n %g", fast_cfg, k, n);
                        bool between = k / n > ve.lower && k / n < ve.upper;
                        if (n >= 50 && n <= 1000 && p0 >= 0.05 && p0 <= 0.5 && between) {
                            inside++;
                            if (vf.score == ve.score && vf.lower == ve.lower && vf.upper == ve.upper)
                                inside_exact++;
                        }
                    }
                }
                cJSON_Delete(saved);
                rig_release(&fast);
                rig_release(&ex);
            }
    cr_assert_gt(probes, 100000);
    cr_assert_lt(inside_exact, inside / 4, "exact path on %ld of %ld points inside the band", inside_exact, inside);
}

Test(detector_binomial, accepts_only_ratio_kpis)
{
    char err[KW_ERR_LEN];
    struct rig r;
    rig_init(&r, "{\"type\":\"binomial\"}");
    struct kw_series_info counts = {.interval_ms = 60000, .is_count = true};
    cr_assert_eq(kw_detector_accepts(&r.det, &counts, err, sizeof err), -1);
    cr_assert_str_eq(err, "needs a ratio KPI (aggregation \"ratio\" or \"csat\")");
    struct kw_series_info ratio = {.interval_ms = 60000, .is_ratio = true};
    cr_assert_eq(kw_detector_accepts(&r.det, &ratio, err, sizeof err), 0);
    rig_release(&r);
}

static struct kw_sample outage(gsl_rng *rng, int i)
{
    (void)i;
    return rig_ratio(gsl_ran_binomial(rng, 0.35, 1500), 1500);
}

static struct kw_sample normal_dropoff(gsl_rng *rng, int i)
{
    (void)i;
    return rig_ratio(gsl_ran_binomial(rng, 0.06, 1500), 1500);
}

/* A 3-hour payment outage (36 intervals, 6% -> 35% drop-off at n = 1500)
 * stays anomalous to its end, the rate is held at its normal meanwhile,
 * and the return to 6% does not alarm. */
Test(detector_binomial, incident_does_not_teach_the_baseline)
{
    struct rig_incident c =
        rig_run_incident("{\"type\":\"binomial\",\"direction\":\"both\"}", 22, normal_dropoff, 300, outage, 36, 12);
    cr_assert_eq(c.alarmed, 36, "every outage interval alerts (%d of 36)", c.alarmed);
    cr_assert_float_eq(c.last_expected, c.first_expected, 1e-12, "held: the rate did not move");
    cr_assert_eq(c.dips, 0, "no false dip after the outage (%d)", c.dips);
    cr_assert_lt(c.last_alarm, 3, "the alert ends with the outage (last %d after)", c.last_alarm);
}

/* A step with 8 to 10 entries per interval, drop-off 40%: no single
 * interval can show a jump to 65% (9 of 9 is p = 2.6e-4), but the CUSUM
 * accumulates it: found within the 3-hour jump every time, within the
 * first hour about half the time (the information in an hour of 9 visitors
 * allows no more at this p_value), and no false alarm in quiet weeks. */
Test(detector_binomial, small_step_jump_accumulates)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 23);
    int found = 0, within_hour = 0, quiet_alarms = 0;
    for (int run = 0; run < 10; run++) {
        struct rig r;
        r.info = (struct kw_series_info){.interval_ms = 300000, .is_ratio = true, .direction = KW_DIR_UP};
        rig_start(&r, "{\"type\":\"binomial\"}");
        for (int i = 0; i < 2016; i++) {
            double n = 8 + gsl_rng_uniform_int(rng, 3);
            quiet_alarms += rig_feed_ratio(&r, gsl_ran_binomial(rng, 0.40, (unsigned)n), n).anomalous && i > 288;
        }
        for (int i = 0; i < 36; i++) {
            double n = 8 + gsl_rng_uniform_int(rng, 3);
            if (rig_feed_ratio(&r, gsl_ran_binomial(rng, 0.65, (unsigned)n), n).anomalous) {
                found++;
                within_hour += i < 12;
                break;
            }
        }
        rig_release(&r);
    }
    cr_assert_eq(quiet_alarms, 0);
    cr_assert_eq(found, 10, "found in %d of 10", found);
    cr_assert_geq(within_hour, 5, "found within an hour in %d of 10", within_hour);
    gsl_rng_free(rng);
}

/* ---- the learned profile (season) ------------------------------------- */

#define MONDAY_MS 1704067200000LL /* 2024-01-01 00:00 UTC */
#define IV5_MS 300000LL
#define PER_DAY5 288

/* A rig on a 5-minute rate series, fed by interval number from a Monday. */
static void rig5_init(struct rig *r, const char *cfg)
{
    r->info = (struct kw_series_info){.interval_ms = IV5_MS, .is_ratio = true};
    rig_start(r, cfg);
}

static struct kw_verdict feed5(struct rig *r, struct kw_detector_state *st, int i, double k, double n)
{
    struct kw_sample s = {.ts_ms = MONDAY_MS + i * IV5_MS, .value = k / n, .numerator = k, .denominator = n};
    return rig_feed_sample(r, st, &s);
}

/* A drop-off rate of 20% whose odds follow the clock: x2.5 around 20:00,
 * x0.5 around 04:00 (bumps of 2.5 h sd), 300 entries per interval. */
static double rhythm_rate(int i)
{
    double h = (double)(i % PER_DAY5) / 12;
    double ev = fmod(h - 20 + 36, 24) - 12, ni = fmod(h - 4 + 36, 24) - 12;
    double lo = log(0.25) + log(2.5) * exp(-ev * ev / 12.5) + log(0.5) * exp(-ni * ni / 12.5);
    return 1 / (1 + exp(-lo));
}

/* Three weeks of a strong daily rhythm and no incident: with the profile
 * (the default) no alarm in the third week; without it (season none) the
 * rhythm itself raises alarms. */
Test(detector_binomial, season_profile_quiets_a_daily_rhythm, .timeout = 60)
{
    const char *cfgs[] = {"{\"type\":\"binomial\"}", "{\"type\":\"binomial\",\"season\":\"none\"}"};
    int alarms[2] = {0, 0};
    for (int c = 0; c < 2; c++) {
        struct rig r;
        rig5_init(&r, cfgs[c]);
        gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
        gsl_rng_set(rng, 61);
        for (int i = 0; i < 21 * PER_DAY5; i++) {
            double n = 250 + gsl_rng_uniform_int(rng, 101);
            struct kw_verdict v = feed5(&r, &r.st, i, gsl_ran_binomial(rng, rhythm_rate(i), (unsigned)n), n);
            alarms[c] += v.anomalous && i >= 14 * PER_DAY5;
        }
        gsl_rng_free(rng);
        rig_release(&r);
    }
    cr_assert_eq(alarms[0], 0, "with the profile: %d alarms", alarms[0]);
    cr_assert_gt(alarms[1], 0, "without it the rhythm alarms");
}

/* Two weeks of the rhythm, then at the low point (04:00, 11% drop-off) the
 * odds double for 2 hours: a rate that is normal in the afternoon, and an
 * incident at night. The profile finds it, on the up side, and raised
 * nothing in the week before. */
Test(detector_binomial, season_step_at_the_low_point_is_found, .timeout = 60)
{
    struct rig r;
    rig5_init(&r, "{\"type\":\"binomial\"}");
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 62);
    int before = 0, found = -1, start = 14 * PER_DAY5 + 4 * 12;
    for (int i = 0; i < start + 24; i++) {
        double n = 250 + gsl_rng_uniform_int(rng, 101), p = rhythm_rate(i);
        if (i >= start)
            p = 2 * p / (1 - p + 2 * p);
        struct kw_verdict v = feed5(&r, &r.st, i, gsl_ran_binomial(rng, p, (unsigned)n), n);
        before += v.anomalous && i >= 7 * PER_DAY5 && i < start;
        if (v.anomalous && i >= start && found < 0) {
            found = i - start;
            cr_assert_eq(v.direction, 1);
            cr_assert_lt(v.expected, 0.14, "expected at 04:00: %g", v.expected);
        }
    }
    cr_assert_eq(before, 0, "alarms in the week before: %d", before);
    cr_assert(found >= 0 && found < 6, "found after %d intervals", found);
    gsl_rng_free(rng);
    rig_release(&r);
}

/* The learned profile is part of the state: a copy through JSON text saves
 * to the same text and gives bit-identical verdicts; the profile it carries
 * has learned the rhythm (the expected odds at 20:00 are about 2.5 times
 * those at noon). */
Test(detector_binomial, season_profile_survives_a_round_trip, .timeout = 60)
{
    struct rig a, b;
    rig5_init(&a, "{\"type\":\"binomial\"}");
    rig5_init(&b, "{\"type\":\"binomial\"}");
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 63);
    int i = 0;
    for (; i < 14 * PER_DAY5; i++) {
        double n = 250 + gsl_rng_uniform_int(rng, 101);
        feed5(&a, &a.st, i, gsl_ran_binomial(rng, rhythm_rate(i), (unsigned)n), n);
    }
    rig_copy_state_text(&a, &b);
    cJSON *sa = kw_detector_state_save(&a.st, &a.det), *sb = kw_detector_state_save(&b.st, &b.det);
    char *ta = cJSON_PrintUnformatted(sa), *tb = cJSON_PrintUnformatted(sb);
    cr_assert_str_eq(ta, tb);
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(sa, "state")), 87, "25 numbers and the profile's 62");
    free(ta);
    free(tb);
    cJSON_Delete(sa);
    cJSON_Delete(sb);
    double noon = NAN, evening = NAN;
    for (int end = i + PER_DAY5; i < end; i++) {
        double n = 250 + gsl_rng_uniform_int(rng, 101), k = gsl_ran_binomial(rng, rhythm_rate(i), (unsigned)n);
        if (i % 97 == 0)
            k = n; /* incidents */
        struct kw_verdict va = feed5(&a, &a.st, i, k, n), vb = feed5(&b, &b.st, i, k, n);
        assert_same_verdict(&va, &vb, i);
        if (i % PER_DAY5 == 12 * 12)
            noon = va.expected;
        if (i % PER_DAY5 == 20 * 12)
            evening = va.expected;
    }
    double ratio = evening / (1 - evening) / (noon / (1 - noon));
    cr_assert(ratio > 2.1 && ratio < 2.9, "odds ratio 20:00 / noon: %g", ratio);
    gsl_rng_free(rng);
    rig_release(&a);
    rig_release(&b);
}

/* Save r's state with its numbers cut to the first `keep`. */
static cJSON *saved_cut(const struct rig *r, int keep)
{
    cJSON *saved = kw_detector_state_save(&r->st, &r->det), *v = cJSON_GetObjectItem(saved, "state");
    while (cJSON_GetArraySize(v) > keep)
        cJSON_DeleteItemFromArray(v, keep);
    return saved;
}

/* A state saved before rates had a profile (its first 25 numbers, the same
 * order) loads with a flat profile: under season none it goes on exactly
 * as the detector that saved it; under the default its expected rate is
 * the level at every hour until the profile learns. */
Test(detector_binomial, state_without_a_profile_loads, .timeout = 60)
{
    struct rig a, b, c;
    rig5_init(&a, "{\"type\":\"binomial\",\"season\":\"none\"}");
    rig5_init(&b, "{\"type\":\"binomial\",\"season\":\"none\"}");
    rig5_init(&c, "{\"type\":\"binomial\"}");
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 64);
    int i = 0;
    for (; i < 3 * PER_DAY5; i++) {
        double n = 250 + gsl_rng_uniform_int(rng, 101);
        feed5(&a, &a.st, i, gsl_ran_binomial(rng, 0.2, (unsigned)n), n);
    }
    cJSON *old = saved_cut(&a, 25);
    cr_assert_eq(kw_detector_state_load(&b.st, &b.det, old), 0);
    cr_assert_eq(kw_detector_state_load(&c.st, &c.det, old), 0);
    cJSON_Delete(old);
    struct kw_detector_state midnight, evening;
    rig_clone_state(&c, &midnight, true);
    rig_clone_state(&c, &evening, true);
    struct kw_verdict v0 = feed5(&c, &midnight, i, 60, 300), v20 = feed5(&c, &evening, i + 20 * 12, 60, 300);
    cr_assert(v0.ready);
    cr_assert_eq(v20.expected, v0.expected, "flat: %.17g vs %.17g", v20.expected, v0.expected);
    kw_detector_state_release(&midnight, &c.det);
    kw_detector_state_release(&evening, &c.det);
    for (int end = i + PER_DAY5; i < end; i++) {
        double n = 250 + gsl_rng_uniform_int(rng, 101), k = gsl_ran_binomial(rng, 0.2, (unsigned)n);
        struct kw_verdict va = feed5(&a, &a.st, i, k, n), vb = feed5(&b, &b.st, i, k, n);
        assert_same_verdict(&va, &vb, i);
    }
    gsl_rng_free(rng);
    rig_release(&a);
    rig_release(&b);
    rig_release(&c);
}

/* A damaged profile is refused: a negative or missing sum, or a length that
 * is neither the state with a profile nor the one without. */
Test(detector_binomial, damaged_profile_is_refused)
{
    struct rig a;
    rig5_init(&a, "{\"type\":\"binomial\"}");
    for (int i = 0; i < 400; i++)
        feed5(&a, &a.st, i, 20 + i % 7, 100);
    cJSON *good = kw_detector_state_save(&a.st, &a.det);
    cr_assert_eq(kw_detector_state_load(&a.st, &a.det, good), 0);
    const int where[] = {25, 40, 86};
    for (int w = 0; w < 3; w++) {
        cJSON *bad = cJSON_Duplicate(good, 1), *v = cJSON_GetObjectItem(bad, "state");
        cJSON_ReplaceItemInArray(v, where[w], cJSON_CreateNumber(-1));
        cr_assert_eq(kw_detector_state_load(&a.st, &a.det, bad), -1, "negative sum at %d", where[w]);
        cJSON_ReplaceItemInArray(v, where[w], cJSON_CreateNull());
        cr_assert_eq(kw_detector_state_load(&a.st, &a.det, bad), -1, "missing sum at %d", where[w]);
        cJSON_Delete(bad);
    }
    cJSON *cut = saved_cut(&a, 86);
    cr_assert_eq(kw_detector_state_load(&a.st, &a.det, cut), -1);
    cJSON_Delete(cut);
    cJSON_Delete(good);
    rig_release(&a);
}

/* The odds profile against an independent computation (python3, math only):
 * daily plan at 5-minute intervals (a slot keeps exp(-1 / (28 x 12)) per
 * visit), reference odds 0.25 (a 20% rate), three intervals of 30 of 100
 * at 20:00 and three of 10 of 100 at 04:00. A slot adds k / (1 + o) and
 * (n - k) o / (1 + o); an hour's factor is (obs + half its neighbours' +
 * 20) / (exp + half its neighbours' + 20), normalised to mean 1 over 24:
 *   20:00 1.4728826976112661, 21:00 1.3556368168918327,
 *   04:00 0.5906999629112568, 12:00 0.9929055592294682;
 * the 20:00 sums are 71.78624480059125 and 41.87530946701157, and a 20%
 * level at 20:00 expects 0.2691237468426157. */
Test(detector_binomial, reference_odds_profile)
{
    struct kw_profile p;
    memset(&p, 0, sizeof p);
    struct kw_profile_plan pl;
    kw_profile_plan(&pl, KW_SEASON_DAILY, IV5_MS);
    cr_assert(pl.hours && !pl.days);
    for (int i = 0; i < 3; i++)
        kw_profile_learn_odds(&p, &pl, kw_profile_slot(MONDAY_MS + 20 * 3600000LL), 30, 100, 0.25, 1, 1);
    for (int i = 0; i < 3; i++)
        kw_profile_learn_odds(&p, &pl, kw_profile_slot(MONDAY_MS + 4 * 3600000LL), 10, 100, 0.25, 1, 1);
    cr_assert_float_eq(p.hour_obs[20], 71.78624480059125, 1e-12);
    cr_assert_float_eq(p.hour_exp[20], 41.87530946701157, 1e-12);
    const int hours[] = {20, 21, 4, 12};
    const double want[] = {1.4728826976112661, 1.3556368168918327, 0.5906999629112568, 0.9929055592294682};
    double h, d;
    for (int i = 0; i < 4; i++) {
        double f = kw_profile_shape(&p, &pl, kw_profile_slot(MONDAY_MS + hours[i] * 3600000LL), &h, &d);
        cr_assert_float_eq(f, want[i], 1e-13, "hour %d: %.17g", hours[i], f);
        cr_assert_eq(d, 1.0);
    }
    cr_assert_float_eq(kw_odds_times(0.2, want[0]), 0.2691237468426157, 1e-15);
    cr_assert_eq(kw_odds_times(0.2, 1.0), 0.2, "exactly the rate at ratio 1");
    cr_assert_eq(kw_profile_cycle(&pl, IV5_MS), 288);
}
