# The CUDA backend: libzfast_cuda.so, loaded at run time by libzfast
# (src/core/cuda_loader.c). ZF_CUDA=AUTO builds it when nvcc is found, ON
# requires it, OFF skips it. Built for sm_90a plus compute_80 PTX that the
# driver compiles for any newer GPU; cudart is linked statically so the
# plugin needs only the driver.
if(ZF_CUDA STREQUAL "OFF")
  return()
endif()
if(NOT ZF_CUDA STREQUAL "AUTO" AND NOT ZF_CUDA STREQUAL "ON")
  message(FATAL_ERROR "ZF_CUDA must be AUTO, ON or OFF (got '${ZF_CUDA}')")
endif()

include(CheckLanguage)
check_language(CUDA)
if(NOT CMAKE_CUDA_COMPILER)
  if(ZF_CUDA STREQUAL "ON")
    message(FATAL_ERROR "ZF_CUDA=ON but no CUDA compiler (nvcc) was found")
  endif()
  message(STATUS "zfast: no nvcc found; the CUDA backend is not built")
  return()
endif()
enable_language(CUDA)
find_package(CUDAToolkit REQUIRED)

set(ZF_CUDA_TARGETS "sm_90a, compute_80 PTX")
file(GLOB ZF_CUDA_SRC CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/src/cuda/*.cu)
add_library(zfast_cuda SHARED ${ZF_CUDA_SRC})
set_target_properties(zfast_cuda PROPERTIES
  CUDA_ARCHITECTURES OFF
  CUDA_STANDARD 17
  CUDA_STANDARD_REQUIRED ON
  CUDA_RUNTIME_LIBRARY Static
  LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR})
target_include_directories(zfast_cuda PRIVATE ${CMAKE_SOURCE_DIR}/include ${CMAKE_SOURCE_DIR}/src)
# Numerics contract: no contraction, IEEE division and sqrt, no flush to zero.
target_compile_options(zfast_cuda PRIVATE
  $<$<COMPILE_LANGUAGE:CUDA>:-fmad=false -prec-div=true -prec-sqrt=true -ftz=false
    -gencode=arch=compute_90a,code=sm_90a -gencode=arch=compute_80,code=compute_80
    -Xcompiler=-fvisibility=hidden,-Wall,-Wextra -Xptxas=-warn-spills>)
target_compile_definitions(zfast_cuda PRIVATE ZF_CUDA_TARGETS="${ZF_CUDA_TARGETS}")
target_link_libraries(zfast_cuda PRIVATE CUDA::cudart_static)
install(TARGETS zfast_cuda LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})

# Benchmark: per-op device time for large shapes and per-call time of
# 100-call CUDA graphs at decode sizes (bench/cuda_bench.c).
add_executable(zf_cuda_bench ${CMAKE_SOURCE_DIR}/bench/cuda_bench.c ${CMAKE_SOURCE_DIR}/bench/cuda_common.c)
target_include_directories(zf_cuda_bench PRIVATE ${CMAKE_SOURCE_DIR}/src)
target_compile_options(zf_cuda_bench PRIVATE ${ZF_C_FLAGS})
target_link_libraries(zf_cuda_bench PRIVATE zfast_static)
add_dependencies(zf_cuda_bench zfast_cuda)
# MoE benchmark: Qwen3-30B-A3B layer shapes, 100-call graphs, rotated weights (bench/cuda_moe_bench.c).
add_executable(zf_cuda_moe_bench ${CMAKE_SOURCE_DIR}/bench/cuda_moe_bench.c ${CMAKE_SOURCE_DIR}/bench/cuda_common.c)
target_include_directories(zf_cuda_moe_bench PRIVATE ${CMAKE_SOURCE_DIR}/src)
target_compile_options(zf_cuda_moe_bench PRIVATE ${ZF_C_FLAGS})
target_link_libraries(zf_cuda_moe_bench PRIVATE zfast_static)
add_dependencies(zf_cuda_moe_bench zfast_cuda)
