// Latent class regression (MixtureRegression x Categorical): the Newton step's statistics are sums
// over rows, and the step with its line search never decreases Q.
#include <emkit/emkit.hpp>

#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "check.hpp"

using namespace emkit;

namespace {

using Model = MixtureRegression<Categorical>;

// Rows of 4 items from a 3-class logit model in an intercept and two covariates, the second
// scaled by `scale` (a poorly scaled covariate makes the Newton step overshoot).
struct Rows {
  CodeMatrix codes;
  RowMatrix covariates;
  Vector weight;
  std::vector<Index> n_categories{2, 3, 4, 3};

  Rows(Index n, double scale, std::uint64_t seed) : codes(n, 4), covariates(n, 3), weight(n) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> normal;
    std::uniform_real_distribution<double> uniform(0.5, 2.0);
    const double beta[3][3] = {{0.0, 0.5, -0.3}, {0.0, 1.0, -1.0}, {0.0, -0.8 / scale, 0.6 / scale}};
    for (Index i = 0; i < n; ++i) {
      covariates.row(i) << 1.0, normal(rng), scale * normal(rng);
      double eta[3];
      for (int k = 0; k < 3; ++k) eta[k] = beta[0][k] + beta[1][k] * covariates(i, 1) + beta[2][k] * covariates(i, 2);
      std::discrete_distribution<int> pick_class({std::exp(eta[0]), std::exp(eta[1]), std::exp(eta[2])});
      const int k = pick_class(rng);
      for (Index j = 0; j < 4; ++j) {
        const Index r = n_categories[j];
        std::vector<double> p(r, 1.0);
        p[(k + j) % r] = 6.0;  // each class prefers its own category
        codes(i, j) = std::discrete_distribution<int>(p.begin(), p.end())(rng);
      }
      weight[i] = uniform(rng);
    }
    codes(3, 1) = -1;  // a missing item
  }

  // The view of rows [begin, end).
  Model::Data data(Index begin, Index end) const {
    return Model::Data{CategoricalData(codes.data() + begin * 4, end - begin, 4),
                       Eigen::Map<const RowMatrix>(covariates.data() + begin * 3, end - begin, 3),
                       weight.segment(begin, end - begin)};
  }
};

// Item probabilities near the generating ones (each class prefers its own category), so that the
// posteriors pull beta away from its start.
Model start_model(const Rows& rows, const RowMatrix& coef) {
  RowMatrix probs(3, 12);
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> uniform(0.5, 1.5);
  for (Index k = 0; k < 3; ++k)
    for (Index j = 0, offset = 0; j < 4; offset += rows.n_categories[j], ++j) {
      const Index r = rows.n_categories[j];
      for (Index c = 0; c < r; ++c) probs(k, offset + c) = uniform(rng) + (c == (k + j) % r ? 4.0 : 0.0);
      probs.row(k).segment(offset, r) /= probs.row(k).segment(offset, r).sum();
    }
  return Model(coef, Categorical(rows.n_categories, probs));
}

// Q(beta) = sum_i w_i sum_k h_ik log pi_ik(beta) for fixed posteriors h, directly.
double class_objective(const Rows& rows, const RowMatrix& h, const RowMatrix& coef) {
  double q = 0.0;
  for (Index i = 0; i < rows.covariates.rows(); ++i) {
    const RowVectorXd eta = rows.covariates.row(i) * coef;
    q += rows.weight[i] * (h.row(i).dot(eta) - log_sum_exp(eta));
  }
  return q;
}

RowMatrix posteriors(const Model& model, const Rows& rows) {
  const Index n = rows.covariates.rows();
  RowMatrix log_resp(n, 3);
  Vector log_prob(n);
  model.posterior(rows.data(0, n), 1, log_resp, log_prob);
  return log_resp.array().exp();
}

double relative(double a, double b) { return std::abs(a - b) / std::max(1.0, std::abs(b)); }

