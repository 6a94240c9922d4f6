// What the bindings of models over the Product family share (MixedLatentClassModel,
// ProductHMMModel): the product built from the Python arrays, X split into the parts' column
// groups, and the parts' parameters as properties.
//
// Column layout of X (one float array): [categorical codes | normal items | counts | Gaussian
// block], each group present when the model has it (NaN = missing everywhere; negative codes are
// missing too). Parts appear in the product in that order.
#pragma once

#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "stats_state.hpp"

namespace emkit::bindings {

// block_means None = no Gaussian block; else (K, b) with block_covariances in scikit-learn's
// layout for block_covariance_type (full (K, b, b), tied (b, b), diag (K, b), spherical (K,)).
inline Product make_product(Index K, std::optional<Categorical> categorical, const DoubleArray& means,
                            const DoubleArray& variances, const DoubleArray& rates, double reg_covar,
                            const py::object& block_means, const py::object& block_covariances,
                            const std::string& block_covariance_type) {
  std::vector<ProductPart> parts;
  if (categorical) parts.emplace_back(std::move(*categorical));
  check_ndim(means, 2, "means");
  check_ndim(rates, 2, "rates");
  if (const Index qn = means.shape(1))
    parts.emplace_back(NormalItems(to_matrix(means, K, qn, "means"), to_matrix(variances, K, qn, "variances"), reg_covar));
  if (const Index qp = rates.shape(1)) parts.emplace_back(Poisson(to_matrix(rates, K, qp, "rates")));
  if (!block_means.is_none()) {
    const CovarianceType type = parse_covariance_type(block_covariance_type);
    const auto mu = block_means.cast<DoubleArray>();
    check_ndim(mu, 2, "block_means");
    if (block_covariances.is_none()) throw InvalidArgument("block_covariances: required with block_means");
    const Index b = mu.shape(1), F = type == CovarianceType::Tied ? 1 : K;
    parts.emplace_back(Gaussian(type, to_matrix(mu, K, b, "block_means"),
                                to_matrix(block_covariances.cast<DoubleArray>(), F, covariance_columns(type, b),
                                          "block_covariances"),
                                reg_covar));
  } else if (!block_covariances.is_none()) {
    throw InvalidArgument("block_covariances: given without block_means");
  }
  if (parts.empty()) throw InvalidArgument("X: the model has no columns (no categorical, normal, count or block part)");
  return Product(std::move(parts));
}

// The parts' views of X. Codes (checked against their item's number of categories) and the block
// are copied, owned by the data view; normal and count columns are read in place, so X must stay
// alive while the view is used.
inline ProductData product_data(const Product& e, const DoubleArray& X) {
  check_ndim(X, 2, "X");
  const Index n = X.shape(0), width = e.n_features();
  if (X.shape(1) != width)
    throw InvalidArgument("X: expected " + std::to_string(width) + " columns, got " + std::to_string(X.shape(1)));
  struct Owned {
    std::vector<std::unique_ptr<CodeMatrix>> codes;
    std::vector<std::unique_ptr<RowMatrix>> blocks;
  };
  auto owned = std::make_shared<Owned>();
  const Eigen::Map<const RowMatrix> all(X.data(), n, width);
  ProductData data;
  Index offset = 0;
  for (const auto& part : e.parts()) {
    if (const auto* c = std::get_if<Categorical>(&part)) {
      const Index q = c->n_items();
      auto& codes = *owned->codes.emplace_back(std::make_unique<CodeMatrix>(n, q));
      for (Index i = 0; i < n; ++i)
        for (Index j = 0; j < q; ++j) {
          const double v = all(i, offset + j);
          const std::int32_t code = std::isnan(v) || v < 0 ? -1 : static_cast<std::int32_t>(v);
          if (code >= c->n_categories()[static_cast<size_t>(j)])
            throw InvalidArgument("X: code " + std::to_string(code) + " of categorical column " + std::to_string(j) +
                                  " in row " + std::to_string(i) + " is >= its number of categories");
          codes(i, j) = code;
        }
      data.parts.emplace_back(CategoricalData(codes.data(), n, q));
      offset += q;
    } else if (const auto* g = std::get_if<NormalItems>(&part)) {
      data.parts.emplace_back(ItemColumnsData(X.data() + offset, n, g->n_columns(), width));
      offset += g->n_columns();
    } else if (const auto* p = std::get_if<Poisson>(&part)) {
      data.parts.emplace_back(PoissonData(X.data() + offset, n, p->n_columns(), width));
      offset += p->n_columns();
    } else {
      const Index b = std::get<Gaussian>(part).n_features();
      auto& block = *owned->blocks.emplace_back(std::make_unique<RowMatrix>(all.middleCols(offset, b)));
      data.parts.emplace_back(GaussianData(block.data(), n, b, /*allow_unobserved_rows=*/true));
      offset += b;
    }
  }
  data.owner = std::move(owned);
  return data;
}

// The parts' parameters: `probs_name` (the categorical part, None without one; "probs" or
// "emissionprob"), means/variances (K × normal columns), rates (K × count columns), and the
// Gaussian block's block_means (K, b), block_covariances (scikit-learn's layout) and
// block_covariance_type (None without a block).
template <class Model>
void def_product_properties(py::class_<Model>& cls, const char* probs_name) {
  const auto items = [](const Model& self, const RowMatrix* m) {
    return m ? to_numpy(*m, {m->rows(), m->cols()}) : to_numpy(RowMatrix(), {self.n_states(), 0});
  };
  cls.def_property_readonly(probs_name,
                            [](const Model& self) -> py::object {
                              const auto* c = self.emission().template find<Categorical>();
                              if (!c) return py::none();
                              return to_numpy(c->probs(), {c->probs().rows(), c->probs().cols()});
                            })
      .def_property_readonly("means",
                             [items](const Model& self) {
                               const auto* g = self.emission().template find<NormalItems>();
                               return items(self, g ? &g->means() : nullptr);
                             })
      .def_property_readonly("variances",
                             [items](const Model& self) {
                               const auto* g = self.emission().template find<NormalItems>();
                               return items(self, g ? &g->variances() : nullptr);
                             })
      .def_property_readonly("rates",
                             [items](const Model& self) {
                               const auto* p = self.emission().template find<Poisson>();
                               return items(self, p ? &p->rates() : nullptr);
                             })
      .def_property_readonly("block_means",
                             [](const Model& self) -> py::object {
                               const auto* g = self.emission().template find<Gaussian>();
                               if (!g) return py::none();
                               return to_numpy(g->means(), {g->n_states(), g->n_features()});
                             })
      .def_property_readonly("block_covariances",
                             [](const Model& self) -> py::object {
                               const auto* g = self.emission().template find<Gaussian>();
                               if (!g) return py::none();
                               return to_numpy(g->covariances(),
                                               covariance_shape(g->covariance_type(), g->n_states(), g->n_features()));
                             })
      .def_property_readonly("block_covariance_type",
                             [](const Model& self) -> py::object {
                               const auto* g = self.emission().template find<Gaussian>();
                               if (!g) return py::none();
                               return py::str(covariance_type_name(g->covariance_type()));
                             })
      .def_property_readonly("n_columns", [](const Model& self) { return self.emission().n_features(); },
                             "Columns of X: codes, normal items, counts, Gaussian block.");
}

}  // namespace emkit::bindings
