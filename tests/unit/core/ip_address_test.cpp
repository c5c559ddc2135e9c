// Address, prefix and range text: strict parsing, canonical printing (RFC 5952), and the exact
// error messages users see (Spiderpool's for ranges).
#include "ipam/ip_address.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ipfence::ipam {
namespace {

constexpr u128 kMax = ~u128{0};

std::string canonical(std::string_view text) {
  auto ip = IpAddress::parse(text);
  EXPECT_TRUE(ip.ok()) << text << ": " << (ip.ok() ? "" : ip.error().message);
  return ip.ok() ? ip->to_string() : "<error>";
}

TEST(FamilyTest, NamesAndMaxima) {
  EXPECT_EQ(family_name(IpFamily::v4), "IPv4");
  EXPECT_EQ(family_name(IpFamily::v6), "IPv6");
  EXPECT_EQ(u128_to_string(family_max(IpFamily::v4)), "4294967295");
  EXPECT_EQ(u128_to_string(family_max(IpFamily::v6)), "340282366920938463463374607431768211455");
}

TEST(U128ToStringTest, Decimal) {
  EXPECT_EQ(u128_to_string(0), "0");
  EXPECT_EQ(u128_to_string(7), "7");
  EXPECT_EQ(u128_to_string(u128{1} << 64), "18446744073709551616");
  EXPECT_EQ(u128_to_string(kMax), "340282366920938463463374607431768211455");
}

TEST(IpAddressTest, ParsesIpv4) {
  auto ip = IpAddress::parse("10.6.0.1");
  ASSERT_TRUE(ip.ok());
  EXPECT_TRUE(ip->is_v4());
  EXPECT_EQ(ip->value(), u128{0x0a060001});
  EXPECT_EQ(ip->to_string(), "10.6.0.1");
  EXPECT_EQ(canonical("0.0.0.0"), "0.0.0.0");
  EXPECT_EQ(canonical("255.255.255.255"), "255.255.255.255");
  EXPECT_EQ(IpAddress::parse("255.255.255.255")->value(), u128{0xffffffff});
}

TEST(IpAddressTest, RejectsBadIpv4WithMessage) {
  for (const char* text :
       {"",           " 10.0.0.1",  "10.0.0.1 ",  "10.0.0.01",     "010.0.0.1",
        "00.0.0.0",   "256.0.0.1",  "10.0.0",     "10.0.0.1.2",    "10..0.1",
        "10.0.0.",    ".10.0.0.1",  "1e.0.0.1",   "+1.0.0.1",      "10.0.0.-1",
        "0x0a.0.0.1", "1000.0.0.1", "10.0.0.0/8", "10.0.0.1%eth0", "10.0.0.1-"}) {
    auto ip = IpAddress::parse(text);
    ASSERT_FALSE(ip.ok()) << text;
    EXPECT_EQ(ip.error().code, ErrorCode::invalid_argument);
    EXPECT_EQ(ip.error().message, "invalid IP address '" + std::string(text) + "'");
  }
}

// RFC 5952 section 4: lowercase, no leading zeros, longest zero run (first on a tie, and only
// runs of two or more) as "::".
TEST(IpAddressTest, PrintsIpv6PerRfc5952) {
  struct Case {
    const char* input;
    const char* canonical;
  };
  for (const Case& c : std::vector<Case>{
           {"2001:db8::1", "2001:db8::1"},
           {"::", "::"},
           {"::1", "::1"},
           {"1::", "1::"},
           {"2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"},     // tie: the first run
           {"2001:0:0:1:0:0:0:1", "2001:0:0:1::1"},           // the longest run wins
           {"2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"},  // one zero group stays
           {"2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1"},
           {"2001:DB8::ABCD", "2001:db8::abcd"},
           {"1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"},
           {"::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8"},
           {"1:0:0:0:0:0:0:0", "1::"},
           {"fe80::", "fe80::"},
           {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
           // Section 5: IPv4-mapped addresses print in mixed notation, as inet_ntop and Go's
           // netip do; other embedded forms (deprecated IPv4-compatible, NAT64) print in hex.
           {"::ffff:1.2.3.4", "::ffff:1.2.3.4"},
           {"::FFFF:0102:0304", "::ffff:1.2.3.4"},
           {"::ffff:0.0.0.0", "::ffff:0.0.0.0"},
           {"::1.2.3.4", "::102:304"},
           {"64:ff9b::192.0.2.33", "64:ff9b::c000:221"},
           {"1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304"},
       }) {
    EXPECT_EQ(canonical(c.input), c.canonical) << c.input;
    // The canonical text is a fixed point.
    EXPECT_EQ(canonical(c.canonical), c.canonical);
  }
}

TEST(IpAddressTest, Ipv6Values) {
  auto ip = IpAddress::parse("2001:db8::1");
  ASSERT_TRUE(ip.ok());
  EXPECT_EQ(ip->family(), IpFamily::v6);
  EXPECT_EQ(ip->value(), (u128{0x20010db8} << 96) | 1);
  EXPECT_EQ(IpAddress::parse("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")->value(), kMax);
  EXPECT_EQ(IpAddress::parse("::ffff:1.2.3.4")->value(), (u128{0xffff} << 32) | 0x01020304);
  // "::" stands for exactly one group here.
  EXPECT_EQ(IpAddress::parse("1:2:3:4:5:6:7::")->value(),
            IpAddress::parse("1:2:3:4:5:6:7:0")->value());
}

TEST(IpAddressTest, RejectsBadIpv6WithMessage) {
  for (const char* text : {":",
                           ":::",
                           "1:::2",
                           "1::2::3",
                           ":1::",
                           "::1:",
                           "1:",
                           ":1",
                           "1:2:3:4:5:6:7",
                           "1:2:3:4:5:6:7:8:9",
                           "1:2:3:4:5:6:7:8::",
                           "::1:2:3:4:5:6:7:8",
                           "1:2:3:4::5:6:7:8",
                           "12345::",
                           "g::",
                           "fe80::1%eth0",
                           " ::1",
                           "::1 ",
                           "[::1]",
                           "::ffff:1.2.3.04",
                           "::ffff:1.2.3",
                           "::ffff:1.2.3.256",
                           "1:2:3:4:5:6:7:1.2.3.4",
                           "::1.2.3.4:5",
                           "::1.2.3.4.5",
                           "1.2.3.4::",
                           "::1/128",
                           ":: 1",
                           "::-1",
                           "0x1::"}) {
    auto ip = IpAddress::parse(text);
    ASSERT_FALSE(ip.ok()) << text << " parsed as " << ip->to_string();
    EXPECT_EQ(ip.error().code, ErrorCode::invalid_argument);
    EXPECT_EQ(ip.error().message, "invalid IP address '" + std::string(text) + "'");
  }
}

TEST(IpAddressTest, EmbeddedNulIsRejected) {
  std::string text("10.0.0.1\0", 9);
  EXPECT_FALSE(IpAddress::parse(text).ok());
}

TEST(IpAddressTest, OrdersIpv4BeforeIpv6) {
  auto v4_max = IpAddress::v4(0xffffffff);
  auto v6_zero = IpAddress(IpFamily::v6, 0);
  EXPECT_LT(v4_max, v6_zero);
  EXPECT_LT(IpAddress::v4(1), IpAddress::v4(2));
  EXPECT_NE(IpAddress(IpFamily::v4, 1), IpAddress(IpFamily::v6, 1));
}

TEST(IpAddressTest, BytesRoundTrip) {
  auto v4 = *IpAddress::parse("192.0.2.33");
  auto bytes = v4.to_bytes();
  EXPECT_EQ(bytes[0], 192);
  EXPECT_EQ(bytes[1], 0);
  EXPECT_EQ(bytes[2], 2);
  EXPECT_EQ(bytes[3], 33);
  for (int k = 4; k < 16; ++k) EXPECT_EQ(bytes[k], 0);
  EXPECT_EQ(IpAddress::from_bytes(IpFamily::v4, bytes.data()), v4);

  auto v6 = *IpAddress::parse("2001:db8::ff:1");
  auto b6 = v6.to_bytes();
  EXPECT_EQ(b6[0], 0x20);
  EXPECT_EQ(b6[1], 0x01);
  EXPECT_EQ(b6[2], 0x0d);
  EXPECT_EQ(b6[3], 0xb8);
  EXPECT_EQ(b6[13], 0xff);
  EXPECT_EQ(b6[15], 0x01);
  EXPECT_EQ(IpAddress::from_bytes(IpFamily::v6, b6.data()), v6);
}

TEST(IpPrefixTest, ParsesAndMasks) {
  auto p = IpPrefix::parse("10.6.0.1/16");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->address.to_string(), "10.6.0.1");  // as written
  EXPECT_EQ(p->length, 16);
  EXPECT_EQ(p->network().to_string(), "10.6.0.0");
  EXPECT_EQ(p->last().to_string(), "10.6.255.255");
  EXPECT_EQ(p->to_string(), "10.6.0.0/16");
  EXPECT_TRUE(p->contains(*IpAddress::parse("10.6.200.7")));
  EXPECT_FALSE(p->contains(*IpAddress::parse("10.7.0.0")));
  EXPECT_FALSE(p->contains(IpAddress(IpFamily::v6, 0x0a060001)));  // other family

  auto all4 = *IpPrefix::parse("0.0.0.0/0");
  EXPECT_EQ(all4.last().to_string(), "255.255.255.255");
  auto host = *IpPrefix::parse("10.0.0.7/32");
  EXPECT_EQ(host.network(), host.last());

  auto v6 = *IpPrefix::parse("fd00::/64");
  EXPECT_EQ(v6.last().to_string(), "fd00::ffff:ffff:ffff:ffff");
  auto all6 = *IpPrefix::parse("::/0");
  EXPECT_EQ(all6.network().value(), u128{0});
  EXPECT_EQ(all6.last().value(), kMax);
  EXPECT_EQ(all6.to_string(), "::/0");
  EXPECT_EQ(IpPrefix::parse("2001:DB8:0:0:1::1/128")->to_string(), "2001:db8::1:0:0:1/128");
  EXPECT_EQ(IpPrefix::parse("2001:db8::1/32")->to_string(), "2001:db8::/32");
}

TEST(IpPrefixTest, RejectsBadCidrWithMessage) {
  for (const char* text :
       {"10.0.0.0/33", "10.0.0.0/", "10.0.0.0", "10.0.0.0/08", "10.0.0.0/-1", "10.0.0.0/ 8",
        "10.0.0.0 /8", "10.0.0.0/8 ", "fd00::/129", "fd00::%eth0/64", "fd00::/64%eth0",
        "10.0.0.0/8/8", "/8", "10.0.0.0/1000", "10.0.0.0/+8", "10.0.0.00/8", ""}) {
    auto p = IpPrefix::parse(text);
    ASSERT_FALSE(p.ok()) << text;
    EXPECT_EQ(p.error().code, ErrorCode::invalid_argument);
    EXPECT_EQ(p.error().message, "invalid CIDR '" + std::string(text) + "'");
  }
}

TEST(IpRangeTest, ParsesSingleDashAndCidr) {
  auto single = *IpRange::parse("10.0.0.1");
  EXPECT_EQ(single.first, single.last);
  EXPECT_EQ(single.size(), u128{1});
  EXPECT_EQ(single.to_string(), "10.0.0.1");

  auto span = *IpRange::parse("10.0.0.1-10.0.0.9");
  EXPECT_EQ(span.first.to_string(), "10.0.0.1");
  EXPECT_EQ(span.last.to_string(), "10.0.0.9");
  EXPECT_EQ(span.size(), u128{9});
  EXPECT_EQ(span.to_string(), "10.0.0.1-10.0.0.9");
  EXPECT_TRUE(span.contains(*IpAddress::parse("10.0.0.5")));
  EXPECT_FALSE(span.contains(*IpAddress::parse("10.0.0.10")));

  EXPECT_EQ(IpRange::parse("10.0.0.5-10.0.0.5")->to_string(), "10.0.0.5");

  auto cidr = *IpRange::parse("10.0.0.5/30");
  EXPECT_EQ(cidr.to_string(), "10.0.0.4-10.0.0.7");
  EXPECT_EQ(IpRange::parse("0.0.0.0/0")->size(), u128{1} << 32);

  auto v6 = *IpRange::parse("FD00::1-fd00::00ff", IpFamily::v6);
  EXPECT_EQ(v6.family(), IpFamily::v6);
  EXPECT_EQ(v6.to_string(), "fd00::1-fd00::ff");
  EXPECT_EQ(v6.size(), u128{255});
  EXPECT_EQ(IpRange::parse("::/0")->size(), u128{0});  // 2^128 wraps, as documented
  EXPECT_EQ(IpRange::parse("fd00::/120", IpFamily::v6)->to_string(), "fd00::-fd00::ff");

  auto top = *IpRange::parse("255.255.255.254-255.255.255.255", IpFamily::v4);
  EXPECT_EQ(top.last.value(), u128{0xffffffff});
  EXPECT_EQ(top.size(), u128{2});
}

TEST(IpRangeTest, ErrorsFollowSpiderpool) {
  struct Case {
    const char* text;
    std::optional<IpFamily> family;
    const char* message;
  };
  for (const Case& c : std::vector<Case>{
           {"10.0.0.9-10.0.0.1", {}, "invalid IP range format in IPv4 '10.0.0.9-10.0.0.1'"},
           {"10.0.0.9-10.0.0.1", IpFamily::v4,
            "invalid IP range format in IPv4 '10.0.0.9-10.0.0.1'"},
           {"fd00::9-fd00::1", {}, "invalid IP range format in IPv6 'fd00::9-fd00::1'"},
           // Mixed families: the pool's family when known, else a guess from the text.
           {"10.0.0.1-fd00::1", {}, "invalid IP range format in IPv6 '10.0.0.1-fd00::1'"},
           {"10.0.0.1-fd00::1", IpFamily::v4, "invalid IP range format in IPv4 '10.0.0.1-fd00::1'"},
           {"fd00::1-10.0.0.1", {}, "invalid IP range format in IPv6 'fd00::1-10.0.0.1'"},
           // Right text, wrong family for the pool.
           {"10.0.0.1", IpFamily::v6, "invalid IP range format in IPv6 '10.0.0.1'"},
           {"fd00::1", IpFamily::v4, "invalid IP range format in IPv4 'fd00::1'"},
           {"10.0.0.0/24", IpFamily::v6, "invalid IP range format in IPv6 '10.0.0.0/24'"},
           // Spaces, extra dashes, missing halves, bad addresses, bad CIDRs.
           {"10.0.0.1 - 10.0.0.2", {}, "invalid IP range format in IPv4 '10.0.0.1 - 10.0.0.2'"},
           {"10.0.0.1-10.0.0.2-10.0.0.3",
            {},
            "invalid IP range format in IPv4 '10.0.0.1-10.0.0.2-10.0.0.3'"},
           {"10.0.0.1-", {}, "invalid IP range format in IPv4 '10.0.0.1-'"},
           {"-10.0.0.1", {}, "invalid IP range format in IPv4 '-10.0.0.1'"},
           {"-", {}, "invalid IP range format in IPv4 '-'"},
           {"", {}, "invalid IP range format in IPv4 ''"},
           {"", IpFamily::v6, "invalid IP range format in IPv6 ''"},
           {"10.0.0.01", {}, "invalid IP range format in IPv4 '10.0.0.01'"},
           {"10.0.0.0/33", {}, "invalid IP range format in IPv4 '10.0.0.0/33'"},
           {"10.0.0.0/24-10.0.1.0", {}, "invalid IP range format in IPv4 '10.0.0.0/24-10.0.1.0'"},
           {"fe80::1%eth0", {}, "invalid IP range format in IPv6 'fe80::1%eth0'"},
       }) {
    auto r = IpRange::parse(c.text, c.family);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.error().code, ErrorCode::invalid_argument);
    EXPECT_EQ(r.error().message, c.message);
  }
}

TEST(IpRangeTest, ToStringReparses) {
  for (const char* text : {"10.0.0.1", "10.0.0.1-10.0.0.2", "10.0.0.0/8", "::/0", "::1-::2",
                           "::ffff:1.2.3.4-::ffff:1.2.3.9", "fd00::/127"}) {
    auto r = IpRange::parse(text);
    ASSERT_TRUE(r.ok()) << text;
    auto again = IpRange::parse(r->to_string());
    ASSERT_TRUE(again.ok()) << r->to_string();
    EXPECT_EQ(*again, *r) << text;
  }
}

}  // namespace
}  // namespace ipfence::ipam
