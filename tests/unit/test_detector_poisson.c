/* Unit tests for the poisson detector: tail probabilities against values
 * computed independently (python3 math module, shown in comments), the
 * low-rate cases from the spec, negative binomial for bursty counts,
 * warm-up, gaps, state round trip, spikes versus clean Poisson noise. */
#include <criterion/criterion.h>
#include <gsl/gsl_cdf.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_randist.h>
#include <math.h>
#include <string.h>

#define RIG_SERIES {.interval_ms = 60000, .is_count = true}
#include "detector_rig.h"

/* A fresh detector fed `hist`, then probed with x. */
static struct kw_verdict probe(const char *cfg, const double *hist, int n, double x)
{
    struct rig r;
    rig_init(&r, cfg);
    for (int i = 0; i < n; i++)
        rig_feed(&r, hist[i]);
    struct kw_verdict v = rig_feed(&r, x);
    rig_release(&r);
    return v;
}

/* Ten intervals of 4 give lambda = 4 exactly. With python3's math module:
 * P(X >= 12 | 4) = 1 - sum(exp(-4) 4^j / j!, j = 0..11) = 0.000915229 (< 0.001)
 * P(X >= 11 | 4) = 0.002839766; P(X <= 0 | 4) = exp(-4) = 0.0183 >= 0.001,
 * so the bounds are [0, 11]: P(X > 11) < 0.001 <= P(X > 10). */
Test(detector_poisson, reference_tail_probabilities)
{
    const char *cfg = "{\"type\":\"poisson\",\"p_value\":0.001}";
    const double four[10] = {4, 4, 4, 4, 4, 4, 4, 4, 4, 4};
    struct kw_verdict v = probe(cfg, four, 10, 12);
    cr_assert(v.ready);
    cr_assert_float_eq(v.expected, 4, 1e-12);
    cr_assert(v.anomalous);
    cr_assert_float_eq(v.score, -log10(0.0009152291472702689), 1e-9);
    cr_assert_float_eq(v.lower, 0, 1e-12);
    cr_assert_float_eq(v.upper, 11, 1e-12);
    cr_assert_float_eq(v.anomaly_score, kw_squash(-log10(0.0009152291472702689), 3), 1e-12);
    v = probe(cfg, four, 10, 11);
    cr_assert_not(v.anomalous);
    cr_assert_float_eq(v.score, -log10(0.0028397661205139535), 1e-9);
    v = probe(cfg, four, 10, 0); /* lower tail: P(X <= 0) = exp(-4) */
    cr_assert_not(v.anomalous);
    cr_assert_float_eq(v.score, log10(0.01831563888873418), 1e-9);
    cr_assert_eq(v.direction, -1);
}

/* The spec's low-rate cases, lambda = 0.1 (nine 0s and one 1), p_value 0.001:
 * 0 observed: P(X <= 0) = exp(-0.1) = 0.905, normal.
 * 2 observed: P(X >= 2) = 0.004679, normal.
 * 3 observed: P(X >= 3) = 1 - exp(-0.1) (1 + 0.1 + 0.005) = 0.000154654, anomalous.
 * With the default p_value 1e-5, 3 is normal and 4 (P = 3.8468e-06) is not. */
Test(detector_poisson, low_rate_counts)
{
    const char *cfg = "{\"type\":\"poisson\",\"p_value\":0.001}";
    const double hist[10] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    struct kw_verdict v = probe(cfg, hist, 10, 0);
    cr_assert(v.ready);
    cr_assert_float_eq(v.expected, 0.1, 1e-15);
    cr_assert_not(v.anomalous);
    cr_assert_float_eq(v.score, log10(0.9048374180359595), 1e-9);
    v = probe(cfg, hist, 10, 2);
    cr_assert_not(v.anomalous);
    cr_assert_float_eq(v.score, -log10(0.0046788401604445085), 1e-9);
    v = probe(cfg, hist, 10, 3);
    cr_assert(v.anomalous);
    cr_assert_float_eq(v.score, -log10(0.00015465307026474306), 1e-9);
    cr_assert_float_eq(v.upper, 2, 1e-12);
    v = probe("{\"type\":\"poisson\"}", hist, 10, 3);
    cr_assert_not(v.anomalous, "default p_value 1e-5");
    v = probe("{\"type\":\"poisson\"}", hist, 10, 4);
    cr_assert(v.anomalous);
    cr_assert_float_eq(v.score, -log10(3.846834e-06), 1e-5);
    cr_assert_float_eq(v.upper, 3, 1e-12);
}

