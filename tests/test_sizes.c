/* test_sizes.c — big slots and huge pages: a 64 MiB sample read intact in
 * another process, and the topic on huge pages when they can be had (a few
 * reserved for the test, as root), with a clean fallback, and its reason in
 * vdds_pub_stats, when they cannot. */
#include <check.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdint.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/vfs.h>

#include "proto.h"
#include "segment.h"
#include "testutil.h"

#define BIG (64ull << 20)
#define NR_HUGEPAGES "/proc/sys/vm/nr_hugepages"
#define NR_OVERCOMMIT "/proc/sys/vm/nr_overcommit_hugepages"
#define HUGE_LOCK "/tmp/vdds-test-hugepages.lock"
#define HUGE_RESERVE 4 /* pages: a topic of two 2 MiB slots takes 3 */

enum {
	CHILD_NOT_ON_HUGE_PAGES = TU_CHILD_SUITE, /* stats say otherwise */
	CHILD_TOPIC_NOT_HUGETLB,                  /* the fd handed out is not on hugetlbfs */
	CHILD_SEALS_WRONG,
	CHILD_TOPIC_WRITABLE, /* a subscriber could write the topic */
	CHILD_MAPPING_NOT_HUGE,
};

/* Every 8-byte word of a sample depends on its place and the sample's seq. */
static void pattern_fill(void *buf, size_t len, uint64_t seq)
{
	uint64_t *w = buf;

	for (size_t i = 0; i < len / 8; i++)
		w[i] = tu_mix(seq * 0x9e3779b97f4a7c15ull + i);
}

static int pattern_ok(const void *buf, size_t len, uint64_t seq)
{
	const uint64_t *w = buf;

	for (size_t i = 0; i < len / 8; i++)
		if (w[i] != tu_mix(seq * 0x9e3779b97f4a7c15ull + i))
			return 0;
	return 1;
}

static long read_long(const char *path)
{
	FILE *f = fopen(path, "r");
	long v = -1;

	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

static int write_long(const char *path, long v)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	int ok = fprintf(f, "%ld\n", v) > 0;

	return fclose(f) == 0 && ok ? 0 : -1;
}

/* A field of /proc/meminfo ("HugePages_Free"), or -1. */
static long meminfo(const char *key)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[128];
	size_t n = strlen(key);
	long v = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, n) == 0 && line[n] == ':')
			v = strtol(line + n + 1, NULL, 10);
	fclose(f);
	return v;
}

/* The page size, in KiB, of this process's mapping that holds addr; -1. */
static long kernel_page_kib(const void *addr)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[256];
	unsigned long lo, hi;
	long kib = -1;
	int inside = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2)
			inside = (uintptr_t)addr >= lo && (uintptr_t)addr < hi;
		else if (inside && sscanf(line, "KernelPageSize: %ld kB", &kib) == 1)
			break;
	}
	fclose(f);
	return kib;
}

/* Take `count` samples of `len` bytes and check every byte of each. */
static int take_patterns(const char *topic, int count, size_t len, long huge_kib)
{
	vdds_sub *sub;
	struct vdds_sample s;

	if (vdds_sub_open(&sub, topic, NULL) != 0)
		return TU_CHILD_OPEN_FAILED;
	for (int i = 0; i < count; i++) {
		if (vdds_sub_wait(sub, 10000) != 0)
			return TU_CHILD_WAIT_FAILED;
		if (vdds_sub_take(sub, &s) != 0)
			return TU_CHILD_TAKE_FAILED;
		if (s.len != len || !pattern_ok(s.data, s.len, s.seq))
			return TU_CHILD_BAD_PAYLOAD;
		if (huge_kib > 0) {
			/* mapped from huge pages, and read-only for good */
			uintptr_t page = (uintptr_t)huge_kib * 1024;
			void *start = (void *)((uintptr_t)s.data & ~(page - 1));

			if (kernel_page_kib(s.data) != huge_kib)
				return CHILD_MAPPING_NOT_HUGE;
			if (mprotect(start, page, PROT_READ | PROT_WRITE) == 0 || errno != EACCES)
				return CHILD_TOPIC_WRITABLE;
		}
		if (vdds_sub_release(sub, &s) != 0)
			return TU_CHILD_RELEASE_FAILED;
	}
	vdds_sub_close(sub);
	return TU_CHILD_OK;
}

