// Bindings of the Gaussian HMM: the model object (its parameters and layouts) and its additive
// sufficient statistics (with the Gaussian family's shift, sum and scatter). The methods every HMM
// shares (fit, e_step, m_step, posterior, score, viterbi, pickling of the statistics) are
// hmm_methods.hpp's. Sequences are given as the concatenated rows X and their lengths; sample
// weights are per sequence.
#include "gaussian_common.hpp"
#include "hmm_methods.hpp"

namespace emkit::bindings {
namespace {

using Model = HMM<Gaussian>;
using Stats = Model::Stats;

Model make_model(const DoubleArray& startprob, const DoubleArray& transmat, const DoubleArray& means,
                 const DoubleArray& covariances, const std::string& covariance_type, double reg_covar,
                 const py::object& prior, const py::object& startprob_prior, const py::object& transmat_prior,
                 const std::vector<std::string>& fixed) {
  const CovarianceType type = parse_covariance_type(covariance_type);
  check_ndim(means, 2, "means");
  check_ndim(transmat, 2, "transmat");
  const Index K = means.shape(0), d = means.shape(1);
  const Index F = type == CovarianceType::Tied ? 1 : K;
  RowMatrix cov = to_matrix(covariances, F, covariance_columns(type, d), "covariances");
  Vector start_alpha;
  RowMatrix trans_alpha;
  chain_priors(startprob_prior, transmat_prior, K, start_alpha, trans_alpha);
  return Model(to_vector(startprob, "startprob"), to_matrix(transmat, transmat.shape(0), transmat.shape(1), "transmat"),
               Gaussian(type, to_matrix(means, K, d, "means"), std::move(cov), reg_covar, parse_prior(prior, type, d)),
               std::move(start_alpha), std::move(trans_alpha), fixed);
}

// The dataset view: X must stay alive (it is held by the caller's py::array) while data is used.
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

void bind_hmm(py::module_& m) {
  py::class_<Model> cls(m, "GaussianHMMModel",
                        "A Gaussian HMM's parameters with its E-step, M-step, EM driver and decoders.");
  cls.def(py::init(&make_model), py::arg("startprob"), py::arg("transmat"), py::arg("means"),
          py::arg("covariances"), py::arg("covariance_type"), py::arg("reg_covar") = 1e-6,
          py::arg("prior") = py::none(), py::arg("startprob_prior") = py::none(),
          py::arg("transmat_prior") = py::none(), py::arg("fixed") = std::vector<std::string>())
      .def_property_readonly("means", [](const Model& self) { return matrix_to_numpy(self.emission().means()); })
      .def_property_readonly("covariances",
                             [](const Model& self) {
                               const auto& g = self.emission();
                               return to_numpy(g.covariances(),
                                               covariance_shape(g.covariance_type(), g.n_states(), g.n_features()));
                             })
      .def_property_readonly("covariance_type",
                             [](const Model& self) { return covariance_type_name(self.emission().covariance_type()); });
  def_sample_rows(cls);
  def_hmm_methods<Model, RealArray>(m, cls, "GaussianHMMStats", &make_data)
      .def_property_readonly("shift", [](const Stats& s) { return matrix_to_numpy(s.emission.shift); },
                             "The means the Gaussian statistics are centred on.")
      .def_property_readonly("sum", [](const Stats& s) { return matrix_to_numpy(s.emission.sum); })
      .def_property_readonly("scatter", [](const Stats& s) { return matrix_to_numpy(s.emission.scatter); });
}

}  // namespace emkit::bindings
