// Test helper: a family's log-densities of every row, block by block as a structure's E-step asks
// for them.
#pragma once

#include <emkit/parallel.hpp>
#include <emkit/types.hpp>

#include <algorithm>

namespace emkit_test {

template <class Family>
emkit::RowMatrix log_prob_by_blocks(const Family& family, const typename Family::Data& data,
                                    const typename Family::Workspace& ws) {
  using emkit::Index;
  emkit::RowMatrix out(data.n_rows(), family.n_states());
  for (Index b = 0; b < data.n_rows(); b += emkit::kBlockRows) {
    const Index e = std::min(data.n_rows(), b + emkit::kBlockRows);
    family.log_prob(data, ws, b, e, out.middleRows(b, e - b));
  }
  return out;
}

}  // namespace emkit_test
