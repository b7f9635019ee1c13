# The ROS PyPI wheels export the include dirs of the machine they were built on (/opt/python/...):
# point those imported targets at this machine's Python and NumPy headers (as msgs/CMakeLists.txt does).
find_package(Python3 COMPONENTS Interpreter Development NumPy)
if(Python3_FOUND)
  get_property(_imported DIRECTORY PROPERTY IMPORTED_TARGETS)
  foreach(_t ${_imported})
    get_target_property(_inc ${_t} INTERFACE_INCLUDE_DIRECTORIES)
    if(_inc AND "${_inc}" MATCHES "/opt/python")
      list(FILTER _inc EXCLUDE REGEX "^/opt/python")
      list(APPEND _inc ${Python3_INCLUDE_DIRS} ${Python3_NumPy_INCLUDE_DIRS})
      set_target_properties(${_t} PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${_inc}")
    endif()
  endforeach()
endif()
