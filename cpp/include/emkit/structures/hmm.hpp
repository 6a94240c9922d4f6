// The HMM latent structure: a Markov chain of hidden states along each sequence, over any
// emission family. Parameters: start probabilities π (K), the row-stochastic transition matrix A
// (K×K) and the family's parameters.
//
// E-step per sequence (Rabiner 1989, scaled form): the emission log-likelihoods of its rows, then
// a forward pass with a per-step shift of the log-likelihoods by their maximum (one exp per state
// and step; a 10^4-σ outlier cannot underflow), normalised forward probabilities α̂_t and scale
// factors c_t, log p(x) = Σ_t (log c_t + shift_t); a backward pass β̂_t = A (e_{t+1} ⊙ β̂_{t+1}) /
// c_{t+1} giving the state posteriors γ_t = α̂_t ⊙ β̂_t and, on the fly, the summed transition
// posteriors Σ_t ξ_t = A ⊙ Σ_t α̂_t (e_{t+1} ⊙ β̂_{t+1} / c_{t+1})ᵀ. Memory is O(T·K) per
// sequence, never O(T·K²). Should the scaled pass lose range (a predicted mass below 1e-250, or
// posteriors that no longer sum to one — possible only with near-impossible paths, e.g. states
// made unreachable by structural zeros whose emissions fit the data far better than the
// reachable ones), that sequence is redone exactly in log space (log-sum-exp recursions).
//
// M-step: Dirichlet MAP (ML when every concentration is 1) restricted to the support of the
// current values — a probability that is zero stays zero (structural zeros), and the prior
// applies to the entries on the support. A distribution with no expected counts keeps its
// previous value. Any of "startprob", "transmat", "emission" (and the family's own groups, e.g.
// "means", "covariances") can be held fixed.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../parallel.hpp"
#include "../types.hpp"
#include "../vector_math.hpp"
#include "parameter_groups.hpp"

namespace emkit {

// Offsets of the sequences in the concatenated rows: sequence s is [offsets[s], offsets[s+1]).
inline std::vector<Index> sequence_offsets(const std::vector<Index>& lengths, Index n_rows) {
  require(!lengths.empty(), "lengths: expected at least one sequence");
  std::vector<Index> offsets(lengths.size() + 1, 0);
  for (size_t s = 0; s < lengths.size(); ++s) {
    require(lengths[s] > 0, "lengths: expected positive lengths; sequence " + std::to_string(s) + " has length " +
                                std::to_string(lengths[s]));
    offsets[s + 1] = offsets[s] + lengths[s];
  }
  require(offsets.back() == n_rows, "lengths: the lengths sum to " + std::to_string(offsets.back()) +
                                        " but X has " + std::to_string(n_rows) + " rows");
  return offsets;
}

// The sequences an HMM is fitted to: the family's view of all rows (sequences concatenated), the
// sequence offsets and per-sequence sample weights (empty = every sequence has weight one).
template <class Emission>
struct HMMData {
  typename Emission::Data emission;
  std::vector<Index> offsets;
  Vector sample_weight;

  HMMData(typename Emission::Data emission_data, std::vector<Index> sequence_offsets_,
          Vector sample_weight_ = Vector())
      : emission(std::move(emission_data)), offsets(std::move(sequence_offsets_)),
        sample_weight(std::move(sample_weight_)) {
    require(offsets.size() >= 2 && offsets.front() == 0 && offsets.back() == emission.n_rows(),
            "lengths: the sequences must cover the rows of X");
    for (size_t s = 0; s + 1 < offsets.size(); ++s)
      require(offsets[s + 1] > offsets[s], "lengths: sequence " + std::to_string(s) + " is empty");
    if (sample_weight.size()) {
      require(sample_weight.size() == n_sequences(),
              "sample_weight: expected one value per sequence (" + std::to_string(n_sequences()) + ")");
      require(sample_weight.allFinite() && (sample_weight.array() >= 0).all(),
              "sample_weight: expected finite values >= 0");
    }
  }

  Index n_rows() const { return emission.n_rows(); }
  Index n_sequences() const { return static_cast<Index>(offsets.size()) - 1; }
  Index begin(Index s) const { return offsets[s]; }
  Index length(Index s) const { return offsets[s + 1] - offsets[s]; }
  double weight(Index s) const { return sample_weight.size() ? sample_weight[s] : 1.0; }
};

// Expected sufficient statistics of an HMM; they merge by addition.
template <class Emission>
struct HMMStats {
  Vector start_counts;          // Σ_s w_s γ_{s,0}
  RowMatrix transition_counts;  // Σ_s w_s Σ_t ξ_{s,t}
  Vector emission_counts;       // Σ_s w_s Σ_t γ_{s,t} over the rows with an observation
  double loglik = 0.0;          // Σ_s w_s log p(x_s)
  double total_weight = 0.0;    // Σ_s w_s T_s: the objective's change is tested per time step
  typename Emission::Stats emission;

