"""kmstui: see what happened to your AWS KMS keys, from CloudTrail, in a terminal."""

import os

# kmstui uses numpy for columns, never for linear algebra: keep BLAS from starting threads
# that spin on cores the loader's worker processes need. Set before numpy is imported.
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

__version__ = "0.1.0"
