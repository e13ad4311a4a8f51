# Runs one example and checks its output: exit status 0, no "CHECK FAILED", and every
# regular expression from the example's "// expect: REGEX" lines found in what it printed.
#   cmake -DEXE=path -DARGS="a;b" -DEXPECT_FILE=source.cpp -P run_example.cmake
execute_process(COMMAND ${EXE} ${ARGS}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err
                TIMEOUT 120)
message("${out}")
if(err)
  message("stderr:\n${err}")
endif()
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${EXE} exited with ${rc}")
endif()
if("${out}${err}" MATCHES "CHECK FAILED")
  message(FATAL_ERROR "${EXE}: a self-check failed")
endif()
file(STRINGS ${EXPECT_FILE} expects REGEX "^// expect: ")
foreach(line IN LISTS expects)
  string(REGEX REPLACE "^// expect: " "" regex "${line}")
  if(NOT "${out}" MATCHES "${regex}")
    message(FATAL_ERROR "${EXE}: output does not match /${regex}/")
  endif()
endforeach()
message("${EXE}: output checked")
