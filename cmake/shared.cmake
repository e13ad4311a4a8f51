# gilfree_shared: the same library as a shared object, libgilfree_shared.so, for programs
# in which gilfree is reached from more than one loaded module — the `gilfree` Python
# module and an extension built with <gilfree/python.hpp>. The library keeps process-wide
# state (the thread registry, the future-state allocator and parking lots, the log hook);
# each module linking the static libgilfree.a would carry its own copy of it, so a future
# completed in one copy would wake waiters parked in another's lot, and each copy would
# count its own threads. With both modules linking this object the dynamic loader maps it
# once (it matches a DT_NEEDED entry against the SONAME already loaded), so the state
# exists once per process. Exported as gilfree::shared; gilfree::gilfree stays static.
#
# Built from the static library's own sources, include directories, definitions, options
# and link dependencies (generator expressions, read at generation time), so whatever
# another part adds to `gilfree` reaches this one too.
if(GILFREE_SANITIZE)  # the sanitizer builds have no Python module and no extension
  return()
endif()
add_library(gilfree_shared SHARED)
add_library(gilfree::shared ALIAS gilfree_shared)
target_sources(gilfree_shared PRIVATE $<TARGET_PROPERTY:gilfree,SOURCES>)
set_target_properties(gilfree_shared PROPERTIES
  OUTPUT_NAME gilfree_shared
  EXPORT_NAME shared
  VERSION ${PROJECT_VERSION}
  SOVERSION ${PROJECT_VERSION_MAJOR})
target_include_directories(gilfree_shared
  PUBLIC $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include> $<INSTALL_INTERFACE:include>
  PRIVATE $<TARGET_PROPERTY:gilfree,INCLUDE_DIRECTORIES>)
target_compile_definitions(gilfree_shared PRIVATE $<TARGET_PROPERTY:gilfree,COMPILE_DEFINITIONS>)
target_compile_options(gilfree_shared PRIVATE $<TARGET_PROPERTY:gilfree,COMPILE_OPTIONS>)
target_link_libraries(gilfree_shared PUBLIC Threads::Threads
                      PRIVATE $<TARGET_PROPERTY:gilfree,LINK_LIBRARIES>)
target_compile_features(gilfree_shared PUBLIC cxx_std_20)
# Every symbol the library uses is defined here or in its dependencies: an undefined
# reference is a link error now, not an ImportError later.
target_link_options(gilfree_shared PRIVATE -Wl,--no-undefined)

include(GNUInstallDirs)
install(TARGETS gilfree_shared EXPORT gilfreeTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
