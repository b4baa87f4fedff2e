/* det_perf: cost of every registered detector per update through the generic
 * wrapper, at window sizes 64, 288 and 2016: wall-clock ns/update, instructions
 * per update from callgrind (two run lengths, so setup cancels out), and state
 * bytes per series; binomial also at denominators around 100 with and without
 * its pre-screens. Prints one Markdown table.
 * Usage: det_perf [-n UPDATES] [-r REPS] [-d NAME,...] [--callgrind] | --one KIND WINDOW N JSON */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "../lib/xmalloc.h"
#include "../detectors/detector.h"

#define INTERVAL_MS 300000LL
#define INTERVAL_S 300
#define PER_DAY 288
#define PER_WEEK 2016
#define T0_MS 1704067200000LL /* Monday 2024-01-01 00:00 UTC */
#define DATA_N 16384          /* pre-generated samples, cycled; generation stays out of the timing */
#define N_WINDOWS 3
static const int windows[N_WINDOWS] = {64, 288, 2016};

enum kind { KIND_ANY = -1, KIND_CONT, KIND_COUNT, KIND_RATE, KIND_NPS, KIND_RATE_SMALL, KIND_N };
static const char *const kind_names[KIND_N] = {"continuous", "count", "rate", "nps", "rate n~100"};

/* How a window size maps onto each detector's options. %W = window in
 * intervals, %S = W intervals as seconds (a season length). tmpl[0] alone:
 * used for every window when it has %W/%S, else the detector is O(1) and
 * measured once. tmpl[0..2]: one config per window 64/288/2016. Types not
 * listed use {"type":NAME,"window":%W} when they have a "window" option,
 * else their defaults. */
struct perf_entry {
    const char *type;
    enum kind kind; /* data to feed; KIND_ANY = first kind the detector accepts */
    const char *tmpl[N_WINDOWS];
};

static const struct perf_entry perf_table[] = {
    {"threshold", KIND_CONT, {"{\"type\":\"threshold\",\"low\":100,\"high\":500}"}},
    {"zscore", KIND_ANY, {"{\"type\":\"zscore\",\"window\":%W}"}},
    {"mad", KIND_ANY, {"{\"type\":\"mad\",\"window\":%W}"}},
    {"esd", KIND_ANY, {"{\"type\":\"esd\",\"window\":%W}"}},
    {"ewma", KIND_ANY, {"{\"type\":\"ewma\"}"}},
    {"cusum", KIND_ANY, {"{\"type\":\"cusum\"}"}},
    {"poisson", KIND_COUNT, {"{\"type\":\"poisson\"}"}},
    {"binomial", KIND_RATE, {"{\"type\":\"binomial\"}"}},
    {"holt_winters", KIND_ANY, {"{\"type\":\"holt_winters\",\"season\":%S}"}},
    /* seasonal on 5-minute data: slots are 288 (day) or 2016 (week); history
     * (values per slot) is capped at 64, so "64" is the per-slot history */
    {"seasonal", KIND_ANY,
     {"{\"type\":\"seasonal\",\"period\":\"slot_of_day\",\"history\":64}",
      "{\"type\":\"seasonal\",\"period\":\"slot_of_day\"}",
      "{\"type\":\"seasonal\",\"period\":\"slot_of_week\"}"}},
    {"ensemble", KIND_ANY,
     {"{\"type\":\"ensemble\",\"members\":[{\"type\":\"zscore\",\"window\":%W},"
      "{\"type\":\"mad\",\"window\":%W}]}"}},
};

/* Extra rows on other data: binomial at denominators around 100, with and
 * without its pre-screens (exact: true sums the exact tails every update). */
static const struct {
    const char *type;
    enum kind kind;
    const char *json;
} extra_rows[] = {
    {"binomial", KIND_RATE_SMALL, "{\"type\":\"binomial\"}"},
    {"binomial", KIND_RATE_SMALL, "{\"type\":\"binomial\",\"exact\":true}"},
};
#define N_EXTRA (sizeof extra_rows / sizeof extra_rows[0])

