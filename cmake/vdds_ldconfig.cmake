# vdds_ldconfig.cmake — run by `cmake --install` once libvdds.so is in place:
# a program linked with `pkg-config vdds` must start right after the install.
# Into a directory the dynamic linker searches (/usr/local/lib on Debian),
# that takes a fresh ld.so.cache: run ldconfig when root, else say to. Into
# any other prefix, say how programs find the library (LD_LIBRARY_PATH), as
# the README does. A staged install (DESTDIR, for a package) is left to the
# package's own ldconfig trigger. VDDS_LIBDIR is set by the install rule.
if(NOT "$ENV{DESTDIR}" STREQUAL "")
  return()
endif()
if(IS_ABSOLUTE "${VDDS_LIBDIR}")
  set(libdir "${VDDS_LIBDIR}")
else()
  set(libdir "${CMAKE_INSTALL_PREFIX}/${VDDS_LIBDIR}")
endif()
file(REAL_PATH "${libdir}" libdir_real)
find_program(VDDS_LDCONFIG ldconfig PATHS /sbin /usr/sbin NO_CACHE)
set(searched FALSE)
if(VDDS_LDCONFIG)
  # the directories ld.so.cache is built from: "DIR: (from FILE:LINE)" lines;
  # -N -X: only list, change nothing
  execute_process(COMMAND ${VDDS_LDCONFIG} -v -N -X OUTPUT_VARIABLE dirs ERROR_QUIET)
  string(REGEX MATCHALL "(^|\n)/[^:\n]*:" dirs "${dirs}")
  foreach(d IN LISTS dirs)
    string(REGEX REPLACE "^\n?(.*):$" "\\1" d "${d}")
    file(REAL_PATH "${d}" d_real)
    if(d_real STREQUAL libdir_real)
      set(searched TRUE)
    endif()
  endforeach()
endif()
execute_process(COMMAND id -u OUTPUT_VARIABLE uid OUTPUT_STRIP_TRAILING_WHITESPACE)
if(searched AND uid STREQUAL "0")
  execute_process(COMMAND ${VDDS_LDCONFIG} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(WARNING "vdds: ldconfig failed (${rc}): run ldconfig as root before using libvdds")
  else()
    message(STATUS "vdds: ran ldconfig: ${libdir} is in the dynamic linker's cache")
  endif()
elseif(searched)
  message(STATUS "vdds: ${libdir} is searched by the dynamic linker, but its cache is root's: "
    "run 'sudo ldconfig' once before starting programs that use libvdds")
else()
  message(STATUS "vdds: ${libdir} is not searched by the dynamic linker: run programs "
    "that use libvdds with LD_LIBRARY_PATH=${libdir} (and build them with "
    "PKG_CONFIG_PATH=${libdir}/pkgconfig)")
endif()
