"""Root pytest configuration: applies to tests/, notebooks/, solutions/ and exercises/.

Notebook kernels started by nbval inherit this environment.  One BLAS thread per process: the
suite runs many small products at once, and oversubscribed OpenBLAS threads make them many times
slower on a busy 2-core machine (the Makefile sets the same for `make test` and `make lab`).
"""
import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
