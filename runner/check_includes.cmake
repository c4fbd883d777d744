# Run by the build (see runner/CMakeLists.txt) over one layer's files:
#   cmake -DLAYER=<name> -DFORBIDDEN=<regex> -DSTAMP=<file> -P check_includes.cmake <files...>
# Fails the build when a file includes a header that matches FORBIDDEN: system and library
# headers cannot be kept out by include paths alone, so this reads the include lines.
# The files are the arguments after the script's own path.
set(files "")
set(script_at -1)
math(EXPR last "${CMAKE_ARGC} - 1")
foreach(i RANGE 0 ${last})
  if(script_at GREATER_EQUAL 0 AND i GREATER script_at)
    list(APPEND files "${CMAKE_ARGV${i}}")
  elseif(CMAKE_ARGV${i} STREQUAL "-P")
    math(EXPR script_at "${i} + 1")
  endif()
endforeach()
set(problems "")
foreach(file IN LISTS files)
  file(STRINGS "${file}" lines REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"]")
  foreach(line IN LISTS lines)
    string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]*[<\"]([^>\"]*)[>\"].*" "\\1" header "${line}")
    if(header MATCHES "${FORBIDDEN}")
      string(APPEND problems "\n  ${file}: #include <${header}>")
    endif()
  endforeach()
endforeach()
if(problems)
  message(FATAL_ERROR "runner/${LAYER}/ may not include these headers (${REASON}):${problems}")
endif()
file(TOUCH "${STAMP}")
