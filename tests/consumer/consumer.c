/* consumer.c — a tiny program built against an installed vdds, to prove the
 * installed header, library, pkg-config file and CMake package work. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <vdds.h>

int main(void)
{
	vdds_pub *pub;
	vdds_sub *sub;
	struct vdds_sample s;

	if (vdds_pub_open(&pub, "consumer", NULL) != 0 ||
	    vdds_sub_open(&sub, "consumer", NULL) != 0)
		return 1;
	/* the service thread adopts the subscriber before the next publish */
	if (vdds_pub_write(pub, "installed", 10, 1000) != 0 || vdds_sub_wait(sub, 1000) != 0 ||
	    vdds_sub_take(sub, &s) != 0 || strcmp((const char *)s.data, "installed") != 0)
		return 2;
	vdds_sub_release(sub, &s);
	vdds_sub_close(sub);
	vdds_pub_close(pub);
	printf("consumer: vdds %s works (%s)\n", vdds_version(), vdds_strerror(-EPIPE));
	return 0;
}
