# Run by the CTest test install.example: install the build into a fresh
# prefix, configure and build examples/fake_smtp_server against it, and run
# the example's test, after checking that only public headers were
# installed. Any failing step fails the test with its output.
cmake_policy(SET CMP0057 NEW)
file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out
                  ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${ARGN}\nexited ${rc}:\n${out}")
  endif()
endfunction()

run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
# Only the public headers are installed: starttls/<name>.h, nothing of the
# libraries' internals.
file(GLOB_RECURSE headers RELATIVE ${prefix}/include ${prefix}/include/*)
foreach(header ${headers})
  if(NOT header MATCHES "^starttls-mock/starttls/[a-z0-9_]+\\.h$")
    message(FATAL_ERROR "an internal header was installed: include/${header}")
  endif()
endforeach()
if(NOT "starttls-mock/starttls/fake_smtp_server.h" IN_LIST headers)
  message(FATAL_ERROR "fake_smtp_server.h was not installed")
endif()
run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/examples/fake_smtp_server
    -B ${WORK_DIR}/build -G ${GENERATOR} -DCMAKE_CXX_COMPILER=${CXX}
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=Release)
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build)
run(${WORK_DIR}/build/replay_test)
