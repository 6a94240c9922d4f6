// Bindings of the HMM whose states emit Gaussian mixtures (GMMHMMModel, hmmlearn's GMMHMM): the
// parameters' layouts; the shared methods and the statistics class are hmm_methods.hpp's.
#include "gaussian_common.hpp"
#include "hmm_methods.hpp"

namespace emkit::bindings {
namespace {

using Model = HMM<GaussianMixtureEmission>;

// Covariance rows of one state in the Gaussian family's layout (tied: one per state).
Index covariance_rows(CovarianceType type, Index M) { return type == CovarianceType::Tied ? 1 : M; }

// hmmlearn's GMMHMM layout: full (K, M, d, d), tied (K, d, d), diag (K, M, d), spherical (K, M).
std::vector<py::ssize_t> mixture_covariance_shape(CovarianceType type, Index K, Index M, Index d) {
  switch (type) {
    case CovarianceType::Full: return {K, M, d, d};
    case CovarianceType::Tied: return {K, d, d};
    case CovarianceType::Diag: return {K, M, d};
    default: return {K, M};
  }
}

Model make_model(const DoubleArray& startprob, const DoubleArray& transmat, const DoubleArray& weights,
                 const DoubleArray& means, const DoubleArray& covariances, const std::string& covariance_type,
                 double reg_covar, const py::object& prior, const py::object& weights_prior,
                 const py::object& startprob_prior, const py::object& transmat_prior,
                 const std::vector<std::string>& fixed) {
  const CovarianceType type = parse_covariance_type(covariance_type);
  check_ndim(weights, 2, "weights");
  check_ndim(means, 3, "means");
  check_ndim(transmat, 2, "transmat");
  const Index K = weights.shape(0), M = weights.shape(1), d = means.shape(2);
  if (means.shape(0) != K || means.shape(1) != M)
    throw InvalidArgument("means: expected shape (" + std::to_string(K) + ", " + std::to_string(M) + ", d)");
  RowMatrix cov = to_matrix(covariances, K * covariance_rows(type, M), covariance_columns(type, d), "covariances");
  RowMatrix alpha;
  if (!weights_prior.is_none()) alpha = to_matrix(weights_prior.cast<DoubleArray>(), K, M, "weights_prior");
  Vector start_alpha;
  RowMatrix trans_alpha;
  chain_priors(startprob_prior, transmat_prior, K, start_alpha, trans_alpha);
  return Model(to_vector(startprob, "startprob"), to_matrix(transmat, transmat.shape(0), transmat.shape(1), "transmat"),
               GaussianMixtureEmission(type, to_matrix(weights, K, M, "weights"), to_matrix(means, K * M, d, "means"),
                                       cov, reg_covar, parse_prior(prior, type, d), std::move(alpha)),
               std::move(start_alpha), std::move(trans_alpha), fixed);
}

// Rows with nothing observed are accepted (the chain advances through them).
Model::Data make_data(const Model& model, const RealArray& X, const LengthArray& lengths,
                      const DoubleArray& sample_weight) {
  check_ndim(X, 2, "X");
  if (X.shape(1) != model.emission().n_features())
    throw InvalidArgument("X: expected " + std::to_string(model.emission().n_features()) + " features, got " +
                          std::to_string(X.shape(1)));
  return Model::Data(gaussian_data(X, /*allow_unobserved_rows=*/true),
                     offsets_of(lengths, X.shape(0)), weights_of(sample_weight));
}

}  // namespace

void bind_gmmhmm(py::module_& m) {
  py::class_<Model> cls(m, "GMMHMMModel",
                        "An HMM whose states emit Gaussian mixtures (n_mix components per state; NaN = missing).");
  cls.def(py::init(&make_model), py::arg("startprob"), py::arg("transmat"), py::arg("weights"), py::arg("means"),
          py::arg("covariances"), py::arg("covariance_type"), py::arg("reg_covar") = 1e-6,
          py::arg("prior") = py::none(), py::arg("weights_prior") = py::none(),
          py::arg("startprob_prior") = py::none(), py::arg("transmat_prior") = py::none(),
          py::arg("fixed") = std::vector<std::string>())
      .def_property_readonly("weights", [](const Model& self) { return matrix_to_numpy(self.emission().weights()); })
      .def_property_readonly("means",
                             [](const Model& self) {
                               const auto& e = self.emission();
                               return to_numpy(e.means(), {e.n_states(), e.n_mix(), e.n_features()});
                             })
      .def_property_readonly("covariances",
                             [](const Model& self) {
                               const auto& e = self.emission();
                               return to_numpy(e.covariances(), mixture_covariance_shape(e.covariance_type(), e.n_states(),
                                                                                         e.n_mix(), e.n_features()));
                             })
      .def_property_readonly("covariance_type",
                             [](const Model& self) { return covariance_type_name(self.emission().covariance_type()); })
      .def_property_readonly("weights_prior",
                             [](const Model& self) { return matrix_to_numpy(self.emission().weight_concentration()); });
  def_sample_rows(cls);
  def_hmm_methods<Model, RealArray>(m, cls, "GMMHMMStats", &make_data);
}

}  // namespace emkit::bindings
