# Registers one ctest per libFuzzer target (fuzz/targets.txt): `fuzz.<name>`, label `fuzz`, a short run of the
# target built in `fuzz_binary_dir` (the `fuzz` preset's tree) on a scratch copy of its seed corpus. Included by
# fuzz/CMakeLists.txt and by tests/CMakeLists.txt, so the asan tree's ctest (scripts/run-tests, make test) runs
# them without building anything with clang itself.

set(IMAGEPROC_FUZZ_TEST_SECONDS 5 CACHE STRING "How long each fuzz target runs as a ctest (seconds)")

function(imageproc_add_fuzz_tests fuzz_binary_dir)
  file(STRINGS ${CMAKE_SOURCE_DIR}/fuzz/targets.txt lines REGEX "^[a-z0-9_]+ [0-9]+$")
  foreach(line IN LISTS lines)
    string(REGEX REPLACE " .*" "" name "${line}")
    add_test(NAME fuzz.${name}
             COMMAND ${CMAKE_SOURCE_DIR}/fuzz/run --build ${fuzz_binary_dir} --seconds ${IMAGEPROC_FUZZ_TEST_SECONDS}
                     ${name}
             WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
    set_tests_properties(fuzz.${name} PROPERTIES LABELS fuzz TIMEOUT 300)
  endforeach()
endfunction()
