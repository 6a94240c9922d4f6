// Bindings of the HMM over the Categorical family (CategoricalHMMModel) and over the Product
// family (ProductHMMModel: categorical, normal and Poisson items). Sequences are given as the
// concatenated rows X and their lengths; sample weights are per sequence. The methods both share
// (fit, e_step, m_step, posterior, score, viterbi and the chain's parameters) are one template.
#include <cstdint>
#include <memory>

#include "mixture_methods.hpp"

namespace emkit::bindings {
namespace {

using LengthArray = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>;
using CodeArray = py::array_t<std::int32_t, py::array::c_style | py::array::forcecast>;

Index n_sequences(const LengthArray& lengths) { return lengths.size() ? static_cast<Index>(lengths.size()) : 1; }

std::vector<Index> offsets_of(const LengthArray& lengths, Index n_rows) {
  check_ndim(lengths, 1, "lengths");
  std::vector<Index> sizes(lengths.data(), lengths.data() + lengths.size());
  if (sizes.empty()) sizes.push_back(n_rows);
  return sequence_offsets(sizes, n_rows);
}

Vector weights_of(const DoubleArray& sample_weight) {
  Vector w;
  if (sample_weight.size()) w = to_vector(sample_weight, "sample_weight");
  return w;
}

void chain_priors(const py::object& startprob_prior, const py::object& transmat_prior, Index K, Vector& start_alpha,
                  RowMatrix& trans_alpha) {
  if (!startprob_prior.is_none()) start_alpha = to_vector(startprob_prior.cast<DoubleArray>(), "startprob_prior");
  if (!transmat_prior.is_none()) trans_alpha = to_matrix(transmat_prior.cast<DoubleArray>(), K, K, "transmat_prior");
}

py::array_t<double> matrix_to_numpy(const RowMatrix& m) { return to_numpy(m, {m.rows(), m.cols()}); }

// make_data(const Model&, const XArray& X, const LengthArray&, const DoubleArray& sample_weight)
// -> Model::Data, called without the GIL.
template <class Model, class XArray, class MakeData>
void def_hmm_methods(py::module_& m, py::class_<Model>& cls, const char* stats_name, MakeData make_data) {
  using Stats = typename Model::Stats;
  py::class_<Stats>(m, stats_name,
                    "Expected sufficient statistics of an HMM over a set of whole sequences. They add up: the "
                    "statistics of two sets of sequences are the sum of their statistics.")
      .def_property_readonly("start_counts", [](const Stats& s) { return to_numpy(s.start_counts); })
      .def_property_readonly("transition_counts", [](const Stats& s) { return matrix_to_numpy(s.transition_counts); })
      .def_property_readonly("emission_counts", [](const Stats& s) { return to_numpy(s.emission_counts); })
      .def_readonly("loglik", &Stats::loglik)
      .def_readonly("total_weight", &Stats::total_weight)
      .def(
          "__add__",
          [](const Stats& a, const Stats& b) {
            if (a.start_counts.size() != b.start_counts.size())
              throw InvalidArgument("stats: cannot add statistics of models of different shapes");
            Stats out = a;
            out += b;
            return out;
          },
          py::is_operator());

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
            const FitOptions options = fit_options(max_iter, tol, n_threads, callback);
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
            py::gil_scoped_release release;
            self.m_step(stats);
            return self.empty_states();
          },
          py::arg("stats"))
      .def(
          "posterior",
          [make_data](const Model& self, const XArray& X, const LengthArray& lengths, int n_threads) {
            check_ndim(X, 2, "X");
            const Index n = X.shape(0), K = self.n_states();
            py::array_t<double> post({n, K});
            py::array_t<double> log_prob(n_sequences(lengths));
            double* post_data = post.mutable_data();
            double* lp_data = log_prob.mutable_data();
            const DoubleArray no_weights(0);
            {
              py::gil_scoped_release release;
              const auto data = make_data(self, X, lengths, no_weights);
              Eigen::Map<RowMatrix> p(post_data, n, K);
              Eigen::Map<Vector> lp(lp_data, data.n_sequences());
              self.posterior(data, n_threads, p, lp);
            }
            return py::make_tuple(log_prob, post);
          },
          py::arg("X"), py::arg("lengths"), py::arg("n_threads") = 0)
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
          py::arg("X"), py::arg("lengths"), py::arg("n_threads") = 0)
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
          py::arg("X"), py::arg("lengths"), py::arg("n_threads") = 0);
}

