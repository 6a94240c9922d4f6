// Binding of compress_patterns (patterns.hpp): the distinct rows of a code matrix, their total
// weights and the pattern of each row, as numpy's unique(axis=0, return_inverse=True) and bincount
// give them. Input is checked with the GIL held; the work runs without it.
#include <limits>
#include <memory>

#include "pybind.hpp"

namespace emkit::bindings {
namespace {

std::string dtype_name(const py::array& a) { return py::str(a.dtype()).cast<std::string>(); }

// The codes as a C-contiguous int32 matrix: integer or boolean input only (TypeError otherwise),
// wider integers only when every value fits in int32 (ValueError otherwise).
CodeArray int32_codes(const py::array& codes) {
  check_ndim(codes, 2, "codes");
  const char kind = codes.dtype().kind();
  if (kind != 'i' && kind != 'u' && kind != 'b')
    throw py::type_error("codes: expected integer codes, got dtype " + dtype_name(codes));
  const bool fits = kind == 'b' || codes.itemsize() < 4 || (kind == 'i' && codes.itemsize() == 4);
  if (!fits && codes.size() > 0) {
    const py::int_ lowest(std::numeric_limits<std::int32_t>::min()), highest(std::numeric_limits<std::int32_t>::max());
    if (codes.attr("min")() < lowest || codes.attr("max")() > highest)
      throw InvalidArgument("codes: expected values that fit in int32 (" + dtype_name(codes) + " input)");
  }
  auto converted = CodeArray::ensure(codes);
  if (!converted) throw py::error_already_set();
  return converted;
}

// The weights as float64 (real numbers only: TypeError otherwise), checked by the core's rule.
DoubleArray pattern_weights(const py::array& weights, Index n_rows) {
  check_ndim(weights, 1, "weights");
  const char kind = weights.dtype().kind();
  if (kind != 'f' && kind != 'i' && kind != 'u' && kind != 'b')
    throw py::type_error("weights: expected real numbers, got dtype " + dtype_name(weights));
  auto converted = DoubleArray::ensure(weights);
  if (!converted) throw py::error_already_set();
  check_pattern_weights(Eigen::Map<const Vector>(converted.data(), converted.size()), n_rows);
  return converted;
}

// The outputs are views of the core's result (no copy), which their common base owns.
py::tuple compress(const py::array& codes_in, const py::array& weights_in) {
  const CodeArray codes = int32_codes(codes_in);
  const Index n = codes.shape(0), J = codes.shape(1);
  const DoubleArray weights = pattern_weights(weights_in, n);
  auto result = std::make_unique<PatternCounts>();
  {
    py::gil_scoped_release release;
    *result = compress_patterns(Eigen::Map<const CodeMatrix>(codes.data(), n, J),
                                Eigen::Map<const Vector>(weights.data(), weights.size()));
  }
  const py::capsule owner(result.get(), [](void* p) { delete static_cast<PatternCounts*>(p); });
  const PatternCounts& r = *result.release();
  const Index m = r.patterns.rows();
  return py::make_tuple(py::array_t<std::int32_t>({m, J}, r.patterns.data(), owner),
                        py::array_t<double>(m, r.counts.data(), owner), py::array_t<Index>(n, r.inverse.data(), owner));
}

}  // namespace

void bind_patterns(py::module_& m) {
  m.def("compress_patterns", &compress, py::arg("codes"), py::arg("weights"),
        "The distinct rows of an (n, J) integer code matrix in lexicographic order, their total weights "
        "(weights: n finite values >= 0, or empty for all ones) and the pattern of each row: (patterns "
        "int32 (m, J), counts float64 (m,), inverse intp (n,)), as numpy's unique(codes, axis=0, "
        "return_inverse=True) and bincount(inverse, weights).");
}

}  // namespace emkit::bindings
