// Bindings of the mixed-indicator latent class model (Mixture x Product). X arrives as one float
// array whose columns are ordered [categorical codes | continuous | counts]; the binding splits it
// into the parts' column groups (one copy, owned by the data view).
#include "mixture_methods.hpp"

namespace emkit::bindings {
namespace {

using Model = Mixture<Product>;
using Stats = Model::Stats;

struct SplitColumns {
  CodeMatrix codes;
  RowMatrix normal;
  RowMatrix poisson;
};

Index categorical_items(const Model& model) {
  return model.emission().categorical() ? model.emission().categorical()->n_items() : 0;
}

Model::Data make_data(const Model& model, const DoubleArray& X, Vector sample_weight) {
  const Index qc = categorical_items(model), qn = model.emission().normal().n_columns(),
              qp = model.emission().poisson().n_columns();
  if (X.shape(1) != qc + qn + qp)
    throw InvalidArgument("X: expected " + std::to_string(qc + qn + qp) + " columns, got " + std::to_string(X.shape(1)));
  const Index n = X.shape(0);
  const Eigen::Map<const RowMatrix> all(X.data(), n, qc + qn + qp);
  auto split = std::make_shared<SplitColumns>();
  split->codes.resize(n, qc);
  for (Index i = 0; i < n; ++i)
    for (Index j = 0; j < qc; ++j) {
      const double v = all(i, j);
      split->codes(i, j) = std::isnan(v) || v < 0 ? -1 : static_cast<std::int32_t>(v);
    }
  split->normal = all.middleCols(qc, qn);
  split->poisson = all.middleCols(qc + qn, qp);
  ProductData data{CategoricalData(split->codes.data(), n, qc),
                   Eigen::Map<const RowMatrix>(split->normal.data(), n, qn),
                   Eigen::Map<const RowMatrix>(split->poisson.data(), n, qp), split};
  return Model::Data{std::move(data), std::move(sample_weight)};
}

Model make_model(const DoubleArray& weights, const py::object& probs, const std::vector<Index>& n_categories,
                 const DoubleArray& means, const DoubleArray& variances, const DoubleArray& rates,
                 const py::object& item_concentration, double weight_concentration, bool fixed_weights,
                 double reg_covar) {
  const Vector w = to_vector(weights, "weights");
  const Index K = w.size();
  std::optional<Categorical> categorical;
  if (!n_categories.empty()) {
    const auto p = probs.cast<DoubleArray>();
    check_ndim(p, 2, "probs");
    std::optional<double> beta;
    if (!item_concentration.is_none()) beta = item_concentration.cast<double>();
    categorical.emplace(n_categories, to_matrix(p, p.shape(0), p.shape(1), "probs"), beta);
  }
  check_ndim(means, 2, "means");
  check_ndim(rates, 2, "rates");
  const Index qn = means.shape(1), qp = rates.shape(1);
  IndependentItems normal(IndependentItems::Kind::Normal, to_matrix(means, qn ? K : 0, qn, "means"),
                          to_matrix(variances, qn ? K : 0, qn, "variances"), reg_covar);
  IndependentItems poisson(IndependentItems::Kind::Poisson, to_matrix(rates, qp ? K : 0, qp, "rates"), RowMatrix(),
                           reg_covar);
  Model model(w, Product(std::move(categorical), std::move(normal), std::move(poisson)), weight_concentration);
  model.set_fixed_weights(fixed_weights);
  return model;
}

}  // namespace

void bind_product(py::module_& m) {
  py::class_<Stats>(m, "MixedLatentClassStats", "Expected sufficient statistics of a mixed-indicator model.")
      .def_property_readonly("resp_sum", [](const Stats& s) { return to_numpy(s.resp_sum); })
      .def_readonly("loglik", &Stats::loglik)
      .def_readonly("total_weight", &Stats::total_weight)
      .def("__add__", [](const Stats& a, const Stats& b) {
        Stats out = a;
        out += b;
        return out;
      }, py::is_operator());

  py::class_<Model> model(m, "MixedLatentClassModel",
                          "A latent class model with categorical, continuous (normal) and count (Poisson) "
                          "indicators under local independence.");
  model
      .def(py::init(&make_model), py::arg("weights"), py::arg("probs"), py::arg("n_categories"), py::arg("means"),
           py::arg("variances"), py::arg("rates"), py::arg("item_concentration") = py::none(),
           py::arg("weight_concentration") = 1.0, py::arg("fixed_weights") = false, py::arg("reg_covar") = 1e-6)
      .def_property_readonly("probs", [](const Model& self) -> py::object {
        if (!self.emission().categorical()) return py::none();
        const auto& p = self.emission().categorical()->probs();
        return to_numpy(p, {p.rows(), p.cols()});
      })
      .def_property_readonly("means", [](const Model& self) {
        const auto& a = self.emission().normal().location();
        return to_numpy(a, {a.rows(), a.cols()});
      })
      .def_property_readonly("variances", [](const Model& self) {
        const auto& a = self.emission().normal().variance();
        return to_numpy(a, {a.rows(), a.cols()});
      })
      .def_property_readonly("rates", [](const Model& self) {
        const auto& a = self.emission().poisson().location();
        return to_numpy(a, {a.rows(), a.cols()});
      });
  def_mixture_methods<Model, DoubleArray>(model, &make_data, [](const Model&, const Stats&) {});
}

}  // namespace emkit::bindings
