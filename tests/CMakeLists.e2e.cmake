# End-to-end support (netns, processes, a mini CNI runtime), the cnirun tool, and the
# privileged e2e tests: real network namespaces, the real macvlan plugin, the real agent.
add_library(ipfence_e2e_support STATIC
  e2e/support/process.cpp
  e2e/support/netns.cpp
  e2e/support/cni_runtime.cpp
  e2e/support/agent_node.cpp
  e2e/support/containerd.cpp
  e2e/support/enforcement.cpp
  e2e/support/etcd_cluster.cpp
  e2e/support/agent_api.cpp
  e2e/support/arp_flood.cpp
  e2e/support/ipam_add_loop.cpp
  e2e/support/flood_readings.cpp
)
target_link_libraries(ipfence_e2e_support PUBLIC nlohmann_json::nlohmann_json Threads::Threads
                      PRIVATE ipfence_store ipfence_cni)
if(TARGET ipfence-agent AND TARGET ipfence)
  target_compile_definitions(ipfence_e2e_support PUBLIC
    IPFENCE_AGENT_BIN="$<TARGET_FILE:ipfence-agent>"
    IPFENCE_CTL_BIN="$<TARGET_FILE:ipfencectl>"
    IPFENCE_PLUGIN_DIR="$<TARGET_FILE_DIR:ipfence>")
else()
  target_compile_definitions(ipfence_e2e_support PUBLIC
    IPFENCE_AGENT_BIN="ipfence-agent" IPFENCE_CTL_BIN="ipfencectl" IPFENCE_PLUGIN_DIR="/usr/lib/cni")
endif()

add_executable(cnirun e2e/tools/cnirun.cpp)
target_link_libraries(cnirun PRIVATE ipfence_e2e_support CLI11::CLI11)

file(GLOB e2e_sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/e2e/*_test.cpp)
if(e2e_sources AND TARGET ipfence-agent AND TARGET ipfence)
  add_executable(e2e ${e2e_sources})
  target_link_libraries(e2e PRIVATE ipfence_e2e_support ipfence_ipam GTest::gtest GTest::gmock
                                    GTest::gtest_main)
  add_dependencies(e2e ipfence-agent ipfence ipfencectl cnirun)
  target_compile_definitions(e2e PRIVATE IPFENCE_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
  # Privileged tests share one lock: they never run at the same time as each other.
  gtest_discover_tests(e2e PROPERTIES LABELS privileged RESOURCE_LOCK privileged
                       DISCOVERY_TIMEOUT 60)
endif()