  HMMStats& operator+=(const HMMStats& other) {
    start_counts += other.start_counts;
    transition_counts += other.transition_counts;
    emission_counts += other.emission_counts;
    loglik += other.loglik;
    total_weight += other.total_weight;
    emission += other.emission;
    return *this;
  }
};

namespace detail {

// Whether the family's Data can tell rows with nothing observed (they emit log-probability 0 and
// are left out of the emission statistics).
template <class Data, class = void>
struct has_observation_query : std::false_type {};
template <class Data>
struct has_observation_query<Data, std::void_t<decltype(std::declval<const Data&>().has_observation(Index{}))>>
    : std::true_type {};
template <class Data>
bool row_has_observation(const Data& data, Index i) {
  if constexpr (has_observation_query<Data>::value)
    return data.has_observation(i);
  else
    return true;
}

// Below this predicted mass a scaled forward step has lost range (see the header comment).
constexpr double kMinScale = 1e-250;
// Posteriors of a time step must sum to one within this; otherwise the scaled pass lost range.
constexpr double kPosteriorSlack = 1e-6;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

using RowVector = Eigen::Matrix<double, 1, Eigen::Dynamic>;

// Time steps per block of the recursions: the shifted log-likelihoods of a block are
// exponentiated together (one vectorised pass), log c_t summed per block, and the transition
// posteriors of a block accumulated as one K×B by B×K matrix product.
constexpr Index kStepBlock = 64;

// ---- per-step kernels of the scaled recursions -------------------------------------------------
// For K = 16 or 32 a step is ~K² flops: Eigen's dynamic-size matrix-vector product costs about as
// much in call and loop overhead as in arithmetic, so the steps are written as loops over
// contiguous rows of a row-major K×K matrix M (y = Σ_i x_i M_i·, an axpy per row). With the number
// of states a multiple of the SIMD width known at compile time (KF > 0) the partial sums are whole
// SIMD vectors held in registers, in kSums interleaved accumulators (independent dependency
// chains, so that a step is not bound by the latency of K chained multiply-adds), and a step's
// products, normalisation and masking are fused; KF = 0 handles any K with plain loops the
// compiler vectorises. Every sum is taken in a fixed order that depends only on K (and the
// instruction set): bit-identical results for any number of threads.
template <int KF>
struct ChainKernels {
  using Packet = vmath::detail::Packet;
  static constexpr int kPacket = static_cast<int>(vmath::detail::kPacketSize);
  static constexpr int kRegisters = kPacket >= 8 ? 32 : 16;  // SIMD registers (AVX-512: 32)
  static constexpr int kVectors = KF > 0 ? KF / kPacket : 1;  // SIMD vectors per K-vector
  static constexpr int kSums = KF <= 0 ? 1 : std::max(1, std::min({4, KF, kRegisters / 2 / kVectors}));
  // Rows of the transition-flow product per pass: their accumulators and broadcasts fit in registers.
  // (4, 2 or 1, dividing KF.)
  static constexpr int kFlowRows = KF <= 0                                           ? 1
                                   : KF % 4 == 0 && 4 * (kVectors + 1) < kRegisters ? 4
                                   : KF % 2 == 0 && 2 * (kVectors + 1) < kRegisters ? 2
                                                                                     : 1;
  static_assert(KF % kPacket == 0, "fixed-size chain kernels need whole SIMD vectors");

  // acc = Σ_i x_i M_i· (M row-major KF×KF) in registers: kSums interleaved partial sums, added
  // pairwise at the end.
  static void combine_rows(const double* __restrict x, const double* __restrict M, Packet* acc) {
    namespace ei = Eigen::internal;
    Packet part[kSums][kVectors];
    for (int s = 0; s < kSums; ++s) {
      const Packet xs = ei::pset1<Packet>(x[s]);
      for (int u = 0; u < kVectors; ++u) part[s][u] = ei::pmul(xs, ei::ploadu<Packet>(M + s * KF + u * kPacket));
    }
    Index i = kSums;
    for (; i + kSums <= KF; i += kSums)
      for (int s = 0; s < kSums; ++s) {
        const Packet xs = ei::pset1<Packet>(x[i + s]);
        const double* row = M + (i + s) * KF;
        for (int u = 0; u < kVectors; ++u) part[s][u] = ei::pmadd(xs, ei::ploadu<Packet>(row + u * kPacket), part[s][u]);
      }
    if constexpr (KF % kSums != 0)
      for (; i < KF; ++i) {
        const Packet xs = ei::pset1<Packet>(x[i]);
        for (int u = 0; u < kVectors; ++u)
          part[0][u] = ei::pmadd(xs, ei::ploadu<Packet>(M + i * KF + u * kPacket), part[0][u]);
      }
    for (int u = 0; u < kVectors; ++u) {
      Packet total = part[0][u];
      if constexpr (kSums == 2) total = ei::padd(total, part[1][u]);
      if constexpr (kSums == 3) total = ei::padd(ei::padd(total, part[1][u]), part[2][u]);
      if constexpr (kSums == 4) total = ei::padd(ei::padd(total, part[1][u]), ei::padd(part[2][u], part[3][u]));
      acc[u] = total;
    }
  }

  // Σ of N packets, pairwise (a tree fixed at compile time).
  template <int N>
  static Packet tree_sum(const Packet* p) {
    if constexpr (N == 1)
      return p[0];
    else
      return Eigen::internal::padd(tree_sum<N / 2>(p), tree_sum<N - N / 2>(p + N / 2));
  }

  // One forward step: current = (previousᵀ A) · previous_inverse ⊙ e; returns c = Σ current, and
  // alpha = current / c when c is in range.
  static double forward_step(const double* __restrict previous, const double* __restrict A, double previous_inverse,
                             const double* __restrict e, double* __restrict current, double* __restrict alpha) {
    namespace ei = Eigen::internal;
    Packet acc[kVectors];
    combine_rows(previous, A, acc);
    const Packet r = ei::pset1<Packet>(previous_inverse);
    for (int u = 0; u < kVectors; ++u) {
      acc[u] = ei::pmul(ei::pmul(acc[u], r), ei::ploadu<Packet>(e + u * kPacket));
      ei::pstoreu(current + u * kPacket, acc[u]);
    }
    const double c = ei::predux(tree_sum<kVectors>(acc));
    if (!(c >= kMinScale)) return c;
    const Packet inverse = ei::pset1<Packet>(1.0 / c);
    for (int u = 0; u < kVectors; ++u) ei::pstoreu(alpha + u * kPacket, ei::pmul(acc[u], inverse));
    return c;
  }

