#!/usr/bin/python3
"""pandas_mad.py POINTS_FILE RESULTS_FILE DET_SECONDS: the rolling median
absolute deviation, window 288, computed with pandas over the points that
bench/det_rolling fed the `mad` detector (raw doubles), timed; checks that
both computed the same median and MAD (the detector judges point t against
the 288 before it, so pandas' windows are shifted by one) and prints the
speed ratio. pandas has no rolling MAD of its own: rolling().median() for
the median, rolling().apply() with numpy (raw=True) for the MAD."""
import sys
import time

import numpy as np
import pandas as pd

W = 288


def main():
    points, results, det_seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    x = pd.Series(np.fromfile(points, dtype=np.float64))
    t0 = time.perf_counter()
    med = x.rolling(W).median()
    mad = x.rolling(W).apply(lambda w: np.median(np.abs(w - np.median(w))), raw=True)
    seconds = time.perf_counter() - t0
    det = np.fromfile(results, dtype=np.float64).reshape(-1, 2)
    want_med, want_mad = med.shift(1).to_numpy(), mad.shift(1).to_numpy()
    ok = ~np.isnan(det[:, 0]) & ~np.isnan(want_med)
    dmed = np.max(np.abs(det[ok, 0] - want_med[ok]) / np.abs(want_med[ok]))
    dmad = np.max(np.abs(det[ok, 1] - want_mad[ok]) / np.abs(want_mad[ok]))
    same = dmed < 1e-9 and dmad < 1e-9
    print(f"pandas={pd.__version__} points={len(x)} pandas_seconds={seconds:.3f} detector_seconds={det_seconds:.4f} "
          f"ratio={seconds / det_seconds:.1f} compared={int(ok.sum())} "
          f"max_rel_diff_median={dmed:.2g} max_rel_diff_mad={dmad:.2g} same={'yes' if same else 'no'}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
