// k-means++ seeding followed by Lloyd iterations.
#include <emkit/emkit.hpp>

#include <cstdint>
#include <random>
#include <set>

#include "check.hpp"

using namespace emkit;

namespace {

// 100 points around each of three centres 10 apart, standard deviation 0.5.
RowMatrix three_blobs(std::uint64_t seed, RowMatrix& centres) {
  centres.resize(3, 2);
  centres << 0.0, 0.0, 10.0, 0.0, 0.0, 10.0;
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 0.5);
  RowMatrix X(300, 2);
  for (Index i = 0; i < 300; ++i)
    for (Index j = 0; j < 2; ++j) X(i, j) = centres(i / 100, j) + normal(rng);
  return X;
}

}  // namespace

TEST(recovers_well_separated_centres) {
  RowMatrix truth;
  const RowMatrix X = three_blobs(42, truth);
  for (std::uint64_t seed = 0; seed < 5; ++seed) {
    const KMeansResult km = kmeans_plus_plus(X, Vector(), 3, seed);
    std::set<int> labels_used;
    for (Index b = 0; b < 3; ++b) {
      // Every point of blob b carries the same label, whose centre is blob b's centre.
      const int label = km.labels[b * 100];
      labels_used.insert(label);
      for (Index i = b * 100; i < (b + 1) * 100; ++i) CHECK(km.labels[i] == label);
      CHECK((km.centers.row(label) - truth.row(b)).norm() < 0.2);
    }
    CHECK(labels_used.size() == 3);
    double inertia = 0.0;
    for (Index i = 0; i < X.rows(); ++i) inertia += (X.row(i) - km.centers.row(km.labels[i])).squaredNorm();
    CHECK_NEAR(km.inertia, inertia, 1e-9 * inertia);
  }
}

TEST(same_seed_gives_the_same_result_whatever_the_thread_count) {
  RowMatrix truth;
  const RowMatrix X = three_blobs(7, truth);
  const KMeansResult first = kmeans_plus_plus(X, Vector(), 4, 123, 10, 1);
  for (const int threads : {1, 2, 4}) {
    const KMeansResult again = kmeans_plus_plus(X, Vector(), 4, 123, 10, threads);
    CHECK(again.centers == first.centers);
    CHECK(again.labels == first.labels);
    CHECK(again.inertia == first.inertia);
  }
}

TEST(rows_with_zero_weight_are_never_chosen_as_centres) {
  RowMatrix truth;
  RowMatrix X = three_blobs(3, truth);
  Vector weight = Vector::Ones(X.rows());
  X.row(0) << 1000.0, 1000.0;  // a far outlier that k-means++ would otherwise favour
  weight[0] = 0.0;
  for (std::uint64_t seed = 0; seed < 5; ++seed) {
    const KMeansResult km = kmeans_plus_plus(X, weight, 3, seed, 0);
    CHECK(km.centers.cwiseAbs().maxCoeff() < 100.0);
  }
}

TEST(too_few_rows_is_invalid_argument) {
  RowMatrix truth;
  const RowMatrix X = three_blobs(1, truth).topRows(2);
  CHECK_THROWS(kmeans_plus_plus(X, Vector(), 3, 0), InvalidArgument);
}

int main() { return emkit_test::run_all("test_kmeans"); }
