#!/usr/bin/env python3
"""Score the NAB backtest config on the whole NAB corpus, and on the files
that are not in the tuning slice (../shared/data/nab), which no setting was
ever chosen on.

Needs a checkout of the NAB repository (github.com/numenta/NAB: data/,
labels/combined_windows.json, and results/ for the published detectors):

  tools/nab-heldout.py --nab PATH/TO/NAB [--bin KPIWATCH] [--config conf/examples/nab.json]

Prints, for kpiwatch and for the published detectors (their own score files,
scored by the same scorer):
  - the held-out files, at the threshold chosen on the slice (kpiwatch's
    honest figure: nothing was chosen on these files), and at the threshold
    that is best for them;
  - the whole corpus, at the threshold that is best for it (how NAB ranks
    detectors);
and writes a NAB_DIR layout of the whole corpus (data, windows.json, the
scorer) whose path it prints, for tools/nab-loco.py and tools/nab-eval.sh.
"""
import argparse, json, os, shutil, sys, tempfile
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
loco = __import__("nab-loco")

PUBLISHED = ["ARTime", "numenta", "contextOSE", "knncad", "relativeEntropy", "randomCutForest",
             "earthgeckoSkyline", "twitterADVec", "skyline", "windowedGaussian"]


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    ap = argparse.ArgumentParser()
    ap.add_argument("--nab", required=True, help="a checkout of github.com/numenta/NAB")
    ap.add_argument("--bin", default="./kpiwatch")
    ap.add_argument("--config", default="conf/examples/nab.json")
    ap.add_argument("--slice", default=os.path.join(root, "../shared/data/nab"))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", help="where to write the whole corpus's NAB_DIR (default: a new temporary directory)")
    a = ap.parse_args()

    def labels(path, what):
        try:
            return json.load(open(path))
        except (OSError, ValueError) as e:
            sys.exit("nab-heldout: %s: %s (%s)" % (path, e.strerror if isinstance(e, OSError) else e, what))

    slice_windows = labels(os.path.join(a.slice, "windows.json"), "the tuning slice; --slice")
    windows = labels(os.path.join(a.nab, "labels", "combined_windows.json"), "a checkout of github.com/numenta/NAB; --nab")
    if not set(slice_windows) <= set(windows):
        sys.exit("the slice has files the NAB checkout does not label")
    out = a.out or tempfile.mkdtemp(prefix="kpiwatch-nab-all-")
    os.makedirs(out, exist_ok=True)
    for cat in sorted({f.split("/")[0] for f in windows}):
        dst = os.path.join(out, cat)
        if not os.path.exists(dst):
            os.symlink(os.path.abspath(os.path.join(a.nab, "data", cat)), dst)
    json.dump(windows, open(os.path.join(out, "windows.json"), "w"), indent=1)
    shutil.copy(os.path.join(a.slice, "score.py"), os.path.join(out, "score.py"))
    scorer = loco.load_scorer(out)
    fnw = scorer.PROFILES["standard"][2]

    files = sorted(windows)
    in_slice = sorted(slice_windows)
    held = [f for f in files if f not in slice_windows]
    tmp = tempfile.mkdtemp(prefix="kpiwatch-nab-heldout-")

    def rows_of(got):
        return loco.score_rows(scorer, windows, got)

    def normalised(raw, fs):
        return loco.normalised(scorer, windows, raw, fs)

    def figures(per):
        pick = lambda fs: [r for f in fs for r in per[f]]
        _, thr_slice = scorer.best_threshold(pick(in_slice), fnw)
        held_at_slice = normalised(scorer.score_at(pick(held), fnw, thr_slice), held)
        held_best = normalised(scorer.best_threshold(pick(held), fnw)[0], held)
        slice_best = normalised(scorer.best_threshold(pick(in_slice), fnw)[0], in_slice)
        all_best = normalised(scorer.best_threshold(pick(files), fnw)[0], files)
        return held_at_slice, held_best, slice_best, all_best

    with ThreadPoolExecutor(a.jobs) as ex:
        got = dict(zip(files, ex.map(lambda rel: loco.replay(a.bin, a.config, out, rel, tmp), files)))
    shutil.rmtree(tmp)
    table = [("kpiwatch `%s`" % a.config, figures(rows_of(got)))]
    for det in PUBLISHED:
        got = {}
        for rel in files:
            cat, fn = rel.split("/")
            path = os.path.join(a.nab, "results", det, cat, det + "_" + fn)
            if not os.path.exists(path):
                break
            got[rel] = scorer.read_scores(path)
        else:
            table.append((det, figures(rows_of(got))))

    print("| detector | %d held-out files, threshold chosen on the slice | held-out files, their best threshold "
          "| the %d-file slice | all %d files |" % (len(held), len(in_slice), len(files)))
    print("|---|---:|---:|---:|---:|")
    for name, (hs, hb, sb, ab) in table:
        print("| %s | %.1f | %.1f | %.1f | %.1f |" % (name, hs, hb, sb, ab))
    print("\nNAB_DIR of the whole corpus (for tools/nab-loco.py): %s" % out)


if __name__ == "__main__":
    main()
