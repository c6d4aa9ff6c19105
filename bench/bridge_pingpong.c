/* bridge_pingpong.c — round trip through vdds-bridge against Cyclone DDS alone,
 * on loopback: --mode dds is a direct DDS ping-pong of vdds::Frame; --mode
 * bridge is vdds -> bridge -> DDS -> bridge -> vdds and back, two bridges,
 * two runtime directories. Also CPU time (from /proc/<pid>/stat: every
 * thread, user and system): the bridges' per message, the DDS programs'.
 * Usage: vdds_bridge_pingpong --mode dds|bridge [--payload BYTES]
 *        [--iters N] [--warmup N] [--bridge PATH] */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <dds/dds.h>
#include <vdds.h>

#include "common.h"
#include "frame.h"

#define PATIENCE_NS (30ull * 1000000000ull)

struct cfg {
	bool bridge;
	size_t payload;
	long iters, warmup;
	const char *bridge_bin;
	unsigned domain;
	char dir_a[PATH_MAX], dir_b[PATH_MAX];
};

static int fail(const char *what)
{
	fprintf(stderr, "bridge_pingpong[%d]: %s\n", (int)getpid(), what);
	return -1;
}

static uint64_t counter_of(const void *buf, size_t len)
{
	uint64_t c = 0;

	memcpy(&c, buf, len < sizeof(c) ? len : sizeof(c));
	return c;
}

/* ------------------------------------------------------------ direct DDS */

struct dds_side {
	dds_entity_t participant, writer, reader, waitset;
	uint8_t *buf;
};

static int dds_open(const struct cfg *c, struct dds_side *s, const char *out, const char *in)
{
	char name[64];

	s->participant = dds_create_participant(c->domain, NULL, NULL);
	if (s->participant < 0)
		return fail("dds_create_participant");
	dds_qos_t *q = dds_create_qos();

	/* the bridge's QoS: reliable, keep-last 16, volatile */
	dds_qset_reliability(q, DDS_RELIABILITY_RELIABLE, DDS_SECS(1));
	dds_qset_history(q, DDS_HISTORY_KEEP_LAST, 16);
	snprintf(name, sizeof(name), "vdds/%s", out);
	dds_entity_t t = dds_create_topic(s->participant, &vdds_Frame_desc, name, NULL, NULL);

	s->writer = dds_create_writer(s->participant, t, q, NULL);
	snprintf(name, sizeof(name), "vdds/%s", in);
	t = dds_create_topic(s->participant, &vdds_Frame_desc, name, NULL, NULL);
	s->reader = dds_create_reader(s->participant, t, q, NULL);
	dds_delete_qos(q);
	s->waitset = dds_create_waitset(s->participant);
	if (s->writer < 0 || s->reader < 0 || s->waitset < 0)
		return fail("cannot create the DDS endpoints");
	dds_waitset_attach(s->waitset, dds_create_readcondition(s->reader, DDS_ANY_STATE), 0);
	s->buf = calloc(1, c->payload);
	if (!s->buf)
		return fail("out of memory");
	/* both ends matched before the first message */
	uint64_t t0 = bench_now_ns();

	for (;;) {
		dds_publication_matched_status_t pm;
		dds_subscription_matched_status_t sm;

		dds_get_publication_matched_status(s->writer, &pm);
		dds_get_subscription_matched_status(s->reader, &sm);
		if (pm.current_count > 0 && sm.current_count > 0)
			return 0;
		if (bench_now_ns() - t0 > PATIENCE_NS) {
			free(s->buf);
			s->buf = NULL;
			return fail("the peer was never discovered");
		}
		bench_sleep_ns(1000000);
	}
}

static int dds_send(struct dds_side *s, size_t len, uint64_t i)
{
	vdds_Frame f = {
		.seq = i,
		.type_name = "",
		.payload = { ._maximum = (uint32_t)len,
			     ._length = (uint32_t)len,
			     ._buffer = s->buf },
	};

	bench_fill_line(s->buf, i, len);
	return dds_write(s->writer, &f) < 0 ? fail("dds_write") : 0;
}

/* Wait for the message carrying counter i; older ones are skipped. */
static int dds_recv(struct dds_side *s, uint64_t i)
{
	for (;;) {
		void *samples[1] = { NULL };
		dds_sample_info_t info;

		if (dds_waitset_wait(s->waitset, NULL, 0, DDS_SECS(10)) <= 0)
			return fail("nothing came in 10 s");
		int n = dds_take(s->reader, samples, &info, 1, 1);
		bool got = false;

		if (n == 1 && info.valid_data) {
			const vdds_Frame *f = samples[0];

			got = counter_of(f->payload._buffer, f->payload._length) == i;
		}
		if (n > 0)
			dds_return_loan(s->reader, samples, n);
		if (got)
			return 0;
	}
}

