// KeyIndex: the keys of a store at one revision, with each key's revisions and version and a
// Value that says what the key holds. It is the one definition of what a transaction does
// (compares, ops, the checks that a recorded change fits), shared by the two stores that
// keep keys in memory: MemoryStore holds the value itself (Value = std::string); FileStore
// holds where the value lies in its files (Value = a file location, see file_store.cpp), so
// that 65,536 allocations do not keep tens of MB of JSON in memory twice over.
//
// Memory per key is what this is built for. The keys a snapshot held (inserted in order while
// the index is built, and again whenever the owner calls compact_keys()) are SortedKeys:
// front-coded in a few large blocks, their entries in fixed arrays (sorted_keys.h). A key
// created after that is a heap block holding the key's bytes and its Entry, indexed by a
// B-tree of pointers (8 bytes a slot); a std::map<std::string, Entry> would cost a 32-byte node
// header and a std::string (32 bytes plus a second block for keys over 15 bytes) on top of
// the same Entry. A key is in exactly one of the two. Long hex runs in keys (container IDs)
// are kept as bytes (key_text.h).
#pragma once

#include <absl/container/btree_set.h>

#include <compare>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <new>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "ipam/result.h"
#include "ipam/store/key_text.h"
#include "ipam/store/sorted_keys.h"
#include "ipam/store/store.h"

namespace ipfence::store {

// What one committed transaction did, as stored in the file backend's log: the full new
// KeyValue of every put and the key of every delete, all at one revision. Self-contained
// (no need for the state before it), so history can be rebuilt from a log alone.
struct Change {
  std::int64_t revision = 0;
  std::vector<Event> events;
  bool operator==(const Change&) const = default;
};

// Rejects what etcd rejects too, before any compare runs: empty keys and a key named by
// more than one op (its outcome would depend on op order).
Status validate_txn(const Txn& txn);

// ErrorCode::compacted for a watch from `after_revision` when history starts after
// `compact_revision`.
Error compacted_error(std::int64_t after_revision, std::int64_t compact_revision);

inline bool has_prefix(std::string_view key, std::string_view prefix) {
  return key.substr(0, prefix.size()) == prefix;
}

// Counter: how an entry keeps its revisions and version; std::int64_t, or a PackedUint
// (packed_uint.h) when entries must be small (FileStore's). check() refuses a change whose
// revision is beyond what it holds (kMaxRevision), and an owner that builds the index from
// its own files checks their revisions against it too.
template <class Value, class Counter = std::int64_t>
class KeyIndex {
 public:
  static constexpr std::int64_t kMaxRevision = [] {
    if constexpr (std::is_integral_v<Counter>)
      return std::int64_t{std::numeric_limits<Counter>::max()};
    else
      return static_cast<std::int64_t>(Counter::kMax);
  }();

  class Entry {
   public:
    Entry() = default;
    // Each at most kMaxRevision (a version never exceeds the mod revision).
    Entry(std::int64_t create_revision, std::int64_t mod_revision, std::int64_t version,
          Value entry_value)
        : value(std::move(entry_value)),
          create_(to_counter(create_revision)),
          mod_(to_counter(mod_revision)),
          version_(to_counter(version)) {}
    std::int64_t create_revision() const { return from_counter(create_); }
    std::int64_t mod_revision() const { return from_counter(mod_); }
    std::int64_t version() const { return from_counter(version_); }

    Value value{};

   private:
    static Counter to_counter(std::int64_t n) {
      if constexpr (std::is_integral_v<Counter>)
        return n;
      else
        return Counter(static_cast<std::uint64_t>(n));
    }
    static std::int64_t from_counter(const Counter& c) {
      if constexpr (std::is_integral_v<Counter>)
        return c;
      else
        return static_cast<std::int64_t>(c.get());
    }
    Counter create_{};
    Counter mod_{};
    Counter version_{};
  };

  KeyIndex() = default;
  explicit KeyIndex(std::int64_t revision) : revision_(revision) {}
  KeyIndex(KeyIndex&&) noexcept = default;
  KeyIndex& operator=(KeyIndex&&) noexcept = default;

