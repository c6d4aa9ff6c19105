/* consumer_hpp.cpp — a C++17 program built against an installed vdds through
 * the installed vdds.hpp: typed publisher and subscriber, RAII samples. */
#include <cstdio>
#include <cstring>
#include <system_error>

#include <vdds.hpp>

struct Reading {
	char text[16];
	int value;
};
VDDS_TYPE_NAME(Reading);

int main()
{
	try {
		vdds::Publisher<Reading> pub("consumer_hpp");
		vdds::Subscriber<Reading> sub("consumer_hpp");
		/* the subscriber joined before its open returned: it gets this */
		auto loan = pub.loan();

		std::strcpy(loan->text, "installed");
		loan->value = 42;
		loan.publish();
		if (!sub.wait(1000))
			return 2;
		auto s = sub.try_take();

		if (!s || std::strcmp((*s)->text, "installed") != 0 || (*s)->value != 42)
			return 3;
		std::printf("consumer_hpp: vdds %s works from C++17 (%s)\n", vdds_version(),
			    vdds::type_name<Reading>::value);
		return 0;
	} catch (const std::system_error &e) {
		std::fprintf(stderr, "consumer_hpp: %s\n", e.what());
		return 1;
	}
}
