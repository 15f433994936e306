# `cmake --install` puts the libraries a C++ project needs to replay
# scenarios inside its own GoogleTest suite (the in-process FakeSmtpServer,
# and the reference client library it can use as an example client), their
# headers, and a package configuration, so that
#
#   find_package(StartTlsMock REQUIRED)
#   target_link_libraries(my_test PRIVATE StartTlsMock::fake_smtp_server)
#
# works. examples/fake_smtp_server builds against the installed package; the
# CTest test install.example proves it.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(starttls_install_include ${CMAKE_INSTALL_INCLUDEDIR}/starttls-mock)
set(starttls_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/StartTlsMock)

# Public headers only: the in-process server's, the reference client's and
# the OpenSSL owners both use. Every other header is internal.
foreach(dir common testing client)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/src/${dir}/include/
          DESTINATION ${starttls_install_include})
endforeach()

# The static libraries FakeSmtpServer is built from come along (a static
# library carries its dependencies to the final link); only ::fake_smtp_server
# and ::client are meant to be named.
set(starttls_installed common certs protocol scenario events engine judge server
    fake_smtp_server client)
foreach(name ${starttls_installed})
  set_target_properties(starttls_${name} PROPERTIES EXPORT_NAME ${name})
  list(APPEND starttls_installed_targets starttls_${name})
endforeach()
install(TARGETS ${starttls_installed_targets}
        EXPORT StartTlsMockTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${starttls_install_include})
install(EXPORT StartTlsMockTargets NAMESPACE StartTlsMock::
        DESTINATION ${starttls_cmake_dir})

configure_package_config_file(
  ${PROJECT_SOURCE_DIR}/cmake/StartTlsMockConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/StartTlsMockConfig.cmake
  INSTALL_DESTINATION ${starttls_cmake_dir})
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/StartTlsMockConfig.cmake
        DESTINATION ${starttls_cmake_dir})

# Installs into a scratch prefix, builds the example against the installed
# package (never against this tree), and runs it. Not in sanitizer builds:
# their libraries need the sanitizer runtime the example does not link.
if(NOT STARTTLS_FUZZ AND STARTTLS_SANITIZE STREQUAL "")
  add_test(NAME install.example
           COMMAND ${CMAKE_COMMAND}
                   -DBUILD_DIR=${CMAKE_BINARY_DIR}
                   -DSOURCE_DIR=${PROJECT_SOURCE_DIR}
                   -DWORK_DIR=${CMAKE_BINARY_DIR}/install-example
                   -DCXX=${CMAKE_CXX_COMPILER}
                   -DGENERATOR=${CMAKE_GENERATOR}
                   -P ${PROJECT_SOURCE_DIR}/cmake/RunInstallExample.cmake)
  set_tests_properties(install.example PROPERTIES TIMEOUT 300)
endif()

# The harness, for pytest in any project: the two binaries on the PATH, the
# catalogue, the client adapters, their pins and the helper clients under
# share/starttls-mock/ (the checkout's layout: scenarios/, pytest/), and the
# pytest plugin as the Python package starttls_mock, registered through a
# pytest11 entry point so that pytest loads it with no conftest.py.
set(STARTTLS_PYTHON_DIR "lib/python3/dist-packages" CACHE STRING
    "Where the Python package goes, relative to the prefix (Debian's \
/usr/bin/python3 reads /usr/lib/python3/dist-packages)")
set(starttls_data ${CMAKE_INSTALL_DATADIR}/starttls-mock)
install(TARGETS starttls-mock starttls-client
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/scenarios/
        DESTINATION ${starttls_data}/scenarios)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/pytest/clients
                  ${PROJECT_SOURCE_DIR}/pytest/expected
        DESTINATION ${starttls_data}/pytest)
# The helper clients the adapters run ({harness}/...): every script in
# pytest/ but the tests.
file(GLOB starttls_helpers CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/pytest/*.py
     ${PROJECT_SOURCE_DIR}/pytest/*.php)
list(FILTER starttls_helpers EXCLUDE REGEX "/(test_[^/]*|conftest)\\.py$")
install(PROGRAMS ${starttls_helpers} DESTINATION ${starttls_data}/pytest)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/pytest/starttls_mock
        DESTINATION ${STARTTLS_PYTHON_DIR}
        PATTERN __pycache__ EXCLUDE)
# Where the install put things, as the package finds them at run time
# (paths.py): written at install time, for the prefix given then
# (`cmake --install --prefix`), never with DESTDIR (a package's staging).
install(CODE "
  set(prefix \"\${CMAKE_INSTALL_PREFIX}\")
  set(pkg \"\$ENV{DESTDIR}\${prefix}/${STARTTLS_PYTHON_DIR}\")
  file(WRITE \"\${pkg}/starttls_mock/_installed.py\"
\"# Written by cmake --install: where starttls-mock was installed.
DATA_DIR = '\${prefix}/${starttls_data}'
BIN_DIR = '\${prefix}/${CMAKE_INSTALL_BINDIR}'
\")
  file(MAKE_DIRECTORY \"\${pkg}/starttls_mock-${PROJECT_VERSION}.dist-info\")
  file(WRITE \"\${pkg}/starttls_mock-${PROJECT_VERSION}.dist-info/METADATA\"
\"Metadata-Version: 2.1
Name: starttls-mock
Version: ${PROJECT_VERSION}
Summary: A test harness for STARTTLS clients: the pytest plugin
\")
  file(WRITE \"\${pkg}/starttls_mock-${PROJECT_VERSION}.dist-info/entry_points.txt\"
\"[pytest11]
starttls_mock.plugin = starttls_mock.plugin
\")
")