  // One backward step: beta = A v_next (At = Aᵀ row-major), v = e ⊙ beta · inverse_scale where
  // alpha ≠ 0, else 0 (a state with zero forward probability never meets its possibly huge β̂).
  static void backward_step(const double* __restrict v_next, const double* __restrict At, const double* __restrict e,
                            const double* __restrict alpha, double inverse_scale, double* __restrict beta,
                            double* __restrict v) {
    namespace ei = Eigen::internal;
    Packet acc[kVectors];
    combine_rows(v_next, At, acc);
    const Packet s = ei::pset1<Packet>(inverse_scale), zero = ei::pset1<Packet>(0.0);
    for (int u = 0; u < kVectors; ++u) {
      ei::pstoreu(beta + u * kPacket, acc[u]);
      const Packet value = ei::pmul(ei::pmul(ei::ploadu<Packet>(e + u * kPacket), acc[u]), s);
      ei::pstoreu(v + u * kPacket, ei::pandnot(value, ei::pcmp_eq(ei::ploadu<Packet>(alpha + u * kPacket), zero)));
    }
  }

  // flow += Σ_{r < n} alpha_r·ᵀ v_r· (alpha: n rows with stride alpha_stride; v: n rows of KF),
  // kFlowRows rows of flow at a time accumulated in registers over the n steps.
  static void add_flow(const double* __restrict alpha, Index alpha_stride, const double* __restrict v, Index n,
                       double* __restrict flow) {
    namespace ei = Eigen::internal;
    constexpr int G = kFlowRows;
    static_assert(KF % G == 0, "flow rows must divide the states");
    for (Index i = 0; i < KF; i += G) {
      Packet acc[G][kVectors];
      for (int g = 0; g < G; ++g)
        for (int u = 0; u < kVectors; ++u) acc[g][u] = ei::ploadu<Packet>(flow + (i + g) * KF + u * kPacket);
      for (Index r = 0; r < n; ++r) {
        const double* vr = v + r * KF;
        const double* ar = alpha + r * alpha_stride + i;
        for (int g = 0; g < G; ++g) {
          const Packet a = ei::pset1<Packet>(ar[g]);
          for (int u = 0; u < kVectors; ++u) acc[g][u] = ei::pmadd(a, ei::ploadu<Packet>(vr + u * kPacket), acc[g][u]);
        }
      }
      for (int g = 0; g < G; ++g)
        for (int u = 0; u < kVectors; ++u) ei::pstoreu(flow + (i + g) * KF + u * kPacket, acc[g][u]);
    }
  }

  // beta = A v_next (fixed size).
  static void combine_into(const double* __restrict x, const double* __restrict M, double* __restrict y) {
    Packet acc[kVectors];
    combine_rows(x, M, acc);
    for (int u = 0; u < kVectors; ++u) Eigen::internal::pstoreu(y + u * kPacket, acc[u]);
  }

  // Any K: y = scale · Σ_i x_i M_i· and flow += Σ_r alpha_r·ᵀ v_r· as vectorised axpy loops.
  static void generic_combine(const double* __restrict x, const double* __restrict M, double scale,
                              double* __restrict y, Index K) {
    for (Index k = 0; k < K; ++k) y[k] = 0.0;
    for (Index i = 0; i < K; ++i) {
      const double xi = x[i];
      const double* row = M + i * K;
      EMKIT_SIMD
      for (Index k = 0; k < K; ++k) y[k] += xi * row[k];
    }
    for (Index k = 0; k < K; ++k) y[k] *= scale;
  }
  static void generic_add_flow(const double* __restrict alpha, Index alpha_stride, const double* __restrict v, Index n,
                               double* __restrict flow, Index K) {
    for (Index i = 0; i < K; ++i) {
      double* out = flow + i * K;
      for (Index r = 0; r < n; ++r) {
        const double a = alpha[r * alpha_stride + i];
        const double* vr = v + r * K;
        EMKIT_SIMD
        for (Index k = 0; k < K; ++k) out[k] += a * vr[k];
      }
    }
  }

  // e -= max_k e_k; returns the maximum (fixed-size reductions when KF > 0).
  static double shift_row(double* e, Index K) {
    if constexpr (KF > 0) {
      Eigen::Map<Eigen::Array<double, KF, 1>> row(e);
      const double shift = row.maxCoeff();
      row -= shift;
      return shift;
    } else {
      Eigen::Map<Vector> row(e, K);
      const double shift = row.maxCoeff();
      row.array() -= shift;
      return shift;
    }
  }

  // a = 0 where a == 0, else a ⊙ b; returns Σ_k a_k (packet partial sums in a fixed order).
  static double posterior_row(double* __restrict a, const double* __restrict b, Index K) {
    if constexpr (KF > 0) {
      namespace ei = Eigen::internal;
      const Packet zero = ei::pset1<Packet>(0.0);
      Packet g[kVectors];
      for (int u = 0; u < kVectors; ++u) {
        const Packet au = ei::ploadu<Packet>(a + u * kPacket);
        g[u] = ei::pandnot(ei::pmul(au, ei::ploadu<Packet>(b + u * kPacket)), ei::pcmp_eq(au, zero));
        ei::pstoreu(a + u * kPacket, g[u]);
      }
      return ei::predux(tree_sum<kVectors>(g));
    } else {
      return vmath::masked_product_sum(a, b, K);
    }
  }

