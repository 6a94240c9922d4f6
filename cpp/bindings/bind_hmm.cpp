// Bindings of the Gaussian HMM: the model object (fit, e_step, m_step, posterior, viterbi, score,
// sample) and its additive sufficient statistics. Sequences are given as the concatenated rows X
// and their lengths; sample weights are per sequence.
#include <cstdint>

#include "gaussian_common.hpp"

namespace emkit::bindings {
namespace {

using Model = HMM<Gaussian>;
using Stats = Model::Stats;
using LengthArray = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>;

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
  if (!startprob_prior.is_none()) start_alpha = to_vector(startprob_prior.cast<DoubleArray>(), "startprob_prior");
  if (!transmat_prior.is_none()) trans_alpha = to_matrix(transmat_prior.cast<DoubleArray>(), K, K, "transmat_prior");
  return Model(to_vector(startprob, "startprob"), to_matrix(transmat, transmat.shape(0), transmat.shape(1), "transmat"),
               Gaussian(type, to_matrix(means, K, d, "means"), std::move(cov), reg_covar, parse_prior(prior, type, d)),
               std::move(start_alpha), std::move(trans_alpha), fixed);
}

// The dataset view: X must stay alive (it is held by the caller's py::array) while data is used.
// Rows with nothing observed are accepted (the chain advances through them).
Model::Data make_data(const Model& model, const DoubleArray& X, const LengthArray& lengths,
                      const DoubleArray& sample_weight) {
  check_ndim(X, 2, "X");
  if (X.shape(1) != model.emission().n_features())
    throw InvalidArgument("X: expected " + std::to_string(model.emission().n_features()) + " features, got " +
                          std::to_string(X.shape(1)));
  check_ndim(lengths, 1, "lengths");
  std::vector<Index> sizes(lengths.data(), lengths.data() + lengths.size());
  if (sizes.empty()) sizes.push_back(X.shape(0));  // no lengths: one sequence
  std::vector<Index> offsets = sequence_offsets(sizes, X.shape(0));
  Vector w;
  if (sample_weight.size()) w = to_vector(sample_weight, "sample_weight");
  return Model::Data(GaussianData(X.data(), X.shape(0), X.shape(1), /*allow_unobserved_rows=*/true),
                     std::move(offsets), std::move(w));
}

py::tuple stats_state(const Stats& s) {
  const Index K = s.start_counts.size(), d = s.emission.shift.cols();
  return py::make_tuple(to_numpy(s.start_counts), to_numpy(s.transition_counts, {K, K}), to_numpy(s.emission_counts),
                        s.loglik, s.total_weight, to_numpy(s.emission.shift, {K, d}), to_numpy(s.emission.sum, {K, d}),
                        to_numpy(s.emission.scatter, {K, s.emission.scatter.cols()}));
}

Stats stats_from_state(const py::tuple& t) {
  if (t.size() != 8) throw InvalidArgument("stats: expected a state of 8 entries");
  Stats s;
  s.start_counts = to_vector(t[0].cast<DoubleArray>(), "start_counts");
  const Index K = s.start_counts.size();
  s.transition_counts = to_matrix(t[1].cast<DoubleArray>(), K, K, "transition_counts");
  s.emission_counts = to_vector(t[2].cast<DoubleArray>(), "emission_counts");
  s.loglik = t[3].cast<double>();
  s.total_weight = t[4].cast<double>();
  const auto shift = t[5].cast<DoubleArray>(), sum = t[6].cast<DoubleArray>(), scatter = t[7].cast<DoubleArray>();
  check_ndim(shift, 2, "shift");
  check_ndim(scatter, 2, "scatter");
  s.emission.shift = to_matrix(shift, shift.shape(0), shift.shape(1), "shift");
  s.emission.sum = to_matrix(sum, shift.shape(0), shift.shape(1), "sum");
  s.emission.scatter = to_matrix(scatter, scatter.shape(0), scatter.shape(1), "scatter");
  return s;
}

Stats add_stats(const Stats& a, const Stats& b) {
  if (a.start_counts.size() != b.start_counts.size() || a.emission.scatter.cols() != b.emission.scatter.cols() ||
      a.emission.shift.cols() != b.emission.shift.cols())
    throw InvalidArgument("stats: cannot add statistics of models of different shapes");
  if (a.emission.shift != b.emission.shift)
    throw InvalidArgument("stats: cannot add statistics computed at different parameters "
                          "(their shifts differ); compute every chunk's e_step with the same model");
  Stats out = a;
  out += b;
  return out;
}

py::array_t<double> matrix_to_numpy(const RowMatrix& m) { return to_numpy(m, {m.rows(), m.cols()}); }

// Number of sequences described by lengths (none given: one).
Index n_sequences(const LengthArray& lengths) { return lengths.size() ? static_cast<Index>(lengths.size()) : 1; }

}  // namespace

