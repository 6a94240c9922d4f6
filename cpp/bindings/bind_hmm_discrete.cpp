// Bindings of the HMM over the Categorical family (CategoricalHMMModel) and over the Product
// family (ProductHMMModel: categorical, normal and Poisson items and a Gaussian block). Sequences are given as the
// concatenated rows X and their lengths; sample weights are per sequence. The methods they share
// (fit, e_step, m_step, posterior, score, viterbi, the chain's parameters, the statistics' class)
// are hmm_methods.hpp's template.
#include <cstdint>
#include <memory>

#include "hmm_methods.hpp"
#include "product_common.hpp"

namespace emkit::bindings {
namespace {

// The categorical family with its Dirichlet prior: concentration None (no prior), a number (the
// same concentration everywhere) or a (K, sum_j R_j) array in emissionprob's layout.
Categorical categorical_with_prior(const std::vector<Index>& n_categories, RowMatrix probs,
                                   const py::object& concentration) {
  if (concentration.is_none()) return Categorical(n_categories, std::move(probs));
  const auto a = concentration.cast<DoubleArray>();
  if (a.ndim() == 0) return Categorical(n_categories, std::move(probs), std::optional<double>(*a.data()));
  check_ndim(a, 2, "emissionprob_prior");
  const Index K = probs.rows(), C = probs.cols();
  if (a.shape(0) != K || a.shape(1) != C)
    throw InvalidArgument("emissionprob_prior: expected a (" + std::to_string(K) + ", " + std::to_string(C) +
                          ") array (states × categories)");
  return Categorical(n_categories, std::move(probs), to_matrix(a, K, C, "emissionprob_prior"), "emissionprob_prior");
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
  Vector start_alpha;
  RowMatrix trans_alpha;
  chain_priors(startprob_prior, transmat_prior, K, start_alpha, trans_alpha);
  return CatModel(to_vector(startprob, "startprob"), to_matrix(transmat, transmat.shape(0), transmat.shape(1), "transmat"),
                  categorical_with_prior(n_categories, to_matrix(probs, K, probs.shape(1), "emissionprob"), concentration),
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

ProdModel make_product_model(const DoubleArray& startprob, const DoubleArray& transmat, const py::object& probs,
                             const std::vector<Index>& n_categories, const DoubleArray& means,
                             const DoubleArray& variances, const DoubleArray& rates, const py::object& concentration,
                             double reg_covar, const py::object& startprob_prior, const py::object& transmat_prior,
                             const std::vector<std::string>& fixed, const py::object& block_means,
                             const py::object& block_covariances, const std::string& block_covariance_type) {
  const Vector start = to_vector(startprob, "startprob");
  const Index K = start.size();
  std::optional<Categorical> categorical;
  if (!n_categories.empty()) {
    const auto p = probs.cast<DoubleArray>();
    check_ndim(p, 2, "emissionprob");
    categorical.emplace(categorical_with_prior(n_categories, to_matrix(p, p.shape(0), p.shape(1), "emissionprob"),
                                               concentration));
  }
  check_ndim(transmat, 2, "transmat");
  Vector start_alpha;
  RowMatrix trans_alpha;
  chain_priors(startprob_prior, transmat_prior, K, start_alpha, trans_alpha);
  return ProdModel(start, to_matrix(transmat, transmat.shape(0), transmat.shape(1), "transmat"),
                   make_product(K, std::move(categorical), means, variances, rates, reg_covar, block_means,
                                block_covariances, block_covariance_type),
                   std::move(start_alpha), std::move(trans_alpha), fixed);
}

// X: columns [categorical codes | continuous | counts | Gaussian block], NaN = missing.
ProdModel::Data make_product_data(const ProdModel& model, const DoubleArray& X, const LengthArray& lengths,
                                  const DoubleArray& sample_weight) {
  check_ndim(X, 2, "X");
  return ProdModel::Data(product_data(model.emission(), X), offsets_of(lengths, X.shape(0)), weights_of(sample_weight));
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
  prod.def(py::init(&make_product_model), py::arg("startprob"), py::arg("transmat"), py::arg("emissionprob"),
           py::arg("n_categories"), py::arg("means"), py::arg("variances"), py::arg("rates"),
           py::arg("concentration") = py::none(), py::arg("reg_covar") = 1e-6,
           py::arg("startprob_prior") = py::none(), py::arg("transmat_prior") = py::none(),
           py::arg("fixed") = std::vector<std::string>(), py::kw_only(), py::arg("block_means") = py::none(),
           py::arg("block_covariances") = py::none(), py::arg("block_covariance_type") = "full");
  def_product_properties(prod, "emissionprob");
  def_sample_rows(prod);
  def_hmm_methods<ProdModel, DoubleArray>(m, prod, "ProductHMMStats", &make_product_data);
}

}  // namespace emkit::bindings