  // Scaled forward pass (see forward_scaled). The recursion runs on the unnormalised α̃_t =
  // (α̂_{t-1}ᵀ A) ⊙ e_t computed as (α̃_{t-1}ᵀ A) · (1/c_{t-1}) ⊙ e_t, so that the normalising
  // sum and division of a step run beside the next step's product instead of before it.
  static double forward(const Vector& startprob, const RowMatrix& transmat, Eigen::Ref<RowMatrix> lik,
                        Eigen::Ref<RowMatrix> alpha, Eigen::Ref<Vector> scale) {
    const Index T = lik.rows(), K = KF > 0 ? KF : lik.cols();
    const double* A = transmat.data();
    const bool contiguous = lik.outerStride() == K;
    Vector buffer(2 * K);
    double* previous = buffer.data();  // α̃_{t-1}
    double* current = buffer.data() + K;
    double previous_inverse = 1.0;  // 1 / c_{t-1}
    double loglik = 0.0;
    for (Index t0 = 0; t0 < T; t0 += kStepBlock) {
      const Index n = std::min(kStepBlock, T - t0);
      double shift_sum = 0.0;
      for (Index t = t0; t < t0 + n; ++t) {
        // (A NaN may escape the maximum; it then makes c NaN below, and the log-space pass decides.)
        const double shift = shift_row(&lik(t, 0), K);
        if (!std::isfinite(shift)) return kNaN;  // every state impossible: the log-space pass decides
        shift_sum += shift;
        if (!contiguous) vmath::exp_in_place(&lik(t, 0), K);
      }
      if (contiguous) vmath::exp_in_place(&lik(t0, 0), n * K);
      for (Index t = t0; t < t0 + n; ++t) {
        const double* e = &lik(t, 0);
        double* a = &alpha(t, 0);
        double c;
        if (t == 0) {
          for (Index k = 0; k < K; ++k) current[k] = startprob[k] * e[k];
          c = Eigen::Map<const Vector>(current, K).sum();
          if (c >= kMinScale)
            for (Index k = 0; k < K; ++k) a[k] = current[k] * (1.0 / c);
        } else if constexpr (KF > 0) {
          c = forward_step(previous, A, previous_inverse, e, current, a);  // α̂_{t-1}ᵀ A ⊙ e_t
        } else {
          generic_combine(previous, A, previous_inverse, current, K);
          for (Index k = 0; k < K; ++k) current[k] *= e[k];
          c = Eigen::Map<const Vector>(current, K).sum();
          if (c >= kMinScale)
            for (Index k = 0; k < K; ++k) a[k] = current[k] * (1.0 / c);
        }
        if (!(c >= kMinScale)) return kNaN;
        scale[t] = c;
        previous_inverse = 1.0 / c;
        std::swap(previous, current);
      }
      loglik += vmath::sum_log(&scale[t0], n) + shift_sum;
    }
    return loglik;
  }