/* After a long run of zeros lambda is floored at 0.5 / n_eff (n_eff = 39 for
 * alpha 0.05): one event has P = 0.0127 (normal), two P = 8.1e-5 (anomalous). */
Test(detector_poisson, zeros_then_events)
{
    const char *cfg = "{\"type\":\"poisson\",\"p_value\":0.001}";
    double zeros[200] = {0};
    struct kw_verdict v = probe(cfg, zeros, 200, 0);
    cr_assert_not(v.anomalous);
    cr_assert_float_eq(v.expected, 0.5 / 39, 1e-12);
    v = probe(cfg, zeros, 200, 1);
    cr_assert_not(v.anomalous);
    cr_assert_float_eq(v.score, -log10(0.012738680131672453), 1e-9);
    v = probe(cfg, zeros, 200, 2);
    cr_assert(v.anomalous);
    cr_assert_float_eq(v.score, -log10(8.148372310412544e-05), 1e-7);
}

/* Bursty history {0,0,0,0,0,10,0,0,0,10}: mean 2, variance 16, so
 * r = 4 / 14 = 0.285714, p = r / (r + 2) = 0.125. With python3 (lgamma):
 * NB P(X >= 10) = 0.052748 (normal) where Poisson(2) gives 4.65e-5;
 * NB P(X >= 40) = 0.000433915 (anomalous); NB upper bound 34. */
Test(detector_poisson, negative_binomial_reference)
{
    const double hist[10] = {0, 0, 0, 0, 0, 10, 0, 0, 0, 10};
    const char *nb = "{\"type\":\"poisson\",\"distribution\":\"negative_binomial\",\"p_value\":0.001}";
    struct kw_verdict v = probe(nb, hist, 10, 10);
    cr_assert_not(v.anomalous);
    cr_assert_float_eq(v.score, -log10(0.05274774631640222), 1e-7);
    cr_assert_float_eq(v.upper, 34, 1e-12);
    v = probe(nb, hist, 10, 40);
    cr_assert(v.anomalous);
    cr_assert_float_eq(v.score, -log10(0.0004339153374763871), 1e-7);
    v = probe("{\"type\":\"poisson\",\"p_value\":0.001}", hist, 10, 10);
    cr_assert(v.anomalous);
    cr_assert_float_eq(v.score, -log10(4.6498075017109564e-05), 1e-7);
}

/* Bounds agree with the test itself: a value is anomalous exactly when it
 * is outside [lower, upper], over a range of rates and both models. */
Test(detector_poisson, bounds_match_the_test)
{
    const char *cfgs[] = {"{\"type\":\"poisson\",\"p_value\":0.01}",
                          "{\"type\":\"poisson\",\"distribution\":\"negative_binomial\"}"};
    const double rates[] = {0.03, 0.7, 3, 25, 400, 1e5, 3e6};
    for (int c = 0; c < 2; c++) {
        for (int i = 0; i < 7; i++) {
            double hist[12];
            for (int j = 0; j < 12; j++)
                hist[j] = round(rates[i] * (j % 3 == 0 ? 1.8 : 0.6) + (j % 2));
            struct kw_verdict base = probe(cfgs[c], hist, 12, round(rates[i]));
            cr_assert(base.ready);
            for (int d = -3; d <= 3; d++) {
                double xs[2] = {base.lower + d, base.upper + d};
                for (int e = 0; e < 2; e++) {
                    if (xs[e] < 0)
                        continue;
                    struct kw_verdict v = probe(cfgs[c], hist, 12, xs[e]);
                    bool outside = xs[e] < v.lower || xs[e] > v.upper;
                    cr_assert_eq(v.anomalous, outside, "cfg %d rate %g x %g bounds [%g, %g]", c, rates[i],
                                 xs[e], v.lower, v.upper);
                }
            }
        }
    }
}

