/* mad: robust z-score (Iglewicz & Hoaglin modified z) over a sliding window:
 * M = 0.6745 (x - median) / MAD, alert when |M| > threshold (3.5). The median
 * and MAD ignore up to half the window being outliers, so use it first for
 * any KPI: a spike neither blinds it nor drags the baseline. Missing
 * intervals are skipped: the window holds the last `window` values seen. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/ostree.h"
#include "../lib/xmalloc.h"
#include "detector.h"

/* 0.6745 = Phi^-1(0.75): MAD / 0.6745 estimates sigma for normal data. */
#define MAD_K 0.6745
/* sqrt(pi/2): mean absolute deviation * 1.2533 estimates sigma. */
#define MEANAD_K 1.253314
/* Scale floor for a flat window, relative to |median|: far above rounding
 * noise, so a perfectly flat series followed by any real change alerts. */
#define FLAT_REL 1e-12
#define FLAT_ABS 1e-12

struct mad_config {
    int window;
    double threshold;
    int min_points;
};

/* The window is a ring of values plus its order: for windows up to
 * SORTED_MAX, an array of ring slots sorted by (value, slot) (2 bytes a
 * value: insert and erase are a binary search and one memmove of at most
 * 8 KB, and a rank query is an index); above that an order-statistics tree
 * over the ring slots (lib/ostree.h: erase + insert O(log w) expected, rank
 * queries O(log w)). Both depend only on the window's contents, so
 * rebuilding from the saved ring gives bit-identical verdicts. Median O(1)
 * or O(log w), MAD O(log w) rank queries (binary search).
 * Bytes per series: 10 * window + sizeof(struct) up to SORTED_MAX (2.9 KB
 * for window 288), 28 * window above. */
#define SORTED_MAX 4096
_Static_assert(SORTED_MAX - 1 <= UINT16_MAX, "sorted slots are uint16_t");

struct mad_state {
    int window;
    int head;       /* next slot to write (the oldest when full) */
    double *val;    /* [window] the ring */
    uint16_t *sorted; /* [window] ring slots by (value, slot) (window <= SORTED_MAX), else NULL */
    int count;      /* values in the window */
    struct kw_ostree order; /* window > SORTED_MAX: the tree, keyed by val[] */
};

static int order_count(const struct mad_state *s)
{
    return s->count;
}

static double order_kth(const struct mad_state *s, int k)
{
    return s->sorted ? s->val[s->sorted[k]] : kw_ostree_kth(&s->order, k);
}

/* Where slot goes in the sorted slots: the first index whose (value, slot)
 * is not below slot's. Ordering ties by slot makes every slot's place
 * unique, so an erase finds it without scanning a run of equal values. */