struct row {
    const struct kw_detector_type *type;
    int window;            /* 0 = O(1), no window */
    enum kind kind;
    char json[512];
    bool ok;
    char err[KW_ERR_LEN];
    double ns;             /* median ns/update */
    double instr;          /* callgrind instructions/update; NAN unknown */
    long state_bytes;      /* -1 unknown */
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Realistic series of each kind, with daily seasonality and 0.3% spikes. */
static struct kw_sample *gen_data(enum kind kind)
{
    struct kw_sample *d = xcalloc(DATA_N, sizeof *d);
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 4242u + (unsigned)kind);
    for (int i = 0; i < DATA_N; i++) {
        double shape = cos(2.0 * M_PI * ((double)(i % PER_DAY) / PER_DAY * 24.0 - 14.0) / 24.0);
        double spike = gsl_rng_uniform(r) < 0.003 ? 1.6 : 1.0;
        struct kw_sample *s = &d[i];
        s->ts_ms = T0_MS + (int64_t)i * INTERVAL_MS;
        s->numerator = s->denominator = NAN;
        if (kind == KIND_CONT) {
            s->value = spike * 300.0 * (1.0 + 0.15 * shape) + gsl_ran_gaussian(r, 12.0);
        } else if (kind == KIND_COUNT) {
            s->value = (double)gsl_ran_poisson(r, spike * 10.0 * (1.0 + 0.6 * shape));
        } else if (kind == KIND_NPS) {
            /* survey answers: promoters 50%, detractors 15% (45% in a spike) */
            unsigned n = 1 + gsl_ran_poisson(r, 20.0 * (1.0 + 0.5 * shape)), c[3];
            double sour = spike > 1 ? 0.45 : 0.15, shares[3] = {0.5, 0.5 - sour, sour};
            gsl_ran_multinomial(r, 3, n, shares, c);
            s->numerator = c[0];
            s->detractors = c[2];
            s->denominator = n;
            s->value = 100.0 * ((double)c[0] - c[2]) / n;
        } else {
            double mean_n = kind == KIND_RATE_SMALL ? 100.0 + 50.0 * shape : 15500.0 + 14500.0 * shape;
            unsigned n = gsl_ran_poisson(r, mean_n);
            unsigned x = gsl_ran_binomial(r, fmin(0.05 * spike, 1.0), n);
            s->numerator = x;
            s->denominator = n;
            s->value = n ? (double)x / n : NAN;
        }
    }
    gsl_rng_free(r);
    return d;
}

static void info_for(enum kind kind, struct kw_series_info *info)
{
    info->interval_ms = INTERVAL_MS;
    info->is_count = kind == KIND_COUNT;
    info->is_ratio = kind == KIND_RATE || kind == KIND_RATE_SMALL;
    info->is_nps = kind == KIND_NPS;
}

/* Expand %W and %S in tmpl. */
static void expand(char *out, size_t len, const char *tmpl, int w)
{
    size_t used = 0;
    for (const char *p = tmpl; *p && used + 1 < len; p++) {
        if (p[0] == '%' && (p[1] == 'W' || p[1] == 'S')) {
            used += (size_t)snprintf(out + used, len - used, "%d", p[1] == 'W' ? w : w * INTERVAL_S);
            p++;
        } else {
            out[used++] = *p;
        }
    }
    out[used < len ? used : len - 1] = '\0';
}

static bool has_option(const struct kw_detector_type *t, const char *name)
{
    for (const struct kw_option *o = t->options; o && o->name; o++)
        if (strcmp(o->name, name) == 0)
            return true;
    return false;
}

/* The config template of a type at window index wi (-1: any); *windowed says
 * whether it depends on the window. From the table, else guessed from the
 * type's option names. */
static const char *template_for(const struct kw_detector_type *t, int wi, enum kind *kind, bool *windowed,
                                char *buf, size_t len)
{
    for (size_t i = 0; i < sizeof perf_table / sizeof perf_table[0]; i++) {
        const struct perf_entry *e = &perf_table[i];
        if (strcmp(e->type, t->name) != 0)
            continue;
        *kind = e->kind;
        if (e->tmpl[1]) {
            *windowed = true;
            return e->tmpl[wi > 0 && wi < N_WINDOWS ? wi : 0];
        }
        *windowed = strstr(e->tmpl[0], "%W") || strstr(e->tmpl[0], "%S");
        return e->tmpl[0];
    }
    *kind = KIND_ANY;
    *windowed = has_option(t, "window");
    if (*windowed)
        snprintf(buf, len, "{\"type\":\"%s\",\"window\":%%W}", t->name);
    else
        snprintf(buf, len, "{\"type\":\"%s\"}", t->name);
    return buf;
}

static int parse_det(struct kw_detector *det, const char *json, char *err, size_t errlen)
{
    cJSON *obj = cJSON_Parse(json);
    if (!obj) {
        snprintf(err, errlen, "invalid JSON in the bench table");
        return -1;
    }
    int rc = kw_detector_parse(det, obj, "detector", err, errlen);
    cJSON_Delete(obj);
    return rc;
}