  std::int64_t revision() const { return revision_; }
  std::size_t size() const { return nodes_.size() + sorted_.live(); }

  const Entry* find(std::string_view key) const {
    auto it = nodes_.find(key);
    if (it != nodes_.end()) return &(*it)->entry;
    const std::size_t index = sorted_.find(key);
    return index == sorted_.count() || sorted_.dead(index) ? nullptr : &sorted_.entry(index);
  }
  Entry* find(std::string_view key) { return const_cast<Entry*>(std::as_const(*this).find(key)); }

  // Calls f(key, entry) for every key under `prefix`, in key order. f must not change the
  // index (it may change the entry).
  template <class F>
  void for_each(std::string_view prefix, F&& f) const {
    for_each_in(*this, prefix, f);
  }
  template <class F>
  void for_each(std::string_view prefix, F&& f) {
    for_each_in(*this, prefix, f);
  }

  // For building an index from a snapshot: its revision, and each key. False when the key is
  // there already. Keys inserted in text order go into the compact blocks.
  void set_revision(std::int64_t revision) { revision_ = revision; }
  bool insert(std::string_view key, Entry entry) {
    if (nodes_.contains(key)) return false;
    if (sorted_.can_append(key)) {  // after every key of the blocks: not one of them
      sorted_.append(key, std::move(entry));
      return true;
    }
    const std::size_t index = sorted_.find(key);
    if (index == sorted_.count()) {
      insert_node(key, std::move(entry));
      return true;
    }
    if (!sorted_.dead(index)) return false;
    sorted_.revive(index, std::move(entry));  // deleted before: it comes back where it was
    return true;
  }

  // Moves every key into the compact blocks (dropping deleted ones): after building from a
  // snapshot, and when the owner compacts its files. O(keys); entries keep their values.
  void compact_keys() {
    if (nodes_.empty() && sorted_.live() == sorted_.count()) {
      sorted_.shrink();
      return;
    }
    SortedKeys<Entry> rebuilt;
    for_each("",
             [&](std::string_view key, Entry& entry) { rebuilt.append(key, std::move(entry)); });
    rebuilt.shrink();
    sorted_ = std::move(rebuilt);
    nodes_.clear();
  }

  // Evaluates the compares. On success returns the change the ops would make at
  // revision()+1 (no events when nothing would change, e.g. deleting an absent key: like
  // etcd, such a transaction succeeds without a new revision); on failure fills
  // result.failed_keys. Does not modify the index.
  TxnResult evaluate(const Txn& txn, Change* change) const {
    TxnResult result;
    result.revision = revision_;
    for (const auto& compare : txn.compares) {
      const Entry* entry = find(compare.key);
      std::int64_t actual = 0;  // an absent key has version 0 and mod_revision 0
      if (entry)
        actual =
            compare.target == Compare::Target::version ? entry->version() : entry->mod_revision();
      if (actual != compare.value) result.failed_keys.push_back(compare.key);
    }
    if (!result.failed_keys.empty()) return result;

    result.succeeded = true;
    const std::int64_t next = revision_ + 1;
    change->revision = next;
    change->events.clear();
    for (const auto& op : txn.ops) {
      const Entry* entry = find(op.key);
      if (op.type == Op::Type::put) {
        KeyValue kv{op.key, op.value, next, next, 1};
        if (entry) {
          kv.create_revision = entry->create_revision();
          kv.version = entry->version() + 1;
        }
        change->events.push_back(Event{Event::Type::put, std::move(kv)});
      } else if (entry) {
        change->events.push_back(Event{Event::Type::del, KeyValue{op.key, {}, 0, next, 0}});
      }
    }
    if (!change->events.empty()) result.revision = next;
    return result;
  }