// ---------------------------------------------------------------------------------- Categorical
using CatModel = HMM<Categorical>;

CatModel make_categorical(const DoubleArray& startprob, const DoubleArray& transmat,
                          const std::vector<Index>& n_categories, const DoubleArray& probs,
                          const py::object& concentration, const py::object& startprob_prior,
                          const py::object& transmat_prior, const std::vector<std::string>& fixed) {
  check_ndim(probs, 2, "emissionprob");
  check_ndim(transmat, 2, "transmat");
  const Index K = probs.shape(0);
  std::optional<double> beta;
  if (!concentration.is_none()) beta = concentration.cast<double>();
  Vector start_alpha;
  RowMatrix trans_alpha;
  chain_priors(startprob_prior, transmat_prior, K, start_alpha, trans_alpha);
  return CatModel(to_vector(startprob, "startprob"), to_matrix(transmat, transmat.shape(0), transmat.shape(1), "transmat"),
                  Categorical(n_categories, to_matrix(probs, K, probs.shape(1), "emissionprob"), beta),
                  std::move(start_alpha), std::move(trans_alpha), fixed);
}

// Codes are checked here (negative = missing; each below its item's number of categories).
CatModel::Data make_categorical_data(const CatModel& model, const CodeArray& X, const LengthArray& lengths,
                                     const DoubleArray& sample_weight) {
  check_ndim(X, 2, "X");
  const auto& c = model.emission();
  if (X.shape(1) != c.n_items())
    throw InvalidArgument("X: expected " + std::to_string(c.n_items()) + " features, got " + std::to_string(X.shape(1)));
  const Index n = X.shape(0), J = X.shape(1);
  const std::int32_t* codes = X.data();
  for (Index i = 0; i < n; ++i)
    for (Index j = 0; j < J; ++j)
      if (codes[i * J + j] >= c.n_categories()[static_cast<size_t>(j)])
        throw InvalidArgument("X: code " + std::to_string(codes[i * J + j]) + " of feature " + std::to_string(j) +
                              " in row " + std::to_string(i) + " is >= its number of categories " +
                              std::to_string(c.n_categories()[static_cast<size_t>(j)]));
  return CatModel::Data(CategoricalData(codes, n, J), offsets_of(lengths, n), weights_of(sample_weight));
}

// ---------------------------------------------------------------------------------- Product
using ProdModel = HMM<Product>;

struct SplitColumns {
  CodeMatrix codes;
  RowMatrix normal;
  RowMatrix poisson;
};

ProdModel make_product(const DoubleArray& startprob, const DoubleArray& transmat, const py::object& probs,
                       const std::vector<Index>& n_categories, const DoubleArray& means, const DoubleArray& variances,
                       const DoubleArray& rates, const py::object& concentration, double reg_covar,
                       const py::object& startprob_prior, const py::object& transmat_prior,
                       const std::vector<std::string>& fixed) {
  const Vector start = to_vector(startprob, "startprob");
  const Index K = start.size();
  std::optional<Categorical> categorical;
  if (!n_categories.empty()) {
    const auto p = probs.cast<DoubleArray>();
    check_ndim(p, 2, "emissionprob");
    std::optional<double> beta;
    if (!concentration.is_none()) beta = concentration.cast<double>();
    categorical.emplace(n_categories, to_matrix(p, p.shape(0), p.shape(1), "emissionprob"), beta);
  }
  check_ndim(means, 2, "means");
  check_ndim(rates, 2, "rates");
  check_ndim(transmat, 2, "transmat");
  const Index qn = means.shape(1), qp = rates.shape(1);
  IndependentItems normal(IndependentItems::Kind::Normal, to_matrix(means, qn ? K : 0, qn, "means"),
                          to_matrix(variances, qn ? K : 0, qn, "variances"), reg_covar);
  IndependentItems poisson(IndependentItems::Kind::Poisson, to_matrix(rates, qp ? K : 0, qp, "rates"), RowMatrix(),
                           reg_covar);
  Vector start_alpha;
  RowMatrix trans_alpha;
  chain_priors(startprob_prior, transmat_prior, K, start_alpha, trans_alpha);
  return ProdModel(start, to_matrix(transmat, transmat.shape(0), transmat.shape(1), "transmat"),
                   Product(std::move(categorical), std::move(normal), std::move(poisson)), std::move(start_alpha),
                   std::move(trans_alpha), fixed);
}

