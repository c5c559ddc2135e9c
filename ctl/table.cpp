#include "ctl/table.h"

#include <algorithm>

namespace ipfence::ctl {

namespace {

// kubectl's tabwriter settings (k8s.io/cli-runtime printers: minwidth 6, padding 3).
constexpr std::size_t kMinCellWidth = 6;
constexpr std::size_t kPadding = 3;

// Display width: code points, not bytes, as Go's tabwriter counts runes (pod names and
// interface names are ASCII, but annotations and error text need not be).
std::size_t display_width(const std::string& text) {
  return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

}  // namespace

void Table::add_row(std::vector<std::string> cells) {
  cells.resize(headers_.size());
  rows_.push_back(std::move(cells));
}

std::string Table::render() const {
  const std::size_t columns = headers_.size();
  std::vector<std::size_t> widths(columns, 0);
  auto measure = [&](const std::vector<std::string>& cells) {
    for (std::size_t i = 0; i < columns; ++i) {
      widths[i] = std::max(widths[i], display_width(cells[i]));
    }
  };
  measure(headers_);
  for (const auto& row : rows_) measure(row);
  for (auto& width : widths) width = std::max(width + kPadding, kMinCellWidth);

  std::string text;
  auto emit = [&](const std::vector<std::string>& cells) {
    for (std::size_t i = 0; i < columns; ++i) {
      text += cells[i];
      if (i + 1 < columns) text.append(widths[i] - display_width(cells[i]), ' ');
    }
    text += '\n';
  };
  emit(headers_);
  for (const auto& row : rows_) emit(row);
  return text;
}

}  // namespace ipfence::ctl
