// Bindings of the Gaussian mixture: the model object (fit, e_step, m_step, posterior, sample)
// and its additive sufficient statistics.
#include "stats_state.hpp"

namespace emkit::bindings {
namespace {

using Model = Mixture<Gaussian>;
using Stats = Model::Stats;

Model make_model(const DoubleArray& weights, const DoubleArray& means, const DoubleArray& covariances,
                 const std::string& covariance_type, double reg_covar, const py::object& prior) {
  const CovarianceType type = parse_covariance_type(covariance_type);
  check_ndim(means, 2, "means");
  const Index K = means.shape(0), d = means.shape(1);
  const Index F = type == CovarianceType::Tied ? 1 : K;
  RowMatrix cov = to_matrix(covariances, F, covariance_columns(type, d), "covariances");
  double alpha = 1.0;
  if (!prior.is_none()) alpha = prior.cast<py::dict>()["weight_concentration"].cast<double>();
  return Model(to_vector(weights, "weights"),
               Gaussian(type, to_matrix(means, K, d, "means"), std::move(cov), reg_covar,
                        parse_prior(prior, type, d)),
               alpha);
}

// The dataset view: X must stay alive (it is held by the caller's py::array) while data is used.
Model::Data make_data(const Model& model, const RealArray& X, Vector sample_weight) {
  if (X.shape(1) != model.emission().n_features())
    throw InvalidArgument("X: expected " + std::to_string(model.emission().n_features()) +
                          " features, got " + std::to_string(X.shape(1)));
  return Model::Data{gaussian_data(X, /*allow_unobserved_rows=*/false), std::move(sample_weight)};
}

py::tuple stats_state(const Stats& s) {
  const Index K = s.resp_sum.size(), d = s.emission.shift.cols();
  return py::make_tuple(to_numpy(s.resp_sum), s.loglik, s.total_weight,
                        to_numpy(s.emission.shift, {K, d}), to_numpy(s.emission.sum, {K, d}),
                        to_numpy(s.emission.scatter, {K, s.emission.scatter.cols()}), s.emission.parameters);
}

Stats stats_from_state(const py::tuple& t) {
  if (t.size() != 7) throw InvalidArgument("stats: expected a state of 7 entries");
  Stats s;
  s.resp_sum = to_vector(t[0].cast<DoubleArray>(), "resp_sum");
  s.loglik = t[1].cast<double>();
  s.total_weight = t[2].cast<double>();
  const auto shift = t[3].cast<DoubleArray>(), sum = t[4].cast<DoubleArray>(), scatter = t[5].cast<DoubleArray>();
  check_ndim(shift, 2, "shift");
  check_ndim(scatter, 2, "scatter");
  s.emission.shift = to_matrix(shift, shift.shape(0), shift.shape(1), "shift");
  s.emission.sum = to_matrix(sum, shift.shape(0), shift.shape(1), "sum");
  s.emission.scatter = to_matrix(scatter, scatter.shape(0), scatter.shape(1), "scatter");
  s.emission.parameters = t[6].cast<std::uint64_t>();
  return s;
}

}  // namespace

void bind_gaussian(py::module_& m) {
  py::class_<Stats>(m, "GaussianMixtureStats",
                    "Expected sufficient statistics of a Gaussian mixture over a set of rows. They "
                    "add up: the statistics of two chunks are the sum of the chunks' statistics.")
      .def_property_readonly("resp_sum", [](const Stats& s) { return to_numpy(s.resp_sum); },
                             "Expected number of rows per component (weighted).")
      .def_readonly("loglik", &Stats::loglik, "Log-likelihood of the rows at the model's parameters.")
      .def_readonly("total_weight", &Stats::total_weight, "Sum of the sample weights.")
      .def_property_readonly("shift", [](const Stats& s) {
        return to_numpy(s.emission.shift, {s.emission.shift.rows(), s.emission.shift.cols()});
      })
      .def_property_readonly("sum", [](const Stats& s) {
        return to_numpy(s.emission.sum, {s.emission.sum.rows(), s.emission.sum.cols()});
      })
      .def_property_readonly("scatter", [](const Stats& s) {
        return to_numpy(s.emission.scatter, {s.emission.scatter.rows(), s.emission.scatter.cols()});
      })
      .def(
          "__add__", [](const Stats& a, const Stats& b) { return add_checked(a, b, &Stats::resp_sum); },
          py::is_operator())
      .def(py::pickle(&stats_state, &stats_from_state));

  py::class_<Model> model(m, "GaussianMixtureModel",
                          "A Gaussian mixture's parameters with its E-step, M-step and EM driver.");
  model
      .def(py::init(&make_model), py::arg("weights"), py::arg("means"), py::arg("covariances"),
           py::arg("covariance_type"), py::arg("reg_covar") = 1e-6, py::arg("prior") = py::none())
      .def_property_readonly("means", [](const Model& self) {
        const auto& mu = self.emission().means();
        return to_numpy(mu, {mu.rows(), mu.cols()});
      })
      .def_property_readonly("covariances", [](const Model& self) {
        const auto& g = self.emission();
        return to_numpy(g.covariances(), covariance_shape(g.covariance_type(), g.n_states(), g.n_features()));
      });
  def_mixture_sample_rows(model);
  def_mixture_methods<Model, RealArray>(model, &make_data, [](const Model& self, const Stats& stats) {
    check_emission_stats(self.emission(), stats.emission);
  });
}

}  // namespace emkit::bindings