Test(detector_poisson, warmup_and_gaps)
{
    struct rig a, b;
    rig_init(&a, "{\"type\":\"poisson\",\"min_points\":5}");
    rig_init(&b, "{\"type\":\"poisson\",\"min_points\":5}");
    for (int i = 0; i < 5; i++) {
        struct kw_verdict v = rig_feed(&a, 100);
        cr_assert_not(v.ready, "point %d", i);
        cr_assert_not(v.anomalous);
        rig_feed(&b, 100);
    }
    cr_assert(rig_feed(&a, 0).ready); /* and 0 against 100 is anomalous */
    rig_feed(&b, 0);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 41);
    for (int i = 0; i < 200; i++) {
        double x = gsl_ran_poisson(rng, 9);
        if (i % 3 == 0) {
            cr_assert_not(rig_feed(&a, NAN).ready);
            cr_assert_not(rig_feed(&a, -1).ready); /* impossible counts are gaps too */
        }
        struct kw_verdict va = rig_feed(&a, x), vb = rig_feed(&b, x);
        assert_same_verdict(&va, &vb, i);
    }
    gsl_rng_free(rng);
    rig_release(&a);
    rig_release(&b);
}

Test(detector_poisson, state_round_trip_is_bit_identical)
{
    const char *cfg = "{\"type\":\"poisson\",\"distribution\":\"negative_binomial\",\"alpha\":0.03}";
    struct rig a, b;
    rig_init(&a, cfg);
    rig_init(&b, cfg);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 43);
    for (int i = 0; i < 77; i++)
        rig_feed(&a, gsl_ran_negative_binomial(rng, 0.3, 2.0) + (i == 50 ? 80 : 0));
    rig_copy_state_text(&a, &b);
    for (int i = 0; i < 200; i++) {
        double x = gsl_ran_negative_binomial(rng, 0.3, 2.0) + (i % 50 == 0 ? 60 : 0);
        struct kw_verdict va = rig_feed(&a, x), vb = rig_feed(&b, x);
        assert_same_verdict(&va, &vb, i);
    }
    cJSON *bad = cJSON_Parse("[3, -1, 0]");
    cr_assert_eq(b.det.type->state_load(b.st.impl, b.det.cfg, bad), -1);
    cJSON_Delete(bad);
    gsl_rng_free(rng);
    rig_release(&a);
    rig_release(&b);
}

/* Poisson(20) noise: (almost) no alarms; a burst of 45 is caught, and it
 * does not blind the detector to a second burst (winsorised learning). */
Test(detector_poisson, spike_detected_clean_series_quiet)
{
    struct rig r;
    rig_init(&r, "{\"type\":\"poisson\",\"p_value\":0.001}");
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 44);
    int false_alarms = 0;
    for (int i = 0; i < 2000; i++)
        false_alarms += rig_feed(&r, gsl_ran_poisson(rng, 20)).anomalous;
    cr_assert_leq(false_alarms, 8, "false alarms: %d", false_alarms);
    struct kw_verdict v = rig_feed(&r, 45);
    cr_assert(v.anomalous);
    cr_assert_eq(v.direction, 1);
    cr_assert_float_eq(v.expected, 20, 2);
    rig_feed(&r, 400); /* a huge burst ... */
    v = rig_feed(&r, 45);
    cr_assert(v.anomalous); /* ... has not moved the baseline much */
    gsl_rng_free(rng);
    rig_release(&r);
}

/* Overdispersed counts (negative binomial, mean 20, variance 220): the
 * Poisson model cries wolf, the negative binomial model does not, and both
 * still catch a real burst. */
Test(detector_poisson, negative_binomial_tames_bursty_counts)
{
    struct rig pois, nb;
    rig_init(&pois, "{\"type\":\"poisson\"}");
    rig_init(&nb, "{\"type\":\"poisson\",\"distribution\":\"negative_binomial\"}");
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 45);
    int alarms_pois = 0, alarms_nb = 0;
    for (int i = 0; i < 2000; i++) {
        double x = gsl_ran_negative_binomial(rng, 2.0 / 22.0, 2.0); /* r = 2, mean 20 */
        alarms_pois += rig_feed(&pois, x).anomalous;
        alarms_nb += rig_feed(&nb, x).anomalous;
    }
    cr_assert_gt(alarms_pois, 100, "poisson alarms: %d", alarms_pois);
    cr_assert_leq(alarms_nb, 20, "negative binomial alarms: %d", alarms_nb);
    cr_assert(rig_feed(&nb, 400).anomalous);
    gsl_rng_free(rng);
    rig_release(&pois);
    rig_release(&nb);
}