  // Whether `change` may be applied next: its revision follows, and every event fits the key
  // it changes. For MemoryStore this always holds; for FileStore it catches a log that does
  // not fit its snapshot.
  Status check(const Change& change) const {
    if (change.revision > kMaxRevision)  // its keys' revisions and versions are not beyond it
      return make_error(ErrorCode::corrupt,
                        "change at revision " + std::to_string(change.revision) +
                            " is beyond revision " + std::to_string(kMaxRevision) +
                            ", the highest this store keeps");
    if (change.revision != revision_ + 1 || change.events.empty())
      return make_error(ErrorCode::corrupt,
                        "change at revision " + std::to_string(change.revision) +
                            " does not follow revision " + std::to_string(revision_));
    for (const auto& event : change.events) {
      const auto& kv = event.kv;
      const Entry* entry = find(kv.key);
      bool fits = kv.mod_revision == change.revision;
      if (event.type == Event::Type::del) {
        fits = fits && entry;
      } else if (!entry) {
        fits = fits && kv.create_revision == change.revision && kv.version == 1;
      } else {
        fits = fits && kv.create_revision == entry->create_revision() &&
               kv.version == entry->version() + 1;
      }
      if (!fits)
        return make_error(ErrorCode::corrupt, "change of key " + kv.key + " at revision " +
                                                  std::to_string(change.revision) +
                                                  " does not fit the state before it");
    }
    return {};
  }

  // Applies a change that check() accepted. Event i of a put stores value_of(i);
  // release(value) is told of every value that a put or delete replaces.
  template <class ValueOf, class Release>
  void apply(const Change& change, ValueOf&& value_of, Release&& release) {
    for (std::size_t i = 0; i < change.events.size(); ++i) {
      const auto& event = change.events[i];
      const bool put = event.type == Event::Type::put;
      auto it = nodes_.find(std::string_view(event.kv.key));
      if (it != nodes_.end()) {
        release(std::as_const((*it)->entry.value));
        if (!put) {
          nodes_.erase(it);
          continue;
        }
        (*it)->entry = entry_of(event, value_of(i));
        continue;
      }
      const std::size_t index = sorted_.find(event.kv.key);
      if (index == sorted_.count()) {
        if (put) insert_node(event.kv.key, entry_of(event, value_of(i)));
        continue;
      }
      // A key of the compact blocks is changed in place, and stays there (dead) when deleted.
      const bool live = !sorted_.dead(index);
      if (live) release(std::as_const(sorted_.entry(index).value));
      if (!put) {
        if (live) sorted_.kill(index);
      } else if (live) {
        sorted_.entry(index) = entry_of(event, value_of(i));
      } else {
        sorted_.revive(index, entry_of(event, value_of(i)));
      }
    }
    revision_ = change.revision;
  }

 private:
  // The key follows the node in the same heap block: a varint (one byte below 64) of its
  // stored length times two, plus one when the stored form is not the text itself
  // (key_text.h), then its stored bytes: 1 byte of length where a size_t would take 8. With
  // the file store's 32-byte Entry a typical 29-byte key makes a 62-byte node, and an
  // attachment key with a 64-hex container ID (kept as 32 bytes) about 85.
  class Node {
   public:
    struct Free {
      void operator()(Node* node) const {
        node->~Node();
        ::operator delete(node);
      }
    };
    using Ptr = std::unique_ptr<Node, Free>;