  // Scaled backward pass (see backward_scaled).
  static bool backward(const RowMatrix& transmat, const Eigen::Ref<const RowMatrix>& lik, Eigen::Ref<RowMatrix> alpha,
                       const Eigen::Ref<const Vector>& scale, RowMatrix* xi) {
    const Index T = lik.rows(), K = KF > 0 ? KF : lik.cols();
    const Matrix A = transmat;  // column-major: its storage is Aᵀ row-major, β̂ = A v = Σ_k v_k (Aᵀ)_k·
    RowMatrix flow;             // Σ_t α̂_t v_{t+1}ᵀ; Σ_t ξ_t = A ⊙ flow
    if (xi) flow = RowMatrix::Zero(K, K);
    const Index B = std::min(kStepBlock, T);
    RowMatrix beta(B, K), v(B + 1, K);  // v row r = v_{t0 + r}; row n carries v_{t1} of the later block
    const Index n_blocks = (T + kStepBlock - 1) / kStepBlock;
    const Index alpha_stride = alpha.outerStride(), lik_stride = lik.outerStride();
    for (Index b = n_blocks - 1; b >= 0; --b) {
      const Index t0 = b * kStepBlock, n = std::min(kStepBlock, T - t0), t1 = t0 + n;
      for (Index t = t1 - 1; t >= t0; --t) {
        const Index r = t - t0;
        double* beta_t = &beta(r, 0);
        const double* alpha_t = alpha.data() + t * alpha_stride;
        const double* e_t = lik.data() + t * lik_stride;
        if (t == 0) {
          if (t == T - 1)
            for (Index k = 0; k < K; ++k) beta_t[k] = 1.0;
          else if constexpr (KF > 0)
            combine_into(&v(r + 1, 0), A.data(), beta_t);
          else
            generic_combine(&v(r + 1, 0), A.data(), 1.0, beta_t, K);
          v.row(r).setZero();
        } else if (t == T - 1) {
          for (Index k = 0; k < K; ++k) beta_t[k] = 1.0;
          // A state with zero forward probability has zero posterior whatever β̂ (which may then be
          // huge): such states are masked so that 0 · ∞ never arises.
          vmath::masked_product(alpha_t, e_t, beta_t, 1.0 / scale[t], &v(r, 0), K);
        } else if constexpr (KF > 0) {
          backward_step(&v(r + 1, 0), A.data(), e_t, alpha_t, 1.0 / scale[t], beta_t, &v(r, 0));
        } else {
          generic_combine(&v(r + 1, 0), A.data(), 1.0, beta_t, K);
          vmath::masked_product(alpha_t, e_t, beta_t, 1.0 / scale[t], &v(r, 0), K);
        }
      }
      if (xi) {
        const Index pairs = t1 == T ? n - 1 : n;  // steps t of the block with a successor t + 1
        if (pairs > 0) {
          if constexpr (KF > 0)
            add_flow(alpha.data() + t0 * alpha_stride, alpha_stride, &v(1, 0), pairs, flow.data());
          else
            generic_add_flow(alpha.data() + t0 * alpha_stride, alpha_stride, &v(1, 0), pairs, flow.data(), K);
        }
      }
      for (Index t = t0; t < t1; ++t) {
        double* a = alpha.data() + t * alpha_stride;
        const double total = posterior_row(a, &beta(t - t0, 0), K);  // γ_t ∝ α̂_t ⊙ β̂_t
        if (!(std::abs(total - 1.0) <= kPosteriorSlack)) return false;  // also catches NaN and ∞
        const double inverse = 1.0 / total;
        for (Index k = 0; k < K; ++k) a[k] *= inverse;
      }
      if (b > 0) v.row(kStepBlock) = v.row(0);  // v_{t0} is the successor term of the earlier block
    }
    if (xi) xi->array() += flow.array() * transmat.array();
    return true;
  }
};

// The fixed-size kernels for K states when K is a whole number of SIMD vectors, else the generic ones.
template <int K>
constexpr int kChainKernelSize = K % static_cast<int>(vmath::detail::kPacketSize) == 0 ? K : 0;

// Calls f(ChainKernels<KF>{}) with KF = K for the common state counts, else KF = 0 (any K).
template <class F>
decltype(auto) with_chain_kernels(Index K, F&& f) {
  switch (K) {
    case 2: return f(ChainKernels<kChainKernelSize<2>>{});
    case 4: return f(ChainKernels<kChainKernelSize<4>>{});
    case 6: return f(ChainKernels<kChainKernelSize<6>>{});
    case 8: return f(ChainKernels<kChainKernelSize<8>>{});
    case 12: return f(ChainKernels<kChainKernelSize<12>>{});
    case 16: return f(ChainKernels<kChainKernelSize<16>>{});
    case 24: return f(ChainKernels<kChainKernelSize<24>>{});
    case 32: return f(ChainKernels<kChainKernelSize<32>>{});
    default: return f(ChainKernels<0>{});
  }
}

// Scaled forward pass. In: lik = log p(x_t | k) (T×K). Out: lik = exp(log p − shift_t) (the scaled
// likelihoods e_t), alpha_t = p(z_t | x_1..t), scale_t = c_t. Returns log p(x_1..T), or NaN when a
// step lost range. Per block of steps: the row maxima (shifts), one vectorised exp over the
// block, then per step the prediction α̂_{t-1}ᵀ A (ChainKernels) and the normalisation.
inline double forward_scaled(const Vector& startprob, const RowMatrix& transmat, Eigen::Ref<RowMatrix> lik,
                             Eigen::Ref<RowMatrix> alpha, Eigen::Ref<Vector> scale) {
  return with_chain_kernels(lik.cols(), [&](auto kernels) {
    return decltype(kernels)::forward(startprob, transmat, lik, alpha, scale);
  });
}

// Scaled backward pass after forward_scaled: alpha becomes the state posteriors γ_t, and, when
// xi is given, xi += Σ_t ξ_t (summed transition posteriors). Returns false (xi untouched) when it
// lost range. Per block of steps (from the last): β̂_t = A v_{t+1} (ChainKernels, with Aᵀ
// row-major), v_t = e_t ⊙ β̂_t / c_t, then Σ_t α̂_t v_{t+1}ᵀ of the block accumulated in registers
// (before α̂ is overwritten), then γ_t. Σ_t ξ_t = A ⊙ Σ_t α̂_t v_{t+1}ᵀ.
inline bool backward_scaled(const RowMatrix& transmat, const Eigen::Ref<const RowMatrix>& lik,
                            Eigen::Ref<RowMatrix> alpha, const Eigen::Ref<const Vector>& scale, RowMatrix* xi) {
  return with_chain_kernels(lik.cols(), [&](auto kernels) {
    return decltype(kernels)::backward(transmat, lik, alpha, scale, xi);
  });
}

// Exact log-space forward(-backward) pass: the fallback of the scaled one. Returns log p(x_1..T);
// with post given, post = γ and xi += Σ_t ξ_t.
inline double forward_backward_log(const Vector& log_startprob, const RowMatrix& log_transmat,
                                   const Eigen::Ref<const RowMatrix>& log_lik, Eigen::Ref<RowMatrix>* post,
                                   RowMatrix* xi) {
  const Index T = log_lik.rows(), K = log_lik.cols();
  RowMatrix la(T, K);
  la.row(0) = log_startprob.transpose() + log_lik.row(0);
  Vector column(K);
  for (Index t = 1; t < T; ++t)
    for (Index j = 0; j < K; ++j) {
      column = la.row(t - 1).transpose() + log_transmat.col(j);
      la(t, j) = log_lik(t, j) + log_sum_exp(column);
    }
  const double loglik = log_sum_exp(la.row(T - 1));
  if (!post || !std::isfinite(loglik)) return loglik;
  RowMatrix lb(T, K);
  lb.row(T - 1).setZero();
  RowVector next(K);
  for (Index t = T - 2; t >= 0; --t) {
    next = log_lik.row(t + 1) + lb.row(t + 1);
    for (Index i = 0; i < K; ++i) lb(t, i) = log_sum_exp(log_transmat.row(i) + next);
  }
  for (Index t = 0; t < T; ++t) {
    (*post).row(t) = (la.row(t) + lb.row(t)).array().unaryExpr([&](double v) { return std::exp(v - loglik); }).matrix();
    (*post).row(t) /= (*post).row(t).sum();
  }
  if (xi) {
    for (Index t = 0; t + 1 < T; ++t) {
      next = log_lik.row(t + 1) + lb.row(t + 1);
      next.array() -= loglik;
      for (Index i = 0; i < K; ++i)
        for (Index j = 0; j < K; ++j) (*xi)(i, j) += std::exp(la(t, i) + log_transmat(i, j) + next[j]);
    }
  }
  return loglik;
}

// Most probable state path (Viterbi, log space); ties go to the lowest state index. Returns its
// log-probability log p(x, z*).
inline double viterbi_log(const Vector& log_startprob, const RowMatrix& log_transmat,
                          const Eigen::Ref<const RowMatrix>& log_lik, int* states) {
  const Index T = log_lik.rows(), K = log_lik.cols();
  Eigen::Matrix<int, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> from(T, K);
  Vector delta = log_startprob + log_lik.row(0).transpose(), next(K);
  for (Index t = 1; t < T; ++t) {
    for (Index j = 0; j < K; ++j) {
      double best = kNegInf;
      int arg = 0;
      for (Index i = 0; i < K; ++i) {
        const double v = delta[i] + log_transmat(i, j);
        if (v > best) {
          best = v;
          arg = static_cast<int>(i);
        }
      }
      next[j] = best + log_lik(t, j);
      from(t, j) = arg;
    }
    std::swap(delta, next);
  }
  Index last = 0;
  const double best = delta.maxCoeff(&last);
  states[T - 1] = static_cast<int>(last);
  for (Index t = T - 1; t > 0; --t) states[t - 1] = from(t, states[t]);
  return best;
}

// log of a probability vector, -inf for zeros.
template <class V>
auto log_of(const V& p) {
  return p.array().unaryExpr([](double v) { return v > 0.0 ? std::log(v) : kNegInf; }).matrix().eval();
}

}  // namespace detail

template <class Emission>
class HMM {
 public:
  using Stats = HMMStats<Emission>;
  using Data = HMMData<Emission>;
  using Groups = ParameterGroups<Emission>;

