# BPF programs: bpf/*.bpf.c -> BPF object (clang -target bpf) -> libbpf skeleton header
# (bpftool gen skeleton), exposed to C++ as an INTERFACE target that also links libbpf.
find_program(IPFENCE_BPF_CLANG NAMES clang-14 clang REQUIRED)
find_program(IPFENCE_BPFTOOL NAMES bpftool PATHS /usr/sbin /sbin REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(LIBBPF REQUIRED IMPORTED_TARGET libbpf)

# uapi headers under <asm/...> live in the multiarch directory on Debian.
if(CMAKE_LIBRARY_ARCHITECTURE)
  set(IPFENCE_BPF_ARCH_INCLUDE /usr/include/${CMAKE_LIBRARY_ARCHITECTURE})
else()
  set(IPFENCE_BPF_ARCH_INCLUDE /usr/include/${CMAKE_SYSTEM_PROCESSOR}-linux-gnu)
endif()

# ipfence_bpf_skeletons(<target> SOURCES x.bpf.c... [DEPENDS header...])
#   For each x.bpf.c: x.bpf.o and x.skel.h (struct x_bpf, x_bpf__open() ...) in the current
#   binary dir. Link <target> to include the skeletons; it carries libbpf with it.
function(ipfence_bpf_skeletons target)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPENDS" ${ARGN})
  set(out ${CMAKE_CURRENT_BINARY_DIR})
  set(skeletons)
  foreach(src ${ARG_SOURCES})
    get_filename_component(src ${src} ABSOLUTE)
    get_filename_component(name ${src} NAME_WE)  # guard.bpf.c -> guard
    set(raw ${out}/${name}.bpf.dbg.o)
    set(obj ${out}/${name}.bpf.o)
    set(skel ${out}/${name}.skel.h)
    add_custom_command(
      OUTPUT ${raw}
      COMMAND ${IPFENCE_BPF_CLANG} -target bpf -O2 -g -Wall -Werror
              -I${IPFENCE_BPF_ARCH_INCLUDE} -I${CMAKE_CURRENT_SOURCE_DIR} -c ${src} -o ${raw}
      DEPENDS ${src} ${ARG_DEPENDS}
      COMMENT "BPF ${name}.bpf.c"
      VERBATIM)
    # `gen object` links the object and drops DWARF (BTF stays), so the skeleton embeds a
    # smaller ELF.
    add_custom_command(
      OUTPUT ${obj}
      COMMAND ${IPFENCE_BPFTOOL} gen object ${obj} ${raw}
      DEPENDS ${raw}
      VERBATIM)
    add_custom_command(
      OUTPUT ${skel}
      COMMAND sh -c "${IPFENCE_BPFTOOL} gen skeleton ${obj} name ${name}_bpf > ${skel}.tmp"
      COMMAND ${CMAKE_COMMAND} -E rename ${skel}.tmp ${skel}
      DEPENDS ${obj}
      COMMENT "BPF skeleton ${name}.skel.h"
      VERBATIM)
    list(APPEND skeletons ${skel})
  endforeach()
  add_custom_target(${target}_generate DEPENDS ${skeletons})
  add_library(${target} INTERFACE)
  add_dependencies(${target} ${target}_generate)
  target_include_directories(${target} INTERFACE ${out})
  target_link_libraries(${target} INTERFACE PkgConfig::LIBBPF)
endfunction()
