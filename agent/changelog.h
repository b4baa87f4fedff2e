/* changelog: series state in a compacted Kafka topic, the way Kafka Streams
 * backs its state stores. One record per series: the key is its series id
 * (the 16-hex-digit alert key, stable across agents and restarts), the
 * value the series as the state file holds it (kw_state_series_json), and a
 * null value (a tombstone) once the series expired. The series of input
 * partition P go to changelog partition P, so an agent that takes P over
 * reads only that partition, from the beginning to its high watermark,
 * and keeps the last record of each key.
 *
 * Writes send only series whose state changed since they were last written
 * (a digest per series is kept), and wait until the broker acknowledged
 * every record: the caller commits input offsets only after that. */
#ifndef KW_CHANGELOG_H
#define KW_CHANGELOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "pipeline.h"

#define KW_CHANGELOG_KEY 17 /* 16 hex digits and a NUL */

/* The last record of each key, in the order the keys first appeared: what a
 * compacted topic keeps. */
struct kw_changelog_fold {
    char (*keys)[KW_CHANGELOG_KEY];
    char **values;   /* NUL-terminated copies; NULL = deleted by a tombstone */
    size_t *lens;
    size_t n, cap;
};

/* One series written to the changelog: what was sent, to send only changes. */
struct kw_changelog_entry {
    uint64_t id;       /* the series id as a number; 0 = empty slot */
    uint64_t digest;   /* of the value last sent */
    uint32_t bytes;    /* its size */
    int32_t partition;
    bool deleted;      /* slot freed (probing goes on past it) */
    bool seen;         /* met in the current write */
};

struct kw_changelog_stats {
    uint64_t records;     /* series records acknowledged by the broker */
    uint64_t tombstones;  /* tombstones acknowledged */
    uint64_t failures;    /* records the broker did not take */
    uint64_t bytes;       /* live size: the last value of every series this agent owns */
    uint64_t restored;    /* series restored, over all assignments */
};

struct kw_changelog {
    char *topic;
    rd_kafka_t *producer;
    rd_kafka_t *reader;   /* assign()-only consumer for restores, in no group */
    struct kw_changelog_entry *slots;
    size_t cap, used;     /* used counts deleted slots too */
    struct kw_changelog_stats stats;
    uint64_t pending_failures; /* delivery failures since the current write began */
};

/* The record of series s of p: key = its series id, *value = its JSON
 * (caller frees). Never fails. */
void kw_changelog_encode(const struct kw_pipeline *p, const struct kw_series *s, char key[KW_CHANGELOG_KEY],
                         char **value, size_t *len);
/* Restore one record into p, for input partition partition. A value that
 * does not parse, does not check out (kw_state_series_restore) or whose
 * series id is not its key is skipped. Returns NULL, or why it was skipped. */
const char *kw_changelog_decode(struct kw_pipeline *p, const char *key, size_t keylen, const char *value, size_t len,
                                int partition);

/* Fold a record (value NULL = tombstone) into f. Keys that are not 16 hex
 * digits are ignored (returns -1). Never fails otherwise. */
int kw_changelog_fold_put(struct kw_changelog_fold *f, const char *key, size_t keylen, const char *value, size_t len);
/* Free f's contents. Safe on a zeroed fold. */
void kw_changelog_fold_release(struct kw_changelog_fold *f);

/* Set up the changelog: a producer and a reader with the consumer's
 * connection settings (conf is copied, not taken). The reader only
 * assigns partitions, never joins or commits, but librdkafka's consumer
 * wants a group id: reader_group. Returns 0, or -1 with err; on error call
 * kw_changelog_release. */
int kw_changelog_init(struct kw_changelog *c, const char *topic, const char *reader_group, const rd_kafka_conf_t *conf,
                      char *err, size_t errlen);
/* Flush what is in flight (up to 10 s) and free everything. Safe on a zeroed struct. */
void kw_changelog_release(struct kw_changelog *c);

/* Read changelog partition partition from its beginning to its high
 * watermark (within timeout_ms) and adopt the series it holds into p.
 * Returns the number restored, or -1 with err when the topic cannot be
 * read (nothing is adopted then). */
int kw_changelog_restore(struct kw_changelog *c, struct kw_pipeline *p, int32_t partition, int timeout_ms, char *err,
                         size_t errlen);
/* Write the series of p that belong to partitions[0..n) and changed since
 * they were last written, tombstone those of these partitions that are no
 * longer in p, and wait (up to timeout_ms) until the broker acknowledged all.
 * Returns 0 when every record was acknowledged, else -1 with err (the next
 * write then sends these partitions' series again in full). */
int kw_changelog_write(struct kw_changelog *c, const struct kw_pipeline *p, const int32_t *partitions, int n,
                       int timeout_ms, char *err, size_t errlen);
/* Forget what was written for partition (it moved to another agent). */
void kw_changelog_forget(struct kw_changelog *c, int32_t partition);

#endif
