/* consumer.cpp — consumer.c compiled as C++: the installed header must work
 * from C++ too (extern "C", no C-only constructs). */
#include "consumer.c"
