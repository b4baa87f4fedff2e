#!/usr/bin/env python3
"""Write the golden replay inputs in tests/data (deterministic; standard library only).

complaints.jsonl: 5-minute complaint counts for two journeys over ~1.5 days,
with one complaint spike on checkout and one silent dip on claims.
art_spike.csv: a NAB-style timestamp,value series with one spike.
"""
import json, math, random, os

here = os.path.join(os.path.dirname(__file__), "..", "tests", "data")
rnd = random.Random(7)
t0 = 1700006400  # 2023-11-15T00:00:00Z, a multiple of 5 minutes

with open(os.path.join(here, "golden", "complaints.jsonl"), "w") as f:
    for i in range(432):
        ts = t0 + i * 300
        rhythm = 1.0 + 0.3 * math.sin(2 * math.pi * (i % 288) / 288)
        checkout = int(round(20 * rhythm + rnd.uniform(-3, 3)))
        claims = int(round(10 + rnd.uniform(-2, 2)))
        if 300 <= i < 304:
            checkout = 80
        batch = [
            {"metric": "complaints", "labels": {"journey": "checkout"}, "value": checkout, "ts": ts + 10},
            {"metric": "complaints", "labels": {"journey": "claims"}, "value": claims, "ts": ts + 20},
        ]
        f.write(json.dumps(batch, separators=(",", ":")) + "\n")

with open(os.path.join(here, "art_spike.csv"), "w") as f:
    f.write("timestamp,value\n")
    import datetime
    start = datetime.datetime(2014, 4, 1)
    for i in range(600):
        ts = start + datetime.timedelta(minutes=5 * i)
        v = 50 + 10 * math.sin(2 * math.pi * i / 288) + rnd.gauss(0, 1.5)
        if i == 450:
            v += 40
        f.write("%s,%.3f\n" % (ts.strftime("%Y-%m-%d %H:%M:%S"), v))
