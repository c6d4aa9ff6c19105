/* typed_sub.c — a typed subscriber as a user writes one (VDDS_TYPED), for the
 * `vdds pub --type NAME --type-size N` test: typed_sub TOPIC COUNT takes
 * COUNT Pose samples and prints each as "x y z"; a refusal is printed with
 * the publisher's words and exits 1. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "vdds.h"

typedef struct {
	double x, y, z;
} Pose;

VDDS_TYPED(Pose);

int main(int argc, char **argv)
{
	vdds_sub *sub;
	int err;

	if (argc != 3) {
		fprintf(stderr, "usage: typed_sub TOPIC COUNT\n");
		return 2;
	}
	long count = atol(argv[2]);

	for (int tries = 0;
	     (err = vdds_Pose_sub_open(&sub, argv[1], NULL)) == -ENOENT && tries < 3000; tries++)
		usleep(5000);
	if (err < 0) {
		fprintf(stderr, "typed_sub: %s: %s\n", vdds_strerror(err),
			vdds_last_error_detail());
		return 1;
	}
	for (long got = 0; got < count;) {
		vdds_Pose_sample s;

		if ((err = vdds_sub_wait(sub, 30000)) < 0)
			break;
		while (got < count && (err = vdds_Pose_take(sub, &s)) == 0) {
			printf("%g %g %g\n", s.data->x, s.data->y, s.data->z);
			vdds_Pose_release(sub, &s);
			got++;
		}
		if (err != -EAGAIN && err != 0)
			break;
	}
	vdds_sub_close(sub);
	if (err < 0 && err != -EAGAIN) {
		fprintf(stderr, "typed_sub: %s\n", vdds_strerror(err));
		return 1;
	}
	return 0;
}