// X: columns [categorical codes | continuous | counts], NaN = missing (one copy, split by part).
ProdModel::Data make_product_data(const ProdModel& model, const DoubleArray& X, const LengthArray& lengths,
                                  const DoubleArray& sample_weight) {
  check_ndim(X, 2, "X");
  const auto& e = model.emission();
  const Index qc = e.categorical() ? e.categorical()->n_items() : 0, qn = e.normal().n_columns(),
              qp = e.poisson().n_columns();
  if (X.shape(1) != qc + qn + qp)
    throw InvalidArgument("X: expected " + std::to_string(qc + qn + qp) + " columns, got " + std::to_string(X.shape(1)));
  const Index n = X.shape(0);
  const Eigen::Map<const RowMatrix> all(X.data(), n, qc + qn + qp);
  auto split = std::make_shared<SplitColumns>();
  split->codes.resize(n, qc);
  for (Index i = 0; i < n; ++i)
    for (Index j = 0; j < qc; ++j) {
      const double v = all(i, j);
      const std::int32_t code = std::isnan(v) || v < 0 ? -1 : static_cast<std::int32_t>(v);
      if (code >= e.categorical()->n_categories()[static_cast<size_t>(j)])
        throw InvalidArgument("X: code " + std::to_string(code) + " of categorical column " + std::to_string(j) +
                              " in row " + std::to_string(i) + " is >= its number of categories");
      split->codes(i, j) = code;
    }
  split->normal = all.middleCols(qc, qn);
  split->poisson = all.middleCols(qc + qn, qp);
  ProductData data{CategoricalData(split->codes.data(), n, qc), Eigen::Map<const RowMatrix>(split->normal.data(), n, qn),
                   Eigen::Map<const RowMatrix>(split->poisson.data(), n, qp), split};
  return ProdModel::Data(std::move(data), offsets_of(lengths, n), weights_of(sample_weight));
}

}  // namespace

void bind_hmm_discrete(py::module_& m) {
  py::class_<CatModel> cat(m, "CategoricalHMMModel",
                           "An HMM with categorical emissions (one or several features, each with its own "
                           "alphabet; negative codes = missing).");
  cat.def(py::init(&make_categorical), py::arg("startprob"), py::arg("transmat"), py::arg("n_categories"),
          py::arg("emissionprob"), py::arg("concentration") = py::none(), py::arg("startprob_prior") = py::none(),
          py::arg("transmat_prior") = py::none(), py::arg("fixed") = std::vector<std::string>())
      .def_property_readonly("emissionprob", [](const CatModel& self) { return matrix_to_numpy(self.emission().probs()); })
      .def_property_readonly("n_categories", [](const CatModel& self) { return self.emission().n_categories(); });
  def_hmm_methods<CatModel, CodeArray>(m, cat, "CategoricalHMMStats", &make_categorical_data);

  py::class_<ProdModel> prod(m, "ProductHMMModel",
                             "An HMM whose emissions are a product of categorical, normal and Poisson items.");
  prod.def(py::init(&make_product), py::arg("startprob"), py::arg("transmat"), py::arg("emissionprob"),
           py::arg("n_categories"), py::arg("means"), py::arg("variances"), py::arg("rates"),
           py::arg("concentration") = py::none(), py::arg("reg_covar") = 1e-6,
           py::arg("startprob_prior") = py::none(), py::arg("transmat_prior") = py::none(),
           py::arg("fixed") = std::vector<std::string>())
      .def_property_readonly("emissionprob",
                             [](const ProdModel& self) -> py::object {
                               if (!self.emission().categorical()) return py::none();
                               return matrix_to_numpy(self.emission().categorical()->probs());
                             })
      .def_property_readonly("means", [](const ProdModel& self) { return matrix_to_numpy(self.emission().normal().location()); })
      .def_property_readonly("variances",
                             [](const ProdModel& self) { return matrix_to_numpy(self.emission().normal().variance()); })
      .def_property_readonly("rates", [](const ProdModel& self) { return matrix_to_numpy(self.emission().poisson().location()); });
  def_hmm_methods<ProdModel, DoubleArray>(m, prod, "ProductHMMStats", &make_product_data);
}

}  // namespace emkit::bindings