/* Extreme values must not trip GSL's error handler (which aborts). */
Test(detector_poisson, extreme_counts_are_safe)
{
    const double tiny[10] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    struct kw_verdict v = probe("{\"type\":\"poisson\"}", tiny, 10, 3e9);
    cr_assert(v.anomalous);
    cr_assert(isfinite(v.score) && v.anomaly_score > 0.9);
    const double huge[10] = {1e9, 1e9, 1e9, 1e9, 1e9, 1e9, 1e9, 1e9, 1e9, 1e9};
    v = probe("{\"type\":\"poisson\"}", huge, 10, 0);
    cr_assert(v.anomalous);
    cr_assert_eq(v.direction, -1);
    v = probe("{\"type\":\"poisson\"}", huge, 10, 1e9 + 10);
    cr_assert_not(v.anomalous);
    const double bursty[10] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 5000};
    v = probe("{\"type\":\"poisson\",\"distribution\":\"negative_binomial\"}", bursty, 10, 1e6);
    cr_assert(v.ready);
    cr_assert(isfinite(v.upper) && isfinite(v.lower));
}

Test(detector_poisson, accepts_only_count_kpis)
{
    char err[KW_ERR_LEN];
    struct rig r;
    rig_init(&r, "{\"type\":\"poisson\"}");
    struct kw_series_info gauge = {.interval_ms = 60000};
    cr_assert_eq(kw_detector_accepts(&r.det, &gauge, err, sizeof err), -1);
    cr_assert(strstr(err, "needs a count KPI") != NULL, "%s", err);
    struct kw_series_info counts = {.interval_ms = 60000, .is_count = true};
    cr_assert_eq(kw_detector_accepts(&r.det, &counts, err, sizeof err), 0);
    rig_release(&r);

    struct kw_detector d;
    cJSON *obj = cJSON_Parse("{\"type\":\"poisson\",\"distribution\":\"gaussian\"}");
    cr_assert_eq(kw_detector_parse(&d, obj, "k", err, sizeof err), -1);
    cr_assert(strstr(err, "k.distribution: must be one of: poisson, negative_binomial") != NULL, "%s", err);
    cJSON_Delete(obj);
}

/* Above a mean of 1e5 the tail comes from the Wilson-Hilferty approximation
 * (GSL's incomplete gamma aborts near 1e6); at 2e5 GSL still works, so the
 * two can be compared: within 1e-3 in log10 p, 4 and 6 sd out. */
Test(detector_poisson, large_means_match_gsl)
{
    const double hist[10] = {2e5, 2e5, 2e5, 2e5, 2e5, 2e5, 2e5, 2e5, 2e5, 2e5};
    const double ks[] = {201789, 202683, 198211, 197317};
    for (int i = 0; i < 4; i++) {
        struct kw_verdict v = probe("{\"type\":\"poisson\"}", hist, 10, ks[i]);
        double p = ks[i] > 2e5 ? gsl_cdf_poisson_Q((unsigned)ks[i] - 1, 2e5) : gsl_cdf_poisson_P((unsigned)ks[i], 2e5);
        double want = ks[i] > 2e5 ? -log10(p) : log10(p);
        cr_assert_float_eq(v.score, want, 1e-3, "k %g: %g vs %g", ks[i], v.score, want);
    }
}

/* The default p_value (1e-5) on Poisson(4..16) counts with a daily rhythm,
 * like the accuracy benchmark's quiet count series: at most ~0.3 false
 * alarms per 1,000 intervals (p_value 0.001 gave 2.7). */
Test(detector_poisson, default_quiet_on_daily_counts)
{
    struct rig r;
    rig_init(&r, "{\"type\":\"poisson\"}");
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 46);
    int alarms = 0;
    for (int i = 0; i < 20000; i++) {
        double lambda = 10 + 6 * sin(2 * M_PI * i / 288.0);
        alarms += rig_feed(&r, gsl_ran_poisson(rng, lambda)).anomalous;
    }
    cr_assert_leq(alarms, 6, "false alarms: %d", alarms);
    gsl_rng_free(rng);
    rig_release(&r);
}

/* The pre-screen never changes a verdict: a default detector and one with
 * exact = true see the same long series (means 0.01..1e6, both models,
 * several p_values, level jumps and bursts) and must flag exactly the same
 * intervals; for the points the pre-screen handled, the approximate
 * -log10 p stays within 0.15 of the exact one (and below the threshold),
 * and the approximate bounds within 1 count + 0.1 sd of the exact ones. */
