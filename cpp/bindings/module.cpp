// emkit._core: the compiled core of emkit.
#include "pybind.hpp"

namespace emkit::bindings {
namespace {

py::tuple kmeans(const DoubleArray& X, const DoubleArray& sample_weight, Index n_clusters,
                 std::uint64_t seed, int n_lloyd, int n_threads) {
  check_ndim(X, 2, "X");
  const Eigen::Map<const RowMatrix> rows(X.data(), X.shape(0), X.shape(1));
  const Vector w = sample_weight.size() ? to_vector(sample_weight, "sample_weight") : Vector();
  KMeansResult result;
  {
    py::gil_scoped_release release;
    result = kmeans_plus_plus(rows, w, n_clusters, seed, n_lloyd, n_threads);
  }
  py::array_t<int> labels(result.labels.size());
  std::copy(result.labels.data(), result.labels.data() + result.labels.size(), labels.mutable_data());
  return py::make_tuple(to_numpy(result.centers, {n_clusters, X.shape(1)}), labels, result.inertia);
}

}  // namespace
}  // namespace emkit::bindings

#ifndef EMKIT_MODULE_NAME
#define EMKIT_MODULE_NAME _core
#endif
#ifndef EMKIT_ISA
#define EMKIT_ISA "baseline"
#endif

PYBIND11_MODULE(EMKIT_MODULE_NAME, m) {
  using namespace emkit::bindings;
  m.doc() = "The compiled core of emkit: E- and M-steps, the EM driver, k-means++ seeding.";
#ifdef EMKIT_VERSION
  m.attr("__version__") = EMKIT_VERSION;
#endif
  m.attr("isa") = EMKIT_ISA;
  m.def("simd_instruction_sets", [] { return std::string(Eigen::SimdInstructionSetsInUse()); },
        "The SIMD instruction sets Eigen's kernels were compiled for in this variant.");
  py::register_exception<emkit::NumericalError>(m, "NumericalError", PyExc_ValueError);
  m.def("openmp_enabled", &emkit::openmp_enabled, "Whether the core was compiled with OpenMP.");
  m.def("max_threads", [] { return emkit::resolve_threads(0); }, "Threads used when n_threads is None.");
  m.def("kmeans_plus_plus", &kmeans, py::arg("X"), py::arg("sample_weight"), py::arg("n_clusters"),
        py::arg("seed"), py::arg("n_lloyd") = 10, py::arg("n_threads") = 0,
        "Weighted greedy k-means++ seeding and Lloyd iterations: (centers, labels, inertia).");
  bind_gaussian(m);
  bind_categorical(m);
  bind_product(m);
  bind_poisson(m);
  bind_hmm(m);
  bind_hmm_discrete(m);
  bind_gmmhmm(m);
  bind_patterns(m);
}
