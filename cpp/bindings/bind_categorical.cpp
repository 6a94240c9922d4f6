// Bindings of the latent class model (Mixture x Categorical) and its statistics.
#include "mixture_methods.hpp"

namespace emkit::bindings {
namespace {

using Model = Mixture<Categorical>;
using Stats = Model::Stats;
using CodeArray = py::array_t<std::int32_t, py::array::c_style | py::array::forcecast>;

Model make_model(const DoubleArray& weights, const DoubleArray& probs, const std::vector<Index>& n_categories,
                 const py::object& item_concentration, double weight_concentration, bool fixed_weights) {
  check_ndim(probs, 2, "probs");
  std::optional<double> beta;
  if (!item_concentration.is_none()) beta = item_concentration.cast<double>();
  Model model(to_vector(weights, "weights"),
              Categorical(n_categories, to_matrix(probs, probs.shape(0), probs.shape(1), "probs"), beta),
              weight_concentration);
  model.set_fixed_weights(fixed_weights);
  return model;
}

Model::Data make_data(const Model& model, const CodeArray& X, Vector sample_weight) {
  if (X.shape(1) != model.emission().n_items())
    throw InvalidArgument("X: expected " + std::to_string(model.emission().n_items()) + " items, got " +
                          std::to_string(X.shape(1)));
  return Model::Data{CategoricalData(X.data(), X.shape(0), X.shape(1)), std::move(sample_weight)};
}

py::tuple stats_state(const Stats& s) {
  const auto& c = s.emission.counts;
  return py::make_tuple(to_numpy(s.resp_sum), s.loglik, s.total_weight, to_numpy(c, {c.rows(), c.cols()}));
}

Stats stats_from_state(const py::tuple& t) {
  if (t.size() != 4) throw InvalidArgument("stats: expected a state of 4 entries");
  Stats s;
  s.resp_sum = to_vector(t[0].cast<DoubleArray>(), "resp_sum");
  s.loglik = t[1].cast<double>();
  s.total_weight = t[2].cast<double>();
  const auto counts = t[3].cast<DoubleArray>();
  check_ndim(counts, 2, "counts");
  s.emission.counts = to_matrix(counts, counts.shape(0), counts.shape(1), "counts");
  return s;
}

Stats add_stats(const Stats& a, const Stats& b) {
  if (a.resp_sum.size() != b.resp_sum.size() || a.emission.counts.cols() != b.emission.counts.cols())
    throw InvalidArgument("stats: cannot add statistics of models of different shapes");
  Stats out = a;
  out += b;
  return out;
}

using Regression = MixtureRegression<Categorical>;

Regression::Data make_regression_data(const Regression& model, const CodeArray& X, const DoubleArray& Z,
                                      Vector sample_weight) {
  if (X.shape(1) != model.emission().n_items())
    throw InvalidArgument("X: expected " + std::to_string(model.emission().n_items()) + " items, got " +
                          std::to_string(X.shape(1)));
  if (Z.ndim() != 2 || Z.shape(0) != X.shape(0) || Z.shape(1) != model.n_covariates())
    throw InvalidArgument("covariates: expected shape (" + std::to_string(X.shape(0)) + ", " +
                          std::to_string(model.n_covariates()) + ")");
  return Regression::Data{CategoricalData(X.data(), X.shape(0), X.shape(1)),
                          Eigen::Map<const RowMatrix>(Z.data(), Z.shape(0), Z.shape(1)), std::move(sample_weight)};
}

}  // namespace

void bind_categorical(py::module_& m) {
  py::class_<Stats>(m, "LatentClassStats",
                    "Expected sufficient statistics of a latent class model over a set of rows: the "
                    "expected counts per class and (item, category). They add up over chunks.")
      .def_property_readonly("resp_sum", [](const Stats& s) { return to_numpy(s.resp_sum); })
      .def_readonly("loglik", &Stats::loglik)
      .def_readonly("total_weight", &Stats::total_weight)
      .def_property_readonly("counts", [](const Stats& s) {
        return to_numpy(s.emission.counts, {s.emission.counts.rows(), s.emission.counts.cols()});
      })
      .def("__add__", &add_stats, py::is_operator())
      .def(py::pickle(&stats_state, &stats_from_state));

  py::class_<Model> model(m, "LatentClassModel",
                          "A latent class model (mixture of products of categorical distributions).");
  model
      .def(py::init(&make_model), py::arg("weights"), py::arg("probs"), py::arg("n_categories"),
           py::arg("item_concentration") = py::none(), py::arg("weight_concentration") = 1.0,
           py::arg("fixed_weights") = false)
      .def_property_readonly("probs", [](const Model& self) {
        const auto& p = self.emission().probs();
        return to_numpy(p, {p.rows(), p.cols()});
      })
      .def(
          "sample",
          [](const Model& self, Index n, std::uint64_t seed) {
            const Index J = self.emission().n_items();
            py::array_t<std::int32_t> X({n, J});
            Eigen::VectorXi states(n), row(J);
            std::mt19937_64 rng(seed);
            auto* out = X.mutable_data();
            self.sample(n, rng, states, [&](Index i, int k, std::mt19937_64& g) {
              self.emission().sample(k, g, row);
              for (Index j = 0; j < J; ++j) out[i * J + j] = row[j];
            });
            py::array_t<int> labels(n);
            std::copy(states.data(), states.data() + n, labels.mutable_data());
            return py::make_tuple(X, labels);
          },
          py::arg("n"), py::arg("seed"));
  py::class_<Regression>(m, "LatentClassRegressionModel",
                         "A latent class model whose class probabilities are a multinomial logit in "
                         "covariates (class 0 is the reference).")
      .def(py::init([](const DoubleArray& coef, const DoubleArray& probs, const std::vector<Index>& n_categories,
                       const py::object& item_concentration) {
             check_ndim(coef, 2, "coef");
             check_ndim(probs, 2, "probs");
             std::optional<double> beta;
             if (!item_concentration.is_none()) beta = item_concentration.cast<double>();
             return Regression(to_matrix(coef, coef.shape(0), coef.shape(1), "coef"),
                               Categorical(n_categories, to_matrix(probs, probs.shape(0), probs.shape(1), "probs"),
                                           beta));
           }),
           py::arg("coef"), py::arg("probs"), py::arg("n_categories"), py::arg("item_concentration") = py::none())
      .def_property_readonly("coef", [](const Regression& self) {
        return to_numpy(self.coef(), {self.coef().rows(), self.coef().cols()});
      })
      .def_property_readonly("probs", [](const Regression& self) {
        const auto& p = self.emission().probs();
        return to_numpy(p, {p.rows(), p.cols()});
      })
      .def_property_readonly("n_parameters", &Regression::n_parameters)
      .def("log_prior", &Regression::log_prior)
      .def(
          "fit",
          [](Regression& self, const CodeArray& X, const DoubleArray& Z, const DoubleArray& sample_weight,
             int max_iter, double tol, int n_threads, std::function<bool(py::dict)> callback) {
            check_ndim(X, 2, "X");
            const FitOptions options = fit_options(max_iter, tol, n_threads, callback);
            Vector w;
            if (sample_weight.size()) w = to_vector(sample_weight, "sample_weight");
            FitResult result;
            {
              py::gil_scoped_release release;
              const auto data = make_regression_data(self, X, Z, std::move(w));
              result = fit_em(self, data, options);
            }
            return fit_result_to_dict(result);
          },
          py::arg("X"), py::arg("covariates"), py::arg("sample_weight"), py::arg("max_iter"), py::arg("tol"),
          py::arg("n_threads") = 0, py::arg("callback") = nullptr)
      .def(
          "posterior",
          [](const Regression& self, const CodeArray& X, const DoubleArray& Z, int n_threads) {
            check_ndim(X, 2, "X");
            const Index n = X.shape(0), K = self.n_states();
            py::array_t<double> log_resp({n, K});
            py::array_t<double> log_prob(n);
            double* lr_data = log_resp.mutable_data();
            double* lp_data = log_prob.mutable_data();
            {
              py::gil_scoped_release release;
              const auto data = make_regression_data(self, X, Z, Vector());
              Eigen::Map<RowMatrix> lr(lr_data, n, K);
              Eigen::Map<Vector> lp(lp_data, n);
              self.posterior(data, n_threads, lr, lp);
            }
            return py::make_tuple(log_resp, log_prob);
          },
          py::arg("X"), py::arg("covariates"), py::arg("n_threads") = 0);

  py::class_<ContingencyTable>(m, "ContingencyTableModel", "EM for an incomplete contingency table.")
      .def(py::init([](const std::vector<Index>& n_categories, const DoubleArray& probs) {
             return ContingencyTable(n_categories, Eigen::Map<const Vector>(probs.data(), probs.size()));
           }),
           py::arg("n_categories"), py::arg("probs"))
      .def_property_readonly("probs", [](const ContingencyTable& self) { return to_numpy(self.probs()); })
      .def(
          "fit",
          [](ContingencyTable& self, const CodeArray& X, const DoubleArray& sample_weight, int max_iter, double tol,
             int n_threads, std::function<bool(py::dict)> callback) {
            check_ndim(X, 2, "X");
            const FitOptions options = fit_options(max_iter, tol, n_threads, callback);
            Vector w;
            if (sample_weight.size()) w = to_vector(sample_weight, "sample_weight");
            FitResult result;
            {
              py::gil_scoped_release release;
              const ContingencyTable::Data data{CategoricalData(X.data(), X.shape(0), X.shape(1)), std::move(w)};
              result = fit_em(self, data, options);
            }
            return fit_result_to_dict(result);
          },
          py::arg("X"), py::arg("sample_weight"), py::arg("max_iter"), py::arg("tol"), py::arg("n_threads") = 0,
          py::arg("callback") = nullptr);

  def_mixture_methods<Model, CodeArray>(model, &make_data, [](const Model& self, const Stats& stats) {
    if (stats.emission.counts.cols() != self.emission().probs().cols())
      throw InvalidArgument("stats: shapes do not match the model");
  });
}

}  // namespace emkit::bindings