static int slot_position(const struct mad_state *s, int slot)
{
    double x = s->val[slot];
    int lo = 0, hi = s->count;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        double v = s->val[s->sorted[mid]];
        if (v < x || (v == x && s->sorted[mid] < slot))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void order_insert(struct mad_state *s, int slot)
{
    if (s->sorted) {
        int at = slot_position(s, slot);
        memmove(s->sorted + at + 1, s->sorted + at, (size_t)(s->count - at) * sizeof *s->sorted);
        s->sorted[at] = (uint16_t)slot;
    } else {
        kw_ostree_insert(&s->order, slot);
    }
    s->count++;
}

static void order_erase(struct mad_state *s, int slot)
{
    if (s->sorted) {
        int at = slot_position(s, slot);
        memmove(s->sorted + at, s->sorted + at + 1, (size_t)(s->count - at - 1) * sizeof *s->sorted);
    } else {
        kw_ostree_erase(&s->order, slot);
    }
    s->count--;
}

/* Sum of the k smallest, and of all. */
static double order_sum_smallest(const struct mad_state *s, int k)
{
    if (!s->sorted)
        return kw_ostree_sum_smallest(&s->order, k);
    double sum = 0;
    for (int i = 0; i < k; i++)
        sum += s->val[s->sorted[i]];
    return sum;
}

static double order_sum(const struct mad_state *s)
{
    return s->sorted ? order_sum_smallest(s, s->count) : kw_ostree_sum(&s->order);
}

static const struct kw_option mad_options[] = {
    {"window", KW_OPT_INT, "288", offsetof(struct mad_config, window), 8, 100000,
     .desc = "Intervals in the sliding window (288 = one day of 5-minute intervals)."},
    {"threshold", KW_OPT_DOUBLE, "3.5", offsetof(struct mad_config, threshold), 0.1, 1000,
     .desc = "Alert when |modified z| exceeds this (Iglewicz & Hoaglin recommend 3.5)."},
    {"min_points", KW_OPT_INT, "30", offsetof(struct mad_config, min_points), 8, 100000,
     .desc = "Values needed before the first verdict (capped at window)."},
    KW_OPT_END,
};

/* |x - m| for the sorted window a[] split at s: the left run a[s-1], a[s-2], ...
 * (all <= m) gives ascending m - a, the right run a[s], a[s+1], ... (all >= m)
 * gives ascending a - m. */
static double dev_left(const struct mad_state *s, int split, double m, int j)
{
    return m - order_kth(s, split - 1 - j);
}

static double dev_right(const struct mad_state *s, int split, double m, int j)
{
    return order_kth(s, split + j) - m;
}

/* k-th smallest |x - m| (0-based): binary search on how many of the k+1
 * smallest come from the left run. O(log w) steps of O(log w) rank queries. */
static double kth_deviation(const struct mad_state *s, int split, double m, int k)
{
    int nx = split, ny = order_count(s) - split;
    int lo = k + 1 - ny > 0 ? k + 1 - ny : 0;
    int hi = k + 1 < nx ? k + 1 : nx;
    while (lo < hi) {
        int i = lo + (hi - lo) / 2;
        int j = k + 1 - i;
        if (i < nx && j > 0 && dev_left(s, split, m, i) < dev_right(s, split, m, j - 1))
            lo = i + 1;
        else
            hi = i;
    }
    int j = k + 1 - lo;
    double a = lo > 0 ? dev_left(s, split, m, lo - 1) : -INFINITY;
    double b = j > 0 ? dev_right(s, split, m, j - 1) : -INFINITY;
    return a > b ? a : b;
}

/* Median and sigma estimate (MAD / 0.6745, or the fallbacks) of the window. */
static void window_stats(const struct mad_state *s, double *median, double *sigma)
{
    int n = order_count(s), split = n / 2;
    double m = (n % 2) ? order_kth(s, split) : (order_kth(s, split - 1) + order_kth(s, split)) / 2.0;
    double mad = (n % 2) ? kth_deviation(s, split, m, split)
                         : (kth_deviation(s, split, m, split - 1) + kth_deviation(s, split, m, split)) / 2.0;
    double sig = mad / MAD_K;
    if (!(sig > 0)) {
        /* Over half the window equals the median: use the mean absolute
         * deviation, which still sees the minority that moved. */
        double left = order_sum_smallest(s, split);
        double right = order_sum(s) - left;
        double mean_ad = ((split * m - left) + (right - (n - split) * m)) / n;
        sig = mean_ad > 0 ? MEANAD_K * mean_ad : 0.0;
    }
    double floor_sig = FLAT_REL * fabs(m) + FLAT_ABS;
    *median = m;
    *sigma = sig > floor_sig ? sig : floor_sig;
}

static void window_push(struct mad_state *s, double x)
{
    int slot = s->head;
    if (s->count == s->window)
        order_erase(s, slot);
    s->val[slot] = x;
    order_insert(s, slot);
    s->head = (slot + 1) % s->window;
}

static void *mad_new(const void *cfg, const struct kw_series_info *info)
{
    (void)info;
    const struct mad_config *c = cfg;
    size_t w = (size_t)c->window;
    struct mad_state *s = xcalloc(1, sizeof *s);
    s->window = c->window;
    s->val = xmalloc(w * sizeof *s->val);
    if (c->window <= SORTED_MAX)
        s->sorted = xmalloc(w * sizeof *s->sorted);
    else
        kw_ostree_init(&s->order, c->window, s->val, true);
    for (size_t i = 0; i < w; i++)
        s->val[i] = NAN;
    return s;
}

static void mad_free(void *state)
{
    struct mad_state *s = state;
    if (!s)
        return;
    if (!s->sorted)
        kw_ostree_release(&s->order);
    free(s->sorted);
    free(s->val);
    free(s);
}

static void mad_update(void *state, const void *cfg, const struct kw_series_info *info,
                       const struct kw_sample *in, struct kw_verdict *out)
{
    (void)info;
    struct mad_state *s = state;
    const struct mad_config *c = cfg;
    double x = in->value;
    if (!isfinite(x))
        return; /* missing (or unusable) interval: the window is untouched */
    int need = c->min_points < c->window ? c->min_points : c->window;
    if (s->count >= need) {
        double m, sig;
        window_stats(s, &m, &sig);
        double z = (x - m) / sig;
        out->ready = true;
        out->expected = m;
        out->lower = m - c->threshold * sig;
        out->upper = m + c->threshold * sig;
        out->score = z;
        out->anomalous = fabs(z) > c->threshold;
        out->anomaly_score = kw_squash(fabs(z), c->threshold);
    }
    /* The raw value goes in: the median and MAD already discount outliers,
     * and a shift that lasts half a window becomes the new normal. */
    window_push(s, x);
}

static cJSON *mad_save(const void *state, const void *cfg)
{
    (void)cfg;
    const struct mad_state *s = state;
    cJSON *obj = cJSON_CreateObject();
    cJSON_AddNumberToObject(obj, "count", s->count);
    cJSON_AddNumberToObject(obj, "head", s->head);
    cJSON_AddItemToObject(obj, "values", kw_json_doubles(s->val, (size_t)s->window));
    return obj;
}

static int read_int(const cJSON *obj, const char *key, int lo, int hi, int *out)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsNumber(it) || it->valuedouble != floor(it->valuedouble) ||
        it->valuedouble < lo || it->valuedouble > hi)
        return -1;
    *out = (int)it->valuedouble;
    return 0;
}