static int dds_echo(void *arg)
{
	const struct cfg *c = arg;
	struct dds_side s;

	if (dds_open(c, &s, "bpong", "bping") < 0)
		return -1;
	for (long i = 0; i < c->warmup + c->iters; i++)
		if (dds_recv(&s, (uint64_t)i) < 0 || dds_send(&s, c->payload, (uint64_t)i) < 0)
			return -1;
	/* stay until the last answer is acknowledged */
	dds_wait_for_acks(s.writer, DDS_SECS(10));
	dds_delete(s.participant);
	return 0;
}

static uint64_t cpu_us(int pid);

static int run_dds(const struct cfg *c, uint64_t *samples, int echo, uint64_t *cpu)
{
	struct dds_side s;
	uint64_t cpu0 = 0;
	int rc = -1;

	if (dds_open(c, &s, "bping", "bpong") < 0)
		return -1;
	for (long i = 0; i < c->warmup + c->iters; i++) {
		if (i == c->warmup)
			cpu0 = cpu_us(getpid()) + cpu_us(echo);
		uint64_t t0 = bench_now_ns();

		if (dds_send(&s, c->payload, (uint64_t)i) < 0 || dds_recv(&s, (uint64_t)i) < 0)
			goto out;
		if (i >= c->warmup)
			samples[i - c->warmup] = bench_now_ns() - t0;
	}
	*cpu = cpu_us(getpid()) + cpu_us(echo) - cpu0;
	dds_delete(s.participant);
	rc = 0;
out:
	free(s.buf);
	return rc;
}

/* ------------------------------------------------- through two bridges */

struct vdds_side {
	vdds_pub *pub;
	vdds_sub *sub;
};

static int vdds_open_side(const struct cfg *c, struct vdds_side *s, const char *dir,
			  const char *out, const char *in)
{
	struct vdds_pub_opts po = { .slot_size = c->payload, .slot_count = 16 };
	uint64_t t0 = bench_now_ns();
	int err;

	setenv("VDDS_DIR", dir, 1);
	if ((err = vdds_pub_open(&s->pub, out, &po)) < 0)
		return fail(vdds_strerror(err));
	/* the bridge creates the topic once DDS discovered the far end */
	while ((err = vdds_sub_open(&s->sub, in, NULL)) == -ENOENT) {
		if (bench_now_ns() - t0 > PATIENCE_NS)
			return fail("the bridges never made the return topic");
		bench_sleep_ns(2000000);
	}
	return err < 0 ? fail(vdds_strerror(err)) : 0;
}

static int vdds_send(struct vdds_side *s, size_t len, uint64_t i)
{
	void *buf;

	if (vdds_pub_loan(s->pub, &buf, 10000) < 0)
		return fail("loan");
	bench_fill_line(buf, i, len);
	return vdds_pub_publish(s->pub, buf, len) < 0 ? fail("publish") : 0;
}

/* Wait at most timeout_ms for the message carrying counter i. */
static int vdds_recv(struct vdds_side *s, uint64_t i, int timeout_ms)
{
	for (;;) {
		struct vdds_sample smp;
		int err = vdds_sub_wait(s->sub, timeout_ms);

		if (err < 0)
			return err;
		while (vdds_sub_take(s->sub, &smp) == 0) {
			bool got = counter_of(smp.data, smp.len) == i;

			vdds_sub_release(s->sub, &smp);
			if (got)
				return 0;
		}
	}
}

#define PROBE UINT64_MAX

static int vdds_echo(void *arg)
{
	const struct cfg *c = arg;
	struct vdds_side s;

	if (vdds_open_side(c, &s, c->dir_b, "bpong", "bping") < 0)
		return -1;
	/* answer everything (probes too) until the pinger hangs up */
	for (;;) {
		struct vdds_sample smp;
		int err = vdds_sub_wait(s.sub, -1);

		if (err == -EPIPE)
			break;
		if (err < 0)
			return fail("wait");
		while (vdds_sub_take(s.sub, &smp) == 0) {
			uint64_t i = counter_of(smp.data, smp.len);
			size_t len = smp.len;

			vdds_sub_release(s.sub, &smp);
			if (vdds_send(&s, len, i) < 0)
				return -1;
		}
	}
	vdds_sub_close(s.sub);
	vdds_pub_close(s.pub);
	return 0;
}

