// fit_gmm: fits a Gaussian mixture to a numeric CSV file with the emkit C++ core.
//
//   fit_gmm <file.csv> <n_components> [covariance_type] [seed]
//
// The CSV holds one row per observation and one numeric column per feature, with an optional
// header row. Empty fields, NA and NaN are missing values: emkit integrates them out exactly.
// Exit codes: 0 on success, 2 on bad input (arguments or file), 1 if the fit itself fails.
#include <emkit/emkit.hpp>

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

const char* const kUsage =
    "usage: fit_gmm <file.csv> <n_components> [covariance_type] [seed]\n"
    "  covariance_type: full (default), tied, diag or spherical\n"
    "  seed: a nonnegative integer for the k-means++ initialisation (default 0)\n";

// Bad input: reported with exit code 2.
struct InputError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Table {
  std::vector<std::string> names;  // from the header row, or x0, x1, ...
  emkit::RowMatrix values;         // NaN = missing
  std::size_t n_missing = 0;
};

std::string trim(const std::string& s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  const auto last = s.find_last_not_of(" \t\r\n");
  return s.substr(first, last - first + 1);
}

std::vector<std::string> split_fields(const std::string& line) {
  std::vector<std::string> fields;
  std::string field;
  std::istringstream stream(line);
  while (std::getline(stream, field, ',')) fields.push_back(trim(field));
  if (!line.empty() && line.back() == ',') fields.emplace_back();  // getline drops a trailing empty field
  return fields;
}

bool is_missing(const std::string& field) {
  if (field.empty()) return true;
  std::string lower;
  for (char c : field) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower == "na" || lower == "nan";
}

// Parses a whole field as a double; false if anything is left over.
bool parse_number(const std::string& field, double& value) {
  if (field.empty()) return false;
  errno = 0;
  char* end = nullptr;
  value = std::strtod(field.c_str(), &end);
  return end == field.c_str() + field.size() && errno != ERANGE;
}

Table read_csv(const std::string& path) {
  std::ifstream file(path);
  if (!file) throw InputError("cannot open '" + path + "'");
  Table table;
  std::vector<double> values;
  std::size_t n_cols = 0, n_rows = 0, line_number = 0;
  bool first = true;
  std::string line;
  while (std::getline(file, line)) {
    ++line_number;
    if (trim(line).empty()) continue;
    const std::vector<std::string> fields = split_fields(line);
    if (first) {
      first = false;
      n_cols = fields.size();
      bool header = false;
      double ignored;
      for (const auto& f : fields) header = header || (!is_missing(f) && !parse_number(f, ignored));
      if (header) {
        for (const auto& f : fields) table.names.push_back(f);
        continue;
      }
      for (std::size_t j = 0; j < n_cols; ++j) table.names.push_back("x" + std::to_string(j));
    }
    if (fields.size() != n_cols)
      throw InputError(path + ":" + std::to_string(line_number) + ": expected " + std::to_string(n_cols) +
                       " fields, got " + std::to_string(fields.size()));
    for (std::size_t j = 0; j < n_cols; ++j) {
      double value;
      if (is_missing(fields[j])) {
        value = std::numeric_limits<double>::quiet_NaN();
        ++table.n_missing;
      } else if (!parse_number(fields[j], value) || !std::isfinite(value)) {
        throw InputError(path + ":" + std::to_string(line_number) + ": column '" + table.names[j] +
                         "': '" + fields[j] + "' is not a finite number (missing values are empty, NA or NaN)");
      }
      values.push_back(value);
    }
    ++n_rows;
  }
  if (n_rows == 0) throw InputError("'" + path + "' has no data rows");
  table.values = Eigen::Map<emkit::RowMatrix>(values.data(), static_cast<emkit::Index>(n_rows),
                                              static_cast<emkit::Index>(n_cols));
  return table;
}

std::uint64_t parse_unsigned(const std::string& text, const std::string& what,
                             const std::string& expected = "a nonnegative integer") {
  errno = 0;
  char* end = nullptr;
  const unsigned long long value = std::strtoull(text.c_str(), &end, 10);
  if (text.empty() || text[0] == '-' || end != text.c_str() + text.size() || errno == ERANGE)
    throw InputError(what + ": expected " + expected + ", got '" + text + "'");
  return static_cast<std::uint64_t>(value);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && (std::string(argv[1]) == "-h" || std::string(argv[1]) == "--help")) {
    std::cout << kUsage;
    return 0;
  }
  try {
    if (argc < 3 || argc > 5) throw InputError("expected 2 to 4 arguments, got " + std::to_string(argc - 1));
    const std::string path = argv[1];
    const std::uint64_t n_components = parse_unsigned(argv[2], "n_components", "an integer >= 1");
    if (n_components < 1) throw InputError("n_components: expected an integer >= 1, got 0");
    const emkit::CovarianceType type = emkit::parse_covariance_type(argc > 3 ? argv[3] : "full");
    const std::uint64_t seed = argc > 4 ? parse_unsigned(argv[4], "seed") : 0;

    const Table table = read_csv(path);
    const auto fit = emkit::fit_gaussian_mixture(table.values, static_cast<emkit::Index>(n_components), type, seed);

    const auto& model = fit.model;
    const auto& means = model.emission().means();
    std::printf("data: %s (%lld rows, %lld columns, %zu missing values)\n", path.c_str(),
                static_cast<long long>(table.values.rows()), static_cast<long long>(table.values.cols()),
                table.n_missing);
    std::printf("covariance_type: %s\n", emkit::covariance_type_name(type));
    std::printf("converged: %s\n", fit.result.converged ? "true" : "false");
    std::printf("n_iter: %d\n", fit.result.n_iter);
    std::printf("log-likelihood: %.10g\n", fit.result.loglik.back());
    std::printf("weights:");
    for (emkit::Index k = 0; k < model.n_states(); ++k) std::printf(" %.6f", model.weights()[k]);
    std::printf("\nmeans (");
    for (std::size_t j = 0; j < table.names.size(); ++j) std::printf("%s%s", j ? ", " : "", table.names[j].c_str());
    std::printf("):\n");
    for (emkit::Index k = 0; k < means.rows(); ++k) {
      std::printf("  component %lld:", static_cast<long long>(k));
      for (emkit::Index j = 0; j < means.cols(); ++j) std::printf(" %.6f", means(k, j));
      std::printf("\n");
    }
    return 0;
  } catch (const InputError& e) {
    std::cerr << "fit_gmm: error: " << e.what() << "\n" << kUsage;
    return 2;
  } catch (const emkit::InvalidArgument& e) {  // e.g. more components than rows, a row with no value
    std::cerr << "fit_gmm: error: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {  // emkit::NumericalError and anything unexpected
    std::cerr << "fit_gmm: the fit failed: " << e.what() << "\n";
    return 1;
  }
}
