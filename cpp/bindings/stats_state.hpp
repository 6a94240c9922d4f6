// The families' statistics in Python: their pickled state (lists of 2-D arrays, one
// emission_state / emission_from_state overload per family), the refusal of statistics computed at
// other parameters or shapes (check_same_parameters for adding two, check_emission_stats for an
// M-step), and the statistics class of a mixture over any family (def_mixture_stats).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>

#include "gaussian_common.hpp"

namespace emkit::bindings {

// ---- the families' statistics as lists of 2-D arrays (pickling) -------------------------------
inline py::array_t<double> state_matrix(const RowMatrix& m) { return to_numpy(m, {m.rows(), m.cols()}); }

inline RowMatrix matrix_from_state(const py::handle& h, const std::string& name) {
  const auto a = h.cast<DoubleArray>();
  check_ndim(a, 2, "stats state: " + name);
  return to_matrix(a, a.shape(0), a.shape(1), "stats state: " + name);
}

inline void check_state_size(const py::list& l, size_t n) {
  if (l.size() != n)
    throw InvalidArgument("stats state: expected " + std::to_string(n) + " emission arrays, got " +
                          std::to_string(l.size()));
}

inline py::list emission_state(const CategoricalStats& s) {
  py::list l;
  l.append(state_matrix(s.counts));
  return l;
}
inline void emission_from_state(const py::list& l, CategoricalStats& s) {
  check_state_size(l, 1);
  s.counts = matrix_from_state(l[0], "counts");
}

// [shift, sum, scatter, parameters fingerprint]
inline py::list emission_state(const GaussianStats& s) {
  py::list l;
  for (const RowMatrix* m : {&s.shift, &s.sum, &s.scatter}) l.append(state_matrix(*m));
  l.append(s.parameters);
  return l;
}
inline void emission_from_state(const py::list& l, GaussianStats& s) {
  check_state_size(l, 4);
  s.shift = matrix_from_state(l[0], "shift");
  s.sum = matrix_from_state(l[1], "sum");
  s.scatter = matrix_from_state(l[2], "scatter");
  s.parameters = l[3].cast<std::uint64_t>();
  if (s.sum.rows() != s.shift.rows() || s.sum.cols() != s.shift.cols() || s.scatter.rows() != s.shift.rows())
    throw InvalidArgument("stats state: shift, sum and scatter have inconsistent shapes");
}

// [shift, weight, sum, square] (square 0×0 for Poisson items)
template <class Family>
py::list emission_state(const ItemMoments<Family>& s) {
  py::list l;
  for (const RowMatrix* m : {&s.shift, &s.weight, &s.sum, &s.square}) l.append(state_matrix(*m));
  return l;
}
template <class Family>
void emission_from_state(const py::list& l, ItemMoments<Family>& s) {
  check_state_size(l, 4);
  s.shift = matrix_from_state(l[0], "shift");
  s.weight = matrix_from_state(l[1], "weight");
  s.sum = matrix_from_state(l[2], "sum");
  s.square = matrix_from_state(l[3], "square");
  const auto same = [&](const RowMatrix& m) { return m.rows() == s.shift.rows() && m.cols() == s.shift.cols(); };
  if (!same(s.weight) || !same(s.sum) || (s.square.size() && !same(s.square)))
    throw InvalidArgument("stats state: shift, weight, sum and square have inconsistent shapes");
}

// [the Gaussian arrays above..., counts (K×1)]
inline py::list emission_state(const GaussianBlockStats& s) {
  py::list l = emission_state(s.gaussian);
  l.append(state_matrix(s.counts));
  return l;
}
inline void emission_from_state(const py::list& l, GaussianBlockStats& s) {
  check_state_size(l, 5);
  py::list gaussian;
  for (size_t i = 0; i < 4; ++i) gaussian.append(l[i]);
  emission_from_state(gaussian, s.gaussian);
  const RowMatrix counts = matrix_from_state(l[4], "counts");
  if (counts.cols() != 1 || counts.rows() != s.gaussian.shift.rows())
    throw InvalidArgument("stats state: counts: expected one value per state");
  s.counts = counts.col(0);
}

// A part's statistics of the family with index I (in ProductPartStats), from its state.
template <size_t I = 0>
ProductPartStats part_from_state(size_t kind, const py::list& l) {
  if constexpr (I < std::variant_size_v<ProductPartStats>) {
    if (kind != I) return part_from_state<I + 1>(kind, l);
    std::variant_alternative_t<I, ProductPartStats> s;
    emission_from_state(l, s);
    return ProductPartStats(std::in_place_index<I>, std::move(s));
  } else {
    throw InvalidArgument("stats state: unknown product part " + std::to_string(kind));
  }
}

// [parameters fingerprint, then per part [family index, the family's arrays...]]
inline py::list emission_state(const ProductStats& s) {
  py::list l;
  l.append(s.parameters);
  for (const auto& part : s.parts) {
    py::list p;
    p.append(part.index());
    for (const auto& a : std::visit([](const auto& x) { return emission_state(x); }, part)) p.append(a);
    l.append(p);
  }
  return l;
}
inline void emission_from_state(const py::list& l, ProductStats& s) {
  if (l.size() < 1) throw InvalidArgument("stats state: expected the product's parameters and parts");
  s.parameters = l[0].cast<std::uint64_t>();
  s.parts.clear();
  for (size_t p = 1; p < l.size(); ++p) {
    const py::list part = l[p].cast<py::list>();
    if (part.size() < 1) throw InvalidArgument("stats state: an empty product part");
    py::list arrays;
    for (size_t i = 1; i < part.size(); ++i) arrays.append(part[i]);
    s.parts.push_back(part_from_state(part[0].cast<size_t>(), arrays));
  }
}

// [counts (K×M), then per state the Gaussian state list above, as a list]
inline py::list emission_state(const GaussianMixtureEmissionStats& s) {
  py::list l;
  l.append(state_matrix(s.counts));
  for (const auto& g : s.states) l.append(emission_state(g));
  return l;
}
inline void emission_from_state(const py::list& l, GaussianMixtureEmissionStats& s) {
  if (l.size() < 1) throw InvalidArgument("stats state: expected the emission arrays");
  s.counts = matrix_from_state(l[0], "counts");
  check_state_size(l, 1 + static_cast<size_t>(s.counts.rows()));
  s.states.assign(static_cast<size_t>(s.counts.rows()), GaussianStats());
  for (size_t k = 0; k < s.states.size(); ++k) emission_from_state(l[1 + k].cast<py::list>(), s.states[k]);
}

// ---- statistics computed at other parameters ---------------------------------------------------
// Statistics centred on the parameters they were computed at can only be added to each other and
// given to a model with those parameters. Families whose statistics are not centred accept any.
template <class EmissionStats>
void check_same_parameters(const EmissionStats&, const EmissionStats&) {}
inline void check_same_parameters(const GaussianMixtureEmissionStats& a, const GaussianMixtureEmissionStats& b) {
  if (a.counts.rows() != b.counts.rows() || a.counts.cols() != b.counts.cols() || a.states.size() != b.states.size())
    throw InvalidArgument("stats: cannot add statistics of models of different shapes");
  for (size_t k = 0; k < a.states.size(); ++k) check_same_parameters(a.states[k], b.states[k]);
}

inline void refuse_other_parameters() {
  throw InvalidArgument("stats: cannot add statistics computed at different parameters; compute every chunk's "
                        "e_step with the same model");
}
inline void refuse_other_model() {
  throw InvalidArgument("stats: computed at other parameters than the model's current ones");
}

// Poisson statistics are centred on the rates they were computed at, the family's only parameters.
inline void check_same_parameters(const PoissonStats& a, const PoissonStats& b) {
  if (a.shift.rows() != b.shift.rows() || a.shift.cols() != b.shift.cols())
    throw InvalidArgument("stats: cannot add statistics of models of different shapes");
  if (a.shift != b.shift) refuse_other_parameters();
}

// Same families in the same order, same shapes (the parameters: the fingerprint).
inline bool same_shape(const CategoricalStats& a, const CategoricalStats& b) {
  return a.counts.rows() == b.counts.rows() && a.counts.cols() == b.counts.cols();
}
template <class Family>
bool same_shape(const ItemMoments<Family>& a, const ItemMoments<Family>& b) {
  return a.shift.rows() == b.shift.rows() && a.shift.cols() == b.shift.cols() && a.square.size() == b.square.size();
}
inline bool same_shape(const GaussianBlockStats& a, const GaussianBlockStats& b) {
  return a.gaussian.shift.rows() == b.gaussian.shift.rows() && a.gaussian.shift.cols() == b.gaussian.shift.cols() &&
         a.gaussian.scatter.cols() == b.gaussian.scatter.cols() && a.counts.size() == b.counts.size();
}
inline bool same_shape(const ProductStats& a, const ProductStats& b) {
  if (a.parts.size() != b.parts.size()) return false;
  for (size_t p = 0; p < a.parts.size(); ++p) {
    if (a.parts[p].index() != b.parts[p].index()) return false;
    const bool same = std::visit(
        [&](const auto& x) { return same_shape(x, std::get<std::decay_t<decltype(x)>>(b.parts[p])); }, a.parts[p]);
    if (!same) return false;
  }
  return true;
}
inline void check_same_parameters(const ProductStats& a, const ProductStats& b) {
  if (!same_shape(a, b)) throw InvalidArgument("stats: cannot add statistics of models of different shapes");
  if (a.parameters != b.parameters) refuse_other_parameters();
}

template <class Emission>
void check_emission_stats(const Emission& e, const typename Emission::Stats& s) {
  (void)e;
  (void)s;
}
inline void check_emission_stats(const Poisson& p, const PoissonStats& s) {
  if (s.shift.rows() != p.n_states() || s.shift.cols() != p.n_columns())
    throw InvalidArgument("stats: shapes do not match the model");
  if (s.shift != p.rates()) refuse_other_model();
}
inline void check_emission_stats(const Product& e, const ProductStats& s) {
  if (!same_shape(s, e.make_stats())) throw InvalidArgument("stats: shapes do not match the model");
  if (s.parameters != e.parameters_fingerprint()) refuse_other_model();
}
inline void check_emission_stats(const GaussianMixtureEmission& e, const GaussianMixtureEmissionStats& s) {
  if (s.counts.rows() != e.n_states() || s.counts.cols() != e.n_mix() ||
      static_cast<Index>(s.states.size()) != e.n_states())
    throw InvalidArgument("stats: shapes do not match the model");
  for (Index k = 0; k < e.n_states(); ++k) check_emission_stats(e.state(k), s.states[static_cast<size_t>(k)]);
}

// a + b, refusing statistics of models of other shapes (the per-state vector `counts`, e.g.
// resp_sum, of another size) or computed at other parameters (check_same_parameters).
template <class Stats>
Stats add_checked(const Stats& a, const Stats& b, const Vector Stats::*counts) {
  if ((a.*counts).size() != (b.*counts).size())
    throw InvalidArgument("stats: cannot add statistics of models of different shapes");
  check_same_parameters(a.emission, b.emission);
  Stats out = a;
  out += b;
  return out;
}

// The statistics class of Mixture<Emission>: resp_sum, loglik, total_weight, `+` (refusing
// statistics of other parameters or shapes) and pickling; state (resp_sum, loglik, total_weight,
// [the family's arrays]). Returns the class (a binding may add the family's own properties).
template <class Model>
py::class_<typename Model::Stats> def_mixture_stats(py::module_& m, const char* name, const char* doc) {
  using Stats = typename Model::Stats;
  py::class_<Stats> cls(m, name, doc);
  cls.def_property_readonly("resp_sum", [](const Stats& s) { return to_numpy(s.resp_sum); },
                            "Expected number of rows per state (weighted).")
      .def_readonly("loglik", &Stats::loglik, "Log-likelihood of the rows at the model's parameters.")
      .def_readonly("total_weight", &Stats::total_weight, "Sum of the sample weights.")
      .def(
          "__add__", [](const Stats& a, const Stats& b) { return add_checked(a, b, &Stats::resp_sum); },
          py::is_operator())
      .def(py::pickle(
          [](const Stats& s) {
            return py::make_tuple(to_numpy(s.resp_sum), s.loglik, s.total_weight, emission_state(s.emission));
          },
          [](const py::tuple& t) {
            if (t.size() != 4) throw InvalidArgument("stats: expected a state of 4 entries");
            Stats s;
            s.resp_sum = to_vector(t[0].cast<DoubleArray>(), "resp_sum");
            s.loglik = t[1].cast<double>();
            s.total_weight = t[2].cast<double>();
            emission_from_state(t[3].cast<py::list>(), s.emission);
            return s;
          }));
  return cls;
}

}  // namespace emkit::bindings
