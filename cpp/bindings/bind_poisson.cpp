// Bindings of the Poisson family's models: the Poisson mixture (PoissonMixtureModel, Mixture<Poisson>)
// and the Poisson HMM (PoissonHMMModel, HMM<Poisson>). X is (n, q) counts, NaN = missing; a count
// that is not a nonnegative integer is an error. The methods are mixture_methods.hpp's and
// hmm_methods.hpp's; the statistics (PoissonMixtureStats, PoissonHMMStats) add up and pickle, and
// refuse statistics computed at other rates.
#include "hmm_methods.hpp"

namespace emkit::bindings {
namespace {

// The statistics' own arrays (K × q): weight Σ r, sum Σ r (x − shift), shift = the rates they were
// computed at, over the rows observing each column.
template <class Stats>
void def_poisson_stats_arrays(py::class_<Stats>& cls) {
  cls.def_property_readonly("shift", [](const Stats& s) { return state_matrix(s.emission.shift); },
                            "The rates the statistics are centred on (K × q).")
      .def_property_readonly("weight", [](const Stats& s) { return state_matrix(s.emission.weight); },
                             "Σ r over the rows observing each column (K × q).")
      .def_property_readonly("sum", [](const Stats& s) { return state_matrix(s.emission.sum); },
                             "Σ r (x − shift) over the rows observing each column (K × q).");
}

using MixtureModel = Mixture<Poisson>;

MixtureModel make_mixture(const DoubleArray& weights, const DoubleArray& rates, double weight_concentration,
                          bool fixed_weights) {
  check_ndim(rates, 2, "rates");
  MixtureModel model(to_vector(weights, "weights"), Poisson(to_matrix(rates, rates.shape(0), rates.shape(1), "rates")),
                     weight_concentration);
  model.set_fixed_weights(fixed_weights);
  return model;
}

PoissonData poisson_data(const Poisson& p, const DoubleArray& X) {
  check_ndim(X, 2, "X");
  if (X.shape(1) != p.n_columns())
    throw InvalidArgument("X: expected " + std::to_string(p.n_columns()) + " columns, got " + std::to_string(X.shape(1)));
  return PoissonData(X.data(), X.shape(0), X.shape(1));
}

MixtureModel::Data make_mixture_data(const MixtureModel& model, const DoubleArray& X, Vector sample_weight) {
  return MixtureModel::Data{poisson_data(model.emission(), X), std::move(sample_weight)};
}

using HMMModel = HMM<Poisson>;

HMMModel make_hmm(const DoubleArray& startprob, const DoubleArray& transmat, const DoubleArray& rates,
                  const py::object& startprob_prior, const py::object& transmat_prior,
                  const std::vector<std::string>& fixed) {
  check_ndim(rates, 2, "rates");
  check_ndim(transmat, 2, "transmat");
  const Index K = rates.shape(0);
  Vector start_alpha;
  RowMatrix trans_alpha;
  chain_priors(startprob_prior, transmat_prior, K, start_alpha, trans_alpha);
  return HMMModel(to_vector(startprob, "startprob"), to_matrix(transmat, transmat.shape(0), transmat.shape(1), "transmat"),
                  Poisson(to_matrix(rates, K, rates.shape(1), "rates")), std::move(start_alpha), std::move(trans_alpha),
                  fixed);
}

HMMModel::Data make_hmm_data(const HMMModel& model, const DoubleArray& X, const LengthArray& lengths,
                             const DoubleArray& sample_weight) {
  return HMMModel::Data(poisson_data(model.emission(), X), offsets_of(lengths, X.shape(0)), weights_of(sample_weight));
}

}  // namespace

void bind_poisson(py::module_& m) {
  auto mixture_stats = def_mixture_stats<MixtureModel>(
      m, "PoissonMixtureStats",
      "Expected sufficient statistics of a Poisson mixture over a set of rows. They add up over chunks computed at "
      "the same rates; picklable.");
  def_poisson_stats_arrays(mixture_stats);

  py::class_<MixtureModel> mixture(m, "PoissonMixtureModel",
                                   "A mixture of independent Poisson count columns (rate per state and column; NaN "
                                   "= missing) with its E-step, M-step and EM driver.");
  mixture
      .def(py::init(&make_mixture), py::arg("weights"), py::arg("rates"), py::arg("weight_concentration") = 1.0,
           py::arg("fixed_weights") = false)
      .def_property_readonly("rates", [](const MixtureModel& self) { return state_matrix(self.emission().rates()); });
  def_mixture_sample_rows(mixture);
  def_mixture_methods<MixtureModel, DoubleArray>(mixture, &make_mixture_data,
                                                  [](const MixtureModel& self, const MixtureModel::Stats& stats) {
                                                    check_emission_stats(self.emission(), stats.emission);
                                                  });

  py::class_<HMMModel> hmm(m, "PoissonHMMModel",
                           "An HMM with independent Poisson count columns (rate per state and column; NaN = "
                           "missing).");
  hmm.def(py::init(&make_hmm), py::arg("startprob"), py::arg("transmat"), py::arg("rates"),
          py::arg("startprob_prior") = py::none(), py::arg("transmat_prior") = py::none(),
          py::arg("fixed") = std::vector<std::string>())
      .def_property_readonly("rates", [](const HMMModel& self) { return state_matrix(self.emission().rates()); });
  def_sample_rows(hmm);
  auto hmm_stats = def_hmm_methods<HMMModel, DoubleArray>(m, hmm, "PoissonHMMStats", &make_hmm_data);
  def_poisson_stats_arrays(hmm_stats);
}

}  // namespace emkit::bindings
