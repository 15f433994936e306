# `cpack` (make package) builds the Debian package starttls-mock_<version>_<arch>.deb
# from what `cmake --install` puts under /usr: the binaries, the catalogue,
# the pytest plugin (found by Debian's /usr/bin/python3 and registered for
# pytest) and the C++ package. Its dependencies are declared, so a CI job on
# Debian needs nothing else: `apt-get install ./starttls-mock_*.deb`.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME starttls-mock)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "test harness for STARTTLS clients (SMTP, IMAP, POP3)")
set(CPACK_PACKAGE_DESCRIPTION
    "A scriptable mock mail server that judges STARTTLS clients from what \
they do on the wire, with a catalogue of scenarios, a per-run test PKI, a \
reference client and a pytest plugin.")
set(CPACK_PACKAGE_CONTACT "starttls-mock maintainers <starttls-mock@example.test>")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
# The binaries' libraries (OpenSSL, fmt, libstdc++) come from dpkg-shlibdeps;
# the plugin needs Python 3.11 (tomllib) and pytest.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "python3 (>= 3.11), python3-pytest, openssl")
# Running scenarios at once across processes, and per-test timeouts.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "python3-pytest-xdist, python3-pytest-timeout")
# prerm removes the byte code Python wrote beside the modules.
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${CMAKE_CURRENT_LIST_DIR}/deb/prerm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
