// Tables as kubectl prints them: a header row of upper-case column names, then one row per
// object, every column left aligned. The layout is kubectl's tabwriter's (minimum cell width 6,
// padding 3), so scripts that cut kubectl's columns cut ours the same way.
#pragma once

#include <string>
#include <vector>

namespace ipfence::ctl {

class Table {
 public:
  explicit Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}

  // A row with fewer cells than headers is padded with empty cells; extra cells are dropped.
  void add_row(std::vector<std::string> cells);
  bool empty() const { return rows_.empty(); }
  std::size_t size() const { return rows_.size(); }

  // Every line ends in '\n'. A column is as wide as its widest cell plus 3 spaces, and at least
  // 6; the last column is not padded (no trailing spaces unless its cells are empty).
  std::string render() const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace ipfence::ctl
