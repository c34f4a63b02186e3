# The kernels built for the x86_64_v4 instruction-set level; see _kernels.pxi.
include "_kernels.pxi"
