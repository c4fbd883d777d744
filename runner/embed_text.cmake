# Writes the text of INPUT to OUTPUT as a C++ raw string literal, to be #included where a string
# is wanted: how the report's page (runner/inspect/report_page.html) gets into the binary.
file(READ ${INPUT} content)
string(FIND "${content}" ")JRTEXT\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${INPUT} holds the raw string's delimiter )JRTEXT\"")
endif()
file(WRITE ${OUTPUT} "R\"JRTEXT(${content})JRTEXT\"\n")