/* Publish `count` patterned samples of `len` bytes once a subscriber is in. */
static int publish_patterns(vdds_pub *pub, int count, size_t len)
{
	void *buf;

	if (tu_await_subscribers(pub, 1) != 0)
		return TU_CHILD_TIMEOUT;
	for (int i = 1; i <= count; i++) {
		if (vdds_pub_loan(pub, &buf, 10000) != 0)
			return TU_CHILD_WRITE_FAILED;
		pattern_fill(buf, len, (uint64_t)i);
		if (vdds_pub_publish(pub, buf, len) != 0)
			return TU_CHILD_WRITE_FAILED;
	}
	return TU_CHILD_OK;
}

START_TEST(test_a_64_mib_sample_arrives_intact_in_another_process)
{
	tu_private_rundir();
	struct vdds_pub_opts o = { .slot_size = BIG, .slot_count = 2 };
	vdds_pub *pub;
	void *buf;

	ck_assert_int_eq(vdds_pub_open(&pub, "big", &o), 0);
	pid_t pid = tu_fork_child_keeping(NULL);

	if (pid == 0)
		_exit(take_patterns("big", 3, BIG, 0));
	/* one more byte than a slot holds is refused */
	ck_assert_int_eq(vdds_pub_loan(pub, &buf, 0), 0);
	ck_assert_int_eq(vdds_pub_publish(pub, buf, BIG + 1), -EMSGSIZE);
	ck_assert_int_eq(vdds_pub_discard(pub, buf), 0);
	/* three, so that a slot is used again once released */
	ck_assert_int_eq(publish_patterns(pub, 3, BIG), TU_CHILD_OK);
	tu_assert_exit(pid, TU_CHILD_OK);
	vdds_pub_close(pub);
}
END_TEST

START_TEST(test_huge_pages_not_asked_for_are_said_so)
{
	tu_private_rundir();
	struct vdds_pub_stats st;
	vdds_pub *pub;

	ck_assert_int_eq(vdds_pub_open(&pub, "plain", NULL), 0);
	ck_assert_int_eq(vdds_pub_stats(pub, &st), 0);
	ck_assert(!st.huge_pages);
	ck_assert_int_eq(st.huge_pages_err, 0);
	ck_assert_str_eq(st.huge_pages_note, "not asked");
	vdds_pub_close(pub);
}
END_TEST

START_TEST(test_without_enough_huge_pages_the_topic_falls_back_to_normal_ones)
{
	tu_private_rundir();
	long free_pages = meminfo("HugePages_Free"), kib = meminfo("Hugepagesize");
	struct vdds_pub_stats st;
	vdds_pub *pub;

	if (kib > 0 && read_long(NR_OVERCOMMIT) > 0) {
		tu_skip("surplus huge pages are allowed: a shortage cannot be arranged");
		return;
	}
	/* one page more than are free: none are reserved here, as a rule */
	struct vdds_pub_opts o = { .slot_count = 2, .huge_pages = true };

	o.slot_size = kib > 0 ? (size_t)(free_pages + 1) * (size_t)kib * 1024 : 4096;
	ck_assert_int_eq(vdds_pub_open(&pub, "fallback", &o), 0);
	ck_assert_int_eq(vdds_pub_stats(pub, &st), 0);
	ck_assert(!st.huge_pages);
	if (kib > 0) {
		ck_assert_int_eq(st.huge_pages_err, -ENOMEM);
		ck_assert_str_eq(st.huge_pages_note,
				 "not enough free huge pages (vm.nr_hugepages)");
	} else {
		ck_assert_int_eq(st.huge_pages_err, -EINVAL);
		ck_assert_str_eq(st.huge_pages_note, "this kernel has no huge-page memfds");
	}
	/* nothing of the attempt is left over: the huge pages are all free */
	ck_assert_int_eq(meminfo("HugePages_Free"), free_pages);
	/* and the topic works as any other */
	pid_t pid = tu_fork_child_keeping(NULL);

	if (pid == 0)
		_exit(take_patterns("fallback", 2, 4096, 0));
	ck_assert_int_eq(publish_patterns(pub, 2, 4096), TU_CHILD_OK);
	tu_assert_exit(pid, TU_CHILD_OK);
	vdds_pub_close(pub);
}
END_TEST