  // startprob_prior (K) and transmat_prior (K×K): Dirichlet concentrations (>= 1; empty = all 1,
  // i.e. maximum likelihood). fixed: parameter groups held fixed while fitting.
  HMM(Vector startprob, RowMatrix transmat, Emission emission, Vector startprob_prior = Vector(),
      RowMatrix transmat_prior = RowMatrix(), const std::vector<std::string>& fixed = {})
      : startprob_(std::move(startprob)), transmat_(std::move(transmat)), emission_(std::move(emission)),
        startprob_prior_(std::move(startprob_prior)), transmat_prior_(std::move(transmat_prior)) {
    const Index K = emission_.n_states();
    const std::string k = std::to_string(K);
    require(startprob_.size() == K, "startprob: expected " + k + " values, got " + std::to_string(startprob_.size()));
    check_distribution(startprob_, "startprob");
    require(transmat_.rows() == K && transmat_.cols() == K, "transmat: expected a (" + k + ", " + k + ") matrix");
    for (Index i = 0; i < K; ++i) {
      Vector row = transmat_.row(i).transpose();
      check_distribution(row, "transmat: row " + std::to_string(i));
      transmat_.row(i) = row.transpose();
    }
    if (startprob_prior_.size() == 0) startprob_prior_ = Vector::Ones(K);
    if (transmat_prior_.size() == 0) transmat_prior_ = RowMatrix::Ones(K, K);
    require(startprob_prior_.size() == K, "startprob_prior: expected " + k + " values");
    require(transmat_prior_.rows() == K && transmat_prior_.cols() == K,
            "transmat_prior: expected a (" + k + ", " + k + ") matrix");
    require(startprob_prior_.allFinite() && (startprob_prior_.array() >= 1.0).all(),
            "startprob_prior: expected Dirichlet concentrations >= 1");
    require(transmat_prior_.allFinite() && (transmat_prior_.array() >= 1.0).all(),
            "transmat_prior: expected Dirichlet concentrations >= 1");
    std::vector<std::string> known = {"startprob", "transmat", "emission"};
    for (const auto& name : Groups::names()) known.push_back(name);
    for (const auto& name : fixed) {
      if (std::find(known.begin(), known.end(), name) == known.end()) {
        std::string list;
        for (const auto& n : known) list += (list.empty() ? "'" : ", '") + n + "'";
        throw InvalidArgument("fixed: unknown parameter group '" + name + "'; expected some of " + list);
      }
      fixed_.insert(name);
    }
  }

  Index n_states() const { return startprob_.size(); }
  const Vector& startprob() const { return startprob_; }
  const RowMatrix& transmat() const { return transmat_; }
  const Emission& emission() const { return emission_; }
  Emission& emission() { return emission_; }
  const Vector& startprob_prior() const { return startprob_prior_; }
  const RowMatrix& transmat_prior() const { return transmat_prior_; }
  const FixedGroups& fixed() const { return fixed_; }
  bool is_fixed(const std::string& group) const { return fixed_.count(group) > 0; }
  bool has_prior() const {
    return (startprob_prior_.array() != 1.0).any() || (transmat_prior_.array() != 1.0).any() ||
           emission_.prior().has_value();
  }
  // States whose emission had no expected count at the last M-step (they kept their parameters).
  const std::vector<Index>& empty_states() const { return empty_; }

  // Free parameters: the entries on the support of every distribution not held fixed (minus one
  // per distribution for the sum), plus the family's free parameters.
  Index n_parameters() const {
    Index n = 0;
    if (!is_fixed("startprob")) n += (startprob_.array() > 0.0).count() - 1;
    if (!is_fixed("transmat"))
      for (Index i = 0; i < n_states(); ++i) n += (transmat_.row(i).array() > 0.0).count() - 1;
    if (!is_fixed("emission")) n += Groups::n_free_parameters(emission_, fixed_);
    return n;
  }

  Stats make_stats() const {
    const Index K = n_states();
    Stats s;
    s.start_counts = Vector::Zero(K);
    s.transition_counts = RowMatrix::Zero(K, K);
    s.emission_counts = Vector::Zero(K);
    s.emission = emission_.make_stats();
    return s;
  }