void bind_hmm(py::module_& m) {
  py::class_<Stats>(m, "GaussianHMMStats",
                    "Expected sufficient statistics of a Gaussian HMM over a set of whole sequences. They "
                    "add up: the statistics of two sets of sequences are the sum of their statistics.")
      .def_property_readonly("start_counts", [](const Stats& s) { return to_numpy(s.start_counts); },
                             "Expected number of sequences starting in each state (weighted).")
      .def_property_readonly("transition_counts", [](const Stats& s) { return matrix_to_numpy(s.transition_counts); },
                             "Expected number of transitions i -> j (weighted).")
      .def_property_readonly("emission_counts", [](const Stats& s) { return to_numpy(s.emission_counts); },
                             "Expected number of time steps with an observation per state (weighted).")
      .def_readonly("loglik", &Stats::loglik, "Log-likelihood of the sequences at the model's parameters.")
      .def_readonly("total_weight", &Stats::total_weight, "Sum over sequences of weight x length.")
      .def_property_readonly("shift", [](const Stats& s) { return matrix_to_numpy(s.emission.shift); })
      .def_property_readonly("sum", [](const Stats& s) { return matrix_to_numpy(s.emission.sum); })
      .def_property_readonly("scatter", [](const Stats& s) { return matrix_to_numpy(s.emission.scatter); })
      .def("__add__", &add_stats, py::is_operator())
      .def(py::pickle(&stats_state, &stats_from_state));

  py::class_<Model>(m, "GaussianHMMModel",
                    "A Gaussian HMM's parameters with its E-step, M-step, EM driver and decoders.")
      .def(py::init(&make_model), py::arg("startprob"), py::arg("transmat"), py::arg("means"),
           py::arg("covariances"), py::arg("covariance_type"), py::arg("reg_covar") = 1e-6,
           py::arg("prior") = py::none(), py::arg("startprob_prior") = py::none(),
           py::arg("transmat_prior") = py::none(), py::arg("fixed") = std::vector<std::string>())
      .def_property_readonly("startprob", [](const Model& self) { return to_numpy(self.startprob()); })
      .def_property_readonly("transmat", [](const Model& self) { return matrix_to_numpy(self.transmat()); })
      .def_property_readonly("means", [](const Model& self) { return matrix_to_numpy(self.emission().means()); })
      .def_property_readonly("covariances", [](const Model& self) {
        const auto& g = self.emission();
        return to_numpy(g.covariances(), covariance_shape(g.covariance_type(), g.n_states(), g.n_features()));
      })
      .def_property_readonly("covariance_type",
                             [](const Model& self) { return covariance_type_name(self.emission().covariance_type()); })
      .def_property_readonly("startprob_prior", [](const Model& self) { return to_numpy(self.startprob_prior()); })
      .def_property_readonly("transmat_prior", [](const Model& self) { return matrix_to_numpy(self.transmat_prior()); })
      .def_property_readonly("fixed", [](const Model& self) {
        return std::vector<std::string>(self.fixed().begin(), self.fixed().end());
      })
      .def_property_readonly("n_parameters", &Model::n_parameters, "Free parameters (fixed groups excluded).")
      .def("log_prior", &Model::log_prior)
      .def(
          "fit",
          [](Model& self, const DoubleArray& X, const LengthArray& lengths, const DoubleArray& sample_weight,
             int max_iter, double tol, int n_threads, std::function<bool(py::dict)> callback) {
            FitOptions options;
            options.max_iter = max_iter;
            options.tol = tol;
            options.n_threads = n_threads;
            if (callback) options.callback = fit_options(max_iter, tol, n_threads, callback).callback;
            FitResult result;
            {
              py::gil_scoped_release release;
              const auto data = make_data(self, X, lengths, sample_weight);
              result = fit_em(self, data, options);
            }
            return fit_result_to_dict(result);
          },
          py::arg("X"), py::arg("lengths"), py::arg("sample_weight"), py::arg("max_iter"), py::arg("tol"),
          py::arg("n_threads") = 0, py::arg("callback") = nullptr,
          "Runs EM from the current parameters; returns the monitor's record.")
      .def(
          "e_step",
          [](const Model& self, const DoubleArray& X, const LengthArray& lengths, const DoubleArray& sample_weight,
             int n_threads) {
            py::gil_scoped_release release;
            const auto data = make_data(self, X, lengths, sample_weight);
            return self.e_step(data, n_threads);
          },
          py::arg("X"), py::arg("lengths"), py::arg("sample_weight"), py::arg("n_threads") = 0)
      .def(
          "m_step",
          [](Model& self, const Stats& stats) {
            const auto& g = self.emission();
            if (stats.start_counts.size() != self.n_states() || stats.emission.shift.cols() != g.n_features() ||
                stats.emission.shift.rows() != g.n_states())
              throw InvalidArgument("stats: shapes do not match the model");
            if (stats.emission.shift != g.statistics_shift())
              throw InvalidArgument("stats: computed at other parameters than the model's current ones");
            py::gil_scoped_release release;
            self.m_step(stats);
            return self.empty_states();
          },
          py::arg("stats"))
      .def(
          "posterior",
          [](const Model& self, const DoubleArray& X, const LengthArray& lengths, int n_threads) {
            check_ndim(X, 2, "X");
            const Index n = X.shape(0), K = self.n_states();
            py::array_t<double> post({n, K});
            py::array_t<double> log_prob(n_sequences(lengths));
            const DoubleArray no_weights(0);
            {
              py::gil_scoped_release release;
              const auto data = make_data(self, X, lengths, no_weights);
              Eigen::Map<RowMatrix> p(post.mutable_data(), n, K);
              Eigen::Map<Vector> lp(log_prob.mutable_data(), data.n_sequences());
              self.posterior(data, n_threads, p, lp);
            }
            return py::make_tuple(log_prob, post);
          },
          py::arg("X"), py::arg("lengths"), py::arg("n_threads") = 0,
          "(log p(x_s) per sequence, p(z_t = k | x_s) per row) by forward-backward.")
      .def(
          "score",
          [](const Model& self, const DoubleArray& X, const LengthArray& lengths, int n_threads) {
            py::array_t<double> log_prob(n_sequences(lengths));
            const DoubleArray no_weights(0);
            {
              py::gil_scoped_release release;
              const auto data = make_data(self, X, lengths, no_weights);
              Eigen::Map<Vector> lp(log_prob.mutable_data(), data.n_sequences());
              self.score(data, n_threads, lp);
            }
            return log_prob;
          },
          py::arg("X"), py::arg("lengths"), py::arg("n_threads") = 0, "log p(x_s) per sequence.")
      .def(
          "viterbi",
          [](const Model& self, const DoubleArray& X, const LengthArray& lengths, int n_threads) {
            check_ndim(X, 2, "X");
            const Index n = X.shape(0);
            py::array_t<int> states(n);
            py::array_t<double> log_prob(n_sequences(lengths));
            const DoubleArray no_weights(0);
            {
              py::gil_scoped_release release;
              const auto data = make_data(self, X, lengths, no_weights);
              Eigen::Map<Eigen::VectorXi> z(states.mutable_data(), n);
              Eigen::Map<Vector> lp(log_prob.mutable_data(), data.n_sequences());
              self.viterbi(data, n_threads, z, lp);
            }
            return py::make_tuple(log_prob, states);
          },
          py::arg("X"), py::arg("lengths"), py::arg("n_threads") = 0,
          "(log p(x_s, z*_s) per sequence, the most probable state path z* per row).")
      .def(
          "sample",
          [](const Model& self, Index n, std::uint64_t seed) {
            if (n < 1) throw InvalidArgument("n_samples: expected a value >= 1");
            const Index d = self.emission().n_features();
            RowMatrix X(n, d);
            Eigen::VectorXi states(n);
            {
              py::gil_scoped_release release;
              std::mt19937_64 rng(seed);
              self.sample(n, rng, X, states);
            }
            py::array_t<int> labels(n);
            std::copy(states.data(), states.data() + n, labels.mutable_data());
            return py::make_tuple(to_numpy(X, {n, d}), labels);
          },
          py::arg("n"), py::arg("seed"));
}

}  // namespace emkit::bindings
