# Installs headers, the library, a CMake package (find_package(gilfree)) and gilfree.pc.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS gilfree EXPORT gilfreeTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY include/gilfree DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT gilfreeTargets NAMESPACE gilfree::
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/gilfree)

file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/gilfreeConfig.cmake.in [=[
@PACKAGE_INIT@
include(CMakeFindDependencyMacro)
find_dependency(Threads)
find_dependency(OpenSSL COMPONENTS Crypto)
include("${CMAKE_CURRENT_LIST_DIR}/gilfreeTargets.cmake")
]=])
configure_package_config_file(${CMAKE_CURRENT_BINARY_DIR}/gilfreeConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/gilfreeConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/gilfree)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/gilfreeConfigVersion.cmake
  COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/gilfreeConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/gilfreeConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/gilfree)

# gilfree.pc finds its prefix from its own place, so an installed tree can be moved.
file(RELATIVE_PATH GILFREE_PC_TO_PREFIX /${CMAKE_INSTALL_LIBDIR}/pkgconfig /)
configure_file(${CMAKE_CURRENT_LIST_DIR}/gilfree.pc.in ${CMAKE_CURRENT_BINARY_DIR}/gilfree.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/gilfree.pc
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# find_package(gilfree COMPONENTS mpi): gilfree::mpi, when it was built (cmake/mpi.cmake).
file(APPEND ${CMAKE_CURRENT_BINARY_DIR}/gilfreeConfig.cmake [=[
if("mpi" IN_LIST gilfree_FIND_COMPONENTS)
  if(EXISTS "${CMAKE_CURRENT_LIST_DIR}/gilfreeMpiTargets.cmake")
    set(MPI_CXX_SKIP_MPICXX ON)
    find_dependency(MPI COMPONENTS CXX)
    include("${CMAKE_CURRENT_LIST_DIR}/gilfreeMpiTargets.cmake")
    set(gilfree_mpi_FOUND TRUE)
  else()
    set(gilfree_mpi_FOUND FALSE)
  endif()
endif()
]=])