static int mad_load(void *state, const void *cfg, const cJSON *json)
{
    (void)cfg;
    struct mad_state *s = state;
    int count, head;
    if (!cJSON_IsObject(json) || read_int(json, "count", 0, s->window, &count) ||
        read_int(json, "head", 0, s->window - 1, &head) || (count < s->window && head != count))
        return -1;
    double *vals = xmalloc((size_t)s->window * sizeof *vals);
    if (kw_json_read_doubles(cJSON_GetObjectItemCaseSensitive(json, "values"), vals, (size_t)s->window)) {
        free(vals);
        return -1;
    }
    for (int i = 0; i < count; i++) {
        if (!isfinite(vals[i])) {
            free(vals);
            return -1;
        }
    }
    /* The order depends only on the (value, slot) set: insert in any order. */
    if (!s->sorted)
        kw_ostree_clear(&s->order);
    s->count = 0;
    s->head = head;
    for (int i = 0; i < s->window; i++) {
        s->val[i] = i < count ? vals[i] : NAN;
        if (i < count)
            order_insert(s, i);
    }
    free(vals);
    return 0;
}

static size_t mad_bytes(const void *state)
{
    const struct mad_state *s = state;
    return sizeof *s + (size_t)s->window * sizeof *s->val +
           (s->sorted ? (size_t)s->window * sizeof *s->sorted : kw_ostree_bytes(&s->order));
}

const struct kw_detector_type mad_detector = {
    .name = "mad",
    .description = "Robust z-score: median and MAD over a sliding window (Iglewicz & Hoaglin).",
    .options = mad_options,
    .config_size = sizeof(struct mad_config),
    .state_new = mad_new,
    .update = mad_update,
    .state_save = mad_save,
    .state_load = mad_load,
    .state_free = mad_free,
    .state_bytes = mad_bytes,
};