/* What a subscriber is handed is a sealed hugetlb memfd it cannot write. */
static int check_handed_out_topic(long kib)
{
	struct vdds__msg_hello h;
	union vdds__msg m;
	int fds[VDDS__WELCOME_FDS], nfds, err = TU_CHILD_OK;
	struct statfs sfs;
	struct stat st;
	int sock = tu_raw_connect("huge");

	vdds__msg_hello(&h, NULL, 0, 0);
	if (sock < 0 || vdds__msg_send(sock, &h, sizeof(h), NULL, 0) < 0)
		return TU_CHILD_PIPE_FAILED;
	int len = vdds__msg_recv(sock, &m, fds, VDDS__WELCOME_FDS, &nfds, 0);

	if (len <= 0 || vdds__msg_parse(&m, (size_t)len) != VDDS__MSG_WELCOME ||
	    nfds != VDDS__WELCOME_FDS)
		return TU_CHILD_WRONG_RESULT;
	if (fstatfs(fds[0], &sfs) < 0 || sfs.f_type != HUGETLBFS_MAGIC || fstat(fds[0], &st) < 0 ||
	    st.st_size % (kib * 1024) != 0)
		err = CHILD_TOPIC_NOT_HUGETLB;
	else if (fcntl(fds[0], F_GET_SEALS) != VDDS__SEALS_TOPIC)
		err = CHILD_SEALS_WRONG;
	else if (mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0], 0) !=
			 MAP_FAILED ||
		 errno != EPERM || ftruncate(fds[0], 0) == 0)
		err = CHILD_TOPIC_WRITABLE;
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	close(sock);
	return err;
}

/* The publisher side of the huge pages test, in its own process so that the
 * test restores vm.nr_hugepages whatever happens here. */
static int publish_on_huge_pages(long kib)
{
	struct vdds_pub_opts o = { .slot_size = 2 << 20, .slot_count = 2, .huge_pages = true };
	struct vdds_pub_stats st;
	char note[64];
	vdds_pub *pub;
	int err;

	if (vdds_pub_open(&pub, "huge", &o) != 0 || vdds_pub_stats(pub, &st) != 0)
		return TU_CHILD_OPEN_FAILED;
	snprintf(note, sizeof(note), "%ld KiB pages", kib);
	if (!st.huge_pages || st.huge_pages_err != 0 || strcmp(st.huge_pages_note, note) != 0)
		return CHILD_NOT_ON_HUGE_PAGES;
	if ((err = check_handed_out_topic(kib)) != TU_CHILD_OK)
		return err;
	if (tu_await_subscribers(pub, 0) != 0) /* the raw one is gone */
		return TU_CHILD_TIMEOUT;
	pid_t pid = tu_fork_child_keeping(NULL);

	if (pid == 0)
		_exit(take_patterns("huge", 3, 2 << 20, kib));
	if ((err = publish_patterns(pub, 3, 2 << 20)) != TU_CHILD_OK)
		return err;
	int status;

	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return TU_CHILD_WRONG_RESULT;
	vdds_pub_close(pub);
	return WEXITSTATUS(status);
}

START_TEST(test_reserved_huge_pages_carry_the_topic)
{
	tu_private_rundir();
	long kib = meminfo("Hugepagesize");

	if (geteuid() != 0 || kib <= 0) {
		tu_skip("needs root, and huge pages in the kernel, to reserve some");
		return;
	}
	/* other vdds tests reserving at the same time would restore each
	 * other's counts wrongly */
	int lock = open(HUGE_LOCK, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	ck_assert_int_ge(lock, 0);
	ck_assert_int_eq(flock(lock, LOCK_EX), 0);
	long before = read_long(NR_HUGEPAGES);

	if (before < 0 || write_long(NR_HUGEPAGES, before + HUGE_RESERVE) < 0) {
		close(lock);
		tu_skip("cannot write %s", NR_HUGEPAGES);
		return;
	}
	long got = meminfo("HugePages_Free");
	int status = -1;

	if (got >= HUGE_RESERVE) {
		pid_t pid = tu_fork_child_keeping(NULL);

		if (pid == 0)
			_exit(publish_on_huge_pages(kib));
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	}
	ck_assert_int_eq(write_long(NR_HUGEPAGES, before), 0);
	close(lock);
	if (got < HUGE_RESERVE) {
		tu_skip("the kernel reserved %ld of %d huge pages", got, HUGE_RESERVE);
		return;
	}
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == TU_CHILD_OK,
		      "publisher on huge pages: wait status 0x%x", status);
}
END_TEST

static Suite *sizes_suite(void)
{
	Suite *s = suite_create("sizes");
	TCase *big = tcase_create("big slots");
	TCase *huge = tcase_create("huge pages");

	tcase_set_timeout(big, 60);
	tcase_add_test(big, test_a_64_mib_sample_arrives_intact_in_another_process);
	suite_add_tcase(s, big);

	tcase_set_timeout(huge, 30);
	tcase_add_test(huge, test_huge_pages_not_asked_for_are_said_so);
	tcase_add_test(huge, test_without_enough_huge_pages_the_topic_falls_back_to_normal_ones);
	tcase_add_test(huge, test_reserved_huge_pages_carry_the_topic);
	suite_add_tcase(s, huge);
	return s;
}

int main(void)
{
	return tu_run_suite(sizes_suite());
}
