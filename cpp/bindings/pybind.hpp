// The one internal header through which the bindings include pybind11.
#pragma once

#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <string>

#include <emkit/emkit.hpp>

namespace py = pybind11;

namespace emkit::bindings {

// A C-contiguous float64 view of a numpy array: no copy when the input already is one.
using DoubleArray = py::array_t<double, py::array::c_style | py::array::forcecast>;
// A C-contiguous int32 view of category codes (negative = missing).
using CodeArray = py::array_t<std::int32_t, py::array::c_style | py::array::forcecast>;

// A C-contiguous float64 or float32 view of a numpy array: float32 input stays float32 (the
// Gaussian family computes in float32 then); every other real input converts to float64 as with
// DoubleArray. No copy when the input already is such an array.
struct RealArray : py::array {
  RealArray() = default;
  RealArray(py::array a, bool single_precision) : py::array(std::move(a)), single(single_precision) {}
  bool single = false;  // float32
  const double* doubles() const { return static_cast<const double*>(data()); }
  const float* floats() const { return static_cast<const float*>(data()); }
};

// The objective's relative round-off when fitting to X (FitOptions::round_off).
inline double round_off_of(const py::array&) { return FitOptions().round_off; }
inline double round_off_of(const RealArray& X) { return X.single ? kFloat32RoundOff : FitOptions().round_off; }

inline void check_ndim(const py::array& a, int ndim, const std::string& name) {
  if (a.ndim() != ndim)
    throw InvalidArgument(name + ": expected a " + std::to_string(ndim) + "-D array, got " +
                          std::to_string(a.ndim()) + "-D");
}

// Row-major matrix copy of a 1-D or 2-D array (small parameter arrays only).
inline RowMatrix to_matrix(const DoubleArray& a, Index rows, Index cols, const std::string& name) {
  if (a.size() != rows * cols)
    throw InvalidArgument(name + ": expected " + std::to_string(rows * cols) + " values, got " +
                          std::to_string(a.size()));
  return Eigen::Map<const RowMatrix>(a.data(), rows, cols);
}

inline Vector to_vector(const DoubleArray& a, const std::string& name) {
  check_ndim(a, 1, name);
  return Eigen::Map<const Vector>(a.data(), a.shape(0));
}

// A numpy array that owns a copy of an Eigen matrix, with the given shape.
inline py::array_t<double> to_numpy(const RowMatrix& m, std::vector<py::ssize_t> shape) {
  py::array_t<double> out(shape);
  std::copy(m.data(), m.data() + m.size(), out.mutable_data());
  return out;
}

inline py::array_t<double> to_numpy(const Vector& v) {
  py::array_t<double> out(v.size());
  std::copy(v.data(), v.data() + v.size(), out.mutable_data());
  return out;
}

void bind_gaussian(py::module_& m);
void bind_categorical(py::module_& m);
void bind_product(py::module_& m);
void bind_poisson(py::module_& m);
void bind_hmm(py::module_& m);
void bind_hmm_discrete(py::module_& m);
void bind_gmmhmm(py::module_& m);
void bind_patterns(py::module_& m);

}  // namespace emkit::bindings

namespace pybind11::detail {
template <>
struct type_caster<emkit::bindings::RealArray> {
  PYBIND11_TYPE_CASTER(emkit::bindings::RealArray, const_name("numpy.ndarray[numpy.float64 | numpy.float32]"));

  bool load(handle src, bool convert) {
    using emkit::bindings::DoubleArray;
    using emkit::bindings::RealArray;
    if (isinstance<array_t<float>>(src)) {
      if (!convert && !array_t<float, array::c_style>::check_(src)) return false;
      auto a = array_t<float, array::c_style | array::forcecast>::ensure(src);
      if (!a) return false;
      value = RealArray(std::move(a), true);
      return true;
    }
    if (!convert && !DoubleArray::check_(src)) return false;
    auto a = DoubleArray::ensure(src);
    if (!a) return false;
    value = RealArray(std::move(a), false);
    return true;
  }

  static handle cast(const emkit::bindings::RealArray& src, return_value_policy, handle) {
    return src.inc_ref();
  }
};
}  // namespace pybind11::detail
