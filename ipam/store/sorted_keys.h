// SortedKeys: the bulk of a KeyIndex (key_index.h), the keys a snapshot held, in a few large
// blocks instead of one heap block per key. A file store's index at 65,536 pods is 131,072
// keys; as heap blocks they cost 80 bytes (an allocation key) and 112 bytes (an attachment key)
// each with malloc's header and rounding, plus a B-tree slot; here an allocation key takes ~5
// bytes and an attachment key ~40 (each key keeps only what differs from the key before it),
// beside its Entry in a fixed-size array.
//
// Keys are only appended, in text order. Every 16th key is kept whole (a restart, as in
// LevelDB's blocks), so a lookup binary-searches the restarts and then reads at most 15 keys.
// A key that is deleted stays, marked dead, until the owner rebuilds (KeyIndex::compact_keys);
// put again, it comes back in place. Entries live in chunks that never move, so a pointer to
// one stays valid while keys are appended.
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ipam/store/key_text.h"

namespace ipfence::store {

template <class Entry>
class SortedKeys {
 public:
  // A position: the key at `index` (stored form in `stored`), and where the next key starts.
  struct Cursor {
    std::size_t index = 0;
    std::size_t next_offset = 0;
    std::string stored;
    bool encoded = false;
  };

  std::size_t count() const { return count_; }  // dead keys included
  std::size_t live() const { return live_; }
  bool dead(std::size_t index) const { return dead_[index]; }
  Entry& entry(std::size_t index) { return chunks_[index / kChunk][index % kChunk]; }
  const Entry& entry(std::size_t index) const { return chunks_[index / kChunk][index % kChunk]; }

  // Whether `text` sorts after every key here, as append() needs.
  bool can_append(std::string_view text) const { return count_ == 0 || last_text_ < text; }

  void append(std::string_view text, Entry entry_value) {
    std::string stored;
    const bool encoded = key_text::encode(text, stored);
    if (!encoded) stored.assign(text);
    std::size_t shared = 0;
    if (count_ % kRestartInterval == 0) {
      restarts_.push_back(static_cast<std::uint32_t>(bytes_.size()));
    } else {
      const std::size_t limit = std::min(stored.size(), last_stored_.size());
      while (shared < limit && stored[shared] == last_stored_[shared]) ++shared;
    }
    put_varint(shared);
    put_varint((stored.size() - shared) * 2 + (encoded ? 1 : 0));
    bytes_.append(stored, shared);
    if (count_ % kChunk == 0) chunks_.push_back(std::make_unique<Entry[]>(kChunk));
    entry(count_) = std::move(entry_value);
    dead_.push_back(false);
    ++count_;
    ++live_;
    last_stored_ = std::move(stored);
    last_text_.assign(text);
  }

  // The first key not before `text` (cursor.index == count() when there is none).
  Cursor lower_bound(std::string_view text) const {
    // The last restart whose key is before `text`; the keys before it all are too.
    std::size_t low = 0;
    std::size_t high = restarts_.size();
    Cursor probe;
    while (low < high) {
      const std::size_t middle = (low + high) / 2;
      probe = at_restart(middle);
      if (compare(probe, text) < 0)
        low = middle + 1;
      else
        high = middle;
    }
    if (low == 0) return first();
    Cursor cursor = at_restart(low - 1);
    while (cursor.index < count_ && compare(cursor, text) < 0) advance(cursor);
    return cursor;
  }

  // The index of `text`, dead or live; count() when absent.
  std::size_t find(std::string_view text) const {
    if (count_ == 0) return count_;
    const Cursor cursor = lower_bound(text);
    return cursor.index < count_ && compare(cursor, text) == 0 ? cursor.index : count_;
  }

  void advance(Cursor& cursor) const {
    ++cursor.index;
    if (cursor.index < count_) read(cursor);
  }

  // The key's text at `cursor`: its stored form, or decoded into `scratch`.
  static std::string_view text(const Cursor& cursor, std::string& scratch) {
    if (!cursor.encoded) return cursor.stored;
    scratch = key_text::decode(cursor.stored);
    return scratch;
  }

  // Removes the key at `index` (its entry is reset); revive() puts it back with a new entry.
  void kill(std::size_t index) {
    dead_[index] = true;
    entry(index) = Entry{};
    --live_;
  }
  void revive(std::size_t index, Entry entry_value) {
    dead_[index] = false;
    entry(index) = std::move(entry_value);
    ++live_;
  }

  // Gives back what the blocks reserved beyond their size (after the last append).
  void shrink() {
    bytes_.shrink_to_fit();
    restarts_.shrink_to_fit();
    dead_.shrink_to_fit();
    last_stored_.clear();
    last_stored_.shrink_to_fit();
  }

 private:
  static constexpr std::size_t kRestartInterval = 16;
  static constexpr std::size_t kChunk = 1024;

  static std::strong_ordering compare(const Cursor& cursor, std::string_view text) {
    return cursor.encoded ? key_text::compare_stored_with_text(cursor.stored, text)
                          : std::string_view(cursor.stored) <=> text;
  }

  Cursor first() const {
    Cursor cursor;
    if (count_ > 0) read(cursor);
    return cursor;
  }
  Cursor at_restart(std::size_t restart) const {
    Cursor cursor;
    cursor.index = restart * kRestartInterval;
    cursor.next_offset = restarts_[restart];
    read(cursor);
    return cursor;
  }
  // Reads the key at cursor.index, which starts at cursor.next_offset, on top of the key
  // before it in cursor.stored.
  void read(Cursor& cursor) const {
    std::size_t at = cursor.next_offset;
    const std::size_t shared = get_varint(at);
    const std::size_t header = get_varint(at);
    const std::size_t unshared = header / 2;
    cursor.encoded = (header & 1) != 0;
    cursor.stored.resize(shared);
    cursor.stored.append(bytes_, at, unshared);
    cursor.next_offset = at + unshared;
  }

  void put_varint(std::size_t value) {
    for (; value >= 0x80; value >>= 7) bytes_.push_back(static_cast<char>(value | 0x80));
    bytes_.push_back(static_cast<char>(value));
  }
  std::size_t get_varint(std::size_t& at) const {
    std::size_t value = 0;
    int shift = 0;
    for (;;) {
      const auto byte = static_cast<unsigned char>(bytes_[at++]);
      value |= std::size_t{byte & 0x7fu} << shift;
      if (!(byte & 0x80)) return value;
      shift += 7;
    }
  }

  std::string bytes_;                    // the keys, front-coded
  std::vector<std::uint32_t> restarts_;  // where every 16th key starts (up to 4 GiB of keys)
  std::vector<std::unique_ptr<Entry[]>> chunks_;
  std::vector<bool> dead_;
  std::size_t count_ = 0;
  std::size_t live_ = 0;
  std::string last_stored_;  // for appending: the last key's stored form and text
  std::string last_text_;
};

}  // namespace ipfence::store
