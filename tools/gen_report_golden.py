#!/usr/bin/python3
"""Golden values for the report's agreement statistics (tests/check_report.c),
from independent implementations: scikit-learn's cohen_kappa_score and
statsmodels' fleiss_kappa (Debian python3-sklearn, python3-statsmodels:
tools/install-deps.sh golden).

    /usr/bin/python3 tools/gen_report_golden.py [tests/data/report_kappa.gold]

One case per line, numbers in decimal:
    cohen NCAT N KAPPA a_1 .. a_N b_1 .. b_N
    fleiss N NCAT KAPPA counts (N rows of NCAT, row-major)
Labels are drawn with a fixed seed; each reader copies a shared "true"
label with some probability, so kappas spread over weak to strong agreement.
"""
import sys

import numpy as np
import sklearn
import statsmodels
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import fleiss_kappa


def readers(rng, n, ncat, m, p):
    truth = rng.integers(0, ncat, size=n)
    out = np.empty((n, m), dtype=int)
    for r in range(m):
        copy = rng.random(n) < p
        out[:, r] = np.where(copy, truth, rng.integers(0, ncat, size=n))
    return out


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "tests/data/report_kappa.gold"
    rng = np.random.default_rng(20261207)
    lines = ["# tools/gen_report_golden.py: scikit-learn %s cohen_kappa_score, statsmodels %s "
             "fleiss_kappa" % (sklearn.__version__, statsmodels.__version__)]
    for n, ncat, p in [(5, 2, 0.5), (12, 3, 0.7), (40, 2, 0.3), (60, 5, 0.6), (200, 4, 0.8),
                       (33, 6, 0.1), (100, 3, 0.95), (8, 4, 0.0)]:
        x = readers(rng, n, ncat, 2, p)
        k = cohen_kappa_score(x[:, 0], x[:, 1])
        if not np.isfinite(k):
            continue
        lines.append("cohen %d %d %.17g %s %s" % (ncat, n, k, " ".join(map(str, x[:, 0])),
                                                 " ".join(map(str, x[:, 1]))))
    for n, ncat, m, p in [(10, 3, 3, 0.6), (30, 5, 6, 0.5), (50, 2, 4, 0.2), (120, 4, 3, 0.9),
                          (7, 6, 10, 0.4)]:
        x = readers(rng, n, ncat, m, p)
        table = np.zeros((n, ncat), dtype=int)
        for i in range(n):
            for r in range(m):
                table[i, x[i, r]] += 1
        k = fleiss_kappa(table, method="fleiss")
        lines.append("fleiss %d %d %.17g %s" % (n, ncat, k, " ".join(map(str, table.ravel()))))
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("%s: %d cases" % (path, len(lines) - 1))


if __name__ == "__main__":
    main()
