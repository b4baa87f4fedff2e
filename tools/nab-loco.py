#!/usr/bin/env python3
"""Leave-one-category-out cross-validation of the NAB backtest config.

Replays every labelled file of the NAB slice (../shared/data/nab or $NAB_DIR)
with `kpiwatch replay --scores` for the shipped config and a small grid of
`surprise` settings around it, then, for each of the four categories: tunes
on the other three (the grid point and the corpus-wide threshold with the
best standard score there) and scores the held-out category with exactly
those. The held-out rows of all four folds are pooled (each fold's scores
shifted so its own threshold maps to one common threshold, which leaves every
detection where it was) and scored together with the benchmark's own scorer.
No parameter is ever set per file or per category.

  tools/nab-loco.py [--bin KPIWATCH] [--config conf/examples/nab.json] [--grid JSON]

--grid is an object of option -> candidate values (every combination is a
grid point), or a list of such objects (the union of their points), so that
alternatives which were weighed against each other, such as one fixed phase
against several averaged, are all chosen inside the folds.
"""
import argparse, copy, importlib.util, itertools, json, os, subprocess, sys, tempfile
from concurrent.futures import ThreadPoolExecutor

GRID = [{"threshold": [1.5, 2, 3], "hold_off": [50, 100, 200], "short": [1, 5, 10]},
        {"phase": ["30m", "1h", "2h"]}]


def load_scorer(nab):
    spec = importlib.util.spec_from_file_location("nab_score", os.path.join(nab, "score.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def type_defaults(bin_, name):
    """A detector type's defaults, from the option reference the binary prints."""
    out = subprocess.run([bin_, "options"], check=True, capture_output=True, text=True).stdout
    section = out.split("#### detector `%s`" % name, 1)[1].split("####", 1)[0]
    found = {}
    for line in section.splitlines():
        cols = [c.strip() for c in line.split("|")]
        if len(cols) > 4 and cols[1].startswith("`"):
            try:
                found[cols[1].strip("`")] = float(cols[3])
            except ValueError:
                pass
    return {k: int(v) if v == int(v) else v for k, v in found.items()}


def score_rows(scorer, windows, got):
    """The scorer's (score, sweep value, window) rows per file, from
    {file: (timestamps, anomaly scores)}."""
    tpw, fpw, _ = scorer.PROFILES["standard"]
    per = {}
    for rel, (ts, sc) in got.items():
        wins = [(x.split(".")[0], y.split(".")[0]) for x, y in windows[rel]]
        per[rel] = scorer.sweep(ts, sc, wins, rel, tpw, fpw)
    return per


def normalised(scorer, windows, raw, files):
    """A raw standard-profile score over files as NAB reports it: 0 for a
    detector that never fires, 100 for a perfect one."""
    tpw, _, fnw = scorer.PROFILES["standard"]
    ntp = sum(len(windows[f]) for f in files)
    null, perfect = -fnw * ntp, tpw * ntp
    return 100 * (raw - null) / (perfect - null)


def replay(bin_, config, nab, rel, out_dir):
    """anomaly_score per timestamp of one file, as the scorer reads it."""
    raw = os.path.join(out_dir, rel.replace("/", "_") + ".csv")
    subprocess.run([bin_, "replay", "--quiet", "--scores", raw, "-c", config, os.path.join(nab, rel)],
                   check=True, stderr=subprocess.DEVNULL)
    ts, sc = [], []
    with open(raw) as f:
        next(f)
        for line in f:
            cols = line.rstrip("\n").split(",")
            ts.append(cols[0].split(".")[0])
            sc.append(float(cols[7]))
    os.unlink(raw)
    return ts, sc


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="./kpiwatch")
    ap.add_argument("--config", default="conf/examples/nab.json")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--grid", type=json.loads, default=GRID,
                    help="JSON object of detector option -> candidate values, or a list of such objects "
                         "(the union of their points) (default: %s)" % json.dumps(GRID))
    a = ap.parse_args()
    grids = a.grid if isinstance(a.grid, list) else [a.grid]
    nab = os.environ.get("NAB_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../shared/data/nab"))
    if not os.path.isdir(nab):
        sys.exit("no NAB data at %s (set NAB_DIR)" % nab)
    scorer = load_scorer(nab)
    windows = json.load(open(os.path.join(nab, "windows.json")))
    files = sorted(windows)
    cats = sorted({f.split("/")[0] for f in files})
    fnw = scorer.PROFILES["standard"][2]
    base = json.load(open(a.config))
    det = base["kpis"][0]["detector"]
    defaults = type_defaults(a.bin, det["type"])
    keys = list(dict.fromkeys(k for g in grids for k in g))
    shipped = {k: det.get(k, defaults.get(k)) for k in keys}
    # a point leaves unnamed options at the shipped setting
    points = []
    for g in grids:
        for v in itertools.product(*g.values()):
            pt = dict(shipped, **dict(zip(g, v)))
            if pt not in points:
                points.append(pt)
    if shipped not in points:
        points.append(shipped)
    tmp = tempfile.mkdtemp(prefix="kpiwatch-loco-")

    # rows[point][file]: the scorer's (score, sweep value, window) per row
    rows = []
    for i, pt in enumerate(points):
        cfg = copy.deepcopy(base)
        cfg["kpis"][0]["detector"].update(pt)
        path = os.path.join(tmp, "cfg%d.json" % i)
        json.dump(cfg, open(path, "w"))
        with ThreadPoolExecutor(a.jobs) as ex:
            got = dict(zip(files, ex.map(lambda rel: replay(a.bin, path, nab, rel, tmp), files)))
        rows.append(score_rows(scorer, windows, got))
        print("replayed %d/%d: %s" % (i + 1, len(points), pt), file=sys.stderr)

    def best(point_rows, fs):
        return scorer.best_threshold([r for f in fs for r in point_rows[f]], fnw)

    si = points.index(shipped)
    raw, thr = best(rows[si], files)
    print("| evaluation | standard score | settings |\n|---|---:|---|")
    print("| shipped config, all %d files, threshold chosen on them (the slice figure) | %.1f | %s, threshold %.4f |"
          % (len(files), normalised(scorer, windows, raw, files), shipped, thr))
    for tune_params in (False, True):
        pooled = []
        chosen = []
        for held in cats:
            train = [f for f in files if not f.startswith(held + "/")]
            test = [f for f in files if f.startswith(held + "/")]
            cands = range(len(points)) if tune_params else [si]
            score, p, t = max((best(rows[p], train)[0], p, best(rows[p], train)[1]) for p in cands)
            chosen.append("%s: %s at %.4f (train %.1f)" % (held, points[p], t, normalised(scorer, windows, score, train)))
            for f in test:  # shift this fold's threshold to 0.5
                pooled += [(s - t + 0.5, v, w) for s, v, w in rows[p][f]]
        cv = normalised(scorer, windows, scorer.score_at(pooled, fnw, 0.5), files)
        what = "grid of %d surprise settings and threshold tuned on the other categories" % len(points) if tune_params \
            else "shipped settings, threshold tuned on the other categories"
        print("| leave-one-category-out, %s, held-out category scored | %.1f | %s |" % (what, cv, "; ".join(chosen)))
    for p in os.listdir(tmp):
        os.unlink(os.path.join(tmp, p))
    os.rmdir(tmp)


if __name__ == "__main__":
    main()
