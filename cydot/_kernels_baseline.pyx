# The kernels built for the baseline instruction-set level; see _kernels.pxi.
include "_kernels.pxi"
