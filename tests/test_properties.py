"""Property tests: for any shapes, dtypes and layouts, the result is numpy.dot's."""

import numpy as np
from conftest import assert_matches_numpy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mpdot

DTYPES = ["f8", "f4", "c16", "c8", "i8", "i4", "i2", "u1", "f2", "?"]

LAYOUTS = {
    "c": lambda x: x,
    "fortran": np.asfortranarray,
    "strided": lambda x: np.repeat(x, 2, axis=1)[:, ::2],
    "reversed": lambda x: x[::-1].copy()[::-1],
    "byteswapped": lambda x: x.astype(x.dtype.newbyteorder("S")),
    "shared": mpdot.asarray,
    "shared-fortran": lambda x: mpdot.asarray(x.T).T,
}


@st.composite
def matrices(draw, rows, columns):
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    values = draw(st.lists(st.integers(-20, 20), min_size=rows * columns, max_size=rows * columns))
    array = np.array(values).reshape(rows, columns)
    if dtype.kind == "u":
        array = np.abs(array)
    array = array.astype(dtype)
    return LAYOUTS[draw(st.sampled_from(sorted(LAYOUTS)))](array)


@st.composite
def operands(draw):
    m, k, n = (draw(st.integers(0, 9)) for _ in range(3))
    return draw(matrices(m, k)), draw(matrices(k, n))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operands=operands(), kernel=st.sampled_from([None, "naive"]), with_out=st.booleans())
def test_any_operands_match_numpy(dot, operands, kernel, with_out):
    a, b = operands
    out = np.empty((a.shape[0], b.shape[1]), np.promote_types(a.dtype, b.dtype)) if with_out else None
    result = dot(a, b, out=out, kernel=kernel)
    assert out is None or result is out
    assert_matches_numpy(result, a, b)
