# Seed 002's integration on MPI ranks (examples/mpi), checked like every example, under
# mpirun -n 4 (oversubscribed, loopback).
if(GILFREE_BUILD_EXAMPLES AND TARGET gilfree_seedkit)
  add_executable(exmpi_integrate_mpi ${PROJECT_SOURCE_DIR}/examples/mpi/integrate_mpi.cpp)
  target_link_libraries(exmpi_integrate_mpi PRIVATE gilfree::mpi gilfree_seedkit)
  set_target_properties(exmpi_integrate_mpi PROPERTIES OUTPUT_NAME integrate_mpi
                        RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/examples/mpi)
  find_program(GILFREE_MPIRUN mpirun)
  if(GILFREE_BUILD_TESTS AND GILFREE_MPIRUN)
    add_test(NAME exmpi_integrate_mpi
             COMMAND ${CMAKE_COMMAND} -DEXE=timeout
                     "-DARGS=-k;5;100;${GILFREE_MPIRUN};-n;4;$<TARGET_FILE:exmpi_integrate_mpi>;1000000;8"
                     -DEXPECT_FILE=${PROJECT_SOURCE_DIR}/examples/mpi/integrate_mpi.cpp
                     -P ${PROJECT_SOURCE_DIR}/tests/examples/run_example.cmake)
    set_tests_properties(exmpi_integrate_mpi PROPERTIES LABELS "examples;mpi" TIMEOUT 180
      ENVIRONMENT "OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1;OMPI_MCA_rmaps_base_oversubscribe=1;OMPI_MCA_btl_tcp_if_include=lo;OMPI_MCA_oob_tcp_if_include=lo")
  endif()
endif()