Test(detector_poisson, prescreen_matches_exact_flags)
{
    const char *dists[] = {"poisson", "negative_binomial"};
    const double pvals[] = {1e-2, 1e-3, 1e-5, 1e-8, 1e-12};
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 47);
    long screened = 0, total = 0;
    for (int d = 0; d < 2; d++) {
        for (int pv = 0; pv < 5; pv++) {
            char fast_cfg[160], exact_cfg[160];
            snprintf(fast_cfg, sizeof fast_cfg, "{\"type\":\"poisson\",\"distribution\":\"%s\",\"p_value\":%g}",
                     dists[d], pvals[pv]);
            snprintf(exact_cfg, sizeof exact_cfg,
                     "{\"type\":\"poisson\",\"distribution\":\"%s\",\"p_value\":%g,\"exact\":true}", dists[d],
                     pvals[pv]);
            for (int run = 0; run < 8; run++) {
                struct rig fast, ex;
                rig_init(&fast, fast_cfg);
                rig_init(&ex, exact_cfg);
                double mu = pow(10, -2 + 8 * gsl_rng_uniform(rng));
                double size = pow(10, -1 + 4 * gsl_rng_uniform(rng)); /* negative binomial r */
                for (int i = 0; i < 1500; i++) {
                    if (i % 500 == 499)
                        mu *= pow(10, gsl_rng_uniform(rng) - 0.5);
                    double x = d == 0 ? gsl_ran_poisson(rng, mu)
                                      : gsl_ran_negative_binomial(rng, size / (size + mu), size);
                    if (gsl_rng_uniform(rng) < 0.02)
                        x = round(x * (0.2 + 3 * gsl_rng_uniform(rng)) + 5 * gsl_rng_uniform(rng));
                    struct kw_verdict vf = rig_feed(&fast, x), ve = rig_feed(&ex, x);
                    cr_assert_eq(vf.anomalous, ve.anomalous, "%s x %g expected %g: %g vs %g", fast_cfg, x,
                                 ve.expected, vf.score, ve.score);
                    if (!ve.ready)
                        continue;
                    total++;
                    if (vf.score == ve.score && vf.lower == ve.lower && vf.upper == ve.upper)
                        continue;
                    screened++;
                    cr_assert_lt(vf.anomaly_score, 0.5);
                    cr_assert_float_eq(fabs(vf.score), fabs(ve.score), 0.15, "%s x %g exp %g: %g vs %g", fast_cfg, x,
                                       ve.expected, vf.score, ve.score);
                    double sd = (ve.upper - ve.lower) / (2 * gsl_cdf_ugaussian_Qinv(pvals[pv]));
                    cr_assert_float_eq(vf.upper, ve.upper, 1 + 0.1 * sd, "%s exp %g", fast_cfg, ve.expected);
                    cr_assert_float_eq(vf.lower, ve.lower, 1 + 0.1 * sd, "%s exp %g", fast_cfg, ve.expected);
                }
                rig_release(&fast);
                rig_release(&ex);
            }
        }
    }
    cr_assert_gt(screened, total / 5, "pre-screen used on %ld of %ld", screened, total);
    gsl_rng_free(rng);
}

/* An 18-interval incident (5x the usual 6 complaints) must stay anomalous to
 * its end, and the return to normal must not look like a dip. With the
 * incident learned at full weight (incident_weight 1) the baseline climbs
 * until the incident "resolves" itself half-way and the drop back alarms. */
static void incident_run(const char *cfg, int *anomalous_in, int *anomalous_after)
{
    struct rig r;
    rig_init(&r, cfg);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 21);
    for (int i = 0; i < 300; i++)
        rig_feed(&r, gsl_ran_poisson(rng, 6));
    *anomalous_in = *anomalous_after = 0;
    for (int i = 0; i < 18; i++)
        *anomalous_in += rig_feed(&r, gsl_ran_poisson(rng, 30)).anomalous;
    for (int i = 0; i < 12; i++)
        *anomalous_after += rig_feed(&r, gsl_ran_poisson(rng, 6)).anomalous;
    gsl_rng_free(rng);
    rig_release(&r);
}

Test(detector_poisson, incident_does_not_teach_the_baseline)
{
    int in, after;
    incident_run("{\"type\":\"poisson\"}", &in, &after);
    /* a draw of 20 from Poisson(30) is only p ~ 1e-5 against 6: allow one */
    cr_assert_geq(in, 17, "the incident keeps alerting (%d of 18)", in);
    cr_assert_eq(after, 0, "no dip after the incident (%d)", after);
    incident_run("{\"type\":\"poisson\",\"incident_weight\":1}", &in, &after);
    cr_assert(in < 17 || after > 0, "learning at full weight should spoil the incident (in %d, after %d)", in, after);
}