  // E-step over all sequences: the log-likelihood and the expected sufficient statistics.
  Stats e_step(const Data& data, int n_threads) const {
    check_data(data);
    const auto ws = emission_.prepare(data.emission, n_threads);
    const bool emission_free = !is_fixed("emission");
    return reduce_sequences<Stats>(
        data.offsets, n_threads, [&] { return make_stats(); },
        [&](Stats& acc, Index first, Index end, bool solo, int threads) {
          const Index K = n_states();
          RowMatrix lik, post, xi(K, K);
          Vector scale;
          for (Index s = first; s < end; ++s) {
            const double w = data.weight(s);
            const Index begin = data.begin(s), T = data.length(s);
            acc.total_weight += w * static_cast<double>(T);
            if (w == 0.0) continue;
            lik.resize(T, K);
            post.resize(T, K);
            scale.resize(T);
            xi.setZero();
            const double loglik = forward_backward(data, ws, s, threads, lik, post, scale, &xi);
            acc.loglik += w * loglik;
            acc.transition_counts += w * xi;
            post *= w;
            acc.start_counts += post.row(0).transpose();
            for (Index t = 0; t < T; ++t)
              if (!detail::row_has_observation(data.emission, begin + t)) post.row(t).setZero();
            acc.emission_counts += post.colwise().sum().transpose();
            if (emission_free) accumulate_emission(data, ws, begin, post, solo, threads, acc.emission);
          }
        });
  }

  // M-step: Dirichlet MAP of start and transition probabilities on their support, the family's
  // M-step on the emission statistics; groups in fixed() are left unchanged.
  void m_step(const Stats& stats) {
    const Index K = n_states();
    require(stats.start_counts.size() == K && stats.transition_counts.rows() == K &&
                stats.transition_counts.cols() == K && stats.emission_counts.size() == K,
            "stats: number of states does not match the model");
    require(stats.total_weight > 0, "stats: total weight must be > 0");
    Vector startprob = startprob_;
    RowMatrix transmat = transmat_;
    if (!is_fixed("startprob")) startprob = dirichlet_map(startprob_, stats.start_counts, startprob_prior_);
    if (!is_fixed("transmat"))
      for (Index i = 0; i < K; ++i)
        transmat.row(i) = dirichlet_map(transmat_.row(i).transpose(), stats.transition_counts.row(i).transpose(),
                                        transmat_prior_.row(i).transpose())
                              .transpose();
    if (is_fixed("emission"))
      empty_.clear();
    else
      empty_ = Groups::maximize(emission_, stats.emission, stats.emission_counts, stats.emission_counts.sum(), fixed_);
    startprob_ = std::move(startprob);
    transmat_ = std::move(transmat);
  }

  // log p(parameters): Dirichlet densities (normalised, over each distribution's support) plus the
  // family's log-prior; 0 under maximum likelihood (no prior at all).
  double log_prior() const {
    if (!has_prior()) return 0.0;
    double value = dirichlet_log_density(startprob_, startprob_prior_);
    for (Index i = 0; i < n_states(); ++i)
      value += dirichlet_log_density(transmat_.row(i).transpose(), transmat_prior_.row(i).transpose());
    return value + emission_.log_prior();
  }

  // State posteriors p(z_t = k | x of its sequence) for every row, and log p(x_s) per sequence.
  void posterior(const Data& data, int n_threads, Eigen::Ref<RowMatrix> post, Eigen::Ref<Vector> log_prob) const {
    check_data(data);
    require(post.rows() == data.n_rows() && post.cols() == n_states(), "posterior: expected an (n_rows, K) output");
    require(log_prob.size() == data.n_sequences(), "log_prob: expected one value per sequence");
    const auto ws = emission_.prepare(data.emission, n_threads);
    for_each_sequence(data.offsets, n_threads, [&](Index first, Index end, bool, int threads) {
      RowMatrix lik;
      Vector scale;
      for (Index s = first; s < end; ++s) {
        lik.resize(data.length(s), n_states());
        scale.resize(data.length(s));
        log_prob[s] = forward_backward(data, ws, s, threads, lik, post.middleRows(data.begin(s), data.length(s)),
                                       scale, nullptr);
      }
    });
  }

  // log p(x_s) per sequence (forward pass only).
  void score(const Data& data, int n_threads, Eigen::Ref<Vector> log_prob) const {
    check_data(data);
    require(log_prob.size() == data.n_sequences(), "log_prob: expected one value per sequence");
    const auto ws = emission_.prepare(data.emission, n_threads);
    for_each_sequence(data.offsets, n_threads, [&](Index first, Index end, bool, int threads) {
      RowMatrix lik, alpha;
      Vector scale;
      for (Index s = first; s < end; ++s) {
        const Index T = data.length(s);
        lik.resize(T, n_states());
        alpha.resize(T, n_states());
        scale.resize(T);
        sequence_log_lik(data, ws, s, threads, lik);
        double value = detail::forward_scaled(startprob_, transmat_, lik, alpha, scale);
        if (std::isnan(value)) {
          sequence_log_lik(data, ws, s, threads, lik);
          value = detail::forward_backward_log(detail::log_of(startprob_), detail::log_of(transmat_), lik, nullptr,
                                               nullptr);
        }
        log_prob[s] = value;
      }
    });
  }

  // Most probable state path of every sequence (Viterbi) and its log-probability per sequence.
  void viterbi(const Data& data, int n_threads, Eigen::Ref<Eigen::VectorXi> states, Eigen::Ref<Vector> log_prob) const {
    check_data(data);
    require(states.size() == data.n_rows(), "states: expected one value per row");
    require(log_prob.size() == data.n_sequences(), "log_prob: expected one value per sequence");
    const auto ws = emission_.prepare(data.emission, n_threads);
    const Vector log_startprob = detail::log_of(startprob_);
    const RowMatrix log_transmat = detail::log_of(transmat_);
    for_each_sequence(data.offsets, n_threads, [&](Index first, Index end, bool, int threads) {
      RowMatrix lik;
      for (Index s = first; s < end; ++s) {
        lik.resize(data.length(s), n_states());
        sequence_log_lik(data, ws, s, threads, lik);
        log_prob[s] = detail::viterbi_log(log_startprob, log_transmat, lik, states.data() + data.begin(s));
      }
    });
  }

