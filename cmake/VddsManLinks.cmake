# VddsManLinks.cmake — one man page per public function: for each section 3
# page, a link page (".so man3/<page>.3") for every other function its NAME
# section lists, so that `man vdds_pub_loan` opens vdds_pub(3). The NAME
# section is the list, as for makewhatis and mandb: a function added to a
# page's NAME gets its link at the next configure, and tests/man_pages.sh
# fails for a public function that no page names.

# vdds_man_links(<out_var> <dir> <page>...): write the link pages into <dir>,
# their paths into <out_var>.
function(vdds_man_links out_var dir)
  set(links)
  foreach(page IN LISTS ARGN)
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${page})
    get_filename_component(page_name ${page} NAME_WE)
    file(STRINGS ${page} lines)
    # the NAME section: its lines up to the one with " \- description"
    set(in_name FALSE)
    set(names)
    foreach(line IN LISTS lines)
      if(line STREQUAL ".SH NAME")
        set(in_name TRUE)
        continue()
      endif()
      if(NOT in_name)
        continue()
      endif()
      string(FIND "${line}" "\\-" dash)
      if(dash GREATER_EQUAL 0)
        string(SUBSTRING "${line}" 0 ${dash} line)
      endif()
      string(REGEX MATCHALL "[a-z_][a-z0-9_]*" words "${line}")
      list(APPEND names ${words})
      if(dash GREATER_EQUAL 0 OR line MATCHES "^\\.")
        break()
      endif()
    endforeach()
    if(NOT names)
      message(FATAL_ERROR "${page}: no names in its NAME section")
    endif()
    foreach(name IN LISTS names)
      if(NOT name STREQUAL page_name)
        file(CONFIGURE OUTPUT ${dir}/${name}.3 CONTENT ".so man3/${page_name}.3\n")
        list(APPEND links ${dir}/${name}.3)
      endif()
    endforeach()
  endforeach()
  set(${out_var} ${links} PARENT_SCOPE)
endfunction()
