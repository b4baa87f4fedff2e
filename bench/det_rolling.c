/* det_rolling: the `mad` detector (window 288) as a rolling median absolute
 * deviation over N points, timed, for bench/pandas_mad.py to set against
 * pandas on the same points. Writes the points and, per point, the
 * detector's window median and MAD (from its verdict: expected, and the
 * band's half-width x 0.6745 / threshold; NAN while it warms up), both as
 * raw doubles, and prints the time of the updates alone.
 * Usage: det_rolling N POINTS_FILE RESULTS_FILE
 *   prints: points=N seconds=S ns_per_point=X */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "../detectors/detector.h"
#include "../lib/xmalloc.h"

#define WINDOW 288
#define THRESHOLD 3.5 /* the mad default, used to read the MAD back */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: det_rolling N POINTS_FILE RESULTS_FILE\n");
        return 2;
    }
    long n = atol(argv[1]);
    if (n < WINDOW + 1) {
        fprintf(stderr, "det_rolling: N must exceed %d\n", WINDOW);
        return 2;
    }
    /* a daily shape, noise and 0.3% spikes, as det_perf's continuous data */
    double *x = xcalloc((size_t)n, sizeof *x);
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 4242u);
    for (long i = 0; i < n; i++) {
        double shape = cos(2.0 * M_PI * (double)(i % 288) / 288.0);
        double spike = gsl_rng_uniform(r) < 0.003 ? 1.6 : 1.0;
        x[i] = spike * 300.0 * (1.0 + 0.15 * shape) + gsl_ran_gaussian(r, 12.0);
    }
    gsl_rng_free(r);

    char err[KW_ERR_LEN];
    char json[96];
    snprintf(json, sizeof json, "{\"type\":\"mad\",\"window\":%d,\"min_points\":%d}", WINDOW, WINDOW);
    cJSON *obj = cJSON_Parse(json);
    struct kw_detector det;
    if (kw_detector_parse(&det, obj, "detector", err, sizeof err)) {
        fprintf(stderr, "det_rolling: %s\n", err);
        return 1;
    }
    cJSON_Delete(obj);
    struct kw_series_info info = {.interval_ms = 300000};
    struct kw_detector_state st;
    kw_detector_state_init(&st, &det, &info);
    struct kw_verdict *v = xcalloc((size_t)n, sizeof *v);
    double t0 = now_s();
    for (long i = 0; i < n; i++) {
        struct kw_sample s = {.ts_ms = 1704067200000LL + i * 300000LL, .value = x[i], .numerator = NAN,
                              .denominator = NAN};
        kw_detector_update(&st, &det, &info, &s, &v[i]);
    }
    double el = now_s() - t0;
    FILE *fp = fopen(argv[2], "wb"), *fr = fopen(argv[3], "wb");
    if (!fp || !fr) {
        perror("det_rolling");
        return 1;
    }
    fwrite(x, sizeof *x, (size_t)n, fp);
    for (long i = 0; i < n; i++) {
        double med = v[i].ready ? v[i].expected : NAN;
        double mad = v[i].ready ? (v[i].upper - v[i].expected) * 0.6745 / THRESHOLD : NAN;
        fwrite(&med, sizeof med, 1, fr);
        fwrite(&mad, sizeof mad, 1, fr);
    }
    fclose(fp);
    fclose(fr);
    printf("points=%ld seconds=%.6f ns_per_point=%.1f\n", n, el, el * 1e9 / (double)n);
    kw_detector_state_release(&st, &det);
    kw_detector_release(&det);
    free(v);
    free(x);
    return 0;
}