/* Data kind for a parsed detector: the wanted one, else the first accepted. */
static int pick_kind(const struct kw_detector *det, enum kind want, char *err, size_t errlen)
{
    for (int k = 0; k < KIND_N; k++) {
        if (want != KIND_ANY && k != (int)want)
            continue;
        struct kw_series_info info;
        info_for((enum kind)k, &info);
        if (kw_detector_accepts(det, &info, err, errlen) == 0)
            return k;
    }
    return -1;
}

/* Updates before measuring: ten weeks, so windows and per-slot histories
 * (e.g. 8 values in each of 2016 week slots) are full and costs are steady. */
static long warmup_updates(int window)
{
    long w = 10L * PER_WEEK;
    return window > w ? window : w;
}

struct runner {
    struct kw_detector det;
    struct kw_detector_state st;
    struct kw_series_info info;
    const struct kw_sample *data;
    long pos;
};

static void runner_step(struct runner *r, long count)
{
    struct kw_verdict v;
    for (long i = 0; i < count; i++, r->pos++) {
        struct kw_sample s = r->data[r->pos % DATA_N];
        s.ts_ms = T0_MS + (int64_t)r->pos * INTERVAL_MS; /* time keeps moving past the data's end */
        kw_detector_update(&r->st, &r->det, &r->info, &s, &v);
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* ns/update: median over reps of up to n updates each (or ~0.25 s each). */
static void measure_row(struct row *rw, const struct kw_sample *data, long n, int reps)
{
    struct runner r = {.data = data};
    if (parse_det(&r.det, rw->json, rw->err, sizeof rw->err)) {
        rw->ok = false;
        return;
    }
    info_for(rw->kind, &r.info);
    kw_detector_state_init(&r.st, &r.det, &r.info);
    runner_step(&r, warmup_updates(rw->window));
    double *ns = xcalloc((size_t)reps, sizeof *ns);
    for (int k = 0; k < reps; k++) {
        long done = 0;
        double t0 = now_s(), el = 0;
        while (done < n) {
            long chunk = n - done < 1024 ? n - done : 1024;
            runner_step(&r, chunk);
            done += chunk;
            el = now_s() - t0;
            if (el > 0.25)
                break;
        }
        ns[k] = el * 1e9 / (double)done;
    }
    qsort(ns, (size_t)reps, sizeof *ns, cmp_double);
    rw->ns = ns[reps / 2];
    free(ns);
    rw->state_bytes = r.det.type->state_bytes ? (long)r.det.type->state_bytes(r.st.impl) : -1;
    kw_detector_state_release(&r.st, &r.det);
    kw_detector_release(&r.det);
}

/* --one: setup, warm-up, then exactly n updates (run under callgrind). */
static int run_one(int kind, int window, long n, const char *json)
{
    char err[KW_ERR_LEN];
    struct runner r = {0};
    if (kind < 0 || kind >= KIND_N || parse_det(&r.det, json, err, sizeof err)) {
        fprintf(stderr, "det_perf: --one %d %s: %s\n", kind, json, kind < 0 || kind >= KIND_N ? "bad kind" : err);
        return 1;
    }
    struct kw_sample *data = gen_data((enum kind)kind);
    r.data = data;
    info_for((enum kind)kind, &r.info);
    kw_detector_state_init(&r.st, &r.det, &r.info);
    runner_step(&r, warmup_updates(window));
    runner_step(&r, n);
    kw_detector_state_release(&r.st, &r.det);
    kw_detector_release(&r.det);
    free(data);
    return 0;
}

/* Total instructions from a callgrind output file ("summary:" or "totals:"). */
static double callgrind_total(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NAN;
    char line[512];
    double total = NAN;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "summary:", 8) == 0)
            total = strtod(line + 8, NULL);
        else if (strncmp(line, "totals:", 7) == 0 && isnan(total))
            total = strtod(line + 7, NULL);
    }
    fclose(f);
    return total;
}

struct cg_job {
    int row;
    long n;
    char out[PATH_MAX];
    pid_t pid;
    double total;
};

static pid_t spawn_callgrind(const char *self, const struct row *rw, struct cg_job *job)
{
    char kbuf[16], wbuf[16], nbuf[24], outarg[PATH_MAX + 32];
    snprintf(kbuf, sizeof kbuf, "%d", (int)rw->kind);
    snprintf(wbuf, sizeof wbuf, "%d", rw->window);
    snprintf(nbuf, sizeof nbuf, "%ld", job->n);
    snprintf(outarg, sizeof outarg, "--callgrind-out-file=%s", job->out);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        /* quiet: valgrind's banner would interleave with the table */
        execlp("valgrind", "valgrind", "--tool=callgrind", "-q", outarg, self, "--one", kbuf, wbuf, nbuf, rw->json,
               (char *)NULL);
        fprintf(stderr, "det_perf: cannot run valgrind: %s\n", strerror(errno));
        _exit(127);
    }
    return pid;
}

