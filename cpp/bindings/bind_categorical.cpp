// Bindings of the latent class model (Mixture x Categorical) and its statistics.
#include "mixture_methods.hpp"

namespace emkit::bindings {
namespace {

using Model = Mixture<Categorical>;
using Stats = Model::Stats;

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

// The latent class part of a state: [resp_sum, loglik, total_weight, counts].
template <class AnyStats>
py::tuple stats_state(const AnyStats& s) {
  const auto& c = s.emission.counts;
  return py::make_tuple(to_numpy(s.resp_sum), s.loglik, s.total_weight, to_numpy(c, {c.rows(), c.cols()}));
}

// Statistics from a state of `size` entries whose first four are the latent class part.
template <class AnyStats>
AnyStats stats_from_state(const py::tuple& t, size_t size = 4) {
  if (t.size() != size) throw InvalidArgument("stats: expected a state of " + std::to_string(size) + " entries");
  AnyStats s;
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

using RegressionStats = Regression::Stats;
using LineSearchStats = Regression::LineSearchStats;

// The latent class part, then [gradient, information, resp_covariates, parameters].
py::tuple regression_stats_state(const RegressionStats& s) {
  const Index m = s.gradient.size();
  return py::tuple(stats_state(s) + py::make_tuple(to_numpy(s.gradient), to_numpy(RowMatrix(s.information), {m, m}),
                                                   to_numpy(s.resp_covariates), s.parameters));
}

RegressionStats regression_stats_from_state(const py::tuple& t) {
  RegressionStats s = stats_from_state<RegressionStats>(t, 8);
  s.gradient = to_vector(t[4].cast<DoubleArray>(), "gradient");
  const Index m = s.gradient.size();
  s.information = to_matrix(t[5].cast<DoubleArray>(), m, m, "information");
  s.resp_covariates = to_vector(t[6].cast<DoubleArray>(), "resp_covariates");
  if (s.resp_covariates.size() != m) throw InvalidArgument("resp_covariates: expected " + std::to_string(m) + " values");
  s.parameters = t[7].cast<std::uint64_t>();
  return s;
}

RegressionStats add_regression_stats(const RegressionStats& a, const RegressionStats& b) {
  if (a.resp_sum.size() != b.resp_sum.size() || a.emission.counts.cols() != b.emission.counts.cols() ||
      a.gradient.size() != b.gradient.size())
    throw InvalidArgument("stats: cannot add statistics of models of different shapes");
  if (a.parameters != b.parameters)
    throw InvalidArgument("stats: cannot add statistics computed at different parameters; compute every "
                          "chunk's e_step with the same model");
  RegressionStats out = a;
  out += b;
  return out;
}

// The trial step sizes of a line-search pass: 2^-first_halving, 2^-(first_halving + 1), ...
py::array_t<double> trial_steps(int first_halving, Index n_trials) {
  Vector t(n_trials);
  for (Index j = 0; j < n_trials; ++j) t[j] = std::ldexp(1.0, -(first_halving + static_cast<int>(j)));
  return to_numpy(t);
}

py::tuple line_search_state(const LineSearchStats& s) {
  return py::make_tuple(s.first_halving, to_numpy(s.log_partition_change), s.step);
}

LineSearchStats line_search_from_state(const py::tuple& t) {
  if (t.size() != 3) throw InvalidArgument("stats: expected a state of 3 entries");
  return LineSearchStats{t[0].cast<int>(), to_vector(t[1].cast<DoubleArray>(), "log_partition_change"),
                         t[2].cast<std::uint64_t>()};
}

LineSearchStats add_line_search_stats(const LineSearchStats& a, const LineSearchStats& b) {
  if (a.step != b.step || a.first_halving != b.first_halving ||
      a.log_partition_change.size() != b.log_partition_change.size())
    throw InvalidArgument("stats: cannot add line-search statistics of different steps or passes; compute every "
                          "chunk's line_search with the same model");
  LineSearchStats out = a;
  out += b;
  return out;
}

// m_step of E-step or line-search statistics; returns the states that were empty.
template <class AnyStats>
std::vector<Index> regression_m_step(Regression& self, const AnyStats& stats) {
  py::gil_scoped_release release;
  self.m_step(stats);
  return self.empty_states();
}

using TableStats = ContingencyTable::Stats;

ContingencyTable::Data make_table_data(const ContingencyTable& model, const CodeArray& X, Vector sample_weight) {
  check_ndim(X, 2, "X");
  if (X.shape(1) != static_cast<py::ssize_t>(model.n_categories().size()))
    throw InvalidArgument("X: expected " + std::to_string(model.n_categories().size()) + " variables, got " +
                          std::to_string(X.shape(1)));
  return ContingencyTable::Data{CategoricalData(X.data(), X.shape(0), X.shape(1)), std::move(sample_weight)};
}

TableStats add_table_stats(const TableStats& a, const TableStats& b) {
  if (a.counts.size() != b.counts.size())
    throw InvalidArgument("stats: cannot add statistics of tables of different shapes");
  TableStats out = a;
  out += b;
  return out;
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
      .def(py::pickle(&stats_state<Stats>, [](const py::tuple& t) { return stats_from_state<Stats>(t); }));

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
  py::class_<RegressionStats>(
      m, "LatentClassRegressionStats",
      "Expected sufficient statistics of a latent class regression over a set of rows, at the model's "
      "current coefficients and item probabilities: the latent class statistics plus the Newton step's "
      "sums (vectors over the free coefficients are class-major: classes 1..K-1, n_covariates values "
      "each). They add up over chunks computed at the same parameters.")
      .def_property_readonly("resp_sum", [](const RegressionStats& s) { return to_numpy(s.resp_sum); })
      .def_readonly("loglik", &RegressionStats::loglik)
      .def_readonly("total_weight", &RegressionStats::total_weight)
      .def_property_readonly("counts", [](const RegressionStats& s) {
        return to_numpy(s.emission.counts, {s.emission.counts.rows(), s.emission.counts.cols()});
      })
      .def_property_readonly("gradient", [](const RegressionStats& s) { return to_numpy(s.gradient); },
                             "dQ/dbeta = sum_i w_i (h_ik - pi_ik) z_i")
      .def_property_readonly(
          "information",
          [](const RegressionStats& s) {
            const Index m = s.gradient.size();
            return to_numpy(RowMatrix(s.information), {m, m});
          },
          "-d2Q/dbeta2 = sum_i w_i pi_ik (delta_kl - pi_il) z_i z_i^T")
      .def_property_readonly("resp_covariates", [](const RegressionStats& s) { return to_numpy(s.resp_covariates); },
                             "L_k = sum_i w_i h_ik z_i")
      .def_readonly("parameters", &RegressionStats::parameters,
                    "Fingerprint of the parameters the statistics were computed at.")
      .def("__add__", &add_regression_stats, py::is_operator())
      .def(py::pickle(&regression_stats_state, &regression_stats_from_state));

  py::class_<LineSearchStats>(
      m, "LatentClassLineSearchStats",
      "One line-search pass of a latent class regression's pending Newton step delta over a set of rows: "
      "for each trial step t, sum_i w_i [A_i(beta + t delta) - A_i(beta)] with A_i = logsumexp_k(z_i beta_k). "
      "They add up over chunks of the same pass.")
      .def_readonly("first_halving", &LineSearchStats::first_halving)
      .def_property_readonly("step_sizes",
                             [](const LineSearchStats& s) {
                               return trial_steps(s.first_halving, s.log_partition_change.size());
                             })
      .def_property_readonly("log_partition_change",
                             [](const LineSearchStats& s) { return to_numpy(s.log_partition_change); })
      .def_readonly("step", &LineSearchStats::step, "Fingerprint of the step (beta, delta) the pass belongs to.")
      .def("__add__", &add_line_search_stats, py::is_operator())
      .def(py::pickle(&line_search_state, &line_search_from_state));

  py::class_<Regression>(m, "LatentClassRegressionModel",
                         "A latent class model whose class probabilities are a multinomial logit in "
                         "covariates (class 0 is the reference). Chunked EM: e_step per chunk, +, m_step; "
                         "then, while pending_pass, line_search per chunk, +, m_step.")
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
      .def_property_readonly("pending_pass", &Regression::pending_pass,
                             "Whether the M-step waits for a line-search pass (line_search, then m_step).")
      .def_property("trial_steps_per_pass", &Regression::trial_steps_per_pass, &Regression::set_trial_steps_per_pass,
                    "Step sizes tried per line-search pass (default 8); the accepted step does not depend on it.")
      .def_property_readonly(
          "trial_steps", [](const Regression& self) { return trial_steps(self.next_halving(), self.n_trial_steps()); },
          "The step sizes the next line-search pass tries (empty when none is pending).")
      .def_property_readonly(
          "pending_step",
          [](const Regression& self) -> py::object {
            if (!self.pending_pass()) return py::none();
            return to_numpy(self.pending_direction(), {self.n_covariates(), self.n_states()});
          },
          "The pending Newton step delta (n_covariates × K, column 0 zero), or None.")
      .def(
          "fit",
          [](Regression& self, const CodeArray& X, const DoubleArray& Z, const DoubleArray& sample_weight,
             int max_iter, double tol, int n_threads, std::function<bool(py::dict)> callback) {
            check_ndim(X, 2, "X");
            const FitOptions options = fit_options(max_iter, tol, n_threads, callback);
            Vector w = sample_weight_vector(sample_weight, X.shape(0));
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
          "e_step",
          [](const Regression& self, const CodeArray& X, const DoubleArray& Z, const DoubleArray& sample_weight,
             int n_threads) {
            check_ndim(X, 2, "X");
            Vector w = sample_weight_vector(sample_weight, X.shape(0));
            py::gil_scoped_release release;
            const auto data = make_regression_data(self, X, Z, std::move(w));
            return self.e_step(data, n_threads);
          },
          py::arg("X"), py::arg("covariates"), py::arg("sample_weight"), py::arg("n_threads") = 0)
      .def("m_step", &regression_m_step<RegressionStats>, py::arg("stats"),
           "The item M-step and the Newton step's solve; its line search is then pending.")
      .def("m_step", &regression_m_step<LineSearchStats>, py::arg("stats"),
           "Ends a line-search pass: the largest trial step with Q not decreasing, or the next pass.")
      .def(
          "line_search",
          [](const Regression& self, const DoubleArray& Z, const DoubleArray& sample_weight, int n_threads) {
            check_ndim(Z, 2, "covariates");
            Vector w = sample_weight_vector(sample_weight, Z.shape(0));
            py::gil_scoped_release release;
            const Eigen::Map<const RowMatrix> covariates(Z.data(), Z.shape(0), Z.shape(1));
            return self.line_search(covariates, w, n_threads);
          },
          py::arg("covariates"), py::arg("sample_weight"), py::arg("n_threads") = 0)
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

  py::class_<TableStats>(m, "ContingencyTableStats",
                         "Expected cell counts of an incomplete contingency table over a set of rows (row-major "
                         "over the variables), with their log-likelihood and weight. They add up over chunks.")
      .def_property_readonly("counts", [](const TableStats& s) { return to_numpy(s.counts); })
      .def_readonly("loglik", &TableStats::loglik)
      .def_readonly("total_weight", &TableStats::total_weight)
      .def("__add__", &add_table_stats, py::is_operator())
      .def(py::pickle([](const TableStats& s) { return py::make_tuple(to_numpy(s.counts), s.loglik, s.total_weight); },
                      [](const py::tuple& t) {
                        if (t.size() != 3) throw InvalidArgument("stats: expected a state of 3 entries");
                        return TableStats{to_vector(t[0].cast<DoubleArray>(), "counts"), t[1].cast<double>(),
                                          t[2].cast<double>()};
                      }));

  py::class_<ContingencyTable>(m, "ContingencyTableModel", "EM for an incomplete contingency table.")
      .def(py::init([](const std::vector<Index>& n_categories, const DoubleArray& probs) {
             return ContingencyTable(n_categories, Eigen::Map<const Vector>(probs.data(), probs.size()));
           }),
           py::arg("n_categories"), py::arg("probs"))
      .def_property_readonly("probs", [](const ContingencyTable& self) { return to_numpy(self.probs()); })
      .def_property_readonly("n_parameters", &ContingencyTable::n_parameters)
      .def("log_prior", &ContingencyTable::log_prior)
      .def(
          "fit",
          [](ContingencyTable& self, const CodeArray& X, const DoubleArray& sample_weight, int max_iter, double tol,
             int n_threads, std::function<bool(py::dict)> callback) {
            check_ndim(X, 2, "X");
            const FitOptions options = fit_options(max_iter, tol, n_threads, callback);
            Vector w = sample_weight_vector(sample_weight, X.shape(0));
            FitResult result;
            {
              py::gil_scoped_release release;
              result = fit_em(self, make_table_data(self, X, std::move(w)), options);
            }
            return fit_result_to_dict(result);
          },
          py::arg("X"), py::arg("sample_weight"), py::arg("max_iter"), py::arg("tol"), py::arg("n_threads") = 0,
          py::arg("callback") = nullptr)
      .def(
          "e_step",
          [](const ContingencyTable& self, const CodeArray& X, const DoubleArray& sample_weight, int n_threads) {
            check_ndim(X, 2, "X");
            Vector w = sample_weight_vector(sample_weight, X.shape(0));
            py::gil_scoped_release release;
            return self.e_step(make_table_data(self, X, std::move(w)), n_threads);
          },
          py::arg("X"), py::arg("sample_weight"), py::arg("n_threads") = 0)
      .def(
          "m_step",
          [](ContingencyTable& self, const TableStats& stats) {
            self.m_step(stats);
            return self.empty_states();
          },
          py::arg("stats"))
      .def(
          "score",
          [](const ContingencyTable& self, const CodeArray& X, int n_threads) {
            check_ndim(X, 2, "X");
            py::array_t<double> log_prob(X.shape(0));
            double* out = log_prob.mutable_data();
            {
              py::gil_scoped_release release;
              Eigen::Map<Vector> lp(out, X.shape(0));
              self.score(make_table_data(self, X, Vector()), n_threads, lp);
            }
            return log_prob;
          },
          py::arg("X"), py::arg("n_threads") = 0,
          "log P(the observed variables of each row) under the table (missing variables summed out).");

  def_mixture_methods<Model, CodeArray>(model, &make_data, [](const Model& self, const Stats& stats) {
    if (stats.emission.counts.cols() != self.emission().probs().cols())
      throw InvalidArgument("stats: shapes do not match the model");
  });
}

}  // namespace emkit::bindings