    static Ptr make(std::string_view key, Entry entry) {
      std::string packed;
      const bool encoded = key_text::encode(key, packed);
      const std::string_view stored = encoded ? std::string_view(packed) : key;
      const std::size_t header = stored.size() * 2 + (encoded ? 1 : 0);
      std::size_t header_bytes = 1;
      for (std::size_t rest = header >> 7; rest > 0; rest >>= 7) ++header_bytes;
      void* block = ::operator new(sizeof(Node) + header_bytes + stored.size());
      Node* node = new (block) Node(std::move(entry));
      auto* p = reinterpret_cast<unsigned char*>(node + 1);
      std::size_t rest = header;
      for (; rest >= 0x80; rest >>= 7) *p++ = static_cast<unsigned char>(rest | 0x80);
      *p++ = static_cast<unsigned char>(rest);
      std::memcpy(p, stored.data(), stored.size());
      return Ptr(node);
    }
    // The key's text: the stored bytes, or decoded into `text` when they are not the text.
    std::string_view key(std::string& text) const {
      bool encoded = false;
      const std::string_view bytes = stored(encoded);
      if (!encoded) return bytes;
      text = key_text::decode(bytes);
      return text;
    }
    std::strong_ordering compare(std::string_view text) const {
      bool encoded = false;
      const std::string_view bytes = stored(encoded);
      return encoded ? key_text::compare_stored_with_text(bytes, text) : bytes <=> text;
    }
    std::strong_ordering compare(const Node& other) const {
      bool encoded = false;
      bool other_encoded = false;
      const std::string_view bytes = stored(encoded);
      const std::string_view other_bytes = other.stored(other_encoded);
      if (!encoded && !other_encoded) return bytes <=> other_bytes;
      if (!other_encoded) return key_text::compare_stored_with_text(bytes, other_bytes);
      if (!encoded) return 0 <=> key_text::compare_stored_with_text(other_bytes, bytes);
      return key_text::compare_stored(bytes, other_bytes);
    }

    Entry entry;

   private:
    explicit Node(Entry e) : entry(std::move(e)) {}
    std::string_view stored(bool& encoded) const {
      const auto* p = reinterpret_cast<const unsigned char*>(this + 1);
      std::size_t header = 0;
      int shift = 0;
      for (; *p & 0x80; ++p, shift += 7) header |= std::size_t{*p & 0x7fu} << shift;
      header |= std::size_t{*p++} << shift;
      encoded = (header & 1) != 0;
      return {reinterpret_cast<const char*>(p), header / 2};
    }
  };

  struct KeyLess {
    using is_transparent = void;
    using Ptr = typename Node::Ptr;
    bool operator()(const Ptr& a, const Ptr& b) const { return a->compare(*b) < 0; }
    bool operator()(const Ptr& a, std::string_view b) const { return a->compare(b) < 0; }
    bool operator()(std::string_view a, const Ptr& b) const { return b->compare(a) > 0; }
  };

  static Entry entry_of(const Event& event, Value value) {
    return Entry{event.kv.create_revision, event.kv.mod_revision, event.kv.version,
                 std::move(value)};
  }
  void insert_node(std::string_view key, Entry entry) {
    nodes_.insert(Node::make(key, std::move(entry)));
  }

  // Both parts in one key order: a key is in exactly one of them.
  template <class Self, class F>
  static void for_each_in(Self& self, std::string_view prefix, F& f) {
    auto node = self.nodes_.lower_bound(prefix);
    auto cursor = self.sorted_.lower_bound(prefix);
    std::string node_scratch;
    std::string sorted_scratch;
    std::string_view node_key;
    std::string_view sorted_key;
    bool have_node = false;
    bool have_sorted = false;
    const auto next_node = [&] {
      have_node =
          node != self.nodes_.end() && has_prefix(node_key = (*node)->key(node_scratch), prefix);
    };
    const auto next_sorted = [&] {
      while (cursor.index < self.sorted_.count() && self.sorted_.dead(cursor.index))
        self.sorted_.advance(cursor);
      have_sorted =
          cursor.index < self.sorted_.count() &&
          has_prefix(sorted_key = SortedKeys<Entry>::text(cursor, sorted_scratch), prefix);
    };
    next_node();
    next_sorted();
    while (have_node || have_sorted) {
      if (have_sorted && (!have_node || sorted_key < node_key)) {
        f(sorted_key, self.sorted_.entry(cursor.index));
        self.sorted_.advance(cursor);
        next_sorted();
      } else {
        f(node_key, (*node)->entry);
        ++node;
        next_node();
      }
    }
  }

  absl::btree_set<typename Node::Ptr, KeyLess> nodes_;
  SortedKeys<Entry> sorted_;
  std::int64_t revision_ = 0;
};

}  // namespace ipfence::store