/* User and system time of a whole process (every thread), in µs. */
static uint64_t cpu_us(int pid)
{
	char path[64], buf[1024];
	unsigned long long ut = 0, st = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	FILE *f = fopen(path, "r");

	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);

	fclose(f);
	buf[n] = '\0';
	/* fields 14 and 15, counted after the ")" that ends the name */
	const char *p = strrchr(buf, ')');

	if (!p ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return 0;
	return (ut + st) * 1000000ull / (unsigned long long)sysconf(_SC_CLK_TCK);
}

static int start_bridge(const struct cfg *c, const char *dir, const char *out, const char *in,
			const char *log)
{
	char dom[16], slot[32];
	pid_t parent = getpid();

	snprintf(dom, sizeof(dom), "%u", c->domain);
	snprintf(slot, sizeof(slot), "%zu", c->payload);
	fflush(NULL);
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(1);
	setenv("VDDS_DIR", dir, 1);
	if (!freopen(log, "w", stderr))
		_exit(1);
	execl(c->bridge_bin, c->bridge_bin, "--domain", dom, "--out", out, "--in", in,
	      "--slot-size", slot, "--slots", "16", (char *)NULL);
	_exit(127);
}

/* Ping until the first answer comes back: then both bridges, DDS discovery
 * and the echo are all in place. */
static int await_path(struct vdds_side *s)
{
	uint64_t t0 = bench_now_ns();

	for (;;) {
		if (vdds_send(s, sizeof(uint64_t), PROBE) < 0)
			return -1;
		if (vdds_recv(s, PROBE, 20) == 0)
			return 0;
		if (bench_now_ns() - t0 > PATIENCE_NS)
			return fail("no answer through the bridges");
	}
}

static void print_log(const char *log)
{
	char line[256];
	FILE *f = fopen(log, "r");

	while (f && fgets(line, sizeof(line), f))
		fprintf(stderr, "  %s", line);
	if (f)
		fclose(f);
}

/* SIGTERM a bridge and reap it: it must stop cleanly. */
static int stop_bridge(int pid, const char *log)
{
	if (pid <= 0)
		return -1;
	kill(pid, SIGTERM);
	if (bench_reap(pid, "vdds-bridge") == 0)
		return 0;
	print_log(log);
	return -1;
}

static int run_bridge(const struct cfg *c, uint64_t *samples, uint64_t *cpu)
{
	char log_a[PATH_MAX + 16], log_b[PATH_MAX + 16];
	struct vdds_side s = { 0 };
	int rc = -1;

	snprintf(log_a, sizeof(log_a), "%s.log", c->dir_a);
	snprintf(log_b, sizeof(log_b), "%s.log", c->dir_b);
	int bridge_a = start_bridge(c, c->dir_a, "bping", "bpong", log_a);
	int bridge_b = start_bridge(c, c->dir_b, "bpong", "bping", log_b);
	int echo = bridge_a > 0 && bridge_b > 0 ? bench_fork(vdds_echo, (void *)c) : -1;

	if (echo < 0 || vdds_open_side(c, &s, c->dir_a, "bping", "bpong") < 0 || await_path(&s) < 0)
		goto out;
	uint64_t cpu0 = 0;

	for (long i = 0; i < c->warmup + c->iters; i++) {
		uint64_t t0;

		if (i == c->warmup)
			cpu0 = cpu_us(bridge_a) + cpu_us(bridge_b);
		t0 = bench_now_ns();
		if (vdds_send(&s, c->payload, (uint64_t)i) < 0 ||
		    vdds_recv(&s, (uint64_t)i, 10000) < 0) {
			fail("a round trip did not come back in 10 s");
			goto out;
		}
		if (i >= c->warmup)
			samples[i - c->warmup] = bench_now_ns() - t0;
	}
	*cpu = cpu_us(bridge_a) + cpu_us(bridge_b) - cpu0;
	rc = 0;
out:
	vdds_sub_close(s.sub);
	vdds_pub_close(s.pub);
	/* the echo sees its ping topic go (-EPIPE) when bridge b stops */
	if (stop_bridge(bridge_a, log_a) < 0 || stop_bridge(bridge_b, log_b) < 0)
		rc = -1;
	if (echo > 0 && rc < 0)
		bench_kill(echo);
	if (echo > 0 && bench_reap(echo, "echo") < 0)
		rc = -1;
	return rc;
}

/* ------------------------------------------------------------------ main */