// Class 1's coefficients c and class 2's -c, in units of each covariate's scale.
RowMatrix coef_with(double c, double scale = 1.0) {
  RowMatrix coef = RowMatrix::Zero(3, 3);
  coef.col(1) << c, c, c / scale;
  coef.col(2) = -coef.col(1);
  return coef;
}

}  // namespace

TEST(statistics_of_two_chunks_add_up_to_those_of_all_rows) {
  const Rows rows(900, 1.0, 1);
  const Model model = start_model(rows, coef_with(0.3));
  const Model::Stats whole = model.e_step(rows.data(0, 900), 2);
  Model::Stats parts = model.e_step(rows.data(0, 377), 1);
  parts += model.e_step(rows.data(377, 900), 1);
  CHECK(parts.parameters == whole.parameters);
  CHECK_NEAR(parts.loglik, whole.loglik, 1e-12 * std::abs(whole.loglik));
  CHECK_NEAR(parts.total_weight, whole.total_weight, 1e-12 * whole.total_weight);
  CHECK((parts.resp_sum - whole.resp_sum).norm() <= 1e-12 * whole.resp_sum.norm());
  CHECK((parts.emission.counts - whole.emission.counts).norm() <= 1e-12 * whole.emission.counts.norm());
  CHECK((parts.gradient - whole.gradient).norm() <= 1e-12 * whole.resp_covariates.norm());
  CHECK((parts.information - whole.information).norm() <= 1e-12 * whole.information.norm());
  CHECK((parts.resp_covariates - whole.resp_covariates).norm() <= 1e-12 * whole.resp_covariates.norm());
  CHECK(whole.information == whole.information.transpose());
}

TEST(gradient_and_information_are_the_derivatives_of_q) {
  const Rows rows(500, 1.0, 2);
  const RowMatrix coef = coef_with(0.4);
  const Model model = start_model(rows, coef);
  const Model::Stats stats = model.e_step(rows.data(0, 500), 1);
  const RowMatrix h = posteriors(model, rows);
  const double eps = 1e-5;
  // Central differences in each free coefficient (class-major: classes 1, 2; 3 covariates each).
  for (Index a = 0; a < 6; ++a) {
    RowMatrix plus = coef, minus = coef;
    plus(a % 3, 1 + a / 3) += eps;
    minus(a % 3, 1 + a / 3) -= eps;
    const double derivative = (class_objective(rows, h, plus) - class_objective(rows, h, minus)) / (2 * eps);
    CHECK_NEAR(stats.gradient[a], derivative, 1e-6 * std::max(1.0, std::abs(derivative)));
  }
  // At fixed h, -d(gradient)/dbeta = information: gradient = L - sum_i w_i pi_i z_i and L does not
  // depend on beta, so compare against differences of sum_i w_i pi_ik z_i.
  for (Index a = 0; a < 6; ++a) {
    RowMatrix plus = coef, minus = coef;
    plus(a % 3, 1 + a / 3) += eps;
    minus(a % 3, 1 + a / 3) -= eps;
    auto expected_class_sums = [&](const RowMatrix& c) {
      Vector s = Vector::Zero(6);
      for (Index i = 0; i < 500; ++i) {
        RowVectorXd eta = rows.covariates.row(i) * c;
        eta.array() -= log_sum_exp(eta);
        for (Index k = 1; k < 3; ++k) s.segment((k - 1) * 3, 3) += rows.weight[i] * std::exp(eta[k]) * rows.covariates.row(i).transpose();
      }
      return s;
    };
    const Vector column = (expected_class_sums(plus) - expected_class_sums(minus)) / (2 * eps);
    CHECK((stats.information.col(a) - column).norm() <= 1e-6 * std::max(1.0, column.norm()));
  }
}