  // n time steps of one sequence: states from the chain, rows from the emission family.
  template <class Rng>
  void sample(Index n, Rng& rng, Eigen::Ref<RowMatrix> X, Eigen::Ref<Eigen::VectorXi> states) const {
    std::discrete_distribution<int> start(startprob_.data(), startprob_.data() + startprob_.size());
    std::vector<std::discrete_distribution<int>> next;
    for (Index i = 0; i < n_states(); ++i) {
      const Vector row = transmat_.row(i).transpose();
      next.emplace_back(row.data(), row.data() + row.size());
    }
    Vector row(X.cols());
    int state = 0;
    for (Index t = 0; t < n; ++t) {
      state = t == 0 ? start(rng) : next[static_cast<size_t>(state)](rng);
      states[t] = state;
      emission_.sample(state, rng, row);
      X.row(t) = row.transpose();
    }
  }

 private:
  Vector startprob_;
  RowMatrix transmat_;
  Emission emission_;
  Vector startprob_prior_;
  RowMatrix transmat_prior_;
  FixedGroups fixed_;
  std::vector<Index> empty_;

  static void check_distribution(Vector& p, const std::string& name) {
    require(p.allFinite() && (p.array() >= 0).all(), name + ": expected nonnegative finite probabilities");
    require(std::abs(p.sum() - 1.0) < 1e-8, name + ": expected probabilities summing to 1, got a sum of " +
                                                std::to_string(p.sum()));
    p /= p.sum();
  }

  void check_data(const Data& data) const {
    require(data.n_sequences() >= 1, "lengths: expected at least one sequence");
    require(data.emission.n_rows() == data.n_rows(), "X: the data view does not match the sequences");
  }

  // Dirichlet MAP of a categorical distribution on the support of `previous` (zeros stay zero):
  // p_j ∝ counts_j + alpha_j − 1. Without expected counts (a zero total) the previous value stays.
  static Vector dirichlet_map(const Vector& previous, const Vector& counts, const Vector& alpha) {
    Vector p = Vector::Zero(previous.size());
    for (Index j = 0; j < p.size(); ++j)
      if (previous[j] > 0.0) p[j] = counts[j] + (alpha[j] - 1.0);
    const double total = p.sum();
    if (!(total > 0.0) || !std::isfinite(total)) return previous;
    return p / total;
  }

  // log Dirichlet(p | alpha) over the support of p (normalised; a one-point support has density 1).
  static double dirichlet_log_density(const Vector& p, const Vector& alpha) {
    double sum_alpha = 0.0, value = 0.0;
    for (Index j = 0; j < p.size(); ++j) {
      if (!(p[j] > 0.0)) continue;
      sum_alpha += alpha[j];
      value -= std::lgamma(alpha[j]);
      if (alpha[j] != 1.0) value += (alpha[j] - 1.0) * std::log(p[j]);
    }
    return value + std::lgamma(sum_alpha);
  }

  // log p(x_t | k) of sequence s, in fixed blocks of kBlockRows from the sequence's first row
  // (in parallel over the blocks when threads > 1; the values do not depend on it).
  void sequence_log_lik(const Data& data, const typename Emission::Workspace& ws, Index s, int threads,
                        Eigen::Ref<RowMatrix> out) const {
    const Index begin = data.begin(s), T = data.length(s);
    const Index n_blocks = (T + kBlockRows - 1) / kBlockRows;
    parallel_for(n_blocks, threads, [&](Index b) {
      const Index lo = b * kBlockRows, hi = std::min(T, lo + kBlockRows);
      emission_.log_prob(data.emission, ws, begin + lo, begin + hi, out.middleRows(lo, hi - lo));
    });
  }

  // Forward-backward on sequence s: post = γ, xi += Σ_t ξ_t (if given); returns log p(x_s).
  double forward_backward(const Data& data, const typename Emission::Workspace& ws, Index s, int threads,
                          Eigen::Ref<RowMatrix> lik, Eigen::Ref<RowMatrix> post, Eigen::Ref<Vector> scale,
                          RowMatrix* xi) const {
    sequence_log_lik(data, ws, s, threads, lik);
    const double loglik = detail::forward_scaled(startprob_, transmat_, lik, post, scale);
    // backward_scaled adds to xi only when it succeeds.
    if (!std::isnan(loglik) && detail::backward_scaled(transmat_, lik, post, scale, xi)) return loglik;
    // The scaled pass lost range: redo this sequence exactly in log space.
    sequence_log_lik(data, ws, s, threads, lik);
    const double exact = detail::forward_backward_log(detail::log_of(startprob_), detail::log_of(transmat_), lik,
                                                      &post, xi);
    if (!std::isfinite(exact))
      throw NumericalError("sequence " + std::to_string(s) +
                           " has zero likelihood under the current parameters (no state path can produce it)");
    return exact;
  }

  // Adds the rows of one sequence with (weighted) posteriors post to the emission statistics: in
  // blocks of kBlockRows from the sequence's first row; a solo sequence is split into fixed
  // sub-chunks reduced in parallel and merged in order (bit-identical for any thread count).
  void accumulate_emission(const Data& data, const typename Emission::Workspace& ws, Index begin,
                           const RowMatrix& post, bool solo, int threads, typename Emission::Stats& stats) const {
    const Index T = post.rows();
    if (solo) {
      stats += reduce_rows<typename Emission::Stats>(
          T, threads, [&] { return emission_.make_stats(); },
          [&](typename Emission::Stats& acc, Index lo, Index hi) {
            emission_.accumulate(data.emission, ws, begin + lo, begin + hi, post.middleRows(lo, hi - lo), acc);
          });
      return;
    }
    for (Index lo = 0; lo < T; lo += kBlockRows) {
      const Index hi = std::min(T, lo + kBlockRows);
      emission_.accumulate(data.emission, ws, begin + lo, begin + hi, post.middleRows(lo, hi - lo), stats);
    }
  }
};

}  // namespace emkit
