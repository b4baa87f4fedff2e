/* Unit tests for the nps detector: the multinomial variance of promoters
 * minus detractors against a hand computation (Rocks 2016), the exact
 * multinomial tail against a python3 sum, the same drop judged by the
 * number of answers, direction, warm-up and state round trip. */
#include <criterion/criterion.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <string.h>

#define RIG_SERIES {.interval_ms = 300000, .is_nps = true, .direction = KW_DIR_DOWN}
#include "detector_series.h"

static struct kw_sample nps_sample(double promoters, double detractors, double answers)
{
    return (struct kw_sample){.ts_ms = 0, .value = 100 * (promoters - detractors) / answers, .numerator = promoters,
                              .detractors = detractors, .denominator = answers};
}

static struct kw_verdict feed_nps(struct rig *r, double promoters, double detractors, double answers)
{
    struct kw_sample s = nps_sample(promoters, detractors, answers);
    return rig_feed_sample(r, &r->st, &s);
}

/* A baseline of 1,000 intervals of 50 promoters, 10 detractors in 100
 * answers: pP = (P + 1/3) / (N + 1) and pD likewise, within 1e-4 of 0.5
 * and 0.1, so NPS = +40 and, by hand (Rocks, "Interval estimation for the
 * Net Promoter Score", The American Statistician 70(4), 2016),
 *     v = pP + pD - (pP - pD)^2 = 0.5 + 0.1 - 0.16 = 0.44,
 * the sd of one interval's NPS over N answers is 100 sqrt(0.44 / N): 19.15
 * points at N = 12, 1.915 at N = 1,200. The display band is
 * mu -+ z(p_value / 2) sd, clipped to [-100, +100]. */
Test(detector_nps, multinomial_variance_reference)
{
    struct rig r;
    rig_init(&r, "{\"type\":\"nps\",\"p_value\":1e-3,\"min_points\":10,\"direction\":\"both\"}");
    for (int i = 0; i < 1000; i++)
        feed_nps(&r, 50, 10, 100);
    struct kw_verdict v = feed_nps(&r, 600, 120, 1200);
    cr_assert_float_eq(v.expected, 40, 0.01);
    double z = 3.290526731491926; /* normal quantile of 1e-3 / 2, python3 statistics.NormalDist */
    cr_assert_float_eq((v.upper - v.lower) / 2, z * 100 * sqrt(0.44 / 1200), 1e-3, "half band %g",
                       (v.upper - v.lower) / 2);
    v = feed_nps(&r, 6, 1, 12);
    cr_assert_float_eq(v.expected - v.lower, z * 100 * sqrt(0.44 / 12), 1e-2, "the upper side is clipped at +100");
    cr_assert_float_eq(v.upper, 100, 0);
    rig_release(&r);
}

/* The same drop, +40 to +10, judged by the number of answers:
 * 12 answers, 3 promoters and 2 detractors (NPS +8.3): the exact
 * multinomial tail P(P - D <= 1 | N 12, pP 0.5, pD 0.1) = 0.07918949835
 * (python3: sum over a + b <= 12, a - b <= 1 of 12! / (a! b! c!) 0.5^a
 * 0.1^b 0.4^c) is noise; 1,200 answers with 420 promoters and 300
 * detractors (+10) are 15.7 sd down: news. */
Test(detector_nps, same_drop_different_answers)
{
    const char *cfg = "{\"type\":\"nps\",\"min_points\":10,\"shift\":0}";
    struct rig a, b;
    rig_init(&a, cfg);
    rig_init(&b, cfg);
    for (int i = 0; i < 2000; i++) {
        feed_nps(&a, 50, 10, 100);
        feed_nps(&b, 50, 10, 100);
    }
    struct kw_verdict small = feed_nps(&a, 3, 2, 12);
    cr_assert_not(small.anomalous);
    cr_assert_float_eq(small.p_value, 0.07918949835000005, 5e-4, "exact tail %g", small.p_value);
    struct kw_verdict big = feed_nps(&b, 420, 300, 1200);
    cr_assert(big.anomalous);
    cr_assert_eq(big.direction, -1);
    cr_assert_lt(big.p_value, 1e-40);
    rig_release(&a);
    rig_release(&b);
}

/* Lower is worse: with the default direction a rise never alerts; a lasting
 * small drop that no interval shows alone is accumulated by the CUSUM. */
Test(detector_nps, direction_and_accumulation)
{
    struct rig r;
    rig_init(&r, "{\"type\":\"nps\",\"min_points\":10}");
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 60);
    unsigned counts[3];
    const double base[3] = {0.5, 0.4, 0.1}, worse[3] = {0.4, 0.4, 0.2}, better[3] = {0.8, 0.15, 0.05};
    int alarms = 0;
    for (int i = 0; i < 2000; i++) {
        gsl_ran_multinomial(rng, 3, 20, base, counts);
        alarms += feed_nps(&r, counts[0], counts[2], 20).anomalous;
    }
    cr_assert_eq(alarms, 0, "quiet on the baseline");
    for (int i = 0; i < 20; i++) {
        gsl_ran_multinomial(rng, 3, 20, better, counts);
        cr_assert_not(feed_nps(&r, counts[0], counts[2], 20).anomalous, "a better score is no alert");
    }
    for (int i = 0; i < 200; i++)
        gsl_ran_multinomial(rng, 3, 20, base, counts), feed_nps(&r, counts[0], counts[2], 20);
    int found = -1, single = 0;
    for (int i = 0; i < 72 && found < 0; i++) {
        gsl_ran_multinomial(rng, 3, 20, worse, counts);
        struct kw_verdict v = feed_nps(&r, counts[0], counts[2], 20);
        single += v.p_value < 1e-5 / 2;
        if (v.anomalous)
            found = i;
    }
    cr_assert_geq(found, 0, "a 20-point drop over 20 answers per interval is found within 6 h");
    gsl_rng_free(rng);
    rig_release(&r);
}

/* 15 answers drawn around the baseline NPS of +40. */
static struct kw_sample answers_of_15(gsl_rng *rng, int i)
{
    (void)i;
    static const double base[3] = {0.5, 0.4, 0.1};
    unsigned counts[3];
    gsl_ran_multinomial(rng, 3, 15, base, counts);
    return nps_sample(counts[0], counts[2], 15);
}

Test(detector_nps, state_round_trip_and_kind)
{
    twins_assert_restart_changes_nothing("{\"type\":\"nps\",\"min_points\":10}", 61, answers_of_15, 300, answers_of_15,
                                         200, NULL);
    struct rig r;
    rig_init(&r, "{\"type\":\"nps\",\"min_points\":10}");
    char err[KW_ERR_LEN];
    struct kw_series_info counts_kpi = {.interval_ms = 300000, .is_count = true};
    cr_assert_eq(kw_detector_accepts(&r.det, &counts_kpi, err, sizeof err), -1);
    cr_assert_str_eq(err, "needs an nps KPI (aggregation \"nps\")");
    rig_release(&r);
}
