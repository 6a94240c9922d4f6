// The methods every Mixture model binding shares: fit (the EM driver with a Python callback),
// e_step, m_step, seed_from_responsibilities, posterior, log_prior. One template so that each model's binding only says how
// to build its parameters and its data view.
#pragma once

#include <random>

#include "pybind.hpp"

namespace emkit::bindings {

inline py::dict fit_result_to_dict(const FitResult& r) {
  py::dict out;
  out["converged"] = r.converged;
  out["n_iter"] = r.n_iter;
  out["history"] = r.history;
  out["loglik"] = r.loglik;
  out["seconds"] = r.seconds;
  out["decreases"] = r.decreases;
  out["empty_states"] = r.empty_states;
  out["stopped_by_callback"] = r.stopped_by_callback;
  return out;
}

inline FitOptions fit_options(int max_iter, double tol, int n_threads,
                              const std::function<bool(py::dict)>& callback) {
  FitOptions options;
  options.max_iter = max_iter;
  options.tol = tol;
  options.n_threads = n_threads;
  if (callback) {
    options.callback = [callback](const IterationInfo& info) {
      py::gil_scoped_acquire acquire;
      py::dict d;
      d["iteration"] = info.iteration;
      d["objective"] = info.objective;
      d["loglik"] = info.loglik;
      d["change"] = info.change;
      d["seconds"] = info.seconds;
      return callback(d);
    };
  }
  return options;
}

// The sample weights of n_rows rows (empty = all one), checked before any work.
inline Vector sample_weight_vector(const DoubleArray& sample_weight, Index n_rows) {
  Vector w;
  if (sample_weight.size()) {
    w = to_vector(sample_weight, "sample_weight");
    if (w.size() != n_rows) throw InvalidArgument("sample_weight: expected " + std::to_string(n_rows) + " values");
  }
  return w;
}

// make_data(const Model&, const XArray&, const Vector& sample_weight) -> Model::Data, called
// without the GIL (it must only read the arrays). check_stats(const Model&, const Stats&) throws
// when statistics were computed at other parameters.
template <class Model, class XArray, class MakeData, class CheckStats>
void def_mixture_methods(py::class_<Model>& cls, MakeData make_data, CheckStats check_stats) {
  using Stats = typename Model::Stats;
  auto weights_of = [](const XArray& X, const DoubleArray& sample_weight) {
    return sample_weight_vector(sample_weight, X.shape(0));
  };
  cls.def_property_readonly("weights", [](const Model& self) { return to_numpy(self.weights()); })
      .def_property_readonly("n_parameters", &Model::n_parameters, "Free parameters (fixed groups excluded).")
      .def(
          "set_fixed", [](Model& self, const std::vector<std::string>& fixed) {
            self.set_fixed(FixedGroups(fixed.begin(), fixed.end()));
          },
          py::arg("fixed"), "Holds the named parameter groups at their current values while fitting.")
      .def_property_readonly("fixed", [](const Model& self) {
        return std::vector<std::string>(self.fixed().begin(), self.fixed().end());
      })
      .def("log_prior", &Model::log_prior)
      .def(
          "fit",
          [make_data, weights_of](Model& self, const XArray& X, const DoubleArray& sample_weight, int max_iter,
                                  double tol, int n_threads, std::function<bool(py::dict)> callback) {
            check_ndim(X, 2, "X");
            FitOptions options = fit_options(max_iter, tol, n_threads, callback);
            options.round_off = round_off_of(X);
            Vector w = weights_of(X, sample_weight);
            FitResult result;
            {
              py::gil_scoped_release release;
              const auto data = make_data(self, X, std::move(w));
              result = fit_em(self, data, options);
            }
            return fit_result_to_dict(result);
          },
          py::arg("X"), py::arg("sample_weight"), py::arg("max_iter"), py::arg("tol"), py::arg("n_threads") = 0,
          py::arg("callback") = nullptr, "Runs EM from the current parameters; returns the monitor's record.")
      .def(
          "e_step",
          [make_data, weights_of](const Model& self, const XArray& X, const DoubleArray& sample_weight,
                                  int n_threads) {
            check_ndim(X, 2, "X");
            Vector w = weights_of(X, sample_weight);
            py::gil_scoped_release release;
            const auto data = make_data(self, X, std::move(w));
            return self.e_step(data, n_threads);
          },
          py::arg("X"), py::arg("sample_weight"), py::arg("n_threads") = 0)
      .def(
          "m_step",
          [check_stats](Model& self, const Stats& stats) {
            if (stats.resp_sum.size() != self.n_states())
              throw InvalidArgument("stats: number of states does not match the model");
            check_stats(self, stats);
            py::gil_scoped_release release;
            self.m_step(stats);
            return self.empty_states();
          },
          py::arg("stats"))
      .def(
          "seed_from_responsibilities",
          [make_data, weights_of](Model& self, const XArray& X, const DoubleArray& sample_weight,
                                  const DoubleArray& resp, int n_threads) {
            check_ndim(X, 2, "X");
            check_ndim(resp, 2, "resp");
            Vector w = weights_of(X, sample_weight);
            const Index n = X.shape(0), K = self.n_states();
            const Eigen::Map<const RowMatrix> r(resp.data(), resp.shape(0), resp.shape(1));
            check_responsibilities(r, n, K);
            {
              py::gil_scoped_release release;
              const auto data = make_data(self, X, std::move(w));
              self.m_step(self.stats_from_responsibilities(data, r, n_threads));
            }
            return self.empty_states();
          },
          py::arg("X"), py::arg("sample_weight"), py::arg("resp"), py::arg("n_threads") = 0,
          "The M-step from the given responsibilities (n, K) instead of an E-step's: the family's "
          "accumulate with them (each row scaled by its sample weight), then its maximize. Seeds a model "
          "from an assignment; returns the states that were empty.")
      .def(
          "posterior",
          [make_data](const Model& self, const XArray& X, int n_threads) {
            check_ndim(X, 2, "X");
            const Index n = X.shape(0), K = self.n_states();
            py::array_t<double> log_resp({n, K});
            py::array_t<double> log_prob(n);
            double* lr_data = log_resp.mutable_data();
            double* lp_data = log_prob.mutable_data();
            {
              py::gil_scoped_release release;
              const auto data = make_data(self, X, Vector());
              Eigen::Map<RowMatrix> lr(lr_data, n, K);
              Eigen::Map<Vector> lp(lp_data, n);
              self.posterior(data, n_threads, lr, lp);
            }
            return py::make_tuple(log_resp, log_prob);
          },
          py::arg("X"), py::arg("n_threads") = 0,
          "(log p(z=k | x_i), log p(x_i)) for every row; missing entries are integrated out.");
}

// sample(n, seed) -> (X (n, d), states): the states from the weights, the rows from the family, for
// families emitting float rows (n_features() columns; sample(k, rng, row)).
template <class Model>
void def_mixture_sample_rows(py::class_<Model>& cls) {
  cls.def(
      "sample",
      [](const Model& self, Index n, std::uint64_t seed) {
        const Index d = self.emission().n_features();
        RowMatrix X(n, d);
        Eigen::VectorXi states(n);
        std::mt19937_64 rng(seed);
        Vector row(d);
        self.sample(n, rng, states, [&](Index i, int k, std::mt19937_64& g) {
          self.emission().sample(k, g, row);
          X.row(i) = row.transpose();
        });
        py::array_t<int> labels(n);
        std::copy(states.data(), states.data() + n, labels.mutable_data());
        return py::make_tuple(to_numpy(X, {n, d}), labels);
      },
      py::arg("n"), py::arg("seed"));
}

}  // namespace emkit::bindings
