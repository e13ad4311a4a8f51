# The seed programs on MPI ranks (examples/mpi: seed 002's integration, seed 000's
# bad_fib), checked like every example, under mpirun -n 4 (oversubscribed, loopback).
if(GILFREE_BUILD_EXAMPLES AND TARGET gilfree_seedkit)
  find_program(GILFREE_MPIRUN mpirun)
  foreach(name integrate_mpi bad_fib_mpi)
    add_executable(exmpi_${name} ${PROJECT_SOURCE_DIR}/examples/mpi/${name}.cpp)
    target_link_libraries(exmpi_${name} PRIVATE gilfree::mpi gilfree_seedkit)
    set_target_properties(exmpi_${name} PROPERTIES OUTPUT_NAME ${name}
                          RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/examples/mpi)
    if(GILFREE_BUILD_TESTS AND GILFREE_MPIRUN)
      file(STRINGS ${PROJECT_SOURCE_DIR}/examples/mpi/${name}.cpp args_line REGEX "^// args: ")
      string(REGEX REPLACE "^// args: " "" args "${args_line}")
      separate_arguments(args)
      add_test(NAME exmpi_${name}
               COMMAND ${CMAKE_COMMAND} -DEXE=timeout
                       "-DARGS=-k;5;100;${GILFREE_MPIRUN};-n;4;$<TARGET_FILE:exmpi_${name}>;${args}"
                       -DEXPECT_FILE=${PROJECT_SOURCE_DIR}/examples/mpi/${name}.cpp
                       -P ${PROJECT_SOURCE_DIR}/tests/examples/run_example.cmake)
      set_tests_properties(exmpi_${name} PROPERTIES LABELS "examples;mpi" TIMEOUT 180
        ENVIRONMENT "OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1;OMPI_MCA_rmaps_base_oversubscribe=1;OMPI_MCA_btl_tcp_if_include=lo;OMPI_MCA_oob_tcp_if_include=lo")
    endif()
  endforeach()
endif()

# The tour's MPI row (tools/tour/exp_mpi.cpp) runs integrate_mpi under mpirun -n 4.
if(TARGET gilfree-tour AND TARGET exmpi_integrate_mpi AND GILFREE_MPIRUN)
  list(JOIN GILFREE_MPIRUN_ENV " " mpirun_env)
  target_compile_definitions(gilfree-tour PRIVATE
    TOUR_MPI_INTEGRATE="$<TARGET_FILE:exmpi_integrate_mpi>"
    TOUR_MPIRUN="env ${mpirun_env} ${GILFREE_MPIRUN}")
  add_dependencies(gilfree-tour exmpi_integrate_mpi)
endif()
