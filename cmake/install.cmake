# Installation: libzfast (shared + static), include/zfast.h, a pkg-config
# file and a CMake package, so a consumer links in one line:
#   cc app.c $(pkg-config --cflags --libs zfast)
#   find_package(zfast) + target_link_libraries(app zfast::zfast)   (or zfast::zfast_static)
include(CMakePackageConfigHelpers)

set(ZF_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/zfast)
install(TARGETS zfast zfast_static EXPORT zfastTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${CMAKE_SOURCE_DIR}/include/zfast.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT zfastTargets NAMESPACE zfast:: DESTINATION ${ZF_CMAKE_DIR})

configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/zfastConfig.cmake.in
                              ${CMAKE_BINARY_DIR}/zfastConfig.cmake INSTALL_DESTINATION ${ZF_CMAKE_DIR})
# 0.x: a new minor version may change the API, so only the same minor matches
write_basic_package_version_file(${CMAKE_BINARY_DIR}/zfastConfigVersion.cmake VERSION ${PROJECT_VERSION}
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/zfastConfig.cmake ${CMAKE_BINARY_DIR}/zfastConfigVersion.cmake
        DESTINATION ${ZF_CMAKE_DIR})

# pkg-config: the prefix is found from the .pc file's own place, so
# `cmake --install --prefix DIR` gives a working file wherever DIR is.
file(RELATIVE_PATH ZF_PC_TO_PREFIX /p/${CMAKE_INSTALL_LIBDIR}/pkgconfig /p)
configure_file(${CMAKE_SOURCE_DIR}/cmake/zfast.pc.in ${CMAKE_BINARY_DIR}/zfast.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/zfast.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
