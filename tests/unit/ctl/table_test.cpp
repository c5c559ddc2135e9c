#include "ctl/table.h"

#include <gtest/gtest.h>

namespace ipfence::ctl {
namespace {

TEST(Table, AlignsColumnsLikeKubectl) {
  Table table({"NAME", "VERSION", "SUBNET", "ALLOCATED-IP-COUNT", "TOTAL-IP-COUNT", "DEFAULT"});
  table.add_row({"test-ippool", "4", "10.6.0.0/16", "1", "3", "false"});
  table.add_row({"v6", "6", "fd00::/64", "0", "254", "true"});
  EXPECT_EQ(table.render(),
            "NAME          VERSION   SUBNET        ALLOCATED-IP-COUNT   TOTAL-IP-COUNT   DEFAULT\n"
            "test-ippool   4         10.6.0.0/16   1                    3                false\n"
            "v6            6         fd00::/64     0                    254              true\n");
}

TEST(Table, NarrowColumnsAreSixWide) {
  // kubectl's tabwriter has a minimum cell width of 6 (text plus padding).
  Table table({"IP", "A"});
  table.add_row({"x", "y"});
  EXPECT_EQ(table.render(), "IP    A\nx     y\n");
}

TEST(Table, SeedMultusConfigList) {
  Table table({"NAME", "AGE"});
  table.add_row({"macvlan-ens192", "26m"});
  EXPECT_EQ(table.render(), "NAME             AGE\nmacvlan-ens192   26m\n");
}

TEST(Table, ShortRowsArePaddedAndWidthCountsCodePoints) {
  Table table({"NAME", "NOTE", "LAST"});
  table.add_row({"\xc3\xa9t\xc3\xa9"});  // "été": 3 code points, 5 bytes
  EXPECT_EQ(table.render(),
            "NAME   NOTE   LAST\n\xc3\xa9t\xc3\xa9    "
            "       \n");
  EXPECT_EQ(table.size(), 1u);
}

TEST(Table, HeaderOnlyWhenEmpty) {
  Table table({"NAME", "AGE"});
  EXPECT_TRUE(table.empty());
  EXPECT_EQ(table.render(), "NAME   AGE\n");
}

}  // namespace
}  // namespace ipfence::ctl
