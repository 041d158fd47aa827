# Writes OUT (a header defining ZF_GIT_COMMIT) from the git state of SRC, at
# build time, and only when it changed: the commit a binary reports is the
# one it was built from, not the one CMake last configured at. ZF_COMMIT in
# the environment overrides it: for a copy of a tree whose .git does not
# describe it (the lent GPU machines), the caller states the tree's commit.
if(DEFINED ENV{ZF_COMMIT} AND NOT "$ENV{ZF_COMMIT}" STREQUAL "")
  set(commit "$ENV{ZF_COMMIT}")
else()
  execute_process(COMMAND git rev-parse --short=12 HEAD WORKING_DIRECTORY ${SRC}
                  OUTPUT_VARIABLE commit OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  if(NOT commit)
    set(commit "unknown")
  else()
    execute_process(COMMAND git status --porcelain --untracked-files=no -- src include tools cmake CMakeLists.txt
                    WORKING_DIRECTORY ${SRC} OUTPUT_VARIABLE dirty OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    if(dirty)
      set(commit "${commit}-dirty")
    endif()
  endif()
endif()
set(text "#define ZF_GIT_COMMIT \"${commit}\"\n")
if(EXISTS ${OUT})
  file(READ ${OUT} old)
endif()
if(NOT "${old}" STREQUAL "${text}")
  file(WRITE ${OUT} "${text}")
endif()