/* Two callgrind runs per row (n1 and n2 updates), jobs at a time. */
static void callgrind_rows(const char *self, struct row *rows, int nrows, int jobs, const char *tmpdir)
{
    struct cg_job *cj = xcalloc((size_t)nrows * 2, sizeof *cj);
    int ncj = 0;
    for (int i = 0; i < nrows; i++) {
        if (!rows[i].ok)
            continue;
        /* keep slow detectors quick under callgrind (~50x slower than native) */
        long n1 = rows[i].ns > 3000 ? 300 : 2000, n2 = rows[i].ns > 3000 ? 900 : 6000;
        for (int k = 0; k < 2; k++) {
            struct cg_job *j = &cj[ncj++];
            j->row = i;
            j->n = k ? n2 : n1;
            j->total = NAN;
            snprintf(j->out, sizeof j->out, "%s/cg.%d.%ld.out", tmpdir, i, j->n);
        }
    }
    int next = 0, running = 0;
    while (next < ncj || running) {
        if (next < ncj && running < jobs) {
            cj[next].pid = spawn_callgrind(self, &rows[cj[next].row], &cj[next]);
            if (cj[next].pid > 0)
                running++;
            next++;
            continue;
        }
        int status;
        pid_t pid = wait(&status);
        if (pid < 0)
            break;
        running--;
        for (int k = 0; k < ncj; k++)
            if (cj[k].pid == pid) {
                if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                    cj[k].total = callgrind_total(cj[k].out);
                unlink(cj[k].out);
            }
    }
    for (int k = 0; k + 1 < ncj; k += 2) {
        struct row *rw = &rows[cj[k].row];
        rw->instr = (cj[k + 1].total - cj[k].total) / (double)(cj[k + 1].n - cj[k].n);
    }
    free(cj);
}

static bool name_selected(const char *name, const char *filter)
{
    if (!filter)
        return true;
    size_t nl = strlen(name);
    for (const char *p = filter; *p;) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == nl && strncmp(p, name, l) == 0)
            return true;
        p += l + (e ? 1 : 0);
    }
    return false;
}

static void usage(void)
{
    fprintf(stderr, "usage: det_perf [-n UPDATES] [-r REPS] [-d NAME,...] [-j JOBS] [--callgrind]\n"
                    "       det_perf --one KIND WINDOW N JSON   (setup + warm-up + N updates; for callgrind)\n");
}

