// The per-sequence recursions of the HMM structure, over the emission log-likelihoods of one
// sequence (T×K) and the chain's parameters: the scaled forward–backward pass (Rabiner 1989) with
// its per-step kernels, the exact log-space pass it falls back on, and Viterbi decoding.
// structures/hmm.hpp says when each is used; nothing here knows the emission family.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "../../detail/vector_math.hpp"
#include "../../types.hpp"

namespace emkit {
namespace detail {

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
}  // namespace emkit
