// The methods every HMM model binding shares (fit, e_step, m_step, seed_from_posteriors, posterior,
// score, viterbi, the chain's parameters) and its statistics class (additive, picklable), as
// mixture_methods.hpp does for the mixtures. Each model's binding only says how to build its parameters and its data view.
//
// Pickling: a statistics object's state is (start_counts, transition_counts, emission_counts,
// loglik, total_weight, [the family's arrays]); stats_state.hpp's emission_state /
// emission_from_state give the family's arrays, one overload per family, and its
// check_same_parameters / check_emission_stats refuse statistics computed at other parameters.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "stats_state.hpp"

namespace emkit::bindings {

using LengthArray = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>;

inline Index n_sequences(const LengthArray& lengths) { return lengths.size() ? static_cast<Index>(lengths.size()) : 1; }

inline std::vector<Index> offsets_of(const LengthArray& lengths, Index n_rows) {
  check_ndim(lengths, 1, "lengths");
  std::vector<Index> sizes(lengths.data(), lengths.data() + lengths.size());
  if (sizes.empty()) sizes.push_back(n_rows);
  return sequence_offsets(sizes, n_rows);
}

inline Vector weights_of(const DoubleArray& sample_weight) {
  Vector w;
  if (sample_weight.size()) w = to_vector(sample_weight, "sample_weight");
  return w;
}

inline void chain_priors(const py::object& startprob_prior, const py::object& transmat_prior, Index K, Vector& start_alpha,
                  RowMatrix& trans_alpha) {
  if (!startprob_prior.is_none()) start_alpha = to_vector(startprob_prior.cast<DoubleArray>(), "startprob_prior");
  if (!transmat_prior.is_none()) trans_alpha = to_matrix(transmat_prior.cast<DoubleArray>(), K, K, "transmat_prior");
}

inline py::array_t<double> matrix_to_numpy(const RowMatrix& m) { return to_numpy(m, {m.rows(), m.cols()}); }


template <class Stats>
py::tuple hmm_stats_state(const Stats& s) {
  const Index K = s.start_counts.size();
  return py::make_tuple(to_numpy(s.start_counts), to_numpy(s.transition_counts, {K, K}), to_numpy(s.emission_counts),
                        s.loglik, s.total_weight, emission_state(s.emission));
}

template <class Stats>
Stats hmm_stats_from_state(const py::tuple& t) {
  if (t.size() != 6) throw InvalidArgument("stats: expected a state of 6 entries");
  Stats s;
  s.start_counts = to_vector(t[0].cast<DoubleArray>(), "start_counts");
  const Index K = s.start_counts.size();
  s.transition_counts = to_matrix(t[1].cast<DoubleArray>(), K, K, "transition_counts");
  s.emission_counts = to_vector(t[2].cast<DoubleArray>(), "emission_counts");
  if (s.emission_counts.size() != K) throw InvalidArgument("stats state: emission_counts: expected K values");
  s.loglik = t[3].cast<double>();
  s.total_weight = t[4].cast<double>();
  emission_from_state(t[5].cast<py::list>(), s.emission);
  return s;
}

// sample(n, seed) -> (X (n, d), states): the chain and the family's draws in C++, for families
// emitting float rows (Gaussian, Gaussian mixture).
template <class Model>
void def_sample_rows(py::class_<Model>& cls) {
  cls.def(
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

// make_data(const Model&, const XArray& X, const LengthArray&, const DoubleArray& sample_weight)
// -> Model::Data, called without the GIL. Returns the statistics class (a binding may add the
// family's own properties to it).
template <class Model, class XArray, class MakeData>
py::class_<typename Model::Stats> def_hmm_methods(py::module_& m, py::class_<Model>& cls, const char* stats_name,
                                                  MakeData make_data) {
  using Stats = typename Model::Stats;
  py::class_<Stats> stats_class(m, stats_name,
                                "Expected sufficient statistics of an HMM over a set of whole sequences. They add "
                                "up: the statistics of two sets of sequences are the sum of their statistics.");
  stats_class
      .def_property_readonly("start_counts", [](const Stats& s) { return to_numpy(s.start_counts); },
                             "Expected number of sequences starting in each state (weighted).")
      .def_property_readonly("transition_counts", [](const Stats& s) { return matrix_to_numpy(s.transition_counts); },
                             "Expected number of transitions i -> j (weighted).")
      .def_property_readonly("emission_counts", [](const Stats& s) { return to_numpy(s.emission_counts); },
                             "Expected number of time steps with an observation per state (weighted).")
      .def_readonly("loglik", &Stats::loglik, "Log-likelihood of the sequences at the model's parameters.")
      .def_readonly("total_weight", &Stats::total_weight, "Sum over sequences of weight x length.")
      .def(
          "__add__", [](const Stats& a, const Stats& b) { return add_checked(a, b, &Stats::start_counts); },
          py::is_operator())
      .def(py::pickle(&hmm_stats_state<Stats>, &hmm_stats_from_state<Stats>));

  cls.def_property_readonly("startprob", [](const Model& self) { return to_numpy(self.startprob()); })
      .def_property_readonly("transmat", [](const Model& self) { return matrix_to_numpy(self.transmat()); })
      .def_property_readonly("startprob_prior", [](const Model& self) { return to_numpy(self.startprob_prior()); })
      .def_property_readonly("transmat_prior", [](const Model& self) { return matrix_to_numpy(self.transmat_prior()); })
      .def_property_readonly("fixed", [](const Model& self) {
        return std::vector<std::string>(self.fixed().begin(), self.fixed().end());
      })
      .def_property_readonly("n_parameters", &Model::n_parameters, "Free parameters (fixed groups excluded).")
      .def("log_prior", &Model::log_prior)
      .def(
          "fit",
          [make_data](Model& self, const XArray& X, const LengthArray& lengths, const DoubleArray& sample_weight,
                      int max_iter, double tol, int n_threads, std::function<bool(py::dict)> callback) {
            FitOptions options = fit_options(max_iter, tol, n_threads, callback);
            options.round_off = round_off_of(X);
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
          [make_data](const Model& self, const XArray& X, const LengthArray& lengths, const DoubleArray& sample_weight,
                      int n_threads) {
            py::gil_scoped_release release;
            const auto data = make_data(self, X, lengths, sample_weight);
            return self.e_step(data, n_threads);
          },
          py::arg("X"), py::arg("lengths"), py::arg("sample_weight"), py::arg("n_threads") = 0)
      .def(
          "m_step",
          [](Model& self, const Stats& stats) {
            if (stats.start_counts.size() != self.n_states())
              throw InvalidArgument("stats: shapes do not match the model");
            check_emission_stats(self.emission(), stats.emission);
            py::gil_scoped_release release;
            self.m_step(stats);
            return self.empty_states();
          },
          py::arg("stats"))
      .def(
          "seed_from_posteriors",
          [make_data](Model& self, const XArray& X, const LengthArray& lengths, const DoubleArray& sample_weight,
                      const DoubleArray& post, int n_threads) {
            check_ndim(X, 2, "X");
            check_ndim(post, 2, "posteriors");
            const Eigen::Map<const RowMatrix> p(post.data(), post.shape(0), post.shape(1));
            check_responsibilities(p, X.shape(0), self.n_states(), "posteriors");
            {
              py::gil_scoped_release release;
              const auto data = make_data(self, X, lengths, sample_weight);
              self.seed_from_posteriors(data, p, n_threads);
            }
            return self.empty_states();
          },
          py::arg("X"), py::arg("lengths"), py::arg("sample_weight"), py::arg("posteriors"), py::arg("n_threads") = 0,
          "The emission family's M-step from the given state posteriors (n, K) instead of an E-step's; "
          "the chain's parameters are untouched. Returns the states that were empty.")
      .def(
          "posterior",
          [make_data](const Model& self, const XArray& X, const LengthArray& lengths, int n_threads) {
            check_ndim(X, 2, "X");
            const Index n = X.shape(0), K = self.n_states();
            py::array_t<double> log_post({n, K});
            py::array_t<double> log_prob(n_sequences(lengths));
            double* post_data = log_post.mutable_data();
            double* lp_data = log_prob.mutable_data();
            const DoubleArray no_weights(0);
            {
              py::gil_scoped_release release;
              const auto data = make_data(self, X, lengths, no_weights);
              Eigen::Map<RowMatrix> p(post_data, n, K);
              Eigen::Map<Vector> lp(lp_data, data.n_sequences());
              self.posterior(data, n_threads, p, lp);
            }
            return py::make_tuple(log_post, log_prob);
          },
          py::arg("X"), py::arg("lengths"), py::arg("n_threads") = 0,
          "(log p(z_t = k | x_s) per row, log p(x_s) per sequence) by forward-backward: the mixtures' "
          "convention (log responsibilities, log-likelihoods).")
      .def(
          "score",
          [make_data](const Model& self, const XArray& X, const LengthArray& lengths, int n_threads) {
            py::array_t<double> log_prob(n_sequences(lengths));
            double* lp_data = log_prob.mutable_data();
            const DoubleArray no_weights(0);
            {
              py::gil_scoped_release release;
              const auto data = make_data(self, X, lengths, no_weights);
              Eigen::Map<Vector> lp(lp_data, data.n_sequences());
              self.score(data, n_threads, lp);
            }
            return log_prob;
          },
          py::arg("X"), py::arg("lengths"), py::arg("n_threads") = 0, "log p(x_s) per sequence.")
      .def(
          "viterbi",
          [make_data](const Model& self, const XArray& X, const LengthArray& lengths, int n_threads) {
            check_ndim(X, 2, "X");
            const Index n = X.shape(0);
            py::array_t<int> states(n);
            py::array_t<double> log_prob(n_sequences(lengths));
            int* z_data = states.mutable_data();
            double* lp_data = log_prob.mutable_data();
            const DoubleArray no_weights(0);
            {
              py::gil_scoped_release release;
              const auto data = make_data(self, X, lengths, no_weights);
              Eigen::Map<Eigen::VectorXi> z(z_data, n);
              Eigen::Map<Vector> lp(lp_data, data.n_sequences());
              self.viterbi(data, n_threads, z, lp);
            }
            return py::make_tuple(log_prob, states);
          },
          py::arg("X"), py::arg("lengths"), py::arg("n_threads") = 0,
          "(log p(x_s, z*_s) per sequence, the most probable state path z* per row).");
  return stats_class;
}

}  // namespace emkit::bindings