int main(int argc, char **argv)
{
    long n = 200000;
    int reps = 5, jobs = 2;
    bool callgrind = false;
    const char *filter = NULL;
    for (int i = 1; i < argc; i++) {
        bool has_arg = i + 1 < argc;
        if (strcmp(argv[i], "--one") == 0 && i + 4 < argc)
            return run_one(atoi(argv[i + 1]), atoi(argv[i + 2]), atol(argv[i + 3]), argv[i + 4]);
        else if (strcmp(argv[i], "-n") == 0 && has_arg)
            n = atol(argv[++i]);
        else if (strcmp(argv[i], "-r") == 0 && has_arg)
            reps = atoi(argv[++i]);
        else if (strcmp(argv[i], "-j") == 0 && has_arg)
            jobs = atoi(argv[++i]);
        else if (strcmp(argv[i], "-d") == 0 && has_arg)
            filter = argv[++i];
        else if (strcmp(argv[i], "--callgrind") == 0)
            callgrind = true;
        else {
            usage();
            return 2;
        }
    }
    if (n < 1 || reps < 1 || jobs < 1) {
        usage();
        return 2;
    }

    int ntypes = 0;
    while (kw_detector_types[ntypes])
        ntypes++;
    struct row *rows = xcalloc((size_t)ntypes * N_WINDOWS + N_EXTRA, sizeof *rows);
    int nrows = 0;
    for (int t = 0; t < ntypes; t++) {
        const struct kw_detector_type *type = kw_detector_types[t];
        if (!name_selected(type->name, filter))
            continue;
        enum kind want;
        bool windowed;
        char buf[256];
        template_for(type, -1, &want, &windowed, buf, sizeof buf);
        for (int w = 0; w < (windowed ? N_WINDOWS : 1); w++) {
            const char *tmpl = template_for(type, w, &want, &windowed, buf, sizeof buf);
            struct row *rw = &rows[nrows++];
            rw->type = type;
            rw->window = windowed ? windows[w] : 0;
            rw->instr = NAN;
            rw->state_bytes = -1;
            expand(rw->json, sizeof rw->json, tmpl, rw->window);
            struct kw_detector det;
            rw->ok = parse_det(&det, rw->json, rw->err, sizeof rw->err) == 0;
            if (!rw->ok)
                continue;
            int k = pick_kind(&det, want, rw->err, sizeof rw->err);
            kw_detector_release(&det);
            if (k < 0) {
                rw->ok = false;
                continue;
            }
            rw->kind = (enum kind)k;
        }
    }

    for (size_t e = 0; e < N_EXTRA; e++) {
        if (!name_selected(extra_rows[e].type, filter))
            continue;
        struct row *rw = &rows[nrows++];
        rw->type = kw_detector_type_find(extra_rows[e].type);
        rw->kind = extra_rows[e].kind;
        rw->instr = NAN;
        rw->state_bytes = -1;
        snprintf(rw->json, sizeof rw->json, "%s", extra_rows[e].json);
        rw->ok = rw->type != NULL;
    }

    struct kw_sample *data[KIND_N];
    for (int k = 0; k < KIND_N; k++)
        data[k] = gen_data((enum kind)k);
    for (int i = 0; i < nrows; i++) {
        if (!rows[i].ok)
            continue;
        measure_row(&rows[i], data[rows[i].kind], n, reps);
        fprintf(stderr, "det_perf: %-14s %5d %10.1f ns/update\n", rows[i].type->name, rows[i].window, rows[i].ns);
    }
    for (int k = 0; k < KIND_N; k++)
        free(data[k]);

    if (callgrind) {
        char self[PATH_MAX];
        ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
        if (len <= 0) {
            fprintf(stderr, "det_perf: readlink /proc/self/exe: %s\n", strerror(errno));
            return 1;
        }
        self[len] = '\0';
        char tmpdir[] = "/tmp/det_perf.XXXXXX";
        if (!mkdtemp(tmpdir)) {
            fprintf(stderr, "det_perf: mkdtemp: %s\n", strerror(errno));
            return 1;
        }
        callgrind_rows(self, rows, nrows, jobs, tmpdir);
        rmdir(tmpdir);
    }

    printf("| detector | window | ns/update | instr/update | state bytes | data | config |\n"
           "|---|---:|---:|---:|---:|---|---|\n");
    for (int i = 0; i < nrows; i++) {
        const struct row *rw = &rows[i];
        char win[16], instr[32], bytes[32];
        if (rw->window)
            snprintf(win, sizeof win, "%d", rw->window);
        else
            snprintf(win, sizeof win, "-");
        if (!rw->ok) {
            printf("| %s | %s | n/a: %s | | | - | `%s` |\n", rw->type->name, win, rw->err, rw->json);
            continue;
        }
        if (isnan(rw->instr))
            snprintf(instr, sizeof instr, "%s", callgrind ? "failed" : "-");
        else
            snprintf(instr, sizeof instr, "%.0f", rw->instr);
        if (rw->state_bytes < 0)
            snprintf(bytes, sizeof bytes, "?");
        else
            snprintf(bytes, sizeof bytes, "%ld", rw->state_bytes);
        printf("| %s | %s | %.1f | %s | %s | %s | `%s` |\n", rw->type->name, win, rw->ns, instr, bytes,
               kind_names[rw->kind], rw->json);
    }
    /* Name the detectors whose cost grows with the window (should be O(1) or O(log w)). */
    for (int i = 0; i + N_WINDOWS - 1 < nrows; i++) {
        const struct row *a = &rows[i], *b = &rows[i + N_WINDOWS - 1];
        if (a->type != b->type || !a->window || !a->ok || !b->ok)
            continue;
        double ra = isnan(a->instr) ? a->ns : a->instr, rb = isnan(b->instr) ? b->ns : b->instr;
        const char *unit = isnan(a->instr) ? "ns" : "instr";
        /* x2 over a x31.5 window is more than O(log w) with any sensible constant */
        if (rb > 2.0 * ra) {
            double wr = (double)b->window / a->window;
            printf("\n%s: cost per update grows with the window: %.0f %s at %d -> %.0f at %d (x%.1f for x%.1f "
                   "window, ~w^%.2f)\n",
                   a->type->name, ra, unit, a->window, rb, b->window, rb / ra, wr, log(rb / ra) / log(wr));
        }
    }
    free(rows);
    return 0;
}