TEST(newton_step_with_line_search_never_decreases_q) {
  // A covariate on the scale of 100 and a start far from the optimum: full Newton steps overshoot.
  const Rows rows(800, 100.0, 3);
  Model model = start_model(rows, coef_with(8.0, 100.0));
  model.set_trial_steps_per_pass(1);  // one pass per halving: count them
  const Model::Data data = rows.data(0, 800);
  int halved = 0;
  for (int iter = 0; iter < 25; ++iter) {
    const RowMatrix h = posteriors(model, rows);
    const RowMatrix before = model.coef();
    const double q_before = class_objective(rows, h, before);
    model.m_step(model.e_step(data, 1));
    int passes = 0;
    while (model.pending_pass()) {
      model.m_step(model.line_search(data, 1));
      ++passes;
    }
    halved += passes > 1;
    CHECK(class_objective(rows, h, model.coef()) >= q_before - 1e-12 * std::abs(q_before));
  }
  CHECK(halved > 0);
}

TEST(a_step_no_trial_accepts_keeps_beta_after_thirty_halvings) {
  const Rows rows(300, 1.0, 6);
  Model model = start_model(rows, coef_with(1.0));
  const Model::Data data = rows.data(0, 300);
  const RowMatrix before = model.coef();
  model.m_step(model.e_step(data, 1));
  int passes = 0;
  while (model.pending_pass()) {
    Model::LineSearchStats pass = model.line_search(data, 1);
    pass.log_partition_change.setConstant(std::numeric_limits<double>::infinity());  // Q(trial) = -inf
    model.m_step(pass);
    ++passes;
  }
  CHECK(passes == 4);  // 8 + 8 + 8 + 7 trial steps: t = 1 ... 2^-30
  CHECK(model.coef() == before);
}

TEST(fit_equals_the_passes_driven_by_hand) {
  const Rows rows(600, 30.0, 4);
  const Model::Data data = rows.data(0, 600);
  Model by_fit = start_model(rows, coef_with(4.0, 30.0)), by_hand = by_fit;
  by_hand.set_trial_steps_per_pass(3);  // the accepted step does not depend on it
  FitOptions options;
  options.max_iter = 15;
  options.tol = 0.0;
  options.n_threads = 2;
  const FitResult result = fit_em(by_fit, data, options);
  for (int iter = 0; iter < 15; ++iter) {
    const Model::Stats stats = by_hand.e_step(rows.data(0, 250), 1) += by_hand.e_step(rows.data(250, 600), 1);
    CHECK(relative(stats.loglik, result.loglik[iter]) < 1e-12);
    by_hand.m_step(stats);
    while (by_hand.pending_pass()) {
      Model::LineSearchStats pass = by_hand.line_search(rows.data(0, 100), 1);
      pass += by_hand.line_search(rows.data(100, 600), 1);
      by_hand.m_step(pass);
    }
  }
  CHECK((by_hand.coef() - by_fit.coef()).cwiseAbs().maxCoeff() <= 1e-12 * by_fit.coef().cwiseAbs().maxCoeff());
  CHECK((by_hand.emission().probs() - by_fit.emission().probs()).cwiseAbs().maxCoeff() <= 1e-12);
}

TEST(mismatched_statistics_and_passes_are_refused) {
  const Rows rows(300, 1.0, 5);
  const Model::Data data = rows.data(0, 300);
  Model model = start_model(rows, coef_with(0.5));
  const Model other = start_model(rows, coef_with(0.6));
  CHECK_THROWS(model.m_step(other.e_step(data, 1)), InvalidArgument);
  CHECK_THROWS(model.line_search(data, 1), InvalidArgument);  // nothing pending
  model.m_step(model.e_step(data, 1));
  CHECK(model.pending_pass());
  CHECK_THROWS(model.e_step(data, 1), InvalidArgument);
  Model::LineSearchStats pass = model.line_search(data, 1);
  Model::LineSearchStats wrong = pass;
  wrong.step ^= 1;
  CHECK_THROWS(model.m_step(wrong), InvalidArgument);
  wrong = pass;
  wrong.first_halving = 8;
  CHECK_THROWS(model.m_step(wrong), InvalidArgument);
  model.m_step(pass);
  CHECK(!model.pending_pass());
  CHECK_THROWS(model.m_step(pass), InvalidArgument);  // that step is over
}

int main() { return emkit_test::run_all("mixture_regression"); }
