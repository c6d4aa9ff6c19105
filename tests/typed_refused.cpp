/* typed_refused.cpp — types vdds.hpp must refuse at compile time, one per
 * CASE_*: CTest compiles it and expects the static_assert's words. */
#include <string>

#include "vdds.hpp"

#ifdef CASE_not_trivially_copyable
struct Named {
	std::string name; /* a pointer inside: meaningless in another process */
};
VDDS_TYPE_NAME(Named);
vdds::Publisher<Named> pub("named");
#endif

#ifdef CASE_unnamed
struct Unnamed {
	int x;
};
vdds::Subscriber<Unnamed> sub("unnamed");
#endif