/* Loopback only, no multicast: discovery by unicast to 127.0.0.1. */
static int write_config(const char *dir)
{
	char path[PATH_MAX + 16], uri[PATH_MAX + 32];

	snprintf(path, sizeof(path), "%s/cyclone.xml", dir);
	FILE *f = fopen(path, "w");

	if (!f)
		return fail("cannot write the Cyclone configuration");
	fprintf(f, "<CycloneDDS><Domain id=\"any\"><General><Interfaces>"
		   "<NetworkInterface name=\"lo\"/></Interfaces>"
		   "<AllowMulticast>false</AllowMulticast></General><Discovery>"
		   "<ParticipantIndex>auto</ParticipantIndex>"
		   "<Peers><Peer address=\"127.0.0.1\"/></Peers></Discovery>"
		   "</Domain></CycloneDDS>\n");
	if (fclose(f) != 0)
		return fail("cannot write the Cyclone configuration");
	snprintf(uri, sizeof(uri), "file://%s", path);
	return setenv("CYCLONEDDS_URI", uri, 1);
}

static int parse_args(int argc, char **argv, struct cfg *c)
{
	static const struct option opts[] = {
		{ "mode", required_argument, NULL, 'm' },
		{ "payload", required_argument, NULL, 'p' },
		{ "iters", required_argument, NULL, 'i' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "bridge", required_argument, NULL, 'b' },
		{ NULL, 0, NULL, 0 },
	};
	long v;
	int o;

	c->payload = 64;
	c->iters = 2000;
	c->warmup = 200;
	c->bridge_bin = VDDS_BRIDGE_PATH;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'm':
			if (strcmp(optarg, "dds") != 0 && strcmp(optarg, "bridge") != 0)
				return -1;
			c->bridge = strcmp(optarg, "bridge") == 0;
			break;
		case 'p':
			if (bench_parse_long(optarg, 8, 64l << 20, &v) < 0)
				return -1;
			c->payload = (size_t)v;
			break;
		case 'i':
		case 'w':
			if (bench_parse_long(optarg, o == 'i', 10000000, &v) < 0)
				return -1;
			*(o == 'i' ? &c->iters : &c->warmup) = v;
			break;
		case 'b': c->bridge_bin = optarg; break;
		default: return -1;
		}
	}
	return optind == argc ? 0 : -1;
}

int main(int argc, char **argv)
{
	static struct cfg c;
	char work[PATH_MAX] = "";
	uint64_t cpu = 0;
	int rc = 1;

	if (parse_args(argc, argv, &c) < 0) {
		fprintf(stderr,
			"usage: %s --mode dds|bridge [--payload BYTES] [--iters N] "
			"[--warmup N] [--bridge PATH]\n",
			argv[0]);
		return 2;
	}
	uint64_t *samples = calloc((size_t)c.iters, sizeof(*samples));

	if (!samples || bench_make_rundir(work, sizeof(work)) < 0 || write_config(work) < 0) {
		free(samples);
		return 1;
	}
	/* a domain of its own: two runs at once do not meet */
	c.domain = 1 + (unsigned)getpid() % 200;
	snprintf(c.dir_a, sizeof(c.dir_a), "%s/a", work);
	snprintf(c.dir_b, sizeof(c.dir_b), "%s/b", work);
	if (mkdir(c.dir_a, 0700) < 0 || mkdir(c.dir_b, 0700) < 0) {
		perror("bridge_pingpong: mkdir");
		free(samples);
		return 1;
	}
	if (c.bridge) {
		if (run_bridge(&c, samples, &cpu) < 0)
			goto out;
	} else {
		int echo = bench_fork(dds_echo, &c);

		if (echo < 0)
			goto out;
		if (run_dds(&c, samples, echo, &cpu) < 0) {
			bench_kill(echo);
			bench_reap(echo, "echo");
			goto out;
		}
		if (bench_reap(echo, "echo") < 0)
			goto out;
	}
	printf("mode=%s payload=%zu iters=%ld", c.bridge ? "bridge" : "dds", c.payload, c.iters);
	bench_print_percentiles(samples, c.iters);
	/* per round trip each of the two bridges forwards two messages; the
	 * two DDS programs each send one and receive one */
	if (c.bridge)
		printf(" bridge_cpu_us_per_rt=%.2f bridge_cpu_us_per_msg=%.2f",
		       (double)cpu / (double)c.iters, (double)cpu / (4.0 * (double)c.iters));
	else
		printf(" dds_cpu_us_per_rt=%.2f", (double)cpu / (double)c.iters);
	printf("\n");
	rc = fflush(stdout) == EOF;
out:
	if (work[0]) {
		char cmd[PATH_MAX + 16];

		/* the two runtime directories, the logs, the configuration */
		snprintf(cmd, sizeof(cmd), "rm -rf %s", work);
		if (system(cmd) != 0)
			fprintf(stderr, "bridge_pingpong: could not remove %s\n", work);
	}
	free(samples);
	return rc;
}
