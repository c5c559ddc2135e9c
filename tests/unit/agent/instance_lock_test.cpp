#include "agent/instance_lock.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <filesystem>
#include <fstream>

#include "agent/unix_listener.h"
#include "agent_test_support.h"

namespace ipfence::agent {
namespace {

using testing::TempDir;

TEST(InstanceLockTest, CreatesTheSocketDirectoryWithMode0755) {
  TempDir dir;
  const std::string socket = dir / "run/ipfence/agent.sock";
  auto lock = InstanceLock::acquire(socket);
  ASSERT_TRUE(lock.ok()) << lock.error().message;
  EXPECT_EQ(lock->lock_path(), socket + ".lock");
  struct stat st {};
  ASSERT_EQ(::stat((dir / "run/ipfence").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0755u);
}

TEST(InstanceLockTest, ASecondHolderIsRefusedWithAClearMessage) {
  TempDir dir;
  const std::string socket = dir / "agent.sock";
  auto first = InstanceLock::acquire(socket);
  ASSERT_TRUE(first.ok());
  // flock belongs to the open file description: a second open in this process conflicts
  // just as another process would.
  auto second = InstanceLock::acquire(socket);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().message,
            "another ipfence-agent is already serving " + socket + " (lock " + socket +
                ".lock is held); stop it first or pass a different --socket");
}

TEST(InstanceLockTest, TheLockIsFreeAgainWhenReleased) {
  TempDir dir;
  const std::string socket = dir / "agent.sock";
  { auto first = InstanceLock::acquire(socket); }
  EXPECT_TRUE(InstanceLock::acquire(socket).ok());
}

TEST(InstanceLockTest, AStaleSocketIsRemoved) {
  TempDir dir;
  const std::string socket = dir / "agent.sock";
  {
    auto listener = listen_unix(socket, 0600);  // closed at the end of scope, file remains
    ASSERT_TRUE(listener.ok()) << listener.error().message;
  }
  ASSERT_TRUE(std::filesystem::exists(socket));
  auto lock = InstanceLock::acquire(socket);
  ASSERT_TRUE(lock.ok()) << lock.error().message;
  EXPECT_FALSE(std::filesystem::exists(socket));
}

TEST(InstanceLockTest, AFileThatIsNotASocketIsNeverRemoved) {
  TempDir dir;
  const std::string socket = dir / "agent.sock";
  std::ofstream(socket) << "important";
  auto lock = InstanceLock::acquire(socket);
  ASSERT_FALSE(lock.ok());
  EXPECT_EQ(lock.error().message,
            socket + " exists and is not a socket; remove it or pass a different --socket");
  EXPECT_TRUE(std::filesystem::exists(socket));
}

TEST(UnixListenerTest, BindsWithMode0600AndLeavesNoTempFile) {
  TempDir dir;
  const std::string socket = dir / "agent.sock";
  auto listener = listen_unix(socket, 0600);
  ASSERT_TRUE(listener.ok()) << listener.error().message;
  struct stat st {};
  ASSERT_EQ(::stat(socket.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  int entries = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    (void)entry;
    ++entries;
  }
  EXPECT_EQ(entries, 1);
  int client = testing::connect_unix(socket);
  EXPECT_GE(client, 0);
  if (client >= 0) ::close(client);
}

}  // namespace
}  // namespace ipfence::agent
