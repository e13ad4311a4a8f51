# gilfree::mpi (issue 12): the executor on Open MPI, an optional component built only when
# CMake finds MPI. The core library never depends on it: gilfree_mpi links gilfree and MPI.
set(MPI_CXX_SKIP_MPICXX ON)  # only the C API, from C++ (no deprecated C++ bindings)
find_package(MPI COMPONENTS CXX QUIET)
if(NOT MPI_CXX_FOUND)
  message(STATUS "gilfree: MPI not found, gilfree::mpi is not built")
  return()
endif()
message(STATUS "gilfree: building gilfree::mpi (MPI ${MPI_CXX_VERSION}, ${MPIEXEC_EXECUTABLE})")
file(GLOB GILFREE_MPI_SOURCES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/mpi/*.cpp)
add_library(gilfree_mpi ${GILFREE_MPI_SOURCES})
add_library(gilfree::mpi ALIAS gilfree_mpi)
target_link_libraries(gilfree_mpi PUBLIC gilfree MPI::MPI_CXX)
set_target_properties(gilfree_mpi PROPERTIES EXPORT_NAME mpi)
install(TARGETS gilfree_mpi EXPORT gilfreeMpiTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(EXPORT gilfreeMpiTargets NAMESPACE gilfree::
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/gilfree)
set(GILFREE_HAVE_MPI ON)
# What mpirun needs here (DESIGN.md): root, more ranks than cores, loopback only.
set(GILFREE_MPIRUN_ENV
  OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  OMPI_MCA_rmaps_base_oversubscribe=1
  OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo)

# The side-by-side benchmark against mpi4py.futures (BENCHMARKS.md).
if(GILFREE_BUILD_BENCH)
  add_executable(mpi_futures_bench ${PROJECT_SOURCE_DIR}/bench/mpi/mpi_futures_bench.cpp)
  target_link_libraries(mpi_futures_bench PRIVATE gilfree::mpi)
endif()

# Seed 002's integration on MPI ranks needs the examples' seedkit: added once the whole
# tree has been read.
cmake_language(DEFER CALL include ${PROJECT_SOURCE_DIR}/cmake/mpi_examples.cmake)

# gilfree-mpi.pc (Requires: gilfree and Open MPI's ompi-c), next to gilfree.pc.
file(RELATIVE_PATH GILFREE_PC_TO_PREFIX /${CMAKE_INSTALL_LIBDIR}/pkgconfig /)
configure_file(${CMAKE_CURRENT_LIST_DIR}/gilfree-mpi.pc.in ${CMAKE_CURRENT_BINARY_DIR}/gilfree-mpi.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/gilfree-mpi.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
